// ifeval language identification: which language a response is written in, by CLD2.
//
// The reference uses the Python port of langdetect (character n-gram naive Bayes with random
// restarts); packbench uses Google's CLD2 (quadgram scoring with script detection). They agree
// on ordinary prose; they can disagree on very short texts, texts mixing scripts or languages,
// all-capital text, and closely related languages (e.g. Hindi/Marathi/Nepali in Devanagari).
#include "evals/ifeval_lang.h"

#include <cld2/public/compact_lang_det.h>
#include <cld2/public/encodings.h>

#include "evals/ifeval_text.h"

namespace CLD2 {
const char* LanguageCode(Language lang);  // from CLD2's lang_script.h
}

namespace packbench::evals::ifeval {

std::string detect_language(std::string_view text) {
  // The reference's detector gives up when the text has no letters at all.
  static const Regex letter("\\p{L}");
  if (!letter.search(text)) return "";
  // Best effort: like the reference's detector, always name a language when there is text.
  CLD2::CLDHints hints = {nullptr, nullptr, CLD2::UNKNOWN_ENCODING, CLD2::UNKNOWN_LANGUAGE};
  CLD2::Language language3[3];
  int percent3[3];
  double score3[3];
  int text_bytes = 0, valid_prefix = 0;
  bool reliable = false;
  CLD2::Language lang = CLD2::ExtDetectLanguageSummaryCheckUTF8(
      text.data(), static_cast<int>(text.size()), true, &hints, CLD2::kCLDFlagBestEffort, language3, percent3,
      score3, nullptr, &text_bytes, &reliable, &valid_prefix);
  if (lang == CLD2::UNKNOWN_LANGUAGE || lang == CLD2::TG_UNKNOWN_LANGUAGE) return "un";
  std::string code = CLD2::LanguageCode(lang);
  // CLD2 spells a few codes the old way or with a script; the reference uses langdetect's codes.
  if (code == "iw") return "he";
  if (code == "jw") return "jv";
  if (code == "zh") return "zh-cn";
  if (code == "zh-Hant") return "zh-tw";
  if (code == "nb") return "no";
  return code;
}

}  // namespace packbench::evals::ifeval
