// Stop strings for generation, matched on decoded text as lm-evaluation-harness matches them.
#include "inference/generate_stop.h"

#include <algorithm>

namespace packbench::train {

StopStrings::StopStrings(std::vector<std::string> stops) {
  for (auto& s : stops) {
    if (s.empty()) continue;
    longest_ = std::max(longest_, s.size());
    stops_.push_back(std::move(s));
  }
}

size_t StopStrings::find(std::string_view text) const {
  size_t best = std::string_view::npos;
  for (const auto& s : stops_) best = std::min(best, text.find(s));
  return best;
}

std::string StopStrings::cut(std::string_view text) const {
  size_t at = find(text);
  return std::string(at == std::string_view::npos ? text : text.substr(0, at));
}

}  // namespace packbench::train
