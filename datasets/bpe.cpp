// Byte-level BPE model: hash tables for vocabulary and merges; flat-scan and heap merge loops.
#include "datasets/bpe.h"

#include <memory>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <queue>

namespace packbench::data {

namespace {

constexpr uint64_t kEmptyKey = ~uint64_t{0};
constexpr uint64_t kNoMerge = ~uint64_t{0};
constexpr uint8_t kLongToken = 255;  // VocabSlot::len of a token kept only in bytes_
// Words up to this many bytes use the flat scan; longer ones the heap (linear-ish).
constexpr size_t kSmallWord = 48;

inline uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline uint64_t hash_bytes(const char* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xff51afd7ed558ccdULL);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = mix(h ^ w);
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = mix(h ^ w ^ 0x5555);
  }
  return h;
}

inline uint64_t pair_key(int32_t l, int32_t r) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
}

// Per-thread cache of recent short words that needed merges (direct-mapped by hash). Entries
// carry the generation of the model that made them, so models never see each other's words.
struct CacheEntry {
  uint64_t gen = 0;
  uint64_t hash = 0;
  uint8_t len = 0;
  uint8_t n_ids = 0;
  char bytes[30];
  int32_t ids[14];
};
constexpr size_t kCacheSize = 4096;
std::atomic<uint64_t> g_generation{0};

CacheEntry* thread_cache() {
  thread_local std::unique_ptr<CacheEntry[]> cache(new CacheEntry[kCacheSize]);
  return cache.get();
}

size_t table_size(size_t n) {
  size_t s = 16;
  while (s < n * 2) s <<= 1;
  return s;
}

}  // namespace

void BpeModel::add_token(std::string bytes, int32_t id) {
  if (static_cast<size_t>(id) >= bytes_.size()) {
    bytes_.resize(static_cast<size_t>(id) + 1);
    present_.resize(static_cast<size_t>(id) + 1, 0);
  }
  bytes_[static_cast<size_t>(id)] = std::move(bytes);
  if (!present_[static_cast<size_t>(id)]) ++count_;
  present_[static_cast<size_t>(id)] = 1;
}

bool BpeModel::add_merge(int32_t left, int32_t right, int32_t merged) {
  pending_merges_.emplace_back(pair_key(left, right),
                               (static_cast<uint64_t>(rank_) << 32) | static_cast<uint32_t>(merged));
  ++rank_;
  return true;
}

void BpeModel::finish_vocab() {
  vocab_slots_.assign(table_size(static_cast<size_t>(count_)), VocabSlot{});
  const size_t vmask = vocab_slots_.size() - 1;
  for (size_t id = 0; id < bytes_.size(); ++id) {
    if (!present_[id]) continue;
    const std::string& b = bytes_[id];
    uint64_t h = hash_bytes(b.data(), b.size());
    size_t i = h & vmask;
    while (vocab_slots_[i].id >= 0) i = (i + 1) & vmask;
    VocabSlot& slot = vocab_slots_[i];
    slot.hash = h;
    slot.id = static_cast<int32_t>(id);
    slot.len = b.size() <= sizeof(slot.inl) ? static_cast<uint8_t>(b.size()) : kLongToken;
    if (slot.len != kLongToken) std::memcpy(slot.inl, b.data(), b.size());
  }
  for (int b = 0; b < 256; ++b) {
    char c = static_cast<char>(b);
    byte_id_[b] = find(std::string_view(&c, 1));
  }
}

void BpeModel::finish() {
  if (vocab_slots_.empty()) finish_vocab();
  pair_slots_.assign(table_size(pending_merges_.size()), PairSlot{kEmptyKey, 0});
  const size_t pmask = pair_slots_.size() - 1;
  for (const auto& [key, value] : pending_merges_) {
    size_t i = mix(key) & pmask;
    while (pair_slots_[i].key != kEmptyKey && pair_slots_[i].key != key) i = (i + 1) & pmask;
    pair_slots_[i] = PairSlot{key, value};  // a repeated pair: the later one wins
  }
  pending_merges_.clear();
  pending_merges_.shrink_to_fit();
  generation_ = ++g_generation;
}

// One cache line holds the slot and, for tokens up to 19 bytes, the bytes to compare.
int32_t BpeModel::find(std::string_view s) const {
  if (vocab_slots_.empty()) return -1;
  const size_t mask = vocab_slots_.size() - 1;
  uint64_t h = hash_bytes(s.data(), s.size());
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const VocabSlot& slot = vocab_slots_[i];
    if (slot.id < 0) return -1;
    if (slot.hash != h) continue;
    if (slot.len != kLongToken) {
      if (slot.len == s.size() && std::memcmp(slot.inl, s.data(), s.size()) == 0) return slot.id;
    } else {
      const std::string& b = bytes_[static_cast<size_t>(slot.id)];
      if (b.size() == s.size() && std::memcmp(b.data(), s.data(), s.size()) == 0) return slot.id;
    }
  }
}

uint64_t BpeModel::pair_value(int32_t l, int32_t r) const {
  const uint64_t key = pair_key(l, r);
  const size_t mask = pair_slots_.size() - 1;
  for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
    const PairSlot& slot = pair_slots_[i];
    if (slot.key == key) return slot.value;
    if (slot.key == kEmptyKey) return kNoMerge;
  }
}

bool BpeModel::merge_of(int32_t left, int32_t right, uint32_t* rank, int32_t* merged) const {
  if (pair_slots_.empty()) return false;
  uint64_t v = pair_value(left, right);
  if (v == kNoMerge) return false;
  *rank = static_cast<uint32_t>(v >> 32);
  *merged = static_cast<int32_t>(static_cast<uint32_t>(v));
  return true;
}

void BpeModel::encode_word(std::string_view word, bool ignore_merges, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  if (ignore_merges || word.size() == 1) {
    int32_t id = find(word);
    if (id >= 0) { out->push_back(id); return; }
  }
  const auto* p = reinterpret_cast<const uint8_t*>(word.data());
  if (pair_slots_.empty()) {  // no merges: bytes only
    for (size_t i = 0; i < word.size(); ++i)
      if (byte_id_[p[i]] >= 0) out->push_back(byte_id_[p[i]]);
    return;
  }
  if (word.size() > kSmallWord) {
    merge_large(p, word.size(), out);
    return;
  }
  if (word.size() > sizeof(CacheEntry::bytes)) {
    merge_small(p, word.size(), out);
    return;
  }
  const uint64_t h = hash_bytes(word.data(), word.size());
  CacheEntry& e = thread_cache()[(h >> 7) & (kCacheSize - 1)];
  if (e.gen == generation_ && e.hash == h && e.len == word.size() && std::memcmp(e.bytes, word.data(), word.size()) == 0) {
    out->insert(out->end(), e.ids, e.ids + e.n_ids);
    return;
  }
  const size_t before = out->size();
  merge_small(p, word.size(), out);
  const size_t made = out->size() - before;
  if (made <= sizeof(CacheEntry::ids) / sizeof(int32_t)) {
    e.gen = generation_;
    e.hash = h;
    e.len = static_cast<uint8_t>(word.size());
    e.n_ids = static_cast<uint8_t>(made);
    std::memcpy(e.bytes, word.data(), word.size());
    std::memcpy(e.ids, out->data() + before, made * sizeof(int32_t));
  }
}

// Flat scan: ids and the rank of each adjacent pair in small arrays; merge the leftmost
// lowest-ranked pair until none is left. Quadratic, but words here are short.
void BpeModel::merge_small(const uint8_t* p, size_t n, std::vector<int32_t>* out) const {
  int32_t ids[kSmallWord];
  uint64_t vals[kSmallWord];  // vals[i]: merge of (ids[i], ids[i+1])
  size_t m = 0;
  for (size_t i = 0; i < n; ++i)
    if (byte_id_[p[i]] >= 0) ids[m++] = byte_id_[p[i]];
  if (m == 0) return;
  for (size_t i = 0; i + 1 < m; ++i) vals[i] = pair_value(ids[i], ids[i + 1]);
  while (m > 1) {
    size_t best = 0;
    uint64_t bv = vals[0];
    for (size_t i = 1; i + 1 < m; ++i)
      if (vals[i] < bv) { bv = vals[i]; best = i; }  // rank is the high half: min = lowest rank
    if (bv == kNoMerge) break;
    ids[best] = static_cast<int32_t>(static_cast<uint32_t>(bv));
    for (size_t i = best + 1; i + 1 < m; ++i) ids[i] = ids[i + 1];
    for (size_t i = best + 1; i + 2 < m; ++i) vals[i] = vals[i + 1];
    --m;
    if (best > 0) vals[best - 1] = pair_value(ids[best - 1], ids[best]);
    if (best + 1 < m) vals[best] = pair_value(ids[best], ids[best + 1]);
  }
  out->insert(out->end(), ids, ids + m);
}

// Heap + doubly linked list: each merge costs O(log n), so long repetitive words stay fast.
// Stale heap entries are recognised by comparing the pair they were made for.
void BpeModel::merge_large(const uint8_t* p, size_t n, std::vector<int32_t>* out) const {
  struct Sym { int32_t id; int32_t prev; int32_t next; };
  std::vector<Sym> sym;
  sym.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    int32_t id = byte_id_[p[i]];
    if (id < 0) continue;
    int32_t k = static_cast<int32_t>(sym.size());
    sym.push_back(Sym{id, k - 1, k + 1});
  }
  if (sym.empty()) return;
  sym.back().next = -1;
  struct Entry { uint32_t rank; int32_t pos; int32_t left; int32_t right; int32_t merged; };
  auto cmp = [](const Entry& a, const Entry& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(cmp)> heap(cmp);
  auto push = [&](int32_t pos) {
    int32_t nx = sym[static_cast<size_t>(pos)].next;
    if (nx < 0) return;
    uint64_t v = pair_value(sym[static_cast<size_t>(pos)].id, sym[static_cast<size_t>(nx)].id);
    if (v == kNoMerge) return;
    heap.push(Entry{static_cast<uint32_t>(v >> 32), pos, sym[static_cast<size_t>(pos)].id,
                    sym[static_cast<size_t>(nx)].id, static_cast<int32_t>(static_cast<uint32_t>(v))});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) push(i);
  while (!heap.empty()) {
    Entry e = heap.top();
    heap.pop();
    Sym& s = sym[static_cast<size_t>(e.pos)];
    if (s.id != e.left || s.next < 0) continue;  // merged away or changed
    Sym& r = sym[static_cast<size_t>(s.next)];
    if (r.id != e.right) continue;
    s.id = e.merged;
    r.id = -1;  // dead
    s.next = r.next;
    if (r.next >= 0) sym[static_cast<size_t>(r.next)].prev = e.pos;
    if (s.prev >= 0) push(s.prev);
    push(e.pos);
  }
  for (int32_t i = 0; i >= 0; i = sym[static_cast<size_t>(i)].next) out->push_back(sym[static_cast<size_t>(i)].id);
}

void BpeModel::encode_word_reference(std::string_view word, std::vector<int32_t>* out) const {
  std::vector<int32_t> ids;
  for (unsigned char c : word)
    if (byte_id_[c] >= 0) ids.push_back(byte_id_[c]);
  while (ids.size() > 1) {
    size_t best = 0;
    uint32_t best_rank = ~0u;
    int32_t best_merged = -1;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      uint32_t rank;
      int32_t merged;
      if (merge_of(ids[i], ids[i + 1], &rank, &merged) && rank < best_rank) {
        best_rank = rank;
        best = i;
        best_merged = merged;
      }
    }
    if (best_merged < 0) break;
    ids[best] = best_merged;
    ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  out->insert(out->end(), ids.begin(), ids.end());
}

}  // namespace packbench::data
