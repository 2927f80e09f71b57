// ifeval instruction checkers: the 25 verifiable instructions and their arguments.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace packbench::evals::ifeval {

// One instruction of one prompt, with its arguments bound: check(response) says whether the
// response follows it (the reference's check_following).
class Checker {
 public:
  const std::string& id() const { return id_; }
  bool check(std::string_view response) const { return fn_(response); }

 private:
  friend Checker make_checker(const std::string&, const nlohmann::json&, const std::string&);
  std::string id_;
  std::function<bool(std::string_view)> fn_;
};

// Builds the checker for instruction `id` with `kwargs` (a JSON object; null values count as
// absent). Throws packbench::Error naming `where` (e.g. "input_data.jsonl line 3") for an
// unknown id, a missing or extra argument, a wrong type or an out-of-range value.
Checker make_checker(const std::string& id, const nlohmann::json& kwargs, const std::string& where);

// The instruction ids packbench knows, in the reference registry's order.
const std::vector<std::string>& instruction_ids();

}  // namespace packbench::evals::ifeval
