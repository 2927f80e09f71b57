// Hugging Face tokenizer.json byte-level BPE (as LLaMA-3 uses it): encode, decode, special tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace packbench::data {

// Immutable after load and safe to share between threads.
class Tokenizer {
 public:
  // Loads <dir>/tokenizer.json (and tokenizer_config.json when present, for bos/eos names).
  // Throws packbench::Error naming the file and field on anything malformed.
  static std::shared_ptr<const Tokenizer> from_dir(const std::string& dir);
  static std::shared_ptr<const Tokenizer> from_file(const std::string& tokenizer_json);
  // What every `--tokenizer` / `tokenizer_dir` takes: a folder (as from_dir), or a tokenizer.json
  // file (with the tokenizer_config.json beside it when there is one). Throws naming the path
  // when it is neither.
  static std::shared_ptr<const Tokenizer> load(const std::string& path);
  // From the text of tokenizer.json (and optionally tokenizer_config.json; "" when absent).
  // `name` stands for the file in error messages.
  static std::shared_ptr<const Tokenizer> from_json(std::string_view tokenizer_json,
                                                    std::string_view config_json = "",
                                                    const std::string& name = "tokenizer.json");

  virtual ~Tokenizer() = default;

  // Plain text to ids. Added/special tokens appearing literally in the text are matched as
  // Hugging Face does. add_special_tokens applies the post-processor's TemplateProcessing
  // (LLaMA-3: BOS <|begin_of_text|> first). A tokenizer.json without TemplateProcessing (the
  // first LLaMA-3 release, the one scripts/setup.sh fetches, has only ByteLevel) gets
  // tokenizer_config.json's bos_token prepended instead, unless add_bos_token is false there;
  // Hugging Face's tokenizers would add nothing for such a file.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const = 0;
  // Many texts at once, in parallel over `threads` threads (0: all OpenMP threads).
  virtual std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts,
                                                         bool add_special_tokens = false,
                                                         int threads = 0) const = 0;
  // ids to text; skip_special_tokens drops added special tokens. Invalid UTF-8 byte runs
  // decode to U+FFFD as Hugging Face does.
  virtual std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const = 0;

  virtual int32_t vocab_size() const = 0;  // including added tokens
  // Id of a token string (regular or added), if present.
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  virtual std::string id_to_token(int32_t id) const = 0;

  virtual std::optional<int32_t> bos_id() const = 0;
  virtual std::optional<int32_t> eos_id() const = 0;
  virtual std::optional<int32_t> pad_id() const = 0;
};

}  // namespace packbench::data
