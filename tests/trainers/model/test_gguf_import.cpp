// GGUF import on a hand-built tiny LLaMA: HF names, Q/K rotary rows restored, config, untied head, and refusals.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tests/common/test_paths.h"
#include "tests/trainers/model/gguf_test_writer.h"
#include "trainers/model/gguf.h"
#include "trainers/model/gguf_import.h"
#include "trainers/model/llama_config.h"
#include "trainers/model/safetensors.h"

using namespace packbench::train;
using packbench::testing::GgufWriter;
using json = nlohmann::json;

namespace {

constexpr int64_t kHidden = 8, kHeads = 2, kKv = 1, kHeadDim = 4, kFf = 16, kVocab = 6, kLayers = 2;

using Matrix = std::vector<float>;  // row-major

Matrix random_matrix(std::mt19937& rng, int64_t rows, int64_t cols) {
  std::uniform_int_distribution<int> d(-64, 64);
  Matrix m(static_cast<size_t>(rows * cols));
  for (auto& x : m) x = static_cast<float>(d(rng)) / 32.0f;  // exact in float16 too
  return m;
}

// llama.cpp's converter order for Q/K: within each head, row 2i + j holds Hugging Face's row j*d + i.
Matrix llama_cpp_permute(const Matrix& w, int64_t rows, int64_t cols, int64_t n_head) {
  const int64_t d = rows / n_head / 2;
  Matrix out(w.size());
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::memcpy(&out[static_cast<size_t>((h * 2 * d + 2 * i + j) * cols)], &w[static_cast<size_t>((h * 2 * d + j * d + i) * cols)],
                    static_cast<size_t>(cols) * 4);
  return out;
}

std::string f16_bytes(const Matrix& m) {  // the values are multiples of 1/32 in [-2, 2]: exact halves
  std::string b;
  for (float x : m) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    uint16_t h;
    if (x == 0) {
      h = static_cast<uint16_t>((bits >> 16) & 0x8000);
    } else {
      const int exp = static_cast<int>((bits >> 23) & 0xFF) - 127 + 15;
      h = static_cast<uint16_t>(((bits >> 16) & 0x8000) | (exp << 10) | ((bits >> 13) & 0x3FF));
    }
    b.append(reinterpret_cast<const char*>(&h), 2);
  }
  return b;
}

struct Tiny {
  std::map<std::string, std::pair<std::vector<int64_t>, Matrix>> hf;  // HF name -> (shape, values)
  GgufWriter w;

  explicit Tiny(bool untied, const std::string& arch = "llama") {
    std::mt19937 rng(7);
    w.str("general.architecture", arch);
    w.u32(arch + ".block_count", kLayers);
    w.u32(arch + ".context_length", 64);
    w.u32(arch + ".embedding_length", kHidden);
    w.u32(arch + ".feed_forward_length", kFf);
    w.u32(arch + ".attention.head_count", kHeads);
    w.u32(arch + ".attention.head_count_kv", kKv);
    w.f32(arch + ".rope.freq_base", 500000.0f);
    w.f32(arch + ".attention.layer_norm_rms_epsilon", 1e-6f);
    w.u32(arch + ".rope.dimension_count", kHeadDim);
    w.str("tokenizer.ggml.model", "gpt2");
    w.strs("tokenizer.ggml.tokens", {"<s>", "</s>", "a", "b", "ab", "Ġ"});
    w.i32s("tokenizer.ggml.token_type", {3, 3, 1, 1, 1, 1});
    w.strs("tokenizer.ggml.merges", {"a b"});
    w.u32("tokenizer.ggml.bos_token_id", 0);
    w.u32("tokenizer.ggml.eos_token_id", 1);
    w.str("tokenizer.chat_template", "{{ messages }}");
    add("token_embd.weight", "model.embed_tokens.weight", random_matrix(rng, kVocab, kHidden), kVocab, kHidden, /*f16=*/true);
    for (int64_t l = 0; l < kLayers; ++l) {
      const std::string g = "blk." + std::to_string(l) + ".", h = "model.layers." + std::to_string(l) + ".";
      add(g + "attn_norm.weight", h + "input_layernorm.weight", random_matrix(rng, 1, kHidden), 0, kHidden);
      add(g + "attn_q.weight", h + "self_attn.q_proj.weight", random_matrix(rng, kHeads * kHeadDim, kHidden), kHeads * kHeadDim, kHidden,
          false, kHeads);
      add(g + "attn_k.weight", h + "self_attn.k_proj.weight", random_matrix(rng, kKv * kHeadDim, kHidden), kKv * kHeadDim, kHidden,
          false, kKv);
      add(g + "attn_v.weight", h + "self_attn.v_proj.weight", random_matrix(rng, kKv * kHeadDim, kHidden), kKv * kHeadDim, kHidden);
      add(g + "attn_output.weight", h + "self_attn.o_proj.weight", random_matrix(rng, kHidden, kHeads * kHeadDim), kHidden,
          kHeads * kHeadDim);
      add(g + "ffn_norm.weight", h + "post_attention_layernorm.weight", random_matrix(rng, 1, kHidden), 0, kHidden);
      add(g + "ffn_gate.weight", h + "mlp.gate_proj.weight", random_matrix(rng, kFf, kHidden), kFf, kHidden, true);
      add(g + "ffn_up.weight", h + "mlp.up_proj.weight", random_matrix(rng, kFf, kHidden), kFf, kHidden);
      add(g + "ffn_down.weight", h + "mlp.down_proj.weight", random_matrix(rng, kHidden, kFf), kHidden, kFf);
    }
    add("output_norm.weight", "model.norm.weight", random_matrix(rng, 1, kHidden), 0, kHidden);
    if (untied) add("output.weight", "lm_head.weight", random_matrix(rng, kVocab, kHidden), kVocab, kHidden);
  }
  // rows == 0: a vector. permute_heads > 0: stored in llama.cpp's rotary order.
  void add(const std::string& gguf, const std::string& name, const Matrix& m, int64_t rows, int64_t cols, bool f16 = false,
           int64_t permute_heads = 0) {
    hf[name] = {rows ? std::vector<int64_t>{rows, cols} : std::vector<int64_t>{cols}, m};
    const Matrix stored = permute_heads ? llama_cpp_permute(m, rows, cols, permute_heads) : m;
    const std::vector<int64_t> ne = rows ? std::vector<int64_t>{cols, rows} : std::vector<int64_t>{cols};
    if (f16) {
      w.tensor(gguf, ne, 1, f16_bytes(stored));
    } else {
      w.tensor_f32(gguf, ne, stored);
    }
  }
};

std::string dir() {
  static const std::string d = packbench::testing::temp_dir("gguf_import");
  return d;
}

std::string write(const std::string& name, const std::string& bytes) {
  std::ofstream(dir() + "/" + name, std::ios::binary) << bytes;
  return dir() + "/" + name;
}

std::string import_error(const std::string& name, const std::string& bytes) {
  try {
    import_gguf(write(name, bytes), dir() + "/never");
  } catch (const packbench::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(GgufImport, NamesMapToHuggingFace) {
  EXPECT_EQ(gguf_to_hf_name("token_embd.weight"), "model.embed_tokens.weight");
  EXPECT_EQ(gguf_to_hf_name("blk.12.attn_output.weight"), "model.layers.12.self_attn.o_proj.weight");
  EXPECT_EQ(gguf_to_hf_name("blk.0.ffn_norm.weight"), "model.layers.0.post_attention_layernorm.weight");
  EXPECT_EQ(gguf_to_hf_name("output.weight"), "lm_head.weight");
  EXPECT_EQ(gguf_to_hf_name("blk.0.attn_q.bias"), "");
  EXPECT_EQ(gguf_to_hf_name("rope_freqs.weight"), "");
}

TEST(GgufImport, UnpermuteUndoesLlamaCppsRotaryOrder) {
  // Hand case: one head of 2d = 4 rows, one column: llama.cpp stores HF rows 0,2,1,3.
  Matrix w = {10, 12, 11, 13};
  unpermute_rotary_rows(w.data(), 4, 1, 1);
  EXPECT_EQ(w, (Matrix{10, 11, 12, 13}));
  std::mt19937 rng(1);
  const Matrix m = random_matrix(rng, 24, 5);
  Matrix p = llama_cpp_permute(m, 24, 5, 3);
  ASSERT_NE(p, m);
  unpermute_rotary_rows(p.data(), 24, 5, 3);
  EXPECT_EQ(p, m);
  EXPECT_THROW(unpermute_rotary_rows(p.data(), 24, 5, 5), packbench::Error);
}

TEST(GgufImport, TinyModelRoundTripsUnderHuggingFaceNames) {
  for (bool untied : {false, true}) {
    Tiny tiny(untied);
    const std::string out = dir() + (untied ? "/untied" : "/tied");
    GgufImportResult r = import_gguf(write("tiny.gguf", tiny.w.build()), out);
    EXPECT_EQ(r.config.tie_word_embeddings, !untied);
    EXPECT_EQ(r.tensors_by_type["F16"], 1 + kLayers);
    const LlamaConfig c = LlamaConfig::load(out);
    EXPECT_EQ(c.hidden_size, kHidden);
    EXPECT_EQ(c.num_key_value_heads, kKv);
    EXPECT_EQ(c.head_dim(), kHeadDim);
    EXPECT_EQ(c.rope_theta, 500000.0);
    EXPECT_EQ(c.max_position_embeddings, 64);
    EXPECT_EQ(c.vocab_size, kVocab);  // no llama.vocab_size: the token count
    EXPECT_EQ(*c.bos_token_id, 0);
    EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{1}));
    EXPECT_EQ(c.torch_dtype, "float32");
    SafetensorsFile st(out + "/model.safetensors");
    EXPECT_EQ(st.tensors().size(), tiny.hf.size());
    for (const auto& [name, sv] : tiny.hf) {
      const StTensorView& v = st.at(name);
      EXPECT_EQ(v.dtype, StDtype::kF32) << name;
      EXPECT_EQ(v.shape, sv.first) << name;
      ASSERT_EQ(v.nbytes, sv.second.size() * 4) << name;
      EXPECT_EQ(std::memcmp(v.data, sv.second.data(), v.nbytes), 0) << name;
    }
    EXPECT_EQ(st.tensors().front().name, "model.embed_tokens.weight");
    const json tc = json::parse(packbench::read_file(out + "/tokenizer_config.json"));
    EXPECT_EQ(tc["chat_template"], "{{ messages }}");
    EXPECT_EQ(tc["eos_token"], "</s>");
  }
}

TEST(GgufImport, RefusesWhatItCannotImportNamingTheKeyOrTensor) {
  EXPECT_NE(import_error("gpt2.gguf", Tiny(false, "gpt2").w.build()).find("general.architecture is 'gpt2'; packbench imports only: llama"),
            std::string::npos);
  {
    Tiny t(false);
    t.w.tensor_f32("blk.0.attn_q.bias", {kHidden}, Matrix(kHidden, 0.f));
    EXPECT_NE(import_error("bias.gguf", t.w.build()).find("tensor 'blk.0.attn_q.bias' has no place in LlamaForCausalLM"),
              std::string::npos);
  }
  {
    Tiny t(false);
    t.w.tensor_f32("rope_freqs.weight", {kHeadDim / 2}, Matrix(kHeadDim / 2, 1.f));
    EXPECT_NE(import_error("ropefreqs.gguf", t.w.build()).find("rope_freqs.weight"), std::string::npos);
  }
  {
    Tiny t(false);
    t.w.tensor_f32("blk.2.attn_norm.weight", {kHidden}, Matrix(kHidden, 1.f));  // a third layer the metadata does not have
    EXPECT_NE(import_error("extra.gguf", t.w.build()).find("'blk.2.attn_norm.weight' (model.layers.2.input_layernorm.weight) is not part"),
              std::string::npos);
  }
  {
    Tiny t(false);
    t.w.u32("llama.vocab_size", 7);  // one more than the embedding rows
    EXPECT_NE(import_error("vocab.gguf", t.w.build()).find("tensor 'token_embd.weight' has shape [6, 8], the metadata implies [7, 8]"),
              std::string::npos);
  }
  {
    GgufWriter w;
    w.str("general.architecture", "llama");
    w.u32("llama.block_count", 1);
    EXPECT_NE(import_error("nokeys.gguf", w.build()).find("metadata key 'llama.embedding_length' is missing"), std::string::npos);
  }
  EXPECT_FALSE(std::ifstream(dir() + "/never").good());
}
