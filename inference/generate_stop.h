// Stop strings for generation, matched on decoded text as lm-evaluation-harness matches them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace packbench::train {

// A set of stop strings. Generation ends once any of them appears in the decoded continuation
// (a stop may span several tokens); the returned text is everything before the earliest
// occurrence of any stop, as lm-evaluation-harness's generate_until cuts it. Empty strings are
// ignored.
class StopStrings {
 public:
  StopStrings() = default;
  explicit StopStrings(std::vector<std::string> stops);
  bool empty() const { return stops_.empty(); }
  // Byte offset of the earliest occurrence of any stop in text, or npos.
  size_t find(std::string_view text) const;
  // text up to (excluding) the earliest stop; the whole text when none occurs.
  std::string cut(std::string_view text) const;
  // The longest stop, in bytes: a stop that ends in the last token decoded lies within the
  // last (longest + slack) tokens, since every token decodes to at least one byte.
  size_t longest() const { return longest_; }
  const std::vector<std::string>& strings() const { return stops_; }

 private:
  std::vector<std::string> stops_;
  size_t longest_ = 0;
};

}  // namespace packbench::train
