// Tokenized cache: round trip through the documented format, and every kind of corruption caught.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "datasets/token_cache.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

using namespace packbench::data;

using packbench::testing::error_of;

namespace {

TokenStore sample_store() {
  TokenStore st;
  st.add({{1, 2, 3}, {4, 5}}, 0);
  st.add({{6}, {7}, {8, 9}, {10}}, 2);
  st.add({{11, 12, 13, 14, 15}, {16}}, 3);
  return st;
}

void corrupt(const std::string& path, size_t offset, char value) {
  std::string bytes = packbench::read_file(path);
  bytes[offset] = value;
  packbench::write_file_atomic(path, bytes);
}

}  // namespace

TEST(TokenCache, RoundTripThroughTheFile) {
  std::string dir = packbench::testing::temp_dir("cache");
  std::string path = dir + "/x.pbtok";
  TokenStore st = sample_store();
  write_token_cache(path, st, 42, {5, 1});
  auto c = TokenCache::open(path, 42);
  const TokenView& v = c->view();
  ASSERT_EQ(v.num_samples, 3);
  ASSERT_EQ(v.num_messages, 8);
  ASSERT_EQ(v.num_tokens, 16);
  EXPECT_EQ(v.length(1), 5);
  auto m = v.messages(1);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(std::vector<int32_t>(m[2].ids, m[2].ids + m[2].size), (std::vector<int32_t>{8, 9}));
  EXPECT_EQ(v.record_index[2], 3);
  EXPECT_EQ(c->counts().records_read, 5);
  EXPECT_EQ(c->counts().skipped_records, 1);
  // The header is laid out as documented: magic, version 1, dtype 1, counts at fixed offsets.
  std::string bytes = packbench::read_file(path);
  EXPECT_EQ(bytes.substr(0, 6), "PBTOKC");
  EXPECT_EQ(bytes[8], 1);
  EXPECT_EQ(bytes[12], 1);
  EXPECT_EQ(bytes[16], 3);  // num_samples
  EXPECT_EQ(bytes[24], 8);  // num_messages
  EXPECT_EQ(bytes[32], 16);  // num_tokens
  EXPECT_EQ(bytes.size(), 80u + 64u + 9 * 8 + 4 * 8 + 3 * 8);
  EXPECT_EQ(bytes[80], 1);  // first token
}

TEST(TokenCache, CorruptionIsCaughtWithAMessage) {
  std::string dir = packbench::testing::temp_dir("cache");
  std::string path = dir + "/x.pbtok";
  TokenStore st = sample_store();
  write_token_cache(path, st, 42, {});
  EXPECT_NE(error_of([&] { TokenCache::open(path, 43); }).find("key does not match"), std::string::npos);
  corrupt(path, 85, 77);  // a token byte
  EXPECT_NE(error_of([&] { TokenCache::open(path, 42); }).find("checksum mismatch"), std::string::npos);
  write_token_cache(path, st, 42, {});
  corrupt(path, 0, 'X');
  EXPECT_NE(error_of([&] { TokenCache::open(path, 42); }).find("wrong magic"), std::string::npos);
  write_token_cache(path, st, 42, {});
  corrupt(path, 8, 9);
  EXPECT_NE(error_of([&] { TokenCache::open(path, 42); }).find("version 9"), std::string::npos);
  write_token_cache(path, st, 42, {});
  std::string bytes = packbench::read_file(path);
  packbench::write_file_atomic(path, bytes.substr(0, bytes.size() - 8));
  EXPECT_NE(error_of([&] { TokenCache::open(path, 42); }).find("size"), std::string::npos);
  packbench::write_file_atomic(path, "PB");
  EXPECT_NE(error_of([&] { TokenCache::open(path, 42); }).find("shorter than its header"), std::string::npos);
  EXPECT_NE(error_of([&] { TokenCache::open(dir + "/missing.pbtok", 42); }).find("cannot open"), std::string::npos);
}

TEST(TokenCache, HashDependsOnEveryByte) {
  std::string a = "hello world, this is a cache key";
  std::string b = a;
  b[5] = '_';
  EXPECT_NE(hash64(a), hash64(b));
  EXPECT_NE(hash64(a), hash64(a.substr(0, a.size() - 1)));
  EXPECT_EQ(hash64(a), hash64(std::string(a)));
}
