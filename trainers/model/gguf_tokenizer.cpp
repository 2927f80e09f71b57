// GGUF tokenizer metadata -> tokenizer.json + tokenizer_config.json, as transformers' GGUF loader builds them.
#include "trainers/model/gguf_tokenizer.h"

#include <optional>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "datasets/pretokenize.h"
#include "trainers/model/gguf.h"

namespace packbench::train {

namespace {

// llama.cpp's token types (tokenizer.ggml.token_type).
constexpr int64_t kControl = 3, kUserDefined = 4;

// Pre-tokenizer names transformers maps to the LLaMA-3 split (others get GPT-2's ByteLevel regex).
const std::set<std::string>& llama3_split_names() {
  static const std::set<std::string> s = {"llama3",   "llama-v3", "llama-bpe", "falcon3", "falcon-h1",
                                          "pixtral",  "midm-2.0", "lfm2",      "jina-v5-nano",
                                          "dbrx",     "smaug-bpe"};
  return s;
}
// Names transformers maps to splits packbench does not write (Qwen2, Tekken, GPT-4o families).
const std::set<std::string>& other_split_names() {
  static const std::set<std::string> s = {"tekken", "qwen2",   "deepseek-r1-qwen", "kormo",   "f2llmv2", "megrez",
                                          "qwen35", "gpt-4o",  "llama4",           "kanana2", "talkie",  "minimax-m2"};
  return s;
}

std::string json_str(const std::string& s) { return nlohmann::json(s).dump(); }

}  // namespace

GgufTokenizerFiles gguf_tokenizer_files(const GgufFile& f, int64_t model_max_length) {
  const std::string model = f.get_string("tokenizer.ggml.model");
  if (model != "gpt2")
    throw Error(f.path() + ": metadata key 'tokenizer.ggml.model': '" + model +
                "' is not supported (packbench imports byte-level BPE tokenizers: 'gpt2')");
  const std::vector<std::string> tokens = f.get_strings("tokenizer.ggml.tokens");
  if (tokens.empty()) throw Error(f.path() + ": metadata key 'tokenizer.ggml.tokens': empty");
  std::vector<int64_t> types;
  if (f.find("tokenizer.ggml.token_type")) {
    types = f.get_ints("tokenizer.ggml.token_type");
    if (types.size() != tokens.size())
      throw Error(f.path() + ": metadata key 'tokenizer.ggml.token_type': " + std::to_string(types.size()) +
                  " entries for " + std::to_string(tokens.size()) + " tokens");
  }
  if (!f.find("tokenizer.ggml.merges"))
    throw Error(f.path() + ": metadata key 'tokenizer.ggml.merges' is missing (a byte-level BPE needs its merges)");
  const std::vector<std::string> merges = f.get_strings("tokenizer.ggml.merges");
  std::string pre = f.find("tokenizer.ggml.pre") ? f.get_string("tokenizer.ggml.pre") : "";
  if (other_split_names().count(pre))
    throw Error(f.path() + ": metadata key 'tokenizer.ggml.pre': '" + pre +
                "' is not supported (supported: the LLaMA-3 split and GPT-2's default)");

  // Vocabulary: a token outside the ByteLevel alphabet is respelled from its UTF-8 bytes. When two
  // tokens spell the same, the later id wins (a Python dict built in id order).
  std::vector<std::string> spelled(tokens.size());
  std::unordered_map<std::string, int64_t> vocab;
  vocab.reserve(tokens.size());
  std::string scratch;
  for (size_t i = 0; i < tokens.size(); ++i) {
    scratch.clear();
    spelled[i] = data::bytelevel_to_bytes(tokens[i], &scratch) ? tokens[i] : data::bytes_to_bytelevel(tokens[i]);
    vocab[spelled[i]] = static_cast<int64_t>(i);
  }

  auto token_id = [&](const char* key) -> std::optional<int64_t> {
    const std::string k = std::string("tokenizer.ggml.") + key;
    if (!f.find(k)) return std::nullopt;
    const int64_t id = f.get_int(k);
    if (id < 0 || id >= static_cast<int64_t>(tokens.size()))
      throw Error(f.path() + ": metadata key '" + k + "': id " + std::to_string(id) + " is outside the " +
                  std::to_string(tokens.size()) + " tokens");
    return id;
  };
  const auto bos = token_id("bos_token_id"), eos = token_id("eos_token_id");
  const auto unk = token_id("unknown_token_id"), pad = token_id("padding_token_id");
  const bool add_bos = f.find("tokenizer.ggml.add_bos_token") && f.get_bool("tokenizer.ggml.add_bos_token");
  const bool add_eos = f.find("tokenizer.ggml.add_eos_token") && f.get_bool("tokenizer.ggml.add_eos_token");
  if (add_bos && !bos) throw Error(f.path() + ": tokenizer.ggml.add_bos_token is true but tokenizer.ggml.bos_token_id is missing");
  if (add_eos && !eos) throw Error(f.path() + ": tokenizer.ggml.add_eos_token is true but tokenizer.ggml.eos_token_id is missing");

  // ---- tokenizer.json, written by hand: nlohmann's ordered objects are quadratic in the vocabulary ----
  std::string j;
  j.reserve(tokens.size() * 40 + merges.size() * 30);
  j += "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [";
  bool first = true;
  for (size_t i = 0; i < tokens.size() && !types.empty(); ++i) {
    bool special;
    if (types[i] == kControl && spelled[i] == tokens[i]) {
      special = true;  // a control token spelled outside the alphabet is a mislabel: transformers skips it
    } else if (types[i] == kUserDefined && vocab.count(tokens[i])) {
      special = false;
    } else {
      continue;
    }
    // An added token already in the vocabulary keeps its vocabulary id.
    const int64_t id = vocab.at(tokens[i]);
    j += first ? "\n" : ",\n";
    first = false;
    j += "    {\"id\": " + std::to_string(id) + ", \"content\": " + json_str(tokens[i]) +
         ", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": " +
         (special ? "true" : "false") + "}";
  }
  j += first ? "],\n" : "\n  ],\n";
  j += "  \"normalizer\": null,\n";
  if (llama3_split_names().count(pre)) {
    j += "  \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": " +
         json_str(data::kLlama3Pattern) +
         "}, \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
         "\"trim_offsets\": true, \"use_regex\": false}]},\n";
  } else {
    j += "  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true},\n";
  }
  // Post-processor: BOS / EOS around the text as the add flags say.
  {
    nlohmann::ordered_json pp;
    pp["type"] = "TemplateProcessing";
    nlohmann::ordered_json single = nlohmann::json::array(), pair = nlohmann::json::array();
    nlohmann::ordered_json specials = nlohmann::json::object();
    auto special = [&](int64_t id, int type_id) {
      return nlohmann::ordered_json{{"SpecialToken", {{"id", tokens[id]}, {"type_id", type_id}}}};
    };
    auto sequence = [](const char* id, int type_id) {
      return nlohmann::ordered_json{{"Sequence", {{"id", id}, {"type_id", type_id}}}};
    };
    // single: [BOS] A [EOS]; pair: [BOS] A [EOS] [BOS] B [EOS] (B's pieces with type_id 1).
    for (int part = 0; part < 2; ++part) {
      std::vector<nlohmann::ordered_json> pieces;
      if (add_bos) pieces.push_back(special(*bos, part));
      pieces.push_back(sequence(part ? "B" : "A", part));
      if (add_eos) pieces.push_back(special(*eos, part));
      for (auto& p : pieces) {
        if (part == 0) single.push_back(p);
        pair.push_back(p);
      }
    }
    for (auto [flag, id] : {std::pair{add_bos, bos}, std::pair{add_eos, eos}}) {
      if (flag) specials[tokens[*id]] = {{"id", tokens[*id]}, {"ids", {*id}}, {"tokens", {tokens[*id]}}};
    }
    pp["single"] = single;
    pp["pair"] = pair;
    pp["special_tokens"] = specials;
    j += "  \"post_processor\": " + pp.dump() + ",\n";
  }
  j += "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n";
  j += "  \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"continuing_subword_prefix\": \"\", "
       "\"end_of_word_suffix\": \"\", \"fuse_unk\": false, \"byte_fallback\": false, \"ignore_merges\": false,\n"
       "    \"vocab\": {";
  first = true;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (vocab.at(spelled[i]) != static_cast<int64_t>(i)) continue;  // spelled again later
    j += first ? "\n      " : ",\n      ";
    first = false;
    j += json_str(spelled[i]) + ": " + std::to_string(i);
  }
  j += "\n    },\n    \"merges\": [";
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& m = merges[i];
    const size_t sp = m.find(' ');
    if (sp == std::string::npos || m.find(' ', sp + 1) != std::string::npos)
      throw Error(f.path() + ": metadata key 'tokenizer.ggml.merges': item " + std::to_string(i) + " ('" + m +
                  "') is not two tokens separated by one space");
    j += i ? ",\n      " : "\n      ";
    j += "[" + json_str(m.substr(0, sp)) + ", " + json_str(m.substr(sp + 1)) + "]";
  }
  j += merges.empty() ? "]\n  }\n}\n" : "\n    ]\n  }\n}\n";

  // ---- tokenizer_config.json ----
  nlohmann::ordered_json c;
  c["add_bos_token"] = add_bos;
  c["add_eos_token"] = add_eos;
  auto name = [&](const std::optional<int64_t>& id) { return id ? nlohmann::json(tokens[*id]) : nlohmann::json(nullptr); };
  c["bos_token"] = name(bos);
  c["eos_token"] = name(eos);
  c["pad_token"] = name(pad);
  c["unk_token"] = name(unk);
  c["clean_up_tokenization_spaces"] = false;
  c["model_max_length"] = model_max_length;
  c["tokenizer_class"] = "PreTrainedTokenizerFast";
  if (f.find("tokenizer.chat_template")) c["chat_template"] = f.get_string("tokenizer.chat_template");
  return {j, c.dump(2) + "\n"};
}

}  // namespace packbench::train
