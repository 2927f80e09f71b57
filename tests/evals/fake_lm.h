// Test doubles for LanguageModel: answer from a prompt -> text table, or by a rule, or fail after k calls.
#pragma once

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "evals/lm_api.h"

namespace packbench::evals::testing {

// Generates by looking the prompt up (or calling `rule`), scores log-likelihoods with `ll`.
// With throw_after >= 0, the call that would take the total past that many requests throws,
// simulating a run killed part-way.
class FakeModel : public LanguageModel {
 public:
  std::function<std::string(const GenerationRequest&)> rule;
  std::function<double(const LoglikelihoodRequest&)> ll;
  int64_t throw_after = -1;
  int64_t served = 0;
  int64_t calls = 0;
  std::vector<GenerationRequest> seen;

  std::vector<std::string> generate_until(const std::vector<GenerationRequest>& reqs) override {
    ++calls;
    if (throw_after >= 0 && served + static_cast<int64_t>(reqs.size()) > throw_after)
      throw std::runtime_error("simulated crash");
    std::vector<std::string> out;
    for (const auto& r : reqs) {
      seen.push_back(r);
      out.push_back(rule(r));
    }
    served += static_cast<int64_t>(reqs.size());
    return out;
  }
  std::vector<LoglikelihoodResult> loglikelihood(const std::vector<LoglikelihoodRequest>& reqs) override {
    ++calls;
    if (throw_after >= 0 && served + static_cast<int64_t>(reqs.size()) > throw_after)
      throw std::runtime_error("simulated crash");
    std::vector<LoglikelihoodResult> out;
    for (const auto& r : reqs) out.push_back(LoglikelihoodResult{ll(r), false});
    served += static_cast<int64_t>(reqs.size());
    return out;
  }
  std::string name() const override { return "fake"; }
};

}  // namespace packbench::evals::testing
