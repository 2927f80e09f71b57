// Tokenizer throughput (bytes/s), one thread and all threads, on a mixed real-text corpus built
// at run time from the shared benchmark files (gsm8k, MATH, IFEval responses, MMLU, BBH).
//
//   PACKBENCH_SHARED=/work/shared build/bench/bench_datasets_tokenizer
//
// PB_BENCH_CORPUS_OUT=FILE also writes the corpus (a JSON array of strings) and PB_BENCH_IDS_OUT=FILE
// the ids `encode` gives each document (a JSON array of id arrays), for the side-by-side peers in
// bench/tokenizer_peer/ (run.sh there does both in one run and checks the ids agree).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/paths.h"
#include "datasets/tokenizer.h"

namespace fs = std::filesystem;
using packbench::data::Tokenizer;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string shared_dir() {
  std::string d = packbench::shared_benchmarks_dir(PB_SOURCE_DIR);
  if (!d.empty()) return d;
  for (const char* c : {"/../../shared/benchmarks", "/../shared/benchmarks"}) {
    fs::path p = fs::path(std::string(PB_SOURCE_DIR) + c);
    if (fs::exists(p)) return fs::weakly_canonical(p).string();
  }
  return "";
}

// Up to `cap` bytes of documents from one JSON-lines file, joining the given fields.
void add_jsonl(const fs::path& p, const std::vector<std::string>& fields, size_t cap, std::vector<std::string>* docs) {
  std::ifstream in(p);
  std::string line;
  size_t used = 0;
  while (used < cap && std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    std::string doc;
    for (const auto& f : fields)
      if (j.contains(f) && j[f].is_string()) doc += (doc.empty() ? "" : "\n\n") + j[f].get<std::string>();
    used += doc.size();
    docs->push_back(std::move(doc));
  }
}

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> docs = [] {
    std::vector<std::string> d;
    const std::string s = shared_dir();
    if (s.empty()) return d;
    const size_t cap = 1500000;
    add_jsonl(fs::path(s) / "gsm8k/train.jsonl", {"question", "answer"}, cap, &d);
    add_jsonl(fs::path(s) / "math/test.jsonl", {"problem", "solution"}, cap, &d);
    add_jsonl(fs::path(s) / "ifeval/input_response_data_gpt4_20231107_145030.jsonl", {"prompt", "response"}, cap, &d);
    // MMLU: every 8 CSV rows of a subject make one document
    std::vector<fs::path> csvs;
    for (const auto& e : fs::directory_iterator(fs::path(s) / "mmlu" / "test")) csvs.push_back(e.path());
    std::sort(csvs.begin(), csvs.end());
    size_t used = 0;
    for (const auto& p : csvs) {
      std::istringstream in(slurp(p));
      std::string line, doc;
      int n = 0;
      while (std::getline(in, line) && used < cap) {
        doc += line + "\n";
        if (++n % 8 == 0) { used += doc.size(); d.push_back(std::move(doc)); doc.clear(); }
      }
    }
    // BBH inputs, one example per document
    std::vector<fs::path> bbh;
    for (const auto& e : fs::directory_iterator(fs::path(s) / "bbh" / "bbh"))
      if (e.path().extension() == ".json") bbh.push_back(e.path());
    std::sort(bbh.begin(), bbh.end());
    used = 0;
    for (const auto& p : bbh) {
      auto j = nlohmann::json::parse(slurp(p), nullptr, false);
      if (j.is_discarded() || !j.contains("examples")) continue;
      for (const auto& ex : j["examples"]) {
        if (used >= cap / 2) break;
        std::string doc = ex.value("input", "") + "\n" + ex.value("target", "");
        used += doc.size();
        d.push_back(std::move(doc));
      }
    }
    if (const char* out = std::getenv("PB_BENCH_CORPUS_OUT")) {
      std::ofstream f(out, std::ios::binary);
      f << nlohmann::json(d).dump();
    }
    return d;
  }();
  return docs;
}

size_t corpus_bytes() {
  size_t n = 0;
  for (const auto& s : corpus()) n += s.size();
  return n;
}

std::shared_ptr<const Tokenizer> llama3() {
  static std::shared_ptr<const Tokenizer> t = [] {
    std::string dir = packbench::default_tokenizer_dir();
    return fs::exists(fs::path(dir) / "tokenizer.json") ? Tokenizer::from_dir(dir) : nullptr;
  }();
  return t;
}

bool ready(benchmark::State& state) {
  if (!llama3()) { state.SkipWithError("LLaMA-3 tokenizer not found: run scripts/setup.sh"); return false; }
  if (corpus().empty()) { state.SkipWithError("shared benchmarks not found: set PACKBENCH_SHARED"); return false; }
  return true;
}

void BM_Load(benchmark::State& state) {
  std::string dir = packbench::default_tokenizer_dir();
  if (!fs::exists(fs::path(dir) / "tokenizer.json")) { state.SkipWithError("no LLaMA-3 tokenizer"); return; }
  for (auto _ : state) benchmark::DoNotOptimize(Tokenizer::from_dir(dir));
}
BENCHMARK(BM_Load)->Unit(benchmark::kMillisecond)->Iterations(3);

// The ids of every corpus document, once, to PB_BENCH_IDS_OUT when it is set.
void write_ids_once(const Tokenizer& t) {
  static bool done = false;
  const char* out = std::getenv("PB_BENCH_IDS_OUT");
  if (done || !out) return;
  done = true;
  std::vector<std::vector<int32_t>> ids;
  ids.reserve(corpus().size());
  for (const auto& doc : corpus()) ids.push_back(t.encode(doc));
  std::ofstream f(out, std::ios::binary);
  f << nlohmann::json(ids).dump();
}

void BM_EncodeOneThread(benchmark::State& state) {
  if (!ready(state)) return;
  auto t = llama3();
  write_ids_once(*t);
  size_t tokens = 0;
  for (auto _ : state)
    for (const auto& doc : corpus()) tokens += t->encode(doc).size();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus_bytes()));
  state.counters["docs"] = static_cast<double>(corpus().size());
  state.counters["tokens_per_iter"] = static_cast<double>(tokens / state.iterations());
}
// CPU time (the default): on a shared machine this is the fair single-thread number; the peer
// reports its CPU-time throughput too.
BENCHMARK(BM_EncodeOneThread)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_EncodeBatchAllThreads(benchmark::State& state) {
  if (!ready(state)) return;
  auto t = llama3();
  for (auto _ : state) benchmark::DoNotOptimize(t->encode_batch(corpus(), false, 0));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus_bytes()));
}
// Wall time: the work is spread over all OpenMP threads.
BENCHMARK(BM_EncodeBatchAllThreads)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

void BM_Decode(benchmark::State& state) {
  if (!ready(state)) return;
  auto t = llama3();
  std::vector<std::vector<int32_t>> ids = t->encode_batch(corpus(), false, 0);
  for (auto _ : state)
    for (const auto& v : ids) benchmark::DoNotOptimize(t->decode(v));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus_bytes()));
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

// Pathological single pieces: one repeated letter, spaces, random bytes; 100 KB and 1 MB, to
// show time growing linearly with size (no quadratic merge loop).
void BM_Pathological(benchmark::State& state) {
  if (!llama3()) { state.SkipWithError("LLaMA-3 tokenizer not found: run scripts/setup.sh"); return; }
  const auto n = static_cast<size_t>(state.range(1));
  std::string text;
  switch (state.range(0)) {
    case 0: text.assign(n, 'a'); state.SetLabel("repeated 'a'"); break;
    case 1: text.assign(n, ' '); state.SetLabel("spaces"); break;
    default: {
      uint64_t x = 88172645463325252ULL;
      text.resize(n);
      for (char& c : text) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; c = static_cast<char>(x); }
      state.SetLabel("random bytes");
    }
  }
  auto t = llama3();
  for (auto _ : state) benchmark::DoNotOptimize(t->encode(text));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_Pathological)->ArgsProduct({{0, 1, 2}, {100000, 1000000}})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
