// The supervised fine-tuning loop: AdamW, LR schedule, accumulation, clipping, eval, checkpoints.
#include "trainers/trainer.h"

#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "trainers/adamw_fused.h"
#include "trainers/parallel/blas_kernels.h"
#include "trainers/checkpoint.h"
#include "trainers/collate_torch.h"
#include "trainers/loss.h"
#include "trainers/mfu.h"
#include "trainers/sampler.h"
#include "trainers/schedule.h"
#include "trainers/parallel/runtime_info.h"
#include "trainers/parallel/zero_shards.h"
#include "trainers/zero_adamw.h"

namespace fs = std::filesystem;

namespace packbench::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// bf16 autocast on CUDA for the forward pass; nothing on CPU (training there is fp32).
class Autocast {
 public:
  explicit Autocast(bool on) : on_(on) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
  }
  ~Autocast() {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
  }

 private:
  bool on_;
};

// A collated batch's tensors on `device`.
void to_device(Batch& b, const torch::Device& device) {
  for (auto* t : {&b.input_ids, &b.targets, &b.position_ids, &b.attention_mask, &b.segment_ids}) *t = t->to(device);
}

double round_to(double v, int digits) {
  const double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

std::string hms(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds);
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60);
}

// No weight decay for biases and norm weights (the Hugging Face Trainer's grouping).
bool decays(const std::string& name) {
  return !(name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) && name.find("norm") == std::string::npos;
}

// The model's decoder-layer hooks, for zero3: gather a layer's parameters before its use (and
// start the next layer's gather), free them after, and hand its gradients to their owners as soon
// as its backward is done.
class ZeroLayerHooks : public LayerParamHooks {
 public:
  explicit ZeroLayerHooks(ZeroShards& z) : z_(z) {}
  void before(int layer) override {
    peak_between_layers_ = std::max(peak_between_layers_, z_.bytes().params);  // with a gather in flight
    z_.before_layer(layer);
  }
  void after(int layer) override { z_.after_layer(layer); }
  void after_backward(int layer) override { z_.after_layer_backward(layer); }
  int64_t peak_between_layers() const { return peak_between_layers_; }

 private:
  ZeroShards& z_;
  int64_t peak_between_layers_ = 0;
};

struct EvalResult {
  double loss = 0.0;
  double runtime = 0.0;
  int64_t rows = 0;
};

}  // namespace

torch::Device training_device(int local_rank) {
  if (torch::cuda::is_available()) return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank));
  return torch::Device(torch::kCPU);
}

int resolve_num_threads(int configured, int local_world_size) {
  if (configured > 0) return configured;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, local_world_size));
}

TrainOutcome run_training(const TrainConfig& cfg, CausalLM& model, const TrainData& data, Distributed& dist,
                          const TrainHooks& hooks) {
  TrainOutcome out;
  const int world = dist.world_size();
  const int rank = dist.rank();
  const bool main_rank = dist.is_main();
  const auto layout = cfg.attention == "block" ? data::AttentionLayout::kBlock : data::AttentionLayout::kCross;
  const auto norm = parse_loss_normalization(cfg.loss_normalization);
  const int GA = cfg.gradient_accumulation_steps;
  const int64_t n_train = static_cast<int64_t>(data.train_rows.size());
  if (n_train == 0) throw Error("training: the training split has no rows");

  auto params = model.named_parameters();
  std::vector<torch::Tensor> param_list;
  for (auto& [name, p] : params) param_list.push_back(p);
  const torch::Device device = param_list.front().device();
  const bool autocast = cfg.bf16 && device.is_cuda();
  if (cfg.bf16 && !device.is_cuda() && main_rank)
    fmt::print(stderr, "packbench: bf16 requested but training runs on CPU: using fp32\n");
  const ZeroStage stage = parse_zero_stage(cfg.sharding, "sharding");
  bool checkpointing = cfg.gradient_checkpointing;
  if (stage == ZeroStage::kThree && !checkpointing) {
    // Each decoder layer's parameters are freed after its forward, so its backward recomputes it.
    checkpointing = true;
    if (main_rank) fmt::print(stderr, "packbench: sharding zero3 recomputes each layer in backward (gradient checkpointing on)\n");
  }
  model.set_gradient_checkpointing(checkpointing);
  model.train(true);
  {
    torch::NoGradGuard ng;
    dist.broadcast(param_list);  // every rank starts from rank 0's weights
  }
  // Sharded data parallelism: this rank keeps its shards; AdamW runs on them.
  std::unique_ptr<ZeroShards> zero;
  std::unique_ptr<ZeroAdamW> zero_opt;
  std::shared_ptr<ZeroLayerHooks> zero_hooks;
  if (stage != ZeroStage::kNone) {
    ZeroOptions zo;
    zo.stage = stage;
    zo.offload_optimizer = cfg.offload_optimizer == "cpu";
    zo.offload_params = cfg.offload_params == "cpu";
    zo.prefetch = cfg.zero_prefetch ? 1 : 0;
    zero = std::make_unique<ZeroShards>(params, dist, zo);
    std::vector<bool> decay_flags;
    for (auto& [name, p] : params) decay_flags.push_back(decays(name));
    ZeroAdamWOptions ao;
    ao.beta1 = cfg.adam_beta1;
    ao.beta2 = cfg.adam_beta2;
    ao.eps = cfg.adam_epsilon;
    ao.weight_decay = cfg.weight_decay;
    zero_opt = std::make_unique<ZeroAdamW>(*zero, ao, decay_flags);
    // zero3 gathers and frees each layer around its use; zero2 (and zero3) reduce a layer's
    // gradients as soon as its recomputed backward is done (with gradient checkpointing).
    if (stage == ZeroStage::kThree || (stage == ZeroStage::kTwo && checkpointing)) {
      zero_hooks = std::make_shared<ZeroLayerHooks>(*zero);
      model.set_layer_hooks(zero_hooks);
    }
    // The autocast cache would keep a bf16 copy of every gathered weight alive after its release.
    if (stage == ZeroStage::kThree && autocast) at::autocast::set_autocast_cache_enabled(false);
  }
  // zero3: the embedding and the head stay gathered while a micro-batch (or an evaluation) runs.
  auto gather_outer = [&] {
    if (!zero || stage != ZeroStage::kThree) return;
    zero->gather(zero->embed_unit());
    if (zero->head_unit() >= 0) zero->gather(zero->head_unit());
  };
  auto release_outer = [&] {
    if (!zero || stage != ZeroStage::kThree) return;
    zero->release(zero->embed_unit());
    if (zero->head_unit() >= 0) zero->release(zero->head_unit());
  };
  int64_t peak_grad_bytes = 0;

  // Optimizer: AdamW with two groups (decay / no decay).
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& [name, p] : params) (decays(name) ? decay : no_decay).push_back(p);
  auto make_opts = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(cfg.learning_rate)
            .betas({cfg.adam_beta1, cfg.adam_beta2})
            .eps(cfg.adam_epsilon)
            .weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decay.empty()) groups.emplace_back(decay, make_opts(cfg.weight_decay));
  if (!no_decay.empty()) groups.emplace_back(no_decay, make_opts(0.0));
  torch::optim::AdamW optimizer(groups, torch::optim::AdamWOptions(cfg.learning_rate));
  const bool fused_optimizer = fused_adamw_applies(optimizer) && std::getenv("PACKBENCH_UNFUSED_OPTIMIZER") == nullptr;

  // Step counts as the Hugging Face Trainer computes them.
  const int64_t steps_per_epoch = optimizer_steps_per_epoch(n_train, cfg.per_device_train_batch_size, world, GA);
  const int64_t total_steps = cfg.max_steps > 0
      ? cfg.max_steps
      : static_cast<int64_t>(std::ceil(cfg.num_train_epochs * static_cast<double>(steps_per_epoch)));
  const double num_epochs = cfg.max_steps > 0
      ? std::ceil(static_cast<double>(cfg.max_steps) / static_cast<double>(steps_per_epoch))
      : cfg.num_train_epochs;
  const int64_t warmup = resolve_warmup_steps(total_steps, cfg.warmup_steps, cfg.warmup_ratio);
  const int64_t total_batch = static_cast<int64_t>(cfg.per_device_train_batch_size) * GA * world;
  out.total_steps = total_steps;

  // State carried across checkpoints.
  int64_t global_step = 0;
  double tr_loss_total = 0.0;        // sum of step losses since step 0
  double logged_loss = 0.0;          // sum of step losses since the last log
  int64_t last_logged_step = 0;
  nlohmann::json log_history = nlohmann::json::array();
  nlohmann::json jsonl = nlohmann::json::array();
  double total_flos = 0.0, real_tokens = 0.0, trainable_tokens = 0.0, padded_tokens = 0.0, model_flops = 0.0;
  double rows_seen = 0.0;

  if (main_rank && hooks.write_outputs) fs::create_directories(cfg.output_dir);
  std::string resume_dir;
  if (cfg.resume_from_checkpoint == "auto" || cfg.resume_from_checkpoint == "true" ||
      cfg.resume_from_checkpoint == "True") {
    resume_dir = latest_checkpoint(cfg.output_dir);
  } else if (!cfg.resume_from_checkpoint.empty() && cfg.resume_from_checkpoint != "false" &&
             cfg.resume_from_checkpoint != "False") {
    resume_dir = cfg.resume_from_checkpoint;
    if (!fs::exists(resume_dir + "/trainer_state.json"))
      throw Error(fmt::format("resume_from_checkpoint: {} is not a checkpoint (no trainer_state.json)", resume_dir));
  }
  if (!resume_dir.empty()) {
    nlohmann::json st = zero ? load_sharded_checkpoint(resume_dir, *zero, *zero_opt, dist)
                             : load_checkpoint(resume_dir, model, optimizer);
    const auto& pb = st.at("packbench");
    if (pb.at("train_rows").get<int64_t>() != n_train || pb.at("world_size").get<int>() != world ||
        pb.at("total_steps").get<int64_t>() != total_steps)
      throw Error(fmt::format("{}/trainer_state.json: the checkpoint was made with {} rows, world size {} and {} "
                              "steps; this run has {}, {} and {}",
                              resume_dir, pb.at("train_rows").get<int64_t>(), pb.at("world_size").get<int>(),
                              pb.at("total_steps").get<int64_t>(), n_train, world, total_steps));
    global_step = st.at("global_step").get<int64_t>();
    log_history = st.at("log_history");
    tr_loss_total = pb.at("tr_loss_total").get<double>();
    logged_loss = pb.at("logged_loss").get<double>();
    last_logged_step = pb.at("last_logged_step").get<int64_t>();
    jsonl = pb.at("jsonl");
    total_flos = st.at("total_flos").get<double>();
    real_tokens = pb.at("real_tokens").get<double>();
    trainable_tokens = pb.at("trainable_tokens").get<double>();
    padded_tokens = pb.at("padded_tokens").get<double>();
    model_flops = pb.at("model_flops").get<double>();
    rows_seen = pb.at("rows_seen").get<double>();
    out.resumed_from = resume_dir;
    if (main_rank) fmt::print(stderr, "packbench: resuming from {} (step {})\n", resume_dir, global_step);
  }

  GemmCeiling ceiling;
  if (hooks.measure_gemm_ceiling) ceiling = gemm_ceiling(device, cfg.bf16);

  auto state_json = [&](double epoch) {
    nlohmann::json st = {
        {"best_metric", nullptr}, {"best_model_checkpoint", nullptr}, {"epoch", epoch},
        {"eval_steps", cfg.eval_steps}, {"global_step", global_step}, {"is_hyper_param_search", false},
        {"is_local_process_zero", true}, {"is_world_process_zero", true}, {"log_history", log_history},
        {"logging_steps", cfg.logging_steps}, {"max_steps", total_steps}, {"num_input_tokens_seen", 0},
        {"num_train_epochs", num_epochs}, {"save_steps", cfg.save_steps}, {"total_flos", total_flos},
        {"train_batch_size", cfg.per_device_train_batch_size}, {"trial_name", nullptr}, {"trial_params", nullptr}};
    st["packbench"] = {{"train_rows", n_train}, {"world_size", world}, {"total_steps", total_steps},
                       {"tr_loss_total", tr_loss_total}, {"logged_loss", logged_loss},
                       {"last_logged_step", last_logged_step}, {"jsonl", jsonl},
                       {"real_tokens", real_tokens}, {"trainable_tokens", trainable_tokens},
                       {"padded_tokens", padded_tokens}, {"model_flops", model_flops},
                       {"rows_seen", rows_seen}, {"steps_per_epoch", steps_per_epoch}};
    return st;
  };
  const auto run_start = Clock::now();
  const int64_t start_step = global_step;
  auto write_jsonl = [&] {
    if (!main_rank || !hooks.write_outputs) return;
    std::string text;
    for (const auto& l : jsonl) text += l.dump() + "\n";
    write_file_atomic(cfg.output_dir + "/trainer_log.jsonl", text);
  };
  auto add_jsonl = [&](const nlohmann::json& entry, double epoch) {
    const double elapsed = seconds_since(run_start);
    const int64_t done = global_step - start_step;
    const double remaining = done > 0 ? elapsed / double(done) * double(total_steps - global_step) : 0.0;
    nlohmann::json l = {{"current_steps", global_step}, {"total_steps", total_steps}};
    for (const char* k : {"loss", "eval_loss", "learning_rate"})
      if (entry.contains(k)) l[k] = entry[k];
    l["epoch"] = round_to(epoch, 2);
    l["percentage"] = round_to(100.0 * double(global_step) / double(total_steps), 2);
    l["elapsed_time"] = hms(elapsed);
    l["remaining_time"] = hms(remaining);
    jsonl.push_back(l);
    write_jsonl();
  };

  // Eval loss over this rank's share of the holdout; sums are combined across ranks.
  auto evaluate = [&]() {
    EvalResult r;
    const auto t0 = Clock::now();
    torch::NoGradGuard ng;
    model.train(false);
    double ce = 0, tokens = 0, weighted_means = 0, rows = 0;
    gather_outer();
    const int64_t n_eval = static_cast<int64_t>(data.eval_rows.size());
    std::vector<const data::Row*> batch_rows;
    auto flush = [&] {
      if (batch_rows.empty()) return;
      Batch b = collate(batch_rows, layout, 8, data.pad_id);
      to_device(b, device);
      torch::Tensor loss_sum;
      {
        Autocast ac(autocast);
        loss_sum = model.loss_sum(b);
      }
      const double s = loss_sum.item<double>();
      ce += s;
      tokens += double(b.trainable_tokens);
      if (b.trainable_tokens > 0) weighted_means += s / double(b.trainable_tokens) * double(batch_rows.size());
      rows += double(batch_rows.size());
      batch_rows.clear();
    };
    int64_t batches_run = 0;
    for (int64_t i = rank; i < n_eval; i += world) {
      batch_rows.push_back(&data.eval_rows[i]);
      if (static_cast<int>(batch_rows.size()) == cfg.per_device_eval_batch_size) {
        flush();
        ++batches_run;
      }
    }
    if (!batch_rows.empty()) ++batches_run;
    flush();
    if (zero && stage == ZeroStage::kThree) {
      // zero3 gathers each layer with the other ranks: every rank runs as many forward passes as
      // rank 0 (which has the most rows); the extra ones are discarded.
      const int64_t most = (((n_eval + world - 1) / world) + cfg.per_device_eval_batch_size - 1) /
                           cfg.per_device_eval_batch_size;
      for (; batches_run < most; ++batches_run) {
        std::vector<const data::Row*> one{&data.eval_rows[0]};
        Batch b = collate(one, layout, 8, data.pad_id);
        to_device(b, device);
        Autocast ac(autocast);
        (void)model.loss_sum(b);
      }
    }
    release_outer();
    auto sums = dist.all_reduce_sum({ce, tokens, weighted_means, rows});
    model.train(true);
    r.rows = static_cast<int64_t>(sums[3]);
    if (norm == LossNormalization::kGlobalTokens) r.loss = sums[1] > 0 ? sums[0] / sums[1] : 0.0;
    else r.loss = sums[3] > 0 ? sums[2] / sums[3] : 0.0;
    r.runtime = seconds_since(t0);
    return r;
  };

  std::unique_ptr<Progress> progress;
  if (main_rank) {
    progress = std::make_unique<Progress>("train", total_steps - global_step, "step");
  }

  const int64_t bucket_bytes = cfg.ddp_bucket_size_mb * 1024 * 1024;
  double epoch_f = steps_per_epoch > 0 ? double(global_step) / double(steps_per_epoch) : 0.0;
  while (global_step < total_steps) {
    const int64_t epoch = global_step / steps_per_epoch;
    const int64_t step_in_epoch = global_step % steps_per_epoch;
    const auto mbs = rank_micro_batches(n_train, world, rank, static_cast<uint64_t>(cfg.seed), epoch,
                                        cfg.per_device_train_batch_size);
    // The micro-batches of this optimizer step (a short epoch trains all of them in one step).
    const bool short_epoch = static_cast<int64_t>(mbs.size()) < GA;
    const size_t first = short_epoch ? 0 : static_cast<size_t>(step_in_epoch * GA);
    const size_t last = short_epoch ? mbs.size() : first + GA;

    if (zero && stage == ZeroStage::kOne) zero->begin_gradient_round();
    // Trainable targets of the whole global batch, for the global normalisation.
    double local_counts[4] = {0, 0, 0, 0};  // trainable, real, padded, rows
    std::vector<Batch> batches;
    for (size_t m = first; m < last; ++m) {
      std::vector<const data::Row*> rows;
      for (int64_t idx : mbs[m]) rows.push_back(&data.train_rows[idx]);
      batches.push_back(collate(rows, layout, 8, data.pad_id));
      local_counts[0] += double(batches.back().trainable_tokens);
      local_counts[1] += double(batches.back().real_tokens);
      local_counts[2] += double(batches.back().padded_tokens);
      local_counts[3] += double(rows.size());
    }
    double flops_local = 0;
    for (const auto& b : batches)
      for (int64_t len : b.row_lengths) flops_local += model.train_flops_per_token(len) * double(len);
    auto counts = dist.all_reduce_sum({local_counts[0], local_counts[1], local_counts[2], local_counts[3], flops_local});
    const int64_t global_trainable = static_cast<int64_t>(counts[0]);

    double step_loss_local = 0.0;
    for (auto& b : batches) {
      to_device(b, device);
      const double scale = micro_loss_scale(norm, b.trainable_tokens, global_trainable, GA, world);
      // A micro-batch without a trained token adds nothing; sharded ranks still run it, since
      // every rank takes part in each gather and reduction.
      if (scale == 0.0 && !zero) continue;
      if (zero && stage != ZeroStage::kOne) zero->begin_gradient_round();
      torch::Tensor loss_sum;
      gather_outer();
      {
        Autocast ac(autocast);
        loss_sum = model.loss_sum(b);
      }
      auto loss = loss_sum * scale;
      loss.backward();
      step_loss_local += loss.item<double>();
      loss = torch::Tensor();
      loss_sum = torch::Tensor();
      if (zero) {
        peak_grad_bytes = std::max(peak_grad_bytes, zero->bytes().grads);
        // zero2/3: each unit's gradients go to their owners after every micro-batch (zero3's
        // decoder layers already went during the backward pass).
        if (stage != ZeroStage::kOne) zero->reduce_remaining_gradients();
      }
      release_outer();
    }
    // Gradients: summed across ranks (the loss scale already divides by what it must).
    std::vector<torch::Tensor> grads;
    if (zero) {
      zero->reduce_remaining_gradients();  // zero1: the whole step's gradients, once
    } else {
      for (auto& p : param_list) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        grads.push_back(p.grad());
      }
      peak_grad_bytes = std::max(peak_grad_bytes, storage_bytes(grads));
      dist.all_reduce_sum(grads, bucket_bytes);
    }
    const double step_loss = dist.all_reduce_sum({step_loss_local})[0];
    if (!std::isfinite(step_loss)) {
      const std::string latest = main_rank ? latest_checkpoint(cfg.output_dir) : std::string();
      throw Error(fmt::format("training stopped at step {} of {}: the loss is {}{}", global_step + 1, total_steps,
                              step_loss, latest.empty() ? std::string() : "; the latest good checkpoint is " + latest));
    }
    const double lr = cfg.learning_rate * lr_multiplier(cfg.lr_scheduler_type, global_step, warmup, total_steps);
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    double grad_norm = 0.0;
    if (zero) {
      grad_norm = zero_opt->step(lr, cfg.max_grad_norm);
    } else if (fused_optimizer) {
      // Norm, clipping scale, AdamW and zeroing in two passes over the gradients.
      grad_norm = grad_global_norm(param_list);
      const double clip = cfg.max_grad_norm > 0 ? cfg.max_grad_norm / (grad_norm + 1e-6) : 1.0;
      fused_adamw_step(optimizer, std::min(1.0, clip));
    } else {
      if (cfg.max_grad_norm > 0) {
        grad_norm = torch::nn::utils::clip_grad_norm_(param_list, cfg.max_grad_norm);
      } else {
        double sq = 0;
        for (auto& g : grads) sq += g.pow(2).sum().item<double>();
        grad_norm = std::sqrt(sq);
      }
      optimizer.step();
      optimizer.zero_grad();
    }
    ++global_step;

    tr_loss_total += step_loss;
    logged_loss += step_loss;
    trainable_tokens += counts[0];
    real_tokens += counts[1];
    padded_tokens += counts[2];
    rows_seen += counts[3];
    model_flops += counts[4];
    total_flos += 6.0 * double(model.num_parameters()) * counts[2];
    out.step_losses.push_back(step_loss);
    out.grad_norms.push_back(grad_norm);
    epoch_f = double(global_step) / double(steps_per_epoch);
    if (progress) {
      progress->set_postfix(fmt::format("loss={:.4f}", step_loss));
      progress->set(global_step - start_step);
    }

    const double next_lr =
        cfg.learning_rate * lr_multiplier(cfg.lr_scheduler_type, std::min(global_step, total_steps), warmup, total_steps);
    const bool last_step = global_step == total_steps;
    if ((cfg.logging_steps > 0 && global_step % cfg.logging_steps == 0) || last_step) {
      const int64_t n = global_step - last_logged_step;
      if (n > 0) {
        nlohmann::json e = {{"epoch", round_to(epoch_f, 4)}, {"grad_norm", grad_norm},
                            {"learning_rate", next_lr}, {"loss", round_to(logged_loss / double(n), 4)},
                            {"step", global_step}};
        log_history.push_back(e);
        add_jsonl(e, epoch_f);
        logged_loss = 0.0;
        last_logged_step = global_step;
      }
    }
    if (cfg.eval_steps > 0 && !data.eval_rows.empty() && global_step % cfg.eval_steps == 0) {
      EvalResult r = evaluate();
      nlohmann::json e = {{"epoch", round_to(epoch_f, 4)}, {"eval_loss", r.loss}, {"eval_runtime", round_to(r.runtime, 4)},
                          {"eval_samples_per_second", round_to(r.rows / std::max(r.runtime, 1e-9), 3)},
                          {"eval_steps_per_second", 0.0}, {"step", global_step}};
      log_history.push_back(e);
      add_jsonl(e, epoch_f);
      out.eval_losses.emplace_back(global_step, r.loss);
    }
    if (cfg.save_steps > 0 && global_step % cfg.save_steps == 0 && !last_step && hooks.write_outputs) {
      if (zero) {
        save_sharded_checkpoint(cfg.output_dir, global_step, model, *zero, *zero_opt, dist, state_json(epoch_f),
                                cfg.save_total_limit);
      } else {
        if (main_rank)
          save_checkpoint(cfg.output_dir, global_step, model, optimizer, state_json(epoch_f), cfg.save_total_limit);
        dist.barrier();
      }
    }
    if (hooks.after_step) hooks.after_step(global_step);
  }
  if (progress) progress->finish();

  const double runtime = seconds_since(run_start);
  const int64_t steps_run = global_step - start_step;
  out.global_step = global_step;
  out.train_loss = global_step > 0 ? tr_loss_total / double(global_step) : 0.0;
  const double num_samples = cfg.max_steps > 0 ? double(cfg.max_steps * total_batch) : double(n_train) * num_epochs;
  nlohmann::json results = {
      {"epoch", round_to(epoch_f, 4)},
      {"total_flos", total_flos},
      {"train_loss", out.train_loss},
      {"train_runtime", round_to(runtime, 4)},
      {"train_samples_per_second", round_to(num_samples / runtime, 3)},
      {"train_steps_per_second", round_to(double(total_steps) / runtime, 3)},
  };
  // packbench's additions (this process's run: after a resume, only the steps it ran count).
  results["global_step"] = global_step;
  results["steps_run"] = steps_run;
  results["world_size"] = world;
  results["train_rows"] = n_train;
  results["train_tokens"] = real_tokens;
  results["train_trainable_tokens"] = trainable_tokens;
  results["train_padded_tokens"] = padded_tokens;
  results["train_rows_seen"] = rows_seen;
  results["padding_fraction"] = padded_tokens > 0 ? (padded_tokens - real_tokens) / padded_tokens : 0.0;
  results["model_flops"] = model_flops;
  {
    // Memory per rank: bytes held for parameters, gradients and optimizer state (measured from the
    // tensors: at their peak within a step for gradients, between layers for zero3's parameters),
    // and the process's peak (CUDA max allocated, or the resident set on CPU).
    double mine[4] = {0, 0, 0, 0};
    if (zero) {
      const ZeroBytes zb = zero->bytes();
      mine[0] = double(zero_hooks ? std::max(zero_hooks->peak_between_layers(), zb.params) : zb.params);
      mine[2] = double(zb.master + zero_opt->moment_bytes());
    } else {
      mine[0] = double(storage_bytes(param_list));
      std::vector<torch::Tensor> st;
      for (auto& kv : optimizer.state()) {
        auto& s = static_cast<torch::optim::AdamWParamState&>(*kv.second);
        st.push_back(s.exp_avg());
        st.push_back(s.exp_avg_sq());
      }
      mine[2] = double(storage_bytes(st));
    }
    mine[1] = double(peak_grad_bytes);
    mine[3] = double(peak_memory_bytes(device));
    std::vector<double> slots(static_cast<size_t>(4 * world), 0.0);
    for (int k = 0; k < 4; ++k) slots[static_cast<size_t>(4 * rank + k)] = mine[k];
    slots = dist.all_reduce_sum(slots);
    nlohmann::json per[4] = {nlohmann::json::array(), nlohmann::json::array(), nlohmann::json::array(),
                             nlohmann::json::array()};
    for (int r = 0; r < world; ++r)
      for (int k = 0; k < 4; ++k) per[k].push_back(static_cast<int64_t>(slots[static_cast<size_t>(4 * r + k)]));
    results["sharding"] = cfg.sharding;
    results["offload_optimizer"] = cfg.offload_optimizer;
    results["offload_params"] = cfg.offload_params;
    results["param_bytes_per_rank"] = per[0];
    results["grad_bytes_per_rank"] = per[1];
    results["optimizer_state_bytes_per_rank"] = per[2];
    results["peak_memory_bytes_per_rank"] = per[3];
    results["peak_memory_kind"] = device.is_cuda() ? "cuda_max_allocated" : "max_rss";
    if (zero) {
      // This rank's (rank 0's in the file) count of what the overlap did.
      const ZeroOverlapStats& os = zero->overlap_stats();
      results["zero_prefetch"] = cfg.zero_prefetch;
      results["zero_overlap"] = {{"gathers_ahead", os.gathers_ahead},
                                 {"gathers_ahead_used", os.gathers_ahead_used},
                                 {"gathers_ahead_finished", os.gathers_ahead_finished},
                                 {"gathers_ahead_dropped", os.gathers_ahead_dropped},
                                 {"reduces_deferred", os.reduces_deferred},
                                 {"reduces_finished", os.reduces_finished}};
    }
  }
  if (device.is_cpu()) {
    results["blas_kernels"] = blas_kernels_description();
    results["intra_op_threads"] = at::get_num_threads();
  }
  if (start_step == 0) {
    results["train_tokens_per_second"] = real_tokens / runtime;
    results["train_trainable_tokens_per_second"] = trainable_tokens / runtime;
    if (ceiling.flops_per_second > 0) {
      results["gemm_ceiling_flops"] = ceiling.flops_per_second;
      results["gemm_ceiling"] = {{"device", ceiling.device}, {"dtype", ceiling.dtype}, {"n", ceiling.n},
                                 {"threads", ceiling.threads}, {"cached", ceiling.cached}};
      results["mfu"] = model_flops / runtime / (ceiling.flops_per_second * world);
    }
  }
  if (!data.data_stats.is_null()) {
    // The data stage knows rows, not the run's geometry: the step counts are the trainer's own.
    results["data_stats"] = data.data_stats;
    results["data_stats"]["steps_per_epoch"] = steps_per_epoch;
    results["data_stats"]["total_steps"] = total_steps;
  }
  if (!data.eval_rows.empty() && cfg.eval_steps > 0) {
    EvalResult r = evaluate();
    results["eval_loss"] = r.loss;
    out.eval_losses.emplace_back(global_step, r.loss);
    nlohmann::json e = {{"epoch", round_to(epoch_f, 4)}, {"eval_loss", r.loss}, {"step", global_step}};
    log_history.push_back(e);
  }
  nlohmann::json summary = {{"epoch", round_to(epoch_f, 4)}, {"step", global_step}, {"total_flos", total_flos},
                            {"train_loss", out.train_loss}, {"train_runtime", results["train_runtime"]},
                            {"train_samples_per_second", results["train_samples_per_second"]},
                            {"train_steps_per_second", results["train_steps_per_second"]}};
  log_history.push_back(summary);
  out.train_results = results;
  if (zero && hooks.write_outputs && cfg.save_final_model) {
    // The consolidated model: every rank takes part in gathering it, rank 0 writes it.
    zero->begin_consolidated();
    if (main_rank) model.save(cfg.output_dir);
    zero->end_consolidated();
  }
  if (main_rank && hooks.write_outputs) {
    if (cfg.save_final_model && !zero) model.save(cfg.output_dir);
    write_file_atomic(cfg.output_dir + "/trainer_state.json", state_json(epoch_f).dump(2) + "\n");
    write_file_atomic(cfg.output_dir + "/train_results.json", results.dump(4) + "\n");
    write_file_atomic(cfg.output_dir + "/all_results.json", results.dump(4) + "\n");
  }
  dist.barrier();
  return out;
}

}  // namespace packbench::train
