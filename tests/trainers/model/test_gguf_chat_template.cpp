// packbench's `chatml` template against the SmolLM2 GGUF's own chat template (transformers' apply_chat_template), id for id.
//
// Where they differ, by design, and what this test asserts exactly:
//  1. The GGUF template ends every message with "<|im_end|>\n"; packbench's chatml (LLaMA-Factory's)
//     puts the "\n" before the next turn instead, so a whole conversation lacks the final "\n"
//     token (198). Generation prompts (ending at "<|im_start|>assistant\n") are identical.
//  2. Without a system message the GGUF template inserts its default system turn ("You are a
//     helpful AI assistant named SmolLM, trained by Hugging Face"); chatml has no default system
//     prompt, so packbench equals it when that text is passed as the conversation's system.
//  3. An empty system message is rendered by the GGUF template as an empty system turn
//     ("<|im_start|>system\n<|im_end|>\n"); packbench renders no system turn for empty text.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "datasets/chat_template.h"
#include "core/paths.h"
#include "datasets/tokenizer.h"
#include "tests/common/test_paths.h"
#include "trainers/model/gguf.h"
#include "trainers/model/gguf_tokenizer.h"

using namespace packbench;
using json = nlohmann::json;

namespace {

const char* kDefaultSystem = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

std::vector<int32_t> concat(const std::vector<std::vector<int32_t>>& parts) {
  std::vector<int32_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace

TEST(GgufChatTemplate, ChatmlRendersTheGgufTemplatesIdsUpToTheDocumentedDifferences) {
  const std::string gguf = smollm2_gguf();
  if (gguf.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found: run scripts/setup.sh";
  PB_REQUIRE_VENV(python);
  const std::string dir = packbench::testing::temp_dir("gguf_chat");
  train::GgufFile f(gguf);
  train::GgufTokenizerFiles files = train::gguf_tokenizer_files(f, 8192);
  write_file_atomic(dir + "/tokenizer.json", files.tokenizer_json);
  write_file_atomic(dir + "/tokenizer_config.json", files.tokenizer_config_json);
  std::string log;
  ASSERT_EQ(packbench::testing::run_command("HF_HUB_OFFLINE=1 " + python + " " + packbench::testing::source_dir() +
                                     "/scripts/reference/gguf_transformers_ref.py chat " + gguf + " " + dir + "/chat.json",
                                 &log),
            0)
      << log;
  const json ref = json::parse(read_file(dir + "/chat.json"));

  auto tok = data::Tokenizer::from_dir(dir);
  data::TemplateEncoder enc(data::get_template("chatml"), tok);
  const std::vector<int32_t> newline = tok->encode("\n", false);
  ASSERT_EQ(newline, (std::vector<int32_t>{198}));
  const std::vector<int32_t> empty_system = tok->encode("<|im_start|>system\n<|im_end|>\n", false);

  int checked = 0;
  for (const auto& c : ref["conversations"]) {
    const auto& msgs = c["messages"];
    data::Conversation conv;
    size_t first = 0;
    bool empty_sys = false;
    if (msgs[0]["role"] == "system") {
      conv.system = msgs[0]["content"];
      empty_sys = conv.system.empty();
      first = 1;
    } else {
      conv.system = kDefaultSystem;  // difference 2
    }
    for (size_t i = first; i < msgs.size(); ++i) {
      data::Message m;
      m.role = msgs[i]["role"] == "user" ? data::Role::kUser : data::Role::kAssistant;
      m.content = msgs[i]["content"];
      conv.messages.push_back(m);
    }
    std::vector<int32_t> whole = concat(enc.encode_messages(conv));
    data::Conversation prompt_conv = conv;
    prompt_conv.messages.pop_back();
    std::vector<int32_t> prompt = concat(enc.encode_messages(prompt_conv));
    if (empty_sys) {  // difference 3
      whole.insert(whole.begin(), empty_system.begin(), empty_system.end());
      prompt.insert(prompt.begin(), empty_system.begin(), empty_system.end());
    }
    whole.insert(whole.end(), newline.begin(), newline.end());  // difference 1
    EXPECT_EQ(whole, c["ids"].get<std::vector<int32_t>>()) << "conversation " << checked << ": " << c["text"];
    EXPECT_EQ(prompt, c["prompt_ids"].get<std::vector<int32_t>>()) << "generation prompt of conversation " << checked;
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}
