// Training checkpoints: checkpoint-N/ with model, optimizer, RNG and trainer state, renamed into place.
#include "trainers/checkpoint.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <regex>

#include "core/atomic_file.h"
#include "core/error.h"
#include "trainers/parallel/distributed.h"
#include "trainers/parallel/zero_shards.h"
#include "trainers/zero_adamw.h"

namespace fs = std::filesystem;

namespace packbench::train {
namespace {

std::vector<std::pair<int64_t, std::string>> list_checkpoints(const std::string& output_dir) {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  if (!fs::is_directory(output_dir, ec)) return out;
  static const std::regex re("checkpoint-([0-9]+)");
  for (const auto& e : fs::directory_iterator(output_dir, ec)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (e.is_directory() && std::regex_match(name, m, re) && fs::exists(e.path() / "trainer_state.json"))
      out.emplace_back(std::stoll(m[1]), e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Renames a finished (and synced) temporary folder onto final_dir, then removes the oldest
// checkpoints beyond save_total_limit (-1 keeps all).
void install_checkpoint(const std::string& tmp, const std::string& final_dir, const std::string& output_dir,
                        int64_t save_total_limit) {
  std::error_code ec;
  if (fs::exists(final_dir)) fs::remove_all(final_dir);
  fs::rename(tmp, final_dir);
  fsync_dir(output_dir);
  if (save_total_limit > 0) {
    auto all = list_checkpoints(output_dir);
    for (size_t i = 0; i + save_total_limit < all.size(); ++i) fs::remove_all(all[i].second, ec);
  }
}

}  // namespace

std::string checkpoint_dir(const std::string& output_dir, int64_t step) {
  return fmt::format("{}/checkpoint-{}", output_dir, step);
}

std::string latest_checkpoint(const std::string& output_dir) {
  auto all = list_checkpoints(output_dir);
  return all.empty() ? std::string() : all.back().second;
}

std::string save_checkpoint(const std::string& output_dir, int64_t step, CausalLM& model,
                            torch::optim::Optimizer& optimizer, const nlohmann::json& state,
                            int64_t save_total_limit) {
  const std::string final_dir = checkpoint_dir(output_dir, step);
  const std::string tmp = fmt::format("{}/.checkpoint-{}.tmp-{}", output_dir, step, ::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  try {
    model.save_exact(tmp);
    torch::save(optimizer, tmp + "/optimizer.pt");
    torch::save(at::detail::getDefaultCPUGenerator().get_state(), tmp + "/rng_state.pt");
    write_file_atomic(tmp + "/trainer_state.json", state.dump(2) + "\n");
    fsync_tree(tmp);  // on disk before it can become the latest checkpoint
  } catch (const c10::Error& e) {
    fs::remove_all(tmp, ec);
    throw Error(fmt::format("{}: cannot write the checkpoint: {}", final_dir, e.what_without_backtrace()));
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  install_checkpoint(tmp, final_dir, output_dir, save_total_limit);
  return final_dir;
}

namespace {

std::string rank_shard_name(int rank, int world) { return fmt::format("rank-{:05d}-of-{:05d}.pt", rank, world); }

nlohmann::json read_state(const std::string& dir) {
  const std::string state_path = dir + "/trainer_state.json";
  try {
    return nlohmann::json::parse(read_file(state_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", state_path, e.what()));
  }
}

void restore_rng(const std::string& dir) {
  try {
    torch::Tensor rng;
    torch::load(rng, dir + "/rng_state.pt");
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}/rng_state.pt: cannot load the RNG state: {}", dir, e.what_without_backtrace()));
  }
}

}  // namespace

std::string save_sharded_checkpoint(const std::string& output_dir, int64_t step, CausalLM& model, ZeroShards& shards,
                                    ZeroAdamW& optimizer, Distributed& dist, const nlohmann::json& state,
                                    int64_t save_total_limit) {
  const std::string final_dir = checkpoint_dir(output_dir, step);
  const std::string tmp = fmt::format("{}/.checkpoint-{}.tmp-sharded", output_dir, step);
  std::error_code ec;
  if (dist.is_main()) {
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp + "/zero");
  }
  dist.barrier();
  optimizer.save(tmp + "/zero/" + rank_shard_name(dist.rank(), dist.world_size()));
  shards.begin_consolidated();  // every rank takes part in the gathers
  if (dist.is_main()) model.save_exact(tmp);
  shards.end_consolidated();
  dist.barrier();
  if (dist.is_main()) {
    nlohmann::json index = {{"world_size", dist.world_size()},
                            {"sharding", zero_stage_name(shards.options().stage)},
                            {"units", nlohmann::json::array()}};
    for (const auto& u : shards.units())
      index["units"].push_back({{"name", u.name}, {"numel", u.numel}, {"shard", u.shard}});
    write_file_atomic(tmp + "/zero/index.json", index.dump(2) + "\n");
    try {
      torch::save(at::detail::getDefaultCPUGenerator().get_state(), tmp + "/rng_state.pt");
    } catch (const c10::Error& e) {
      throw Error(fmt::format("{}: cannot write the RNG state: {}", final_dir, e.what_without_backtrace()));
    }
    write_file_atomic(tmp + "/trainer_state.json", state.dump(2) + "\n");
    fsync_tree(tmp);  // on disk before it can become the latest checkpoint
    install_checkpoint(tmp, final_dir, output_dir, save_total_limit);
  }
  dist.barrier();
  return final_dir;
}

nlohmann::json load_sharded_checkpoint(const std::string& dir, ZeroShards& shards, ZeroAdamW& optimizer,
                                       Distributed& dist) {
  nlohmann::json state = read_state(dir);
  const std::string index_path = dir + "/zero/index.json";
  if (!fs::exists(index_path))
    throw Error(fmt::format("{}: not a sharded checkpoint (no zero/index.json): it was written without sharding; "
                            "resume it with sharding: none",
                            dir));
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(read_file(index_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", index_path, e.what()));
  }
  const int saved_world = index.value("world_size", 0);
  const std::string saved_stage = index.value("sharding", std::string());
  if (saved_world != dist.world_size())
    throw Error(fmt::format("{}: written by {} ranks, this run has {}: resuming a sharded checkpoint on a different "
                            "world size is not supported",
                            index_path, saved_world, dist.world_size()));
  if (saved_stage != zero_stage_name(shards.options().stage))
    throw Error(fmt::format("{}: written with sharding {}, this run uses {}", index_path, saved_stage,
                            zero_stage_name(shards.options().stage)));
  optimizer.load(dir + "/zero/" + rank_shard_name(dist.rank(), dist.world_size()));
  restore_rng(dir);
  return state;
}

nlohmann::json load_checkpoint(const std::string& dir, CausalLM& model, torch::optim::Optimizer& optimizer) {
  nlohmann::json state = read_state(dir);
  if (fs::exists(dir + "/zero/index.json"))
    throw Error(fmt::format("{}: a sharded checkpoint (zero/index.json): resume it with the sharding it was written with",
                            dir));
  model.load(dir);
  try {
    torch::load(optimizer, dir + "/optimizer.pt");
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}/optimizer.pt: cannot load the optimizer state: {}", dir, e.what_without_backtrace()));
  }
  restore_rng(dir);
  return state;
}

}  // namespace packbench::train
