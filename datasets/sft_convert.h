// Question/answer records (GSM8K's JSON lines) to LLaMA-Factory's sharegpt format with a dataset_info.json entry.
#pragma once

#include <cstdint>
#include <string>

namespace packbench::data {

struct ConvertResult {
  int64_t records = 0;     // conversations written
  std::string file;        // <out_dir>/<name>.json
};

// Reads `input`, JSON lines each holding string fields `question` and `answer` (GSM8K's train.jsonl
// and test.jsonl; blank lines are skipped), and writes <out_dir>/<name>.json: a JSON array, one
// record per line, of {"conversations": [{"from": "human", "value": question},
// {"from": "gpt", "value": answer}]} with the answer verbatim (calculator annotations and the
// "#### N" line kept), then registers it in <out_dir>/dataset_info.json (merged with what is
// there). `max_samples` >= 0 keeps the first N records. Both files are written atomically.
// Errors name the file, the line and the field.
ConvertResult convert_gsm8k_to_sharegpt(const std::string& input, const std::string& out_dir, const std::string& name,
                                        int64_t max_samples = -1);

// Adds or replaces `name` -> {file_name, formatting: sharegpt, columns: {messages: conversations}}
// in <dir>/dataset_info.json, keeping the other entries. Atomic.
void register_sharegpt_dataset(const std::string& dir, const std::string& name, const std::string& file_name);

}  // namespace packbench::data
