// LLaMA-Factory's dataset_info.json: dataset names to files, formatting, columns and role tags.
#include "datasets/dataset_registry.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"

namespace packbench::data {

namespace {

std::vector<std::string> split_names(const std::string& names) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : names + ",") {
    if (c == ',') {
      size_t b = cur.find_first_not_of(" \t"), e = cur.find_last_not_of(" \t");
      if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

// Copies a string field if present; a present non-string (other than null) is an error.
void take(const nlohmann::json& obj, const char* key, std::string& dst, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return;
  if (!it->is_string()) throw Error(where + ": field '" + key + "' must be a string");
  dst = it->get<std::string>();
}

}  // namespace

std::vector<DatasetSpec> parse_dataset_specs(const std::string& json_text, const std::string& origin,
                                             const std::string& dataset_dir, const std::string& names) {
  nlohmann::json info;
  try {
    info = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(origin + ": not valid JSON: " + e.what());
  }
  if (!info.is_object()) throw Error(origin + ": top level must be an object of dataset entries");
  auto list = split_names(names);
  if (list.empty()) throw Error("no dataset name given (--dataset)");
  std::vector<DatasetSpec> specs;
  for (const auto& name : list) {
    auto it = info.find(name);
    if (it == info.end()) throw Error(origin + ": dataset '" + name + "' is not defined");
    const auto& e = *it;
    std::string where = origin + ": dataset '" + name + "'";
    if (!e.is_object()) throw Error(where + ": entry must be an object");
    for (const char* remote : {"hf_hub_url", "ms_hub_url", "script_url"}) {
      if (e.contains(remote) && !e.contains("file_name"))
        throw Error(where + ": '" + remote + "' datasets are not supported; give a local file_name");
    }
    DatasetSpec s;
    s.name = name;
    std::string file_name;
    take(e, "file_name", file_name, where);
    if (file_name.empty()) throw Error(where + ": field 'file_name' is missing");
    s.file_path = (std::filesystem::path(dataset_dir) / file_name).string();
    std::string formatting = "alpaca";
    take(e, "formatting", formatting, where);
    if (formatting == "alpaca") {
      s.formatting = Formatting::kAlpaca;
    } else if (formatting == "sharegpt") {
      s.formatting = Formatting::kShareGpt;
    } else {
      throw Error(where + ": field 'formatting' must be 'alpaca' or 'sharegpt', got '" + formatting + "'");
    }
    if (e.contains("ranking") && e["ranking"].is_boolean() && e["ranking"].get<bool>())
      throw Error(where + ": ranking (preference) datasets are not supported");
    if (auto c = e.find("columns"); c != e.end() && !c->is_null()) {
      if (!c->is_object()) throw Error(where + ": field 'columns' must be an object");
      std::string w = where + " columns";
      take(*c, "prompt", s.prompt, w);
      take(*c, "query", s.query, w);
      take(*c, "response", s.response, w);
      take(*c, "history", s.history, w);
      take(*c, "messages", s.messages, w);
      take(*c, "system", s.system, w);
      take(*c, "tools", s.tools, w);
    }
    if (auto t = e.find("tags"); t != e.end() && !t->is_null()) {
      if (!t->is_object()) throw Error(where + ": field 'tags' must be an object");
      std::string w = where + " tags";
      s.tags_given = true;
      take(*t, "role_tag", s.role_tag, w);
      take(*t, "content_tag", s.content_tag, w);
      take(*t, "user_tag", s.user_tag, w);
      take(*t, "assistant_tag", s.assistant_tag, w);
      take(*t, "observation_tag", s.observation_tag, w);
      take(*t, "function_tag", s.function_tag, w);
      take(*t, "system_tag", s.system_tag, w);
    }
    specs.push_back(std::move(s));
  }
  return specs;
}

std::vector<DatasetSpec> load_dataset_specs(const std::string& dataset_dir, const std::string& names) {
  std::string path = (std::filesystem::path(dataset_dir.empty() ? "." : dataset_dir) / "dataset_info.json").string();
  if (!std::filesystem::exists(path)) throw Error(path + ": not found (--dataset-dir must hold dataset_info.json)");
  return parse_dataset_specs(read_file(path), path, dataset_dir.empty() ? "." : dataset_dir, names);
}

}  // namespace packbench::data
