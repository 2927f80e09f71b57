// The study matrix: config validation, cell expansion, synthetic data, Slurm scripts, tables CLI.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/paths.h"
#include "harness/executor_slurm.h"
#include "harness/study_config.h"
#include "harness/study_runner.h"
#include "harness/synth_data.h"
#include "harness/yaml_json.h"
#include "tests/common/test_paths.h"

using namespace packbench::cli;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string error_of(const std::string& yaml) {
  try {
    parse_study_config(yaml_to_json(yaml, "s.yaml"), "s.yaml");
  } catch (const packbench::Error& e) {
    return e.what();
  }
  return "";
}

const char* kValid = R"(
name: t
tokenizer: /tok
methods: [padding, greedy]
models:
  - {name: A, init: {hidden_size: 8}}
  - {name: B 70B, path: /models/b, nproc: 8}
datasets:
  - {name: d1, label: "D one", size_label: 1K, synth: {samples: 10}}
  - {name: d2, dataset_dir: /data}
executor: {type: slurm, slurm: {nodes: 4, gpus_per_node: 8, partition: gpu, time: "24:00:00"}}
)";

}  // namespace

TEST(StudyConfig, EmbeddedMiniStudyIsValid) {
  StudyConfig c = load_study_config("");
  EXPECT_EQ(c.name, "mini");
  EXPECT_EQ(c.models.size(), 2u);
  EXPECT_EQ(c.datasets.size(), 2u);
  EXPECT_EQ(expand_cells(c).size(), 2u * 2u * c.methods.size());
}

TEST(StudyConfig, ExpandsCellsInDatasetModelMethodOrder) {
  StudyConfig c = parse_study_config(yaml_to_json(kValid, "s.yaml"), "s.yaml");
  auto cells = expand_cells(c);
  ASSERT_EQ(cells.size(), 8u);
  EXPECT_EQ(cells[0].id, "A__d1__padding");
  EXPECT_EQ(cells[1].id, "A__d1__greedy");
  EXPECT_EQ(cells[2].id, "B-70B__d1__padding");  // label slugged for the folder name
  EXPECT_EQ(cells[4].id, "A__d2__padding");
  EXPECT_EQ(cells[2].model->nproc, 8);
}

TEST(StudyConfig, ErrorsNameFileAndKey) {
  EXPECT_NE(error_of("name: t\nmethods: [padding]\nmodels: []\n").find("s.yaml: key 'models'"), std::string::npos);
  EXPECT_NE(error_of("name: t\nmethods: [packing]\n").find("s.yaml.methods: 'packing'"), std::string::npos);
  EXPECT_NE(error_of("name: t\nbogus: 1\n").find("unknown key 'bogus'"), std::string::npos);
  std::string e = error_of(
      "name: t\ntokenizer: x\nmethods: [padding]\nmodels: [{name: a}]\ndatasets: [{name: d, synth: {samples: 1}}]\n");
  EXPECT_NE(e.find("s.yaml.models[0]: give exactly one of 'path', 'init' or 'gguf'"), std::string::npos) << e;
  e = error_of("name: t\nmethods: [padding]\nmodels: [{name: a, init: {x: 1}}]\ndatasets: [{name: d, synth: {samples: 1}}]\n");
  EXPECT_NE(e.find("'tokenizer' is required"), std::string::npos) << e;
  EXPECT_NE(error_of("name: [\n").find("s.yaml:"), std::string::npos);
}

TEST(StudyConfig, TrainConfigMergesSharedModelAndCell) {
  StudyConfig c = load_study_config("");
  StudyRunner r(c, "/tmp/pbstudy");
  auto cells = r.cells();
  json t = r.train_config(cells[3]);  // mini-m, synth_single, padding
  EXPECT_EQ(t["row_method"], "padding");
  EXPECT_EQ(t["per_device_train_batch_size"], 2);  // model override
  EXPECT_EQ(t["cutoff_len"], 512);                 // shared
  EXPECT_EQ(t["dataset"], "synth_single");
  EXPECT_EQ(t["output_dir"], "/tmp/pbstudy/" + cells[3].id + "/train");
}

TEST(Synth, DeterministicAndRegistered) {
  std::string d1 = packbench::testing::temp_dir("synth1"), d2 = packbench::testing::temp_dir("synth2");
  SynthOptions o;
  o.samples = 50;
  o.seed = 7;
  o.max_turns = 3;
  write_synth_dataset(d1, "s", o);
  write_synth_dataset(d2, "s", o);
  EXPECT_EQ(packbench::read_file(d1 + "/s.json"), packbench::read_file(d2 + "/s.json"));
  json data = json::parse(packbench::read_file(d1 + "/s.json"));
  ASSERT_EQ(data.size(), 50u);
  size_t multi = 0;
  for (const auto& rec : data) {
    const auto& conv = rec["conversations"];
    ASSERT_EQ(conv.size() % 2, 0u);
    for (size_t i = 0; i < conv.size(); ++i) EXPECT_EQ(conv[i]["from"], i % 2 ? "gpt" : "human");
    multi += conv.size() > 2;
  }
  EXPECT_GT(multi, 10u);
  json info = json::parse(packbench::read_file(d1 + "/dataset_info.json"));
  EXPECT_EQ(info["s"]["formatting"], "sharegpt");
  EXPECT_EQ(info["s"]["file_name"], "s.json");
  o.seed = 8;
  EXPECT_NE(synth_texts(o), synth_texts(SynthOptions{50, 7, 3}));
}

TEST(Slurm, ScriptLaunchesTrainingOnEveryRank) {
  StudyConfig c = parse_study_config(yaml_to_json(kValid, "s.yaml"), "s.yaml");
  StudyRunner r(c, "/tmp/pbslurm");
  std::string s = slurm_script(r, r.cells()[2], "/cfg/s.yaml");
  EXPECT_NE(s.find("#SBATCH --nodes=4"), std::string::npos) << s;
  EXPECT_NE(s.find("#SBATCH --ntasks-per-node=8"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --partition=gpu"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --time=24:00:00"), std::string::npos);
  EXPECT_NE(s.find("RANK=$SLURM_PROCID WORLD_SIZE=$SLURM_NTASKS LOCAL_RANK=$SLURM_LOCALID"), std::string::npos);
  EXPECT_NE(s.find("--cell B-70B__d1__padding --stages train"), std::string::npos) << s;
  EXPECT_NE(s.find("MASTER_ADDR=$(scontrol show hostnames"), std::string::npos);
}

TEST(TablesCli, RegeneratesTimingTablesFromStoredResults) {
  fs::path runs = packbench::testing::temp_dir("runs");
  for (const char* m : {"padding", "greedy"}) {
    fs::path d = runs / (std::string("tiny__d__") + m);
    packbench::write_file_atomic((d / "cell.json").string(),
                                 json{{"cell_id", d.filename().string()}, {"model", "tiny"}, {"dataset", "D"},
                                      {"dataset_size", "1K"}, {"method", m}}
                                     .dump());
    double rt = std::string(m) == "padding" ? 100.0 : 40.0;
    packbench::write_file_atomic((d / "train" / "train_results.json").string(),
                                 json{{"train_runtime", rt}, {"epoch", 2.0}, {"train_steps_per_second", 0.5},
                                      {"train_samples_per_second", 4.0}}
                                     .dump());
  }
  std::string out;
  std::string cmd = packbench::testing::packbench_bin() + " tables --runs " + runs.string() + " --table 3 --format csv,html";
  ASSERT_EQ(packbench::testing::run_command(cmd, &out), 0) << out;
  std::string csv = packbench::read_file((runs / "tables" / "table3.csv").string());
  EXPECT_NE(csv.find("Greedy Packing,2.0000,,40.000000000,0.5000000,4.0000000,,,-60.000000000"), std::string::npos) << csv;
  EXPECT_TRUE(fs::exists(runs / "tables" / "table3.html"));
  EXPECT_FALSE(fs::exists(runs / "tables" / "table3.md"));
}

TEST(TablesCli, EmptyRunsFolderIsAClearError) {
  std::string out;
  std::string dir = packbench::testing::temp_dir("empty");
  EXPECT_EQ(packbench::testing::run_command(packbench::testing::packbench_bin() + " tables --runs " + dir, &out), 1);
  EXPECT_NE(out.find("no cells found"), std::string::npos) << out;
  EXPECT_EQ(packbench::testing::run_command(packbench::testing::packbench_bin() + " tables --runs /nonexistent/x", &out), 1);
}

// configs/paper.yaml carries the paper's setup (shared/paper/setup.md).
TEST(StudyConfig, PaperConfigMatchesThePaperSetup) {
  StudyConfig c = load_study_config(packbench::testing::source_dir() + "/configs/paper.yaml");
  EXPECT_EQ(expand_cells(c).size(), 24u);  // 2 models x 4 datasets x 3 methods
  ASSERT_EQ(c.models.size(), 2u);
  const int gpus = c.executor["slurm"]["nodes"].get<int>() * c.executor["slurm"]["gpus_per_node"].get<int>();
  EXPECT_EQ(gpus, 32);
  auto global = [&](const ModelSpec& m) {
    return m.train["per_device_train_batch_size"].get<int>() * m.train["gradient_accumulation_steps"].get<int>() * gpus;
  };
  EXPECT_EQ(global(c.models[0]), 128);
  EXPECT_EQ(global(c.models[1]), 64);
  EXPECT_EQ(c.models[0].train["num_train_epochs"], 4);
  EXPECT_EQ(c.models[1].train["num_train_epochs"], 3);
  EXPECT_EQ(c.train["learning_rate"], 1e-5);
  EXPECT_EQ(c.train["warmup_ratio"], 0.2);
  EXPECT_EQ(c.train["cutoff_len"], 4096);
  EXPECT_EQ(c.train["val_size"], 0.1);
  EXPECT_EQ(c.train["preprocessing_num_workers"], 64);
  EXPECT_EQ(c.methods, (std::vector<std::string>{"padding", "random", "greedy"}));
}

// One job per stage: data and eval as one task (data told the training world size, which sets
// the global batch), training as nodes x ranks under srun; no GPU request when gpus_per_node is 0.
TEST(Slurm, StageScriptsShapeEachJob) {
  StudyConfig c = parse_study_config(yaml_to_json(kValid, "s.yaml"), "s.yaml");
  StudyRunner r(c, "/tmp/pbslurm");
  const Cell cell = r.cells()[2];
  std::string data = slurm_stage_script(r, cell, "data", "/cfg/s.yaml");
  EXPECT_NE(data.find("#SBATCH --ntasks=1\n"), std::string::npos) << data;
  EXPECT_EQ(data.find("--gpus-per-node"), std::string::npos) << data;
  EXPECT_NE(data.find("export WORLD_SIZE=32\n"), std::string::npos) << data;  // 4 nodes x 8 ranks
  EXPECT_NE(data.find("--cell B-70B__d1__padding --stages data\n"), std::string::npos) << data;
  EXPECT_NE(data.find("#SBATCH --output=/tmp/pbslurm/B-70B__d1__padding/logs/slurm-data-%j.out"), std::string::npos);
  std::string train = slurm_stage_script(r, cell, "train", "/cfg/s.yaml", /*force=*/true);
  EXPECT_NE(train.find("#SBATCH --nodes=4\n#SBATCH --ntasks-per-node=8\n#SBATCH --gpus-per-node=8\n"), std::string::npos) << train;
  EXPECT_NE(train.find("srun --kill-on-bad-exit=1"), std::string::npos) << train;
  EXPECT_NE(train.find("RANK=$SLURM_PROCID WORLD_SIZE=$SLURM_NTASKS LOCAL_RANK=$SLURM_LOCALID"), std::string::npos);
  EXPECT_NE(train.find("--stages train --force"), std::string::npos) << train;
  std::string eval = slurm_stage_script(r, cell, "eval", "/cfg/s.yaml");
  EXPECT_NE(eval.find("#SBATCH --gpus-per-node=1\n"), std::string::npos) << eval;
  EXPECT_THROW(slurm_stage_script(r, cell, "deploy", ""), packbench::Error);

  StudyConfig smoke = load_study_config(packbench::testing::source_dir() + "/configs/smoke.yaml");
  StudyRunner sr(smoke, "/tmp/pbsmoke");
  std::string t = slurm_stage_script(sr, sr.cells()[0], "train", "");
  EXPECT_EQ(t.find("--gpus-per-node"), std::string::npos) << t;
  EXPECT_NE(t.find("#SBATCH --nodes=1\n#SBATCH --ntasks-per-node=1\n#SBATCH --cpus-per-task=1\n"), std::string::npos) << t;
}

// A seeds axis repeats every cell once per seed, and the seed reaches the training configuration.
TEST(StudyConfig, SeedsAxisRepeatsCells) {
  StudyConfig c = load_study_config(packbench::testing::source_dir() + "/configs/smoke.yaml");
  EXPECT_EQ(c.seeds, (std::vector<int64_t>{1, 2}));
  auto cells = expand_cells(c);
  ASSERT_EQ(cells.size(), 4u);  // 1 model x 1 dataset x 2 methods x 2 seeds
  EXPECT_EQ(cells[0].id, "tiny__synth_smoke__padding__seed1");
  EXPECT_EQ(cells[1].id, "tiny__synth_smoke__padding__seed2");
  StudyRunner r(c, "/tmp/pbseeds");
  EXPECT_EQ(r.train_config(cells[1])["seed"], 2);
  EXPECT_NE(error_of("name: t\nmethods: [padding]\nseeds: [1, 1]\n").find("s.yaml.seeds[1]: seed 1 is listed twice"), std::string::npos);
  EXPECT_NE(error_of("name: t\nmethods: [padding]\nseeds: [x]\n").find("s.yaml.seeds[0]: expected a non-negative integer"), std::string::npos);
  EXPECT_NE(error_of("name: t\nmethods: [padding]\nseeds: []\n").find("'seeds' must be a non-empty list"), std::string::npos);
}

TEST(StudyConfig, SmolConfigImportsGgufAndConvertsGsm8k) {
  StudyConfig c = load_study_config(packbench::testing::source_dir() + "/configs/smol.yaml");
  ASSERT_EQ(c.models.size(), 1u);
  EXPECT_EQ(c.models[0].gguf, "{cache}/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
  ASSERT_EQ(c.datasets.size(), 1u);
  EXPECT_EQ(c.datasets[0].convert["from"], "gsm8k");
  EXPECT_EQ(c.datasets[0].convert["file"], "{benchmarks}/gsm8k/train.jsonl");
  EXPECT_EQ(c.methods, (std::vector<std::string>{"padding", "random", "greedy"}));
  EXPECT_EQ(c.eval["chat_template"], "chatml");
  for (const char* t : {"mmlu", "gsm8k", "math", "bbh", "ifeval", "humaneval"}) EXPECT_TRUE(c.eval["limit"].contains(t)) << t;
  StudyRunner r(c, "/tmp/pbsmol");
  // The imported model lives in packbench's cache, keyed by the GGUF's name, and is its own tokenizer.
  EXPECT_EQ(r.model_dir(c.models[0]), packbench::cache_dir() + "/models/imported/SmolLM2-135M-Instruct.Q4_1");
  json t = r.train_config(r.cells()[0]);
  EXPECT_EQ(t["tokenizer_dir"], t["model_name_or_path"]);
  EXPECT_EQ(t["template"], "chatml");
  EXPECT_EQ(t["dataset_dir"], "/tmp/pbsmol/_shared/data");
}

TEST(StudyConfig, GgufAndConvertErrors) {
  const std::string head = "name: t\nmethods: [padding]\n";
  std::string e = error_of(head + "models: [{name: a, gguf: /m.gguf, path: /m}]\ndatasets: [{name: d, dataset_dir: /d}]\n");
  EXPECT_NE(e.find("s.yaml.models[0]: give exactly one of 'path', 'init' or 'gguf'"), std::string::npos) << e;
  const std::string model = "models: [{name: a, gguf: /m.gguf}]\n";
  e = error_of(head + model + "datasets: [{name: d, convert: {from: alpaca, file: /x}}]\n");
  EXPECT_NE(e.find("s.yaml.datasets[0].convert.from: 'alpaca' is not one of gsm8k"), std::string::npos) << e;
  e = error_of(head + model + "datasets: [{name: d, convert: {from: gsm8k}}]\n");
  EXPECT_NE(e.find("s.yaml.datasets[0].convert: missing key 'file'"), std::string::npos) << e;
  e = error_of(head + model + "datasets: [{name: d, convert: {from: gsm8k, file: /x, max_samples: 0}}]\n");
  EXPECT_NE(e.find("s.yaml.datasets[0].convert.max_samples: expected an integer >= 1"), std::string::npos) << e;
  e = error_of(head + model + "datasets: [{name: d, convert: {from: gsm8k, file: /x, limit: 3}}]\n");
  EXPECT_NE(e.find("s.yaml.datasets[0].convert: unknown key 'limit'"), std::string::npos) << e;
  e = error_of(head + model + "datasets: [{name: d, dataset_dir: /d, convert: {from: gsm8k, file: /x}}]\n");
  EXPECT_NE(e.find("give exactly one of 'dataset_dir', 'synth' or 'convert'"), std::string::npos) << e;
}

TEST(StudyRunner, MissingBenchmarksFolderIsAClearErrorNamingTheFile) {
  const std::string dir = packbench::testing::temp_dir("smol-missing");
  const std::string yaml = dir + "/s.yaml";
  packbench::write_file_atomic(yaml, "name: t\nmethods: [padding]\nmodels: [{name: a, path: /m}]\n"
                                     "datasets: [{name: gsm, convert: {from: gsm8k, file: \"{benchmarks}/gsm8k/train.jsonl\"}}]\n");
  // PACKBENCH_SHARED pointing at a folder without the file: the error names the file it looked for.
  const char* old = std::getenv("PACKBENCH_SHARED");
  const std::string saved = old ? old : "";
  setenv("PACKBENCH_SHARED", (dir + "/nowhere").c_str(), 1);
  StudyRunner r(load_study_config(yaml), dir + "/runs");
  std::string e;
  try {
    r.prepare();
  } catch (const packbench::Error& x) {
    e = x.what();
  }
  if (old) setenv("PACKBENCH_SHARED", saved.c_str(), 1);
  else unsetenv("PACKBENCH_SHARED");
  EXPECT_NE(e.find(yaml + ".datasets[0].convert.file: " + dir + "/nowhere/gsm8k/train.jsonl not found"), std::string::npos) << e;
  EXPECT_EQ(expand_study_path("/abs/file", "w"), "/abs/file");
  EXPECT_EQ(expand_study_path("{cache}/models/x.gguf", "w"), packbench::cache_dir() + "/models/x.gguf");
}
