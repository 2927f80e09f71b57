// Streams LLaMA-Factory sharegpt/alpaca records (JSON array, JSONL or Parquet) into Conversations.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "datasets/dataset_registry.h"
#include "datasets/types.h"

namespace packbench::data {

enum class BadRecordPolicy { kFail, kSkip };
BadRecordPolicy parse_bad_record_policy(const std::string& name);  // "fail" | "skip"

struct ReadReport {
  int64_t records = 0;   // records seen (accepted + skipped)
  int64_t accepted = 0;  // conversations handed to the sink
  int64_t skipped = 0;   // bad records skipped (kSkip)
  std::string first_skip_reason;  // the first skipped record's message, for the log
};

// Reads spec.file_path record by record without building a DOM of the file: the file is
// memory-mapped, split into records (JSONL: one per non-blank line; JSON array: one per element,
// found by a bracket/string scanner), and each record is parsed with simdjson on-demand.
// Records are converted as LLaMA-Factory 0.7's aligner does (see the .cpp). A bad record
// (invalid JSON or UTF-8, missing or mistyped field, empty conversation, wrong role order)
// throws packbench::Error "<file>: record <i> (line <n>): <what>" under kFail, or is counted
// and skipped under kSkip. max_records >= 0 stops after that many records (LLaMA-Factory's
// max_samples selects the first N rows).
// A file named *.parquet is read with core/parquet.h, one row group at a time, each row being one
// record (the same columns as the JSON forms); its bad records are named "<file>: row <i>: <what>".
// on_bytes, when given, is called after each record with the bytes of the file read so far.
ReadReport read_conversations(const DatasetSpec& spec, BadRecordPolicy policy, int64_t max_records,
                              const std::function<void(Conversation&&)>& sink,
                              const std::function<void(int64_t)>& on_bytes = nullptr);

// The same over an in-memory buffer (tests); `origin` names it in messages. `is_jsonl` picks
// the framing; read_conversations decides it from the first non-blank byte ('[' = array).
ReadReport read_conversations_from_buffer(std::string_view text, const std::string& origin, bool is_jsonl,
                                          const DatasetSpec& spec, BadRecordPolicy policy,
                                          int64_t max_records, const std::function<void(Conversation&&)>& sink);

}  // namespace packbench::data
