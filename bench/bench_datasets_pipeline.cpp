// JSON to rows end to end (read, template, tokenize, pack) vs the tokenizer alone on the same text.
//
//   PACKBENCH_SHARED=/work/shared build/bench/bench_datasets_pipeline
//
// The input is a sharegpt JSON-lines file written at start-up from GSM8K train and IFEval's GPT-4
// responses (the shared benchmark files), or from generated text when they are absent. Both
// benchmarks report bytes/s over the same bytes: the conversations' message text. The pipeline
// runs without the tokenized cache, with the tokenizer preloaded (its load time is not counted).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/paths.h"
#include "datasets/pipeline.h"
#include "datasets/tokenizer.h"

namespace fs = std::filesystem;
using namespace packbench::data;

namespace {

struct Input {
  std::string dir;                  // holds dataset_info.json and the data file
  std::vector<std::string> texts;   // every message's text, as the tokenizer-only run sees it
  int64_t text_bytes = 0, file_bytes = 0;
};

std::string shared_dir() {
  std::string d = packbench::shared_benchmarks_dir(PB_SOURCE_DIR);
  if (!d.empty()) return d;
  for (const char* c : {"/../../shared/benchmarks", "/../shared/benchmarks"}) {
    fs::path p = fs::path(std::string(PB_SOURCE_DIR) + c);
    if (fs::exists(p)) return fs::weakly_canonical(p).string();
  }
  return "";
}

const Input& input() {
  static const Input in = [] {
    Input r;
    r.dir = (fs::temp_directory_path() / ("packbench-bench-pipeline-" + std::to_string(::getpid()))).string();
    fs::create_directories(r.dir);
    std::vector<std::pair<std::string, std::string>> pairs;
    std::string shared = shared_dir();
    auto add = [&](const std::string& path, const char* q, const char* a) {
      std::ifstream f(path);
      for (std::string line; std::getline(f, line);) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.contains(q) || !j.contains(a)) continue;
        pairs.push_back({j[q].get<std::string>(), j[a].get<std::string>()});
      }
    };
    if (!shared.empty()) {
      add(shared + "/gsm8k/train.jsonl", "question", "answer");
      add(shared + "/ifeval/input_response_data_gpt4_20231107_145030.jsonl", "prompt", "response");
    }
    if (pairs.empty()) {  // generated text
      std::mt19937 rng(7);
      const char* words[] = {"the", "model", "packs", "rows", "of", "tokens", "into", "batches", "quickly", "and",
                             "pads", "nothing", "12", "345", "(x)", "don't", "Über", "数据"};
      for (int i = 0; i < 8000; ++i) {
        std::string q, a;
        for (int k = 0; k < 40; ++k) q += std::string(words[rng() % 18]) + " ";
        for (int k = 0; k < 120; ++k) a += std::string(words[rng() % 18]) + (k % 15 == 14 ? ".\n" : " ");
        pairs.push_back({q, a});
      }
    }
    std::string jsonl;
    for (const auto& [q, a] : pairs) {
      nlohmann::json rec = {{"conversations", {{{"from", "human"}, {"value", q}}, {{"from", "gpt"}, {"value", a}}}}};
      jsonl += rec.dump() + "\n";
      r.texts.push_back(q);
      r.texts.push_back(a);
      r.text_bytes += static_cast<int64_t>(q.size() + a.size());
    }
    r.file_bytes = static_cast<int64_t>(jsonl.size());
    packbench::write_file_atomic(r.dir + "/data.jsonl", jsonl);
    packbench::write_file_atomic(r.dir + "/dataset_info.json",
                                 R"({"bench": {"file_name": "data.jsonl", "formatting": "sharegpt"}})");
    return r;
  }();
  return in;
}

std::shared_ptr<const Tokenizer> tokenizer() {
  static auto t = Tokenizer::from_dir(packbench::default_tokenizer_dir());
  return t;
}

void BM_TokenizerOnly(benchmark::State& state) {
  const Input& in = input();
  auto tok = tokenizer();
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto ids = tok->encode_batch(in.texts, false, threads);
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(state.iterations() * in.text_bytes);
  state.counters["texts"] = static_cast<double>(in.texts.size());
}

// One id per byte, LLaMA-3's special tokens by name: isolates everything but BPE.
class ByteTokenizer : public Tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text, bool = false) const override {
    std::vector<int32_t> ids(text.size());
    for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
    return ids;
  }
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts, bool = false,
                                                 int = 0) const override {
    std::vector<std::vector<int32_t>> out;
    out.reserve(texts.size());
    for (const auto& t : texts) out.push_back(encode(t));
    return out;
  }
  std::string decode(const std::vector<int32_t>&, bool = false) const override { return {}; }
  int32_t vocab_size() const override { return 128256; }
  std::optional<int32_t> token_to_id(std::string_view t) const override {
    if (t == "<|begin_of_text|>") return 128000;
    if (t == "<|start_header_id|>") return 128006;
    if (t == "<|end_header_id|>") return 128007;
    if (t == "<|eot_id|>") return 128009;
    return std::nullopt;
  }
  std::string id_to_token(int32_t) const override { return {}; }
  std::optional<int32_t> bos_id() const override { return 128000; }
  std::optional<int32_t> eos_id() const override { return 128009; }
  std::optional<int32_t> pad_id() const override { return std::nullopt; }
};

void BM_PipelineJsonToRows(benchmark::State& state) {
  const Input& in = input();
  DataOptions o;
  o.dataset = "bench";
  o.dataset_dir = in.dir;
  o.tokenizer = state.range(1) == 2 ? std::make_shared<ByteTokenizer>() : tokenizer();
  o.method = state.range(1) == 0 ? "padding" : "greedy";
  o.use_cache = false;
  o.show_progress = false;
  o.threads = static_cast<int>(state.range(0));
  int64_t rows = 0;
  for (auto _ : state) {
    PreparedData d = prepare_data(o);
    rows = d.stats.rows;
    benchmark::DoNotOptimize(d.train_rows.data());
  }
  state.SetBytesProcessed(state.iterations() * in.text_bytes);
  state.counters["rows"] = static_cast<double>(rows);
  state.counters["file_MB"] = static_cast<double>(in.file_bytes) / 1e6;
}

}  // namespace

// Arg 0: threads (1, or 0 = all); the pipeline's second arg: 0 padding, 1 greedy, 2 greedy with a
// byte-per-token stand-in tokenizer (the pipeline's own cost without BPE).
// Real time: the tokenizer runs on several threads in the all-threads rows.
BENCHMARK(BM_TokenizerOnly)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_PipelineJsonToRows)->Args({1, 1})->Args({0, 1})->Args({0, 0})->Args({1, 2})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_MAIN();
