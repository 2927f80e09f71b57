// Question/answer records (GSM8K's JSON lines) to LLaMA-Factory's sharegpt format with a dataset_info.json entry.
#include "datasets/sft_convert.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace packbench::data {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string& string_field(const json& record, const char* key, const std::string& where) {
  auto it = record.find(key);
  if (it == record.end()) throw Error(fmt::format("{}: record has no field '{}'", where, key));
  if (!it->is_string()) throw Error(fmt::format("{}: field '{}' is not a string", where, key));
  if (it->get_ref<const std::string&>().empty()) throw Error(fmt::format("{}: field '{}' is empty", where, key));
  return it->get_ref<const std::string&>();
}

}  // namespace

void register_sharegpt_dataset(const std::string& dir, const std::string& name, const std::string& file_name) {
  fs::path info = fs::path(dir) / "dataset_info.json";
  json registry = json::object();
  if (fs::exists(info)) {
    try {
      registry = json::parse(read_file(info.string()));
    } catch (const json::parse_error& e) {
      throw Error(info.string() + ": not valid JSON: " + e.what());
    }
    if (!registry.is_object()) throw Error(info.string() + ": expected a JSON object of datasets");
  }
  registry[name] = {{"file_name", file_name}, {"formatting", "sharegpt"}, {"columns", {{"messages", "conversations"}}}};
  write_file_atomic(info.string(), registry.dump(2) + "\n");
}

ConvertResult convert_gsm8k_to_sharegpt(const std::string& input, const std::string& out_dir, const std::string& name,
                                        int64_t max_samples) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    throw Error("dataset name '" + name + "' must be a plain file name");
  std::error_code ec;
  if (!fs::is_regular_file(input, ec))
    throw Error(input + ": GSM8K JSON lines file not found (expected `question`/`answer` records, e.g. "
                        "<benchmarks>/gsm8k/train.jsonl)");
  std::ifstream in(input, std::ios::binary);
  if (!in) throw Error(input + ": cannot open for reading");
  std::string out = "[";
  std::string line;
  int64_t line_no = 0, records = 0;
  while ((max_samples < 0 || records < max_samples) && std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", input, line_no);
    json record;
    try {
      record = json::parse(line);
    } catch (const json::parse_error& e) {
      throw Error(where + ": not valid JSON: " + e.what());
    }
    if (!record.is_object()) throw Error(where + ": expected a JSON object with 'question' and 'answer'");
    json conv = {{"conversations",
                  json::array({{{"from", "human"}, {"value", string_field(record, "question", where)}},
                               {{"from", "gpt"}, {"value", string_field(record, "answer", where)}}})}};
    out += (records == 0 ? "\n" : ",\n") + conv.dump();
    ++records;
  }
  if (in.bad()) throw Error(input + ": read error");
  if (records == 0) throw Error(input + ": no records");
  out += "\n]\n";
  ConvertResult r;
  r.records = records;
  r.file = (fs::path(out_dir) / (name + ".json")).string();
  fs::create_directories(out_dir, ec);
  if (ec) throw Error("cannot create " + out_dir + ": " + ec.message());
  write_file_atomic(r.file, out);
  register_sharegpt_dataset(out_dir, name, name + ".json");
  return r;
}

}  // namespace packbench::data
