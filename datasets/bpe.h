// Byte-level BPE model: vocabulary of byte strings, merge ranks, and the merge loop for one word.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace packbench::data {

// Vocabulary and merges over raw bytes (tokenizer.json's ByteLevel strings already decoded).
// Immutable after building; encode_word is safe to call from many threads.
class BpeModel {
 public:
  // Building. Ids need not be dense; bytes must be unique.
  void add_token(std::string bytes, int32_t id);
  // Appends a merge; its rank is the number of merges added before it. A pair listed twice
  // keeps the later entry, as Hugging Face's loader (a map filled in order) does.
  bool add_merge(int32_t left, int32_t right, int32_t merged);
  // Builds the vocabulary table (find() works afterwards); optional before add_merge.
  void finish_vocab();
  void finish();  // builds the remaining lookup tables; call once after the last add_*

  // Id of a byte string, or -1.
  int32_t find(std::string_view bytes) const;
  // Bytes of an id ("" for ids not in the vocabulary; check has_id).
  const std::string& bytes_of(int32_t id) const { return bytes_[static_cast<size_t>(id)]; }
  bool has_id(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < present_.size() && present_[static_cast<size_t>(id)];
  }
  int32_t size() const { return count_; }
  int32_t max_id() const { return static_cast<int32_t>(bytes_.size()) - 1; }
  // The merge rank of (left,right) and the merged id; false when there is no such merge.
  bool merge_of(int32_t left, int32_t right, uint32_t* rank, int32_t* merged) const;

  // Appends the ids of one pre-token. With ignore_merges a word that is itself in the vocabulary
  // is one token (Hugging Face's ignore_merges; tiktoken always does this). Bytes whose
  // single-byte token is missing from the vocabulary are dropped, as Hugging Face does without
  // an unk token.
  void encode_word(std::string_view word, bool ignore_merges, std::vector<int32_t>* out) const;

  // The reference merge loop (flat scan, quadratic): for tests against the fast paths.
  void encode_word_reference(std::string_view word, std::vector<int32_t>* out) const;

 private:
  void merge_small(const uint8_t* p, size_t n, std::vector<int32_t>* out) const;
  void merge_large(const uint8_t* p, size_t n, std::vector<int32_t>* out) const;
  uint64_t pair_value(int32_t left, int32_t right) const;  // rank<<32 | merged, or ~0

  std::vector<std::string> bytes_;  // by id
  std::vector<uint8_t> present_;
  int32_t count_ = 0;
  int32_t byte_id_[256];
  // Open-addressing tables (power-of-two sizes, linear probing).
  struct alignas(32) VocabSlot {
    uint64_t hash = 0;
    int32_t id = -1;
    uint8_t len = 0;   // bytes held in inl, or 255 for longer tokens
    char inl[19];
  };
  std::vector<VocabSlot> vocab_slots_;
  struct PairSlot { uint64_t key; uint64_t value; };
  std::vector<PairSlot> pair_slots_;
  std::vector<std::pair<uint64_t, uint64_t>> pending_merges_;  // (key, value) until finish()
  uint32_t rank_ = 0;
  uint64_t generation_ = 0;  // unique per finished model: keys the per-thread word cache
};

}  // namespace packbench::data
