// The study's tokenizer: a small byte-level BPE trained on the synthetic data for the mini study.
#include "harness/tokenizer_setup.h"

#include <filesystem>

#include "datasets/error.h"

namespace packbench::cli {

void ensure_trained_tokenizer(const std::string& dir, const std::vector<std::string>& texts, int vocab_size) {
  if (std::filesystem::exists(std::filesystem::path(dir) / "tokenizer.json")) return;
  throw Error("training a tokenizer is not available in this build (" + dir + "/tokenizer.json is missing)");
}

}  // namespace packbench::cli
