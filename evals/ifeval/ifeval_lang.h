// ifeval language identification: which language a response is written in, by langdetect as the reference calls it.
#pragma once

#include <string>
#include <string_view>

namespace packbench::evals::ifeval {

// langdetect.detect(text) with DetectorFactory.seed = 0 (evals/ifeval/langdetect.h): a profile name
// ("en", "fr", "he", "zh-cn", ...), "unknown" when no language is above 0.1, or "" where
// langdetect raises LangDetectException (no n-gram features: no letters of any profile); the
// reference counts the instruction as followed then. Throws packbench::Error when langdetect's
// profiles are not installed (never a guess).
std::string detect_language(std::string_view text);

}  // namespace packbench::evals::ifeval
