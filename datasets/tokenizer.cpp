// Hugging Face tokenizer.json byte-level BPE: loading, added-token splitting, encode, decode.
#include "datasets/tokenizer.h"

#include <omp.h>
#include <simdjson.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "datasets/bpe.h"
#include "core/error.h"
#include "datasets/pretokenize.h"

namespace packbench::data {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// ---------------------------------------------------------------------------------------------
// JSON access with messages that name the file and the field
// ---------------------------------------------------------------------------------------------

struct Json {
  std::string file;

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(file + ": field '" + field + "': " + what);
  }
  std::optional<element> opt(const object& o, std::string_view key) const {
    element e;
    if (o.at_key(key).get(e)) return std::nullopt;
    if (e.is_null()) return std::nullopt;
    return e;
  }
  element req(const object& o, std::string_view key, const std::string& field) const {
    auto e = opt(o, key);
    if (!e) fail(field, "missing");
    return *e;
  }
  object obj(element e, const std::string& field) const {
    object o;
    if (e.get(o)) fail(field, "expected an object");
    return o;
  }
  array arr(element e, const std::string& field) const {
    array a;
    if (e.get(a)) fail(field, "expected an array");
    return a;
  }
  std::string_view str(element e, const std::string& field) const {
    std::string_view s;
    if (e.get(s)) fail(field, "expected a string");
    return s;
  }
  int64_t integer(element e, const std::string& field) const {
    int64_t v;
    if (e.get(v)) {
      uint64_t u;
      if (e.get(u)) fail(field, "expected an integer");
      fail(field, "integer out of range");
    }
    return v;
  }
  bool boolean(element e, const std::string& field) const {
    bool b;
    if (e.get(b)) fail(field, "expected true or false");
    return b;
  }
  bool flag(const object& o, std::string_view key, const std::string& field, bool dflt) const {
    auto e = opt(o, key);
    return e ? boolean(*e, field + "." + std::string(key)) : dflt;
  }
  std::string type_of(const object& o, const std::string& field) const {
    return std::string(str(req(o, "type", field + ".type"), field + ".type"));
  }
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

struct AddedToken {
  std::string content;
  int32_t id;
  bool special, lstrip, rstrip, single_word, normalized;
};

// Added tokens of one kind (normalized or not), matched leftmost-longest.
struct AddedMatcher {
  std::array<std::vector<const AddedToken*>, 256> by_first;  // longest first
  std::array<bool, 256> first{};
  bool empty = true;

  void add(const AddedToken* t) {
    if (t->content.empty()) return;
    auto b = static_cast<uint8_t>(t->content[0]);
    by_first[b].push_back(t);
    first[b] = true;
    empty = false;
  }
  void finish() {
    for (auto& v : by_first)
      std::stable_sort(v.begin(), v.end(), [](const AddedToken* a, const AddedToken* b) {
        return a->content.size() > b->content.size();
      });
  }
};

bool is_word_byte_before(std::string_view s, size_t end) {
  if (end == 0) return false;
  // the last code point of s[0:end]
  size_t i = end - 1;
  while (i > 0 && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80) --i;
  size_t k = i;
  int32_t cp = utf8_next(s, &k);
  return cp >= 0 && is_word_char(static_cast<uint32_t>(cp));
}

bool is_word_byte_at(std::string_view s, size_t pos) {
  if (pos >= s.size()) return false;
  size_t k = pos;
  int32_t cp = utf8_next(s, &k);
  return cp >= 0 && is_word_char(static_cast<uint32_t>(cp));
}

// ---------------------------------------------------------------------------------------------
// The tokenizer
// ---------------------------------------------------------------------------------------------

class BpeTokenizer final : public Tokenizer {
 public:
  BpeTokenizer(std::string_view tokenizer_json, std::string_view config_json, const std::string& name,
               const std::string& config_name);

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const override {
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    if (add_special_tokens) ids.insert(ids.end(), prefix_.begin(), prefix_.end());
    encode_into(text, &ids);
    if (add_special_tokens) ids.insert(ids.end(), suffix_.begin(), suffix_.end());
    return ids;
  }

  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts, bool add_special_tokens,
                                                 int threads) const override {
    std::vector<std::vector<int32_t>> out(texts.size());
    const int n = static_cast<int>(texts.size());
    if (threads <= 0) threads = omp_get_max_threads();
    std::string error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int i = 0; i < n; ++i) {
      try {
        out[static_cast<size_t>(i)] = encode(texts[static_cast<size_t>(i)], add_special_tokens);
      } catch (const std::exception& e) {
#pragma omp critical(pb_tokenizer_error)
        if (error.empty()) error = "text " + std::to_string(i) + ": " + e.what();
      }
    }
    if (!error.empty()) throw Error(error);
    return out;
  }

  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const override {
    std::string out, chunk;
    for (size_t k = 0; k < ids.size(); ++k) {
      int32_t id = ids[k];
      auto it = added_by_id_.find(id);
      if (it != added_by_id_.end()) {
        const AddedToken& t = added_[it->second];
        if (skip_special_tokens && t.special) continue;
        out += utf8_lossy(chunk);
        chunk.clear();
        out += t.content;
      } else if (bpe_.has_id(id)) {
        chunk += bpe_.bytes_of(id);
      } else {
        throw Error("decode: id " + std::to_string(id) + " (position " + std::to_string(k) +
                    ") is not in the vocabulary of " + name_);
      }
    }
    out += utf8_lossy(chunk);
    return out;
  }

  int32_t vocab_size() const override { return vocab_size_; }

  std::optional<int32_t> token_to_id(std::string_view token) const override {
    auto it = added_by_content_.find(std::string(token));
    if (it != added_by_content_.end()) return it->second;
    std::string bytes;
    if (!bytelevel_to_bytes(token, &bytes)) return std::nullopt;
    int32_t id = bpe_.find(bytes);
    if (id < 0) return std::nullopt;
    return id;
  }

  std::string id_to_token(int32_t id) const override {
    auto it = added_by_id_.find(id);
    if (it != added_by_id_.end()) return added_[it->second].content;
    if (!bpe_.has_id(id)) return "";
    return bytes_to_bytelevel(bpe_.bytes_of(id));
  }

  std::optional<int32_t> bos_id() const override { return bos_; }
  std::optional<int32_t> eos_id() const override { return eos_; }
  std::optional<int32_t> pad_id() const override { return pad_; }

 private:
  void load_tokenizer(const element& root, const Json& js);
  void load_config(std::string_view text, const std::string& file);
  void load_pre_tokenizer(const object& pt, const Json& js, const std::string& field);
  void load_post_processor(const object& pp, const Json& js, const std::string& field);

  // Text without added tokens: pre-tokenize and run BPE on each piece.
  void encode_plain(std::string_view text, std::vector<int32_t>* ids) const {
    if (splitters_.empty()) {
      bpe_.encode_word(text, ignore_merges_, ids);
      return;
    }
    split_level(text, 0, ids);
  }
  void split_level(std::string_view text, size_t level, std::vector<int32_t>* ids) const {
    if (level + 1 == splitters_.size()) {
      splitters_[level]->split(text, [&](std::string_view piece) { bpe_.encode_word(piece, ignore_merges_, ids); });
    } else {
      splitters_[level]->split(text, [&](std::string_view piece) { split_level(piece, level + 1, ids); });
    }
  }

  // Finds added tokens of `m` in text; calls gap(text piece) and tok(id) in order.
  template <class Gap, class Tok>
  void split_added(std::string_view text, const AddedMatcher& m, Gap&& gap, Tok&& tok) const {
    if (m.empty) { gap(text); return; }
    size_t done = 0, i = 0;
    const size_t n = text.size();
    while (i < n) {
      auto b = static_cast<uint8_t>(text[i]);
      if (!m.first[b]) { ++i; continue; }
      const AddedToken* hit = nullptr;
      for (const AddedToken* t : m.by_first[b]) {
        if (t->content.size() <= n - i && std::memcmp(text.data() + i, t->content.data(), t->content.size()) == 0) {
          if (t->single_word && (is_word_byte_before(text, i) || is_word_byte_at(text, i + t->content.size())))
            continue;
          hit = t;
          break;
        }
      }
      if (!hit) { ++i; continue; }
      size_t start = i, stop = i + hit->content.size();
      if (hit->lstrip) {
        while (start > done) {
          size_t k = start - 1;
          while (k > done && (static_cast<uint8_t>(text[k]) & 0xC0) == 0x80) --k;
          size_t kk = k;
          int32_t cp = utf8_next(text, &kk);
          if (cp < 0 || kk != start || !is_unicode_whitespace(static_cast<uint32_t>(cp))) break;
          start = k;
        }
      }
      if (hit->rstrip) {
        while (stop < n) {
          size_t kk = stop;
          int32_t cp = utf8_next(text, &kk);
          if (cp < 0 || !is_unicode_whitespace(static_cast<uint32_t>(cp))) break;
          stop = kk;
        }
      }
      if (start > done) gap(text.substr(done, start - done));
      tok(hit->id);
      done = i = stop;
    }
    if (done < n) gap(text.substr(done));
  }

  void encode_into(std::string_view text, std::vector<int32_t>* ids) const {
    split_added(
        text, raw_added_,
        [&](std::string_view gap) {
          split_added(
              gap, normalized_added_, [&](std::string_view g) { encode_plain(g, ids); },
              [&](int32_t id) { ids->push_back(id); });
        },
        [&](int32_t id) { ids->push_back(id); });
  }

  std::string name_;
  BpeModel bpe_;
  bool ignore_merges_ = false;
  std::vector<std::unique_ptr<RegexSplitter>> splitters_;
  std::vector<AddedToken> added_;
  std::unordered_map<std::string, int32_t> added_by_content_;
  std::unordered_map<int32_t, size_t> added_by_id_;
  AddedMatcher raw_added_, normalized_added_;
  bool has_template_ = false;
  std::vector<int32_t> prefix_, suffix_;
  std::optional<int32_t> bos_, eos_, pad_;
  int32_t vocab_size_ = 0;
  bool add_bos_default_ = true;
};

BpeTokenizer::BpeTokenizer(std::string_view tokenizer_json, std::string_view config_json, const std::string& name,
                           const std::string& config_name)
    : name_(name) {
  simdjson::dom::parser parser;
  {
    simdjson::padded_string padded(tokenizer_json);
    element root;
    if (auto err = parser.parse(padded).get(root)) throw Error(name + ": not valid JSON: " + simdjson::error_message(err));
    load_tokenizer(root, Json{name});
  }
  if (!config_json.empty()) load_config(config_json, config_name);
  // No TemplateProcessing: add_special_tokens means BOS from tokenizer_config.json (see header).
  if (!has_template_ && prefix_.empty() && bos_ && add_bos_default_) prefix_.push_back(*bos_);
  if (!bos_ && !prefix_.empty()) bos_ = prefix_.front();
}


void BpeTokenizer::load_tokenizer(const element& root_el, const Json& js) {
  object root = js.obj(root_el, "(root)");

  // ---- model ----
  object model = js.obj(js.req(root, "model", "model"), "model");
  if (auto t = js.opt(model, "type"); t && js.str(*t, "model.type") != "BPE")
    js.fail("model.type", "only BPE is supported, got '" + std::string(js.str(*t, "model.type")) + "'");
  if (js.flag(model, "byte_fallback", "model", false)) js.fail("model.byte_fallback", "true is not supported");
  if (auto d = js.opt(model, "dropout")) {
    double p = 0;
    if (d->get(p) || p != 0.0) js.fail("model.dropout", "BPE dropout is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (auto e = js.opt(model, key); e && !js.str(*e, std::string("model.") + key).empty())
      js.fail(std::string("model.") + key, "not supported for byte-level BPE");
  }
  ignore_merges_ = js.flag(model, "ignore_merges", "model", false);

  object vocab = js.obj(js.req(model, "vocab", "model.vocab"), "model.vocab");
  // Hot loops: field names are built only when something is wrong.
  auto vfield = [](std::string_view key) { return "model.vocab[\"" + std::string(key) + "\"]"; };
  std::string bytes;
  for (auto [key, value] : vocab) {
    int64_t id = 0;
    if (value.get(id)) js.integer(value, vfield(key));  // throws with the field name
    if (id < 0 || id > 0x7FFFFFFF) js.fail(vfield(key), "id out of range");
    bytes.clear();
    if (!bytelevel_to_bytes(key, &bytes)) js.fail(vfield(key), "token is not written in the ByteLevel alphabet");
    if (bpe_.has_id(static_cast<int32_t>(id))) js.fail(vfield(key), "id " + std::to_string(id) + " used twice");
    bpe_.add_token(bytes, static_cast<int32_t>(id));
  }
  bpe_.finish_vocab();
  // Merges name tokens by their ByteLevel strings: decode to bytes and look them up.
  array merges = js.arr(js.req(model, "merges", "model.merges"), "model.merges");
  size_t index = 0;
  std::string ab, bb;
  for (element m : merges) {
    const size_t mi = index++;
    auto field = [mi] { return "model.merges[" + std::to_string(mi) + "]"; };
    std::string_view a, b;
    if (m.get(a) == simdjson::SUCCESS) {
      std::string_view s = a;
      size_t sp = s.find(' ');
      if (sp == std::string_view::npos || s.find(' ', sp + 1) != std::string_view::npos)
        js.fail(field(), "expected \"left right\"");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else {
      array pair = js.arr(m, field());
      if (pair.size() != 2) js.fail(field(), "expected a pair [left, right]");
      a = js.str(pair.at(0).value_unsafe(), field() + "[0]");
      b = js.str(pair.at(1).value_unsafe(), field() + "[1]");
    }
    ab.clear();
    bb.clear();
    int32_t ia = bytelevel_to_bytes(a, &ab) ? bpe_.find(ab) : -1;
    int32_t ib = bytelevel_to_bytes(b, &bb) ? bpe_.find(bb) : -1;
    if (ia < 0) js.fail(field(), "'" + std::string(a) + "' is not in model.vocab");
    if (ib < 0) js.fail(field(), "'" + std::string(b) + "' is not in model.vocab");
    ab += bb;
    int32_t im = bpe_.find(ab);
    if (im < 0) js.fail(field(), "merged token '" + std::string(a) + std::string(b) + "' is not in model.vocab");
    bpe_.add_merge(ia, ib, im);
  }
  bpe_.finish();

  // ---- added tokens ----
  if (auto at = js.opt(root, "added_tokens")) {
    array arr = js.arr(*at, "added_tokens");
    size_t i = 0;
    int32_t max_added = -1;
    added_.reserve(arr.size());
    for (element e : arr) {
      std::string field = "added_tokens[" + std::to_string(i++) + "]";
      object o = js.obj(e, field);
      AddedToken t;
      int64_t id = js.integer(js.req(o, "id", field + ".id"), field + ".id");
      if (id < 0 || id > 0x7FFFFFFF) js.fail(field + ".id", "id out of range");
      t.id = static_cast<int32_t>(id);
      t.content = std::string(js.str(js.req(o, "content", field + ".content"), field + ".content"));
      if (t.content.empty()) js.fail(field + ".content", "empty");
      t.special = js.flag(o, "special", field, false);
      t.lstrip = js.flag(o, "lstrip", field, false);
      t.rstrip = js.flag(o, "rstrip", field, false);
      t.single_word = js.flag(o, "single_word", field, false);
      t.normalized = js.flag(o, "normalized", field, !t.special);
      if (added_by_id_.count(t.id)) js.fail(field + ".id", "id " + std::to_string(t.id) + " used twice");
      if (added_by_content_.count(t.content)) js.fail(field + ".content", "'" + t.content + "' listed twice");
      // Hugging Face does not take these ids from the file: a token already in model.vocab
      // keeps its vocabulary id, any other gets the next id after the vocabulary and the added
      // tokens before it. A file whose ids disagree would encode differently there: refuse it.
      int32_t expect;
      std::string as_bytes;
      int32_t in_vocab = bytelevel_to_bytes(t.content, &as_bytes) ? bpe_.find(as_bytes) : -1;
      if (in_vocab >= 0) {
        expect = in_vocab;
      } else if (max_added < 0) {
        expect = bpe_.size();
      } else {
        expect = (max_added >= bpe_.size() || bpe_.size() == 0) ? max_added + 1 : bpe_.size();
      }
      if (t.id != expect)
        js.fail(field + ".id", "id " + std::to_string(t.id) + " for '" + t.content + "', but Hugging Face assigns it " +
                                   std::to_string(expect) + " (model.vocab ids, then added tokens in order)");
      max_added = std::max(max_added, t.id);
      added_.push_back(std::move(t));
      added_by_id_[added_.back().id] = added_.size() - 1;
      added_by_content_.emplace(added_.back().content, added_.back().id);
    }
    for (const AddedToken& t : added_) (t.normalized ? normalized_added_ : raw_added_).add(&t);
    raw_added_.finish();
    normalized_added_.finish();
  }
  vocab_size_ = bpe_.size();
  for (const AddedToken& t : added_)
    if (!bpe_.has_id(t.id)) ++vocab_size_;

  // ---- normalizer, pre-tokenizer, post-processor, decoder ----
  if (auto n = js.opt(root, "normalizer")) {
    object o = js.obj(*n, "normalizer");
    js.fail("normalizer", "normalizer '" + js.type_of(o, "normalizer") + "' is not supported (only null)");
  }
  if (auto p = js.opt(root, "pre_tokenizer")) load_pre_tokenizer(js.obj(*p, "pre_tokenizer"), js, "pre_tokenizer");
  if (auto p = js.opt(root, "post_processor")) load_post_processor(js.obj(*p, "post_processor"), js, "post_processor");
  if (auto d = js.opt(root, "decoder")) {
    object o = js.obj(*d, "decoder");
    std::string type = js.type_of(o, "decoder");
    if (type != "ByteLevel") js.fail("decoder.type", "decoder '" + type + "' is not supported (only ByteLevel)");
  }
}

void BpeTokenizer::load_pre_tokenizer(const object& pt, const Json& js, const std::string& field) {
  std::string type = js.type_of(pt, field);
  if (type == "Sequence") {
    array subs = js.arr(js.req(pt, "pretokenizers", field + ".pretokenizers"), field + ".pretokenizers");
    size_t i = 0;
    for (element e : subs) {
      std::string f = field + ".pretokenizers[" + std::to_string(i++) + "]";
      load_pre_tokenizer(js.obj(e, f), js, f);
    }
  } else if (type == "Split") {
    object pattern = js.obj(js.req(pt, "pattern", field + ".pattern"), field + ".pattern");
    std::string regex;
    if (auto r = js.opt(pattern, "Regex")) {
      regex = std::string(js.str(*r, field + ".pattern.Regex"));
    } else if (auto s = js.opt(pattern, "String")) {
      regex = "\\Q" + std::string(js.str(*s, field + ".pattern.String")) + "\\E";
    } else {
      js.fail(field + ".pattern", "expected Regex or String");
    }
    std::string behavior(js.str(js.req(pt, "behavior", field + ".behavior"), field + ".behavior"));
    if (behavior != "Isolated") js.fail(field + ".behavior", "only Isolated is supported, got '" + behavior + "'");
    if (js.flag(pt, "invert", field, false)) js.fail(field + ".invert", "true is not supported");
    splitters_.push_back(std::make_unique<RegexSplitter>(regex, name_ + ": field '" + field + ".pattern'"));
  } else if (type == "ByteLevel") {
    if (js.flag(pt, "add_prefix_space", field, true)) js.fail(field + ".add_prefix_space", "true is not supported");
    if (js.flag(pt, "use_regex", field, true))
      splitters_.push_back(std::make_unique<RegexSplitter>(kGpt2Pattern, name_ + ": field '" + field + "'"));
  } else {
    js.fail(field + ".type", "pre-tokenizer '" + type + "' is not supported");
  }
}

void BpeTokenizer::load_post_processor(const object& pp, const Json& js, const std::string& field) {
  std::string type = js.type_of(pp, field);
  if (type == "Sequence") {
    array subs = js.arr(js.req(pp, "processors", field + ".processors"), field + ".processors");
    size_t i = 0;
    for (element e : subs) {
      std::string f = field + ".processors[" + std::to_string(i++) + "]";
      load_post_processor(js.obj(e, f), js, f);
    }
  } else if (type == "ByteLevel") {
    // offsets only; ids unchanged
  } else if (type == "TemplateProcessing") {
    if (has_template_) js.fail(field, "more than one TemplateProcessing");
    has_template_ = true;
    std::unordered_map<std::string, std::vector<int32_t>> specials;
    if (auto st = js.opt(pp, "special_tokens")) {
      for (auto [key, value] : js.obj(*st, field + ".special_tokens")) {
        std::string f = field + ".special_tokens[\"" + std::string(key) + "\"]";
        std::vector<int32_t> ids;
        for (element id : js.arr(js.req(js.obj(value, f), "ids", f + ".ids"), f + ".ids"))
          ids.push_back(static_cast<int32_t>(js.integer(id, f + ".ids")));
        specials[std::string(key)] = ids;
      }
    }
    array single = js.arr(js.req(pp, "single", field + ".single"), field + ".single");
    bool seen_sequence = false;
    size_t i = 0;
    for (element e : single) {
      std::string f = field + ".single[" + std::to_string(i++) + "]";
      object piece = js.obj(e, f);
      if (auto sp = js.opt(piece, "SpecialToken")) {
        std::string name(js.str(js.req(js.obj(*sp, f), "id", f + ".SpecialToken.id"), f + ".SpecialToken.id"));
        auto it = specials.find(name);
        if (it == specials.end()) js.fail(f, "special token '" + name + "' is not in special_tokens");
        auto& dst = seen_sequence ? suffix_ : prefix_;
        dst.insert(dst.end(), it->second.begin(), it->second.end());
      } else if (js.opt(piece, "Sequence")) {
        if (seen_sequence) js.fail(f, "the single template holds the sequence twice");
        seen_sequence = true;
      } else {
        js.fail(f, "expected SpecialToken or Sequence");
      }
    }
    if (!seen_sequence) js.fail(field + ".single", "no Sequence in the template");
  } else {
    js.fail(field + ".type", "post-processor '" + type + "' is not supported");
  }
}

void BpeTokenizer::load_config(std::string_view text, const std::string& file) {
  // nlohmann here: the config is small and may hold integers beyond 64 bits (model_max_length).
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw Error(file + ": not valid JSON: " + e.what());
  }
  if (!root.is_object()) throw Error(file + ": field '(root)': expected an object");
  auto token_id = [&](const char* key) -> std::optional<int32_t> {
    auto it = root.find(key);
    if (it == root.end() || it->is_null()) return std::nullopt;
    const nlohmann::json* name = &*it;
    if (it->is_object()) {
      auto c = it->find("content");
      if (c == it->end()) throw Error(file + ": field '" + key + ".content': missing");
      name = &*c;
    }
    if (!name->is_string()) throw Error(file + ": field '" + key + "': expected a string");
    auto id = token_to_id(name->get<std::string>());
    if (!id)
      throw Error(file + ": field '" + key + "': token '" + name->get<std::string>() +
                  "' is not in the tokenizer's vocabulary");
    return id;
  };
  bos_ = token_id("bos_token");
  eos_ = token_id("eos_token");
  pad_ = token_id("pad_token");
  if (auto it = root.find("add_bos_token"); it != root.end() && !it->is_null()) {
    if (!it->is_boolean()) throw Error(file + ": field 'add_bos_token': expected true or false");
    add_bos_default_ = it->get<bool>();
  }
}

}  // namespace

std::shared_ptr<const Tokenizer> Tokenizer::from_json(std::string_view tokenizer_json, std::string_view config_json,
                                                      const std::string& name) {
  return std::make_shared<BpeTokenizer>(tokenizer_json, config_json, name, "tokenizer_config.json");
}

std::shared_ptr<const Tokenizer> Tokenizer::from_file(const std::string& path) {
  return std::make_shared<BpeTokenizer>(read_file(path), "", path, "");
}

std::shared_ptr<const Tokenizer> Tokenizer::from_dir(const std::string& dir) {
  const std::string tj = dir + "/tokenizer.json", cj = dir + "/tokenizer_config.json";
  std::string config;
  if (std::ifstream(cj).good()) config = read_file(cj);
  return std::make_shared<BpeTokenizer>(read_file(tj), config, tj, cj);
}

std::shared_ptr<const Tokenizer> Tokenizer::load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (!fs::exists(fs::path(path) / "tokenizer.json"))
      throw Error(path + ": no tokenizer.json in this folder (a tokenizer is a folder holding tokenizer.json, or the file)");
    return from_dir(path);
  }
  if (fs::is_regular_file(path, ec)) {
    // A tokenizer.json beside its tokenizer_config.json loads both.
    const fs::path p(path);
    const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
    if (p.filename() == "tokenizer.json" && fs::exists(dir / "tokenizer_config.json")) return from_dir(dir.string());
    return from_file(path);
  }
  throw Error(path + ": no tokenizer here (expected a folder holding tokenizer.json, or the file itself)");
}

}  // namespace packbench::data
