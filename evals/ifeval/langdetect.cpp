// langdetect's language detector (Python port of Cybozu's language-detection) reproduced in C++.
#include "evals/ifeval/langdetect.h"

#include "core/error.h"
#include "evals/ifeval/ifeval_text.h"
#include "evals/ifeval/py_random.h"
#include "evals/ifeval/py_unicode_case.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

namespace packbench::evals::langdetect {
namespace fs = std::filesystem;

namespace {

// Detector's constants (langdetect/detector.py).
constexpr double kAlphaDefault = 0.5;
constexpr double kAlphaWidth = 0.05;
constexpr int kIterationLimit = 1000;
constexpr double kProbThreshold = 0.1;
constexpr double kConvThreshold = 0.99999;
constexpr double kBaseFreq = 10000;
constexpr int kTrials = 7;
constexpr size_t kMaxTextLength = 10000;
constexpr int kNGram = 3;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error(p.string() + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::u32string to_u32(const std::string& utf8) { return ifeval::utf8_decode(utf8); }

// ---------------------------------------------------------------- messages.properties

// Python's `line.strip().partition('=')` and `value.encode().decode('unicode_escape')` for the
// file's content: ASCII keys, values of \uXXXX escapes and ASCII.
std::unordered_map<std::string, std::u32string> read_messages(const fs::path& path) {
  std::string data = read_file(path);
  std::unordered_map<std::string, std::u32string> out;
  std::istringstream in(data);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::string where = path.string() + ":" + std::to_string(line_no);
    size_t b = line.find_first_not_of(" \t\r\n\f\v"), e = line.find_last_not_of(" \t\r\n\f\v");
    if (b == std::string::npos) continue;
    line = line.substr(b, e - b + 1);
    size_t eq = line.find('=');
    std::string key = line.substr(0, eq);
    std::string raw = eq == std::string::npos ? "" : line.substr(eq + 1);
    std::u32string value;
    for (size_t i = 0; i < raw.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(raw[i]);
      if (c >= 0x80) throw Error(where + ": non-ASCII byte in a value (expected \\uXXXX escapes)");
      if (c != '\\') {
        value.push_back(c);
        continue;
      }
      if (i + 5 < raw.size() && raw[i + 1] == 'u') {
        const std::string hex = raw.substr(i + 2, 4);
        if (hex.size() == 4 && hex.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
          value.push_back(static_cast<char32_t>(std::stoul(hex, nullptr, 16)));
          i += 5;
          continue;
        }
      }
      throw Error(where + ": unsupported escape in key '" + key + "' (expected \\uXXXX)");
    }
    out[key] = value;
  }
  return out;
}

const std::u32string& message(const std::unordered_map<std::string, std::u32string>& m, const std::string& key,
                              const fs::path& path) {
  auto it = m.find(key);
  if (it == m.end()) throw Error(path.string() + ": key '" + key + "' is missing");
  return it->second;
}

// ---------------------------------------------------------------- Unicode blocks normalize() looks at

enum class Block {
  kOther,
  kBasicLatin,
  kLatin1Supplement,
  kLatinExtendedB,
  kGeneralPunctuation,
  kArabic,
  kLatinExtendedAdditional,
  kHiragana,
  kKatakana,
  kBopomofo,  // Bopomofo and Bopomofo Extended
  kCjkUnifiedIdeographs,
  kHangulSyllables,
};

Block block_of(char32_t c) {
  if (c <= 0x7F) return Block::kBasicLatin;
  if (c <= 0xFF) return Block::kLatin1Supplement;
  if (c >= 0x0180 && c <= 0x024F) return Block::kLatinExtendedB;
  if (c >= 0x0600 && c <= 0x06FF) return Block::kArabic;
  if (c >= 0x1E00 && c <= 0x1EFF) return Block::kLatinExtendedAdditional;
  if (c >= 0x2000 && c <= 0x206F) return Block::kGeneralPunctuation;
  if (c >= 0x3040 && c <= 0x309F) return Block::kHiragana;
  if (c >= 0x30A0 && c <= 0x30FF) return Block::kKatakana;
  if ((c >= 0x3100 && c <= 0x312F) || (c >= 0x31A0 && c <= 0x31BF)) return Block::kBopomofo;
  if (c >= 0x4E00 && c <= 0x9FFF) return Block::kCjkUnifiedIdeographs;
  if (c >= 0xAC00 && c <= 0xD7AF) return Block::kHangulSyllables;
  return Block::kOther;
}

// ---------------------------------------------------------------- URL and e-mail removal

bool url_char(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         std::u32string_view(U"-_.?&~;+=/#").find(c) != std::u32string_view::npos;
}
bool mail_local_char(char32_t c) {  // [-_.0-9A-Za-z]
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '_' || c == '.';
}
bool mail_host_char(char32_t c) { return mail_local_char(c) && c != '.'; }  // [-_0-9A-Za-z]

size_t run_length(const std::u32string& t, size_t from, bool (*in_class)(char32_t), size_t cap) {
  size_t n = 0;
  while (from + n < t.size() && n < cap && in_class(t[from + n])) ++n;
  return n;
}

// Length of a match of https?://[-_.?&~;+=/#0-9A-Za-z]{1,2076} at `i` (0: none).
size_t url_match(const std::u32string& t, size_t i) {
  if (t.compare(i, 4, U"http") != 0) return 0;
  for (size_t head : {size_t(8), size_t(7)}) {  // "https://", then "http://"
    std::u32string_view scheme = head == 8 ? U"https://" : U"http://";
    if (t.compare(i, head, scheme) != 0) continue;
    size_t n = run_length(t, i + head, url_char, 2076);
    if (n > 0) return head + n;
  }
  return 0;
}

// Length of a match of [-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255} at `i`
// (0: none), with the backtracking of Python's re: the local part must reach the '@' itself;
// the host's first part gives back one character when the second would otherwise be empty.
size_t mail_match(const std::u32string& t, size_t i) {
  size_t local = run_length(t, i, mail_local_char, SIZE_MAX);
  if (local == 0 || local > 64 || i + local >= t.size() || t[i + local] != '@') return 0;
  size_t p = i + local + 1;
  size_t a = run_length(t, p, mail_host_char, 255);
  if (a == 0) return 0;
  size_t b = run_length(t, p + a, mail_local_char, 255);
  if (b > 0) return local + 1 + a + b;
  if (a >= 2) return local + 1 + a;
  return 0;
}

// re.sub(pattern, ' ', text) for a pattern given as a matcher that never matches empty.
std::u32string replace_matches(const std::u32string& t, size_t (*match)(const std::u32string&, size_t)) {
  std::u32string out;
  out.reserve(t.size());
  size_t i = 0;
  while (i < t.size()) {
    size_t n = match(t, i);
    if (n > 0) {
      out.push_back(U' ');
      i += n;
    } else {
      out.push_back(t[i++]);
    }
  }
  return out;
}

// ---------------------------------------------------------------- profile files

// One profile file, {"freq": {n-gram: count, ...}, "n_words": [n1, n2, n3], "name": "en"},
// read as a stream of JSON events (no document tree: 55 files, 184,000 n-grams).
struct ProfileReader : nlohmann::json_sax<nlohmann::json> {
  explicit ProfileReader(std::string file) : file(std::move(file)) {}

  std::string file;
  std::string name;
  std::vector<std::pair<std::u32string, double>> freq;
  std::vector<double> n_words;
  bool has_name = false, has_freq = false, has_n_words = false;

  int depth = 0;
  std::string field;     // the top-level field being read
  std::u32string gram;   // the freq key whose count comes next
  std::string error;

  bool fail(const std::string& why) {
    if (error.empty()) error = why;
    return false;
  }
  bool number(double v) {
    if (depth == 2 && field == "freq") {
      freq.emplace_back(gram, v);
      return true;
    }
    if (depth == 2 && field == "n_words") {
      n_words.push_back(v);
      return true;
    }
    return fail("field '" + field + "' must not hold a number here");
  }
  bool null() override { return fail("unexpected null in field '" + field + "'"); }
  bool boolean(bool) override { return fail("unexpected true/false in field '" + field + "'"); }
  bool number_integer(number_integer_t v) override { return number(static_cast<double>(v)); }
  bool number_unsigned(number_unsigned_t v) override { return number(static_cast<double>(v)); }
  bool number_float(number_float_t v, const string_t&) override { return number(v); }
  bool binary(binary_t&) override { return fail("unexpected binary value"); }
  bool string(string_t& v) override {
    if (depth == 1 && field == "name") {
      name = v;
      has_name = true;
      return true;
    }
    return fail("field '" + field + "' must not hold a string");
  }
  bool start_object(std::size_t) override {
    ++depth;
    if (depth == 1) return true;
    if (depth == 2 && field == "freq") {
      has_freq = true;
      return true;
    }
    return fail("field '" + field + "' must not hold an object");
  }
  bool end_object() override {
    --depth;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth;
    if (depth == 2 && field == "n_words") {
      has_n_words = true;
      return true;
    }
    return fail("field '" + field + "' must not hold a list");
  }
  bool end_array() override {
    --depth;
    return true;
  }
  bool key(string_t& k) override {
    if (depth == 1) field = k;
    else gram = to_u32(k);
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    return fail("not valid JSON at byte " + std::to_string(position) + ": " + e.what());
  }
  // Throws packbench::Error naming the file and field for anything missing or malformed.
  void finish() const {
    const std::string where = file + ": langdetect profile: ";
    if (!error.empty()) throw Error(where + error);
    if (!has_name) throw Error(where + "field 'name' is missing");
    if (!has_freq) throw Error(where + "field 'freq' is missing");
    if (!has_n_words) throw Error(where + "field 'n_words' is missing");
    if (n_words.size() < static_cast<size_t>(kNGram)) throw Error(where + "field 'n_words' must hold 3 counts");
  }
};

}  // namespace

// ---------------------------------------------------------------- loading

Detector::Detector(const std::string& package_dir) : package_dir_(package_dir) {
  const fs::path profiles = fs::path(package_dir) / "profiles";
  const fs::path messages_path = fs::path(package_dir) / "utils" / "messages.properties";
  if (!fs::is_directory(profiles)) {
    throw Error("langdetect profiles not found: " + profiles.string() +
                " is not a folder (install the Debian package python3-langdetect, or set PACKBENCH_LANGDETECT_DIR to "
                "an installed langdetect package folder)");
  }
  if (!fs::is_regular_file(messages_path)) {
    throw Error("langdetect normalisation tables not found: " + messages_path.string() +
                " (install the Debian package python3-langdetect, or set PACKBENCH_LANGDETECT_DIR)");
  }

  // DetectorFactory.load_profile: the folder's entries in directory order (os.listdir),
  // skipping dot files and anything that is not a file.
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(profiles)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (!fs::is_regular_file(entry.path())) continue;
    files.push_back(entry.path());
  }
  if (files.empty()) throw Error("langdetect profiles not found: " + profiles.string() + " holds no profiles");
  std::vector<std::pair<uint32_t, Entry>> triples;  // (row, entry)
  word_row_.reserve(100000);
  for (const auto& file : files) {
    ProfileReader profile(file.string());
    const std::string text = read_file(file);
    nlohmann::json::sax_parse(text, &profile);
    profile.finish();
    if (std::find(languages_.begin(), languages_.end(), profile.name) != languages_.end())
      throw Error(file.string() + ": langdetect profile: language '" + profile.name + "' appears twice");
    const uint32_t index = static_cast<uint32_t>(languages_.size());
    languages_.push_back(profile.name);
    for (const auto& [word, count] : profile.freq) {
      // Only 1- to 3-grams carry a probability; longer or empty keys could never match a feature.
      if (word.empty() || word.size() > static_cast<size_t>(kNGram)) continue;
      auto [it, inserted] = word_row_.emplace(pack(word), static_cast<uint32_t>(words_.size()));
      if (inserted) words_.push_back(word);
      double p = 1.0 * count / profile.n_words[word.size() - 1];
      triples.push_back({it->second, {index, p}});
    }
  }
  // Rows as one flat array, each row's entries in profile order.
  row_begin_.assign(words_.size() + 1, 0);
  for (const auto& t : triples) ++row_begin_[t.first + 1];
  for (size_t r = 0; r < words_.size(); ++r) row_begin_[r + 1] += row_begin_[r];
  entries_.resize(triples.size());
  {
    std::vector<uint32_t> fill(row_begin_.begin(), row_begin_.end() - 1);
    for (const auto& t : triples) entries_[fill[t.first]++] = t.second;
  }

  const auto messages = read_messages(messages_path);
  latin1_excluded_ = message(messages, "NGram.LATIN1_EXCLUDE", messages_path);
  vi_letters_ = message(messages, "TO_NORMALIZE_VI_CHARS", messages_path);
  vi_marks_ = message(messages, "DMARK_CLASS", messages_path);
  for (const char* key : {"NORMALIZED_VI_CHARS_0300", "NORMALIZED_VI_CHARS_0301", "NORMALIZED_VI_CHARS_0303",
                          "NORMALIZED_VI_CHARS_0309", "NORMALIZED_VI_CHARS_0323"}) {
    vi_composed_.push_back(message(messages, key, messages_path));
    if (vi_composed_.back().size() != vi_letters_.size())
      throw Error(messages_path.string() + ": " + key + " must have one character per TO_NORMALIZE_VI_CHARS character");
  }
  if (vi_marks_.size() != vi_composed_.size())
    throw Error(messages_path.string() + ": DMARK_CLASS must name the 5 diacritical marks");
  // NGram's CJK classes: every character of a class maps to the class's first character. The
  // file lists the classes in the order NGram.CJK_CLASS does (no character is in two classes).
  std::vector<std::pair<int, std::u32string>> classes;
  {
    std::ifstream in(messages_path);
    std::string line;
    int order = 0;
    while (std::getline(in, line)) {
      if (line.rfind("NGram.KANJI_", 0) != 0) continue;
      std::string key = line.substr(0, line.find('='));
      classes.emplace_back(order++, message(messages, key, messages_path));
    }
  }
  if (classes.empty()) throw Error(messages_path.string() + ": no NGram.KANJI_* classes");
  for (const auto& [order, chars] : classes) {
    if (chars.empty()) continue;
    for (char32_t c : chars) cjk_map_[c] = chars[0];
  }
}

uint64_t Detector::pack(std::u32string_view gram) {
  uint64_t key = 0;
  for (size_t i = 0; i < gram.size(); ++i) key |= static_cast<uint64_t>(gram[i] + 1) << (21 * i);
  return key;
}

std::string Detector::default_package_dir() {
  if (const char* env = std::getenv("PACKBENCH_LANGDETECT_DIR"); env && *env) return env;
  return "/usr/lib/python3/dist-packages/langdetect";
}

const Detector& Detector::shared() {
  static std::mutex mu;
  static std::unique_ptr<Detector> detector;
  std::lock_guard<std::mutex> lock(mu);
  if (!detector) detector = std::make_unique<Detector>(default_package_dir());
  return *detector;
}

// ---------------------------------------------------------------- text cleaning and n-grams

char32_t Detector::normalize(char32_t c) const {
  switch (block_of(c)) {
    case Block::kBasicLatin:
      return (c < 'A' || (c > 'Z' && c < 'a') || c > 'z') ? U' ' : c;
    case Block::kLatin1Supplement:
      return latin1_excluded_.find(c) != std::u32string::npos ? U' ' : c;
    case Block::kLatinExtendedB:  // Romanian: comma below -> cedilla
      if (c == 0x0219) return 0x015F;
      if (c == 0x021B) return 0x0163;
      return c;
    case Block::kGeneralPunctuation:
      return U' ';
    case Block::kArabic:
      return c == 0x06CC ? 0x064A : c;  // Farsi yeh -> Arabic yeh
    case Block::kLatinExtendedAdditional:
      return c >= 0x1EA0 ? 0x1EC3 : c;
    case Block::kHiragana:
      return 0x3042;
    case Block::kKatakana:
      return 0x30A2;
    case Block::kBopomofo:
      return 0x3105;
    case Block::kCjkUnifiedIdeographs: {
      auto it = cjk_map_.find(c);
      return it == cjk_map_.end() ? c : it->second;
    }
    case Block::kHangulSyllables:
      return 0xAC00;
    case Block::kOther:
      break;
  }
  return c;
}

std::u32string Detector::normalize_vi(const std::u32string& text) const {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (i + 1 < text.size()) {
      size_t letter = vi_letters_.find(text[i]);
      size_t mark = letter == std::u32string::npos ? std::u32string::npos : vi_marks_.find(text[i + 1]);
      if (mark != std::u32string::npos) {
        out.push_back(vi_composed_[mark][letter]);
        ++i;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::u32string Detector::cleaned_text(std::string_view utf8_text) const {
  // Detector.append()
  std::u32string t = to_u32(std::string(utf8_text));
  t = replace_matches(t, url_match);
  t = replace_matches(t, mail_match);
  t = normalize_vi(t);
  std::u32string text;
  char32_t pre = 0;
  for (size_t i = 0; i < std::min(t.size(), kMaxTextLength); ++i) {
    char32_t ch = t[i];
    if (ch != U' ' || pre != U' ') text.push_back(ch);
    pre = ch;
  }
  // Detector.cleaning_text(): drop Latin letters from mostly non-Latin text. The reference
  // compares a block number with a block name here, which never matches, so every character
  // from U+0300 on counts as non-Latin.
  size_t latin = 0, non_latin = 0;
  for (char32_t ch : text) {
    if (ch >= U'A' && ch <= U'z') ++latin;
    else if (ch >= 0x0300) ++non_latin;
  }
  if (latin * 2 < non_latin) {
    std::u32string kept;
    for (char32_t ch : text)
      if (ch < U'A' || ch > U'z') kept.push_back(ch);
    text = std::move(kept);
  }
  return text;
}

std::vector<uint32_t> Detector::feature_rows(const std::u32string& cleaned) const {
  // Detector._extract_ngrams() with NGram.add_char().
  std::vector<uint32_t> rows;
  char32_t grams[kNGram] = {U' '};  // the last 1 to 3 characters, oldest first
  size_t len = 1;
  bool capital_word = false;
  for (char32_t raw : cleaned) {
    char32_t ch = normalize(raw);
    char32_t last = grams[len - 1];
    bool skip_add = false;
    if (last == U' ') {
      grams[0] = U' ';
      len = 1;
      capital_word = false;
      if (ch == U' ') skip_add = true;
    } else if (len >= static_cast<size_t>(kNGram)) {
      for (size_t k = 1; k < len; ++k) grams[k - 1] = grams[k];
      --len;
    }
    if (!skip_add) {
      grams[len++] = ch;
      if (py_char_isupper(ch)) {
        if (py_char_isupper(last)) capital_word = true;
      } else {
        capital_word = false;
      }
    }
    if (capital_word) continue;
    for (size_t n = 1; n <= static_cast<size_t>(kNGram); ++n) {
      if (len < n) break;
      std::u32string_view w(grams + len - n, n);
      if (w == U" ") continue;
      auto it = word_row_.find(pack(w));
      if (it != word_row_.end()) rows.push_back(it->second);
    }
  }
  return rows;
}

std::vector<std::u32string> Detector::features(std::string_view utf8_text) const {
  std::vector<std::u32string> out;
  for (uint32_t row : feature_rows(cleaned_text(utf8_text))) out.push_back(words_[row]);
  return out;
}

// ---------------------------------------------------------------- detection

std::optional<std::vector<LanguageProbability>> Detector::probabilities(std::string_view utf8_text,
                                                                         uint64_t seed) const {
  const std::vector<uint32_t> ngrams = feature_rows(cleaned_text(utf8_text));
  if (ngrams.empty()) return std::nullopt;  // LangDetectException: "No features in text."
  const size_t n_langs = languages_.size();
  std::vector<double> langprob(n_langs, 0.0), prob(n_langs), factor(n_langs);
  PyRandom random(seed);
  for (int t = 0; t < kTrials; ++t) {
    std::fill(prob.begin(), prob.end(), 1.0 / static_cast<double>(n_langs));
    const double alpha = kAlphaDefault + random.gauss(0.0, 1.0) * kAlphaWidth;
    const double weight = alpha / kBaseFreq;
    for (int i = 0;; ++i) {
      // _update_lang_prob: prob[j] *= weight + P(word | language j)
      const uint32_t row = ngrams[random.randbelow(ngrams.size())];
      std::fill(factor.begin(), factor.end(), weight);
      for (uint32_t e = row_begin_[row]; e < row_begin_[row + 1]; ++e) factor[entries_[e].lang] = weight + entries_[e].prob;
      for (size_t j = 0; j < n_langs; ++j) prob[j] *= factor[j];
      if (i % 5 == 0) {
        // _normalize_prob: divide by the sum (left to right), keep the largest
        double sum = 0.0, maxp = 0.0;
        for (double p : prob) sum += p;
        for (size_t j = 0; j < n_langs; ++j) {
          double p = prob[j] / sum;
          if (maxp < p) maxp = p;
          prob[j] = p;
        }
        if (maxp > kConvThreshold || i >= kIterationLimit) break;
      }
    }
    for (size_t j = 0; j < n_langs; ++j) langprob[j] += prob[j] / kTrials;
  }
  // _sort_probability: above the threshold, highest first, ties in profile order.
  std::vector<LanguageProbability> out;
  for (size_t j = 0; j < n_langs; ++j)
    if (langprob[j] > kProbThreshold) out.push_back({languages_[j], langprob[j]});
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.prob > b.prob; });
  return out;
}

std::optional<std::string> Detector::detect(std::string_view utf8_text, uint64_t seed) const {
  auto probs = probabilities(utf8_text, seed);
  if (!probs) return std::nullopt;
  if (probs->empty()) return std::string("unknown");
  return probs->front().lang;
}

}  // namespace packbench::evals::langdetect
