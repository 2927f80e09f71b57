// Hand-written cases for every ifeval checker, the text utilities, loose variants and bad input.
#include <gtest/gtest.h>

#include "core/error.h"
#include "evals/ifeval/ifeval_checkers.h"
#include "evals/ifeval/ifeval_lang.h"
#include "evals/ifeval/ifeval_scoring.h"
#include "evals/ifeval/ifeval_text.h"
#include "evals/ifeval/ifeval_tokenize.h"

using namespace packbench::evals::ifeval;
using nlohmann::json;

namespace {

bool follows(const std::string& id, const json& kwargs, const std::string& response) {
  return make_checker(id, kwargs, "test").check(response);
}

}  // namespace

// ----------------------------------------------------------------------------------------------
// Text utilities

TEST(IfevalText, CountsWordsAsWordCharacterRuns) {
  EXPECT_EQ(count_words(""), 0u);
  EXPECT_EQ(count_words("hello, world"), 2u);
  EXPECT_EQ(count_words("don't stop-now_ok 3.14"), 6u);  // don / t / stop / now_ok / 3 / 14
  EXPECT_EQ(count_words("héllo wörld naïve"), 3u);       // Unicode letters are word characters
  EXPECT_EQ(count_words("  \n\t "), 0u);
}

TEST(IfevalText, SentenceCountsOfTheReferenceTests) {
  // Punctuation-separated nonsense words, as in the reference's own sentence tests.
  EXPECT_EQ(count_sentences("ab,c. de,f! gh/i. j{k}l?"), 4u);
  EXPECT_EQ(count_sentences("abcd. ef,g! hijk. l(m)n?"), 4u);
  // "}" splits "gh}i." so "i." reads as an initial, and an initial before a lowercase word does
  // not end a sentence: three sentences, which is what the reference's "at least 5" case needs.
  EXPECT_EQ(count_sentences("ab-c. de,f! gh}i. j,kl?"), 3u);
}

TEST(IfevalText, SentenceSplitterKeepsAbbreviationsAndDecimals) {
  EXPECT_EQ(count_sentences(""), 0u);
  EXPECT_EQ(count_sentences("One sentence without an end"), 1u);
  EXPECT_EQ(count_sentences("Dr. Smith met Mr. Jones in the U.S. capital. They talked."), 2u);
  EXPECT_EQ(count_sentences("Pi is about 3.14 and e is about 2.72. Both are irrational."), 2u);
  EXPECT_EQ(count_sentences("Really? Yes! Fine."), 3u);
  // A line break alone does not end a sentence.
  EXPECT_EQ(count_sentences("first line\nsecond line"), 1u);
  // Closing quotes stay with the sentence they end.
  std::vector<std::string> s = split_sentences_punkt("He said \"stop.\" Then he left.");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0], "He said \"stop.\"");
  EXPECT_EQ(s[1], "Then he left.");
  // A single letter and period before a capitalised common word ends a sentence; before a name
  // it reads as an initial.
  EXPECT_EQ(count_sentences("You are located in o. Let's check the weather."), 2u);
  EXPECT_EQ(count_sentences("The books by J. K. Rowling sold well."), 1u);
  // An abbreviation before a capitalised common word ends a sentence; before a name it does not.
  EXPECT_EQ(count_sentences("We bought apples, pears, etc. The rest was sold."), 2u);
  EXPECT_EQ(count_sentences("We met Dr. Watson today."), 1u);
  // A number followed by a lowercase word is not a sentence end.
  EXPECT_EQ(count_sentences("Chapter 3. then it goes on."), 1u);
}

TEST(IfevalText, WordTokenizerSplitsPunctuationAndContractions) {
  std::vector<std::string> t = word_tokenize("I DON'T like \"quotes\", (brackets) or CAN'T-stop!");
  std::vector<std::string> want = {"I",  "DO", "N'T",      "like", "``", "quotes", "''", ",", "(",
                                   "brackets", ")", "or", "CAN'T-stop", "!"};
  EXPECT_EQ(t, want);
  EXPECT_EQ(word_tokenize("It ends here."), (std::vector<std::string>{"It", "ends", "here", "."}));
  EXPECT_EQ(word_tokenize("cannot"), (std::vector<std::string>{"can", "not"}));
}

TEST(IfevalText, PythonStringSemantics) {
  EXPECT_EQ(py_strip("\u00a0 x \u3000\n"), "x");
  EXPECT_EQ(py_split_ws(" a\u2003b  c\n"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(py_split("a\n\nb\n\n", "\n\n"), (std::vector<std::string>{"a", "b", ""}));
  EXPECT_EQ(py_lower("ÀÉÎ Straße ABC"), "àéî straße abc");
  EXPECT_TRUE(py_isupper("HELLO, 123 WORLD"));
  EXPECT_FALSE(py_isupper("123 ..."));  // no cased character
  EXPECT_FALSE(py_isupper("HELLo"));
  EXPECT_TRUE(py_islower("hello ÿ 1"));
  EXPECT_FALSE(py_islower("hellÖ"));
  EXPECT_TRUE(py_isupper("ÇA VA"));
  EXPECT_TRUE(valid_utf8("plain ascii é"));
  EXPECT_FALSE(valid_utf8(std::string("bad \xC3\x28", 6)));
  EXPECT_FALSE(valid_utf8(std::string("\xED\xA0\x80", 3)));  // a surrogate
}

TEST(IfevalText, RegexFollowsPythonLineAndWordRules) {
  Regex bullet(R"(^\s*\*[^\*].*$)", Regex::kMultiline);
  EXPECT_EQ(bullet.count("* a\n* b\n** c\ntext * d"), 2u);
  Regex boundary("\\bcat\\b", Regex::kIgnoreCase);
  EXPECT_TRUE(boundary.search("A CAT sat"));
  EXPECT_FALSE(boundary.search("concatenate"));
  EXPECT_FALSE(Regex("\\bcaf\\b").search("café"));  // é is a word character
  EXPECT_EQ(Regex(R"(\s?\*\*\*\s?)").split("a *** b***c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Regex("(b)").sub("abc", "[$1]"), "a[b]c");
  EXPECT_THROW(Regex("(unclosed"), packbench::Error);
}

TEST(IfevalLanguage, DetectsCommonLanguages) {
  EXPECT_EQ(detect_language("The quick brown fox jumps over the lazy dog while the farmer watches."), "en");
  EXPECT_EQ(detect_language("Le renard brun saute par-dessus le chien paresseux pendant que le fermier regarde."),
            "fr");
  EXPECT_EQ(detect_language("Der schnelle braune Fuchs springt über den faulen Hund, während der Bauer zusieht."),
            "de");
  EXPECT_EQ(detect_language("Быстрая коричневая лиса перепрыгивает через ленивую собаку."), "ru");
  EXPECT_EQ(detect_language("שלום עולם, זהו משפט בעברית כדי לבדוק את הזיהוי של השפה."), "he");
  EXPECT_EQ(detect_language("12345 !!! ... 678"), "");  // nothing to judge
  // langdetect's verdicts on one-word answers (Python langdetect, DetectorFactory.seed = 0):
  // YES -> cy 0.99999594, etchings -> de 0.99999547, A -> tl 0.99977091.
  EXPECT_EQ(detect_language("YES"), "cy");
  EXPECT_EQ(detect_language("etchings"), "de");
  EXPECT_EQ(detect_language("A"), "tl");
}

// ----------------------------------------------------------------------------------------------
// Checkers: one test per instruction, including the reference's own cases in packbench's words.

TEST(IfevalCheckers, KeywordsExistenceIsCaseInsensitiveRegex) {
  json kw = {{"keywords", {"romantic", "river", "Mona Lisa"}}};
  EXPECT_TRUE(follows("keywords:existence", kw,
                      "A romantic walk by the River Seine, then the mona lisa in the Louvre."));
  EXPECT_FALSE(follows("keywords:existence", kw, "Romance and rivers, but no famous painting."));
  // No word boundaries: a keyword inside a longer word counts.
  EXPECT_TRUE(follows("keywords:existence", {{"keywords", {"cat"}}}, "concatenate"));
}

TEST(IfevalCheckers, KeywordFrequencyCountsMatches) {
  EXPECT_TRUE(follows("keywords:frequency", {{"keyword", "  keyword "}, {"frequency", 4}, {"relation", "less than"}},
                      "keyword, Keyword, KEYWORD"));
  EXPECT_TRUE(follows("keywords:frequency", {{"keyword", "keyword"}, {"frequency", 3}, {"relation", "at least"}},
                      "keyword, Keyword, KEYWORD"));
  EXPECT_FALSE(follows("keywords:frequency", {{"keyword", "KEYWORD"}, {"frequency", 4}, {"relation", "at least"}},
                       "*keyword\n*Keyword\n*KEYWORD"));
}

TEST(IfevalCheckers, ForbiddenWordsNeedWholeWords) {
  json f1 = {{"forbidden_words", {"HOUSE", "POWER", "BECOME"}}};
  EXPECT_FALSE(follows("keywords:forbidden_words", f1, "They rose to power in 1933."));
  EXPECT_TRUE(follows("keywords:forbidden_words", f1, "Dinosaurs were powerful reptiles."));
  json f2 = {{"forbidden_words", {"GENE", "TRANSFORM"}}};
  EXPECT_TRUE(follows("keywords:forbidden_words", f2, "Generative transformers generate text."));
  EXPECT_FALSE(follows("keywords:forbidden_words", {{"forbidden_words", {"google", "text"}}},
                       "Trained on text and code."));
}

TEST(IfevalCheckers, LetterFrequencyIgnoresCase) {
  EXPECT_TRUE(follows("keywords:letter_frequency", {{"letter", "T"}, {"let_frequency", 4}, {"let_relation", "at least"}},
                      "There is the T. Four T's."));
  EXPECT_TRUE(follows("keywords:letter_frequency", {{"letter", "a"}, {"let_frequency", 4}, {"let_relation", "less than"}},
                      "asdfghjkl!!aA"));
  EXPECT_FALSE(follows("keywords:letter_frequency", {{"letter", "p"}, {"let_frequency", 4}, {"let_relation", "at least"}},
                       "asdfghjkl!!aA"));
  json hash = {{"letter", "#"}, {"let_frequency", 4}, {"let_relation", "at least"}};
  EXPECT_TRUE(follows("keywords:letter_frequency", hash, "#one #two #three #four"));
  EXPECT_FALSE(follows("keywords:letter_frequency", hash, "#one #two #three"));
}

TEST(IfevalCheckers, ResponseLanguage) {
  EXPECT_TRUE(follows("language:response_language", {{"language", "en"}}, "This answer is written in English."));
  EXPECT_TRUE(follows("language:response_language", {{"language", "es"}},
                      "Hoy desayunamos en McDonald's con mis amigos de la escuela."));
  EXPECT_FALSE(follows("language:response_language", {{"language", "fr"}}, "This answer is written in English."));
  // Nothing to judge counts as followed, as in the reference.
  EXPECT_TRUE(follows("language:response_language", {{"language", "fr"}}, "42 !!!"));
}

TEST(IfevalCheckers, NumberOfSentences) {
  auto n = [](int num, const char* rel) { return json{{"num_sentences", num}, {"relation", rel}}; };
  EXPECT_FALSE(follows("length_constraints:number_sentences", n(4, "less than"), "ab,c. de,f! gh/i. j{k}l?"));
  EXPECT_TRUE(follows("length_constraints:number_sentences", n(5, "less than"), "abcd. ef,g! hijk. l(m)n?"));
  EXPECT_TRUE(follows("length_constraints:number_sentences", n(4, "at least"), "abcd. ef,g! hi|j. k&l m?"));
  EXPECT_FALSE(follows("length_constraints:number_sentences", n(5, "at least"), "ab-c. de,f! gh}i. j,kl?"));
}

TEST(IfevalCheckers, NumberOfParagraphsWithDividers) {
  json three = {{"num_paragraphs", 3}};
  EXPECT_TRUE(follows("length_constraints:number_paragraphs", three, "\n  para 1\n  ***\n  para 2\n  ***\n  para 3"));
  EXPECT_TRUE(follows("length_constraints:number_paragraphs", three,
                      "\n      ***\n  para 1\n      ***\n  para 2\n      ***\n  para 3"));
  EXPECT_TRUE(follows("length_constraints:number_paragraphs", three,
                      "\n  para 1\n      ***\n  para 2\n      ***\n  para 3\n      ***"));
  // An empty paragraph between two dividers fails outright.
  EXPECT_FALSE(follows("length_constraints:number_paragraphs", {{"num_paragraphs", 2}},
                       "\n  para 1\n      ***\n  para 2\n      ***\n      ***"));
}

TEST(IfevalCheckers, NumberOfWords) {
  EXPECT_TRUE(follows("length_constraints:number_words", {{"num_words", 8}, {"relation", "less than"}},
                      "\n  s0me m1xed W0rds h3re w1th 20 w0rdS."));
  const char* text = "\n  B1G L4NGU4GE M0DEL: a syst3m th4t reads, wr1tes, or tr4nsforms\n  t3xt b4sed on pr1or d4t4 & more.";
  EXPECT_FALSE(follows("length_constraints:number_words", {{"num_words", 16}, {"relation", "less than"}}, text));
  EXPECT_TRUE(follows("length_constraints:number_words", {{"num_words", 16}, {"relation", "at least"}}, text));
}

TEST(IfevalCheckers, NthParagraphFirstWord) {
  auto kw = [](int num, int nth, const char* w) {
    return json{{"num_paragraphs", num}, {"nth_paragraph", nth}, {"first_word", w}};
  };
  const std::string id = "length_constraints:nth_paragraph_first_word";
  EXPECT_TRUE(follows(id, kw(3, 2, "I"), "\n  para one\n\n  I para two\n\n  para three"));
  EXPECT_FALSE(follows(id, kw(3, 2, "I"), "\n  para one\n\n  I para two"));  // too few paragraphs
  EXPECT_FALSE(follows(id, kw(3, 2, "I"), "\n  para one\n\n  no para two\n\n  para three"));
  std::string five = "\n  One.\n\n  Two.\n\n  \"Really?! three\"\n\n  Four.\n\n  Haha, five.";
  EXPECT_TRUE(follows(id, kw(5, 5, "haha"), five));
  EXPECT_TRUE(follows(id, kw(5, 3, "Really"), five));  // quotes and punctuation are dropped
  EXPECT_FALSE(follows(id, kw(5, 3, "Really"), "\n  One.\n\n  Two.\n\n  Rea!lly three\n\n  Four.\n\n  Five."));
}

TEST(IfevalCheckers, Placeholders) {
  EXPECT_TRUE(follows("detectable_content:number_placeholders", {{"num_placeholders", 5}},
                      "A form:\n[Name]\n[Email]\n[Phone]\n[Address]\n[Website]\nUse it well."));
  EXPECT_FALSE(follows("detectable_content:number_placeholders", {{"num_placeholders", 7}},
                       "My [adjective] [noun] is [adjective] [noun]. I [verb] and [verb]."));
}

TEST(IfevalCheckers, Postscript) {
  const std::string id = "detectable_content:postscript";
  std::string ps = "\n  I will keep it short.\n\n  P.S. I hope this helps.";
  EXPECT_TRUE(follows(id, {{"postscript_marker", "P.S."}}, ps));
  EXPECT_FALSE(follows(id, {{"postscript_marker", "PS:"}}, ps));
  EXPECT_TRUE(follows(id, {{"postscript_marker", "P.P.S"}}, "Answer.\n\n  P.P.S. Anything else?\n\n  Bye."));
  EXPECT_TRUE(follows(id, {{"postscript_marker", "P.S."}}, "Inline, not on a new line. P.S. still counts!"));
  EXPECT_TRUE(follows(id, {{"postscript_marker", "P.P.S"}}, "all lower case.\n  p.p.s even this one\n"));
  EXPECT_TRUE(follows(id, {{"postscript_marker", "P.S."}}, "Text.\n  P. S. With a space between P. and S..\n"));
  EXPECT_FALSE(follows(id, {{"postscript_marker", "P.S."}}, "No postscript here."));
}

TEST(IfevalCheckers, BulletLists) {
  const std::string id = "detectable_format:number_bullet_lists";
  std::string m1 =
      "\n  Bullets start a line with an asterisk (*). For example:\n  * A bullet.\n  *(no space needed)Another.\n"
      "  * (no newline needed)Another.\n  ordinary text follows.";
  EXPECT_TRUE(follows(id, {{"num_bullets", 3}}, m1));
  std::string m2 = "\n  An inline asterisk (*), *, is not a bullet:\n    * one.\n    * two.\n    . a dot";
  EXPECT_TRUE(follows(id, {{"num_bullets", 2}}, m2));
  std::string m4 = "\n  Dashes:\n  - one.\n  - two.\n  -three without space.";
  EXPECT_TRUE(follows(id, {{"num_bullets", 3}}, m4));
  std::string m5 = "\n  Para 1\n  ***\n  Para 2\n  ***\n  Para 3\n  * the only bullet\n  ";
  EXPECT_TRUE(follows(id, {{"num_bullets", 1}}, m5));
  EXPECT_FALSE(follows(id, {{"num_bullets", 2}}, m5));
}

TEST(IfevalCheckers, ConstrainedResponse) {
  const std::string id = "detectable_format:constrained_response";
  EXPECT_TRUE(follows(id, json::object(), "\n My answer is no.\n"));
  EXPECT_TRUE(follows(id, json::object(), "My answer is no.   "));
  EXPECT_TRUE(follows(id, json::object(), "\n  My answer is maybe. And then some more text."));
  EXPECT_FALSE(follows(id, json::object(), "my answer is yes."));  // case matters
}

TEST(IfevalCheckers, HighlightedSections) {
  const std::string id = "detectable_format:number_highlighted_sections";
  std::string m1 = "Use *hello* to highlight, or **hello** for bold.";
  EXPECT_TRUE(follows(id, {{"num_highlights", 2}}, m1));
  std::string m2 = "\n  *Finite difference methods\n  *Finite element methods*\n  *Boundary element\n  I hope this helps!";
  EXPECT_FALSE(follows(id, {{"num_highlights", 2}}, m2));
  std::string m3 = "Two *different* highlights *in one* line. **Bold too** and **bold again.**\n";
  EXPECT_TRUE(follows(id, {{"num_highlights", 4}}, m3));
  EXPECT_FALSE(follows(id, {{"num_highlights", 1}}, "Empty ones do not count: ** and *  *."));
}

TEST(IfevalCheckers, MultipleSections) {
  const std::string id = "detectable_format:multiple_sections";
  std::string m1 = "\n  Mark each section with \"Section X\", like:\n  Section 1\n  [one]\n  Section 2\n  [two]";
  EXPECT_FALSE(follows(id, {{"section_spliter", "Section"}, {"num_sections", 3}}, m1));
  EXPECT_TRUE(follows(id, {{"section_spliter", "Section"}, {"num_sections", 2}}, m1));
  std::string m2 = "SECTION 1\n  [one]\n  SECTION 2\n  [two]";
  EXPECT_TRUE(follows(id, {{"section_spliter", "SECTION"}, {"num_sections", 2}}, m2));
  EXPECT_FALSE(follows(id, {{"section_spliter", "Section"}, {"num_sections", 1}}, m2));  // case-sensitive
}

TEST(IfevalCheckers, JsonFormat) {
  const std::string id = "detectable_format:json_format";
  EXPECT_TRUE(follows(id, json::object(), "{\"a\": [1, 2, {\"b\": null}]}"));
  EXPECT_TRUE(follows(id, json::object(), "```json\n{\"a\": 1}\n```"));
  EXPECT_TRUE(follows(id, json::object(), "  ```JSON\n[1, 2]\n```  "));
  EXPECT_TRUE(follows(id, json::object(), "```\n\"just a string\"\n```"));
  EXPECT_FALSE(follows(id, json::object(), "Here is JSON: {\"a\": 1}"));
  EXPECT_FALSE(follows(id, json::object(), "{\"a\": 1,}"));
  EXPECT_FALSE(follows(id, json::object(), "```json\n{\"a\": 1}\n```\nHope this helps."));
  // Python's parser takes NaN and Infinity as numbers, but not inside other words.
  EXPECT_TRUE(follows(id, json::object(), "{\"x\": NaN, \"y\": [-Infinity, Infinity], \"s\": \"NaN\"}"));
  EXPECT_FALSE(follows(id, json::object(), "{\"x\": NaNa}"));
  EXPECT_FALSE(follows(id, json::object(), "{\"x\": nan}"));
}

TEST(IfevalCheckers, Title) {
  const std::string id = "detectable_format:title";
  EXPECT_TRUE(follows(id, json::object(), "\n  <<Song of Joy>>\n  La la la."));
  EXPECT_TRUE(follows(id, json::object(), "Text first.\n  <<The title at the end>>\n"));
  EXPECT_FALSE(follows(id, json::object(), "\n  << >>\n  No title."));
  EXPECT_FALSE(follows(id, json::object(), "\n  <<Not a title.\n  Across lines.>>\n"));
}

TEST(IfevalCheckers, TwoResponses) {
  const std::string id = "combination:two_responses";
  EXPECT_TRUE(follows(id, json::object(), "\n  Response one.\n  ******\n  Response two.\n  "));
  EXPECT_FALSE(follows(id, json::object(), "\n  Same.\n  ******\n  Same.\n  "));
  EXPECT_FALSE(follows(id, json::object(), "\n  One.\n  ******\n  Two.\n  ******\n  Three.\n  "));
  EXPECT_FALSE(follows(id, json::object(), "\n  ******\n  One.\n  ******\n  ******\n  Two.\n  ******\n  "));
  EXPECT_TRUE(follows(id, json::object(), "\n  ******\n  One\n  ******\n  Two\n  ******\n  "));
}

TEST(IfevalCheckers, RepeatPrompt) {
  const std::string id = "combination:repeat_prompt";
  json kw = {{"prompt_to_repeat", "Write a CL description."}};
  EXPECT_TRUE(follows(id, kw, "write a cl DESCRIPTION. Hi all, please\n  review this. Thanks.\n"));
  EXPECT_FALSE(follows(id, kw, "Hi all. Write a CL description. Thanks.\n"));
}

TEST(IfevalCheckers, EndChecker) {
  const std::string id = "startend:end_checker";
  EXPECT_TRUE(follows(id, {{"end_phrase", "\n  Any more questions?\n  "}}, "\n  The answer is 7. Any more questions?\n  "));
  EXPECT_TRUE(follows(id, {{"end_phrase", "This is the end."}}, "I must say that this is the end.\""));
  EXPECT_FALSE(follows(id, {{"end_phrase", "This will fail."}}, "\n  This will fail. Paris is cool.\n  "));
}

TEST(IfevalCheckers, CapitalWordFrequency) {
  const std::string id = "change_case:capital_word_frequency";
  auto kw = [](int n, const char* rel) { return json{{"capital_frequency", n}, {"capital_relation", rel}}; };
  EXPECT_TRUE(follows(id, kw(3, "at least"), "\n  HERE there are THREE FUlly CAPITAL words.\n  "));
  std::string m2 = "\n  THERE are Four FULLY CAPITAL WORDS. Many Others Are Only Partially So.\n  ";
  EXPECT_TRUE(follows(id, kw(5, "less than"), m2));
  EXPECT_FALSE(follows(id, kw(4, "less than"), m2));
  // Contractions split into two capital tokens, as NLTK's tokenizer does.
  EXPECT_TRUE(follows(id, kw(2, "at least"), "DON'T"));
}

TEST(IfevalCheckers, EnglishCapitalAndLowercase) {
  EXPECT_TRUE(follows("change_case:english_capital", json::object(),
                      "\n  THIS IS AN ENGLISH SENTENCE. EVERY LETTER IS CAPITALIZED!!! AMAZING.\n  "));
  EXPECT_FALSE(follows("change_case:english_capital", json::object(), "\n  Every Word Is Capitalized.\n  "));
  EXPECT_FALSE(follows("change_case:english_capital", json::object(),
                       "CECI EST UNE PHRASE EN FRANÇAIS ÉCRITE ENTIÈREMENT EN MAJUSCULES POUR LE TEST."));
  EXPECT_TRUE(follows("change_case:english_lowercase", json::object(), "\n  every letter is lowercase.\n  "));
  EXPECT_FALSE(follows("change_case:english_lowercase", json::object(), "\n  Almost every letter is lowercase.\n  "));
  // As the reference: the case test first, then langdetect, which must say "en"; text without
  // any letters langdetect knows counts as followed (the reference catches LangDetectException).
  EXPECT_FALSE(follows("change_case:english_capital", json::object(), "YES"));     // langdetect: cy
  EXPECT_FALSE(follows("change_case:english_lowercase", json::object(), "etchings"));  // langdetect: de
  EXPECT_TRUE(follows("change_case:english_capital", json::object(), "HELLO, HOW ARE YOU TODAY? I AM FINE."));
  EXPECT_TRUE(follows("change_case:english_capital", json::object(), "\u216B \u216B"));  // "Ⅻ Ⅻ": upper, no features
  EXPECT_FALSE(follows("change_case:english_lowercase", json::object(), "123"));  // not islower(): no detection
}

TEST(IfevalCheckers, NoCommaAndQuotation) {
  EXPECT_TRUE(follows("punctuation:no_comma", json::object(), "Short sentences. No comma needed."));
  EXPECT_FALSE(follows("punctuation:no_comma", json::object(), "Since the start, people punctuate."));
  EXPECT_TRUE(follows("startend:quotation", json::object(), "\n  \"All of this is quoted.\"\n  "));
  EXPECT_FALSE(follows("startend:quotation", json::object(), "\n  \"Quoted.\" But not all.\n  "));
  EXPECT_FALSE(follows("startend:quotation", json::object(), "\""));
}

TEST(IfevalCheckers, AllTwentyFiveIdsBuild) {
  EXPECT_EQ(instruction_ids().size(), 25u);
  for (const std::string& id : instruction_ids()) {
    // Every id rejects an argument it does not take.
    EXPECT_THROW(make_checker(id, {{"not_an_argument", 1}}, "t"), packbench::Error) << id;
  }
}

// ----------------------------------------------------------------------------------------------
// Bad kwargs

TEST(IfevalCheckers, BadKwargsNameTheField) {
  auto message = [](const std::string& id, const json& kw) -> std::string {
    try {
      make_checker(id, kw, "input_data.jsonl line 7");
    } catch (const packbench::Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message("keywords:nonexistent", json::object()).find("unknown instruction id"), std::string::npos);
  std::string m = message("length_constraints:number_words", {{"num_words", "ten"}, {"relation", "at least"}});
  EXPECT_NE(m.find("input_data.jsonl line 7"), std::string::npos);
  EXPECT_NE(m.find("kwargs.num_words"), std::string::npos);
  EXPECT_NE(message("length_constraints:number_words", {{"num_words", 10}, {"relation", "at most"}}).find("kwargs.relation"),
            std::string::npos);
  EXPECT_NE(message("length_constraints:number_words", {{"relation", "at least"}}).find("is missing"), std::string::npos);
  EXPECT_NE(message("keywords:letter_frequency", {{"letter", "ab"}, {"let_frequency", 1}, {"let_relation", "at least"}})
                .find("kwargs.letter"),
            std::string::npos);
  EXPECT_NE(message("keywords:existence", {{"keywords", json::array()}}).find("must not be empty"), std::string::npos);
  EXPECT_NE(message("keywords:existence", {{"keywords", "word"}}).find("list of strings"), std::string::npos);
  EXPECT_NE(message("language:response_language", {{"language", "xx"}}).find("kwargs.language"), std::string::npos);
  EXPECT_NE(message("length_constraints:nth_paragraph_first_word",
                    {{"num_paragraphs", 2}, {"nth_paragraph", 3}, {"first_word", "a"}})
                .find("nth_paragraph"),
            std::string::npos);
  EXPECT_NE(message("keywords:existence", {{"keywords", {"(bad"}}}).find("invalid regular expression"), std::string::npos);
  EXPECT_NE(message("punctuation:no_comma", json::array()).find("JSON object"), std::string::npos);
  // Null values, as lm-evaluation-harness's copy of the data has them, count as absent.
  EXPECT_NO_THROW(make_checker("punctuation:no_comma", {{"num_words", nullptr}, {"keywords", nullptr}}, "t"));
}

// ----------------------------------------------------------------------------------------------
// Loose variants and verdicts

TEST(IfevalScoring, LooseVariantsInReferenceOrder) {
  std::vector<std::string> v = loose_variants("Sure! *Here*:\nbody *text*\nbye");
  ASSERT_EQ(v.size(), 8u);
  EXPECT_EQ(v[0], "Sure! *Here*:\nbody *text*\nbye");
  EXPECT_EQ(v[1], "Sure! Here:\nbody text\nbye");
  EXPECT_EQ(v[2], "body *text*\nbye");
  EXPECT_EQ(v[3], "Sure! *Here*:\nbody *text*");
  EXPECT_EQ(v[4], "body *text*");
  EXPECT_EQ(v[5], "body text\nbye");
  EXPECT_EQ(v[6], "Sure! Here:\nbody text");
  EXPECT_EQ(v[7], "body text");
  std::vector<std::string> one = loose_variants("single line");
  EXPECT_EQ(one[2], "");
  EXPECT_EQ(one[3], "");
  EXPECT_EQ(one[4], "");
}

TEST(IfevalScoring, LooseForgivesAPreambleAndMarkdown) {
  std::vector<Checker> c = {make_checker("startend:quotation", json::object(), "t"),
                            make_checker("detectable_format:json_format", json::object(), "t"),
                            make_checker("punctuation:no_comma", json::object(), "t")};
  Verdicts v = judge(c, "Here you go:\n\"{\"a\": 1}\"");
  EXPECT_EQ(v.strict, (std::vector<bool>{false, false, true}));
  EXPECT_EQ(v.loose, (std::vector<bool>{true, false, true}));
  Verdicts j = judge(c, "Sure, here is the JSON:\n{\"a\": 1}\nLet me know.");
  EXPECT_EQ(j.strict, (std::vector<bool>{false, false, false}));
  EXPECT_EQ(j.loose, (std::vector<bool>{false, true, true}));  // without both lines; comma lines dropped
  std::vector<Checker> h = {make_checker("detectable_format:number_highlighted_sections", {{"num_highlights", 1}}, "t")};
  Verdicts none = judge(h, "no highlight");
  EXPECT_FALSE(none.loose[0]);
}

TEST(IfevalScoring, BlankResponsesFollowNothing) {
  std::vector<Checker> c = {make_checker("punctuation:no_comma", json::object(), "t"),
                            make_checker("keywords:forbidden_words", {{"forbidden_words", {"x"}}}, "t")};
  Verdicts v = judge(c, "  \n\t ");
  EXPECT_EQ(v.strict, (std::vector<bool>{false, false}));
  EXPECT_EQ(v.loose, (std::vector<bool>{false, false}));
}

TEST(IfevalScoring, TallyComputesLmEvalMetrics) {
  Tally t;
  t.add({"punctuation:no_comma", "startend:quotation"}, {{true, false}, {true, true}});
  t.add({"punctuation:no_comma"}, {{true}, {true}});
  json m = t.metrics();
  EXPECT_DOUBLE_EQ(m["prompt_level_strict_acc,none"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(m["prompt_level_loose_acc,none"].get<double>(), 1.0);
  EXPECT_NEAR(m["inst_level_strict_acc,none"].get<double>(), 2.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(m["inst_level_loose_acc,none"].get<double>(), 1.0);
  // Sample standard error with n-1: values {1, 0} -> sd 0.7071, / sqrt(2) = 0.5.
  EXPECT_NEAR(m["prompt_level_strict_acc_stderr,none"].get<double>(), 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(m["prompt_level_loose_acc_stderr,none"].get<double>(), 0.0);
  json b = t.breakdown();
  EXPECT_EQ(b["instructions"]["punctuation:no_comma"]["n"], 2);
  EXPECT_DOUBLE_EQ(b["instructions"]["startend:quotation"]["strict_acc"].get<double>(), 0.0);
  EXPECT_EQ(b["groups"]["punctuation"]["n"], 2);
}
