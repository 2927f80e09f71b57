// The records that flow through packbench's data pipeline: conversations, samples, rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace packbench::data {

// The label value that marks a token as not trained (Hugging Face's ignore_index).
constexpr int32_t kIgnoreIndex = -100;

enum class Role { kSystem, kUser, kAssistant, kObservation, kFunctionCall };

struct Message {
  Role role = Role::kUser;
  std::string content;
};

// One raw SFT conversation as read from a LLaMA-Factory dataset (sharegpt or alpaca).
struct Conversation {
  std::string system;              // empty: the template's default system prompt applies
  std::string tools;               // sharegpt "tools" column, if any
  std::vector<Message> messages;   // alternating prompt/response turns, starting with a prompt
  int64_t record_index = -1;       // index of the record in its file (0-based), for messages
};

// One tokenized conversation: ids and labels of equal length (labels kIgnoreIndex on prompts).
struct Sample {
  std::vector<int32_t> input_ids;
  std::vector<int32_t> labels;
  int64_t record_index = -1;
  bool truncated = false;
};

// How attention is laid out inside a packed row.
enum class AttentionLayout {
  kCross,  // one causal mask over the whole row, positions 0..L-1 (the paper's packing)
  kBlock,  // causal within each sample, positions restart per sample (neat_packing)
};

// One training row (one batch row before collation). Padding rows hold one sample.
// segment_offsets are the sample boundaries, cu_seqlens style: [0, len0, len0+len1, ..., L];
// a row of one sample has {0, L}. position_ids are 0..L-1 for padding and kCross, and restart
// at 0 at every segment start for kBlock.
struct Row {
  std::vector<int32_t> input_ids;
  std::vector<int32_t> labels;
  std::vector<int32_t> position_ids;
  std::vector<int32_t> segment_offsets;
};

}  // namespace packbench::data
