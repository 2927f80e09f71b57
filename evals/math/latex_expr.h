// A small evaluator for LaTeX math answers: numbers, \frac, \sqrt, powers, \pi, functions, variables.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace packbench::evals {

// A parsed expression. parse() returns nullptr for anything outside the supported grammar:
//   sums, differences, products (*, \cdot, \times, implicit: 2x, 2\sqrt{3}, (a)(b)), quotients
//   (/, \div, \frac/\dfrac/\tfrac{a}{b}), unary signs, powers (^2, ^{n}), \sqrt{x}, \sqrt[n]{x},
//   factorial, groups ( ) { } [ ], \pi, \infty, \sin \cos \tan \ln \log \exp, and variables
//   (a letter, optionally with a subscript, or a Greek-letter command).
class LatexExpr {
 public:
  struct Node;
  static std::unique_ptr<LatexExpr> parse(const std::string& text);
  ~LatexExpr();
  // Value with each variable bound from `vars` (a missing variable evaluates to NaN).
  double eval(const std::map<std::string, double>& vars) const;
  const std::set<std::string>& variables() const { return vars_; }

 private:
  LatexExpr() = default;
  std::unique_ptr<Node> root_;
  std::set<std::string> vars_;
};

}  // namespace packbench::evals
