// ifeval text utilities: Python-compatible regex and string operations.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace packbench::evals::ifeval {

// A compiled PCRE2 pattern with Unicode semantics close to Python 3's `re` on str: UTF-8,
// \w \d \s \b by Unicode properties, '.' and '$' treat only "\n" as a line end.
class Regex {
 public:
  enum Flags { kNone = 0, kIgnoreCase = 1, kMultiline = 2 };
  // Throws packbench::Error (naming `what`) when the pattern does not compile.
  explicit Regex(const std::string& pattern, int flags = kNone, const std::string& what = "");
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  bool search(std::string_view text) const;
  // Non-overlapping matches left to right, like re.findall without groups (whole matches).
  std::vector<std::string> findall(std::string_view text) const;
  size_t count(std::string_view text) const;
  // re.split for patterns that never match the empty string: the pieces between matches.
  std::vector<std::string> split(std::string_view text) const;
  // Every non-overlapping match with its groups' byte offsets ({-1,-1} for an unset group).
  using Groups = std::vector<std::pair<long, long>>;
  std::vector<Groups> finditer(std::string_view text) const;
  // re.sub with "$1"-style group references in `replacement`.
  std::string sub(std::string_view text, const std::string& replacement) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// UTF-8 <-> code points. Decoding never throws: an invalid byte decodes as U+FFFD.
std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);
bool valid_utf8(std::string_view s);

// Python's str.isspace() for one code point.
bool py_isspace(char32_t c);
// str.strip() / lstrip() / rstrip() with no argument (Unicode whitespace).
std::string py_strip(std::string_view s);
// str.strip(chars) / lstrip(chars) / rstrip(chars) for ASCII `chars`.
std::string py_strip_chars(std::string_view s, std::string_view chars);
std::string py_lstrip_chars(std::string_view s, std::string_view chars);
std::string py_rstrip_chars(std::string_view s, std::string_view chars);
// str.split() with no argument: runs of Unicode whitespace separate, no empty pieces.
std::vector<std::string> py_split_ws(std::string_view s);
// str.split(sep) for a non-empty literal separator.
std::vector<std::string> py_split(std::string_view s, std::string_view sep);
// str.lower(): simple (one to one) Unicode lowercase mapping.
std::string py_lower(std::string_view s);
// str.isupper() / str.islower(): at least one cased character and none of the other case.
bool py_isupper(std::string_view s);
bool py_islower(std::string_view s);
// str.replace(old, new) for a non-empty `from`.
std::string replace_all(std::string_view s, std::string_view from, std::string_view to);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);

}  // namespace packbench::evals::ifeval
