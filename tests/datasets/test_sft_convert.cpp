// GSM8K question/answer JSON lines to LLaMA-Factory sharegpt: exact output, the registry entry, reading it back, bad input.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "datasets/conversation_reader.h"
#include "datasets/dataset_registry.h"
#include "datasets/sft_convert.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

using namespace packbench::data;
namespace pt = packbench::testing;
namespace fs = std::filesystem;

namespace {

// Two hand-made records in GSM8K's layout (calculator annotations, "#### N", a quote and a
// non-ASCII character), with a blank line between them.
const std::string kInput =
    "{\"question\": \"Ada has 3 apples and buys 4 more. How many?\", \"answer\": \"3+4 = <<3+4=7>>7\\n#### 7\"}\n"
    "\n"
    "{\"answer\": \"He says \\\"2\\u00d73\\\" = <<2*3=6>>6\\n#### 6\", \"question\": \"What is 2\\u00d73?\"}\n";

}  // namespace

TEST(SftConvert, Gsm8kRecordsBecomeShareGptExactly) {
  const std::string dir = pt::temp_dir("convert");
  const std::string in = pt::write_text(dir, "train.jsonl", kInput);
  ConvertResult r = convert_gsm8k_to_sharegpt(in, dir + "/out", "gsm8k_train");
  EXPECT_EQ(r.records, 2);
  EXPECT_EQ(r.file, dir + "/out/gsm8k_train.json");
  EXPECT_EQ(pt::slurp(r.file),
            "[\n"
            "{\"conversations\":[{\"from\":\"human\",\"value\":\"Ada has 3 apples and buys 4 more. How many?\"},"
            "{\"from\":\"gpt\",\"value\":\"3+4 = <<3+4=7>>7\\n#### 7\"}]},\n"
            "{\"conversations\":[{\"from\":\"human\",\"value\":\"What is 2\xc3\x97" "3?\"},"
            "{\"from\":\"gpt\",\"value\":\"He says \\\"2\xc3\x97" "3\\\" = <<2*3=6>>6\\n#### 6\"}]}\n"
            "]\n");
  EXPECT_EQ(pt::slurp(dir + "/out/dataset_info.json"),
            "{\n"
            "  \"gsm8k_train\": {\n"
            "    \"columns\": {\n"
            "      \"messages\": \"conversations\"\n"
            "    },\n"
            "    \"file_name\": \"gsm8k_train.json\",\n"
            "    \"formatting\": \"sharegpt\"\n"
            "  }\n"
            "}\n");
  // LLaMA-Factory's reader (packbench's) reads it back as two one-turn conversations.
  auto specs = load_dataset_specs(dir + "/out", "gsm8k_train");
  ASSERT_EQ(specs.size(), 1u);
  std::vector<Conversation> convs;
  read_conversations(specs[0], BadRecordPolicy::kFail, -1, [&](Conversation&& c) { convs.push_back(std::move(c)); });
  ASSERT_EQ(convs.size(), 2u);
  ASSERT_EQ(convs[1].messages.size(), 2u);
  EXPECT_EQ(convs[1].messages[0].role, Role::kUser);
  EXPECT_EQ(convs[1].messages[0].content, "What is 2\xc3\x97" "3?");
  EXPECT_EQ(convs[1].messages[1].role, Role::kAssistant);
  EXPECT_EQ(convs[1].messages[1].content, "He says \"2\xc3\x97" "3\" = <<2*3=6>>6\n#### 6");
}

TEST(SftConvert, MaxSamplesAndMergedRegistry) {
  const std::string dir = pt::temp_dir("convert-max");
  const std::string in = pt::write_text(dir, "train.jsonl", kInput);
  pt::write_text(dir, "dataset_info.json", "{\"other\": {\"file_name\": \"other.json\"}}");
  ConvertResult r = convert_gsm8k_to_sharegpt(in, dir, "first", 1);
  EXPECT_EQ(r.records, 1);
  EXPECT_EQ(pt::count_lines(r.file), 3) << "[, one record, ]";
  auto info = nlohmann::json::parse(pt::slurp(dir + "/dataset_info.json"));
  EXPECT_EQ(info["other"]["file_name"], "other.json") << "existing entries are kept";
  EXPECT_EQ(info["first"]["formatting"], "sharegpt");
}

TEST(SftConvert, BadInputNamesFileLineAndField) {
  const std::string dir = pt::temp_dir("convert-bad");
  auto convert = [&](const std::string& text) {
    const std::string in = pt::write_text(dir, "in.jsonl", text);
    return pt::error_of([&] { convert_gsm8k_to_sharegpt(in, dir + "/out", "x"); });
  };
  const std::string in = dir + "/in.jsonl";
  std::string e = pt::error_of([&] { convert_gsm8k_to_sharegpt(dir + "/missing.jsonl", dir + "/out", "x"); });
  EXPECT_NE(e.find(dir + "/missing.jsonl: GSM8K JSON lines file not found"), std::string::npos) << e;
  e = convert("{\"question\": \"q\", \"answer\": \"a\"}\n{\"question\": \"q2\"}\n");
  EXPECT_NE(e.find(in + ":2: record has no field 'answer'"), std::string::npos) << e;
  e = convert("{\"question\": 5, \"answer\": \"a\"}\n");
  EXPECT_NE(e.find(in + ":1: field 'question' is not a string"), std::string::npos) << e;
  e = convert("{\"question\": \"\", \"answer\": \"a\"}\n");
  EXPECT_NE(e.find(in + ":1: field 'question' is empty"), std::string::npos) << e;
  e = convert("{\"question\": \"q\", \"answer\": \"a\"}\n{not json\n");
  EXPECT_NE(e.find(in + ":2: not valid JSON"), std::string::npos) << e;
  e = convert("[1, 2]\n");
  EXPECT_NE(e.find(in + ":1: expected a JSON object"), std::string::npos) << e;
  e = convert("\n\n");
  EXPECT_NE(e.find(in + ": no records"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir + "/out/x.json")) << "nothing is written when the input is bad";
  e = pt::error_of([&] { convert_gsm8k_to_sharegpt(pt::write_text(dir, "ok.jsonl", "{\"question\":\"q\",\"answer\":\"a\"}\n"), dir, "a/b"); });
  EXPECT_NE(e.find("dataset name 'a/b' must be a plain file name"), std::string::npos) << e;
}
