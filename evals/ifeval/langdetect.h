// langdetect's language detector (Python port of Cybozu's language-detection) reproduced in C++.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace packbench::evals::langdetect {

struct LanguageProbability {
  std::string lang;  // the profile's name: "en", "zh-cn", ...
  double prob = 0.0;
};

// The detector of the Python package langdetect 1.0.9 with `DetectorFactory.seed = seed`:
// the same text cleaning (URLs and e-mail addresses removed, Vietnamese diacritics composed,
// space runs collapsed, the first 10,000 characters, Latin letters dropped from mostly
// non-Latin text), the same character normalisation (Latin punctuation to spaces, kana,
// bopomofo and hangul to one representative each, kanji to their class representative),
// the same 1- to 3-gram features, and the same 7 random trials (Python's Mersenne Twister:
// gauss-jittered smoothing, n-grams drawn with random.choice, normalisation every 5 draws)
// averaged. Identical inputs give identical numbers to Python's (sums are taken left to right
// as CPython 3.11's sum() does; CPython 3.12's compensated sum() can differ in the last bits).
//
// The n-gram profiles and normalisation tables are read from an installed langdetect package
// folder (its profiles/ and utils/messages.properties) at construction. Immutable afterwards;
// safe to use from several threads.
class Detector {
 public:
  // Loads `package_dir`/profiles/* (in directory order, as langdetect does) and
  // `package_dir`/utils/messages.properties. Throws packbench::Error naming the missing or
  // malformed file.
  explicit Detector(const std::string& package_dir);

  // One detector for the process, from default_package_dir(), loaded on first use. Throws
  // packbench::Error (naming the folder it looked in) when langdetect's files are absent; a
  // later call tries again.
  static const Detector& shared();
  // $PACKBENCH_LANGDETECT_DIR when set, else Debian's python3-langdetect folder
  // /usr/lib/python3/dist-packages/langdetect.
  static std::string default_package_dir();

  // detect_langs(text): the languages with probability above 0.1, best first (ties keep the
  // profile order). std::nullopt where langdetect raises LangDetectException ("No features in
  // text": nothing left that is an n-gram of a profile).
  std::optional<std::vector<LanguageProbability>> probabilities(std::string_view utf8_text, uint64_t seed = 0) const;
  // detect(text): the best language, "unknown" when none is above 0.1; std::nullopt as above.
  std::optional<std::string> detect(std::string_view utf8_text, uint64_t seed = 0) const;

  const std::vector<std::string>& languages() const { return languages_; }
  const std::string& package_dir() const { return package_dir_; }

  // The cleaned text the n-grams are drawn from (append() then cleaning_text()), for tests.
  std::u32string cleaned_text(std::string_view utf8_text) const;
  // The n-gram features in the order langdetect extracts them, for tests.
  std::vector<std::u32string> features(std::string_view utf8_text) const;

 private:
  struct Entry {
    uint32_t lang;
    double prob;
  };
  char32_t normalize(char32_t c) const;
  std::u32string normalize_vi(const std::u32string& text) const;
  // The features as row numbers (see row_begin_).
  std::vector<uint32_t> feature_rows(const std::u32string& cleaned) const;

  std::string package_dir_;
  std::vector<std::string> languages_;
  // An n-gram of 1 to 3 code points packed into one integer: (code point + 1) << (21 * position).
  static uint64_t pack(std::u32string_view gram);
  std::unordered_map<uint64_t, uint32_t> word_row_;  // n-gram -> its row
  std::vector<std::u32string> words_;                // row -> n-gram
  // Per row, its (language, probability) entries where the probability is non-zero:
  // entries_[row_begin_[r] .. row_begin_[r + 1]).
  std::vector<uint32_t> row_begin_;
  std::vector<Entry> entries_;
  std::u32string latin1_excluded_;
  std::u32string vi_letters_, vi_marks_;
  std::vector<std::u32string> vi_composed_;  // per mark: the composed letter for each of vi_letters_
  std::unordered_map<char32_t, char32_t> cjk_map_;
};

}  // namespace packbench::evals::langdetect
