// A small evaluator for LaTeX math answers: numbers, \frac, \sqrt, powers, \pi, functions, variables.
#include "evals/math/latex_expr.h"

#include <cctype>
#include <cmath>
#include <functional>
#include <vector>

namespace packbench::evals {

struct LatexExpr::Node {
  enum Kind { Num, Var, Add, Sub, Mul, Div, Pow, Neg, Func, Fact } kind = Num;
  double value = 0;
  std::string name;  // variable or function name
  std::unique_ptr<Node> a, b;
};

namespace {

using Node = LatexExpr::Node;
using NodeP = std::unique_ptr<Node>;

NodeP num(double v) {
  auto n = std::make_unique<Node>();
  n->kind = Node::Num;
  n->value = v;
  return n;
}
NodeP bin(Node::Kind k, NodeP a, NodeP b) {
  auto n = std::make_unique<Node>();
  n->kind = k;
  n->a = std::move(a);
  n->b = std::move(b);
  return n;
}

const std::set<std::string>& greek() {
  static const std::set<std::string> g = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta",
                                          "eta", "theta", "vartheta", "iota", "kappa", "lambda", "mu", "nu",
                                          "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi",
                                          "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi",
                                          "Psi", "Omega"};
  return g;
}

class Parser {
 public:
  Parser(const std::string& s, std::set<std::string>& vars) : s_(s), vars_(vars) {}

  NodeP parse_all() {
    NodeP e = expr();
    skip_ws();
    if (!e || pos_ != s_.size()) return nullptr;
    return e;
  }

 private:
  void skip_ws() {
    for (;;) {
      while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      // spacing commands and \left / \right carry no value
      static const char* skip[] = {"\\left", "\\right", "\\!", "\\,", "\\;", "\\:", "\\quad", "\\qquad", "\\displaystyle"};
      bool again = false;
      for (const char* k : skip) {
        size_t n = std::char_traits<char>::length(k);
        if (s_.compare(pos_, n, k) == 0 && !(n > 2 && pos_ + n < s_.size() && std::isalpha(static_cast<unsigned char>(s_[pos_ + n])))) {
          pos_ += n;
          again = true;
        }
      }
      if (!again) return;
    }
  }
  bool eat(const std::string& t) {
    skip_ws();
    if (s_.compare(pos_, t.size(), t) == 0) {
      if (t.size() > 1 && t[0] == '\\' && std::isalpha(static_cast<unsigned char>(t.back())) &&
          pos_ + t.size() < s_.size() && std::isalpha(static_cast<unsigned char>(s_[pos_ + t.size()])))
        return false;  // "\pi" must not match "\pix"
      pos_ += t.size();
      return true;
    }
    return false;
  }
  bool at_end() {
    skip_ws();
    return pos_ >= s_.size();
  }
  std::string command_name() {  // after a backslash: the letters
    size_t b = pos_;
    while (pos_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    return s_.substr(b, pos_ - b);
  }

  // Nesting deeper than this is not an answer; refusing it keeps the recursion off the stack limit.
  static constexpr int kMaxDepth = 200;
  struct DepthGuard {
    int& d;
    explicit DepthGuard(int& depth) : d(depth) { ++d; }
    ~DepthGuard() { --d; }
  };

  NodeP expr() {
    DepthGuard guard(depth_);
    if (depth_ > kMaxDepth) return nullptr;
    NodeP left = term();
    if (!left) return nullptr;
    for (;;) {
      if (eat("+")) {
        NodeP r = term();
        if (!r) return nullptr;
        left = bin(Node::Add, std::move(left), std::move(r));
      } else if (eat("-")) {
        NodeP r = term();
        if (!r) return nullptr;
        left = bin(Node::Sub, std::move(left), std::move(r));
      } else {
        return left;
      }
    }
  }

  bool starts_primary() {
    skip_ws();
    if (pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (std::isdigit(static_cast<unsigned char>(c)) || std::isalpha(static_cast<unsigned char>(c)) || c == '(' ||
        c == '{' || c == '[' || c == '.')
      return true;
    if (c == '\\') {
      static const char* ops[] = {"\\cdot", "\\times", "\\div", "\\right", "\\}", "\\%"};
      for (const char* o : ops) {
        if (s_.compare(pos_, std::char_traits<char>::length(o), o) == 0) return false;
      }
      return true;
    }
    return false;
  }

  NodeP term() {
    NodeP left = unary();
    if (!left) return nullptr;
    for (;;) {
      if (eat("*") || eat("\\cdot") || eat("\\times")) {
        NodeP r = unary();
        if (!r) return nullptr;
        left = bin(Node::Mul, std::move(left), std::move(r));
      } else if (eat("/") || eat("\\div")) {
        NodeP r = unary();
        if (!r) return nullptr;
        left = bin(Node::Div, std::move(left), std::move(r));
      } else if (starts_primary()) {
        NodeP r = power();
        if (!r) return nullptr;
        left = bin(Node::Mul, std::move(left), std::move(r));
      } else {
        return left;
      }
    }
  }

  NodeP unary() {
    DepthGuard guard(depth_);
    if (depth_ > kMaxDepth) return nullptr;
    if (eat("-")) {
      NodeP x = unary();
      if (!x) return nullptr;
      auto n = std::make_unique<Node>();
      n->kind = Node::Neg;
      n->a = std::move(x);
      return n;
    }
    if (eat("+")) return unary();
    return power();
  }

  NodeP power() {
    DepthGuard guard(depth_);
    if (depth_ > kMaxDepth) return nullptr;
    NodeP base = primary();
    if (!base) return nullptr;
    for (;;) {
      if (eat("!")) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Fact;
        n->a = std::move(base);
        base = std::move(n);
      } else if (eat("^")) {
        NodeP ex = script_arg();
        if (!ex) return nullptr;
        base = bin(Node::Pow, std::move(base), std::move(ex));
      } else {
        return base;
      }
    }
  }

  // The argument of ^ or a command: a braced group, or a single digit / letter / command.
  NodeP script_arg() {
    skip_ws();
    if (pos_ >= s_.size()) return nullptr;
    if (s_[pos_] == '{') return group('{', '}');
    if (std::isdigit(static_cast<unsigned char>(s_[pos_]))) return num(s_[pos_++] - '0');
    if (eat("-")) {
      NodeP x = script_arg();
      if (!x) return nullptr;
      auto n = std::make_unique<Node>();
      n->kind = Node::Neg;
      n->a = std::move(x);
      return n;
    }
    return primary();
  }

  NodeP group(char open, char close) {
    if (!eat(std::string(1, open))) return nullptr;
    NodeP e = expr();
    if (!e || !eat(std::string(1, close))) return nullptr;
    return e;
  }

  NodeP primary() {
    skip_ws();
    if (pos_ >= s_.size()) return nullptr;
    char c = s_[pos_];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      size_t b = pos_;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      if (pos_ < s_.size() && s_[pos_] == '.') {
        ++pos_;
        while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      }
      const std::string digits = s_.substr(b, pos_ - b);
      if (digits == ".") return nullptr;
      return num(std::stod(digits));
    }
    if (c == '(') return group('(', ')');
    if (c == '{') return group('{', '}');
    if (c == '[') return group('[', ']');
    if (std::isalpha(static_cast<unsigned char>(c))) {
      std::string name(1, c);
      ++pos_;
      return variable(name);
    }
    if (c == '\\') {
      ++pos_;
      const std::string cmd = command_name();
      if (cmd == "frac" || cmd == "dfrac" || cmd == "tfrac") {
        NodeP a = script_arg();
        if (!a) return nullptr;
        NodeP b = script_arg();
        if (!b) return nullptr;
        return bin(Node::Div, std::move(a), std::move(b));
      }
      if (cmd == "sqrt") {
        NodeP index;
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == '[') {
          index = group('[', ']');
          if (!index) return nullptr;
        }
        NodeP x = script_arg();
        if (!x) return nullptr;
        NodeP ex = index ? bin(Node::Div, num(1), std::move(index)) : num(0.5);
        return bin(Node::Pow, std::move(x), std::move(ex));
      }
      if (cmd == "pi") return num(M_PI);
      if (cmd == "infty") return num(INFINITY);
      if (cmd == "sin" || cmd == "cos" || cmd == "tan" || cmd == "ln" || cmd == "log" || cmd == "exp" ||
          cmd == "sec" || cmd == "csc" || cmd == "cot" || cmd == "arcsin" || cmd == "arccos" || cmd == "arctan") {
        NodeP x = power_arg();
        if (!x) return nullptr;
        auto n = std::make_unique<Node>();
        n->kind = Node::Func;
        n->name = cmd;
        n->a = std::move(x);
        return n;
      }
      if (greek().count(cmd)) return variable("\\" + cmd);
      return nullptr;  // \mathbf, \pm, \cup, ...: not a number
    }
    return nullptr;
  }

  // Function argument: "\sin x", "\sin(x)", "\sin^2 x" is not supported.
  NodeP power_arg() {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '(') return power();
    return power();
  }

  NodeP variable(std::string name) {
    if (pos_ < s_.size() && s_[pos_] == '_') {
      ++pos_;
      if (pos_ < s_.size() && s_[pos_] == '{') {
        size_t end = s_.find('}', pos_);
        if (end == std::string::npos) return nullptr;
        name += "_" + s_.substr(pos_ + 1, end - pos_ - 1);
        pos_ = end + 1;
      } else if (pos_ < s_.size()) {
        name += "_" + s_.substr(pos_, 1);
        ++pos_;
      }
    }
    vars_.insert(name);
    auto n = std::make_unique<Node>();
    n->kind = Node::Var;
    n->name = name;
    return n;
  }

  const std::string& s_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::set<std::string>& vars_;
};

double eval_node(const Node& n, const std::map<std::string, double>& vars) {
  switch (n.kind) {
    case Node::Num: return n.value;
    case Node::Var: {
      auto it = vars.find(n.name);
      return it == vars.end() ? NAN : it->second;
    }
    case Node::Add: return eval_node(*n.a, vars) + eval_node(*n.b, vars);
    case Node::Sub: return eval_node(*n.a, vars) - eval_node(*n.b, vars);
    case Node::Mul: return eval_node(*n.a, vars) * eval_node(*n.b, vars);
    case Node::Div: return eval_node(*n.a, vars) / eval_node(*n.b, vars);
    case Node::Pow: return std::pow(eval_node(*n.a, vars), eval_node(*n.b, vars));
    case Node::Neg: return -eval_node(*n.a, vars);
    case Node::Fact: {
      double x = eval_node(*n.a, vars);
      if (x < 0 || x != std::floor(x) || x > 170) return NAN;
      return std::tgamma(x + 1);
    }
    case Node::Func: {
      double x = eval_node(*n.a, vars);
      if (n.name == "sin") return std::sin(x);
      if (n.name == "cos") return std::cos(x);
      if (n.name == "tan") return std::tan(x);
      if (n.name == "sec") return 1 / std::cos(x);
      if (n.name == "csc") return 1 / std::sin(x);
      if (n.name == "cot") return 1 / std::tan(x);
      if (n.name == "arcsin") return std::asin(x);
      if (n.name == "arccos") return std::acos(x);
      if (n.name == "arctan") return std::atan(x);
      if (n.name == "ln") return std::log(x);
      if (n.name == "log") return std::log10(x);
      if (n.name == "exp") return std::exp(x);
      return NAN;
    }
  }
  return NAN;
}

}  // namespace

LatexExpr::~LatexExpr() = default;

std::unique_ptr<LatexExpr> LatexExpr::parse(const std::string& text) {
  std::unique_ptr<LatexExpr> e(new LatexExpr());
  Parser p(text, e->vars_);
  e->root_ = p.parse_all();
  if (!e->root_) return nullptr;
  return e;
}

double LatexExpr::eval(const std::map<std::string, double>& vars) const { return eval_node(*root_, vars); }

}  // namespace packbench::evals
