// Filter pipelines and exact_match: lm-eval's gsm8k strict-match / flexible-extract and BBH get-answer.
#include <gtest/gtest.h>

#include "core/error.h"
#include "evals/filters.h"
#include "evals/regex.h"
#include "evals/task_config.h"

using namespace packbench::evals;

namespace {
const FilterPipeline& gsm8k_filter(const std::string& name) {
  for (const auto& f : gsm8k_task_config().filter_list) {
    if (f.name == name) return f;
  }
  throw std::runtime_error("no filter " + name);
}
const MetricSpec& gsm8k_metric() { return gsm8k_task_config().metric_list[0]; }
const FilterPipeline& bbh_filter() { return bbh_task_config().filter_list[0]; }
}  // namespace

TEST(Regex, FindallGroupsLikePython) {
  Regex re("(-?[$0-9.,]{2,})|(-?[0-9]+)");
  auto m = re.findall("I had 5 apples and $1,200.50 later, then -3");
  // Python: [('', '5'), ('$1,200.50', ''), ('', '-3')]
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0], (std::vector<std::string>{"", "5"}));
  EXPECT_EQ(m[1], (std::vector<std::string>{"$1,200.50", ""}));
  EXPECT_EQ(m[2], (std::vector<std::string>{"", "-3"}));
  EXPECT_EQ(Regex("\\.$").sub("18.\n", ""), "18\n");  // '$' before a final newline, as Python
  EXPECT_EQ(Regex("(?s).*#### ").sub("a\nb #### 7", ""), "7");
  EXPECT_EQ(Regex("(a)(b)").sub_groups("xaby", "<\\2\\1>"), "x<ba>y");
}

TEST(Regex, InvalidUtf8IsNotACrash) {
  Regex re("#### (\\-?[0-9\\.\\,]+)");
  auto m = re.findall(std::string("\xff\xfe #### 12 \xc3"));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0][0], "12");
}

TEST(Gsm8kStrict, TakesFirstHashAnswer) {
  const auto& f = gsm8k_filter("strict-match");
  EXPECT_EQ(apply_filter(f, "She has 3 + 4 = 7.\n#### 7"), "7");
  EXPECT_EQ(apply_filter(f, "#### 1,234.5 then #### 9"), "1,234.5");
  EXPECT_EQ(apply_filter(f, "#### -3"), "-3");
  EXPECT_EQ(apply_filter(f, "The answer is 7."), "[invalid]");
  EXPECT_EQ(apply_filter(f, "####7"), "[invalid]");  // the pattern needs the space
}

TEST(Gsm8kFlexible, TakesLastNumber) {
  const auto& f = gsm8k_filter("flexible-extract");
  EXPECT_EQ(apply_filter(f, "3 + 4 = 7. The answer is 7."), "7.");
  EXPECT_EQ(apply_filter(f, "It costs $1,200 in total"), "$1,200");
  EXPECT_EQ(apply_filter(f, "from 10 down to -4"), "-4");
  EXPECT_EQ(apply_filter(f, "no digits here"), "[invalid]");
  EXPECT_EQ(apply_filter(f, "x = 5"), "5");  // single digit through the second alternative
}

TEST(Gsm8kExactMatch, LmEvalNormalisations) {
  const auto& m = gsm8k_metric();
  const std::string gold = "Some reasoning <<2*3=6>> 6\n#### 1,200";
  EXPECT_EQ(exact_match_normalize(gold, m), "1200");
  EXPECT_TRUE(exact_match("1,200", gold, m));
  EXPECT_TRUE(exact_match("$1200.", gold, m));   // "$" and a final "." are ignored
  EXPECT_TRUE(exact_match("1200", gold, m));
  EXPECT_FALSE(exact_match("1200.0", gold, m));  // lm-eval compares strings, not values
  EXPECT_FALSE(exact_match("[invalid]", gold, m));
  EXPECT_TRUE(exact_match("#### 1200", gold, m));
  MetricSpec ci;
  ci.ignore_case = true;
  ci.ignore_punctuation = true;
  EXPECT_TRUE(exact_match("Yes!", "yes", ci));
}

TEST(BbhGetAnswer, TextAfterTheAnswerIsWithoutItsLastCharacter) {
  const auto& f = bbh_filter();
  EXPECT_EQ(apply_filter(f, "Step 1... So the answer is (B)."), "(B)");
  EXPECT_EQ(apply_filter(f, "So the answer is Yes."), "Yes");
  EXPECT_EQ(apply_filter(f, "So the answer is ] ] >."), "] ] >");
  EXPECT_EQ(apply_filter(f, "the answer is 24.\nthe answer is 25."), "24");  // take_first
  EXPECT_EQ(apply_filter(f, "So The Answer Is (B)."), "[invalid]");           // case-sensitive, as lm-eval
  EXPECT_EQ(apply_filter(f, "no answer"), "[invalid]");
  MetricSpec m = bbh_task_config().metric_list[0];
  EXPECT_TRUE(exact_match(apply_filter(f, "So the answer is (B)."), "(B)", m));
  EXPECT_FALSE(exact_match(apply_filter(f, "So the answer is (B)"), "(B)", m));  // no final char: "(B"
}

TEST(TemplateRendering, FieldsAndBraces) {
  EXPECT_EQ(render_template("Q: {q}\nA:", {{"q", "1 {x} 2"}}), "Q: 1 {x} 2\nA:");
  EXPECT_EQ(render_template("{{lit}} {a}", {{"a", "v"}}), "{lit} v");
  EXPECT_THROW(render_template("{missing}", {}), packbench::Error);
}

TEST(Filters, EmptyAndHugeResponses) {
  const auto& strict = gsm8k_filter("strict-match");
  const auto& flex = gsm8k_filter("flexible-extract");
  EXPECT_EQ(apply_filter(strict, ""), "[invalid]");
  EXPECT_EQ(apply_filter(flex, ""), "[invalid]");
  std::string huge(4 << 20, 'x');
  huge += " #### 42";
  EXPECT_EQ(apply_filter(strict, huge), "42");
  EXPECT_EQ(apply_filter(flex, huge), "42");
  std::string many;
  for (int i = 0; i < 200000; ++i) many += "1 ";
  EXPECT_EQ(apply_filter(flex, many + "7"), "7");
  EXPECT_EQ(apply_filter(bbh_filter(), std::string(1 << 20, 'a') + " the answer is (C)."), "(C)");
}
