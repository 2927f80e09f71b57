// Chat templates as data (llama3_lf07, llama3, llama2, chatml, alpaca) and LLaMA-Factory's turn encoding.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datasets/tokenizer.h"
#include "datasets/types.h"

namespace packbench::data {

// One slot of a formatter: literal text (may hold "{{content}}"), a named token, or bos/eos.
struct Slot {
  enum Kind { kText, kToken, kBos, kEos } kind = kText;
  std::string text;  // kText: the text; kToken: the token's string
};

// How a multi-turn sample is cut to cutoff_len, turn by turn.
enum class TruncationRule {
  kInferMaxLen,  // LLaMA-Factory 0.7 (_make_pairs + infer_max_len): each turn gets the share
                 // int(left * target/(source+target)) for its response (at least 1), the rest for
                 // its prompt; stops once the running total reaches cutoff_len.
  kInferSeqLen,  // LLaMA-Factory >= 0.8 (infer_seqlen): keep the short side whole when it is
                 // under half of what is left, otherwise split in proportion.
};

// A template, as LLaMA-Factory's _register_template declares one (efficient_eos is false for
// every template here, so it is not modelled). Not modelled either: tool descriptions (a
// conversation's `tools` text is read but not rendered into the system prompt), the
// FunctionFormatter's "Action: name / Action Input: arguments" rendering of function_call turns
// (their content is rendered as plain text), and LLaMA-Factory >= 0.8's reversed truncation order
// under mask_history.
struct ChatTemplate {
  std::string name;
  std::vector<Slot> prefix;       // before everything, always (current LLaMA-Factory's format_prefix)
  std::vector<Slot> system;       // first message only, when a system prompt applies
  std::vector<Slot> user, assistant, observation, function, separator;
  std::string default_system;
  bool force_system = false;          // apply `system` even when the system text is empty
  bool system_in_first_user = false;  // llama2: the formatted system text is prepended to the first user content
  std::string eos_token;              // replace_eos: token string used for {eos} ("" = the tokenizer's eos)
  std::vector<std::string> added_tokens;  // tokens the template needs; appended to the vocabulary if absent
  // Special-token strings written in the slots' literal text. Hugging Face splits a text on added
  // tokens before pre-tokenizing, so the encoder emits these as ids directly and tokenizes the
  // stretches between them on their own: the same ids as tokenizing the whole slot string.
  std::vector<std::string> special_tokens;
  TruncationRule truncation = TruncationRule::kInferMaxLen;
};

// The registered names, and lookup (throws packbench::Error listing the names when unknown).
std::vector<std::string> template_names();
const ChatTemplate& get_template(const std::string& name);
// A stable text describing the template (for cache keys).
std::string template_fingerprint(const ChatTemplate& t);

// A template bound to a tokenizer: resolves token ids and turns conversations into per-message ids.
class TemplateEncoder {
 public:
  TemplateEncoder(const ChatTemplate& tmpl, std::shared_ptr<const Tokenizer> tokenizer);

  // One rendered piece of a message: text to tokenize on its own, or a fixed id.
  struct Piece {
    std::string text;
    int32_t id = -1;        // >= 0: a token id, text unused
    bool constant = false;  // text holds no message content (the same for every sample)
  };
  // The pieces of every message of `conv` (LLaMA-Factory's Template._encode before tokenizing):
  // pieces[i] renders message i. Empty text pieces are left out, as LLaMA-Factory skips them.
  std::vector<std::vector<Piece>> render(const Conversation& conv) const;
  // Tokenizes one text piece (splitting out template tokens the tokenizer does not know).
  std::vector<int32_t> encode_text(const std::string& text) const;
  // Per-message ids of a conversation, untruncated.
  std::vector<std::vector<int32_t>> encode_messages(const Conversation& conv) const;
  // Many conversations at once; text pieces are tokenized in parallel with encode_batch.
  std::vector<std::vector<std::vector<int32_t>>> encode_many(const std::vector<Conversation>& convs,
                                                              int threads = 0) const;

  const ChatTemplate& tmpl() const { return tmpl_; }
  const Tokenizer& tokenizer() const { return *tok_; }
  int32_t pad_id() const { return pad_id_; }

 private:
  const ChatTemplate& tmpl_;
  std::shared_ptr<const Tokenizer> tok_;
  int32_t bos_id_ = -1, eos_id_ = -1, pad_id_ = 0;
  std::vector<std::pair<std::string, int32_t>> extra_;    // template tokens absent from the vocabulary
  std::vector<std::pair<std::string, int32_t>> special_;  // slot-literal special tokens and their ids
};

// Options for turning per-message ids into one sample's ids and labels.
struct LabelOptions {
  bool train_on_prompt = false;  // prompts keep their ids as labels (LLaMA-Factory train_on_prompt)
  bool mask_history = false;     // only the last response is trained (LLaMA-Factory >= 0.8 mask_history)
};

// LLaMA-Factory 0.7's infer_max_len with Python's float rounding: returns {max_source, max_target}.
std::pair<int64_t, int64_t> infer_max_len(int64_t source_len, int64_t target_len, int64_t max_len,
                                          int64_t reserved_label_len = 1);
// LLaMA-Factory >= 0.8's infer_seqlen: returns {new_source_len, new_target_len}.
std::pair<int64_t, int64_t> infer_seqlen(int64_t source_len, int64_t target_len, int64_t cutoff_len);

// Builds a sample from per-message ids given as (pointer, length) pairs (prompt, response,
// prompt, response, ...). cutoff_len <= 0: no truncation (LLaMA-Factory's packing paths call
// encode_multiturn without a cutoff); otherwise the template's truncation rule applies per turn.
// Sets sample.truncated when any token was cut.
struct MessageSpan {
  const int32_t* ids;
  int64_t size;
};
Sample build_sample(const std::vector<MessageSpan>& messages, int64_t cutoff_len, TruncationRule rule,
                    const LabelOptions& options);
// The same, appending to existing arrays (no intermediate Sample); returns whether it truncated.
bool append_sample(const std::vector<MessageSpan>& messages, int64_t cutoff_len, TruncationRule rule,
                   const LabelOptions& options, std::vector<int32_t>& input_ids, std::vector<int32_t>& labels);

}  // namespace packbench::data
