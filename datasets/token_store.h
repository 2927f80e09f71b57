// Tokenized conversations kept as flat arrays: every message's ids, message offsets, sample offsets.
#pragma once

#include <cstdint>
#include <vector>

#include "datasets/chat_template.h"

namespace packbench::data {

// A read-only view of tokenized samples (in memory or memory-mapped from the cache).
// Sample s holds messages [sample_msgs[s], sample_msgs[s+1]); message m holds
// tokens [msg_offsets[m], msg_offsets[m+1]). Messages alternate prompt, response, ... and are
// stored untruncated: cutoff and labels are applied when rows are built.
struct TokenView {
  const int32_t* tokens = nullptr;
  const int64_t* msg_offsets = nullptr;   // [num_messages + 1]
  const int64_t* sample_msgs = nullptr;   // [num_samples + 1]
  const int64_t* record_index = nullptr;  // [num_samples], index of the record in its file
  int64_t num_samples = 0, num_messages = 0, num_tokens = 0;

  int64_t length(int64_t s) const { return msg_offsets[sample_msgs[s + 1]] - msg_offsets[sample_msgs[s]]; }
  std::vector<MessageSpan> messages(int64_t s) const {
    std::vector<MessageSpan> out;
    for (int64_t m = sample_msgs[s]; m < sample_msgs[s + 1]; ++m)
      out.push_back({tokens + msg_offsets[m], msg_offsets[m + 1] - msg_offsets[m]});
    return out;
  }
};

// Growable in-memory storage with the same layout.
struct TokenStore {
  std::vector<int32_t> tokens;
  std::vector<int64_t> msg_offsets{0};
  std::vector<int64_t> sample_msgs{0};
  std::vector<int64_t> record_index;

  // Appends one sample given its per-message ids (an even number of messages).
  void add(const std::vector<std::vector<int32_t>>& messages, int64_t record) {
    for (const auto& m : messages) {
      tokens.insert(tokens.end(), m.begin(), m.end());
      msg_offsets.push_back(static_cast<int64_t>(tokens.size()));
    }
    sample_msgs.push_back(static_cast<int64_t>(msg_offsets.size()) - 1);
    record_index.push_back(record);
  }
  TokenView view() const {
    TokenView v;
    v.tokens = tokens.data();
    v.msg_offsets = msg_offsets.data();
    v.sample_msgs = sample_msgs.data();
    v.record_index = record_index.data();
    v.num_samples = static_cast<int64_t>(record_index.size());
    v.num_messages = static_cast<int64_t>(msg_offsets.size()) - 1;
    v.num_tokens = static_cast<int64_t>(tokens.size());
    return v;
  }
};

}  // namespace packbench::data
