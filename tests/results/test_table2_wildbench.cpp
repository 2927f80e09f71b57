// Table 2 from WildBench results as `packbench wildbench run` writes them: scores, n/a with the reason, caveats, unparsable counts.
#include <gtest/gtest.h>

#include "results/cell_record.h"
#include "results/study_tables.h"
#include "results/table.h"

using namespace packbench::results;
using nlohmann::json;

namespace {

CellRecord cell(const std::string& method, const json& wildbench) {
  CellRecord c;
  c.cell_id = "mini-s-" + method;
  c.model = "mini-s";
  c.dataset = "Synth";
  c.method = method;
  if (!wildbench.is_null()) c.evals["wildbench"] = wildbench;
  return c;
}

bool has_note(const Table& t, const std::string& text) {
  for (const auto& n : t.notes)
    if (n.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST(Table2WildBench, ScoresFillTheTableWithDeltasAndCaveats) {
  Table t = build_table2({cell("padding", {{"score,none", 12.5}, {"score_stderr,none", 1.0}, {"judged,none", 5},
                                           {"unparsable,none", 1}, {"note", "the judge is a mini model"}}),
                          cell("greedy", {{"score,none", 20.0}, {"judged,none", 5}, {"unparsable,none", 0},
                                          {"note", "the judge is a mini model"}})});
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_DOUBLE_EQ(*t.rows[0].values[0], 12.5);
  EXPECT_DOUBLE_EQ(*t.rows[1].values[0], 20.0);
  const std::string md = to_markdown(t);
  EXPECT_NE(md.find("20.00 (+7.50)"), std::string::npos) << md;
  EXPECT_TRUE(has_note(t, "WildBench: the judge is a mini model."));  // said once, not per cell
  EXPECT_TRUE(has_note(t, "1 of 10 WildBench verdicts were unparsable"));
}

TEST(Table2WildBench, NoJudgeShowsNaWithTheReason) {
  const json skipped = {{"skipped", "no judge configured (set eval.judge: {url, model, api_key_env} in the study config)"}};
  Table t = build_table2({cell("padding", skipped), cell("random", skipped)});
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_FALSE(t.rows[0].values[0].has_value());
  EXPECT_TRUE(has_note(t, "WildBench n/a: no judge configured"));
  EXPECT_FALSE(has_note(t, "WB-Score ="));
}

TEST(Table2WildBench, AllVerdictsUnparsableLeavesTheCellEmpty) {
  Table t = build_table2({cell("padding", {{"score,none", nullptr}, {"judged,none", 5}, {"unparsable,none", 5}})});
  EXPECT_FALSE(t.rows[0].values[0].has_value());
  EXPECT_TRUE(has_note(t, "5 of 5 WildBench verdicts were unparsable"));
}
