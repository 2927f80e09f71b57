// A progress bar with rate and ETA on stderr, for long passes (tokenizing, training, evaluating).
#include "core/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace packbench {

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
  start_ = last_print_ = std::chrono::steady_clock::now();
  tty_ = isatty(STDERR_FILENO);
  const char* env = std::getenv("PACKBENCH_PROGRESS");
  enabled_ = !(env && std::strcmp(env, "0") == 0);
}

Progress::~Progress() { finish(); }

void Progress::add(int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  done_ += n;
  maybe_print(false);
}

void Progress::set(int64_t done) {
  std::lock_guard<std::mutex> lock(mu_);
  done_ = done;
  maybe_print(false);
}

void Progress::set_postfix(const std::string& postfix) {
  std::lock_guard<std::mutex> lock(mu_);
  postfix_ = postfix;
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  maybe_print(true);
  if (enabled_ && tty_) std::fputc('\n', stderr);
}

std::string Progress::format_duration(double seconds) {
  if (seconds < 0 || seconds != seconds || seconds > 1e8) return "??:??";
  auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", (long long)(s / 3600),
                  (long long)(s / 60 % 60), (long long)(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", (long long)(s / 60), (long long)(s % 60));
  }
  return buf;
}

void Progress::maybe_print(bool force) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  double since_last = std::chrono::duration<double>(now - last_print_).count();
  int decile = total_ > 0 ? static_cast<int>(10 * done_ / total_) : -1;
  if (!force) {
    if (tty_ && since_last < 0.25) return;
    if (!tty_ && (decile == last_decile_ || total_ <= 0)) return;
  }
  last_print_ = now;
  last_decile_ = decile;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  std::string line;
  if (total_ > 0) {
    int pct = static_cast<int>(100.0 * done_ / total_);
    int filled = static_cast<int>(20.0 * done_ / total_);
    filled = filled < 0 ? 0 : (filled > 20 ? 20 : filled);
    double eta = rate > 0 ? (total_ - done_) / rate : -1;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s %3d%% |%s%s| %lld/%lld [%s<%s, %.3g %s/s]", label_.c_str(), pct,
                  std::string(filled, '#').c_str(), std::string(20 - filled, ' ').c_str(),
                  (long long)done_, (long long)total_, format_duration(elapsed).c_str(),
                  format_duration(eta).c_str(), rate, unit_.c_str());
    line = buf;
  } else {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s %lld [%s, %.3g %s/s]", label_.c_str(), (long long)done_,
                  format_duration(elapsed).c_str(), rate, unit_.c_str());
    line = buf;
  }
  if (!postfix_.empty()) line += " " + postfix_;
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace packbench
