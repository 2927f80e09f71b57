// LLaMA-Factory's dataset_info.json: dataset names to files, formatting, columns and role tags.
#pragma once

#include <string>
#include <vector>

namespace packbench::data {

enum class Formatting { kAlpaca, kShareGpt };

// One entry of dataset_info.json, with LLaMA-Factory 0.7's defaults filled in.
struct DatasetSpec {
  std::string name;
  std::string file_path;  // dataset_dir / file_name
  Formatting formatting = Formatting::kAlpaca;
  // columns (alpaca: prompt/query/response/history/system; sharegpt: messages/system/tools)
  std::string prompt = "instruction", query = "input", response = "output", history, system, tools;
  std::string messages = "conversations";
  // sharegpt tags
  std::string role_tag = "from", content_tag = "value";
  std::string user_tag = "human", assistant_tag = "gpt", observation_tag = "observation";
  std::string function_tag = "function_call", system_tag = "system";
  bool tags_given = false;  // false: messages may also use OpenAI's role/content keys
};

// Reads <dataset_dir>/dataset_info.json and returns the specs of `names` (comma-separated), in
// order. Throws packbench::Error naming the file and the entry/field at fault.
std::vector<DatasetSpec> load_dataset_specs(const std::string& dataset_dir, const std::string& names);

// Parses the registry text (for tests); `origin` names the file in error messages.
std::vector<DatasetSpec> parse_dataset_specs(const std::string& json_text, const std::string& origin,
                                             const std::string& dataset_dir, const std::string& names);

}  // namespace packbench::data
