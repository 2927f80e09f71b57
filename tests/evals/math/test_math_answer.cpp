// MATH answer handling: \boxed{} and "Final Answer" extraction, Minerva and Hendrycks normalisation, equivalence.
#include <gtest/gtest.h>

#include <cmath>

#include "evals/math/latex_expr.h"
#include "evals/math/math_answer.h"

using namespace packbench::evals;

TEST(MathBoxed, LastBoxWithNestedBraces) {
  EXPECT_EQ(last_boxed_only_string("a $\\boxed{1}$ then $\\boxed{\\frac{1}{\\sqrt{2}}}$."),
            "\\boxed{\\frac{1}{\\sqrt{2}}}");
  EXPECT_EQ(remove_boxed("\\boxed{\\frac{1}{\\sqrt{2}}}"), "\\frac{1}{\\sqrt{2}}");
  EXPECT_EQ(last_boxed_only_string("so \\boxed 5$ done"), "\\boxed 5");  // "\boxed " form
  EXPECT_EQ(remove_boxed("\\boxed 5"), "5");
  EXPECT_EQ(last_boxed_only_string("\\fbox{7}"), "\\fbox{7}");
  EXPECT_EQ(remove_boxed("\\fbox{7}"), "7");
  EXPECT_FALSE(last_boxed_only_string("no box here").has_value());
  EXPECT_FALSE(last_boxed_only_string("\\boxed{unclosed").has_value());
  EXPECT_EQ(math_gold_answer("so $x = \\boxed{\\dfrac{3}{4}}$."), "\\dfrac{3}{4}");
  EXPECT_EQ(math_gold_answer("nothing"), "");
}

TEST(MathExtraction, MinervaFinalAnswerLineThenBox) {
  EXPECT_EQ(minerva_final_answer("...\nFinal Answer: The final answer is $-\\frac{2}{3}$. I hope it is correct."),
            "$-\\frac{2}{3}$");
  // a generation stopped before "I hope it is correct." still matches (lm-eval appends it)
  EXPECT_EQ(minerva_final_answer("Final Answer: The final answer is $24$. "), "$24$");
  EXPECT_EQ(minerva_final_answer("The answer is 24."), "[invalidanswer]");
  EXPECT_EQ(extract_math_answer("We get $\\boxed{16}$."), "16");  // packbench's fallback
  EXPECT_EQ(extract_math_answer("Final Answer: The final answer is $3$. I hope it is correct. \\boxed{4}"), "$3$");
  EXPECT_EQ(extract_math_answer("nothing"), "[invalidanswer]");
}

TEST(MinervaNormalize, LmEvalEdgeCases) {
  EXPECT_EQ(normalize_final_answer("$x = 5$"), "5");              // after the last '='
  EXPECT_EQ(normalize_final_answer("5\\text{ ways}"), "5");
  EXPECT_EQ(normalize_final_answer("\\$1,000"), "1000");          // dollars and thousands separators
  EXPECT_EQ(normalize_final_answer("1,000,000"), "1000000");
  EXPECT_EQ(normalize_final_answer("(1,2)"), "(1,2)");            // a tuple keeps its comma
  EXPECT_EQ(normalize_final_answer("\\frac12"), "\\frac{1}{2}");
  EXPECT_EQ(normalize_final_answer("\\sqrt2"), "\\sqrt{2}");
  EXPECT_EQ(normalize_final_answer("90^\\circ"), "90");
  EXPECT_EQ(normalize_final_answer("\\text{Evelyn}"), "Evelyn");
  EXPECT_EQ(normalize_final_answer("\\textbf{(C)}"), "(C)");
  EXPECT_EQ(normalize_final_answer("\\boxed{10}"), "10");
  EXPECT_EQ(normalize_final_answer("12 \\text{ inches}^2"), "12");  // "inches", then "\\text{}^2" go
  EXPECT_EQ(normalize_final_answer("an apple"), "apple");           // Minerva's filler-word rule, literally
  EXPECT_EQ(normalize_final_answer("a banana"), "banana");
  EXPECT_EQ(normalize_final_answer("\\overline{3}"), "3");
  EXPECT_EQ(normalize_final_answer("5.$"), "5");
  EXPECT_EQ(normalize_final_answer("\\left(2,1\\right)"), "\\le(2,1\\right)");  // "ft" is a removed unit
  EXPECT_EQ(normalize_math_answer("\\left(2,1\\right)"), "(2,1)");                // packbench drops sizing first
  EXPECT_EQ(normalize_math_answer("\\leftarrow"), "\\learrow");                  // only \left itself
}

TEST(HendrycksStrip, ReferenceCases) {
  auto s = [](const std::string& x) { return hendrycks_strip_string(x).value_or("<raises>"); };
  EXPECT_EQ(s("\\dfrac{3}{4}"), "\\frac{3}{4}");
  EXPECT_EQ(s("\\tfrac{3}{4}"), "\\frac{3}{4}");
  EXPECT_EQ(s("\\frac12"), "\\frac{1}{2}");
  EXPECT_EQ(s("\\frac1{72}"), "\\frac{1}{72}");
  EXPECT_EQ(s("\\left(1,2\\right)"), "(1,2)");
  EXPECT_EQ(s("90^\\circ"), "90");
  EXPECT_EQ(s("90^{\\circ}"), "90");
  EXPECT_EQ(s("50\\%"), "50");
  EXPECT_EQ(s("10\\text{ cm}"), "10");
  EXPECT_EQ(s("0.5"), "\\frac{1}{2}");
  EXPECT_EQ(s(".5"), "\\frac{1}{2}");  // ".5" -> "0.5" -> 1/2
  EXPECT_EQ(s("0.50"), "0.50");         // only the exact string "0.5" becomes 1/2
  EXPECT_EQ(s("3/4"), "\\frac{3}{4}");
  EXPECT_EQ(s("x/4"), "x/4");
  EXPECT_EQ(s("k = 5"), "5");
  EXPECT_EQ(s("abc = 5"), "abc=5");  // prefixes longer than 2 characters stay
  EXPECT_EQ(s("\\sqrt3"), "\\sqrt{3}");
  EXPECT_EQ(s("1 \\! 000"), "1000");
  EXPECT_EQ(s("\\sqrt"), "<raises>");
  EXPECT_EQ(s("\\frac"), "<raises>");
}

TEST(MathEquivalence, SameValueWrittenDifferently) {
  EXPECT_TRUE(is_equiv("\\frac{1}{2}", "1/2"));
  EXPECT_TRUE(is_equiv("\\frac{1}{2}", "0.5"));
  EXPECT_TRUE(is_equiv("\\dfrac{1}{2}", "\\frac{1}{2}"));
  EXPECT_TRUE(is_equiv("\\frac{1}{2}", "\\frac12"));
  EXPECT_TRUE(is_equiv("0.50", "\\frac{1}{2}"));  // numeric, beyond Hendrycks' string rules
  EXPECT_TRUE(is_equiv("\\left(1,2\\right)", "(1,2)"));
  EXPECT_TRUE(is_equiv("(1, \\frac{1}{2})", "(1,0.5)"));
  EXPECT_TRUE(is_equiv("2\\sqrt{3}", "\\sqrt{12}"));
  EXPECT_TRUE(is_equiv("\\frac{\\pi}{2}", "\\pi/2"));
  EXPECT_TRUE(is_equiv("x^2+2x+1", "(x+1)^2"));  // symbolic: agree at random points
  EXPECT_TRUE(is_equiv("\\frac{a}{b}\\cdot 2", "\\frac{2a}{b}"));
  EXPECT_TRUE(is_equiv("10\\text{ cm}", "10"));
  EXPECT_TRUE(is_equiv("50\\%", "50"));
  EXPECT_TRUE(is_equiv(normalize_final_answer("x = 3"), normalize_final_answer("3")));
  EXPECT_TRUE(is_equiv(normalize_final_answer("\\$5.00"), normalize_final_answer("5")));
  EXPECT_TRUE(is_equiv("\\{1,2\\}", "\\{1, 2\\}"));
  EXPECT_TRUE(is_equiv("3!", "6"));
  EXPECT_TRUE(is_equiv("4:30p.m.", "4:30p.m"));  // a closing period is not part of the value
}

TEST(MathEquivalence, DifferentValuesStayDifferent) {
  EXPECT_FALSE(is_equiv("3", "4"));
  EXPECT_FALSE(is_equiv("[2,5)", "(2,5)"));  // brackets matter
  EXPECT_FALSE(is_equiv("(1,2)", "(2,1)"));  // order matters
  EXPECT_FALSE(is_equiv("(1,2)", "(1,2,3)"));
  EXPECT_FALSE(is_equiv("0.333", "\\frac{1}{3}"));  // rounding is not equality
  EXPECT_FALSE(is_equiv("x^2", "x^3"));
  EXPECT_FALSE(is_equiv("[invalidanswer]", "[invalidanswer]"));
  EXPECT_FALSE(is_equiv("", ""));
  EXPECT_FALSE(is_equiv("\\text{(A)}", "\\text{(B)}"));
  EXPECT_FALSE(is_equiv("\\sqrt{2}", "1.414"));
  EXPECT_TRUE(is_equiv("\\text{(A)}", "\\text{(A)}"));
  EXPECT_FALSE(is_equiv("\\mathbf{v}", "\\mathbf{w}"));  // outside the grammar: strings decide
}

TEST(LatexExpr, Evaluates) {
  auto v = [](const std::string& s) { return evaluate_latex_number(s).value_or(NAN); };
  EXPECT_DOUBLE_EQ(v("\\frac{3}{4}"), 0.75);
  EXPECT_DOUBLE_EQ(v("-\\frac{2}{3}"), -2.0 / 3);
  EXPECT_DOUBLE_EQ(v("2^{10}"), 1024);
  EXPECT_DOUBLE_EQ(v("\\sqrt[3]{27}"), 3);
  EXPECT_DOUBLE_EQ(v("2(3+4)"), 14);
  EXPECT_DOUBLE_EQ(v("\\left(1+2\\right)\\cdot 3"), 9);
  EXPECT_DOUBLE_EQ(v("10 \\div 4"), 2.5);
  EXPECT_DOUBLE_EQ(v("5!"), 120);
  EXPECT_NEAR(v("\\sin(\\pi/2)"), 1.0, 1e-12);
  EXPECT_TRUE(std::isnan(v("x+1")));  // a variable is not a number
  EXPECT_TRUE(std::isnan(v("1 +")));
  EXPECT_TRUE(std::isnan(v("\\pm 3")));
  auto e = LatexExpr::parse("x_1 + \\alpha y");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->variables(), (std::set<std::string>{"x_1", "\\alpha", "y"}));
  EXPECT_DOUBLE_EQ(e->eval({{"x_1", 1}, {"\\alpha", 2}, {"y", 3}}), 7);
}

TEST(MathEquivalence, PathologicalInputsAreNotACrash) {
  const std::string deep = std::string(100000, '(') + "1" + std::string(100000, ')');
  EXPECT_FALSE(evaluate_latex_number(deep).has_value());
  EXPECT_FALSE(is_equiv(deep, "1"));
  const std::string minus = std::string(100000, '-') + "1";
  EXPECT_FALSE(is_equiv(minus, "1"));
  std::string braces;
  for (int i = 0; i < 50000; ++i) braces += "\\frac{";
  EXPECT_FALSE(is_equiv(normalize_math_answer(braces), "1"));
  EXPECT_FALSE(last_boxed_only_string("\\boxed{" + std::string(100000, '{')).has_value());
  EXPECT_TRUE(is_equiv("((((1))))", "1"));  // ordinary nesting still works
}
