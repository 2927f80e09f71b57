// LLaMA model configuration read from and written to a Hugging Face config.json.
#include "trainers/model/llama_config.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"

namespace packbench::train {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& field, const std::string& why) {
  throw Error(source + ": field '" + field + "': " + why);
}

int64_t get_int(const json& j, const char* key, int64_t def, const std::string& source, bool required = false) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) fail(source, key, "missing");
    return def;
  }
  if (!it->is_number_integer()) fail(source, key, "expected an integer, got " + it->dump());
  return it->get<int64_t>();
}

double get_double(const json& j, const char* key, double def, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_number()) fail(source, key, "expected a number, got " + it->dump());
  return it->get<double>();
}

bool get_bool(const json& j, const char* key, bool def, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_boolean()) fail(source, key, "expected true or false, got " + it->dump());
  return it->get<bool>();
}

std::string get_string(const json& j, const char* key, const std::string& def, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_string()) fail(source, key, "expected a string, got " + it->dump());
  return it->get<std::string>();
}

std::optional<int64_t> get_opt_int(const json& j, const char* key, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) fail(source, key, "expected an integer, got " + it->dump());
  return it->get<int64_t>();
}

}  // namespace

int64_t LlamaConfig::head_dim() const {
  if (head_dim_override > 0) return head_dim_override;
  return num_attention_heads > 0 ? hidden_size / num_attention_heads : 0;
}

int64_t LlamaConfig::num_parameters() const {
  const int64_t hd = head_dim();
  const int64_t attn = hidden_size * num_attention_heads * hd * 2 +      // q_proj, o_proj
                       hidden_size * num_key_value_heads * hd * 2;       // k_proj, v_proj
  const int64_t mlp = 3 * hidden_size * intermediate_size;
  const int64_t norms = 2 * hidden_size;
  const int64_t embed = vocab_size * hidden_size;
  return num_hidden_layers * (attn + mlp + norms) + hidden_size /* final norm */ + embed +
         (tie_word_embeddings ? 0 : embed);
}

void LlamaConfig::validate(const std::string& source) const {
  auto positive = [&](int64_t v, const char* field) {
    if (v <= 0) fail(source, field, "must be positive, got " + std::to_string(v));
  };
  positive(vocab_size, "vocab_size");
  positive(hidden_size, "hidden_size");
  positive(intermediate_size, "intermediate_size");
  positive(num_hidden_layers, "num_hidden_layers");
  positive(num_attention_heads, "num_attention_heads");
  positive(num_key_value_heads, "num_key_value_heads");
  positive(max_position_embeddings, "max_position_embeddings");
  if (num_attention_heads % num_key_value_heads != 0) {
    fail(source, "num_key_value_heads",
         std::to_string(num_key_value_heads) + " does not divide num_attention_heads " +
             std::to_string(num_attention_heads));
  }
  if (head_dim_override == 0 && hidden_size % num_attention_heads != 0) {
    fail(source, "hidden_size",
         std::to_string(hidden_size) + " is not a multiple of num_attention_heads " +
             std::to_string(num_attention_heads));
  }
  if (head_dim() % 2 != 0) fail(source, "head_dim", "rotary embeddings need an even head_dim");
  if (!(rms_norm_eps > 0)) fail(source, "rms_norm_eps", "must be positive");
  if (!(rope_theta > 0)) fail(source, "rope_theta", "must be positive");
  if (!(initializer_range >= 0)) fail(source, "initializer_range", "must not be negative");
  if (hidden_act != "silu") fail(source, "hidden_act", "only \"silu\" is supported, got \"" + hidden_act + "\"");
  if (torch_dtype != "float32" && torch_dtype != "bfloat16" && torch_dtype != "float16") {
    fail(source, "torch_dtype", "expected float32, bfloat16 or float16, got \"" + torch_dtype + "\"");
  }
  if (rope_scaling) {
    const auto& r = *rope_scaling;
    if (r.rope_type != "llama3" && r.rope_type != "linear") {
      fail(source, "rope_scaling.rope_type", "unsupported \"" + r.rope_type + "\" (supported: llama3, linear)");
    }
    if (!(r.factor > 0)) fail(source, "rope_scaling.factor", "must be positive");
    if (r.rope_type == "llama3") {
      if (!(r.high_freq_factor > r.low_freq_factor)) {
        fail(source, "rope_scaling.high_freq_factor", "must be greater than low_freq_factor");
      }
      if (!(r.low_freq_factor > 0)) fail(source, "rope_scaling.low_freq_factor", "must be positive");
      if (r.original_max_position_embeddings <= 0) {
        fail(source, "rope_scaling.original_max_position_embeddings", "must be positive");
      }
    }
  }
  auto check_id = [&](int64_t id, const char* field) {
    if (id < 0 || id >= vocab_size) {
      fail(source, field, std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
    }
  };
  if (bos_token_id) check_id(*bos_token_id, "bos_token_id");
  for (int64_t e : eos_token_ids) check_id(e, "eos_token_id");
  if (pad_token_id) check_id(*pad_token_id, "pad_token_id");
}

nlohmann::json LlamaConfig::to_json() const {
  json j;
  j["architectures"] = json::array({"LlamaForCausalLM"});
  j["model_type"] = "llama";
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  j["head_dim"] = head_dim();
  j["max_position_embeddings"] = max_position_embeddings;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  if (rope_scaling) {
    j["rope_scaling"] = {{"rope_type", rope_scaling->rope_type}, {"factor", rope_scaling->factor}};
    if (rope_scaling->rope_type == "llama3") {
      j["rope_scaling"]["low_freq_factor"] = rope_scaling->low_freq_factor;
      j["rope_scaling"]["high_freq_factor"] = rope_scaling->high_freq_factor;
      j["rope_scaling"]["original_max_position_embeddings"] = rope_scaling->original_max_position_embeddings;
    }
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["initializer_range"] = initializer_range;
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["hidden_act"] = hidden_act;
  j["attention_bias"] = false;
  j["attention_dropout"] = 0.0;
  j["mlp_bias"] = false;
  j["pretraining_tp"] = 1;
  j["use_cache"] = true;
  j["torch_dtype"] = torch_dtype;
  j["bos_token_id"] = bos_token_id ? json(*bos_token_id) : json(nullptr);
  if (eos_token_ids.empty()) {
    j["eos_token_id"] = nullptr;
  } else if (eos_token_ids.size() == 1) {
    j["eos_token_id"] = eos_token_ids[0];
  } else {
    j["eos_token_id"] = eos_token_ids;
  }
  if (pad_token_id) j["pad_token_id"] = *pad_token_id;
  return j;
}

std::string LlamaConfig::to_json_string() const { return to_json().dump(2) + "\n"; }

LlamaConfig LlamaConfig::from_json(const json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a JSON object");
  LlamaConfig c;
  const std::string model_type = get_string(j, "model_type", "llama", source);
  if (model_type != "llama") fail(source, "model_type", "expected \"llama\", got \"" + model_type + "\"");
  c.vocab_size = get_int(j, "vocab_size", 0, source, true);
  c.hidden_size = get_int(j, "hidden_size", 0, source, true);
  c.intermediate_size = get_int(j, "intermediate_size", 0, source, true);
  c.num_hidden_layers = get_int(j, "num_hidden_layers", 0, source, true);
  c.num_attention_heads = get_int(j, "num_attention_heads", 0, source, true);
  c.num_key_value_heads = get_int(j, "num_key_value_heads", c.num_attention_heads, source);
  c.max_position_embeddings = get_int(j, "max_position_embeddings", 2048, source);
  c.head_dim_override = get_int(j, "head_dim", 0, source);
  c.rms_norm_eps = get_double(j, "rms_norm_eps", 1e-6, source);
  c.rope_theta = get_double(j, "rope_theta", 10000.0, source);
  c.initializer_range = get_double(j, "initializer_range", 0.02, source);
  c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", false, source);
  c.torch_dtype = get_string(j, "torch_dtype", "float32", source);
  c.hidden_act = get_string(j, "hidden_act", "silu", source);
  if (get_bool(j, "attention_bias", false, source)) fail(source, "attention_bias", "only false is supported");
  if (get_bool(j, "mlp_bias", false, source)) fail(source, "mlp_bias", "only false is supported");
  if (get_int(j, "pretraining_tp", 1, source) != 1) fail(source, "pretraining_tp", "only 1 is supported");
  c.bos_token_id = get_opt_int(j, "bos_token_id", source);
  c.pad_token_id = get_opt_int(j, "pad_token_id", source);
  if (auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
    if (it->is_number_integer()) {
      c.eos_token_ids.push_back(it->get<int64_t>());
    } else if (it->is_array()) {
      for (const auto& e : *it) {
        if (!e.is_number_integer()) fail(source, "eos_token_id", "expected integers, got " + e.dump());
        c.eos_token_ids.push_back(e.get<int64_t>());
      }
    } else {
      fail(source, "eos_token_id", "expected an integer or a list of integers, got " + it->dump());
    }
  }
  if (auto it = j.find("rope_scaling"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) fail(source, "rope_scaling", "expected an object or null");
    std::string type = get_string(*it, "rope_type", "", source);
    if (type.empty()) type = get_string(*it, "type", "", source);  // older configs say "type"
    if (type.empty()) fail(source, "rope_scaling.rope_type", "missing");
    if (type != "default") {
      RopeScaling r;
      r.rope_type = type;
      const std::string sub = source + " (rope_scaling)";
      r.factor = get_double(*it, "factor", 1.0, sub);
      r.low_freq_factor = get_double(*it, "low_freq_factor", 1.0, sub);
      r.high_freq_factor = get_double(*it, "high_freq_factor", 4.0, sub);
      r.original_max_position_embeddings =
          get_int(*it, "original_max_position_embeddings", type == "llama3" ? 0 : 8192, sub, type == "llama3");
      c.rope_scaling = r;
    }
  }
  c.validate(source);
  return c;
}

LlamaConfig LlamaConfig::load(const std::string& path) {
  std::string file = path;
  if (std::filesystem::is_directory(path)) file = (std::filesystem::path(path) / "config.json").string();
  if (!std::filesystem::exists(file)) throw Error(file + ": no such file (expected a Hugging Face config.json)");
  json j;
  try {
    j = json::parse(read_file(file));
  } catch (const json::parse_error& e) {
    throw Error(file + ": not valid JSON: " + e.what());
  }
  return from_json(j, file);
}

}  // namespace packbench::train
