// Chat templates: token layouts checked by hand against the paper's format, labels, truncation rules.
#include <gtest/gtest.h>

#include "datasets/chat_template.h"
#include "core/error.h"
#include "tests/common/test_paths.h"
#include "tests/datasets/fake_tokenizer.h"

using namespace packbench::data;
using packbench::testing::FakeTokenizer;

namespace {

std::vector<int32_t> bytes(const std::string& s) {
  std::vector<int32_t> v;
  for (unsigned char c : s) v.push_back(c);
  return v;
}
std::vector<int32_t> cat(std::initializer_list<std::vector<int32_t>> parts) {
  std::vector<int32_t> v;
  for (const auto& p : parts) v.insert(v.end(), p.begin(), p.end());
  return v;
}

Conversation conv(std::string system, std::vector<std::string> turns) {
  Conversation c;
  c.system = std::move(system);
  for (size_t i = 0; i < turns.size(); ++i) c.messages.push_back({i % 2 ? Role::kAssistant : Role::kUser, turns[i]});
  return c;
}

std::vector<MessageSpan> spans(const std::vector<std::vector<int32_t>>& m) {
  std::vector<MessageSpan> s;
  for (const auto& x : m) s.push_back({x.data(), static_cast<int64_t>(x.size())});
  return s;
}

using P = std::pair<int64_t, int64_t>;
const int32_t B = FakeTokenizer::kBos, S = FakeTokenizer::kStart, E = FakeTokenizer::kEndHeader, T = FakeTokenizer::kEot;

}  // namespace

// The paper's layout: <|begin_of_text|> once, default system, <|eot_id|> after every turn.
TEST(Llama3Lf07, LayoutMatchesThePaper) {
  auto tok = std::make_shared<FakeTokenizer>();
  TemplateEncoder enc(get_template("llama3_lf07"), tok);
  auto m = enc.encode_messages(conv("", {"Hi", "Yo", "More?", "Sure."}));
  ASSERT_EQ(m.size(), 4u);
  auto user_header = cat({{S}, bytes("user"), {E}, bytes("\n\n")});
  auto asst_header = cat({{S}, bytes("assistant"), {E}, bytes("\n\n")});
  EXPECT_EQ(m[0], cat({{B, S}, bytes("system"), {E}, bytes("\n\nYou are a helpful assistant."), {T},
                       user_header, bytes("Hi"), {T}, asst_header}));
  EXPECT_EQ(m[1], cat({bytes("Yo"), {T}}));
  EXPECT_EQ(m[2], cat({user_header, bytes("More?"), {T}, asst_header}));  // no second bos, no system
  EXPECT_EQ(m[3], cat({bytes("Sure."), {T}}));
  // A record's own system prompt replaces the default.
  auto m2 = enc.encode_messages(conv("Be brief.", {"Hi", "Yo"}));
  EXPECT_EQ(m2[0], cat({{B, S}, bytes("system"), {E}, bytes("\n\nBe brief."), {T}, user_header, bytes("Hi"), {T},
                        asst_header}));
  // Labels: only assistant tokens (with their <|eot_id|>) are trained.
  Sample s = build_sample(spans(m), 0, TruncationRule::kInferMaxLen, {});
  ASSERT_EQ(s.input_ids.size(), s.labels.size());
  std::vector<int32_t> expect_labels;
  for (size_t i = 0; i < m.size(); ++i)
    for (int32_t id : m[i]) expect_labels.push_back(i % 2 ? id : kIgnoreIndex);
  EXPECT_EQ(s.labels, expect_labels);
  EXPECT_FALSE(s.truncated);
}

TEST(Llama3Current, BosPrefixNoDefaultSystem) {
  auto tok = std::make_shared<FakeTokenizer>();
  TemplateEncoder enc(get_template("llama3"), tok);
  auto m = enc.encode_messages(conv("", {"Hi", "Yo"}));
  EXPECT_EQ(m[0], cat({{B, S}, bytes("user"), {E}, bytes("\n\nHi"), {T}, {S}, bytes("assistant"), {E}, bytes("\n\n")}));
  EXPECT_EQ(m[1], cat({bytes("Yo"), {T}}));
  auto m2 = enc.encode_messages(conv("sys", {"Hi", "Yo"}));
  EXPECT_EQ(m2[0], cat({{B, S}, bytes("system"), {E}, bytes("\n\nsys"), {T}, {S}, bytes("user"), {E}, bytes("\n\nHi"),
                        {T}, {S}, bytes("assistant"), {E}, bytes("\n\n")}));
}

TEST(OtherTemplates, Llama2ChatmlAlpaca) {
  auto tok = std::make_shared<FakeTokenizer>();
  {
    TemplateEncoder enc(get_template("llama2"), tok);
    auto m = enc.encode_messages(conv("S", {"q1", "a1", "q2", "a2"}));
    EXPECT_EQ(m[0], cat({{B}, bytes("[INST] <<SYS>>\nS\n<</SYS>>\n\nq1 [/INST]")}));
    EXPECT_EQ(m[1], cat({bytes("a1"), {FakeTokenizer::kEnd}}));  // the tokenizer's eos
    EXPECT_EQ(m[2], cat({{B}, bytes("[INST] q2 [/INST]")}));
  }
  {
    TemplateEncoder enc(get_template("chatml"), tok);
    // <|im_start|>/<|im_end|> are not in this vocabulary: the template adds them after it.
    const int32_t im_end = tok->vocab_size(), im_start = tok->vocab_size() + 1;
    auto m = enc.encode_messages(conv("", {"q1", "a1", "q2", "a2"}));
    EXPECT_EQ(m[0], cat({{im_start}, bytes("user\nq1"), {im_end}, bytes("\n"), {im_start}, bytes("assistant\n")}));
    EXPECT_EQ(m[1], cat({bytes("a1"), {im_end}}));
    EXPECT_EQ(m[2], cat({bytes("\n"), {im_start}, bytes("user\nq2"), {im_end}, bytes("\n"), {im_start}, bytes("assistant\n")}));
  }
  {
    TemplateEncoder enc(get_template("alpaca"), tok);
    auto m = enc.encode_messages(conv("", {"q1", "a1", "q2", "a2"}));
    EXPECT_EQ(m[0], bytes("Below is an instruction that describes a task. Write a response that appropriately "
                          "completes the request.\n\n### Instruction:\nq1\n\n### Response:\n"));
    EXPECT_EQ(m[2], bytes("\n\n### Instruction:\nq2\n\n### Response:\n"));
  }
  EXPECT_THROW(get_template("vicuna"), packbench::Error);
}

TEST(Truncation, InferMaxLenUsesPythonFloatRounding) {
  // Values from Python: int(m * (t / (s + t))), then max(., 1) and m - min(., t).
  EXPECT_EQ(infer_max_len(100, 50, 60), P(40, 20));
  EXPECT_EQ(infer_max_len(10, 7, 10), P(6, 4));
  EXPECT_EQ(infer_max_len(5000, 10, 4096), P(4088, 8));
  // 55 * (6/11) is 29.999999999999996 in doubles: Python's int() gives 29, not 30.
  EXPECT_EQ(infer_max_len(5, 6, 55), P(49, 29));
  EXPECT_EQ(infer_max_len(1000, 0, 10).second, 1);  // reserved_label_len
}

TEST(Truncation, PerTurnBudgetAsLlamaFactory07) {
  // Two turns of (src 6, tgt 4) at cutoff 12: turn 0 gets left=12 -> tgt int(12*0.4)=4, src 8 -> keeps 6+4;
  // turn 1 gets left=2 -> tgt max(int(0.8),1)=1, src 2-1=1 -> 1+1. Total 12.
  std::vector<std::vector<int32_t>> m = {{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10}, {11, 12, 13, 14, 15, 16}, {17, 18, 19, 20}};
  Sample s = build_sample(spans(m), 12, TruncationRule::kInferMaxLen, {});
  EXPECT_EQ(s.input_ids, (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 17}));
  EXPECT_EQ(s.labels, (std::vector<int32_t>{-100, -100, -100, -100, -100, -100, 7, 8, 9, 10, -100, 17}));
  EXPECT_TRUE(s.truncated);
  // At cutoff 10 the second turn is dropped whole (the running total reached the cutoff).
  Sample s2 = build_sample(spans(m), 10, TruncationRule::kInferMaxLen, {});
  EXPECT_EQ(s2.input_ids.size(), 10u);
  EXPECT_TRUE(s2.truncated);
  // No cutoff: everything.
  Sample s3 = build_sample(spans(m), 0, TruncationRule::kInferMaxLen, {});
  EXPECT_EQ(s3.input_ids.size(), 20u);
  EXPECT_FALSE(s3.truncated);
}

TEST(Truncation, InferSeqLenAsCurrentLlamaFactory) {
  EXPECT_EQ(infer_seqlen(100, 10, 60), P(50, 10));  // short target kept whole
  EXPECT_EQ(infer_seqlen(10, 100, 60), P(10, 50));  // short source kept whole
  EXPECT_EQ(infer_seqlen(100, 100, 60), P(30, 30));
}

TEST(Labels, TrainOnPromptAndMaskHistory) {
  std::vector<std::vector<int32_t>> m = {{1, 2}, {3}, {4, 5}, {6}};
  Sample p = build_sample(spans(m), 0, TruncationRule::kInferMaxLen, {true, false});
  EXPECT_EQ(p.labels, (std::vector<int32_t>{1, 2, 3, 4, 5, 6}));
  Sample h = build_sample(spans(m), 0, TruncationRule::kInferMaxLen, {false, true});
  EXPECT_EQ(h.labels, (std::vector<int32_t>{-100, -100, -100, -100, -100, 6}));
}
// With the real LLaMA-3 tokenizer: the paper's exact ids for a one-turn conversation.
TEST(Llama3Lf07, RealTokenizerLayout) {
  PB_REQUIRE_LLAMA3(dir);
  auto tok = Tokenizer::from_dir(dir);
  TemplateEncoder enc(get_template("llama3_lf07"), tok);
  auto m = enc.encode_messages(conv("", {"Hi", "Yo"}));
  const int32_t bot = 128000, sh = 128006, eh = 128007, eot = 128009;
  auto nl = tok->encode("\n\n");
  auto cat_ids = [&](std::initializer_list<std::vector<int32_t>> p) { return cat(p); };
  auto expect0 = cat_ids({{bot, sh}, tok->encode("system"), {eh}, tok->encode("\n\nYou are a helpful assistant."), {eot},
                          {sh}, tok->encode("user"), {eh}, tok->encode("\n\nHi"), {eot}, {sh}, tok->encode("assistant"),
                          {eh}, nl});
  EXPECT_EQ(m[0], expect0);
  EXPECT_EQ(m[1], cat_ids({tok->encode("Yo"), {eot}}));
  EXPECT_EQ(tok->decode(m[0]),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
}

// Splitting slot text at its special tokens gives the same ids as tokenizing the whole slot
// string (what LLaMA-Factory does), whatever the content starts or ends with.
TEST(Llama3Lf07, SpecialTokenSplitEqualsWholeStringEncoding) {
  PB_REQUIRE_LLAMA3(dir);
  auto tok = Tokenizer::from_dir(dir);
  TemplateEncoder enc(get_template("llama3_lf07"), tok);
  const std::string contents[] = {"Hi", "\nleading newline", "  two spaces", "trailing\n\n", "\n\n\n", " ",
                                  "has <|eot_id|> inside", "数据 and émoji 😀", "x"};
  for (const auto& q : contents) {
    Conversation c;
    c.system = "S " + q;
    c.messages = {{Role::kUser, q}, {Role::kAssistant, q}};
    auto m = enc.encode_messages(c);
    std::vector<int32_t> whole0 = {128000};
    auto sys = tok->encode("<|start_header_id|>system<|end_header_id|>\n\nS " + q + "<|eot_id|>");
    auto usr = tok->encode("<|start_header_id|>user<|end_header_id|>\n\n" + q +
                           "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    whole0.insert(whole0.end(), sys.begin(), sys.end());
    whole0.insert(whole0.end(), usr.begin(), usr.end());
    EXPECT_EQ(m[0], whole0) << "content: " << q;
    auto whole1 = tok->encode(q);
    whole1.push_back(128009);
    EXPECT_EQ(m[1], whole1) << "content: " << q;
    // encode_many (batched, memoized constants) agrees with encode_messages
    auto many = enc.encode_many({c, c});
    EXPECT_EQ(many[1], m);
  }
}
