// ifeval tokenizers: words as the reference counts them, Punkt-style sentences, Treebank-style word tokens.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace packbench::evals::ifeval {

// Number of \w+ runs (the reference counts words with a \w+ regex tokenizer).
size_t count_words(std::string_view text);
// Number of sentences by a Punkt-style splitter (the reference uses NLTK's pre-trained English
// Punkt model; see ifeval_tokenize.cpp for what is reproduced and what is approximated).
size_t count_sentences(std::string_view text);
// The sentences themselves, as Punkt would cut them (for tests and diagnostics).
std::vector<std::string> split_sentences_punkt(std::string_view text);
// Treebank-style word tokens (NLTK's word_tokenize rules applied to the whole text).
std::vector<std::string> word_tokenize(std::string_view text);

}  // namespace packbench::evals::ifeval
