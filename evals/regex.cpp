// Python-style regular expressions over UTF-8 text (PCRE2): findall, search and sub as the filters need them.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "evals/regex.h"

#include <pcre2.h>

#include <fmt/core.h>

#include "core/error.h"

namespace packbench::evals {

struct Regex::Impl {
  pcre2_code* code = nullptr;
  ~Impl() {
    if (code) pcre2_code_free(code);
  }
};

Regex::Regex(const std::string& pattern) : impl_(std::make_unique<Impl>()), pattern_(pattern) {
  int err = 0;
  PCRE2_SIZE off = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_UCP, &err, &off, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw Error(fmt::format("bad regular expression '{}' at offset {}: {}", pattern, off,
                            reinterpret_cast<const char*>(msg)));
  }
  // JIT: the interpreter rescans the subject on every call in PCRE2_MATCH_INVALID_UTF mode,
  // which makes findall quadratic on long responses; JIT-compiled code does not. If JIT is
  // unavailable the interpreter still gives the same answers.
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);
  uint32_t n = 0;
  pcre2_pattern_info(impl_->code, PCRE2_INFO_CAPTURECOUNT, &n);
  groups_ = static_cast<int>(n);
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

namespace {

// Iterates over non-overlapping matches, calling fn(ovector, rc) for each; returns count.
template <typename Fn>
void for_each_match(pcre2_code* code, const std::string& text, Fn fn) {
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  PCRE2_SIZE start = 0;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  while (start <= text.size()) {
    int rc = pcre2_match(code, subject, text.size(), start, 0, md, nullptr);
    if (rc < 0) break;
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    if (!fn(ov, rc)) break;
    if (ov[1] == ov[0]) {
      // empty match: step over one UTF-8 code point
      if (ov[1] >= text.size()) break;
      start = ov[1] + 1;
      while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
    } else {
      start = ov[1];
    }
  }
  pcre2_match_data_free(md);
}

std::string group_text(const std::string& text, PCRE2_SIZE* ov, int rc, int g) {
  if (g >= rc || ov[2 * g] == PCRE2_UNSET) return "";
  return text.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
}

}  // namespace

std::vector<std::vector<std::string>> Regex::findall(const std::string& text) const {
  std::vector<std::vector<std::string>> out;
  for_each_match(impl_->code, text, [&](PCRE2_SIZE* ov, int rc) {
    std::vector<std::string> m;
    if (groups_ == 0) {
      m.push_back(group_text(text, ov, rc, 0));
    } else {
      for (int g = 1; g <= groups_; ++g) m.push_back(group_text(text, ov, rc, g));
    }
    out.push_back(std::move(m));
    return true;
  });
  return out;
}

std::optional<std::vector<std::string>> Regex::search(const std::string& text) const {
  std::optional<std::vector<std::string>> out;
  for_each_match(impl_->code, text, [&](PCRE2_SIZE* ov, int rc) {
    std::vector<std::string> m;
    for (int g = 0; g <= groups_; ++g) m.push_back(group_text(text, ov, rc, g));
    out = std::move(m);
    return false;
  });
  return out;
}

std::string Regex::sub(const std::string& text, const std::string& replacement) const {
  std::string out;
  size_t last = 0;
  for_each_match(impl_->code, text, [&](PCRE2_SIZE* ov, int) {
    out.append(text, last, ov[0] - last);
    out += replacement;
    last = ov[1];
    return true;
  });
  out.append(text, last, std::string::npos);
  return out;
}

std::string Regex::sub_groups(const std::string& text, const std::string& replacement) const {
  std::string out;
  size_t last = 0;
  for_each_match(impl_->code, text, [&](PCRE2_SIZE* ov, int rc) {
    out.append(text, last, ov[0] - last);
    for (size_t i = 0; i < replacement.size(); ++i) {
      if (replacement[i] == '\\' && i + 1 < replacement.size() && replacement[i + 1] >= '0' &&
          replacement[i + 1] <= '9') {
        out += group_text(text, ov, rc, replacement[i + 1] - '0');
        ++i;
      } else if (replacement[i] == '\\' && i + 1 < replacement.size() && replacement[i + 1] == '\\') {
        out += '\\';
        ++i;
      } else {
        out += replacement[i];
      }
    }
    last = ov[1];
    return true;
  });
  out.append(text, last, std::string::npos);
  return out;
}

}  // namespace packbench::evals
