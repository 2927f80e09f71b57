// The study's experiment matrix (models x datasets x methods) and its settings, from YAML.
#include "harness/study_config.h"

#include <set>

#include "core/error.h"
#include "harness/yaml_json.h"

namespace packbench::cli {
using nlohmann::json;

const std::string& embedded_mini_config() {
  // Two tiny LLaMA models stand in for 8B and 70B; two synthetic SFT sets of different size and
  // turn structure stand in for the paper's datasets. Measured on 2 cores: `make reproduce TABLE=3`
  // (data + training of all 12 cells) took 3 min; evaluating a cell on all six benchmarks at
  // this limit took about 1 min (mini-s) or 4 min (mini-m), so TABLE=1 takes about 32 min.
  static const std::string text = R"(# packbench embedded mini study: the paper's design at CPU scale.
name: mini
out: runs/mini
tokenizer: synth
tokenizer_vocab: 1024
methods: [padding, random, greedy]
attention: cross
models:
  - name: mini-s
    init: {hidden_size: 64, intermediate_size: 176, num_hidden_layers: 2, num_attention_heads: 4,
           num_key_value_heads: 2, max_position_embeddings: 4096, rope_theta: 500000.0}
    train: {per_device_train_batch_size: 4, gradient_accumulation_steps: 2, num_train_epochs: 2}
  - name: mini-m
    init: {hidden_size: 128, intermediate_size: 352, num_hidden_layers: 4, num_attention_heads: 8,
           num_key_value_heads: 2, max_position_embeddings: 4096, rope_theta: 500000.0}
    train: {per_device_train_batch_size: 2, gradient_accumulation_steps: 2, num_train_epochs: 2}
datasets:
  - name: synth_single
    label: Synth single-turn
    size_label: 600
    synth: {samples: 600, seed: 1, max_turns: 1}
  - name: synth_multi
    label: Synth multi-turn
    size_label: 1.2K
    synth: {samples: 1200, seed: 2, max_turns: 4}
train:
  template: llama3_lf07
  cutoff_len: 512
  learning_rate: 1.0e-3
  lr_scheduler_type: cosine
  warmup_ratio: 0.2
  val_size: 0.1
  eval_steps: 1000
  logging_steps: 5
  save_steps: 1000
  seed: 42
  preprocessing_batch_size: 1000
eval:
  tasks: [mmlu, gsm8k, math, bbh, ifeval, humaneval]
  limit: 8
  batch_size: 8
  max_new_tokens: 48
  # Table 2: each cell's model, served by packbench serve, answers 5 synthetic WildBench-format
  # tasks and judges its own answers (the paper's judge is GPT-4): the pipeline is real, the
  # scores mean nothing (a mini model's verdicts are mostly not JSON and are counted unparsable).
  judge: {checkpoint: self, max_tokens: 128,
          note: "mini study: the judge is the cell's own mini model, so these WildBench scores mean nothing"}
  wildbench: {data: tests/fixtures/wildbench/mini_tasks.jsonl, max_new_tokens: 64, concurrency: 1}
executor:
  type: local
)";
  return text;
}

namespace {

std::string get_string(const json& j, const char* key, const std::string& where, bool required,
                       const std::string& def = "") {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) throw Error(where + ": missing key '" + key + "'");
    return def;
  }
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) {
    std::string s = it->dump();
    return s;
  }
  throw Error(where + "." + key + ": expected a string");
}

json get_object(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return json::object();
  if (!it->is_object()) throw Error(where + "." + key + ": expected a mapping");
  return *it;
}

const json& get_list(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array() || it->empty()) {
    throw Error(where + ": key '" + key + "' must be a non-empty list");
  }
  return *it;
}

}  // namespace

std::string slug(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.';
    out += ok ? c : '-';
  }
  return out.empty() ? "x" : out;
}

StudyConfig parse_study_config(const json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a mapping at the top level");
  static const std::set<std::string> known = {"name", "out", "tokenizer", "tokenizer_vocab", "methods",
                                              "attention", "models", "datasets", "train", "eval", "executor",
                                              "seeds"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!known.count(it.key())) throw Error(source + ": unknown key '" + it.key() + "'");
  }
  StudyConfig c;
  c.source = source;
  c.raw = j;
  c.name = get_string(j, "name", source, true);
  c.out = get_string(j, "out", source, false, "runs/" + slug(c.name));
  c.tokenizer = get_string(j, "tokenizer", source, false, "");
  if (j.contains("tokenizer_vocab")) {
    if (!j["tokenizer_vocab"].is_number_integer() || j["tokenizer_vocab"].get<int>() < 300) {
      throw Error(source + ".tokenizer_vocab: expected an integer >= 300");
    }
    c.tokenizer_vocab = j["tokenizer_vocab"].get<int>();
  }
  c.attention = get_string(j, "attention", source, false, "cross");
  if (c.attention != "cross" && c.attention != "block") {
    throw Error(source + ".attention: '" + c.attention + "' is not one of cross, block");
  }
  for (const auto& m : get_list(j, "methods", source)) {
    if (!m.is_string()) throw Error(source + ".methods: expected strings");
    std::string s = m.get<std::string>();
    if (s != "padding" && s != "random" && s != "greedy" && s != "bfd") {
      throw Error(source + ".methods: '" + s + "' is not one of padding, random, greedy, bfd");
    }
    c.methods.push_back(s);
  }
  if (j.contains("seeds")) {
    const json& seeds = get_list(j, "seeds", source);
    std::set<int64_t> seen;
    for (size_t i = 0; i < seeds.size(); ++i) {
      if (!seeds[i].is_number_integer() || seeds[i].get<int64_t>() < 0) {
        throw Error(source + ".seeds[" + std::to_string(i) + "]: expected a non-negative integer");
      }
      if (!seen.insert(seeds[i].get<int64_t>()).second) {
        throw Error(source + ".seeds[" + std::to_string(i) + "]: seed " + seeds[i].dump() + " is listed twice");
      }
      c.seeds.push_back(seeds[i].get<int64_t>());
    }
  }
  const json& models = get_list(j, "models", source);
  for (size_t i = 0; i < models.size(); ++i) {
    std::string where = source + ".models[" + std::to_string(i) + "]";
    const json& m = models[i];
    if (!m.is_object()) throw Error(where + ": expected a mapping");
    ModelSpec s;
    s.name = get_string(m, "name", where, true);
    s.path = get_string(m, "path", where, false);
    s.gguf = get_string(m, "gguf", where, false);
    s.init = get_object(m, "init", where);
    s.train = get_object(m, "train", where);
    if (m.contains("nproc")) {
      if (!m["nproc"].is_number_integer() || m["nproc"].get<int>() < 1) throw Error(where + ".nproc: expected an integer >= 1");
      s.nproc = m["nproc"].get<int>();
    }
    if (int(!s.path.empty()) + int(!s.init.empty()) + int(!s.gguf.empty()) != 1)
      throw Error(where + ": give exactly one of 'path', 'init' or 'gguf'");
    c.models.push_back(std::move(s));
  }
  const json& datasets = get_list(j, "datasets", source);
  for (size_t i = 0; i < datasets.size(); ++i) {
    std::string where = source + ".datasets[" + std::to_string(i) + "]";
    const json& d = datasets[i];
    if (!d.is_object()) throw Error(where + ": expected a mapping");
    DatasetSpec s;
    s.name = get_string(d, "name", where, true);
    s.label = get_string(d, "label", where, false, s.name);
    s.size_label = get_string(d, "size_label", where, false);
    s.dataset_dir = get_string(d, "dataset_dir", where, false);
    s.synth = get_object(d, "synth", where);
    s.convert = get_object(d, "convert", where);
    if (int(!s.dataset_dir.empty()) + int(!s.synth.empty()) + int(!s.convert.empty()) != 1)
      throw Error(where + ": give exactly one of 'dataset_dir', 'synth' or 'convert'");
    if (!s.convert.empty()) {
      for (auto it = s.convert.begin(); it != s.convert.end(); ++it) {
        if (it.key() != "from" && it.key() != "file" && it.key() != "max_samples")
          throw Error(where + ".convert: unknown key '" + it.key() + "' (known: from, file, max_samples)");
      }
      std::string from = get_string(s.convert, "from", where + ".convert", true);
      if (from != "gsm8k") throw Error(where + ".convert.from: '" + from + "' is not one of gsm8k");
      get_string(s.convert, "file", where + ".convert", true);
      if (s.convert.contains("max_samples") &&
          (!s.convert["max_samples"].is_number_integer() || s.convert["max_samples"].get<int64_t>() < 1))
        throw Error(where + ".convert.max_samples: expected an integer >= 1");
    }
    c.datasets.push_back(std::move(s));
  }
  if (c.tokenizer.empty()) {
    bool any_init = false;
    for (const auto& m : c.models) any_init |= !m.init.empty();
    if (any_init) throw Error(source + ": key 'tokenizer' is required when a model is initialised with 'init'");
  }
  c.train = get_object(j, "train", source);
  c.eval = get_object(j, "eval", source);
  c.executor = get_object(j, "executor", source);
  std::string ex = c.executor.value("type", "local");
  if (ex != "local" && ex != "slurm") throw Error(source + ".executor.type: '" + ex + "' is not one of local, slurm");
  std::set<std::string> names;
  for (const auto& m : c.models) {
    if (!names.insert("m:" + slug(m.name)).second) throw Error(source + ": two models named '" + m.name + "'");
  }
  for (const auto& d : c.datasets) {
    if (!names.insert("d:" + slug(d.name)).second) throw Error(source + ": two datasets named '" + d.name + "'");
  }
  return c;
}

StudyConfig load_study_config(const std::string& path) {
  if (path.empty()) return parse_study_config(yaml_to_json(embedded_mini_config(), "<embedded mini study>"), "<embedded mini study>");
  return parse_study_config(load_yaml_file(path), path);
}

std::vector<Cell> expand_cells(const StudyConfig& c) {
  std::vector<Cell> cells;
  for (size_t d = 0; d < c.datasets.size(); ++d) {
    for (size_t m = 0; m < c.models.size(); ++m) {
      for (const auto& method : c.methods) {
        Cell cell;
        cell.model_index = static_cast<int>(m);
        cell.dataset_index = static_cast<int>(d);
        cell.model = &c.models[m];
        cell.dataset = &c.datasets[d];
        cell.method = method;
        cell.id = slug(c.models[m].name) + "__" + slug(c.datasets[d].name) + "__" + method;
        if (c.seeds.empty()) {
          cells.push_back(cell);
          continue;
        }
        for (int64_t seed : c.seeds) {
          Cell s = cell;
          s.seed = seed;
          s.id = cell.id + "__seed" + std::to_string(seed);
          cells.push_back(s);
        }
      }
    }
  }
  return cells;
}

}  // namespace packbench::cli
