// ifeval text utilities: Python-compatible regex and string operations, word and sentence counting.
//
// Sentence counting follows the structure of NLTK's Punkt sentence tokenizer as the reference
// calls it (pre-trained English model, nltk 3.8 code path): Punkt's word tokenizer, its first
// pass (sentence-end punctuation, ellipses, abbreviations), its second pass (abbreviation,
// initial and number rules with the orthographic heuristic) and its candidate-break search over
// period contexts. What cannot be reproduced without the trained model file is its parameter
// set: the abbreviation list, sentence starters and orthographic statistics below are a small
// hand-made stand-in (common English abbreviations; orthographic knowledge only for a list of
// common lowercase words, all other words counting as never seen). Texts whose sentence
// boundaries hinge on rarer abbreviations, or on initials followed by capitalised words outside
// that list, can therefore count differently from the reference.
#include "evals/ifeval_text.h"

#include <clocale>
#include <cwctype>
#include <locale.h>
#include <wctype.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <set>
#include <unordered_set>

#include "datasets/error.h"

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

// ---------------------------------------------------------------------------------------------
// Words

size_t count_words(std::string_view text) {
  static const Regex word("\\w+");
  return word.count(text);
}

// ---------------------------------------------------------------------------------------------
// Punkt-style sentence splitting

namespace {

// Abbreviations (lowercase, without the final period) treated as non-final.
const std::unordered_set<std::string>& abbreviations() {
  static const std::unordered_set<std::string> s = {
      "mr",   "mrs",  "ms",   "dr",   "st",   "jr",   "sr",   "co",    "corp", "inc",  "ltd",  "vs",
      "u.s",  "u.k",  "u.n",  "e.g",  "i.e",  "a.m",  "p.m",  "jan",   "feb",  "aug",  "sept", "oct",
      "nov",  "dec",  "gen",  "gov",  "sen",  "rep",  "lt",   "col",   "sgt",  "capt", "mt",   "ft",
      "messrs", "calif", "fla", "n.y", "d.c", "n.j",  "ariz", "tenn",  "tex",  "mich", "minn", "okla",
      "colo", "conn", "prof", "u.s.a", "cf", "etc", "approx", "vol",  "no",   "fig",  "jun",  "jul"};
  return s;
}

// Words after which an abbreviation is taken as ending the sentence when capitalised.
const std::unordered_set<std::string>& sentence_starters() {
  static const std::unordered_set<std::string> s = {
      "and",  "but",   "he",   "however", "i",     "in",   "it",    "meanwhile", "mr",   "she",
      "that", "the",   "they", "this",    "we",    "while", "yet",  "there",     "these", "those",
      "so",   "now",   "if",   "when",    "also",  "many", "most",  "some",      "for",  "as",
      "his",  "her",   "its",  "our",     "their", "you",  "a",     "an",        "what", "why",
      "how",  "where", "who"};
  return s;
}

struct PunktToken {
  std::string tok;
  std::string type;  // lowercased, numbers as ##number##
  bool period_final = false;
  bool sentbreak = false;
  bool abbr = false;
  bool ellipsis = false;
  bool first_upper = false, first_lower = false;
  bool is_initial = false;
  std::string type_no_period() const {
    if (type.size() > 1 && type.back() == '.') return type.substr(0, type.size() - 1);
    return type;
  }
  std::string type_no_sentperiod() const { return sentbreak ? type_no_period() : type; }
};

// Punkt's word tokenizer: multi-char punctuation, word runs that stop before sentence-internal
// punctuation, or single non-space characters.
const Regex& punkt_word_re() {
  static const Regex re(
      R"((?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)|(?=[^\(\"\`{\[:;&\#\*@\)}\]\-,])\S+?(?=\s|$|(?:[)\";}\]\*:@\'\({\[!?])|(?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)|,(?=$|\s|(?:[)\";}\]\*:@\'\({\[!?])|(?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)))|\S)");
  return re;
}

PunktToken make_token(const std::string& tok) {
  static const Regex numeric(R"(^-?[\.,]?\d[\d,\.-]*\.?$)");
  static const Regex initial(R"(^[^\W\d]\.$)");
  PunktToken t;
  t.tok = tok;
  t.type = numeric.search(tok) ? std::string("##number##") : py_lower(tok);
  t.period_final = !tok.empty() && tok.back() == '.';
  std::u32string u = utf8_decode(tok);
  if (!u.empty()) {
    int k = case_of(u[0]);
    t.first_upper = k > 0;
    t.first_lower = k < 0;
  }
  t.is_initial = initial.search(tok);
  return t;
}

std::vector<PunktToken> punkt_tokens(std::string_view text) {
  std::vector<PunktToken> out;
  for (const std::string& line : py_split(text, "\n")) {
    if (py_strip(line).empty()) continue;
    for (const std::string& w : punkt_word_re().findall(line)) out.push_back(make_token(w));
  }
  return out;
}

// Common English words that the trained model has seen in lowercase and capitalised only at
// sentence starts: for these, a capitalised occurrence after a period reads as a sentence start.
const std::unordered_set<std::string>& common_lowercase_words() {
  static const std::unordered_set<std::string> s = {
      "a", "about", "above", "according", "actually", "additionally", "after", "again", "all", "also",
      "although", "always", "an", "and", "another", "any", "anyone", "anything", "are", "as", "at",
      "because", "before", "being", "below", "besides", "both", "but", "by", "can", "consider",
      "could", "do", "does", "don't", "during", "each", "either", "even", "every", "everyone",
      "everything", "finally", "first", "firstly", "for", "from", "furthermore", "get", "give", "go",
      "good", "great", "had", "has", "have", "he", "her", "here", "here's", "his", "how", "however",
      "if", "in", "instead", "is", "it", "it's", "its", "just", "keep", "last", "lastly", "let",
      "let's", "like", "make", "many", "maybe", "meanwhile", "more", "moreover", "most", "much",
      "my", "never", "next", "no", "nor", "not", "now", "of", "often", "on", "once", "one", "only",
      "or", "other", "our", "overall", "perhaps", "please", "remember", "second", "secondly", "she",
      "should", "similarly", "since", "so", "some", "sometimes", "still", "such", "take", "thank",
      "thanks", "that", "that's", "the", "their", "then", "there", "there's", "therefore", "these",
      "they", "they're", "third", "thirdly", "this", "those", "though", "thus", "to", "today",
      "together", "try", "two", "under", "unlike", "until", "up", "use", "we", "we're", "what",
      "what's", "when", "where", "whether", "which", "while", "who", "why", "with", "without",
      "would", "yes", "yet", "you", "you're", "your"};
  return s;
}

// The orthographic heuristic: +1 (a sentence start), 0 (not one) or -1 (unknown). Words in
// common_lowercase_words() count as seen lowercase mid-sentence and capitalised at sentence
// starts; any other word as never seen.
int ortho_heuristic(const PunktToken& t) {
  static const std::string punct = ";:,.!?";
  if (t.tok.empty() || punct.find(t.tok) != std::string::npos) return 0;
  bool common = common_lowercase_words().count(t.type_no_sentperiod()) > 0;
  if (t.first_upper && common) return 1;
  if (t.first_lower) return 0;  // either seen capitalised, or never seen starting a sentence in lowercase
  return -1;
}

void annotate(std::vector<PunktToken>& toks) {
  static const Regex ellipsis(R"(^\.\.+$)");
  for (PunktToken& t : toks) {
    if (t.tok == "." || t.tok == "?" || t.tok == "!") {
      t.sentbreak = true;
    } else if (ellipsis.search(t.tok)) {
      t.ellipsis = true;
    } else if (t.period_final && !ends_with(t.tok, "..")) {
      std::string stem = py_lower(t.tok.substr(0, t.tok.size() - 1));
      std::string last = stem.substr(stem.rfind('-') == std::string::npos ? 0 : stem.rfind('-') + 1);
      if (abbreviations().count(stem) || abbreviations().count(last))
        t.abbr = true;
      else
        t.sentbreak = true;
    }
  }
  for (size_t i = 0; i + 1 < toks.size(); ++i) {
    PunktToken& a = toks[i];
    const PunktToken& b = toks[i + 1];
    if (!a.period_final) continue;
    std::string typ = a.type_no_period();
    std::string next_typ = b.type_no_sentperiod();
    if ((a.abbr || a.ellipsis) && !a.is_initial) {
      int s = ortho_heuristic(b);
      if (s == 1 || (b.first_upper && sentence_starters().count(next_typ))) {
        a.sentbreak = true;
        continue;
      }
    }
    if (a.is_initial || typ == "##number##") {
      int s = ortho_heuristic(b);
      if (s == 0 || (s == -1 && a.is_initial && b.first_upper)) {
        a.sentbreak = false;
        a.abbr = true;
      }
    }
  }
}

bool contains_sentbreak(std::string_view context) {
  std::vector<PunktToken> toks = punkt_tokens(context);
  annotate(toks);
  for (size_t i = 0; i + 1 < toks.size(); ++i)
    if (toks[i].sentbreak) return true;
  return false;
}

}  // namespace

std::vector<std::string> split_sentences_punkt(std::string_view text) {
  // Candidate ends: a sentence-end character followed by other punctuation, or by whitespace
  // and a further token. Each candidate is judged on its context: the word before it, itself,
  // and what follows (group 1 = the following material, group 2 = the next token).
  static const Regex period_context(R"([\.\?\!](?=((?:[)\";}\]\*:@\'\({\[!?])|\s+(\S+))))");
  auto last_ws = [](std::string_view s) -> size_t {
    for (size_t i = s.size(); i-- > 0;)
      if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f') return i;
    return 0;
  };
  std::vector<std::pair<size_t, size_t>> slices;  // [start, end) before realignment
  size_t last_break = 0;
  auto judge = [&](const Regex::Groups& g, size_t word_start, size_t word_end) {
    std::string context(text.substr(word_start, word_end - word_start));
    context.append(text.substr(g[0].first, g[0].second - g[0].first));
    context.append(text.substr(g[1].first, g[1].second - g[1].first));
    if (!contains_sentbreak(context)) return;
    slices.emplace_back(last_break, g[0].second);
    last_break = g[2].first >= 0 ? static_cast<size_t>(g[2].first) : static_cast<size_t>(g[0].second);
  };
  const Regex::Groups* previous = nullptr;
  std::pair<size_t, size_t> previous_slice{0, 0};
  std::vector<Regex::Groups> matches = period_context.finditer(text);
  for (const Regex::Groups& g : matches) {
    size_t start = g[0].first;
    std::string_view before = text.substr(previous_slice.second, start - previous_slice.second);
    size_t idx = last_ws(before);
    size_t word_start = idx ? idx + previous_slice.second + 1 : previous_slice.first;
    if (previous && previous_slice.second <= word_start) judge(*previous, previous_slice.first, previous_slice.second);
    previous = &g;
    previous_slice = {word_start, start};
  }
  if (previous) judge(*previous, previous_slice.first, previous_slice.second);
  slices.emplace_back(last_break, text.size());

  // Closing quotes and brackets after a break belong to the sentence before it.
  static const Regex realign(R"(^["\')\]}]+?(?:\s+|(?=--)|$))", Regex::kMultiline);
  std::vector<std::string> out;
  size_t shift = 0;
  for (size_t i = 0; i < slices.size(); ++i) {
    size_t s = slices[i].first + shift, e = slices[i].second;
    if (i + 1 == slices.size()) {
      if (e > s) out.emplace_back(text.substr(s, e - s));
      break;
    }
    std::string_view next = text.substr(slices[i + 1].first, slices[i + 1].second - slices[i + 1].first);
    std::vector<Regex::Groups> m = realign.finditer(next);
    if (!m.empty() && m[0][0].first == 0) {
      std::string matched(next.substr(0, m[0][0].second));
      size_t keep = matched.size();
      while (keep > 0 && std::string_view(" \t\n\r\v\f").find(matched[keep - 1]) != std::string_view::npos) --keep;
      size_t new_end = slices[i + 1].first + keep;
      out.emplace_back(text.substr(s, new_end > s ? new_end - s : 0));
      shift = m[0][0].second;
    } else {
      shift = 0;
      if (e > s) out.emplace_back(text.substr(s, e - s));
    }
  }
  return out;
}

size_t count_sentences(std::string_view text) { return split_sentences_punkt(text).size(); }

}  // namespace packbench::evals::ifeval

namespace packbench::evals::ifeval {

// ---------------------------------------------------------------------------------------------
// Treebank-style word tokens: NLTK's improved Treebank rules (starting quotes, punctuation,
// brackets, double dashes, ending quotes and contractions), applied to the whole text.
std::vector<std::string> word_tokenize(std::string_view input) {
  struct Rule {
    Regex re;
    std::string repl;
  };
  auto rules = [](std::initializer_list<std::pair<const char*, const char*>> list) {
    std::vector<Rule> out;
    for (const auto& [p, r] : list) out.push_back({Regex(p), r});
    return out;
  };
  static const std::vector<Rule> starting = rules({
      {"([«“‘„]|[`]+)", " $1 "},
      {"^\"", "``"},
      {"(``)", " $1 "},
      {"([ \\(\\[{<])(\"|\\'{2})", "$1 `` "},
      {"(?i)(\\')(?!re|ve|ll|m|t|s|d|n)(\\w)\\b", "$1 $2"},
  });
  static const std::vector<Rule> punctuation = rules({
      {"([^\\.])(\\.)([\\]\\)}>\"\\']*)\\s*$", "$1 $2 $3 "},
      {"([:,])([^\\d])", " $1 $2"},
      {"([:,])$", " $1 "},
      {"\\.{2,}", " $0 "},
      {"[;@#$%&]", " $0 "},
      {"([^\\.])(\\.)([\\]\\)}>\"\\']*)\\s*$", "$1 $2$3 "},
      {"[?!]", " $0 "},
      {"([^'])' ", "$1 ' "},
      {"[*]", " $0 "},
  });
  static const std::vector<Rule> brackets = rules({
      {"[\\]\\[\\(\\)\\{\\}\\<\\>]", " $0 "},
      {"--", " -- "},
  });
  static const std::vector<Rule> ending = rules({
      {"([»”’])", " $1 "},
      {"''", " '' "},
      {"\"", " '' "},
      {"([^' ])('[sS]|'[mM]|'[dD]|') ", "$1 $2 "},
      {"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "$1 $2 "},
  });
  static const std::vector<Rule> contractions = rules({
      {"(?i)\\b(can)(not)\\b", " $1 $2 "},
      {"(?i)\\b(d)('ye)\\b", " $1 $2 "},
      {"(?i)\\b(gim)(me)\\b", " $1 $2 "},
      {"(?i)\\b(gon)(na)\\b", " $1 $2 "},
      {"(?i)\\b(got)(ta)\\b", " $1 $2 "},
      {"(?i)\\b(lem)(me)\\b", " $1 $2 "},
      {"(?i)\\b(more)('n)\\b", " $1 $2 "},
      {"(?i)\\b(wan)(na)(?=\\s)", " $1 $2 "},
      {"(?i) ('t)(is)\\b", " $1 $2 "},
      {"(?i) ('t)(was)\\b", " $1 $2 "},
  });
  std::string text(input);
  for (const Rule& r : starting) text = r.re.sub(text, r.repl);
  for (const Rule& r : punctuation) text = r.re.sub(text, r.repl);
  for (const Rule& r : brackets) text = r.re.sub(text, r.repl);
  text = " " + text + " ";
  for (const Rule& r : ending) text = r.re.sub(text, r.repl);
  for (const Rule& r : contractions) text = r.re.sub(text, r.repl);
  return py_split_ws(text);
}

}  // namespace packbench::evals::ifeval
