// Shared by the engine tests: a hand-made tokenizer, a tiny random LLaMA to generate with, and a fixture of both.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "datasets/tokenizer.h"
#include "inference/engine_llama.h"
#include "trainers/model/llama_model.h"

namespace packbench::testing {

// Every byte is a token (ids 0..255); a few multi-byte pieces follow (longest match wins, so
// stop strings such as "Question:" span several tokens), then the llama3 special tokens, which
// are matched literally in text.
class TinyTokenizer : public data::Tokenizer {
 public:
  TinyTokenizer() {
    pieces_ = {"Question", "Answer", "ion", "the", " the", "\n\n", " A", " B", " C", " D", "an", "er", "es", "in"};
    specials_ = {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
  }
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const override {
    std::vector<int32_t> out;
    if (add_special_tokens && add_bos) out.push_back(*bos_id());
    size_t i = 0;
    while (i < text.size()) {
      int32_t id = -1;
      size_t len = 0;
      for (size_t s = 0; s < specials_.size(); ++s)
        if (text.compare(i, specials_[s].size(), specials_[s]) == 0) {
          id = 256 + pieces_.size() + s;
          len = specials_[s].size();
        }
      if (id < 0)
        for (size_t p = 0; p < pieces_.size(); ++p)
          if (pieces_[p].size() > len && text.compare(i, pieces_[p].size(), pieces_[p]) == 0) {
            id = 256 + p;
            len = pieces_[p].size();
          }
      if (id < 0) {
        id = static_cast<unsigned char>(text[i]);
        len = 1;
      }
      out.push_back(id);
      i += len;
    }
    return out;
  }
  bool add_bos = true;  // false: as a tokenizer_config.json with add_bos_token false (SmolLM2)
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts, bool add_special_tokens = false,
                                                 int threads = 0) const override {
    std::vector<std::vector<int32_t>> out;
    for (const auto& t : texts) out.push_back(encode(t, add_special_tokens));
    return out;
  }
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const override {
    std::string s;
    for (int32_t id : ids) {
      if (id < 256) {
        s += static_cast<char>(id);
      } else if (id < 256 + static_cast<int32_t>(pieces_.size())) {
        s += pieces_[id - 256];
      } else if (!skip_special_tokens) {
        s += specials_.at(id - 256 - pieces_.size());
      }
    }
    return s;
  }
  int32_t vocab_size() const override { return 256 + pieces_.size() + specials_.size(); }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    for (size_t s = 0; s < specials_.size(); ++s)
      if (specials_[s] == token) return 256 + pieces_.size() + s;
    for (size_t p = 0; p < pieces_.size(); ++p)
      if (pieces_[p] == token) return 256 + p;
    if (token.size() == 1) return static_cast<unsigned char>(token[0]);
    return std::nullopt;
  }
  std::string id_to_token(int32_t id) const override { return decode({id}); }
  std::optional<int32_t> bos_id() const override { return *token_to_id("<|begin_of_text|>"); }
  std::optional<int32_t> eos_id() const override { return *token_to_id("<|end_of_text|>"); }
  std::optional<int32_t> pad_id() const override { return std::nullopt; }

 private:
  std::vector<std::string> pieces_, specials_;
};

// A 2-layer LLaMA with grouped-query attention over `vocab` tokens. A wide initialisation makes
// its next-token distributions peaked, so greedy choices are far from ties.
inline train::LlamaForCausalLM tiny_llama(int64_t vocab, uint64_t seed = 7, int64_t max_pos = 1024) {
  train::LlamaConfig c;
  c.vocab_size = vocab;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = max_pos;
  c.rope_theta = 10000.0;
  c.rope_scaling.reset();
  c.initializer_range = 0.3;
  c.rms_norm_eps = 1e-5;
  train::LlamaForCausalLM m(c);
  m->init_weights(seed);
  m->eval();
  return m;
}

// Reference greedy decoding: the whole sequence through the model at every step, one prompt alone.
inline std::vector<int32_t> reference_greedy(train::LlamaForCausalLM& m, std::vector<int32_t> ids, int n,
                                             const std::vector<int32_t>& stop_ids = {}) {
  torch::NoGradGuard ng;
  std::vector<int32_t> out;
  for (int s = 0; s < n; ++s) {
    auto t = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0);
    train::AttentionInputs a;
    a.position_ids = torch::arange(static_cast<int64_t>(ids.size()), torch::kLong).unsqueeze(0);
    auto logits = m->forward(t, a);
    int32_t next = logits[0][-1].argmax().item<int64_t>();
    if (std::find(stop_ids.begin(), stop_ids.end(), next) != stop_ids.end()) break;
    out.push_back(next);
    ids.push_back(next);
  }
  return out;
}

// A test fixture: the tiny tokenizer, a tiny LLaMA for it and its engine backend, one thread.
struct TinyEngineTest : ::testing::Test {
  void SetUp() override {
    at::set_num_threads(1);
    tok = std::make_shared<TinyTokenizer>();
    model = tiny_llama(tok->vocab_size());
    backend = train::make_llama_backend(model);
  }
  std::shared_ptr<TinyTokenizer> tok;
  train::LlamaForCausalLM model{nullptr};
  std::shared_ptr<train::DecoderBackend> backend;
};

}  // namespace packbench::testing
