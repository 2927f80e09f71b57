// A tiny Tokenizer for data-pipeline tests: one id per byte, plus LLaMA-3's special tokens by name.
#pragma once

#include <map>
#include <string>

#include "datasets/tokenizer.h"

namespace packbench::testing {

// Bytes map to ids 0..255; special tokens ("<|...|>" strings below) are matched in the text as
// added tokens and map to 1000+. bos = <|begin_of_text|>, eos = <|eot_id|> unless told otherwise.
class FakeTokenizer : public data::Tokenizer {
 public:
  FakeTokenizer() {
    const char* names[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                           "<|eot_id|>"};
    int32_t id = 1000;
    for (const char* n : names) specials_[n] = id++;
  }
  static constexpr int32_t kBos = 1000, kEnd = 1001, kStart = 1002, kEndHeader = 1003, kEot = 1004;

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const override {
    std::vector<int32_t> ids;
    if (add_special_tokens) ids.push_back(kBos);
    size_t i = 0;
    while (i < text.size()) {
      bool matched = false;
      if (text[i] == '<') {
        for (const auto& [s, id] : specials_) {
          if (text.substr(i, s.size()) == s) {
            ids.push_back(id);
            i += s.size();
            matched = true;
            break;
          }
        }
      }
      if (!matched) ids.push_back(static_cast<unsigned char>(text[i++]));
    }
    return ids;
  }
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts, bool add = false,
                                                 int threads = 0) const override {
    std::vector<std::vector<int32_t>> out;
    for (const auto& t : texts) out.push_back(encode(t, add));
    return out;
  }
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const override {
    std::string s;
    for (int32_t id : ids) {
      if (id < 256) s += static_cast<char>(id);
      else if (!skip_special_tokens) s += id_to_token(id);
    }
    return s;
  }
  int32_t vocab_size() const override { return 1005; }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    auto it = specials_.find(std::string(token));
    if (it != specials_.end()) return it->second;
    if (token.size() == 1) return static_cast<unsigned char>(token[0]);
    return std::nullopt;
  }
  std::string id_to_token(int32_t id) const override {
    for (const auto& [s, i] : specials_) if (i == id) return s;
    return id < 256 ? std::string(1, static_cast<char>(id)) : std::string("<unk>");
  }
  std::optional<int32_t> bos_id() const override { return kBos; }
  std::optional<int32_t> eos_id() const override { return kEnd; }
  std::optional<int32_t> pad_id() const override { return std::nullopt; }

 private:
  std::map<std::string, int32_t> specials_;
};

}  // namespace packbench::testing
