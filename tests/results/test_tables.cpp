// Table schema and printers on hand-made cells: deltas, averages, missing values, escaping, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "results/cell_record.h"
#include "results/study_tables.h"
#include "tests/common/test_paths.h"

using namespace packbench::results;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

CellRecord make_cell(const std::string& model, const std::string& method, double base) {
  CellRecord c;
  c.cell_id = model + "-" + method;
  c.model = model;
  c.dataset = "Synth, chat";
  c.dataset_size = "2K";
  c.method = method;
  c.evals["mmlu"]["acc,none"] = base;
  c.evals["gsm8k"]["exact_match,strict-match"] = base + 0.1;
  c.evals["math"]["exact_match,none"] = 0.05;
  c.evals["bbh"]["exact_match,get-answer"] = 0.5;
  c.evals["ifeval"]["prompt_level_strict_acc,none"] = 0.25;
  c.evals["humaneval"]["pass@1,create_test"] = 0.0;
  c.train = {{"epoch", 2.0}, {"global_step", 10}, {"train_runtime", 100.0 * base},
             {"train_steps_per_second", 0.1}, {"train_samples_per_second", 1.6}};
  return c;
}

void write_json(const fs::path& p, const json& j) { packbench::write_file_atomic(p.string(), j.dump()); }

}  // namespace

TEST(Tables, Table1AverageAndDeltasByHand) {
  std::vector<CellRecord> cells = {make_cell("tiny", "greedy", 0.40), make_cell("tiny", "padding", 0.30)};
  Table t = build_table1(cells);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].label, "Padding");  // padding sorts first whatever the input order
  EXPECT_EQ(t.rows[1].label, "Greedy Packing");
  // Padding: 30, 40, 5, 50, 25, 0 -> avg 150/6 = 25.
  EXPECT_NEAR(*t.rows[0].values[6], 25.0, 1e-9);
  // Greedy: 40, 50, 5, 50, 25, 0 -> avg 170/6.
  EXPECT_NEAR(*t.rows[1].values[6], 170.0 / 6, 1e-9);
  EXPECT_NEAR(*t.rows[1].deltas[0], 10.0, 1e-9);
  EXPECT_NEAR(*t.rows[1].deltas[6], 20.0 / 6, 1e-9);
  EXPECT_FALSE(t.rows[0].deltas[0].has_value());
}

TEST(Tables, MissingBenchmarkLeavesAvgEmptyAndSaysWhy) {
  auto c = make_cell("tiny", "padding", 0.3);
  c.evals.erase("humaneval");
  Table t = build_table1({c});
  EXPECT_FALSE(t.rows[0].values[5].has_value());
  EXPECT_FALSE(t.rows[0].values[6].has_value());
  std::string md = to_markdown(t);
  EXPECT_NE(md.find("not evaluated"), std::string::npos) << md;
}

TEST(Tables, Table3TimeDeltaIsLowerBetterInHtml) {
  std::vector<CellRecord> cells = {make_cell("tiny", "padding", 0.5), make_cell("tiny", "random", 0.2)};
  Table t = build_table3(cells);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_NEAR(*t.rows[1].deltas[2], -30.0, 1e-9);  // 20 s vs 50 s
  std::string html = to_html(t);
  // Shorter training time is an improvement: blue ("up" class), not red.
  EXPECT_NE(html.find("<span class=\"up\">(-30.00000)</span>"), std::string::npos) << html;
  EXPECT_EQ(html.find("class=\"down\""), std::string::npos);
}

TEST(Tables, CsvIsFlatAndQuoted) {
  Table t = build_table3({make_cell("tiny", "padding", 0.5)});
  std::string csv = to_csv(t);
  std::string first_line = csv.substr(0, csv.find('\n'));
  EXPECT_EQ(first_line.rfind("dataset,model,method,epoch,total_steps,train_runtime", 0), 0u) << first_line;
  EXPECT_NE(csv.find("\"Synth, chat Dataset, Size: 2K\",tiny,Padding,2.0000,10.0000,50.000000000"), std::string::npos)
      << csv;
}

TEST(Tables, MarkdownAndLatexHaveGroupsAndRows) {
  Table t = build_table1({make_cell("tiny", "padding", 0.3), make_cell("tiny", "random", 0.35)});
  std::string md = to_markdown(t);
  EXPECT_NE(md.find("| **Synth, chat Dataset, Size: 2K**"), std::string::npos) << md;
  EXPECT_NE(md.find("| *tiny*"), std::string::npos) << md;
  EXPECT_NE(md.find("| Random Packing | 35.00 (+5.00)"), std::string::npos) << md;
  std::string tex = to_latex(t);
  EXPECT_NE(tex.find("\\begin{tabular}"), std::string::npos);
  EXPECT_NE(tex.find("Random Packing & 35.00 (+5.00)"), std::string::npos) << tex;
}

TEST(Tables, Table2WithoutJudgeSaysSo) {
  Table t = build_table2({make_cell("tiny", "padding", 0.3)});
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_FALSE(t.rows[0].values[0].has_value());
  ASSERT_FALSE(t.notes.empty());
  EXPECT_NE(t.notes[0].find("judge"), std::string::npos);
}

TEST(Tables, UnknownTableNumberIsAnError) { EXPECT_THROW(build_table(4, {}), packbench::Error); }

TEST(CellFolders, LoadsEveryStageFile) {
  fs::path root = packbench::testing::temp_dir("cells");
  fs::path d = root / "m1" / "tiny__synth__greedy";
  write_json(d / "cell.json", {{"cell_id", "tiny__synth__greedy"}, {"model", "tiny"}, {"dataset", "synth"},
                               {"dataset_size", "1K"}, {"method", "greedy"}});
  write_json(d / "data_stats.json", {{"rows", 12}, {"padding_fraction", 0.01}});
  write_json(d / "train" / "trainer_state.json", {{"global_step", 7}, {"epoch", 1.0}, {"log_history", json::array()}});
  write_json(d / "train" / "train_results.json", {{"train_runtime", 3.5}, {"epoch", 1.0}});
  write_json(d / "eval" / "gsm8k" / "results.json",
             {{"results", {{"gsm8k", {{"exact_match,strict-match", 0.25}}}}}});
  auto cells = load_cells(root.string());
  ASSERT_EQ(cells.size(), 1u);
  const auto& c = cells[0];
  EXPECT_EQ(c.method, "greedy");
  EXPECT_EQ(*c.train_metric("global_step"), 7);
  EXPECT_EQ(*c.train_metric("train_runtime"), 3.5);
  EXPECT_FALSE(c.train.contains("log_history"));
  EXPECT_EQ(*c.eval_metric("gsm8k", {"exact_match,strict-match"}), 0.25);
  Table t3 = build_table3(cells);
  EXPECT_NEAR(*t3.rows[0].values[6], 1.0, 1e-9);  // padding fraction from data_stats, in percent
}

TEST(CellFolders, BadJsonNamesTheFile) {
  fs::path d = packbench::testing::temp_dir("badcell");
  write_json(d / "cell.json", {{"cell_id", "x"}, {"model", "tiny"}, {"dataset", "synth"}, {"method", "padding"}});
  packbench::write_file_atomic((d / "train" / "train_results.json").string(), "{\"train_runtime\": 3.5,");
  try {
    load_cell(d.string());
    FAIL() << "expected an error";
  } catch (const packbench::Error& e) {
    EXPECT_NE(std::string(e.what()).find("train_results.json"), std::string::npos) << e.what();
  }
}

TEST(CellFolders, MissingRequiredFieldIsNamed) {
  fs::path d = packbench::testing::temp_dir("nofield");
  write_json(d / "cell.json", {{"cell_id", "x"}, {"dataset", "synth"}, {"method", "padding"}});
  try {
    load_cell(d.string());
    FAIL() << "expected an error";
  } catch (const packbench::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'model'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cell.json"), std::string::npos) << e.what();
  }
}

// `packbench eval` reports MATH under lm-eval's task name, minerva_math.
TEST(Tables, MathResultsUnderTheMinervaNameFillTheMathColumn) {
  auto c = make_cell("tiny", "padding", 0.3);
  c.evals.erase("math");
  c.evals["minerva_math"]["exact_match,none"] = 0.125;
  Table t = build_table1({c});
  ASSERT_TRUE(t.rows[0].values[2].has_value());
  EXPECT_NEAR(*t.rows[0].values[2], 12.5, 1e-9);
  EXPECT_TRUE(t.rows[0].values[6].has_value());
}

TEST(Tables, RenderPicksThePrinterByFormatName) {
  Table t = build_table3({make_cell("tiny", "padding", 0.5)});
  EXPECT_EQ(render(t, "csv"), to_csv(t));
  EXPECT_EQ(render(t, "html"), to_html(t));
  EXPECT_THROW(render(t, "pdf"), packbench::Error);
}

// ---- seeds and noise ----------------------------------------------------------------------------

namespace {

// Two seeds of one method: MMLU `a` and `b` (fractions), each with a document standard error of 0.02.
std::vector<CellRecord> two_seeds(const std::string& method, double a, double b) {
  std::vector<CellRecord> out;
  int seed = 1;
  for (double v : {a, b}) {
    auto c = make_cell("tiny", method, v);
    c.cell_id += "-seed" + std::to_string(seed);
    c.cell["seed"] = seed++;
    c.evals["mmlu"]["acc_stderr,none"] = 0.02;
    c.evals["ifeval"]["prompt_level_strict_acc_stderr,none"] = 0.05;
    out.push_back(c);
  }
  return out;
}

std::vector<CellRecord> seeded_cells() {
  auto cells = two_seeds("padding", 0.30, 0.34);
  auto greedy = two_seeds("greedy", 0.40, 0.44);
  cells.insert(cells.end(), greedy.begin(), greedy.end());
  return cells;
}

}  // namespace

// By hand: padding MMLU 30, 34 -> 32 ± 2.828 (sample std); greedy 40, 44 -> 42 ± 2.828. Each
// row's noise: sqrt(2.828^2 / 2 + 2^2) = 2.828; the delta's: sqrt(8 + 8) = 4, and 10 > 2 x 4.
TEST(Seeds, Table1MeansStdsAndNoiseByHand) {
  Table t = build_table1(seeded_cells());
  ASSERT_EQ(t.rows.size(), 2u);  // seeds merge into one row per method
  const TableRow& pad = t.rows[0];
  const TableRow& greedy = t.rows[1];
  EXPECT_NEAR(*pad.values[0], 32.0, 1e-9);
  EXPECT_NEAR(*pad.stds[0], std::sqrt(8.0), 1e-9);
  EXPECT_EQ(pad.counts[0], 2);
  EXPECT_NEAR(*pad.stderrs[0], 2.0, 1e-9);
  EXPECT_NEAR(*greedy.deltas[0], 10.0, 1e-9);
  EXPECT_NEAR(*greedy.delta_ses[0], 4.0, 1e-9);
  EXPECT_TRUE(*greedy.beyond_noise[0]);
  // IFEval: 25 in every run, standard error 5 each -> delta 0 with SE sqrt(50): within the noise.
  EXPECT_NEAR(*greedy.delta_ses[4], std::sqrt(50.0), 1e-9);
  EXPECT_FALSE(*greedy.beyond_noise[4]);
  // MATH: 5 in every run and no document standard error: a zero-noise estimate from two seeds.
  EXPECT_NEAR(*greedy.delta_ses[2], 0.0, 1e-12);
  EXPECT_NEAR(*pad.stds[2], 0.0, 1e-12);  // 5 and 5: a std of 0 is still a measured spread
}

TEST(Seeds, EveryFormatShowsSpreadAndNoise) {
  Table t = build_table1(seeded_cells());
  std::string md = to_markdown(t);
  EXPECT_NE(md.find("| Padding | 32.00 ± 2.83 [2.00] |"), std::string::npos) << md;
  EXPECT_NE(md.find("| Greedy Packing | 42.00 ± 2.83 [2.00] (+10.00)* |"), std::string::npos) << md;
  EXPECT_NE(md.find("25.00 ± 0.00 [5.00] (+0.00) |"), std::string::npos) << md;  // IFEval: no star
  EXPECT_NE(md.find("standard deviation over up to 2 seeds"), std::string::npos) << md;
  std::string csv = to_csv(t);
  std::string header = csv.substr(0, csv.find('\n'));
  EXPECT_NE(header.find(",mmlu_std,"), std::string::npos) << header;
  EXPECT_NE(header.find(",mmlu_n,"), std::string::npos) << header;
  EXPECT_NE(header.find(",mmlu_stderr,"), std::string::npos) << header;
  EXPECT_NE(header.find(",mmlu_delta_se,"), std::string::npos) << header;
  EXPECT_NE(header.find(",mmlu_delta_beyond_noise,"), std::string::npos) << header;
  EXPECT_EQ(header.rfind("dataset,model,method,mmlu,gsm8k", 0), 0u) << header;  // values first, as before
  EXPECT_NE(csv.find(",2.828427,"), std::string::npos) << csv;
  std::string tex = to_latex(t);
  EXPECT_NE(tex.find("32.00 $\\pm$ 2.83 [2.00]"), std::string::npos) << tex;
  std::string html = to_html(t);
  EXPECT_NE(html.find("<span class=\"sd\">± 2.83</span> <span class=\"se\">[2.00]</span>"), std::string::npos) << html;
  EXPECT_NE(html.find("<span class=\"up\">(+10.00)*</span>"), std::string::npos) << html;
  EXPECT_NE(html.find("class=\"noise\""), std::string::npos) << html;
}

TEST(Seeds, Table3AveragesSeedsAndKeepsSingleRunTablesAsBefore) {
  auto a = make_cell("tiny", "padding", 0.5), b = make_cell("tiny", "padding", 0.7);
  a.cell["seed"] = 1;
  b.cell["seed"] = 2;
  Table t = build_table3({a, b});
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_NEAR(*t.rows[0].values[2], 60.0, 1e-9);  // train_runtime 50 and 70
  EXPECT_NEAR(*t.rows[0].stds[2], std::sqrt(200.0), 1e-9);
  // One run per row: no spread columns, no notes about them.
  Table single = build_table3({make_cell("tiny", "padding", 0.5)});
  EXPECT_EQ(to_csv(single).find("_std"), std::string::npos);
  EXPECT_EQ(to_markdown(single).find("±"), std::string::npos);
}
