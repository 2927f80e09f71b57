// A progress bar with rate and ETA on stderr, for long passes (tokenizing, training, evaluating).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace packbench {

// Prints "<label>  42% |#####     | 420/1000 [00:12<00:16, 34.1 it/s]" to stderr at most every
// 0.25 s. On a terminal it redraws one line; otherwise (logs, CI) it prints a line every 10%.
// PACKBENCH_PROGRESS=0 silences it. Thread-safe: several threads may call add().
class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "it");
  ~Progress();
  void add(int64_t n = 1);
  void set(int64_t done);
  void set_postfix(const std::string& postfix);  // e.g. "loss=1.234"
  void finish();  // prints the final line; also called by the destructor

  static std::string format_duration(double seconds);  // "01:02:03" or "02:03"

 private:
  void maybe_print(bool force);
  std::string label_, unit_, postfix_;
  int64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_print_;
  int last_decile_ = -1;
  bool tty_, enabled_, finished_ = false;
  std::mutex mu_;
};

}  // namespace packbench
