// Default locations packbench reads from: the tokenizer cache and the shared benchmark files.
#pragma once

#include <string>

namespace packbench {

// $PACKBENCH_CACHE, else $XDG_CACHE_HOME/packbench, else $HOME/.cache/packbench.
std::string cache_dir();
// $PACKBENCH_TOKENIZER, else <cache_dir>/tokenizers/llama3 (filled by scripts/setup.sh):
// a folder holding tokenizer.json and tokenizer_config.json.
std::string default_tokenizer_dir();
// $PACKBENCH_SHARED/benchmarks, else ../shared/benchmarks next to the source tree, else "".
std::string shared_benchmarks_dir(const std::string& source_dir = "");

}  // namespace packbench
