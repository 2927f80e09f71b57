// ifeval instruction checkers: the 25 verifiable instructions and their arguments.
//
// Each checker reproduces the reference implementation's check for that instruction, including
// its quirks (keywords are regular expressions; "existence" and "frequency" match anywhere in a
// word while "forbidden_words" needs word boundaries; highlights count *x* and **x** separately;
// paragraphs split on "***" or on "\n\n"). Where the reference would invent a random argument
// (missing or out-of-range kwargs), packbench refuses the input instead.
#include "evals/ifeval/ifeval_checkers.h"

#include <algorithm>
#include <memory>
#include <map>
#include <set>

#include "core/error.h"
#include "evals/ifeval/ifeval_lang.h"
#include "evals/ifeval/ifeval_text.h"
#include "evals/ifeval/ifeval_tokenize.h"

namespace packbench::evals::ifeval {

using nlohmann::json;

namespace {

// Reads one instruction's kwargs, rejecting what the reference would reject or randomise.
class Args {
 public:
  Args(const std::string& id, const json& kwargs, const std::string& where, std::set<std::string> allowed)
      : id_(id), kw_(kwargs), where_(where) {
    if (kw_.is_null()) return;
    if (!kw_.is_object()) fail("kwargs", "must be a JSON object, got " + std::string(kw_.type_name()));
    for (auto it = kw_.begin(); it != kw_.end(); ++it)
      if (!it.value().is_null() && !allowed.count(it.key()))
        fail(it.key(), "is not an argument of this instruction");
  }

  [[noreturn]] void fail(const std::string& field, const std::string& why) const {
    throw Error(where_ + ": instruction '" + id_ + "': field kwargs." + field + " " + why);
  }

  const json* find(const std::string& name) const {
    if (!kw_.is_object()) return nullptr;
    auto it = kw_.find(name);
    if (it == kw_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  const json& need(const std::string& name) const {
    const json* v = find(name);
    if (!v) fail(name, "is missing");
    return *v;
  }
  int64_t integer(const std::string& name, int64_t min_value = 0) const {
    const json& v = need(name);
    int64_t n;
    if (v.is_number_integer()) {
      n = v.get<int64_t>();
    } else if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>()))) {
      n = static_cast<int64_t>(v.get<double>());
    } else {
      fail(name, "must be an integer, got " + v.dump());
    }
    if (n < min_value) fail(name, "must be at least " + std::to_string(min_value) + ", got " + std::to_string(n));
    return n;
  }
  std::string str(const std::string& name) const {
    const json& v = need(name);
    if (!v.is_string()) fail(name, "must be a string, got " + v.dump());
    return v.get<std::string>();
  }
  std::vector<std::string> strings(const std::string& name) const {
    const json& v = need(name);
    if (!v.is_array()) fail(name, "must be a list of strings, got " + v.dump());
    std::vector<std::string> out;
    for (const json& e : v) {
      if (!e.is_string()) fail(name, "must be a list of strings, got element " + e.dump());
      out.push_back(e.get<std::string>());
    }
    if (out.empty()) fail(name, "must not be empty");
    return out;
  }
  // "less than" -> true, "at least" -> false.
  bool less_than(const std::string& name) const {
    std::string r = str(name);
    if (r == "less than") return true;
    if (r == "at least") return false;
    fail(name, "must be \"less than\" or \"at least\", got \"" + r + "\"");
  }
  std::string where() const { return where_ + ": instruction '" + id_ + "'"; }

 private:
  std::string id_;
  const json& kw_;
  std::string where_;
};

bool compare(int64_t actual, bool less_than, int64_t threshold) {
  return less_than ? actual < threshold : actual >= threshold;
}

const std::set<std::string>& language_codes() {
  static const std::set<std::string> s = {"en", "es", "pt", "ar", "hi", "fr", "ru", "de", "ja", "it",
                                          "bn", "uk", "th", "ur", "ta", "te", "bg", "ko", "pl", "he",
                                          "fa", "vi", "ne", "sw", "kn", "mr", "gu", "pa", "ml", "fi"};
  return s;
}

// Language verdict as the reference counts it: no letters to judge counts as followed.
bool language_is(std::string_view text, const std::string& code) {
  std::string got = detect_language(text);
  return got.empty() || got == code;
}

// Python's json.loads also accepts the bare tokens NaN, Infinity and -Infinity as numbers:
// outside strings, swap them for 0 so the strict parser sees the same document shape.
bool python_json_loads_ok(const std::string& s) {
  if (!json::parse(s, nullptr, false).is_discarded()) return true;
  std::string t;
  bool in_string = false, changed = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      t += c;
      if (c == '\\' && i + 1 < s.size()) t += s[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    bool boundary = i == 0 || std::string_view(" \t\r\n[{:,-").find(s[i - 1]) != std::string_view::npos;
    if (boundary && s.compare(i, 3, "NaN") == 0) {
      t += '0';
      i += 2;
      changed = true;
    } else if (boundary && s.compare(i, 8, "Infinity") == 0) {
      t += '0';
      i += 7;
      changed = true;
    } else {
      t += c;
    }
  }
  return changed && !json::parse(t, nullptr, false).is_discarded();
}

using Fn = std::function<bool(std::string_view)>;

Fn build(const std::string& id, const Args& a) {
  if (id == "keywords:existence") {
    auto res = std::make_shared<std::vector<Regex>>();
    for (const std::string& k : a.strings("keywords")) res->emplace_back(k, Regex::kIgnoreCase, a.where());
    return [res](std::string_view v) {
      return std::all_of(res->begin(), res->end(), [&](const Regex& r) { return r.search(v); });
    };
  }
  if (id == "keywords:frequency") {
    auto re = std::make_shared<Regex>(py_strip(a.str("keyword")), Regex::kIgnoreCase, a.where());
    int64_t freq = a.integer("frequency");
    bool lt = a.less_than("relation");
    return [re, freq, lt](std::string_view v) { return compare(static_cast<int64_t>(re->count(v)), lt, freq); };
  }
  if (id == "keywords:forbidden_words") {
    auto res = std::make_shared<std::vector<Regex>>();
    for (const std::string& w : a.strings("forbidden_words"))
      res->emplace_back("\\b" + w + "\\b", Regex::kIgnoreCase, a.where());
    return [res](std::string_view v) {
      return std::none_of(res->begin(), res->end(), [&](const Regex& r) { return r.search(v); });
    };
  }
  if (id == "keywords:letter_frequency") {
    std::u32string letter = utf8_decode(py_lower(a.str("letter")));
    if (letter.size() != 1) a.fail("letter", "must be a single character");
    char32_t c = letter[0];
    int64_t freq = a.integer("let_frequency");
    bool lt = a.less_than("let_relation");
    return [c, freq, lt](std::string_view v) {
      std::u32string u = utf8_decode(py_lower(v));
      return compare(static_cast<int64_t>(std::count(u.begin(), u.end(), c)), lt, freq);
    };
  }
  if (id == "language:response_language") {
    std::string lang = a.str("language");
    if (!language_codes().count(lang)) a.fail("language", "\"" + lang + "\" is not one of the benchmark's 30 language codes");
    return [lang](std::string_view v) { return language_is(v, lang); };
  }
  if (id == "length_constraints:number_sentences") {
    int64_t n = a.integer("num_sentences");
    bool lt = a.less_than("relation");
    return [n, lt](std::string_view v) { return compare(static_cast<int64_t>(count_sentences(v)), lt, n); };
  }
  if (id == "length_constraints:number_paragraphs") {
    int64_t n = a.integer("num_paragraphs");
    return [n](std::string_view v) {
      static const Regex divider(R"(\s?\*\*\*\s?)");
      std::vector<std::string> parts = divider.split(v);
      int64_t count = static_cast<int64_t>(parts.size());
      for (size_t i = 0; i < parts.size(); ++i) {
        if (!py_strip(parts[i]).empty()) continue;
        if (i == 0 || i + 1 == parts.size())
          --count;
        else
          return false;  // an empty paragraph between two dividers
      }
      return count == n;
    };
  }
  if (id == "length_constraints:number_words") {
    int64_t n = a.integer("num_words");
    bool lt = a.less_than("relation");
    return [n, lt](std::string_view v) { return compare(static_cast<int64_t>(count_words(v)), lt, n); };
  }
  if (id == "length_constraints:nth_paragraph_first_word") {
    int64_t num = a.integer("num_paragraphs");
    int64_t nth = a.integer("nth_paragraph", 1);
    if (nth > num) a.fail("nth_paragraph", "must not exceed num_paragraphs (" + std::to_string(num) + ")");
    std::string first = py_lower(a.str("first_word"));
    return [num, nth, first](std::string_view v) {
      std::vector<std::string> parts = py_split(v, "\n\n");
      int64_t count = static_cast<int64_t>(parts.size());
      for (const std::string& p : parts)
        if (py_strip(p).empty()) --count;
      if (nth > count) return false;
      std::string para = py_strip(parts[nth - 1]);
      if (para.empty()) return false;
      std::string word = py_split_ws(para)[0];
      word = py_lstrip_chars(py_lstrip_chars(word, "'"), "\"");
      std::string got;
      for (char32_t c : utf8_decode(word)) {
        if (c == '.' || c == ',' || c == '?' || c == '!' || c == '\'' || c == '"') break;
        got += py_lower(utf8_encode(std::u32string(1, c)));
      }
      return count == num && got == first;
    };
  }
  if (id == "detectable_content:number_placeholders") {
    int64_t n = a.integer("num_placeholders");
    return [n](std::string_view v) {
      static const Regex placeholder(R"(\[.*?\])");
      return static_cast<int64_t>(placeholder.count(v)) >= n;
    };
  }
  if (id == "detectable_content:postscript") {
    std::string marker = py_strip(a.str("postscript_marker"));
    std::string pattern;
    if (marker == "P.P.S")
      pattern = R"(\s*p\.\s?p\.\s?s.*$)";
    else if (marker == "P.S.")
      pattern = R"(\s*p\.\s?s\..*$)";
    else
      pattern = "\\s*" + py_lower(marker) + ".*$";
    auto re = std::make_shared<Regex>(pattern, Regex::kMultiline, a.where());
    return [re](std::string_view v) { return re->search(py_lower(v)); };
  }
  if (id == "detectable_format:number_bullet_lists") {
    int64_t n = a.integer("num_bullets");
    return [n](std::string_view v) {
      static const Regex star(R"(^\s*\*[^\*].*$)", Regex::kMultiline);
      static const Regex dash(R"(^\s*-.*$)", Regex::kMultiline);
      return static_cast<int64_t>(star.count(v) + dash.count(v)) == n;
    };
  }
  if (id == "detectable_format:constrained_response") {
    return [](std::string_view v) {
      std::string s = py_strip(v);
      for (const char* option : {"My answer is yes.", "My answer is no.", "My answer is maybe."})
        if (s.find(option) != std::string::npos) return true;
      return false;
    };
  }
  if (id == "detectable_format:number_highlighted_sections") {
    int64_t n = a.integer("num_highlights");
    return [n](std::string_view v) {
      static const Regex single(R"(\*[^\n\*]*\*)");
      static const Regex twice(R"(\*\*[^\n\*]*\*\*)");
      int64_t count = 0;
      for (const std::string& h : single.findall(v))
        if (!py_strip(py_strip_chars(h, "*")).empty()) ++count;
      for (const std::string& h : twice.findall(v))
        if (!py_strip(std::string_view(h).substr(2, h.size() - 4)).empty()) ++count;
      return count >= n;
    };
  }
  if (id == "detectable_format:multiple_sections") {
    std::string spliter = py_strip(a.str("section_spliter"));
    int64_t n = a.integer("num_sections");
    auto re = std::make_shared<Regex>("\\s?" + spliter + "\\s?\\d+\\s?", Regex::kNone, a.where());
    return [re, n](std::string_view v) { return static_cast<int64_t>(re->split(v).size()) - 1 >= n; };
  }
  if (id == "detectable_format:json_format") {
    return [](std::string_view v) {
      std::string s = py_strip(v);
      for (const char* prefix : {"```json", "```Json", "```JSON", "```"})
        if (starts_with(s, prefix)) s.erase(0, std::char_traits<char>::length(prefix));
      if (ends_with(s, "```")) s.erase(s.size() - 3);
      s = py_strip(s);
      return python_json_loads_ok(s);
    };
  }
  if (id == "detectable_format:title") {
    return [](std::string_view v) {
      static const Regex title(R"(<<[^\n]+>>)");
      for (const std::string& t : title.findall(v))
        if (!py_strip(py_rstrip_chars(py_lstrip_chars(t, "<"), ">")).empty()) return true;
      return false;
    };
  }
  if (id == "combination:two_responses") {
    return [](std::string_view v) {
      std::vector<std::string> parts = py_split(v, "******");
      std::vector<std::string> valid;
      for (size_t i = 0; i < parts.size(); ++i) {
        if (py_strip(parts[i]).empty()) {
          if (i != 0 && i + 1 != parts.size()) return false;
        } else {
          valid.push_back(parts[i]);
        }
      }
      return valid.size() == 2 && py_strip(valid[0]) != py_strip(valid[1]);
    };
  }
  if (id == "combination:repeat_prompt") {
    std::string prompt = py_lower(py_strip(a.str("prompt_to_repeat")));
    if (prompt.empty()) a.fail("prompt_to_repeat", "must not be empty");
    return [prompt](std::string_view v) { return starts_with(py_lower(py_strip(v)), prompt); };
  }
  if (id == "startend:end_checker") {
    std::string phrase = py_lower(py_strip(a.str("end_phrase")));
    return [phrase](std::string_view v) { return ends_with(py_lower(py_strip_chars(py_strip(v), "\"")), phrase); };
  }
  if (id == "change_case:capital_word_frequency") {
    int64_t n = a.integer("capital_frequency", INT64_MIN);
    bool lt = a.less_than("capital_relation");
    return [n, lt](std::string_view v) {
      std::vector<std::string> words = word_tokenize(v);
      int64_t upper = std::count_if(words.begin(), words.end(), [](const std::string& w) { return py_isupper(w); });
      return compare(upper, lt, n);
    };
  }
  if (id == "change_case:english_capital") {
    return [](std::string_view v) { return py_isupper(v) && language_is(v, "en"); };
  }
  if (id == "change_case:english_lowercase") {
    return [](std::string_view v) { return py_islower(v) && language_is(v, "en"); };
  }
  if (id == "punctuation:no_comma") {
    return [](std::string_view v) { return v.find(',') == std::string_view::npos; };
  }
  if (id == "startend:quotation") {
    return [](std::string_view v) {
      std::string s = py_strip(v);
      return s.size() > 1 && s.front() == '"' && s.back() == '"';
    };
  }
  throw Error(a.where() + ": unknown instruction id");
}

const std::map<std::string, std::set<std::string>>& arguments() {
  static const std::map<std::string, std::set<std::string>> m = {
      {"keywords:existence", {"keywords"}},
      {"keywords:frequency", {"keyword", "frequency", "relation"}},
      {"keywords:forbidden_words", {"forbidden_words"}},
      {"keywords:letter_frequency", {"letter", "let_frequency", "let_relation"}},
      {"language:response_language", {"language"}},
      {"length_constraints:number_sentences", {"num_sentences", "relation"}},
      {"length_constraints:number_paragraphs", {"num_paragraphs"}},
      {"length_constraints:number_words", {"num_words", "relation"}},
      {"length_constraints:nth_paragraph_first_word", {"num_paragraphs", "nth_paragraph", "first_word"}},
      {"detectable_content:number_placeholders", {"num_placeholders"}},
      {"detectable_content:postscript", {"postscript_marker"}},
      {"detectable_format:number_bullet_lists", {"num_bullets"}},
      {"detectable_format:constrained_response", {}},
      {"detectable_format:number_highlighted_sections", {"num_highlights"}},
      {"detectable_format:multiple_sections", {"section_spliter", "num_sections"}},
      {"detectable_format:json_format", {}},
      {"detectable_format:title", {}},
      {"combination:two_responses", {}},
      {"combination:repeat_prompt", {"prompt_to_repeat"}},
      {"startend:end_checker", {"end_phrase"}},
      {"change_case:capital_word_frequency", {"capital_frequency", "capital_relation"}},
      {"change_case:english_capital", {}},
      {"change_case:english_lowercase", {}},
      {"punctuation:no_comma", {}},
      {"startend:quotation", {}},
  };
  return m;
}

}  // namespace

const std::vector<std::string>& instruction_ids() {
  static const std::vector<std::string> ids = {
      "keywords:existence",
      "keywords:frequency",
      "keywords:forbidden_words",
      "keywords:letter_frequency",
      "language:response_language",
      "length_constraints:number_sentences",
      "length_constraints:number_paragraphs",
      "length_constraints:number_words",
      "length_constraints:nth_paragraph_first_word",
      "detectable_content:number_placeholders",
      "detectable_content:postscript",
      "detectable_format:number_bullet_lists",
      "detectable_format:constrained_response",
      "detectable_format:number_highlighted_sections",
      "detectable_format:multiple_sections",
      "detectable_format:json_format",
      "detectable_format:title",
      "combination:two_responses",
      "combination:repeat_prompt",
      "startend:end_checker",
      "change_case:capital_word_frequency",
      "change_case:english_capital",
      "change_case:english_lowercase",
      "punctuation:no_comma",
      "startend:quotation",
  };
  return ids;
}

Checker make_checker(const std::string& id, const json& kwargs, const std::string& where) {
  auto it = arguments().find(id);
  if (it == arguments().end()) throw Error(where + ": unknown instruction id '" + id + "'");
  Args a(id, kwargs, where, it->second);
  Checker c;
  c.id_ = id;
  c.fn_ = build(id, a);
  return c;
}

}  // namespace packbench::evals::ifeval
