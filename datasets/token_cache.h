// The tokenized cache: a documented binary file of templated token ids, memory-mapped on reuse.
//
// File layout (little-endian; every section starts at a multiple of 8 bytes):
//   offset 0   char[8]  magic "PBTOKC\0\1"
//          8   u32      version (1)
//         12   u32      token dtype (1 = int32)
//         16   i64      num_samples
//         24   i64      num_messages
//         32   i64      num_tokens
//         40   u64      key (hash of data files, dataset spec, tokenizer.json, template, options)
//         48   i64      records_read (records seen in the data files, skipped ones included)
//         56   i64      skipped_records
//         64   u64      payload checksum (hash64 of every byte after the header)
//         72   u64      reserved (0)
//         80   int32    tokens[num_tokens], zero-padded to a multiple of 8 bytes
//              int64    msg_offsets[num_messages + 1]   (token offset of each message)
//              int64    sample_msgs[num_samples + 1]    (message offset of each sample)
//              int64    record_index[num_samples]       (record index in its file)
// Messages are stored untruncated and without labels: cutoff_len, labels (train_on_prompt,
// mask_history) and the row method are applied when rows are built, so one cache file serves
// every cutoff and method; the cutoff is therefore not part of the key. Files are written with
// AtomicFileWriter (temporary name + rename), so a crash never leaves a half-written cache.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/mapped_file.h"
#include "datasets/token_store.h"

namespace packbench::data {

// A fast 64-bit hash (for cache keys and the payload checksum).
uint64_t hash64(const void* data, size_t size, uint64_t seed = 0);
inline uint64_t hash64(std::string_view s, uint64_t seed = 0) { return hash64(s.data(), s.size(), seed); }
// Hash of a whole file's bytes (memory-mapped).
uint64_t hash_file(const std::string& path);

struct CacheCounts {
  int64_t records_read = 0, skipped_records = 0;
};

// Writes `store` to `path` atomically.
void write_token_cache(const std::string& path, const TokenStore& store, uint64_t key, const CacheCounts& counts);

// A memory-mapped cache file, validated on open (magic, version, dtype, key, sizes, checksum,
// monotonic offsets). open() throws packbench::Error naming the file and what is wrong.
class TokenCache {
 public:
  static std::unique_ptr<TokenCache> open(const std::string& path, uint64_t expected_key);
  const TokenView& view() const { return view_; }
  const CacheCounts& counts() const { return counts_; }

 private:
  std::unique_ptr<MappedFile> file_;
  TokenView view_;
  CacheCounts counts_;
};

}  // namespace packbench::data
