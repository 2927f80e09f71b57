// ifeval as a task: scoring responses from a file and running in-process through a LanguageModel.
#include "evals/ifeval/ifeval_score.h"

#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "evals/ifeval/ifeval_data.h"
#include "evals/ifeval/ifeval_scoring.h"
#include "evals/ifeval/ifeval_text.h"
#include "evals/ifeval/langdetect.h"

namespace packbench::evals {

using nlohmann::json;
namespace fs = std::filesystem;
using namespace ifeval;

namespace {

constexpr int kMaxGenToks = 1280;  // lm-evaluation-harness's ifeval generation budget

json sample_line(int64_t doc_id, const Prompt& p, const std::string& response, const Verdicts& v) {
  bool all_strict = std::all_of(v.strict.begin(), v.strict.end(), [](bool b) { return b; });
  bool all_loose = std::all_of(v.loose.begin(), v.loose.end(), [](bool b) { return b; });
  return {{"doc_id", doc_id},
          {"key", p.key},
          {"prompt", p.prompt},
          {"response", response},
          {"instruction_id_list", p.instruction_ids},
          {"follow_instruction_list_strict", v.strict},
          {"follow_instruction_list_loose", v.loose},
          {"prompt_level_strict_acc", all_strict},
          {"prompt_level_loose_acc", all_loose}};
}

TaskScore make_score(const Tally& tally, const std::string& input_data) {
  TaskScore s;
  s.task = "ifeval";
  s.metrics = tally.metrics();
  s.n_shot = 0;
  s.n_samples = tally.prompts;
  s.version = 4;  // lm-evaluation-harness's ifeval task version this follows
  s.config = {{"task", "ifeval"},
              {"dataset_path", input_data},
              {"output_type", "generate_until"},
              {"num_fewshot", 0},
              {"generation_kwargs", {{"until", json::array()}, {"do_sample", false}, {"max_gen_toks", kMaxGenToks}}},
              {"metric_list",
               {"prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc", "inst_level_loose_acc"}},
              {"language_detector",
               "langdetect 1.0.9 as ported by packbench, seed 0, profiles from " +
                   langdetect::Detector::default_package_dir()}};
  return s;
}

}  // namespace

TaskScore score_ifeval(const ScoreRequest& req) {
  std::vector<Response> responses = load_responses(req.responses_path);
  if (responses.empty()) throw Error(req.responses_path + ": no responses");
  bool need_data = std::any_of(responses.begin(), responses.end(), [](const Response& r) { return !r.has_doc; });
  std::string input_data = need_data ? resolve_input_data(req.data_path) : std::string("(from the samples' docs)");
  std::vector<Prompt> prompts;
  std::unordered_map<std::string, size_t> by_prompt;
  if (need_data) {
    prompts = load_prompts(input_data);
    for (size_t i = 0; i < prompts.size(); ++i) by_prompt.emplace(prompts[i].prompt, i);
  }
  std::unordered_map<std::string, std::string> seen;  // prompt -> where first answered
  Tally tally;
  std::string lines;
  for (size_t i = 0; i < responses.size(); ++i) {
    const Response& r = responses[i];
    const Prompt* p = &r.doc;
    if (!r.has_doc) {
      auto it = by_prompt.find(r.prompt);
      if (it == by_prompt.end())
        throw Error(r.where + ": field prompt does not match any prompt of " + input_data);
      p = &prompts[it->second];
      auto [s, fresh] = seen.emplace(r.prompt, r.where);
      if (!fresh) throw Error(r.where + ": a second response to the prompt already answered at " + s->second);
    }
    if (!valid_utf8(r.response)) throw Error(r.where + ": field response is not valid UTF-8");
    Verdicts v = judge(build_checkers(*p), r.response);
    tally.add(p->instruction_ids, v);
    if (!req.out_dir.empty()) lines += sample_line(static_cast<int64_t>(i), *p, r.response, v).dump() + "\n";
  }
  if (!req.out_dir.empty()) {
    fs::create_directories(req.out_dir);
    write_file_atomic((fs::path(req.out_dir) / "samples.jsonl").string(), lines);
    write_file_atomic((fs::path(req.out_dir) / "ifeval_per_instruction.json").string(), tally.breakdown().dump(2) + "\n");
  }
  return make_score(tally, input_data);
}

TaskScore run_ifeval(LanguageModel& lm, const RunOptions& options) {
  std::string input_data = resolve_input_data(options.data_path);
  std::vector<Prompt> prompts = load_prompts(input_data);
  if (options.limit >= 0 && static_cast<size_t>(options.limit) < prompts.size()) prompts.resize(options.limit);

  // Resume: reuse the responses of an earlier run's samples.jsonl, in order, while they match.
  std::vector<std::string> responses;
  std::string samples_path;
  if (!options.out_dir.empty()) {
    fs::create_directories(options.out_dir);
    samples_path = (fs::path(options.out_dir) / "samples.jsonl").string();
    if (fs::exists(samples_path)) {
      std::ifstream in(samples_path, std::ios::binary);
      std::string line, kept;
      while (std::getline(in, line) && responses.size() < prompts.size()) {
        json j = json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("response") || !j["response"].is_string() ||
            !j.contains("prompt") || j["prompt"] != prompts[responses.size()].prompt)
          break;  // a torn last line or a different run: regenerate from here
        responses.push_back(j["response"].get<std::string>());
        kept += line + "\n";
      }
      write_file_atomic(samples_path, kept);
    }
  }

  std::FILE* out = nullptr;
  if (!samples_path.empty()) {
    out = std::fopen(samples_path.c_str(), "ab");
    if (!out) throw Error(samples_path + ": cannot open for appending");
  }
  struct Closer {
    std::FILE* f;
    ~Closer() {
      if (f) std::fclose(f);
    }
  } closer{out};

  Tally tally;
  Progress progress("ifeval", static_cast<int64_t>(prompts.size()), "prompts");
  auto record = [&](size_t i, bool write) {
    Verdicts v = judge(build_checkers(prompts[i]), responses[i]);
    tally.add(prompts[i].instruction_ids, v);
    if (write && out) {
      std::string line = sample_line(static_cast<int64_t>(i), prompts[i], responses[i], v).dump() + "\n";
      std::fwrite(line.data(), 1, line.size(), out);
    }
  };
  for (size_t i = 0; i < responses.size(); ++i) record(i, false);
  progress.set(static_cast<int64_t>(responses.size()));

  int batch = std::max(1, options.batch_size);
  while (responses.size() < prompts.size()) {
    size_t begin = responses.size();
    size_t end = std::min(prompts.size(), begin + static_cast<size_t>(batch));
    std::vector<GenerationRequest> reqs;
    for (size_t i = begin; i < end; ++i) reqs.push_back({prompts[i].prompt, {}, kMaxGenToks});
    std::vector<std::string> got = lm.generate_until(reqs);
    if (got.size() != reqs.size())
      throw Error("ifeval: model " + lm.name() + " returned " + std::to_string(got.size()) + " generations for " +
                  std::to_string(reqs.size()) + " requests");
    for (size_t i = begin; i < end; ++i) {
      responses.push_back(got[i - begin]);
      record(i, true);
    }
    if (out) std::fflush(out);
    progress.add(static_cast<int64_t>(end - begin));
  }
  progress.finish();

  TaskScore score = make_score(tally, input_data);
  if (!options.out_dir.empty()) {
    write_file_atomic((fs::path(options.out_dir) / "results.json").string(), results_json({score}).dump(2) + "\n");
    write_file_atomic((fs::path(options.out_dir) / "ifeval_per_instruction.json").string(),
                      tally.breakdown().dump(2) + "\n");
  }
  return score;
}

}  // namespace packbench::evals
