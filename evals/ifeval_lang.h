// ifeval language identification: which language a response is written in, by CLD2.
#pragma once

#include <string>
#include <string_view>

namespace packbench::evals::ifeval {

// The detected language of `text` as an ISO 639-1 code in the reference's spelling ("en", "fr",
// "he", "zh-cn", ...), or "" when the text has no letters to judge (the reference's detector
// raises in that case and the reference then counts the instruction as followed). CLD2's
// "unknown" verdict on text that does have letters is returned as "un".
std::string detect_language(std::string_view text);

}  // namespace packbench::evals::ifeval
