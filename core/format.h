// Number formatting for people: thousands separators.
#pragma once

#include <cstdint>
#include <string>

namespace packbench {

// 8030261248 -> "8,030,261,248" (negative numbers keep their sign in front).
inline std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n), out;
  if (n < 0) {
    digits.erase(0, 1);
    out = "-";
  }
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace packbench
