// Byte-level BPE training: word counts from the LLaMA-3 pre-tokenizer, then greedy pair merges
// with a lazily updated max-heap; output in Hugging Face's tokenizer.json format.
#include "datasets/bpe_trainer.h"

#include <omp.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "datasets/pretokenize.h"

namespace packbench::data {

std::vector<std::string> llama3_special_tokens() {
  return {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
          "<|finetune_right_pad_id|>"};
}

namespace {

struct PairHash {
  size_t operator()(uint64_t k) const { return std::hash<uint64_t>()(k * 0x9E3779B97F4A7C15ULL); }
};
uint64_t key(int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }

// Cuts special tokens out of text; calls fn on the rest.
template <class Fn>
void without_specials(std::string_view text, const std::vector<std::string>& specials, Fn&& fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t best = std::string_view::npos, len = 0;
    for (const auto& s : specials) {
      size_t f = text.find(s, pos);
      if (f < best || (f == best && s.size() > len)) { best = f; len = s.size(); }
    }
    if (best == std::string_view::npos) { fn(text.substr(pos)); return; }
    if (best > pos) fn(text.substr(pos, best - pos));
    pos = best + len;
  }
}

}  // namespace

TrainedBpe train_bpe(const std::vector<std::string>& texts, const BpeTrainerOptions& opt) {
  TrainedBpe out;
  out.special_tokens = opt.special_tokens;
  out.bos_token = opt.bos_token;
  out.eos_token = opt.eos_token;
  out.pad_token = opt.pad_token;
  for (const std::string* name : {&opt.bos_token, &opt.eos_token, &opt.pad_token})
    if (!name->empty() && std::find(opt.special_tokens.begin(), opt.special_tokens.end(), *name) == opt.special_tokens.end())
      throw Error("bpe trainer: '" + *name + "' is not among the special tokens");
  const int64_t n_merges = static_cast<int64_t>(opt.vocab_size) - 256 - static_cast<int64_t>(opt.special_tokens.size());
  if (n_merges < 0)
    throw Error("bpe trainer: vocab_size " + std::to_string(opt.vocab_size) + " is below 256 bytes + " +
                std::to_string(opt.special_tokens.size()) + " special tokens");

  // Byte ids in GPT-2 / LLaMA-3 order: printable bytes first, by code point of their stand-in.
  std::vector<int> byte_order(256);
  for (int b = 0; b < 256; ++b) byte_order[b] = b;
  std::sort(byte_order.begin(), byte_order.end(),
            [](int a, int b) { return bytelevel_char(static_cast<uint8_t>(a)) < bytelevel_char(static_cast<uint8_t>(b)); });
  int32_t id_of_byte[256];
  for (int i = 0; i < 256; ++i) {
    id_of_byte[byte_order[i]] = i;
    out.tokens.emplace_back(1, static_cast<char>(byte_order[i]));
  }

  // ---- word counts ----
  RegexSplitter splitter(kLlama3Pattern, "bpe trainer");
  std::unordered_map<std::string, int64_t> counts;
  const int threads = opt.threads > 0 ? opt.threads : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
  {
    std::unordered_map<std::string, int64_t> local;
#pragma omp for schedule(dynamic, 16)
    for (int64_t i = 0; i < static_cast<int64_t>(texts.size()); ++i)
      without_specials(texts[static_cast<size_t>(i)], opt.special_tokens, [&](std::string_view part) {
        splitter.split(part, [&](std::string_view w) { ++local[std::string(w)]; });
      });
#pragma omp critical(pb_bpe_trainer_counts)
    for (auto& [w, c] : local) counts[w] += c;
  }
  std::vector<std::pair<std::string, int64_t>> sorted_words(counts.begin(), counts.end());
  std::sort(sorted_words.begin(), sorted_words.end());  // determinism
  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> freq;
  for (auto& [w, c] : sorted_words) {
    std::vector<int32_t> sym;
    for (unsigned char ch : w) sym.push_back(id_of_byte[ch]);
    words.push_back(std::move(sym));
    freq.push_back(c);
  }

  // ---- pair statistics ----
  std::unordered_map<uint64_t, int64_t, PairHash> pair_count;
  std::unordered_map<uint64_t, std::unordered_set<int32_t>, PairHash> where;
  for (size_t w = 0; w < words.size(); ++w)
    for (size_t i = 0; i + 1 < words[w].size(); ++i) {
      uint64_t k = key(words[w][i], words[w][i + 1]);
      pair_count[k] += freq[w];
      where[k].insert(static_cast<int32_t>(w));
    }
  // Max-heap on (count, then the pair whose bytes sort first); entries refreshed lazily.
  struct Entry { int64_t count; uint64_t pair; };
  auto pair_bytes = [&](uint64_t k) {
    return out.tokens[static_cast<size_t>(k >> 32)] + out.tokens[static_cast<size_t>(static_cast<uint32_t>(k))];
  };
  auto less = [&](const Entry& a, const Entry& b) {
    if (a.count != b.count) return a.count < b.count;
    const std::string& al = out.tokens[static_cast<size_t>(a.pair >> 32)];
    const std::string& bl = out.tokens[static_cast<size_t>(b.pair >> 32)];
    if (al != bl) return al > bl;
    return out.tokens[static_cast<size_t>(static_cast<uint32_t>(a.pair))] >
           out.tokens[static_cast<size_t>(static_cast<uint32_t>(b.pair))];
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(less)> heap(less);
  for (const auto& [k, c] : pair_count) heap.push(Entry{c, k});
  std::unordered_map<std::string, int32_t> id_of;
  for (size_t i = 0; i < out.tokens.size(); ++i) id_of.emplace(out.tokens[i], static_cast<int32_t>(i));

  while (static_cast<int64_t>(out.tokens.size()) < 256 + n_merges && !heap.empty()) {
    Entry e = heap.top();
    heap.pop();
    auto it = pair_count.find(e.pair);
    int64_t now = it == pair_count.end() ? 0 : it->second;
    if (now != e.count) {
      if (now > 0) heap.push(Entry{now, e.pair});
      continue;
    }
    if (e.count < opt.min_frequency) break;
    const int32_t a = static_cast<int32_t>(e.pair >> 32), b = static_cast<int32_t>(static_cast<uint32_t>(e.pair));
    std::string merged = pair_bytes(e.pair);
    // The same bytes may already be a token made by another pair: then this merge reuses it.
    auto found = id_of.find(merged);
    const int32_t new_id = found != id_of.end() ? found->second : static_cast<int32_t>(out.tokens.size());
    if (found == id_of.end()) {
      out.tokens.push_back(merged);
      id_of.emplace(merged, new_id);
    }
    out.merges.emplace_back(a, b);
    std::vector<int32_t> affected(where[e.pair].begin(), where[e.pair].end());
    std::sort(affected.begin(), affected.end());
    std::unordered_map<uint64_t, int64_t, PairHash> delta;
    for (int32_t w : affected) {
      auto& sym = words[static_cast<size_t>(w)];
      const int64_t f = freq[static_cast<size_t>(w)];
      for (size_t i = 0; i + 1 < sym.size(); ++i) delta[key(sym[i], sym[i + 1])] -= f;
      std::vector<int32_t> next;
      next.reserve(sym.size());
      for (size_t i = 0; i < sym.size(); ++i) {
        if (i + 1 < sym.size() && sym[i] == a && sym[i + 1] == b) { next.push_back(new_id); ++i; }
        else next.push_back(sym[i]);
      }
      sym.swap(next);
      for (size_t i = 0; i + 1 < sym.size(); ++i) {
        uint64_t k = key(sym[i], sym[i + 1]);
        delta[k] += f;
        where[k].insert(w);
      }
    }
    for (const auto& [k, d] : delta) {
      if (d == 0) continue;
      int64_t& c = pair_count[k];
      c += d;
      if (d > 0 && c > 0) heap.push(Entry{c, k});
    }
    pair_count.erase(e.pair);
    where.erase(e.pair);
  }
  return out;
}

std::string trained_tokenizer_json(const TrainedBpe& bpe) {
  using nlohmann::ordered_json;
  ordered_json added = ordered_json::array();
  const int32_t base = static_cast<int32_t>(bpe.tokens.size());
  for (size_t k = 0; k < bpe.special_tokens.size(); ++k)
    added.push_back({{"id", base + static_cast<int32_t>(k)}, {"content", bpe.special_tokens[k]}, {"single_word", false},
                     {"lstrip", false}, {"rstrip", false}, {"normalized", false}, {"special", true}});
  ordered_json vocab = ordered_json::object();
  for (size_t id = 0; id < bpe.tokens.size(); ++id) vocab[bytes_to_bytelevel(bpe.tokens[id])] = id;
  ordered_json merges = ordered_json::array();
  for (const auto& [a, b] : bpe.merges)
    merges.push_back({bytes_to_bytelevel(bpe.tokens[static_cast<size_t>(a)]),
                      bytes_to_bytelevel(bpe.tokens[static_cast<size_t>(b)])});
  ordered_json post = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  if (!bpe.bos_token.empty()) {
    const int32_t bos = base + static_cast<int32_t>(std::find(bpe.special_tokens.begin(), bpe.special_tokens.end(),
                                                               bpe.bos_token) - bpe.special_tokens.begin());
    ordered_json tp = {
        {"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", bpe.bos_token}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"pair",
         {{{"SpecialToken", {{"id", bpe.bos_token}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"SpecialToken", {{"id", bpe.bos_token}, {"type_id", 1}}}}, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
        {"special_tokens", {{bpe.bos_token, {{"id", bpe.bos_token}, {"ids", {bos}}, {"tokens", {bpe.bos_token}}}}}}};
    post = {{"type", "Sequence"}, {"processors", {post, tp}}};
  }
  ordered_json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", kLlama3Pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}}},
      {"post_processor", post},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", true},
        {"vocab", vocab}, {"merges", merges}}}};
  return j.dump(1) + "\n";
}

std::string trained_tokenizer_config_json(const TrainedBpe& bpe) {
  using nlohmann::ordered_json;
  ordered_json decoder = ordered_json::object();
  const size_t base = bpe.tokens.size();
  for (size_t k = 0; k < bpe.special_tokens.size(); ++k)
    decoder[std::to_string(base + k)] = {{"content", bpe.special_tokens[k]}, {"lstrip", false}, {"normalized", false},
                                         {"rstrip", false}, {"single_word", false}, {"special", true}};
  ordered_json j = {{"added_tokens_decoder", decoder}};
  if (!bpe.bos_token.empty()) j["bos_token"] = bpe.bos_token;
  if (!bpe.eos_token.empty()) j["eos_token"] = bpe.eos_token;
  if (!bpe.pad_token.empty()) j["pad_token"] = bpe.pad_token;
  j["clean_up_tokenization_spaces"] = true;
  j["model_input_names"] = {"input_ids", "attention_mask"};
  j["model_max_length"] = 131072;
  j["tokenizer_class"] = "PreTrainedTokenizerFast";
  return j.dump(2) + "\n";
}

void write_trained_tokenizer(const TrainedBpe& bpe, const std::string& dir) {
  write_file_atomic(dir + "/tokenizer.json", trained_tokenizer_json(bpe));
  write_file_atomic(dir + "/tokenizer_config.json", trained_tokenizer_config_json(bpe));
}

}  // namespace packbench::data
