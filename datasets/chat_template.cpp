// Chat templates as data (llama3_lf07, llama3, llama2, chatml, alpaca) and LLaMA-Factory's turn encoding.
#include "datasets/chat_template.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "core/error.h"

namespace packbench::data {

namespace {

Slot text(std::string s) { return {Slot::kText, std::move(s)}; }
Slot bos() { return {Slot::kBos, {}}; }
Slot eos() { return {Slot::kEos, {}}; }

const std::string kLlama3User =
    "<|start_header_id|>user<|end_header_id|>\n\n{{content}}<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n";
const std::string kLlama3Tool =
    "<|start_header_id|>ipython<|end_header_id|>\n\n{{content}}<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n";

// The registry. Each entry is the declaration of one LLaMA-Factory template, as data.
const std::map<std::string, ChatTemplate>& registry() {
  static const std::map<std::string, ChatTemplate> r = [] {
    std::map<std::string, ChatTemplate> m;
    {  // LLaMA-Factory 0.7.1's "llama3", the template the paper's code base used.
      ChatTemplate t;
      t.name = "llama3_lf07";
      t.system = {bos(), text("<|start_header_id|>system<|end_header_id|>\n\n{{content}}<|eot_id|>")};
      t.user = {text(kLlama3User)};
      t.assistant = {text("{{content}}"), eos()};  // eos replaced by <|eot_id|> (replace_eos)
      t.observation = {text("<|start_header_id|>tool<|end_header_id|>\n\n{{content}}<|eot_id|>"
                            "<|start_header_id|>assistant<|end_header_id|>\n\n")};
      t.function = {text("{{content}}"), eos()};
      t.default_system = "You are a helpful assistant.";
      t.eos_token = "<|eot_id|>";
      t.special_tokens = {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
      t.truncation = TruncationRule::kInferMaxLen;
      m[t.name] = t;
    }
    {  // Current LLaMA-Factory's "llama3": bos as a prefix, no default system, infer_seqlen.
      ChatTemplate t;
      t.name = "llama3";
      t.prefix = {bos()};
      t.system = {text("<|start_header_id|>system<|end_header_id|>\n\n{{content}}<|eot_id|>")};
      t.user = {text(kLlama3User)};
      t.assistant = {text("{{content}}<|eot_id|>")};
      t.observation = {text(kLlama3Tool)};
      t.function = {text("{{content}}<|eot_id|>")};
      t.eos_token = "<|eot_id|>";
      t.special_tokens = {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
      t.truncation = TruncationRule::kInferSeqLen;
      m[t.name] = t;
    }
    {  // LLaMA-Factory 0.7's "llama2": bos + [INST] per turn, system folded into the first prompt.
      ChatTemplate t;
      t.name = "llama2";
      t.system = {text("<<SYS>>\n{{content}}\n<</SYS>>\n\n")};
      t.user = {bos(), text("[INST] {{content}} [/INST]")};
      t.assistant = {text("{{content}}"), eos()};
      t.observation = t.user;
      t.function = {text("Action: {{content}}"), eos()};
      t.system_in_first_user = true;
      t.default_system =
          "You are a helpful, respectful and honest assistant. "
          "Always answer as helpfully as possible, while being safe. "
          "Your answers should not include any harmful, unethical, "
          "racist, sexist, toxic, dangerous, or illegal content. "
          "Please ensure that your responses are socially unbiased and positive in nature.\n\n"
          "If a question does not make any sense, or is not factually coherent, "
          "explain why instead of answering something not correct. "
          "If you don't know the answer to a question, please don't share false information.";
      m[t.name] = t;
    }
    {  // LLaMA-Factory 0.7's "chatml": <|im_end|> replaces eos, <|im_start|> is a stop word.
      ChatTemplate t;
      t.name = "chatml";
      t.system = {text("<|im_start|>system\n{{content}}<|im_end|>\n")};
      t.user = {text("<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n")};
      t.assistant = {text("{{content}}"), eos()};
      t.observation = t.user;
      t.function = t.assistant;
      t.separator = {text("\n")};
      t.eos_token = "<|im_end|>";
      t.added_tokens = {"<|im_end|>", "<|im_start|>"};
      t.special_tokens = {"<|im_end|>", "<|im_start|>"};
      m[t.name] = t;
    }
    {  // LLaMA-Factory 0.7's "alpaca".
      ChatTemplate t;
      t.name = "alpaca";
      t.system = {text("{{content}}")};
      t.user = {text("### Instruction:\n{{content}}\n\n### Response:\n")};
      t.assistant = {text("{{content}}"), eos()};
      t.observation = t.user;
      t.function = t.assistant;
      t.separator = {text("\n\n")};
      t.default_system =
          "Below is an instruction that describes a task. "
          "Write a response that appropriately completes the request.\n\n";
      m[t.name] = t;
    }
    return m;
  }();
  return r;
}

std::string substitute(const std::string& slot, const std::string& content) {
  std::string out;
  size_t pos = 0;
  const std::string key = "{{content}}";
  for (size_t at; (at = slot.find(key, pos)) != std::string::npos; pos = at + key.size()) {
    out.append(slot, pos, at - pos);
    out += content;
  }
  out.append(slot, pos, std::string::npos);
  return out;
}

}  // namespace

std::vector<std::string> template_names() {
  std::vector<std::string> names;
  for (const auto& [k, v] : registry()) names.push_back(k);
  return names;
}

const ChatTemplate& get_template(const std::string& name) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::string all;
    for (const auto& n : template_names()) all += (all.empty() ? "" : ", ") + n;
    throw Error("unknown template '" + name + "' (known: " + all + ")");
  }
  return it->second;
}

std::string template_fingerprint(const ChatTemplate& t) {
  std::string s = "v1|" + t.name + "|" + t.default_system + "|" + t.eos_token + "|";
  for (const auto* slots : {&t.prefix, &t.system, &t.user, &t.assistant, &t.observation, &t.function, &t.separator}) {
    for (const auto& sl : *slots) s += std::to_string(sl.kind) + ":" + sl.text + ";";
    s += "|";
  }
  s += std::to_string(t.force_system) + std::to_string(t.system_in_first_user) + std::to_string(int(t.truncation));
  for (const auto& a : t.added_tokens) s += "|" + a;
  return s;
}

TemplateEncoder::TemplateEncoder(const ChatTemplate& tmpl, std::shared_ptr<const Tokenizer> tokenizer)
    : tmpl_(tmpl), tok_(std::move(tokenizer)) {
  if (!tok_) throw Error("template '" + tmpl.name + "': no tokenizer");
  int32_t next = tok_->vocab_size();
  for (const auto& a : tmpl_.added_tokens) {
    if (!tok_->token_to_id(a)) extra_.push_back({a, next++});
  }
  auto resolve = [&](const std::string& s) -> int32_t {
    if (auto id = tok_->token_to_id(s)) return *id;
    for (const auto& [t, id] : extra_) if (t == s) return id;
    throw Error("template '" + tmpl.name + "': token '" + s + "' is not in the tokenizer's vocabulary");
  };
  for (const auto& sp : tmpl_.special_tokens) special_.push_back({sp, resolve(sp)});
  if (auto b = tok_->bos_id()) bos_id_ = *b;
  if (!tmpl_.eos_token.empty()) eos_id_ = resolve(tmpl_.eos_token);
  else if (auto e = tok_->eos_id()) eos_id_ = *e;
  // LLaMA-Factory sets pad = eos when the tokenizer has no pad token (after replacing eos).
  if (auto p = tok_->pad_id()) pad_id_ = *p;
  else pad_id_ = eos_id_ >= 0 ? eos_id_ : 0;
}

std::vector<std::vector<TemplateEncoder::Piece>> TemplateEncoder::render(const Conversation& conv) const {
  const ChatTemplate& t = tmpl_;
  std::string system = conv.system.empty() ? t.default_system : conv.system;
  std::vector<std::vector<Piece>> out(conv.messages.size());
  // A text slot: content substituted; special tokens in the literal parts become ids, and each
  // stretch between them is one piece (constant when it holds no content).
  auto apply_text = [&](std::vector<Piece>& dst, const std::string& slot, const std::string& content, bool memo) {
    static const std::string key = "{{content}}";
    std::string cur;
    bool has_content = false;
    auto push_cur = [&] {
      if (!cur.empty()) dst.push_back({std::move(cur), -1, memo || !has_content});
      cur.clear();
      has_content = false;
    };
    auto literal = [&](std::string_view lit) {
      size_t pos = 0;
      while (pos < lit.size()) {
        size_t best = std::string_view::npos, best_len = 0;
        int32_t best_id = -1;
        for (const auto& [str, id] : special_) {
          size_t at = lit.find(str, pos);
          if (at < best || (at == best && str.size() > best_len)) best = at, best_len = str.size(), best_id = id;
        }
        if (best == std::string_view::npos) {
          cur.append(lit.substr(pos));
          break;
        }
        cur.append(lit.substr(pos, best - pos));
        push_cur();
        dst.push_back({{}, best_id, true});
        pos = best + best_len;
      }
    };
    size_t pos = 0;
    for (size_t at; (at = slot.find(key, pos)) != std::string::npos; pos = at + key.size()) {
      literal(std::string_view(slot).substr(pos, at - pos));
      cur += content;
      has_content = true;
    }
    literal(std::string_view(slot).substr(pos));
    push_cur();
  };
  // memo: the content is the system prompt (shared by most samples), so the piece is memoized.
  auto apply = [&](std::vector<Piece>& dst, const std::vector<Slot>& slots, const std::string& content, bool memo) {
    for (const auto& s : slots) {
      switch (s.kind) {
        case Slot::kText:
          apply_text(dst, s.text, content, memo);
          break;
        case Slot::kToken: {
          auto id = tok_->token_to_id(s.text);
          if (!id) throw Error("template '" + t.name + "': token '" + s.text + "' is not in the vocabulary");
          dst.push_back({{}, *id});
          break;
        }
        case Slot::kBos:
          if (bos_id_ >= 0) dst.push_back({{}, bos_id_});
          break;
        case Slot::kEos:
          if (eos_id_ >= 0) dst.push_back({{}, eos_id_});
          break;
      }
    }
  };
  for (size_t i = 0; i < conv.messages.size(); ++i) {
    auto& dst = out[i];
    const Message& m = conv.messages[i];
    std::string content = m.content;
    if (i == 0) apply(dst, t.prefix, "", true);
    if (i == 0 && (!system.empty() || t.force_system)) {
      if (t.system_in_first_user) {
        std::string sys = substitute(t.system.empty() ? std::string("{{content}}") : t.system[0].text, system);
        content = sys + content;
      } else {
        apply(dst, t.system, system, true);
      }
    } else if (i > 0 && i % 2 == 0) {
      apply(dst, t.separator, "", true);
    }
    switch (m.role) {
      case Role::kUser: apply(dst, t.user, content, false); break;
      case Role::kAssistant: apply(dst, t.assistant, content, false); break;
      case Role::kObservation: apply(dst, t.observation, content, false); break;
      case Role::kFunctionCall: apply(dst, t.function, content, false); break;
      case Role::kSystem:
        throw Error("record " + std::to_string(conv.record_index) + ": a system message inside the conversation");
    }
  }
  return out;
}

std::vector<int32_t> TemplateEncoder::encode_text(const std::string& text) const {
  if (extra_.empty()) return tok_->encode(text, false);
  // Split out the template's own tokens the vocabulary lacks (as Hugging Face does for added tokens).
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t best = std::string::npos;
    int32_t best_id = -1;
    size_t best_len = 0;
    for (const auto& [tokstr, id] : extra_) {
      size_t at = text.find(tokstr, pos);
      if (at < best || (at == best && tokstr.size() > best_len)) { best = at; best_id = id; best_len = tokstr.size(); }
    }
    size_t stop = best == std::string::npos ? text.size() : best;
    if (stop > pos) {
      auto part = tok_->encode(std::string_view(text).substr(pos, stop - pos), false);
      ids.insert(ids.end(), part.begin(), part.end());
    }
    if (best == std::string::npos) break;
    ids.push_back(best_id);
    pos = best + best_len;
  }
  return ids;
}

std::vector<std::vector<int32_t>> TemplateEncoder::encode_messages(const Conversation& conv) const {
  auto pieces = render(conv);
  std::vector<std::vector<int32_t>> out(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    for (const auto& p : pieces[i]) {
      if (p.id >= 0) {
        out[i].push_back(p.id);
      } else {
        auto ids = encode_text(p.text);
        out[i].insert(out[i].end(), ids.begin(), ids.end());
      }
    }
  }
  return out;
}

std::vector<std::vector<std::vector<int32_t>>> TemplateEncoder::encode_many(const std::vector<Conversation>& convs,
                                                                            int threads) const {
  std::vector<std::vector<std::vector<Piece>>> rendered(convs.size());
  std::vector<std::string> texts;
  // Constant pieces (headers, the default system prompt) are tokenized once per call.
  std::unordered_map<std::string, std::vector<int32_t>> constants;
  for (size_t c = 0; c < convs.size(); ++c) {
    rendered[c] = render(convs[c]);
    for (auto& msg : rendered[c])
      for (auto& p : msg) {
        if (p.id >= 0) continue;
        if (p.constant) {
          auto it = constants.find(p.text);
          if (it == constants.end()) constants.emplace(p.text, encode_text(p.text));
        } else {
          texts.push_back(std::move(p.text));
        }
      }
  }
  std::vector<std::vector<int32_t>> encoded;
  if (extra_.empty()) {
    encoded = tok_->encode_batch(texts, false, threads);
  } else {
    encoded.reserve(texts.size());
    for (const auto& t : texts) encoded.push_back(encode_text(t));
  }
  std::vector<std::vector<std::vector<int32_t>>> out(convs.size());
  size_t k = 0;
  for (size_t c = 0; c < convs.size(); ++c) {
    out[c].resize(rendered[c].size());
    for (size_t i = 0; i < rendered[c].size(); ++i) {
      auto& dst = out[c][i];
      for (const auto& p : rendered[c][i]) {
        if (p.id >= 0) {
          dst.push_back(p.id);
        } else {
          const auto& e = p.constant ? constants.at(p.text) : encoded[k++];
          dst.insert(dst.end(), e.begin(), e.end());
        }
      }
    }
  }
  return out;
}

std::pair<int64_t, int64_t> infer_max_len(int64_t source_len, int64_t target_len, int64_t max_len,
                                          int64_t reserved_label_len) {
  // Python: int(max_len * (target_len / (source_len + target_len))) — a double product, truncated.
  int64_t max_target = 0;
  if (source_len + target_len > 0)
    max_target = static_cast<int64_t>(static_cast<double>(max_len) *
                                      (static_cast<double>(target_len) / static_cast<double>(source_len + target_len)));
  max_target = std::max(max_target, reserved_label_len);
  int64_t max_source = max_len - std::min(max_target, target_len);
  return {max_source, max_target};
}

std::pair<int64_t, int64_t> infer_seqlen(int64_t source_len, int64_t target_len, int64_t cutoff_len) {
  int64_t max_target;
  if (target_len * 2 < cutoff_len) max_target = cutoff_len;
  else if (source_len * 2 < cutoff_len) max_target = cutoff_len - source_len;
  else max_target = static_cast<int64_t>(static_cast<double>(cutoff_len) *
                                         (static_cast<double>(target_len) / static_cast<double>(source_len + target_len)));
  int64_t new_target = std::min(max_target, target_len);
  int64_t max_source = std::max<int64_t>(cutoff_len - new_target, 0);
  int64_t new_source = std::min(max_source, source_len);
  return {new_source, new_target};
}

bool append_sample(const std::vector<MessageSpan>& messages, int64_t cutoff_len, TruncationRule rule,
                   const LabelOptions& options, std::vector<int32_t>& input_ids, std::vector<int32_t>& labels) {
  bool truncated = false;
  size_t pairs = messages.size() / 2;
  int64_t total = 0;
  for (size_t p = 0; p < pairs; ++p) {
    const MessageSpan& src = messages[2 * p];
    const MessageSpan& tgt = messages[2 * p + 1];
    int64_t src_len = src.size, tgt_len = tgt.size;
    if (cutoff_len > 0) {
      if (total >= cutoff_len) {  // later turns are dropped whole
        truncated = true;
        break;
      }
      int64_t left = cutoff_len - total;
      if (rule == TruncationRule::kInferMaxLen) {
        auto [ms, mt] = infer_max_len(src.size, tgt.size, left, 1);
        src_len = std::min(src.size, ms);
        tgt_len = std::min(tgt.size, mt);
      } else {
        auto [ns, nt] = infer_seqlen(src.size, tgt.size, left);
        src_len = ns;
        tgt_len = nt;
      }
      if (src_len < src.size || tgt_len < tgt.size) truncated = true;
    }
    total += src_len + tgt_len;
    bool train_target = !options.mask_history || p + 1 == pairs;
    input_ids.insert(input_ids.end(), src.ids, src.ids + src_len);
    if (options.train_on_prompt) labels.insert(labels.end(), src.ids, src.ids + src_len);
    else labels.insert(labels.end(), static_cast<size_t>(src_len), kIgnoreIndex);
    input_ids.insert(input_ids.end(), tgt.ids, tgt.ids + tgt_len);
    if (train_target) labels.insert(labels.end(), tgt.ids, tgt.ids + tgt_len);
    else labels.insert(labels.end(), static_cast<size_t>(tgt_len), kIgnoreIndex);
  }
  return truncated;
}

Sample build_sample(const std::vector<MessageSpan>& messages, int64_t cutoff_len, TruncationRule rule,
                    const LabelOptions& options) {
  Sample s;
  s.truncated = append_sample(messages, cutoff_len, rule, options, s.input_ids, s.labels);
  return s;
}

}  // namespace packbench::data
