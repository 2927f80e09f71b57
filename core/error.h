// packbench's error type for bad input: the message names the file, record and field at fault.
#pragma once

#include <stdexcept>
#include <string>

namespace packbench {

// Thrown for anything a user can fix (bad file, bad record, bad option). main() prints
// "packbench: error: <what>" and exits 1; other exceptions are internal errors (exit 3).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace packbench
