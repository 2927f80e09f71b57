// Greedy generation from the imported SmolLM2 GGUF: packbench's engine, batched and one at a time, equals transformers' generate().
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/paths.h"
#include "datasets/tokenizer.h"
#include "tests/common/test_paths.h"
#include "inference/engine_llama.h"
#include "inference/generate.h"
#include "trainers/model/gguf_import.h"
#include "trainers/model/pretrained.h"

using namespace packbench::train;
using json = nlohmann::json;

// 20 chat prompts rendered by the GGUF's chat template (transformers' apply_chat_template), 64
// new tokens each; transformers generates each prompt alone with do_sample=False from the model it
// builds from the GGUF itself. packbench generates from the imported folder.
TEST(GgufGenerate, GreedyEqualsTransformersBatchedAndAlone) {
  const std::string gguf = packbench::smollm2_gguf();
  if (gguf.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found: run scripts/setup.sh";
  PB_REQUIRE_VENV(python);
  at::set_num_threads(1);
  const std::string dir = packbench::testing::temp_dir("gguf_generate");
  import_gguf(gguf, dir + "/model");
  std::string log;
  ASSERT_EQ(packbench::testing::run_command("HF_HUB_OFFLINE=1 " + python + " " + packbench::testing::source_dir() +
                                                "/scripts/reference/gguf_transformers_ref.py generate " + gguf + " 64 " + dir +
                                                "/hf.json",
                                            &log),
            0)
      << log;
  const json ref = json::parse(packbench::read_file(dir + "/hf.json"));
  ASSERT_EQ(ref["prompts"].size(), 20u);

  auto tok = packbench::data::Tokenizer::from_dir(dir + "/model");
  const int32_t eos = *tok->eos_id();
  auto backend = make_llama_backend(load_pretrained(dir + "/model", torch::kFloat));
  std::vector<GenerationInput> inputs;
  for (const auto& p : ref["prompts"]) {
    GenerationInput in;
    in.prompt = p.get<std::vector<int32_t>>();
    in.max_new_tokens = 64;
    inputs.push_back(in);
  }
  for (int batch : {1, 8}) {
    GenerateOptions o;
    o.batch_size = batch;
    o.stop_token_ids = {eos};
    o.pad_id = *tok->pad_id();
    const std::vector<GenerationOutput> out = generate(*backend, tok.get(), inputs, o);
    int equal = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::vector<int32_t> want = ref["outputs"][i].get<std::vector<int32_t>>();
      const bool stopped = !want.empty() && want.back() == eos;
      if (stopped) want.pop_back();  // packbench returns tokens without the stop token
      EXPECT_EQ(out[i].tokens, want) << "batch " << batch << ", prompt " << i << ": packbench \"" << out[i].text
                                     << "\", transformers \"" << tok->decode(want, true) << "\"";
      EXPECT_EQ(out[i].finish, stopped ? FinishReason::kStopToken : FinishReason::kLength) << "batch " << batch << ", prompt " << i;
      equal += out[i].tokens == want;
    }
    std::printf("batch size %d: %d of %zu generations equal transformers'\n", batch, equal, inputs.size());
  }
}
