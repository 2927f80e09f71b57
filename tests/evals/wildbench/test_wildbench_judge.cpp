// WildBench judge prompt (template v2 filled as the official code fills it) and verdict parsing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "evals/wildbench/wildbench_data.h"
#include "evals/wildbench/wildbench_judge.h"
#include "tests/common/test_paths.h"

namespace pt = packbench::testing;
namespace wb = packbench::evals::wildbench;
using ::testing::HasSubstr;

namespace {

std::vector<wb::Task> mini() { return wb::load_tasks(pt::fixtures_dir() + "/wildbench/mini_tasks.jsonl"); }

}  // namespace

TEST(WildBenchJudge, ShippedTemplateIsTheOfficialFile) {
  const std::string t = wb::load_score_template();
  EXPECT_EQ(t.size(), 2243u);  // allenai/WildBench evaluation/eval_template.score.v2.md, 2,243 bytes
  EXPECT_EQ(t.rfind("# Instruction \n\nYou are an expert evaluator.", 0), 0u);
  EXPECT_THAT(t, HasSubstr("<|end_of_history|> \n"));  // trailing spaces are part of the prompt
  EXPECT_EQ(t.substr(t.size() - 3), "```");
}

TEST(WildBenchJudge, TwoTurnPromptEqualsTheOneBuiltByTheOfficialLogic) {
  const auto tasks = mini();
  const std::string out = "Cold snow on the roof\nthe garden sleeps in silence\nwhite clouds drift away";
  const std::string got = wb::fill_score_prompt(wb::load_score_template(), tasks[1], out);
  const std::string want = packbench::read_file(pt::fixtures_dir() + "/wildbench/expected_prompt_mini-0002.txt");
  EXPECT_EQ(got, want);
  // The pieces by hand: earlier turns as USER:/ASSISTANT: blocks, the last query alone, the checklist as a list.
  EXPECT_THAT(got, HasSubstr("<|begin_of_history|>\n\nUSER: Write a haiku about rain.\n\nASSISTANT: Soft rain on the "
                             "roof\nthe garden drinks quietly\nclouds move to the east\n\n\n\n<|end_of_history|> \n"));
  EXPECT_THAT(got, HasSubstr("<|begin_of_query|>\n\nNow make it about snow.\n\n<|end_of_query|>"));
  EXPECT_THAT(got, HasSubstr("<|begin_of_checklist|>\n\n- Is it a haiku (5-7-5)?\n- Is it about snow?\n\n\n<|end_of_checklist|>"));
  // A single-turn task has an empty history.
  EXPECT_THAT(wb::fill_score_prompt(wb::load_score_template(), tasks[0], "2 and 3"),
              HasSubstr("<|begin_of_history|>\n\n\n\n<|end_of_history|>"));
}

TEST(WildBenchJudge, ReplacementFollowsPythonStrReplaceInOrder) {
  // A query that itself holds a later placeholder is filled again, as str.replace chains do.
  wb::Task t;
  t.session_id = "x";
  t.conversation_input = {{"user", "say {$model_output}"}};
  t.checklist = {"a"};
  const std::string p = wb::fill_score_prompt("{$history}|{$user_query}|{$model_output}|{$checklist}", t, "OUT");
  EXPECT_EQ(p, "|say OUT|OUT|- a\n");
  EXPECT_EQ(wb::replace_all("aaa", "aa", "b"), "ba");
}

TEST(WildBenchJudge, ShortenCutsOnSingleSpacesAsTheOfficialCode) {
  EXPECT_EQ(wb::shorten("a b c d", 2), "a b... (truncated)");
  EXPECT_EQ(wb::shorten("a b", 2), "a b");
  EXPECT_EQ(wb::shorten("a  b", 2), "a ... (truncated)");  // "a  b".split(" ") = ["a", "", "b"]
  EXPECT_EQ(wb::shorten("a b c d", -1), "a b c d");
}

TEST(WildBenchJudge, BlankOutputsAndTheFixedVerdict) {
  EXPECT_TRUE(wb::is_blank(" \n\t"));
  EXPECT_TRUE(wb::is_blank("\xc2\xa0\xe3\x80\x80"));  // NBSP, ideographic space: str.strip() removes them
  EXPECT_FALSE(wb::is_blank(" x "));
  auto v = wb::parse_verdict(wb::empty_output_verdict());
  ASSERT_TRUE(v.score);
  EXPECT_EQ(*v.score, 1.0);
  EXPECT_EQ(v.parsed_result["weaknesses"], "The model output is empty.");
}

TEST(WildBenchJudge, RequestIsTemperatureZeroWithTheOfficialTokenLimit) {
  auto b = wb::judge_request_body("gpt-4o-2024-05-13", "PROMPT", wb::JudgeOptions{});
  EXPECT_EQ(b["temperature"], 0.0);
  EXPECT_EQ(b["max_tokens"], 1024);
  EXPECT_EQ(b["response_format"]["type"], "json_object");
  ASSERT_EQ(b["messages"].size(), 1u);
  EXPECT_EQ(b["messages"][0]["role"], "user");
  EXPECT_EQ(b["messages"][0]["content"], "PROMPT");
}

TEST(WildBenchJudge, VerdictsParsedAsTheOfficialCode) {
  // Plain JSON (with surrounding whitespace).
  auto v = wb::parse_verdict("  {\"strengths\": \"s\", \"weaknesses\": \"w\", \"score\": \"7\"}\n");
  EXPECT_EQ(v.method, "json");
  ASSERT_TRUE(v.score);
  EXPECT_EQ(*v.score, 7.0);
  EXPECT_EQ(*v.score_text, "7");
  // A number score works too (float(7)).
  v = wb::parse_verdict(R"({"score": 8})");
  ASSERT_TRUE(v.score);
  EXPECT_EQ(*v.score, 8.0);
  // A ```json fence is not JSON: the score is extracted by the regular expression.
  v = wb::parse_verdict("Here you go:\n```json\n{\n  \"strengths\": \"ok\",\n  \"weaknesses\": \"none\",\n  \"score\": \"6\"\n}\n```");
  EXPECT_EQ(v.method, "extracted");
  ASSERT_TRUE(v.score);
  EXPECT_EQ(*v.score, 6.0);
  EXPECT_FALSE(v.parsed_result.contains("strengths"));  // only score and choice are extracted
  // Broken JSON with a quoted score: extracted.
  v = wb::parse_verdict(R"({"strengths": "it says "hi"", "score": "3")");
  ASSERT_TRUE(v.score);
  EXPECT_EQ(*v.score, 3.0);
  // Unquoted score in broken JSON: the official extraction (allow_no_quotes=False) finds nothing.
  v = wb::parse_verdict(R"({"score": 5, oops)");
  EXPECT_FALSE(v.score);
  EXPECT_THAT(v.problem, HasSubstr("score"));
  // No score at all, a placeholder score, random text: unparsable, nothing guessed.
  EXPECT_FALSE(wb::parse_verdict(R"({"strengths": "a"})").score);
  EXPECT_FALSE(wb::parse_verdict(R"({"score": "[1~10]"})").score);
  v = wb::parse_verdict("tok tok 7 out of 10");
  EXPECT_FALSE(v.score);
  EXPECT_EQ(v.method, "none");
}
