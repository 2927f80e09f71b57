// ifeval text utilities: Python-compatible regex and string operations.
#include "evals/ifeval/ifeval_text.h"

#include <clocale>
#include <cwctype>
#include <locale.h>
#include <wctype.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>

#include "core/error.h"

namespace packbench::evals::ifeval {

// ---------------------------------------------------------------------------------------------
// Regex

struct Regex::Impl {
  pcre2_code* code = nullptr;
  ~Impl() {
    if (code) pcre2_code_free(code);
  }
};

Regex::Regex(const std::string& pattern, int flags, const std::string& what) : impl_(new Impl) {
  uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  if (flags & kIgnoreCase) options |= PCRE2_CASELESS;
  if (flags & kMultiline) options |= PCRE2_MULTILINE;
  pcre2_compile_context* ctx = pcre2_compile_context_create(nullptr);
  pcre2_set_newline(ctx, PCRE2_NEWLINE_LF);
  int err = 0;
  PCRE2_SIZE off = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                              &err, &off, ctx);
  pcre2_compile_context_free(ctx);
  if (!impl_->code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof buf);
    throw Error((what.empty() ? std::string("ifeval") : what) + ": invalid regular expression '" +
                pattern + "' at offset " + std::to_string(off) + ": " + reinterpret_cast<char*>(buf));
  }
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);  // best effort; falls back to the interpreter
}
Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

namespace {

struct MatchData {
  pcre2_match_data* md;
  explicit MatchData(const pcre2_code* code) : md(pcre2_match_data_create_from_pattern(code, nullptr)) {}
  ~MatchData() { pcre2_match_data_free(md); }
};

// Calls fn(start, end) for each non-overlapping match, left to right.
template <class Fn>
void for_each_match(const pcre2_code* code, std::string_view text, Fn fn) {
  MatchData m(code);
  PCRE2_SIZE pos = 0;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  while (pos <= text.size()) {
    int rc = pcre2_match(code, subject, text.size(), pos, 0, m.md, nullptr);
    if (rc < 0) break;  // PCRE2_ERROR_NOMATCH or a matching error: no further matches
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(m.md);
    size_t s = ov[0], e = ov[1];
    fn(s, e);
    if (e == s) {
      // Empty match: step over one UTF-8 character.
      if (e >= text.size()) break;
      ++e;
      while (e < text.size() && (static_cast<unsigned char>(text[e]) & 0xC0) == 0x80) ++e;
    }
    pos = e;
  }
}

}  // namespace

bool Regex::search(std::string_view text) const {
  MatchData m(impl_->code);
  int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, m.md,
                       nullptr);
  return rc >= 0;
}

std::vector<std::string> Regex::findall(std::string_view text) const {
  std::vector<std::string> out;
  for_each_match(impl_->code, text, [&](size_t s, size_t e) { out.emplace_back(text.substr(s, e - s)); });
  return out;
}

size_t Regex::count(std::string_view text) const {
  size_t n = 0;
  for_each_match(impl_->code, text, [&](size_t, size_t) { ++n; });
  return n;
}

std::vector<std::string> Regex::split(std::string_view text) const {
  std::vector<std::string> out;
  size_t last = 0;
  for_each_match(impl_->code, text, [&](size_t s, size_t e) {
    if (e == s) return;  // patterns used with split never match empty; ignore if one does
    out.emplace_back(text.substr(last, s - last));
    last = e;
  });
  out.emplace_back(text.substr(last));
  return out;
}

std::vector<Regex::Groups> Regex::finditer(std::string_view text) const {
  std::vector<Groups> out;
  MatchData m(impl_->code);
  uint32_t n = pcre2_get_ovector_count(m.md);
  PCRE2_SIZE pos = 0;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  while (pos <= text.size()) {
    int rc = pcre2_match(impl_->code, subject, text.size(), pos, 0, m.md, nullptr);
    if (rc < 0) break;
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(m.md);
    Groups g;
    for (uint32_t k = 0; k < n; ++k) {
      if (k < static_cast<uint32_t>(rc) && ov[2 * k] != PCRE2_UNSET)
        g.emplace_back(static_cast<long>(ov[2 * k]), static_cast<long>(ov[2 * k + 1]));
      else
        g.emplace_back(-1, -1);
    }
    size_t s = ov[0], e = ov[1];
    out.push_back(std::move(g));
    if (e == s) {
      if (e >= text.size()) break;
      ++e;
      while (e < text.size() && (static_cast<unsigned char>(text[e]) & 0xC0) == 0x80) ++e;
    }
    pos = e;
  }
  return out;
}

std::string Regex::sub(std::string_view text, const std::string& replacement) const {
  MatchData m(impl_->code);
  std::string out(text.size() * 2 + 64, '\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    PCRE2_SIZE outlen = out.size();
    int rc = pcre2_substitute(impl_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0,
                              PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH | PCRE2_SUBSTITUTE_UNSET_EMPTY, m.md, nullptr,
                              reinterpret_cast<PCRE2_SPTR>(replacement.data()), replacement.size(),
                              reinterpret_cast<PCRE2_UCHAR*>(out.data()), &outlen);
    if (rc >= 0) {
      out.resize(outlen);
      return out;
    }
    if (rc == PCRE2_ERROR_NOMEMORY) {
      out.assign(outlen + 1, '\0');
      continue;
    }
    throw Error("ifeval: regular expression substitution failed (code " + std::to_string(rc) + ")");
  }
  throw Error("ifeval: regular expression substitution did not fit");
}

// ---------------------------------------------------------------------------------------------
// UTF-8

std::u32string utf8_decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    char32_t cp;
    int len;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      len = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      len = 4;
    } else {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    if (i + len > s.size()) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

std::string utf8_encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    int len;
    char32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Python str operations

bool py_isspace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

std::string py_strip(std::string_view s) {
  std::u32string u = utf8_decode(s);
  size_t b = 0, e = u.size();
  while (b < e && py_isspace(u[b])) ++b;
  while (e > b && py_isspace(u[e - 1])) --e;
  return utf8_encode(std::u32string_view(u).substr(b, e - b));
}

std::string py_lstrip_chars(std::string_view s, std::string_view chars) {
  size_t b = 0;
  while (b < s.size() && chars.find(s[b]) != std::string_view::npos) ++b;
  return std::string(s.substr(b));
}

std::string py_rstrip_chars(std::string_view s, std::string_view chars) {
  size_t e = s.size();
  while (e > 0 && chars.find(s[e - 1]) != std::string_view::npos) --e;
  return std::string(s.substr(0, e));
}

std::string py_strip_chars(std::string_view s, std::string_view chars) {
  return py_rstrip_chars(py_lstrip_chars(s, chars), chars);
}

std::vector<std::string> py_split_ws(std::string_view s) {
  std::u32string u = utf8_decode(s);
  std::vector<std::string> out;
  size_t i = 0;
  while (i < u.size()) {
    while (i < u.size() && py_isspace(u[i])) ++i;
    size_t b = i;
    while (i < u.size() && !py_isspace(u[i])) ++i;
    if (i > b) out.push_back(utf8_encode(std::u32string_view(u).substr(b, i - b)));
  }
  return out;
}

std::vector<std::string> py_split(std::string_view s, std::string_view sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t f = s.find(sep, pos);
    if (f == std::string_view::npos) {
      out.emplace_back(s.substr(pos));
      break;
    }
    out.emplace_back(s.substr(pos, f - pos));
    pos = f + sep.size();
  }
  return out;
}

namespace {

locale_t utf8_locale() {
  static locale_t loc = [] {
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
    if (!l) l = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", static_cast<locale_t>(0));
    return l;
  }();
  return loc;
}

char32_t lower_cp(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  locale_t l = utf8_locale();
  if (!l) return c;
  return static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), l));
}

// -1 lowercase, +1 uppercase (or titlecase), 0 uncased.
int case_of(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? -1 : (c >= 'A' && c <= 'Z') ? 1 : 0;
  locale_t l = utf8_locale();
  if (!l) return 0;
  if (iswlower_l(static_cast<wint_t>(c), l)) return -1;
  if (iswupper_l(static_cast<wint_t>(c), l)) return 1;
  return 0;
}

}  // namespace

std::string py_lower(std::string_view s) {
  bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) {
    std::string out(s);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return out;
  }
  std::u32string u = utf8_decode(s);
  for (char32_t& c : u) c = lower_cp(c);
  return utf8_encode(u);
}

bool py_isupper(std::string_view s) {
  bool cased = false;
  for (char32_t c : utf8_decode(s)) {
    int k = case_of(c);
    if (k < 0) return false;
    if (k > 0) cased = true;
  }
  return cased;
}

bool py_islower(std::string_view s) {
  bool cased = false;
  for (char32_t c : utf8_decode(s)) {
    int k = case_of(c);
    if (k > 0) return false;
    if (k < 0) cased = true;
  }
  return cased;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t f = s.find(from, pos);
    if (f == std::string_view::npos) break;
    out.append(s.substr(pos, f - pos));
    out.append(to);
    pos = f + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

}  // namespace packbench::evals::ifeval
