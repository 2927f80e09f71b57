// Engine log-likelihoods: equal to a direct forward pass, shared contexts, truncation, lm-eval's split.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "tests/inference/test_engine_util.h"
#include "inference/engine.h"
#include "inference/engine_llama.h"
#include "inference/loglikelihood.h"

namespace pb = packbench;
using namespace packbench::train;
using packbench::testing::tiny_llama;
using packbench::testing::TinyTokenizer;

namespace {

// Reference: (context + continuation)[-(max_len + 1):][:-1] through the model alone, no cache,
// no padding; sum of log-softmax at the continuation's positions; greedy if every argmax matches.
pb::evals::LoglikelihoodResult direct(LlamaForCausalLM& m, const ContinuationTokens& r, int64_t max_len) {
  torch::NoGradGuard ng;
  std::vector<int64_t> all(r.context.begin(), r.context.end());
  all.insert(all.end(), r.continuation.begin(), r.continuation.end());
  if (static_cast<int64_t>(all.size()) > max_len + 1) all.erase(all.begin(), all.end() - (max_len + 1));
  all.pop_back();
  const int64_t T = all.size(), C = r.continuation.size();
  AttentionInputs a;
  a.position_ids = torch::arange(T, torch::kLong).unsqueeze(0);
  auto lp = torch::log_softmax(m->forward(torch::tensor(all, torch::kLong).unsqueeze(0), a)[0].to(torch::kDouble), -1);
  pb::evals::LoglikelihoodResult out{0.0, true};
  for (int64_t j = 0; j < C; ++j) {
    auto row = lp[T - C + j];
    out.logprob += row[r.continuation[j]].item<double>();
    out.is_greedy = out.is_greedy && row.argmax().item<int64_t>() == r.continuation[j];
  }
  return out;
}

struct Fixture : packbench::testing::TinyEngineTest {
  ContinuationTokens pair(const std::string& c, const std::string& x) {
    return {tok->encode(c, true), tok->encode(x)};
  }
};

TEST_F(Fixture, EqualsDirectForwardWithSharedContextsAndBatches) {
  std::vector<ContinuationTokens> reqs;
  const std::string mmlu = "The following are multiple choice questions.\n\nQuestion: 1+1?\nA. 1\nB. 2\nAnswer:";
  for (const char* ch : {" A", " B", " C", " D"}) reqs.push_back(pair(mmlu, ch));
  reqs.push_back(pair("short", " continuation of several tokens"));
  reqs.push_back(pair("short", " x"));
  reqs.push_back(pair("another context, longer than short", "!"));
  reqs.push_back(pair(mmlu, " the answer is B, since 1+1 = 2"));
  reqs.push_back(pair("z", ""));
  for (int bs : {1, 2, 8}) {
    LoglikelihoodOptions o;
    o.batch_size = bs;
    LoglikelihoodStats st;
    auto got = score_continuations(*backend, reqs, o, &st);
    ASSERT_EQ(got.size(), reqs.size());
    for (size_t i = 0; i < reqs.size(); ++i) {
      auto ref = direct(model, reqs[i], backend->max_positions());
      EXPECT_NEAR(got[i].logprob, ref.logprob, 1e-4) << "bs " << bs << " request " << i;
      EXPECT_EQ(got[i].is_greedy, ref.is_greedy) << "bs " << bs << " request " << i;
    }
    EXPECT_EQ(st.distinct_contexts, 4);  // mmlu, short, another, z: each run once
    int64_t ctx_tokens = 0;
    for (const auto* c : {&reqs[0], &reqs[4], &reqs[6], &reqs[8]}) ctx_tokens += c->context.size();
    EXPECT_EQ(st.context_tokens, ctx_tokens);
  }
  EXPECT_DOUBLE_EQ(score_continuations(*backend, {reqs[8]}, {})[0].logprob, 0.0);
}

TEST_F(Fixture, GreedyContinuationIsRecognised) {
  auto ctx = tok->encode("Question: name a colour.\nAnswer:", true);
  // The model's own greedy continuation, 5 tokens.
  std::vector<int32_t> ids = ctx, greedy;
  for (int s = 0; s < 5; ++s) {
    auto r = score_continuations(*backend, {{ids, {0}}}, {});
    torch::NoGradGuard ng;
    AttentionInputs a;
    a.position_ids = torch::arange(static_cast<int64_t>(ids.size())).unsqueeze(0);
    auto t = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0);
    int32_t next = model->forward(t, a)[0][-1].argmax().item<int64_t>();
    greedy.push_back(next);
    ids.push_back(next);
  }
  auto got = score_continuations(*backend, {{ctx, greedy}}, {});
  EXPECT_TRUE(got[0].is_greedy);
  auto other = greedy;
  other[3] = (other[3] + 1) % tok->vocab_size();
  EXPECT_FALSE(score_continuations(*backend, {{ctx, other}}, {})[0].is_greedy);
}

TEST_F(Fixture, LongInputsAreLeftTruncatedLikeLmEval) {
  std::vector<ContinuationTokens> reqs = {pair("0123456789abcdefghij", "klmno"), pair("0123456789abcdefghij", "k"),
                                          pair("xy", "0123456789")};
  LoglikelihoodOptions o;
  o.max_length = 12;
  o.batch_size = 3;
  auto got = score_continuations(*backend, reqs, o);
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto ref = direct(model, reqs[i], 12);
    EXPECT_NEAR(got[i].logprob, ref.logprob, 1e-4) << i;
  }
  o.max_length = 4;
  EXPECT_THROW(score_continuations(*backend, {reqs[2]}, o), pb::Error);
  EXPECT_THROW(score_continuations(*backend, {{{}, {1}}}, {}), pb::Error);
}

TEST_F(Fixture, EngineSplitsPairsAsLmEvalAndScoresThem) {
  EngineOptions eo;
  eo.progress = false;
  eo.batch_size = 3;
  Engine engine(backend, tok, eo);
  const int32_t bos = *tok->bos_id();
  // Trailing whitespace of the context moves to the continuation; the pair is encoded whole.
  auto p = engine.encode_pair("Question: x\nAnswer: ", "B");
  std::vector<int32_t> ctx = {bos};
  for (auto id : tok->encode("Question: x\nAnswer:")) ctx.push_back(id);
  EXPECT_EQ(p.context, ctx);
  EXPECT_EQ(p.continuation, tok->encode(" B"));
  EXPECT_EQ(p.continuation.size(), 1u) << "\" B\" is one token of the tiny vocabulary";
  // The context keeps its own encoding; the continuation is the whole encoding's ids after as
  // many ids as the context has. "Answ" + "er the" encodes whole as [bos, "Answer", " the"] (3
  // ids) while the context alone is 5 ids, so the continuation comes out empty, as in lm-eval.
  auto q = engine.encode_pair("Answ", "er the");
  EXPECT_EQ(q.context, (std::vector<int32_t>{bos, 'A', 'n', 's', 'w'}));
  EXPECT_TRUE(q.continuation.empty());
  auto q2 = engine.encode_pair("in the", " end");  // "in"," the" | " ", "e", "n", "d"
  EXPECT_EQ(q2.continuation, tok->encode(" end"));
  // Empty context with BOS: BOS alone is the context.
  auto e = engine.encode_pair("", "hi");
  EXPECT_EQ(e.context, std::vector<int32_t>{bos});

  // A tokenizer that adds no BOS of its own (add_bos_token false) gets none, as Hugging Face's
  // tokenizer(text) and lm-eval encode; an empty context then starts from EOS, as in lm-eval.
  auto no_bos_tok = std::make_shared<pb::testing::TinyTokenizer>();
  no_bos_tok->add_bos = false;
  Engine no_bos(backend, no_bos_tok, eo);
  EXPECT_TRUE(no_bos.context_prefix().empty());
  EXPECT_EQ(no_bos.encode_pair("Question: x\nAnswer: ", "B").context, tok->encode("Question: x\nAnswer:"));
  EXPECT_EQ(no_bos.encode_pair("", "hi").context, std::vector<int32_t>{*tok->eos_id()});
  EXPECT_EQ(engine.context_prefix(), std::vector<int32_t>{bos});

  std::vector<pb::evals::LoglikelihoodRequest> reqs = {
      {"Question: 2+2?\nAnswer:", " A"}, {"Question: 2+2?\nAnswer:", " B"}, {"Question: 2+2?\nAnswer: ", "4"}};
  auto got = engine.loglikelihood(reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto ref = direct(model, engine.encode_pair(reqs[i].context, reqs[i].continuation), 1024);
    EXPECT_NEAR(got[i].logprob, ref.logprob, 1e-4) << i;
  }
  EXPECT_EQ(engine.loglikelihood_stats().distinct_contexts, 1) << "all three share the context";
}

TEST_F(Fixture, TokenizerLargerThanTheModelIsAClearError) {
  EngineOptions eo;
  eo.progress = false;
  Engine engine(make_llama_backend(tiny_llama(200)), tok, eo);  // BOS and " A" have ids >= 256
  EXPECT_THROW(engine.loglikelihood({{"Question", " A"}}), pb::Error);
  EXPECT_THROW(engine.generate_until({{"Question", {}, 4}}), pb::Error);
}

}  // namespace
