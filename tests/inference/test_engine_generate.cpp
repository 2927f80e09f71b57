// Engine generation: KV cache equals recomputing, batched equals alone, stops, sampling, compaction.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "tests/inference/test_engine_util.h"
#include "inference/engine.h"
#include "inference/engine_llama.h"
#include "inference/generate.h"
#include "inference/sampling.h"

namespace pb = packbench;
using namespace packbench::train;
using packbench::testing::reference_greedy;
using packbench::testing::tiny_llama;
using packbench::testing::TinyTokenizer;

namespace {

struct Fixture : packbench::testing::TinyEngineTest {
  std::vector<GenerationInput> inputs(const std::vector<std::string>& prompts, std::vector<int> max_new) {
    std::vector<GenerationInput> v;
    for (size_t i = 0; i < prompts.size(); ++i) {
      GenerationInput in;
      in.prompt = tok->encode(prompts[i], true);
      in.max_new_tokens = max_new[i % max_new.size()];
      v.push_back(in);
    }
    return v;
  }
};

const std::vector<std::string> kPrompts = {
    "Question: what is the answer?\nAnswer:", "hi", "The quick brown fox jumps over the lazy dog. The",
    "1 2 3 4", "Answer: B\n\nQuestion: again, in the end?"};

TEST_F(Fixture, GreedyWithCacheMatchesFullRecomputeReference) {
  auto in = inputs(kPrompts, {20, 7, 13});
  GenerateOptions o;
  o.batch_size = 8;
  auto out = generate(*backend, tok.get(), in, o);
  GenerateOptions o2 = o;
  o2.use_cache = false;
  auto out_nocache = generate(*backend, tok.get(), in, o2);
  int differing_rows = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    auto ref = reference_greedy(model, in[i].prompt, in[i].max_new_tokens);
    EXPECT_EQ(out[i].tokens, ref) << "prompt " << i;
    EXPECT_EQ(out_nocache[i].tokens, ref) << "prompt " << i;
    EXPECT_EQ(out[i].finish, FinishReason::kLength);
    EXPECT_EQ(out[i].text, tok->decode(ref, true));
    if (i > 0 && out[i].tokens != out[0].tokens) ++differing_rows;
  }
  EXPECT_GT(differing_rows, 0) << "the model should not generate the same thing for every prompt";
}

TEST_F(Fixture, BatchedEqualsOneAtATimeAndBatchSizesAgree) {
  auto in = inputs(kPrompts, {16, 5, 11, 3});
  GenerateOptions one;
  one.batch_size = 1;
  auto alone = generate(*backend, tok.get(), in, one);
  for (int bs : {2, 3, 5}) {
    GenerateOptions o;
    o.batch_size = bs;
    GenerateStats st;
    auto out = generate(*backend, tok.get(), in, o, &st);
    for (size_t i = 0; i < in.size(); ++i) EXPECT_EQ(out[i].tokens, alone[i].tokens) << "bs " << bs << " prompt " << i;
    // Finished rows leave the batch: tokens sampled equal tokens returned (no stop tokens here).
    int64_t produced = 0;
    for (auto& o2 : out) produced += o2.tokens.size();
    EXPECT_EQ(st.generated_tokens, produced);
  }
}

TEST_F(Fixture, StopStringSpanningTokensIsCutAsLmEvalDoes) {
  auto in = inputs({kPrompts[0]}, {40});
  auto free_run = generate(*backend, tok.get(), in, GenerateOptions{});
  const auto& toks = free_run[0].tokens;
  ASSERT_GE(toks.size(), 12u);
  // A stop made of the decoded text of tokens 5..8: it spans four tokens.
  std::string stop = tok->decode({toks.begin() + 5, toks.begin() + 9}, true);
  ASSERT_GE(stop.size(), 4u);
  std::string full = tok->decode(toks, true);
  size_t at = full.find(stop);
  in[0].stops = StopStrings({"never appears \x01\x02", stop});
  auto out = generate(*backend, tok.get(), in, GenerateOptions{});
  EXPECT_EQ(out[0].finish, FinishReason::kStopString);
  EXPECT_EQ(out[0].text, full.substr(0, at));
  EXPECT_LE(out[0].tokens.size(), 9u) << "generation goes on after the stop appeared";
  // With a second prompt in the batch that does not stop, the stopped row still matches.
  auto in2 = inputs({kPrompts[0], kPrompts[2]}, {40});
  in2[0].stops = in[0].stops;
  auto out2 = generate(*backend, tok.get(), in2, GenerateOptions{});
  EXPECT_EQ(out2[0].text, out[0].text);
  EXPECT_EQ(out2[1].tokens, reference_greedy(model, in2[1].prompt, 40));
}

TEST_F(Fixture, StopTokenEndsTheRowAndIsNotReturned) {
  auto in = inputs({kPrompts[2]}, {30});
  auto free_run = generate(*backend, tok.get(), in, GenerateOptions{});
  const auto& toks = free_run[0].tokens;
  ASSERT_GE(toks.size(), 10u);
  int32_t stop_id = toks[6];
  size_t first = std::find(toks.begin(), toks.end(), stop_id) - toks.begin();
  GenerateOptions o;
  o.stop_token_ids = {stop_id};
  auto out = generate(*backend, tok.get(), in, o);
  EXPECT_EQ(out[0].finish, FinishReason::kStopToken);
  EXPECT_EQ(out[0].tokens, std::vector<int32_t>(toks.begin(), toks.begin() + first));
}

TEST_F(Fixture, SamplingIsSeededAndIndependentOfBatching) {
  auto in = inputs(kPrompts, {12});
  GenerateOptions o;
  o.sampling.temperature = 1.0;
  o.sampling.top_p = 0.9;
  o.sampling.seed = 42;
  o.batch_size = 1;
  auto a = generate(*backend, tok.get(), in, o);
  o.batch_size = 4;
  auto b = generate(*backend, tok.get(), in, o);
  o.sampling.seed = 43;
  auto c = generate(*backend, tok.get(), in, o);
  int differ_from_greedy = 0, differ_seed = 0;
  auto greedy = generate(*backend, tok.get(), in, GenerateOptions{});
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens) << i;
    differ_from_greedy += a[i].tokens != greedy[i].tokens;
    differ_seed += a[i].tokens != c[i].tokens;
  }
  EXPECT_GT(differ_from_greedy, 0);
  EXPECT_GT(differ_seed, 0);
}

TEST(Sampling, TopPNucleusHandComputed) {
  auto p = torch::tensor({0.2, 0.5, 0.3}, torch::kDouble);
  // Sorted: id1 0.5, id2 0.3, id0 0.2. top_p 0.6 keeps {1, 2} (mass 0.8).
  EXPECT_EQ(sample_top_p(p, 0.6, 0.0), 1);
  EXPECT_EQ(sample_top_p(p, 0.6, 0.6), 1);   // target 0.48 < 0.5
  EXPECT_EQ(sample_top_p(p, 0.6, 0.7), 2);   // target 0.56 > 0.5
  EXPECT_EQ(sample_top_p(p, 0.6, 0.999), 2); // id0 is outside the nucleus
  EXPECT_EQ(sample_top_p(p, 0.5, 0.99), 1);  // mass before id2 is already 0.5
  EXPECT_EQ(sample_top_p(p, 1.0, 0.95), 0);  // all kept; last 0.2 of the mass is id0
  Sampler greedy(SamplingOptions{});
  auto logits = torch::tensor({{0.1f, 2.0f, -1.0f}, {3.0f, 0.0f, 3.5f}});
  auto ids = greedy.pick(logits, {0, 1});
  EXPECT_EQ(ids[0].item<int64_t>(), 1);
  EXPECT_EQ(ids[1].item<int64_t>(), 2);
  EXPECT_THROW(Sampler(SamplingOptions{-1.0, 1.0, 0}), pb::Error);
  EXPECT_THROW(Sampler(SamplingOptions{1.0, 0.0, 0}), pb::Error);
}

TEST(StopStrings, EarliestOfAnyStopAndEmptyIgnored) {
  StopStrings s({"Question:", "", "\n\n"});
  EXPECT_EQ(s.cut("42.\n\nQuestion: next"), "42.");
  EXPECT_EQ(s.cut("a Question: b\n\nc"), "a ");
  EXPECT_EQ(s.cut("no stop"), "no stop");
  EXPECT_EQ(s.longest(), 9u);
  EXPECT_TRUE(StopStrings({""}).empty());
}

TEST_F(Fixture, EngineGenerateUntilWrapsTheChatTemplateAndRestoresOrder) {
  EngineOptions eo;
  eo.batch_size = 2;
  eo.progress = false;
  eo.chat_template = "llama3_lf07";
  Engine engine(backend, tok, eo);
  auto ids = engine.encode_context("hello");
  auto expect = tok->encode(
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nhello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(ids, expect);
  EXPECT_EQ(ids.front(), *tok->bos_id());
  std::vector<pb::evals::GenerationRequest> reqs;
  for (const auto& p : kPrompts) reqs.push_back({p, {}, 9});
  auto texts = engine.generate_until(reqs);
  ASSERT_EQ(texts.size(), reqs.size());
  const auto eot = *tok->token_to_id("<|eot_id|>"), eos = *tok->eos_id();
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto ref = reference_greedy(model, engine.encode_context(reqs[i].context), 9, {eot, eos});
    EXPECT_EQ(texts[i], tok->decode(ref, true)) << i;
  }
  EXPECT_EQ(engine.stop_token_ids(), (std::vector<int32_t>{eos, eot}));
  // Without the template, BOS then the text.
  eo.chat_template = "";
  Engine plain(backend, tok, eo);
  auto p = plain.encode_context("hello");
  EXPECT_EQ(p.front(), *tok->bos_id());
  EXPECT_EQ(std::vector<int32_t>(p.begin() + 1, p.end()), tok->encode("hello"));
}

TEST_F(Fixture, RejectsPromptsThatDoNotFitTheWindow) {
  auto small = make_llama_backend(tiny_llama(tok->vocab_size(), 7, 16));
  auto in = inputs({"0123456789"}, {10});
  EXPECT_THROW(generate(*small, tok.get(), in, GenerateOptions{}), pb::Error);
  // The engine left-truncates the context instead, as lm-eval does.
  EngineOptions eo;
  eo.progress = false;
  Engine engine(small, tok, eo);
  auto texts = engine.generate_until({{"0123456789abcdef", {}, 6}});
  EXPECT_EQ(texts.size(), 1u);
}

}  // namespace
