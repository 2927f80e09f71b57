// The tokenized cache: a documented binary file of templated token ids, memory-mapped on reuse.
#include "datasets/token_cache.h"

#include <cstring>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"

namespace packbench::data {

namespace {

constexpr char kMagic[8] = {'P', 'B', 'T', 'O', 'K', 'C', 0, 1};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kDtypeInt32 = 1;
constexpr size_t kHeader = 80;

struct Header {
  char magic[8];
  uint32_t version, dtype;
  int64_t num_samples, num_messages, num_tokens;
  uint64_t key;
  int64_t records_read, skipped_records;
  uint64_t checksum, reserved;
};
static_assert(sizeof(Header) == kHeader, "cache header layout");

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
size_t pad8(size_t n) { return (n + 7) / 8 * 8; }

// Streaming form of hash64 so the checksum can cover several arrays.
struct Hasher {
  uint64_t h;
  explicit Hasher(uint64_t seed) : h(seed ^ 0x9E3779B97F4A7C15ull) {}
  void add(const void* data, size_t size) {
    const unsigned char* p = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      h = rotl(h ^ (w * 0x87C37B91114253D5ull), 31) * 0x4CF5AD432745937Full;
    }
    uint64_t tail = 0;
    if (size > i) std::memcpy(&tail, p + i, size - i);
    h = rotl(h ^ (tail * 0x87C37B91114253D5ull) ^ size, 27) * 0x52DCE729ull + 0x38495AB5ull;
  }
  uint64_t done() const {
    uint64_t x = h;
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ull;
    return x ^ (x >> 33);
  }
};

}  // namespace

uint64_t hash64(const void* data, size_t size, uint64_t seed) {
  Hasher h(seed);
  h.add(data, size);
  return h.done();
}

uint64_t hash_file(const std::string& path) {
  MappedFile f(path);
  return hash64(f.data(), f.size(), f.size());
}

void write_token_cache(const std::string& path, const TokenStore& store, uint64_t key, const CacheCounts& counts) {
  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.version = kVersion;
  h.dtype = kDtypeInt32;
  h.num_samples = static_cast<int64_t>(store.record_index.size());
  h.num_messages = static_cast<int64_t>(store.msg_offsets.size()) - 1;
  h.num_tokens = static_cast<int64_t>(store.tokens.size());
  h.key = key;
  h.records_read = counts.records_read;
  h.skipped_records = counts.skipped_records;
  const size_t tok_bytes = store.tokens.size() * 4;
  static const char zeros[8] = {0};
  Hasher sum(0);
  sum.add(store.tokens.data(), tok_bytes);
  sum.add(zeros, pad8(tok_bytes) - tok_bytes);
  sum.add(store.msg_offsets.data(), store.msg_offsets.size() * 8);
  sum.add(store.sample_msgs.data(), store.sample_msgs.size() * 8);
  sum.add(store.record_index.data(), store.record_index.size() * 8);
  h.checksum = sum.done();
  AtomicFileWriter w(path);
  w.write({reinterpret_cast<const char*>(&h), sizeof h});
  w.write({reinterpret_cast<const char*>(store.tokens.data()), tok_bytes});
  w.write({zeros, pad8(tok_bytes) - tok_bytes});
  w.write({reinterpret_cast<const char*>(store.msg_offsets.data()), store.msg_offsets.size() * 8});
  w.write({reinterpret_cast<const char*>(store.sample_msgs.data()), store.sample_msgs.size() * 8});
  w.write({reinterpret_cast<const char*>(store.record_index.data()), store.record_index.size() * 8});
  w.commit();
}

std::unique_ptr<TokenCache> TokenCache::open(const std::string& path, uint64_t expected_key) {
  auto c = std::unique_ptr<TokenCache>(new TokenCache());
  c->file_ = std::make_unique<MappedFile>(path);
  const MappedFile& f = *c->file_;
  auto fail = [&](const std::string& what) -> void { throw Error(path + ": bad token cache: " + what); };
  if (f.size() < kHeader) fail("shorter than its header");
  Header h;
  std::memcpy(&h, f.data(), sizeof h);
  if (std::memcmp(h.magic, kMagic, 8) != 0) fail("wrong magic");
  if (h.version != kVersion) fail("version " + std::to_string(h.version) + ", expected " + std::to_string(kVersion));
  if (h.dtype != kDtypeInt32) fail("unknown token dtype " + std::to_string(h.dtype));
  if (h.key != expected_key) fail("key does not match its inputs");
  if (h.num_samples < 0 || h.num_messages < 0 || h.num_tokens < 0 || h.num_tokens > (int64_t(1) << 40) ||
      h.num_messages > (int64_t(1) << 40) || h.num_samples > (int64_t(1) << 40))
    fail("negative or huge counts");
  const size_t tok_bytes = pad8(static_cast<size_t>(h.num_tokens) * 4);
  const size_t expect = kHeader + tok_bytes + (h.num_messages + 1) * 8 + (h.num_samples + 1) * 8 + h.num_samples * 8;
  if (f.size() != expect) fail("size " + std::to_string(f.size()) + " bytes, expected " + std::to_string(expect));
  Hasher sum(0);
  const size_t raw_tok_bytes = static_cast<size_t>(h.num_tokens) * 4;
  sum.add(f.data() + kHeader, raw_tok_bytes);
  sum.add(f.data() + kHeader + raw_tok_bytes, tok_bytes - raw_tok_bytes);
  const char* p = f.data() + kHeader + tok_bytes;
  sum.add(p, (h.num_messages + 1) * 8);
  sum.add(p + (h.num_messages + 1) * 8, (h.num_samples + 1) * 8);
  sum.add(p + (h.num_messages + 1) * 8 + (h.num_samples + 1) * 8, h.num_samples * 8);
  if (sum.done() != h.checksum) fail("checksum mismatch (the file is corrupt)");
  TokenView& v = c->view_;
  v.tokens = reinterpret_cast<const int32_t*>(f.data() + kHeader);
  v.msg_offsets = reinterpret_cast<const int64_t*>(p);
  v.sample_msgs = v.msg_offsets + h.num_messages + 1;
  v.record_index = v.sample_msgs + h.num_samples + 1;
  v.num_samples = h.num_samples;
  v.num_messages = h.num_messages;
  v.num_tokens = h.num_tokens;
  if (v.msg_offsets[0] != 0 || v.msg_offsets[h.num_messages] != h.num_tokens) fail("message offsets out of range");
  for (int64_t m = 0; m < h.num_messages; ++m)
    if (v.msg_offsets[m] > v.msg_offsets[m + 1]) fail("message offsets not increasing");
  if (v.sample_msgs[0] != 0 || v.sample_msgs[h.num_samples] != h.num_messages) fail("sample offsets out of range");
  for (int64_t s = 0; s < h.num_samples; ++s)
    if (v.sample_msgs[s] > v.sample_msgs[s + 1] || (v.sample_msgs[s + 1] - v.sample_msgs[s]) % 2 != 0)
      fail("sample offsets not increasing in whole prompt/response pairs");
  c->counts_ = {h.records_read, h.skipped_records};
  return c;
}

}  // namespace packbench::data
