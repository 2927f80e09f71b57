// The LLaMA model behind the training loop's CausalLM interface.
#include "trainers/train_model.h"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>

#include "core/error.h"
#include "core/paths.h"
#include "datasets/types.h"
#include "trainers/model/pretrained.h"
#include "trainers/model/safetensors.h"

namespace fs = std::filesystem;

namespace packbench::train {

LlamaTrainModel::LlamaTrainModel(LlamaForCausalLM model, std::string tokenizer_dir)
    : model_(std::move(model)), tokenizer_dir_(std::move(tokenizer_dir)) {}

namespace {

AttentionInputs attention_inputs(const Batch& b) {
  AttentionInputs a;
  a.layout = b.layout;
  a.position_ids = b.position_ids;
  // A batch without padding needs no key mask (the model then uses its plain causal path).
  if (b.real_tokens != b.padded_tokens || b.layout == data::AttentionLayout::kBlock) a.attention_mask = b.attention_mask;
  a.segment_ids = b.segment_ids;
  return a;
}

}  // namespace

torch::Tensor LlamaTrainModel::forward(const Batch& b) { return model_->forward(b.input_ids, attention_inputs(b)); }

torch::Tensor LlamaTrainModel::loss_sum(const Batch& b) {
  torch::Tensor hidden = model_->forward_hidden(b.input_ids, attention_inputs(b));
  torch::Tensor targets = b.targets.reshape({-1}).to(hidden.device());
  torch::Tensor rows = (targets != data::kIgnoreIndex).nonzero().reshape({-1});
  torch::Tensor h = hidden.reshape({-1, hidden.size(-1)}).index_select(0, rows);
  return cross_entropy_sum(model_->logits_from_hidden(h), targets.index_select(0, rows));
}

std::vector<std::pair<std::string, torch::Tensor>> LlamaTrainModel::named_parameters() {
  return model_->hf_named_parameters();
}

void LlamaTrainModel::save(const std::string& dir) { save_as(dir, save_dtype_); }

void LlamaTrainModel::save_exact(const std::string& dir) { save_as(dir, torch::kFloat32); }

void LlamaTrainModel::save_as(const std::string& dir, torch::Dtype dtype) {
  // save_pretrained replaces its folder: write beside, then move the files in.
  const std::string tmp = fmt::format("{}/.model.tmp-{}", dir, ::getpid());
  fs::create_directories(dir);
  SaveOptions o;
  o.dtype = dtype;
  o.tokenizer_dir = tokenizer_dir_;
  save_pretrained(*model_, tmp, o);
  for (const auto& e : fs::directory_iterator(tmp)) fs::rename(e.path(), fs::path(dir) / e.path().filename());
  fs::remove_all(tmp);
}

void LlamaTrainModel::load(const std::string& dir) {
  SafetensorsCheckpoint ck(dir);
  torch::NoGradGuard ng;
  load_weights(*model_, ck);
}

double LlamaTrainModel::train_flops_per_token(int64_t seq_len) {
  const auto& c = model_->config();
  const double n = double(c.num_parameters() - c.vocab_size * c.hidden_size);  // embeddings are lookups
  const double attn = 12.0 * double(c.num_hidden_layers) * double(c.num_attention_heads * c.head_dim()) * double(seq_len);
  return 6.0 * n + attn;
}

std::unique_ptr<LlamaTrainModel> make_train_model(const TrainConfig& cfg, torch::Device device) {
  const std::string& dir = cfg.model_name_or_path;
  LlamaForCausalLM m(nullptr);
  if (cfg.model_init == "random") {
    const LlamaConfig c = LlamaConfig::load(dir);
    m = LlamaForCausalLM(c);
    m->init_weights(static_cast<uint64_t>(cfg.seed));
    m->to(device);
  } else {
    m = load_pretrained(dir, torch::kFloat32, device);
  }
  std::string tok = cfg.tokenizer_dir;
  if (tok.empty()) tok = fs::exists(dir + "/tokenizer.json") ? dir : default_tokenizer_dir();
  if (!fs::exists(tok + "/tokenizer.json")) tok.clear();
  auto model = std::make_unique<LlamaTrainModel>(m, tok);
  const std::string sd = cfg.save_dtype == "auto" ? (cfg.bf16 ? "bfloat16" : "float32") : cfg.save_dtype;
  model->set_save_dtype(dtype_from_name(sd));
  return model;
}

}  // namespace packbench::train
