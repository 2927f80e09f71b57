// GGUF reader on hand-built files: every value type, alignment, tensor data, and clear errors on malformed or truncated input.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "core/error.h"
#include "tests/common/test_paths.h"
#include "tests/trainers/model/gguf_test_writer.h"
#include "trainers/model/gguf.h"

using namespace packbench::train;
using packbench::testing::GgufWriter;

namespace {

std::string write_tmp(const std::string& name, const std::string& bytes) {
  static const std::string dir = packbench::testing::temp_dir("gguf_reader");
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// The error message reading `bytes` gives (fails the test when it reads fine).
std::string error_of(const std::string& name, const std::string& bytes) {
  const std::string path = write_tmp(name, bytes);
  try {
    GgufFile f(path);
  } catch (const packbench::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << "the message should name the file: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << name << ": read without an error";
  return "";
}

std::string floats(const std::vector<float>& v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4); }

GgufWriter full_writer() {
  GgufWriter w;
  w.scalar<uint8_t>("t.u8", GgufWriter::U8, 200);
  w.scalar<int8_t>("t.i8", GgufWriter::I8, -100);
  w.scalar<uint16_t>("t.u16", GgufWriter::U16, 60000);
  w.scalar<int16_t>("t.i16", GgufWriter::I16, -30000);
  w.u32("t.u32", 4000000000u);
  w.scalar<int32_t>("t.i32", GgufWriter::I32, -2000000000);
  w.f32("t.f32", 0.1f);
  w.boolean("t.bool", true);
  w.str("t.str", "héllo\nwörld");
  w.scalar<uint64_t>("t.u64", GgufWriter::U64, 18000000000000000000ull);
  w.scalar<int64_t>("t.i64", GgufWriter::I64, -9000000000000000000ll);
  w.scalar<double>("t.f64", GgufWriter::F64, 1e-300);
  w.strs("t.strs", {"a", "", "ĠHello"});
  w.i32s("t.i32s", {1, -2, 3});
  {  // an array of two arrays of UINT8
    std::string b;
    GgufWriter::put<uint32_t>(b, GgufWriter::ARR);
    GgufWriter::put<uint64_t>(b, 2);
    for (int k = 0; k < 2; ++k) {
      GgufWriter::put<uint32_t>(b, GgufWriter::U8);
      GgufWriter::put<uint64_t>(b, 3);
      for (uint8_t x : {1, 2, 3}) GgufWriter::put<uint8_t>(b, static_cast<uint8_t>(x + 10 * k));
    }
    w.raw("t.nested", GgufWriter::ARR, b);
  }
  w.u32("general.alignment", 64);
  w.tensor("a", {3, 2}, 0, floats({1, 2, 3, 4, 5, 6}));
  std::string q8(34, '\0');  // one Q8_0 block
  q8[2] = 5;
  w.tensor("b.weight", {32}, 8, q8);
  return w;
}

}  // namespace

TEST(GgufReader, ReadsEveryValueTypeAndTensorInfo) {
  const std::string path = write_tmp("full.gguf", full_writer().build(64));
  GgufFile f(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.keys().size(), 16u);
  EXPECT_EQ(f.keys().front(), "t.u8");
  EXPECT_EQ(f.get_uint("t.u8"), 200u);
  EXPECT_EQ(f.get_int("t.i8"), -100);
  EXPECT_EQ(f.get_uint("t.u16"), 60000u);
  EXPECT_EQ(f.get_int("t.i16"), -30000);
  EXPECT_EQ(f.get_uint("t.u32"), 4000000000u);
  EXPECT_EQ(f.get_int("t.i32"), -2000000000);
  EXPECT_EQ(f.get_float("t.f32"), static_cast<double>(0.1f));
  EXPECT_TRUE(f.get_bool("t.bool"));
  EXPECT_EQ(f.get_string("t.str"), "héllo\nwörld");
  EXPECT_EQ(f.get_uint("t.u64"), 18000000000000000000ull);
  EXPECT_EQ(f.get_int("t.i64"), -9000000000000000000ll);
  EXPECT_EQ(f.get_float("t.f64"), 1e-300);
  EXPECT_EQ(f.get_strings("t.strs"), (std::vector<std::string>{"a", "", "ĠHello"}));
  EXPECT_EQ(f.get_ints("t.i32s"), (std::vector<int64_t>{1, -2, 3}));
  const GgufValue& nested = f.at("t.nested");
  ASSERT_EQ(nested.type, GgufType::kArray);
  ASSERT_EQ(nested.elem_type, GgufType::kArray);
  ASSERT_EQ(nested.items.size(), 2u);
  EXPECT_EQ(nested.items[1].items[2].u, 13u);

  ASSERT_EQ(f.tensors().size(), 2u);
  const GgufTensorInfo& a = f.tensor("a");
  EXPECT_EQ(a.ne, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(a.shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.nbytes, 24u);
  float v[6];
  std::memcpy(v, a.data, 24);
  EXPECT_EQ(v[5], 6.0f);
  const GgufTensorInfo& b = f.tensor("b.weight");
  EXPECT_EQ(b.type, GgmlType::kQ8_0);
  EXPECT_EQ(b.nbytes, 34u);
  EXPECT_EQ(b.offset, 64u);  // the first tensor's 24 bytes padded to the alignment
  EXPECT_EQ(b.data[2], 5);
}

TEST(GgufReader, TypedAccessErrorsNameTheKey) {
  GgufFile f(write_tmp("typed.gguf", full_writer().build(64)));
  auto msg = [&](auto fn) {
    try {
      fn();
    } catch (const packbench::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(msg([&] { f.get_string("t.u32"); }).find("metadata key 't.u32': expected STRING, got UINT32"), std::string::npos);
  EXPECT_NE(msg([&] { f.get_uint("t.i8"); }).find("'t.i8': -100 is negative"), std::string::npos);
  EXPECT_NE(msg([&] { f.get_int("t.u64"); }).find("'t.u64'"), std::string::npos);
  EXPECT_NE(msg([&] { f.get_strings("t.i32s"); }).find("expected ARRAY of STRING, got ARRAY of INT32"), std::string::npos);
  EXPECT_NE(msg([&] { f.at("no.such.key"); }).find("metadata key 'no.such.key' is missing"), std::string::npos);
  EXPECT_NE(msg([&] { f.tensor("c"); }).find("tensor 'c' is missing"), std::string::npos);
}

TEST(GgufReader, EveryTruncationIsAnErrorNamingTheFile) {
  const std::string bytes = full_writer().build(64);
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::string msg = error_of("cut.gguf", bytes.substr(0, n));
    if (n == 0) continue;  // an empty file cannot even be mapped; the message still names it
    EXPECT_TRUE(msg.find("truncated") != std::string::npos || msg.find("not a GGUF file") != std::string::npos)
        << "cut at " << n << ": " << msg;
  }
  // Cut inside a key's value: the message names the key.
  const size_t at = bytes.find("t.str") + 5 + 4 + 8 + 3;
  const std::string cut_msg = error_of("cut_str.gguf", bytes.substr(0, at));
  EXPECT_NE(cut_msg.find("metadata key 't.str'"), std::string::npos) << cut_msg;
}

TEST(GgufReader, MalformedHeadersAreErrorsNamingTheKeyOrTensor) {
  std::string good = full_writer().build(64);
  std::string bad = good;
  bad[0] = 'X';
  EXPECT_NE(error_of("magic.gguf", bad).find("not a GGUF file"), std::string::npos);
  EXPECT_NE(error_of("v1.gguf", full_writer().build(64, 1)).find("version 1"), std::string::npos);
  EXPECT_NE(error_of("v9.gguf", full_writer().build(64, 9)).find("unknown GGUF version 9"), std::string::npos);

  {  // unknown value type
    GgufWriter w;
    w.raw("odd.key", 77, "");
    EXPECT_NE(error_of("vtype.gguf", w.build()).find("metadata key 'odd.key': unknown value type 77"), std::string::npos);
  }
  {  // a BOOL that is neither 0 nor 1
    GgufWriter w;
    w.scalar<uint8_t>("flag", GgufWriter::BOOL, 2);
    EXPECT_NE(error_of("bool.gguf", w.build()).find("metadata key 'flag': BOOL value 2"), std::string::npos);
  }
  {  // duplicate key
    GgufWriter w;
    w.u32("k", 1);
    w.u32("k", 2);
    EXPECT_NE(error_of("dup.gguf", w.build()).find("metadata key 'k': appears twice"), std::string::npos);
  }
  {  // an array length larger than the file
    GgufWriter w;
    std::string b;
    GgufWriter::put<uint32_t>(b, GgufWriter::U32);
    GgufWriter::put<uint64_t>(b, 1ull << 60);
    w.raw("huge", GgufWriter::ARR, b);
    EXPECT_NE(error_of("huge.gguf", w.build()).find("metadata key 'huge': truncated: an array of"), std::string::npos);
  }
  {  // alignment that is not a power of two
    GgufWriter w;
    w.u32("general.alignment", 48);
    EXPECT_NE(error_of("align.gguf", w.build()).find("'general.alignment': 48 is not a power of two"), std::string::npos);
  }
  {  // unknown tensor type
    GgufWriter w;
    w.tensor("w.weight", {32}, 5, std::string(32, '\0'));
    EXPECT_NE(error_of("ttype.gguf", w.build()).find("tensor 'w.weight': unknown tensor type 5"), std::string::npos);
  }
  {  // a first dim that is not a whole number of blocks
    GgufWriter w;
    w.tensor("q.weight", {48}, 2, std::string(18, '\0'));
    EXPECT_NE(error_of("blocks.gguf", w.build()).find("tensor 'q.weight': dims [48]: the first dim is not a multiple of Q4_0's block size 32"),
              std::string::npos);
  }
  {  // data that ends past the end of the file
    GgufWriter w;
    w.tensor("short.weight", {16}, 0, std::string(40, '\0'));  // needs 64 bytes
    EXPECT_NE(error_of("past.gguf", w.build(32)).find("tensor 'short.weight' (F32 [16], 64 bytes at data offset 0) ends past the end"),
              std::string::npos);
  }
  {  // zero or too many dims
    GgufWriter w;
    w.tensor("z", {}, 0, "");
    EXPECT_NE(error_of("dims0.gguf", w.build()).find("tensor 'z': 0 dims"), std::string::npos);
    GgufWriter w5;
    w5.tensor("five", {1, 1, 1, 1, 1}, 0, std::string(4, '\0'));
    EXPECT_NE(error_of("dims5.gguf", w5.build()).find("tensor 'five': 5 dims"), std::string::npos);
  }
  {  // a misaligned data offset: patch the second tensor's offset in a valid file
    GgufWriter w;
    w.tensor("t0", {8}, 0, std::string(32, '\0'));
    w.tensor("t1", {8}, 0, std::string(32, '\0'));
    std::string b = w.build(32);
    const size_t pos = b.find("t1") + 2 + 4 + 8 + 4;  // name, n_dims, dim, type
    uint64_t off = 33;
    std::memcpy(&b[pos], &off, 8);
    EXPECT_NE(error_of("misaligned.gguf", b).find("tensor 't1': data offset 33 is not a multiple of the alignment 32"), std::string::npos);
    off = 0;  // both at 0: overlap
    std::memcpy(&b[pos], &off, 8);
    EXPECT_NE(error_of("overlap.gguf", b).find("overlap"), std::string::npos);
  }
}
