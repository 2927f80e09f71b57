// A GGUF file's byte-level BPE tokenizer (tokenizer.ggml.model = gpt2) as Hugging Face tokenizer files. No LibTorch.
#pragma once

#include <cstdint>
#include <string>

namespace packbench::train {

class GgufFile;

struct GgufTokenizerFiles {
  std::string tokenizer_json;         // tokenizer.json
  std::string tokenizer_config_json;  // tokenizer_config.json (special tokens, add_bos_token, chat_template)
};

// Builds the tokenizer Hugging Face transformers builds from the same metadata
// (AutoTokenizer.from_pretrained(dir, gguf_file=...)): vocabulary from tokenizer.ggml.tokens
// (a token outside the ByteLevel alphabet is spelled as its UTF-8 bytes in it), merges from
// tokenizer.ggml.merges, CONTROL tokens (type 3) as special added tokens and USER_DEFINED ones
// (type 4) as plain added tokens, the pre-tokenizer named by tokenizer.ggml.pre (the LLaMA-3
// split for llama-bpe and its aliases, GPT-2's ByteLevel split for any name transformers does
// not list), BOS/EOS added as tokenizer.ggml.add_bos_token / add_eos_token say, and
// tokenizer.chat_template. Throws packbench::Error naming the file and key for another tokenizer
// model or malformed metadata. `model_max_length` goes into tokenizer_config.json.
GgufTokenizerFiles gguf_tokenizer_files(const GgufFile& file, int64_t model_max_length);

}  // namespace packbench::train
