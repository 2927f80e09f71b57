// Test helpers: Python langdetect (seed 0) as the reference for packbench's port, and the comparison of the two.
#pragma once

#include "core/error.h"
#include "evals/ifeval/ifeval_text.h"
#include "evals/ifeval/langdetect.h"
#include "tests/common/test_paths.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace packbench::testing {

// Debian's python3 when it can import langdetect, else "".
inline std::string langdetect_python() {
  static const std::string found = [] {
    const std::string python = "/usr/bin/python3";
    std::string out;
    if (run_command("'" + python + "' -c 'import langdetect' > /dev/null", &out) != 0) return std::string();
    return python;
  }();
  return found;
}

// The shared detector, or nullptr (with the reason in *why) when langdetect's profiles are absent.
inline const evals::langdetect::Detector* langdetect_detector(std::string* why) {
  try {
    return &evals::langdetect::Detector::shared();
  } catch (const Error& e) {
    *why = e.what();
    return nullptr;
  }
}

// Runs `script` with `python`; the script reads the JSON in argv[1] and prints JSON on stdout.
inline nlohmann::json run_python_json(const std::string& python, const std::string& script, const std::string& input) {
  const std::string dir = temp_dir("pyref");
  std::ofstream(dir + "/script.py") << script;
  std::ofstream(dir + "/input.json", std::ios::binary) << input;
  std::string log;
  int rc = run_command("'" + python + "' '" + dir + "/script.py' '" + dir + "/input.json' > '" + dir + "/out.json'", &log);
  if (rc != 0) throw std::runtime_error("python reference failed (" + std::to_string(rc) + "): " + log);
  std::ifstream in(dir + "/out.json", std::ios::binary);
  return nlohmann::json::parse(in);
}

// Python langdetect's detect_langs(text) with DetectorFactory.seed = 0 for each text: null where
// it raises LangDetectException, else [[lang, prob], ...] best first.
using LangdetectReference = nlohmann::json;
inline LangdetectReference langdetect_reference(const std::string& python, const std::vector<std::string>& texts) {
  const std::string script =
      "import json, sys\n"
      "from langdetect import DetectorFactory, detect_langs, LangDetectException\n"
      "DetectorFactory.seed = 0\n"
      "out = []\n"
      "for t in json.load(open(sys.argv[1], encoding='utf-8')):\n"
      "    try:\n"
      "        out.append([[l.lang, l.prob] for l in detect_langs(t)])\n"
      "    except LangDetectException:\n"
      "        out.append(None)\n"
      "print(json.dumps(out))\n";
  nlohmann::json input = texts;
  return run_python_json(python, script, input.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// Every text: the same outcome (exception or not), the same languages in the same order, and
// probabilities within 1e-9; prints how many agree to the last bit.
inline void expect_same_as_reference(const evals::langdetect::Detector& detector, const std::vector<std::string>& texts,
                                     const LangdetectReference& ref, const std::string& label) {
  ASSERT_EQ(ref.size(), texts.size());
  int exact = 0, raised = 0, differ = 0;
  double worst = 0.0;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto ours = detector.probabilities(texts[i], 0);
    const std::string shown = label + " " + std::to_string(i) + ": \"" + texts[i].substr(0, 80) + "\"";
    if (ref[i].is_null()) {
      ++raised;
      EXPECT_FALSE(ours.has_value()) << shown << ": Python raises LangDetectException";
      continue;
    }
    if (!ours) {
      ADD_FAILURE() << shown << ": no features here, but Python detects " << ref[i].dump();
      ++differ;
      continue;
    }
    bool same = ours->size() == ref[i].size();
    bool bit_exact = same;
    for (size_t k = 0; same && k < ours->size(); ++k) {
      const std::string lang = ref[i][k][0].get<std::string>();
      const double p = ref[i][k][1].get<double>();
      if ((*ours)[k].lang != lang) same = false;
      double d = std::fabs((*ours)[k].prob - p);
      worst = std::max(worst, d);
      if (d > 1e-9) same = false;
      if (d != 0.0) bit_exact = false;
    }
    if (!same) {
      ++differ;
      std::string got;
      for (const auto& lp : *ours) got += lp.lang + ":" + std::to_string(lp.prob) + " ";
      ADD_FAILURE() << shown << ": packbench " << got << "; Python " << ref[i].dump();
    }
    exact += bit_exact ? 1 : 0;
  }
  std::cout << label << ": " << texts.size() << " texts, " << raised << " without features (both), " << exact
            << " with bit-identical probabilities, " << differ << " different; largest difference " << worst << "\n";
  EXPECT_EQ(differ, 0);
}

}  // namespace packbench::testing

// Skips the current test with a message when Debian's python3 cannot import langdetect.
#define PB_REQUIRE_LANGDETECT_PYTHON(var)                                                   \
  const std::string var = ::packbench::testing::langdetect_python();                        \
  if (var.empty()) GTEST_SKIP() << "/usr/bin/python3 with langdetect not found: install python3-langdetect"
// Skips the current test with a message when langdetect's profiles are not installed.
#define PB_REQUIRE_LANGDETECT(var)                                                          \
  std::string var##_why;                                                                    \
  const ::packbench::evals::langdetect::Detector* var = ::packbench::testing::langdetect_detector(&var##_why); \
  if (!var) GTEST_SKIP() << var##_why
