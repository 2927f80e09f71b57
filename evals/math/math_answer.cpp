// MATH answers: extraction (Minerva "Final Answer" line, \boxed{}), normalisation and equivalence.
#include "evals/math/math_answer.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "evals/math/latex_expr.h"
#include "evals/regex.h"

namespace packbench::evals {
namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    if (p == std::string::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, p - start));
    start = p + sep.size();
  }
}

std::string strip_ws(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> last_boxed_only_string(const std::string& s) {
  if (s.find("\\boxed ") != std::string::npos) {
    std::string tail = split(s, "\\boxed ").back();
    return "\\boxed " + tail.substr(0, tail.find('$'));
  }
  size_t idx = s.rfind("\\boxed");
  if (idx == std::string::npos) {
    idx = s.rfind("\\fbox");
    if (idx == std::string::npos) return std::nullopt;
  }
  int open = 0;
  for (size_t i = idx; i < s.size(); ++i) {
    if (s[i] == '{') ++open;
    if (s[i] == '}') {
      --open;
      if (open == 0) return s.substr(idx, i - idx + 1);
    }
  }
  return std::nullopt;
}

std::string remove_boxed(const std::string& s) {
  if (s.rfind("\\boxed ", 0) == 0) return s.substr(7);
  for (const std::string left : {"\\boxed{", "\\fbox{"}) {
    if (s.size() > left.size() && s.rfind(left, 0) == 0 && s.back() == '}')
      return s.substr(left.size(), s.size() - left.size() - 1);
  }
  return s;
}

std::string minerva_final_answer(const std::string& response) {
  static const Regex re("Final Answer: The final answer is(.*?). I hope it is correct.");
  auto m = re.search(response + "I hope it is correct.");
  if (!m) return "[invalidanswer]";
  return strip_ws((*m)[1]);
}

std::string extract_math_answer(const std::string& response, const std::string& fallback) {
  std::string a = minerva_final_answer(response);
  if (a != "[invalidanswer]") return a;
  if (auto boxed = last_boxed_only_string(response)) return remove_boxed(*boxed);
  return fallback;
}

std::string normalize_final_answer(const std::string& answer) {
  std::string s = split(answer, "=").back();
  static const std::vector<std::pair<std::string, std::string>> substitutions = {
      {"an ", ""}, {"a ", ""}, {".$", "$"}, {"\\$", ""}, {"\\ ", ""}, {" ", ""}, {"mbox", "text"},
      {",\\text{and}", ","}, {"\\text{and}", ","}, {"\\text{m}", "\\text{}"}};
  static const std::vector<std::string> removed = {
      "square", "ways", "integers", "dollars", "mph", "inches", "ft", "hours", "km", "units", "\\ldots", "sue",
      "points", "feet", "minutes", "digits", "cents", "degrees", "cm", "gm", "pounds", "meters", "meals",
      "edges", "students", "childrentickets", "multiples", "\\text{s}", "\\text{.}", "\\text{\ns}",
      "\\text{}^2", "\\text{}^3", "\\text{\n}", "\\text{}", "\\mathrm{th}", "^\\circ", "^{\\circ}", "\\;",
      ",\\!", "{,}", "\"", "\\dots"};
  for (const auto& [from, to] : substitutions) replace_all(s, from, to);
  for (const auto& expr : removed) replace_all(s, expr, "");

  static const Regex dollars("(.*?)(\\$)(.*?)(\\$)(.*)");
  static const Regex text("(\\\\text\\{)(.*?)(\\})");
  static const Regex textbf("(\\\\textbf\\{)(.*?)(\\})");
  static const Regex overline("(\\\\overline\\{)(.*?)(\\})");
  static const Regex boxed("(\\\\boxed\\{)(.*)(\\})");
  static const Regex frac("(frac)([^{])(.)");
  static const Regex sqrt("(sqrt)([^{])");
  s = dollars.sub_groups(s, "$\\3$");
  s = text.sub_groups(s, "\\2");
  s = textbf.sub_groups(s, "\\2");
  s = overline.sub_groups(s, "\\2");
  s = boxed.sub_groups(s, "\\2");
  s = frac.sub_groups(s, "frac{\\2}{\\3}");
  s = sqrt.sub_groups(s, "sqrt{\\2}");
  replace_all(s, "$", "");
  std::string no_commas = s;
  replace_all(no_commas, ",", "");
  if (all_digits(no_commas)) s = no_commas;
  return s;
}

std::string normalize_math_answer(const std::string& answer) {
  static const Regex sizing("\\\\(?:left|right)(?![A-Za-z])");
  return normalize_final_answer(sizing.sub(answer, ""));
}

namespace {

// Hendrycks' helpers; each returns nullopt where the Python original raises.
std::optional<std::string> fix_fracs(const std::string& s) {
  auto parts = split(s, "\\frac");
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& sub = parts[i];
    out += "\\frac";
    if (sub.empty()) return std::nullopt;
    if (sub[0] == '{') {
      out += sub;
      continue;
    }
    if (sub.size() < 2) return s;
    char a = sub[0], b = sub[1];
    if (b != '{') {
      out += std::string("{") + a + "}{" + b + "}" + sub.substr(2);
    } else {
      out += std::string("{") + a + "}" + b + sub.substr(2);
    }
  }
  return out;
}

std::string fix_a_slash_b(const std::string& s) {
  auto parts = split(s, "/");
  if (parts.size() != 2) return s;
  auto as_int = [](const std::string& t, long long& v) {
    std::string u = strip_ws(t);
    if (u.empty()) return false;
    size_t i = (u[0] == '-' || u[0] == '+') ? 1 : 0;
    if (i == u.size()) return false;
    for (size_t j = i; j < u.size(); ++j) {
      if (!std::isdigit(static_cast<unsigned char>(u[j]))) return false;
    }
    try {
      v = std::stoll(u);
    } catch (...) {
      return false;
    }
    return true;
  };
  long long a = 0, b = 0;
  if (!as_int(parts[0], a) || !as_int(parts[1], b)) return s;
  if (s != std::to_string(a) + "/" + std::to_string(b)) return s;
  return "\\frac{" + std::to_string(a) + "}{" + std::to_string(b) + "}";
}

std::string remove_right_units(const std::string& s) {
  if (s.find("\\text{ ") != std::string::npos) return split(s, "\\text{ ")[0];
  return s;
}

std::optional<std::string> fix_sqrt(const std::string& s) {
  if (s.find("\\sqrt") == std::string::npos) return s;
  auto parts = split(s, "\\sqrt");
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& sub = parts[i];
    if (sub.empty()) return std::nullopt;
    if (sub[0] != '{') {
      out += "\\sqrt{" + sub.substr(0, 1) + "}" + sub.substr(1);
    } else {
      out += "\\sqrt" + sub;
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> hendrycks_strip_string(const std::string& input) {
  std::string s = input;
  replace_all(s, "\n", "");
  replace_all(s, "\\!", "");
  replace_all(s, "\\\\", "\\");
  replace_all(s, "tfrac", "frac");
  replace_all(s, "dfrac", "frac");
  replace_all(s, "\\left", "");
  replace_all(s, "\\right", "");
  replace_all(s, "^{\\circ}", "");
  replace_all(s, "^\\circ", "");
  replace_all(s, "\\$", "");
  s = remove_right_units(s);
  replace_all(s, "\\%", "");
  replace_all(s, " .", " 0.");
  replace_all(s, "{.", "{0.");
  if (s.empty()) return s;
  if (s[0] == '.') s = "0" + s;
  auto eq = split(s, "=");
  if (eq.size() == 2 && eq[0].size() <= 2) s = eq[1];
  auto r = fix_sqrt(s);
  if (!r) return std::nullopt;
  s = *r;
  replace_all(s, " ", "");
  r = fix_fracs(s);
  if (!r) return std::nullopt;
  s = *r;
  if (s == "0.5") s = "\\frac{1}{2}";
  return fix_a_slash_b(s);
}

std::string math_gold_answer(const std::string& solution) {
  auto boxed = last_boxed_only_string(solution);
  if (!boxed) return "";
  return normalize_math_answer(remove_boxed(*boxed));
}

namespace {

// Spacing, sizing and unit wrappers that do not change a value.
std::string clean_for_eval(std::string s) {
  static const Regex text_units("\\\\(?:text|mbox|mathrm)\\{[^{}]*\\}");
  s = text_units.sub(s, "");
  for (const char* k : {"\\left", "\\right", "\\!", "\\,", "\\;", "\\:", "\\displaystyle", "^{\\circ}", "^\\circ",
                        "\\%", "%", "\\$", "$", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\big", "\\Big"})
    replace_all(s, k, "");
  replace_all(s, "dfrac", "frac");
  replace_all(s, "tfrac", "frac");
  replace_all(s, "\\{", "{");
  replace_all(s, "\\}", "}");
  return strip_ws(s);
}

// Splits "(a,b)" / "[a,b)" / "a,b" at top-level commas; `open`/`close` get the outer brackets
// when they enclose the whole string and it has a top-level comma.
std::vector<std::string> split_tuple(const std::string& s, char& open, char& close) {
  open = close = 0;
  std::string body = s;
  if (s.size() >= 2 && (s[0] == '(' || s[0] == '[' || s[0] == '{') &&
      (s.back() == ')' || s.back() == ']' || s.back() == '}')) {
    // do the outer brackets enclose everything?
    int depth = 0;
    bool encloses = true;
    for (size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (c == '(' || c == '[' || c == '{') ++depth;
      if (c == ')' || c == ']' || c == '}') --depth;
      if (depth == 0 && i + 1 < s.size()) {
        encloses = false;
        break;
      }
    }
    if (encloses) {
      open = s[0];
      close = s.back();
      body = s.substr(1, s.size() - 2);
    }
  }
  std::vector<std::string> parts;
  int depth = 0;
  std::string cur;
  for (char c : body) {
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  if (parts.size() == 1 && open) {
    // "(x)" with no comma is a group, not a tuple
    parts[0] = s;
    open = close = 0;
  }
  return parts;
}

bool close_enough(double x, double y) {
  if (std::isnan(x) || std::isnan(y)) return false;
  if (std::isinf(x) || std::isinf(y)) return x == y;
  return std::fabs(x - y) <= 1e-6 * std::max({1.0, std::fabs(x), std::fabs(y)});
}

// Deterministic pseudo-random values in [0.5, 2.5) for variable `name` at point `k`.
double probe_value(const std::string& name, int k) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  h ^= static_cast<uint64_t>(k + 1) * 0x9E3779B97F4A7C15ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return 0.5 + 2.0 * static_cast<double>(h >> 11) / static_cast<double>(1ULL << 53);
}

bool expr_equiv(const std::string& a, const std::string& b) {
  auto ea = LatexExpr::parse(a);
  auto eb = LatexExpr::parse(b);
  if (!ea || !eb) return false;
  std::set<std::string> vars = ea->variables();
  vars.insert(eb->variables().begin(), eb->variables().end());
  const int points = vars.empty() ? 1 : 4;
  int compared = 0;
  for (int k = 0; k < points; ++k) {
    std::map<std::string, double> env;
    for (const auto& v : vars) env[v] = probe_value(v, k);
    double x = ea->eval(env), y = eb->eval(env);
    if (std::isnan(x) && std::isnan(y)) continue;  // outside both domains at this point
    if (!close_enough(x, y)) return false;
    ++compared;
  }
  return compared > 0;
}

bool value_equiv(const std::string& a, const std::string& b) {
  const std::string ca = clean_for_eval(a), cb = clean_for_eval(b);
  if (ca.empty() || cb.empty()) return false;
  if (ca == cb) return true;
  char oa, ca_close, ob, cb_close;
  auto pa = split_tuple(ca, oa, ca_close);
  auto pb = split_tuple(cb, ob, cb_close);
  if (pa.size() != pb.size()) return false;
  if (pa.size() > 1 && (oa != ob || ca_close != cb_close)) return false;
  for (size_t i = 0; i < pa.size(); ++i) {
    const std::string x = strip_ws(pa[i]), y = strip_ws(pb[i]);
    if (x == y) continue;
    if (!expr_equiv(x, y)) return false;
  }
  return true;
}

}  // namespace

std::optional<double> evaluate_latex_number(const std::string& expr) {
  auto e = LatexExpr::parse(clean_for_eval(expr));
  if (!e || !e->variables().empty()) return std::nullopt;
  double v = e->eval({});
  if (std::isnan(v)) return std::nullopt;
  return v;
}

bool is_equiv(const std::string& a, const std::string& b) {
  if (a == "[invalidanswer]" || b == "[invalidanswer]" || a.empty() || b.empty()) return false;
  if (a == b) return true;
  // A sentence's closing period is not part of the value ("4:30p.m." vs "4:30p.m").
  auto drop_period = [](std::string x) {
    if (!x.empty() && x.back() == '.') x.pop_back();
    return x;
  };
  if (drop_period(a) == drop_period(b) && !drop_period(a).empty()) return true;
  auto sa = hendrycks_strip_string(a);
  auto sb = hendrycks_strip_string(b);
  if (sa && sb && *sa == *sb) return true;
  try {
    return value_equiv(sa ? *sa : a, sb ? *sb : b) || value_equiv(a, b);
  } catch (...) {
    return false;
  }
}

}  // namespace packbench::evals
