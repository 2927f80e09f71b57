// Python-style regular expressions over UTF-8 text (PCRE2): findall, search and sub as the filters need them.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace packbench::evals {

// A compiled pattern. Semantics follow Python's `re` closely enough for the patterns the
// reference harnesses use: '.' does not match a newline unless (?s), '$' also matches before a
// final newline, lookbehind works, text is treated as UTF-8 code points (invalid bytes are
// tolerated, never a crash).
class Regex {
 public:
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // Like Python's re.findall: every non-overlapping match; for each, the list of capture
  // groups (or the whole match when the pattern has no groups, as one element). Unmatched
  // groups are "".
  std::vector<std::vector<std::string>> findall(const std::string& text) const;
  // The first match's groups (group 0 = the whole match), or nullopt.
  std::optional<std::vector<std::string>> search(const std::string& text) const;
  // Like re.sub(pattern, replacement, text) with a literal replacement (no backreferences).
  std::string sub(const std::string& text, const std::string& replacement) const;
  // Like re.sub with Python-style "\\1" backreferences in the replacement.
  std::string sub_groups(const std::string& text, const std::string& replacement) const;
  int group_count() const { return groups_; }
  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string pattern_;
  int groups_ = 0;
};

}  // namespace packbench::evals
