// Pre-tokenization for byte-level BPE: the ByteLevel alphabet, UTF-8 helpers, PCRE2 Split.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "datasets/pretokenize.h"

#include <pcre2.h>

#include <array>
#include <memory>

#include "core/error.h"

namespace packbench::data {

const char* const kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// ---------------------------------------------------------------------------------------------
// ByteLevel alphabet
// ---------------------------------------------------------------------------------------------

namespace {

struct ByteLevelTables {
  std::array<uint32_t, 256> to_char{};
  std::array<std::string, 256> to_utf8;
  std::array<int16_t, 324> to_byte{};  // every stand-in code point is below 0x144
  ByteLevelTables() {
    to_byte.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_char[b] = printable ? static_cast<uint32_t>(b) : next++;
    }
    for (int b = 0; b < 256; ++b) {
      utf8_append(to_char[b], &to_utf8[b]);
      to_byte[to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelTables& tables() {
  static const ByteLevelTables t;
  return t;
}

}  // namespace

uint32_t bytelevel_char(uint8_t b) { return tables().to_char[b]; }
const std::string& bytelevel_utf8(uint8_t b) { return tables().to_utf8[b]; }

int bytelevel_byte(uint32_t cp) {
  return cp < tables().to_byte.size() ? tables().to_byte[cp] : -1;
}

std::string bytes_to_bytelevel(std::string_view bytes) {
  const auto& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) out += t.to_utf8[c];
  return out;
}

bool bytelevel_to_bytes(std::string_view text, std::string* out) {
  size_t i = 0;
  while (i < text.size()) {
    int32_t cp = utf8_next(text, &i);
    if (cp < 0) return false;
    int b = bytelevel_byte(static_cast<uint32_t>(cp));
    if (b < 0) return false;
    out->push_back(static_cast<char>(b));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// UTF-8
// ---------------------------------------------------------------------------------------------

int32_t utf8_next(std::string_view s, size_t* i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), k = *i;
  unsigned char c = p[k];
  if (c < 0x80) { *i = k + 1; return c; }
  int len;
  uint32_t cp, min;
  if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; min = 0x80; }
  else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; min = 0x800; }
  else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; min = 0x10000; }
  else { *i = k + 1; return -1; }
  if (k + len > n) { *i = k + 1; return -1; }
  for (int j = 1; j < len; ++j) {
    unsigned char d = p[k + j];
    if ((d & 0xC0) != 0x80) { *i = k + 1; return -1; }
    cp = (cp << 6) | (d & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) { *i = k + 1; return -1; }
  *i = k + len;
  return static_cast<int32_t>(cp);
}

void utf8_append(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_unicode_whitespace(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string utf8_lossy(std::string_view s) {
  // Maximal-subpart replacement: a truncated but well-formed prefix of a sequence counts as one
  // error; a byte that cannot start or continue a sequence is an error on its own.
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  std::string out;
  out.reserve(n);
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) { out.push_back(static_cast<char>(c)); ++i; continue; }
    int len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) { len = 3; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) { len = 3; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) { len = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) { len = 4; hi = 0x8F; }
    if (len == 0) { out += "\xEF\xBF\xBD"; ++i; continue; }
    size_t j = i + 1;
    bool ok = true;
    for (int k = 1; k < len; ++k, ++j) {
      unsigned char lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xBF;
      if (j >= n || p[j] < lo_k || p[j] > hi_k) { ok = false; break; }
    }
    if (ok) {
      out.append(s.data() + i, len);
    } else {
      out += "\xEF\xBF\xBD";
    }
    i = j;
  }
  return out;
}

bool is_word_char(uint32_t cp) {
  if (cp < 0x80) return cp == '_' || (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  // The word class of Hugging Face's single_word check (Rust regex \w): Alphabetic, marks,
  // decimal digits, connector punctuation, ZWNJ and ZWJ.
  static pcre2_code* code = [] {
    int err = 0;
    PCRE2_SIZE off = 0;
    const char* pat = "^[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}]";
    return pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat), PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &off,
                         nullptr);
  }();
  if (!code) return true;
  std::string s;
  utf8_append(cp, &s);
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, 0, md, nullptr);
  pcre2_match_data_free(md);
  return rc >= 0;
}

// ---------------------------------------------------------------------------------------------
// RegexSplitter
// ---------------------------------------------------------------------------------------------

namespace {

// Per-thread PCRE2 scratch: match data for one pair, a match context with a JIT stack that can
// grow to 8 MB (long runs of one character class stay cheap).
struct MatchScratch {
  pcre2_match_data* md = nullptr;
  pcre2_match_context* mc = nullptr;
  pcre2_jit_stack* js = nullptr;
  MatchScratch() {
    md = pcre2_match_data_create(1, nullptr);
    mc = pcre2_match_context_create(nullptr);
    js = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    pcre2_jit_stack_assign(mc, nullptr, js);
  }
  ~MatchScratch() {
    pcre2_jit_stack_free(js);
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
  }
};

MatchScratch& scratch() {
  thread_local MatchScratch s;
  return s;
}

}  // namespace

RegexSplitter::RegexSplitter(const std::string& pattern, const std::string& where) {
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw Error(where + ": pre-tokenizer pattern does not compile at offset " + std::to_string(off) +
                ": " + reinterpret_cast<char*>(msg));
  }
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  code_ = code;
}

RegexSplitter::~RegexSplitter() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

bool RegexSplitter::next_match(std::string_view text, size_t pos, size_t* ms, size_t* me) const {
  auto* code = static_cast<pcre2_code*>(code_);
  MatchScratch& s = scratch();
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  int rc = jit_ ? pcre2_jit_match(code, subject, text.size(), pos, PCRE2_NOTEMPTY, s.md, s.mc)
                : pcre2_match(code, subject, text.size(), pos, PCRE2_NOTEMPTY, s.md, s.mc);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0 && jit_) {  // e.g. JIT stack exhausted: retry with the interpreter
    rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NOTEMPTY, s.md, s.mc);
    if (rc == PCRE2_ERROR_NOMATCH) return false;
  }
  if (rc < 0) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    throw Error(std::string("pre-tokenizer match failed: ") + reinterpret_cast<char*>(msg));
  }
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.md);
  *ms = ov[0];
  *me = ov[1];
  return true;
}

std::vector<std::string> RegexSplitter::split_to_vector(std::string_view text) const {
  std::vector<std::string> out;
  split(text, [&](std::string_view p) { out.emplace_back(p); });
  return out;
}

}  // namespace packbench::data
