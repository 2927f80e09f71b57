// MATH answers: extraction (Minerva "Final Answer" line, \boxed{}), normalisation and equivalence.
#pragma once

#include <optional>
#include <string>

namespace packbench::evals {

// The last "\boxed{...}" (nested braces balanced), "\boxed x" or "\fbox{...}" in `s`, as
// lm-evaluation-harness's last_boxed_only_string finds it; nullopt when there is none or its
// braces never close.
std::optional<std::string> last_boxed_only_string(const std::string& s);
// "\boxed{X}" -> "X", "\boxed X" -> "X", "\fbox{X}" -> "X"; anything else is returned as is.
std::string remove_boxed(const std::string& s);
// The X of "Final Answer: The final answer is X. I hope it is correct." (Minerva's format),
// or "[invalidanswer]".
std::string minerva_final_answer(const std::string& response);
// The answer a response gives: the Minerva final-answer line, else the last \boxed{}, else
// `fallback`. Not yet normalised.
std::string extract_math_answer(const std::string& response, const std::string& fallback = "[invalidanswer]");

// Minerva's normalize_final_answer (Lewkowycz et al. 2022, appendix D): keeps what follows the
// last '=', drops units and filler words, unwraps $...$, \text{}, \textbf{}, \overline{},
// \boxed{}, expands \fracab and \sqrta shorthand, removes '$' and thousands separators.
std::string normalize_final_answer(const std::string& answer);
// What packbench compares: \left and \right sizing removed first (Minerva's list of removed
// units contains "ft", which turns "\left(" into "\le("), then normalize_final_answer.
std::string normalize_math_answer(const std::string& answer);
// Hendrycks et al.'s strip_string from the MATH repository (math_equivalence.py): removes
// spacing, \left/\right, \!, degrees, \%, trailing \text{ units}, short "k=" prefixes; rewrites
// dfrac/tfrac, \fracab, a/b and 0.5 to \frac{a}{b}. nullopt where the original raises.
std::optional<std::string> hendrycks_strip_string(const std::string& s);

// The gold answer of a MATH solution as lm-eval computes it, with packbench's normaliser:
// normalize_math_answer(remove_boxed(last_boxed_only_string(solution))); "" when no box.
std::string math_gold_answer(const std::string& solution);

// True when two normalised answers denote the same value: equal strings, equal after
// hendrycks_strip_string, or equal after evaluating both as LaTeX expressions (numbers,
// \frac, \sqrt, ^, \pi, implicit products, variables tried at several random points) with
// tuples/intervals compared element by element and bracket by bracket. See evals/README.md for
// how this differs from sympy.
bool is_equiv(const std::string& a, const std::string& b);

// The numeric value of a LaTeX expression with no variables, or nullopt (for tests).
std::optional<double> evaluate_latex_number(const std::string& expr);

}  // namespace packbench::evals
