// Synthetic SFT conversations in LLaMA-Factory's sharegpt format, for the CPU mini study and tests.
#include "harness/synth_data.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "core/atomic_file.h"
#include "core/error.h"

namespace packbench::cli {
namespace {

using Rng = std::mt19937_64;

const std::vector<std::string> kNames = {"Ada", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jon"};
const std::vector<std::string> kItems = {"apples", "books", "coins", "pencils", "stamps", "marbles", "cookies", "cards"};
const std::vector<std::string> kTopics = {"rivers", "volcanoes", "bridges", "bees", "comets", "forests",
                                          "harbors", "deserts", "glaciers", "libraries"};
const std::vector<std::string> kFacts = {
    "They change slowly over many years.",      "People have studied them for centuries.",
    "Their size varies a great deal.",          "Water plays an important role in their story.",
    "Scientists measure them with care.",       "Many cultures tell old stories about them.",
    "They can be found on every continent.",    "Small changes can have large effects on them.",
    "Engineers often learn from their shape.",  "Their history is written in layers.",
    "Weather affects them in surprising ways.", "Children often ask questions about them."};
const std::vector<std::string> kColors = {"red", "blue", "green", "yellow", "purple", "orange", "black", "white"};
const std::vector<std::pair<std::string, std::string>> kCategories = {
    {"fruit", "apple"}, {"animal", "horse"}, {"color", "green"}, {"planet", "Mars"}, {"metal", "iron"}};
const std::vector<std::string> kDistractors = {"chair", "cloud", "seven", "window", "river", "pencil", "song"};

int uniform(Rng& r, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(r); }
template <typename T>
const T& pick(Rng& r, const std::vector<T>& v) { return v[uniform(r, 0, static_cast<int>(v.size()) - 1)]; }

std::pair<std::string, std::string> arithmetic(Rng& r) {
  const std::string& who = pick(r, kNames);
  const std::string& what = pick(r, kItems);
  int a = uniform(r, 2, 60), b = uniform(r, 2, 40);
  if (uniform(r, 0, 1) == 0) {
    return {who + " has " + std::to_string(a) + " " + what + " and gets " + std::to_string(b) + " more. How many " +
                what + " does " + who + " have now?",
            who + " starts with " + std::to_string(a) + " " + what + " and gets " + std::to_string(b) + " more, so " +
                std::to_string(a) + " + " + std::to_string(b) + " = " + std::to_string(a + b) + ".\n#### " +
                std::to_string(a + b)};
  }
  int c = uniform(r, 2, 9);
  return {who + " buys " + std::to_string(c) + " boxes with " + std::to_string(b) + " " + what +
              " in each box. How many " + what + " is that?",
          "Each box holds " + std::to_string(b) + " " + what + ", and there are " + std::to_string(c) + " boxes, so " +
              std::to_string(c) + " * " + std::to_string(b) + " = " + std::to_string(b * c) + ".\n#### " +
              std::to_string(b * c)};
}

std::pair<std::string, std::string> multiple_choice(Rng& r) {
  const auto& cat = pick(r, kCategories);
  std::vector<std::string> options = {cat.second};
  while (options.size() < 4) {
    const std::string& d = pick(r, kDistractors);
    if (std::find(options.begin(), options.end(), d) == options.end()) options.push_back(d);
  }
  std::shuffle(options.begin(), options.end(), r);
  int answer = static_cast<int>(std::find(options.begin(), options.end(), cat.second) - options.begin());
  std::string q = "Which of the following is a " + cat.first + "?";
  const char* letters = "ABCD";
  for (int i = 0; i < 4; ++i) q += std::string("\n") + letters[i] + ". " + options[i];
  q += "\nAnswer:";
  return {q, std::string(" ") + letters[answer]};
}

std::pair<std::string, std::string> instruction(Rng& r) {
  int kind = uniform(r, 0, 2);
  if (kind == 0) {
    std::string w = pick(r, kTopics);
    std::string up = w;
    for (auto& ch : up) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return {"Write the word \"" + w + "\" in capital letters only.", up};
  }
  if (kind == 1) {
    int n = uniform(r, 2, 4);
    std::string a;
    std::vector<std::string> colors = kColors;
    std::shuffle(colors.begin(), colors.end(), r);
    for (int i = 0; i < n; ++i) a += (i ? "\n" : "") + std::string("* ") + colors[i];
    return {"List " + std::to_string(n) + " colors as a bulleted list using asterisks.", a};
  }
  std::string t = pick(r, kTopics);
  return {"Give a title for a short note about " + t + ", wrapped in double angular brackets.",
          "<<Notes on " + t + ">>"};
}

std::pair<std::string, std::string> code(Rng& r) {
  static const std::vector<std::pair<std::string, std::string>> ops = {
      {"sum", "a + b"}, {"difference", "a - b"}, {"product", "a * b"}, {"maximum", "max(a, b)"}};
  const auto& op = pick(r, ops);
  std::string fn = "compute_" + op.first;
  return {"Write a Python function " + fn + "(a, b) that returns the " + op.first + " of a and b.",
          "def " + fn + "(a, b):\n    return " + op.second};
}

std::pair<std::string, std::string> long_form(Rng& r, const SynthOptions& o) {
  const std::string& topic = pick(r, kTopics);
  double u = std::uniform_real_distribution<double>(1e-9, 1.0)(r);
  int n = std::min(o.max_sentences, static_cast<int>(std::ceil(std::pow(u, -1.0 / o.long_tail))));
  std::string a = "Here is what I know about " + topic + ".";
  for (int i = 0; i < n; ++i) a += " " + pick(r, kFacts);
  return {"Tell me about " + topic + ".", a};
}

std::vector<std::pair<std::string, std::string>> conversation(Rng& r, const SynthOptions& o) {
  int turns = uniform(r, 1, std::max(1, o.max_turns));
  std::vector<std::pair<std::string, std::string>> out;
  for (int t = 0; t < turns; ++t) {
    int kind = uniform(r, 0, 9);
    if (kind < 3) out.push_back(arithmetic(r));
    else if (kind < 5) out.push_back(multiple_choice(r));
    else if (kind < 7) out.push_back(instruction(r));
    else if (kind < 8) out.push_back(code(r));
    else out.push_back(long_form(r, o));
  }
  return out;
}

}  // namespace

void write_synth_dataset(const std::string& dir, const std::string& name, const SynthOptions& o) {
  if (o.samples < 1) throw Error("synth: samples must be >= 1");
  if (o.max_turns < 1) throw Error("synth: max_turns must be >= 1");
  Rng r(o.seed);
  nlohmann::json records = nlohmann::json::array();
  for (int64_t i = 0; i < o.samples; ++i) {
    nlohmann::json conv = nlohmann::json::array();
    for (const auto& [q, a] : conversation(r, o)) {
      conv.push_back({{"from", "human"}, {"value", q}});
      conv.push_back({{"from", "gpt"}, {"value", a}});
    }
    records.push_back({{"conversations", conv}});
  }
  namespace fs = std::filesystem;
  std::string file = name + ".json";
  write_file_atomic((fs::path(dir) / file).string(), records.dump());
  fs::path info = fs::path(dir) / "dataset_info.json";
  nlohmann::json registry = nlohmann::json::object();
  if (fs::exists(info)) {
    try {
      registry = nlohmann::json::parse(read_file(info.string()));
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(info.string() + ": not valid JSON: " + e.what());
    }
  }
  registry[name] = {{"file_name", file}, {"formatting", "sharegpt"}, {"columns", {{"messages", "conversations"}}}};
  write_file_atomic(info.string(), registry.dump(2));
}

std::vector<std::string> synth_texts(const SynthOptions& o) {
  Rng r(o.seed);
  std::vector<std::string> texts;
  for (int64_t i = 0; i < o.samples; ++i) {
    for (const auto& [q, a] : conversation(r, o)) {
      texts.push_back(q);
      texts.push_back(a);
    }
  }
  return texts;
}

}  // namespace packbench::cli
