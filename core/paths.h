// Default locations packbench reads from: the tokenizer cache and the shared benchmark files.
#pragma once

#include <string>

namespace packbench {

// $PACKBENCH_CACHE, else $XDG_CACHE_HOME/packbench, else $HOME/.cache/packbench.
std::string cache_dir();
// $PACKBENCH_TOKENIZER, else <cache_dir>/tokenizers/llama3 (filled by scripts/setup.sh):
// a folder holding tokenizer.json and tokenizer_config.json.
std::string default_tokenizer_dir();
// $PACKBENCH_VENV, else <cache_dir>/venv: the pinned Python environment scripts/setup.sh creates
// (PyTorch, transformers, tokenizers, tiktoken, gguf) for reference checks and peer benchmarks.
std::string venv_dir();
// <venv_dir>/bin/python when it exists, else "".
std::string venv_python();
// <cache_dir>/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf (fetched by scripts/setup.sh), or
// "" when missing.
std::string smollm2_gguf();
// $PACKBENCH_SHARED/benchmarks, else ../shared/benchmarks next to the source tree, else "".
std::string shared_benchmarks_dir(const std::string& source_dir = "");

}  // namespace packbench
