// ifeval language identification: which language a response is written in, by langdetect as the reference calls it.
//
// The reference's checkers call langdetect.detect(value) in language:response_language,
// change_case:english_capital and change_case:english_lowercase (the latter two only once
// value.isupper() / value.islower() holds) and count a LangDetectException as followed.
// langdetect draws n-grams at random; packbench uses seed 0, the setting users of the
// reference use to make it deterministic (`DetectorFactory.seed = 0`).
#include "evals/ifeval/ifeval_lang.h"

#include "evals/ifeval/langdetect.h"

namespace packbench::evals::ifeval {

std::string detect_language(std::string_view text) {
  auto lang = langdetect::Detector::shared().detect(text, 0);
  return lang ? *lang : std::string();
}

}  // namespace packbench::evals::ifeval
