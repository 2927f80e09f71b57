// Self time per LibTorch operator over a region (the legacy profiler), for "where the time goes".
#pragma once

#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace packbench::bench {

class OpProfile {
 public:
  void start() {
    using torch::profiler::impl::ProfilerConfig;
    using torch::profiler::impl::ProfilerState;
    torch::autograd::profiler::enableProfilerLegacy(ProfilerConfig(ProfilerState::CPU));
  }
  // Stops and returns (operator, self microseconds, calls), largest first.
  struct Row {
    std::string name;
    double self_us = 0;
    int64_t calls = 0;
  };
  std::vector<Row> stop() {
    using torch::autograd::profiler::EventKind;
    auto lists = torch::autograd::profiler::disableProfilerLegacy();
    std::map<std::string, Row> by_name;
    for (const auto& events : lists) {
      struct Open {
        const torch::autograd::profiler::LegacyEvent* push;
        double child_us;
      };
      std::vector<Open> stack;
      for (const auto& e : events) {
        if (e.kind() == EventKind::PushRange) {
          stack.push_back({&e, 0.0});
        } else if (e.kind() == EventKind::PopRange && !stack.empty()) {
          Open o = stack.back();
          stack.pop_back();
          const double total = o.push->cpuElapsedUs(e);
          Row& r = by_name[o.push->name()];
          r.name = o.push->name();
          r.self_us += total - o.child_us;
          r.calls += 1;
          if (!stack.empty()) stack.back().child_us += total;
        }
      }
    }
    std::vector<Row> rows;
    for (auto& [n, r] : by_name) rows.push_back(r);
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.self_us > b.self_us; });
    return rows;
  }
};

}  // namespace packbench::bench
