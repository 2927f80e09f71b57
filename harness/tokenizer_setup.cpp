// The study's tokenizer: a small byte-level BPE trained on the synthetic data for the mini study.
#include "harness/tokenizer_setup.h"

#include <fmt/format.h>

#include <filesystem>

#include "datasets/bpe_trainer.h"
#include "core/error.h"

namespace packbench::cli {

void ensure_trained_tokenizer(const std::string& dir, const std::vector<std::string>& texts, int vocab_size) {
  if (std::filesystem::exists(std::filesystem::path(dir) / "tokenizer.json")) return;
  if (texts.empty()) throw Error("cannot train a tokenizer for " + dir + ": the study has no synthetic data");
  fmt::print(stderr, "packbench: training a {}-token byte-level BPE on {} texts into {}\n", vocab_size, texts.size(), dir);
  data::BpeTrainerOptions o;
  o.vocab_size = vocab_size;
  data::write_trained_tokenizer(data::train_bpe(texts, o), dir);
}

}  // namespace packbench::cli
