// Pre-tokenization for byte-level BPE: the ByteLevel byte<->char alphabet and a PCRE2 Split.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace packbench::data {

// ---- ByteLevel alphabet (GPT-2 / LLaMA-3): every byte has a printable stand-in code point. ----

// The code point standing for byte b (printable ASCII and Latin-1 map to themselves, the rest
// to U+0100 upward).
uint32_t bytelevel_char(uint8_t b);
// UTF-8 of bytelevel_char(b).
const std::string& bytelevel_utf8(uint8_t b);
// The byte a code point stands for, or -1 if it is not in the alphabet.
int bytelevel_byte(uint32_t codepoint);
// Raw bytes -> the ByteLevel string (what tokenizer.json's vocab keys look like).
std::string bytes_to_bytelevel(std::string_view bytes);
// ByteLevel string -> raw bytes. Returns false (out untouched beyond what was written) when the
// text is not valid UTF-8 or holds a code point outside the alphabet.
bool bytelevel_to_bytes(std::string_view text, std::string* out);

// ---- UTF-8 helpers ----

// Decodes one code point at s[i] (advancing i); returns -1 and advances by one on invalid input.
int32_t utf8_next(std::string_view s, size_t* i);
void utf8_append(uint32_t cp, std::string* out);
// Unicode White_Space (as Rust's char::is_whitespace).
bool is_unicode_whitespace(uint32_t cp);
// A word character as Hugging Face's added-token single_word check sees it (Rust regex \w).
bool is_word_char(uint32_t cp);
// Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes one U+FFFD.
std::string utf8_lossy(std::string_view bytes);

// ---- Split pre-tokenizer (behavior Isolated): matches and the gaps between them are pieces ----

// A compiled pattern (PCRE2 with UTF, UCP and JIT). Immutable and safe to share between threads;
// each thread keeps its own match data.
class RegexSplitter {
 public:
  // Throws packbench::Error (naming `where`) when the pattern does not compile.
  RegexSplitter(const std::string& pattern, const std::string& where);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Calls fn(piece) for every piece of text, in order; pieces concatenate back to text.
  // Text that is not valid UTF-8 is handled: invalid bytes never match and become gap pieces.
  template <class Fn>
  void split(std::string_view text, Fn&& fn) const {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t ms, me;
      if (!next_match(text, pos, &ms, &me)) {
        fn(text.substr(pos));
        return;
      }
      if (ms > pos) fn(text.substr(pos, ms - pos));
      fn(text.substr(ms, me - ms));
      pos = me;
    }
  }
  // Convenience for tests: the pieces as strings.
  std::vector<std::string> split_to_vector(std::string_view text) const;

 private:
  // The next non-empty match at or after pos: [*ms, *me). False when there is none.
  bool next_match(std::string_view text, size_t pos, size_t* ms, size_t* me) const;
  void* code_ = nullptr;  // pcre2_code_8*
  bool jit_ = false;
};

// LLaMA-3's pre-tokenizer pattern (as in its tokenizer.json).
extern const char* const kLlama3Pattern;

}  // namespace packbench::data
