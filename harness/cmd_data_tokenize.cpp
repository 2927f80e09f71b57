// packbench 'data tokenize': JSON lines with a "text" field in, the same lines with "ids" out.
#include <CLI/CLI.hpp>
#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "datasets/tokenizer.h"
#include "harness/commands.h"

namespace packbench::cli {

namespace {

struct TokenizeOptions {
  std::string tokenizer, input, output;
  int threads = 0;
  bool add_special_tokens = false;
};

// One input line to one output line: the line itself with ,"ids":[...] spliced in before its
// closing brace (keys and formatting kept), or re-serialized when it already has "ids".
// Blank lines produce nothing. Throws a message (without the line number) on bad input.
bool tokenize_line(const data::Tokenizer& tok, const std::string& line, bool add_special, std::string* out) {
  size_t end = line.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return false;
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error(std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw std::runtime_error("expected a JSON object");
  auto it = j.find("text");
  if (it == j.end()) throw std::runtime_error("field 'text': missing");
  if (!it->is_string()) throw std::runtime_error("field 'text': expected a string");
  std::vector<int32_t> ids = tok.encode(it->get_ref<const std::string&>(), add_special);
  std::string arr = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) arr += ',';
    arr += std::to_string(ids[i]);
  }
  arr += ']';
  if (j.contains("ids")) {
    j["ids"] = ids;
    *out = j.dump();
  } else {
    // end points at the closing '}'; an empty object gets no leading comma
    size_t before = line.find_last_not_of(" \t\r\n", end - 1);
    bool empty = before != std::string::npos && line[before] == '{';
    out->assign(line, 0, end);
    *out += empty ? "\"ids\":" : ",\"ids\":";
    *out += arr;
    *out += '}';
  }
  return true;
}

void run_tokenize(const TokenizeOptions& o) {
  auto tok = data::Tokenizer::load(o.tokenizer);
  std::ifstream file_in;
  std::istream* in = &std::cin;
  const std::string in_name = o.input.empty() || o.input == "-" ? "<stdin>" : o.input;
  int64_t in_size = 0;
  if (in_name != "<stdin>") {
    file_in.open(o.input, std::ios::binary);
    if (!file_in) throw Error(o.input + ": cannot open");
    in = &file_in;
    std::error_code ec;
    in_size = static_cast<int64_t>(std::filesystem::file_size(o.input, ec));
  }
  std::unique_ptr<AtomicFileWriter> writer;
  if (!o.output.empty() && o.output != "-") writer = std::make_unique<AtomicFileWriter>(o.output);
  auto emit = [&](const std::string& s) {
    if (writer) writer->write(s);
    else std::fwrite(s.data(), 1, s.size(), stdout);
  };
  std::unique_ptr<Progress> progress;
  if (writer && in_size > 0) progress = std::make_unique<Progress>("tokenize", in_size, "B");

  const int threads = o.threads > 0 ? o.threads : omp_get_max_threads();
  const size_t chunk_lines = 4096;
  std::vector<std::string> lines, outs;
  std::vector<char> has;
  int64_t first_line = 1;
  std::string line;
  bool more = true;
  while (more) {
    lines.clear();
    size_t chunk_bytes = 0;
    while (lines.size() < chunk_lines && chunk_bytes < (16u << 20)) {
      if (!std::getline(*in, line)) { more = false; break; }
      chunk_bytes += line.size() + 1;
      lines.push_back(std::move(line));
    }
    if (in->bad()) throw Error(in_name + ": read error");
    const int64_t n = static_cast<int64_t>(lines.size());
    outs.assign(lines.size(), std::string());
    has.assign(lines.size(), 0);
    int64_t bad_index = -1;
    std::string bad_what;
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
    for (int64_t i = 0; i < n; ++i) {
      try {
        has[static_cast<size_t>(i)] = tokenize_line(*tok, lines[static_cast<size_t>(i)], o.add_special_tokens,
                                                    &outs[static_cast<size_t>(i)]);
      } catch (const std::exception& e) {
#pragma omp critical(pb_tokenize_bad_line)
        if (bad_index < 0 || i < bad_index) { bad_index = i; bad_what = e.what(); }
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      if (i == bad_index)
        throw Error(in_name + ": line " + std::to_string(first_line + i) + ": " + bad_what);
      if (has[static_cast<size_t>(i)]) {
        outs[static_cast<size_t>(i)] += '\n';
        emit(outs[static_cast<size_t>(i)]);
      }
    }
    first_line += n;
    if (progress) progress->add(static_cast<int64_t>(chunk_bytes));
  }
  if (progress) progress->finish();
  if (writer) writer->commit();
  else std::fflush(stdout);
}

}  // namespace

void add_data_tokenize_command(CLI::App& data) {
  auto opts = std::make_shared<TokenizeOptions>();
  auto* cmd = data.add_subcommand(
      "tokenize", "add token ids to JSON lines with a text field (input order kept; blank lines dropped)");
  cmd->add_option("--tokenizer", opts->tokenizer, "folder with tokenizer.json (and tokenizer_config.json), or the file")
      ->required();
  cmd->add_option("--threads", opts->threads, "encoding threads (0: all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--input", opts->input, "JSON lines file (default: stdin)");
  cmd->add_option("--output", opts->output, "output file, written atomically (default: stdout)");
  cmd->add_flag("--add-special-tokens", opts->add_special_tokens, "apply the post-processor (LLaMA-3: BOS first)");
  cmd->callback([opts] { run_tokenize(*opts); });
}

}  // namespace packbench::cli
