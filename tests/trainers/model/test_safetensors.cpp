// safetensors reading and writing: a hand-built file per the format, round trips of every dtype,
// sharded folders, and corrupt files (truncated, header past the end, bad dtype, overlaps, ...).
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tests/common/test_paths.h"
#include "trainers/model/safetensors.h"

namespace packbench::train {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A safetensors file from a header text and data bytes, built by hand.
std::string make_file(const std::string& header, const std::string& data) { return le64(header.size()) + header + data; }

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.begin(), s.size());
  return s;
}

std::string write_temp(const std::string& name, const std::string& bytes) {
  static const std::string dir = testing::temp_dir("safetensors");
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// The error message when opening `bytes` as a file, or "" when it opens.
std::string open_error(const std::string& name, const std::string& bytes) {
  const std::string path = write_temp(name, bytes);
  try {
    SafetensorsFile f(path);
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));  // every message names the file
    return e.what();
  }
  return "";
}

TEST(Safetensors, ReadsAHandBuiltFile) {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string bf16("\x80\x3f\x00\x40\x40\xc0", 6);  // 1.0, 2.0, -3.0 in bfloat16
  const std::string path = write_temp("hand.safetensors", make_file(header, floats({1.5f, -2.25f}) + bf16));
  SafetensorsFile f(path);
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const StTensorView& a = f.at("a");
  EXPECT_EQ(a.dtype, StDtype::kF32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2}));
  float v[2];
  std::memcpy(v, a.data, 8);
  EXPECT_EQ(v[0], 1.5f);
  EXPECT_EQ(v[1], -2.25f);
  const StTensorView& b = f.at("b");
  EXPECT_EQ(b.dtype, StDtype::kBF16);
  EXPECT_EQ(b.nbytes, 6u);
  EXPECT_EQ(std::memcmp(b.data, bf16.data(), 6), 0);
  try {
    f.at("c");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("'c'"));
  }
}

TEST(Safetensors, RoundTripsEveryDtypeWithAlignedHeader) {
  std::vector<float> f32 = {1, 2, 3, 4, 5, 6};
  std::vector<uint16_t> half = {0x3c00, 0xc000, 0x7bff};
  std::vector<double> f64 = {3.25};
  std::vector<StTensorView> views = {
      {"w.f32", StDtype::kF32, {2, 3}, reinterpret_cast<const uint8_t*>(f32.data()), 24},
      {"w.f16", StDtype::kF16, {3}, reinterpret_cast<const uint8_t*>(half.data()), 6},
      {"w.bf16", StDtype::kBF16, {3, 1}, reinterpret_cast<const uint8_t*>(half.data()), 6},
      {"w.f64", StDtype::kF64, {}, reinterpret_cast<const uint8_t*>(f64.data()), 8},
      {"empty", StDtype::kF32, {0, 4}, nullptr, 0},
  };
  const std::string path = testing::temp_dir("st_roundtrip") + "/m.safetensors";
  const uint64_t bytes = write_safetensors(path, views);
  EXPECT_EQ(bytes, fs::file_size(path));
  SafetensorsFile f(path);
  ASSERT_EQ(f.tensors().size(), views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    const StTensorView& got = f.tensors()[i];  // data order = write order
    EXPECT_EQ(got.name, views[i].name);
    EXPECT_EQ(got.dtype, views[i].dtype);
    EXPECT_EQ(got.shape, views[i].shape);
    ASSERT_EQ(got.nbytes, views[i].nbytes);
    if (got.nbytes) EXPECT_EQ(std::memcmp(got.data, views[i].data, got.nbytes), 0) << got.name;
  }
  // The data section starts 8-byte aligned, as other writers do it.
  std::string raw = read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  // A view whose byte count does not match its shape is refused.
  std::vector<StTensorView> bad = {{"x", StDtype::kF32, {3}, reinterpret_cast<const uint8_t*>(f32.data()), 8}};
  EXPECT_THROW(write_safetensors(path + ".bad", bad), Error);
}

TEST(Safetensors, CorruptFilesAreClearErrors) {
  const std::string good_header = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  const std::string data = floats({1, 2, 3, 4});
  ASSERT_EQ(open_error("good", make_file(good_header, data)), "");

  EXPECT_THAT(open_error("tiny", "abc"), HasSubstr("too short"));
  // Truncated: the last tensor's bytes are cut off.
  std::string trunc = open_error("trunc", make_file(good_header, data).substr(0, 8 + good_header.size() + 10));
  EXPECT_THAT(trunc, HasSubstr("'w'"));
  EXPECT_THAT(trunc, HasSubstr("truncated"));
  // Header length larger than the file.
  EXPECT_THAT(open_error("hdrlen", le64(1000) + good_header + data), HasSubstr("header length 1000 runs past the end"));
  EXPECT_THAT(open_error("hdrhuge", le64(~0ull) + good_header), HasSubstr("runs past the end"));
  // Not JSON.
  EXPECT_THAT(open_error("json", make_file("{not json", data)), HasSubstr("not valid JSON"));
  // Unsupported dtype.
  std::string dt = open_error("dtype", make_file(R"({"w":{"dtype":"Q4","shape":[4],"data_offsets":[0,16]}})", data));
  EXPECT_THAT(dt, HasSubstr("unsupported dtype 'Q4'"));
  EXPECT_THAT(dt, HasSubstr("'w'"));
  // Shape and byte count disagree.
  EXPECT_THAT(open_error("shape", make_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", data)),
              HasSubstr("needs 12 bytes"));
  EXPECT_THAT(open_error("negdim", make_file(R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", data)),
              HasSubstr("negative"));
  // Overlapping tensors.
  std::string ov = open_error("overlap", make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
                                                   R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", data));
  EXPECT_THAT(ov, HasSubstr("overlap"));
  EXPECT_THAT(ov, HasSubstr("'a'"));
  EXPECT_THAT(ov, HasSubstr("'b'"));
  // Offsets backwards, missing fields.
  EXPECT_THAT(open_error("back", make_file(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[16,0]}})", data)),
              HasSubstr("end before"));
  EXPECT_THAT(open_error("nooff", make_file(R"({"w":{"dtype":"F32","shape":[4]}})", data)), HasSubstr("data_offsets"));
}

TEST(Safetensors, ShardedCheckpointFolders) {
  std::vector<std::vector<float>> bufs;
  std::vector<StTensorView> views;
  for (int i = 0; i < 5; ++i) bufs.emplace_back(100, static_cast<float>(i));
  for (int i = 0; i < 5; ++i) {
    views.push_back({"layer." + std::to_string(i), StDtype::kF32, {10, 10}, reinterpret_cast<const uint8_t*>(bufs[i].data()), 400});
  }
  const std::string single = testing::temp_dir("st_single");
  EXPECT_EQ(write_safetensors_checkpoint(single, views, 1 << 20), (std::vector<std::string>{"model.safetensors"}));
  const std::string sharded = testing::temp_dir("st_sharded");
  auto files = write_safetensors_checkpoint(sharded, views, 900);  // two tensors per shard
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[0], "model-00001-of-00003.safetensors");
  EXPECT_EQ(files[3], "model.safetensors.index.json");
  for (const std::string& dir : {single, sharded}) {
    SafetensorsCheckpoint ck(dir);
    ASSERT_EQ(ck.names().size(), 5u) << dir;
    for (int i = 0; i < 5; ++i) {
      const StTensorView& v = ck.at("layer." + std::to_string(i));
      float x;
      std::memcpy(&x, v.data + 396, 4);
      EXPECT_EQ(x, static_cast<float>(i));
    }
    EXPECT_THROW(ck.at("nope"), Error);
  }
  EXPECT_EQ(SafetensorsCheckpoint(sharded).files().size(), 3u);
  // An index that points a tensor at the wrong shard is an error naming the tensor.
  std::string index = read_file(sharded + "/model.safetensors.index.json");
  const std::string from = "\"layer.0\": \"model-00001-of-00003.safetensors\"";
  ASSERT_NE(index.find(from), std::string::npos) << index;
  index.replace(index.find(from), from.size(), "\"layer.0\": \"model-00002-of-00003.safetensors\"");
  write_file_atomic(sharded + "/model.safetensors.index.json", index);
  try {
    SafetensorsCheckpoint bad(sharded);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("'layer.0'"));
  }
  EXPECT_THROW(SafetensorsCheckpoint(testing::temp_dir("st_empty")), Error);
}

}  // namespace
}  // namespace packbench::train
