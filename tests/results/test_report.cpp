// The study report: loss curves against tokens seen, the time identity, and the page as headless Chromium renders it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <regex>

#include "core/atomic_file.h"
#include "results/study_report.h"
#include "results/svg_chart.h"
#include "tests/common/test_paths.h"

using namespace packbench::results;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

void write_json(const fs::path& p, const json& j) { packbench::write_file_atomic(p.string(), j.dump()); }

// A matrix folder written by hand: one model, one dataset, padding and greedy, two seeds each.
std::string make_runs() {
  fs::path runs = packbench::testing::temp_dir("report");
  for (const char* method : {"padding", "greedy"}) {
    for (int seed : {1, 2}) {
      const bool pad = std::string(method) == "padding";
      std::string id = std::string("tiny__synth__") + method + "__seed" + std::to_string(seed);
      fs::path d = runs / id;
      write_json(d / "cell.json", {{"cell_id", id}, {"model", "tiny"}, {"dataset", "Synth"}, {"dataset_size", "160"},
                                   {"method", method}, {"seed", seed}, {"study", "handmade"},
                                   {"model_index", 0}, {"dataset_index", 0}});
      const int steps = pad ? 18 : 12;
      json history = json::array();
      for (int s = 2; s <= steps; s += 2) history.push_back({{"step", s}, {"loss", 6.0 - 0.05 * s - 0.01 * seed}});
      write_json(d / "train" / "trainer_state.json", {{"global_step", steps}, {"epoch", 1.0}, {"log_history", history}});
      const double runtime = pad ? 8.0 + seed : 5.0 + seed;
      write_json(d / "train" / "train_results.json",
                 {{"epoch", 1.0}, {"global_step", steps}, {"train_runtime", runtime},
                  {"train_steps_per_second", std::round(steps / runtime * 1000) / 1000},
                  {"train_samples_per_second", 144 / runtime}, {"train_tokens", 20000.0},
                  {"train_tokens_per_second", 20000.0 / runtime}, {"padding_fraction", pad ? 0.33 : 0.09}});
      write_json(d / "data_stats.json", {{"samples", 160}, {"rows", pad ? 160 : 103}, {"train_rows", pad ? 144 : 92},
                                         {"total_steps", steps}, {"padding_fraction", pad ? 0.34 : 0.095},
                                         {"truncated_samples", pad ? 8 : 0}, {"dropped_samples", pad ? 0 : 8}});
      write_json(d / "eval" / "results.json",
                 {{"results",
                   {{"ifeval", {{"prompt_level_strict_acc,none", pad ? 0.25 : 0.5}, {"prompt_level_strict_acc_stderr,none", 0.2}}},
                    {"gsm8k", {{"exact_match,strict-match", 0.0}, {"exact_match_stderr,strict-match", 0.0}}}}}});
    }
  }
  packbench::write_file_atomic((runs / "study.yaml").string(), "# resolved from hand\nname: handmade\n");
  write_json(runs / "env.json", {{"host", "test-host"}, {"cpus", 2}});
  return runs.string();
}

std::string paper_readme() {
  std::string b = packbench::testing::shared_benchmarks();
  if (b.empty()) return "";
  fs::path p = fs::path(b).parent_path() / "paper" / "packing-analysis-README.md";
  return fs::exists(p) ? p.string() : "";
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// Chromium from Debian, installed when missing and this process may (root with apt-get).
std::string chromium_or_why(std::string* why) {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (access(p, X_OK) == 0) return p;
  }
  if (geteuid() != 0 || access("/usr/bin/apt-get", X_OK) != 0) {
    *why = "chromium is not installed (apt-get install chromium)";
    return "";
  }
  std::string out;
  const std::string install = "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium";
  if (packbench::testing::run_command(install, &out) != 0 &&
      packbench::testing::run_command("apt-get update && " + install, &out) != 0) {
    *why = "apt-get install chromium failed: " + out.substr(out.size() > 400 ? out.size() - 400 : 0);
    return "";
  }
  return access("/usr/bin/chromium", X_OK) == 0 ? "/usr/bin/chromium" : "";
}

}  // namespace

// By hand: 20000 real tokens over 18 steps -> 1111.1 tokens per step; the entry at step 4 has
// seen 4444.4 tokens. An entry that records num_input_tokens_seen is drawn there instead.
TEST(Report, LossCurveIsAgainstTokensSeen) {
  CellRecord c;
  c.train = {{"global_step", 18}, {"train_tokens", 20000.0}};
  c.log_history = json::array({{{"step", 2}, {"loss", 5.0}}, {{"step", 4}, {"loss", 4.5}},
                               {{"step", 4}, {"eval_loss", 4.7}}, {{"step", 6}, {"loss", 4.0}, {"num_input_tokens_seen", 7000}}});
  auto pts = loss_curve(c);
  ASSERT_EQ(pts.size(), 3u);  // the eval entry has no training loss
  EXPECT_NEAR(pts[0].first, 2 * 20000.0 / 18, 1e-9);
  EXPECT_NEAR(pts[1].first, 4 * 20000.0 / 18, 1e-9);
  EXPECT_DOUBLE_EQ(pts[1].second, 4.5);
  EXPECT_DOUBLE_EQ(pts[2].first, 7000.0);
}

// Total Training Time = Total Steps / Steps per Second: 12 steps at 0.6 steps/s is 20 s.
TEST(Report, TimeIdentityRatio) {
  CellRecord a, b;
  a.cell_id = "a";
  a.train = {{"global_step", 12}, {"train_steps_per_second", 0.6}, {"train_runtime", 20.0}};
  b.cell_id = "b";
  b.train = {{"global_step", 12}, {"train_steps_per_second", 0.6}, {"train_runtime", 2.0}};
  auto ids = measured_time_identity({a, b});
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_NEAR(ids[0].ratio, 1.0, 1e-12);
  EXPECT_NEAR(ids[1].ratio, 0.1, 1e-12);
}

TEST(Report, NiceTicksByHand) {
  EXPECT_EQ(nice_ticks(0, 97), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  auto t = nice_ticks(5.6, 6.2);  // range 0.6 / 5 = 0.12 -> steps of 0.2
  const std::vector<double> want = {5.6, 5.8, 6.0, 6.2};
  ASSERT_EQ(t.size(), want.size());
  for (size_t i = 0; i < t.size(); ++i) EXPECT_NEAR(t[i], want[i], 1e-9);
  EXPECT_EQ(short_number(23500), "23.5K");
  EXPECT_EQ(short_number(0.25), "0.25");
}

// The page holds the three tables, the paper's rows beside ours (when its README is here), the
// checks, one loss curve per cell, the throughput bars, the data table, config and machine.
TEST(Report, PageHasTablesChartsConfigAndMachine) {
  const std::string runs = make_runs();
  ReportOptions o{runs, paper_readme()};
  std::string h = build_report(o);
  EXPECT_NE(h.find("<table class=\"pb-table\" id=\"table1\">"), std::string::npos);
  EXPECT_NE(h.find("<table class=\"pb-table\" id=\"table2\">"), std::string::npos);
  EXPECT_NE(h.find("<table class=\"pb-table\" id=\"table3\">"), std::string::npos);
  EXPECT_EQ(count(h, "<polyline class=\"series\""), 4);  // 2 methods x 2 seeds
  EXPECT_EQ(count(h, "<rect class=\"bar\""), 8);         // tokens/s and time for 4 cells
  // IFEval: padding 25, greedy 50 in both seeds, standard error 20 each: the +25 delta has an SE
  // of sqrt(20^2 + 20^2) = 28.3, so it is printed as within the noise.
  EXPECT_NE(h.find("50.00 <span class=\"sd\">± 0.00</span> <span class=\"se\">[20.00]</span> <span class=\"noise\""),
            std::string::npos) << h;
  EXPECT_NE(h.find("name: handmade"), std::string::npos);
  EXPECT_NE(h.find("&quot;host&quot;: &quot;test-host&quot;"), std::string::npos);
  EXPECT_NE(h.find("id=\"identity-measured\""), std::string::npos);
  EXPECT_EQ(h.find("http://"), h.find("http://www.w3.org/2000/svg"));  // no link but the SVG namespace
  EXPECT_EQ(h.find("https://"), std::string::npos);
  EXPECT_EQ(h.find("<script"), std::string::npos);
  if (!o.paper_readme.empty()) {
    EXPECT_NE(h.find("<tr class=\"paper\"><td class=\"l\" title=\"WildChat (GPT-4) Dataset, Size: 69K, LLaMA-3-8B\">"),
              std::string::npos);
    EXPECT_NE(h.find("id=\"identity-paper\""), std::string::npos);
    EXPECT_NE(h.find("about one tenth"), std::string::npos);
    EXPECT_NE(h.find("id=\"directions\""), std::string::npos);
  }
  fs::remove(fs::path(runs) / "env.json");
  EXPECT_NE(build_report(o).find("not recorded (no env.json"), std::string::npos);
}

// Headless Chromium lays the page out: every table and chart has a size on screen. The
// screenshot is kept in the test's build folder (report-screenshot.png).
TEST(Report, RendersInHeadlessChromium) {
  std::string why;
  const std::string chromium = chromium_or_why(&why);
  if (chromium.empty()) GTEST_SKIP() << why;
  const std::string runs = make_runs();
  std::string page = build_report({runs, paper_readme()});
  // The test's copy counts what the browser drew (the report itself has no script).
  const std::string probe =
      "<script>window.addEventListener('load',()=>{const vis=s=>[...document.querySelectorAll(s)].filter("
      "e=>{const r=e.getBoundingClientRect();return r.width>0&&r.height>0;}).length;const d=document.createElement('div');"
      "d.id='render-check';d.textContent=`tables=${vis('table.pb-table')} charts=${vis('svg.chart')} "
      "curves=${vis('polyline.series')} bars=${vis('rect.bar')}`;document.body.appendChild(d);});</script>";
  page.insert(page.rfind("</body>"), probe);
  const std::string file = runs + "/report-probe.html";
  packbench::write_file_atomic(file, page);
  const std::string base = chromium + " --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir=" + runs +
                           "/chromium-profile --window-size=1300,3600 --virtual-time-budget=3000 ";
  std::string dom;
  ASSERT_EQ(packbench::testing::run_command(base + "--dump-dom file://" + file + " 2>/dev/null", &dom), 0) << dom;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, std::regex(R"(id="render-check">tables=(\d+) charts=(\d+) curves=(\d+) bars=(\d+)<)")))
      << dom.substr(0, 2000);
  const int tables = std::stoi(m[1]), charts = std::stoi(m[2]), curves = std::stoi(m[3]), bars = std::stoi(m[4]);
  EXPECT_GE(tables, 4);  // the three tables and the data table (more with the paper's checks)
  EXPECT_EQ(charts, 3);  // one loss chart (one model x dataset) and two bar charts
  EXPECT_EQ(curves, 4);
  EXPECT_EQ(bars, 8);
  const std::string shot = (fs::current_path() / "report-screenshot.png").string();
  std::string out;
  ASSERT_EQ(packbench::testing::run_command(base + "--screenshot=" + shot + " file://" + runs + "/report-probe.html", &out), 0)
      << out;
  ASSERT_TRUE(fs::exists(shot));
  EXPECT_GT(fs::file_size(shot), 50000u);  // a drawn page, not a blank one
  std::printf("report screenshot: %s\n", shot.c_str());
}
