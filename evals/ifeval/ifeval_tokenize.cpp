// ifeval tokenizers: words as the reference counts them, Punkt-style sentences, Treebank-style word tokens.
//
// Sentence counting follows the structure of NLTK's Punkt sentence tokenizer as the reference
// calls it (pre-trained English model, nltk 3.8 code path): Punkt's word tokenizer, its first
// pass (sentence-end punctuation, ellipses, abbreviations), its second pass (abbreviation,
// initial and number rules with the orthographic heuristic) and its candidate-break search over
// period contexts. What cannot be reproduced without the trained model file is its parameter
// set: the abbreviation list, sentence starters and orthographic statistics below are a small
// hand-made stand-in (common English abbreviations; orthographic knowledge only for a list of
// common lowercase words, all other words counting as never seen). Texts whose sentence
// boundaries hinge on rarer abbreviations, or on initials followed by capitalised words outside
// that list, can therefore count differently from the reference.
#include "evals/ifeval/ifeval_tokenize.h"

#include <string>
#include <unordered_set>
#include <vector>

#include "evals/ifeval/ifeval_text.h"

namespace packbench::evals::ifeval {

// ---------------------------------------------------------------------------------------------
// Words

size_t count_words(std::string_view text) {
  static const Regex word("\\w+");
  return word.count(text);
}

// ---------------------------------------------------------------------------------------------
// Punkt-style sentence splitting

namespace {

// Abbreviations (lowercase, without the final period) treated as non-final.
const std::unordered_set<std::string>& abbreviations() {
  static const std::unordered_set<std::string> s = {
      "mr",   "mrs",  "ms",   "dr",   "st",   "jr",   "sr",   "co",    "corp", "inc",  "ltd",  "vs",
      "u.s",  "u.k",  "u.n",  "e.g",  "i.e",  "a.m",  "p.m",  "jan",   "feb",  "aug",  "sept", "oct",
      "nov",  "dec",  "gen",  "gov",  "sen",  "rep",  "lt",   "col",   "sgt",  "capt", "mt",   "ft",
      "messrs", "calif", "fla", "n.y", "d.c", "n.j",  "ariz", "tenn",  "tex",  "mich", "minn", "okla",
      "colo", "conn", "prof", "u.s.a", "cf", "etc", "approx", "vol",  "no",   "fig",  "jun",  "jul"};
  return s;
}

// Words after which an abbreviation is taken as ending the sentence when capitalised.
const std::unordered_set<std::string>& sentence_starters() {
  static const std::unordered_set<std::string> s = {
      "and",  "but",   "he",   "however", "i",     "in",   "it",    "meanwhile", "mr",   "she",
      "that", "the",   "they", "this",    "we",    "while", "yet",  "there",     "these", "those",
      "so",   "now",   "if",   "when",    "also",  "many", "most",  "some",      "for",  "as",
      "his",  "her",   "its",  "our",     "their", "you",  "a",     "an",        "what", "why",
      "how",  "where", "who"};
  return s;
}

struct PunktToken {
  std::string tok;
  std::string type;  // lowercased, numbers as ##number##
  bool period_final = false;
  bool sentbreak = false;
  bool abbr = false;
  bool ellipsis = false;
  bool first_upper = false, first_lower = false;
  bool is_initial = false;
  std::string type_no_period() const {
    if (type.size() > 1 && type.back() == '.') return type.substr(0, type.size() - 1);
    return type;
  }
  std::string type_no_sentperiod() const { return sentbreak ? type_no_period() : type; }
};

// Punkt's word tokenizer: multi-char punctuation, word runs that stop before sentence-internal
// punctuation, or single non-space characters.
const Regex& punkt_word_re() {
  static const Regex re(
      R"((?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)|(?=[^\(\"\`{\[:;&\#\*@\)}\]\-,])\S+?(?=\s|$|(?:[)\";}\]\*:@\'\({\[!?])|(?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)|,(?=$|\s|(?:[)\";}\]\*:@\'\({\[!?])|(?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)))|\S)");
  return re;
}

PunktToken make_token(const std::string& tok) {
  static const Regex numeric(R"(^-?[\.,]?\d[\d,\.-]*\.?$)");
  static const Regex initial(R"(^[^\W\d]\.$)");
  PunktToken t;
  t.tok = tok;
  t.type = numeric.search(tok) ? std::string("##number##") : py_lower(tok);
  t.period_final = !tok.empty() && tok.back() == '.';
  std::u32string u = utf8_decode(tok);
  if (!u.empty()) {
    std::string first = utf8_encode(u.substr(0, 1));
    t.first_upper = py_isupper(first);
    t.first_lower = py_islower(first);
  }
  t.is_initial = initial.search(tok);
  return t;
}

std::vector<PunktToken> punkt_tokens(std::string_view text) {
  std::vector<PunktToken> out;
  for (const std::string& line : py_split(text, "\n")) {
    if (py_strip(line).empty()) continue;
    for (const std::string& w : punkt_word_re().findall(line)) out.push_back(make_token(w));
  }
  return out;
}

// Common English words that the trained model has seen in lowercase and capitalised only at
// sentence starts: for these, a capitalised occurrence after a period reads as a sentence start.
const std::unordered_set<std::string>& common_lowercase_words() {
  static const std::unordered_set<std::string> s = {
      "a", "about", "above", "according", "actually", "additionally", "after", "again", "all", "also",
      "although", "always", "an", "and", "another", "any", "anyone", "anything", "are", "as", "at",
      "because", "before", "being", "below", "besides", "both", "but", "by", "can", "consider",
      "could", "do", "does", "don't", "during", "each", "either", "even", "every", "everyone",
      "everything", "finally", "first", "firstly", "for", "from", "furthermore", "get", "give", "go",
      "good", "great", "had", "has", "have", "he", "her", "here", "here's", "his", "how", "however",
      "if", "in", "instead", "is", "it", "it's", "its", "just", "keep", "last", "lastly", "let",
      "let's", "like", "make", "many", "maybe", "meanwhile", "more", "moreover", "most", "much",
      "my", "never", "next", "no", "nor", "not", "now", "of", "often", "on", "once", "one", "only",
      "or", "other", "our", "overall", "perhaps", "please", "remember", "second", "secondly", "she",
      "should", "similarly", "since", "so", "some", "sometimes", "still", "such", "take", "thank",
      "thanks", "that", "that's", "the", "their", "then", "there", "there's", "therefore", "these",
      "they", "they're", "third", "thirdly", "this", "those", "though", "thus", "to", "today",
      "together", "try", "two", "under", "unlike", "until", "up", "use", "we", "we're", "what",
      "what's", "when", "where", "whether", "which", "while", "who", "why", "with", "without",
      "would", "yes", "yet", "you", "you're", "your"};
  return s;
}

// The orthographic heuristic: +1 (a sentence start), 0 (not one) or -1 (unknown). Words in
// common_lowercase_words() count as seen lowercase mid-sentence and capitalised at sentence
// starts; any other word as never seen.
int ortho_heuristic(const PunktToken& t) {
  static const std::string punct = ";:,.!?";
  if (t.tok.empty() || punct.find(t.tok) != std::string::npos) return 0;
  bool common = common_lowercase_words().count(t.type_no_sentperiod()) > 0;
  if (t.first_upper && common) return 1;
  if (t.first_lower) return 0;  // either seen capitalised, or never seen starting a sentence in lowercase
  return -1;
}

void annotate(std::vector<PunktToken>& toks) {
  static const Regex ellipsis(R"(^\.\.+$)");
  for (PunktToken& t : toks) {
    if (t.tok == "." || t.tok == "?" || t.tok == "!") {
      t.sentbreak = true;
    } else if (ellipsis.search(t.tok)) {
      t.ellipsis = true;
    } else if (t.period_final && !ends_with(t.tok, "..")) {
      std::string stem = py_lower(t.tok.substr(0, t.tok.size() - 1));
      std::string last = stem.substr(stem.rfind('-') == std::string::npos ? 0 : stem.rfind('-') + 1);
      if (abbreviations().count(stem) || abbreviations().count(last))
        t.abbr = true;
      else
        t.sentbreak = true;
    }
  }
  for (size_t i = 0; i + 1 < toks.size(); ++i) {
    PunktToken& a = toks[i];
    const PunktToken& b = toks[i + 1];
    if (!a.period_final) continue;
    std::string typ = a.type_no_period();
    std::string next_typ = b.type_no_sentperiod();
    if ((a.abbr || a.ellipsis) && !a.is_initial) {
      int s = ortho_heuristic(b);
      if (s == 1 || (b.first_upper && sentence_starters().count(next_typ))) {
        a.sentbreak = true;
        continue;
      }
    }
    if (a.is_initial || typ == "##number##") {
      int s = ortho_heuristic(b);
      if (s == 0 || (s == -1 && a.is_initial && b.first_upper)) {
        a.sentbreak = false;
        a.abbr = true;
      }
    }
  }
}

bool contains_sentbreak(std::string_view context) {
  std::vector<PunktToken> toks = punkt_tokens(context);
  annotate(toks);
  for (size_t i = 0; i + 1 < toks.size(); ++i)
    if (toks[i].sentbreak) return true;
  return false;
}

}  // namespace

std::vector<std::string> split_sentences_punkt(std::string_view text) {
  // Candidate ends: a sentence-end character followed by other punctuation, or by whitespace
  // and a further token. Each candidate is judged on its context: the word before it, itself,
  // and what follows (group 1 = the following material, group 2 = the next token).
  static const Regex period_context(R"([\.\?\!](?=((?:[)\";}\]\*:@\'\({\[!?])|\s+(\S+))))");
  auto last_ws = [](std::string_view s) -> size_t {
    for (size_t i = s.size(); i-- > 0;)
      if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f') return i;
    return 0;
  };
  std::vector<std::pair<size_t, size_t>> slices;  // [start, end) before realignment
  size_t last_break = 0;
  auto judge = [&](const Regex::Groups& g, size_t word_start, size_t word_end) {
    std::string context(text.substr(word_start, word_end - word_start));
    context.append(text.substr(g[0].first, g[0].second - g[0].first));
    context.append(text.substr(g[1].first, g[1].second - g[1].first));
    if (!contains_sentbreak(context)) return;
    slices.emplace_back(last_break, g[0].second);
    last_break = g[2].first >= 0 ? static_cast<size_t>(g[2].first) : static_cast<size_t>(g[0].second);
  };
  const Regex::Groups* previous = nullptr;
  std::pair<size_t, size_t> previous_slice{0, 0};
  std::vector<Regex::Groups> matches = period_context.finditer(text);
  for (const Regex::Groups& g : matches) {
    size_t start = g[0].first;
    std::string_view before = text.substr(previous_slice.second, start - previous_slice.second);
    size_t idx = last_ws(before);
    size_t word_start = idx ? idx + previous_slice.second + 1 : previous_slice.first;
    if (previous && previous_slice.second <= word_start) judge(*previous, previous_slice.first, previous_slice.second);
    previous = &g;
    previous_slice = {word_start, start};
  }
  if (previous) judge(*previous, previous_slice.first, previous_slice.second);
  slices.emplace_back(last_break, text.size());

  // Closing quotes and brackets after a break belong to the sentence before it.
  static const Regex realign(R"(^["\')\]}]+?(?:\s+|(?=--)|$))", Regex::kMultiline);
  std::vector<std::string> out;
  size_t shift = 0;
  for (size_t i = 0; i < slices.size(); ++i) {
    size_t s = slices[i].first + shift, e = slices[i].second;
    if (i + 1 == slices.size()) {
      if (e > s) out.emplace_back(text.substr(s, e - s));
      break;
    }
    std::string_view next = text.substr(slices[i + 1].first, slices[i + 1].second - slices[i + 1].first);
    std::vector<Regex::Groups> m = realign.finditer(next);
    if (!m.empty() && m[0][0].first == 0) {
      std::string matched(next.substr(0, m[0][0].second));
      size_t keep = matched.size();
      while (keep > 0 && std::string_view(" \t\n\r\v\f").find(matched[keep - 1]) != std::string_view::npos) --keep;
      size_t new_end = slices[i + 1].first + keep;
      out.emplace_back(text.substr(s, new_end > s ? new_end - s : 0));
      shift = m[0][0].second;
    } else {
      shift = 0;
      if (e > s) out.emplace_back(text.substr(s, e - s));
    }
  }
  return out;
}

size_t count_sentences(std::string_view text) { return split_sentences_punkt(text).size(); }

// ---------------------------------------------------------------------------------------------
// Treebank-style word tokens: NLTK's improved Treebank rules (starting quotes, punctuation,
// brackets, double dashes, ending quotes and contractions), applied to the whole text.
std::vector<std::string> word_tokenize(std::string_view input) {
  struct Rule {
    Regex re;
    std::string repl;
  };
  auto rules = [](std::initializer_list<std::pair<const char*, const char*>> list) {
    std::vector<Rule> out;
    for (const auto& [p, r] : list) out.push_back({Regex(p), r});
    return out;
  };
  static const std::vector<Rule> starting = rules({
      {"([«“‘„]|[`]+)", " $1 "},
      {"^\"", "``"},
      {"(``)", " $1 "},
      {"([ \\(\\[{<])(\"|\\'{2})", "$1 `` "},
      {"(?i)(\\')(?!re|ve|ll|m|t|s|d|n)(\\w)\\b", "$1 $2"},
  });
  static const std::vector<Rule> punctuation = rules({
      {"([^\\.])(\\.)([\\]\\)}>\"\\']*)\\s*$", "$1 $2 $3 "},
      {"([:,])([^\\d])", " $1 $2"},
      {"([:,])$", " $1 "},
      {"\\.{2,}", " $0 "},
      {"[;@#$%&]", " $0 "},
      {"([^\\.])(\\.)([\\]\\)}>\"\\']*)\\s*$", "$1 $2$3 "},
      {"[?!]", " $0 "},
      {"([^'])' ", "$1 ' "},
      {"[*]", " $0 "},
  });
  static const std::vector<Rule> brackets = rules({
      {"[\\]\\[\\(\\)\\{\\}\\<\\>]", " $0 "},
      {"--", " -- "},
  });
  static const std::vector<Rule> ending = rules({
      {"([»”’])", " $1 "},
      {"''", " '' "},
      {"\"", " '' "},
      {"([^' ])('[sS]|'[mM]|'[dD]|') ", "$1 $2 "},
      {"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "$1 $2 "},
  });
  static const std::vector<Rule> contractions = rules({
      {"(?i)\\b(can)(not)\\b", " $1 $2 "},
      {"(?i)\\b(d)('ye)\\b", " $1 $2 "},
      {"(?i)\\b(gim)(me)\\b", " $1 $2 "},
      {"(?i)\\b(gon)(na)\\b", " $1 $2 "},
      {"(?i)\\b(got)(ta)\\b", " $1 $2 "},
      {"(?i)\\b(lem)(me)\\b", " $1 $2 "},
      {"(?i)\\b(more)('n)\\b", " $1 $2 "},
      {"(?i)\\b(wan)(na)(?=\\s)", " $1 $2 "},
      {"(?i) ('t)(is)\\b", " $1 $2 "},
      {"(?i) ('t)(was)\\b", " $1 $2 "},
  });
  std::string text(input);
  for (const Rule& r : starting) text = r.re.sub(text, r.repl);
  for (const Rule& r : punctuation) text = r.re.sub(text, r.repl);
  for (const Rule& r : brackets) text = r.re.sub(text, r.repl);
  text = " " + text + " ";
  for (const Rule& r : ending) text = r.re.sub(text, r.repl);
  for (const Rule& r : contractions) text = r.re.sub(text, r.repl);
  return py_split_ws(text);
}

}  // namespace packbench::evals::ifeval
