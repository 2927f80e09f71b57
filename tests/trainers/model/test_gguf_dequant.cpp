// GGUF dequantization against llama.cpp's gguf Python package (bit-identical float32) and hand-computed blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/paths.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"
#include "trainers/model/gguf.h"
#include "trainers/model/gguf_dequant.h"

using namespace packbench::train;
using packbench::testing::run_command;
using packbench::testing::source_dir;
using packbench::testing::temp_dir;

using packbench::testing::slurp;

namespace {

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// zlib's CRC-32 (polynomial 0xEDB88320), as Python's zlib.crc32 computes it.
uint32_t crc32(const void* data, size_t n) {
  static uint32_t table[256];
  static bool ready = [] {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    return true;
  }();
  (void)ready;
  uint32_t c = 0xFFFFFFFFu;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

GgmlType type_named(const std::string& name) {
  for (uint32_t t = 0; t < 64; ++t) {
    const GgmlTypeInfo* i = ggml_type_info(t);
    if (i && name == i->name) return static_cast<GgmlType>(t);
  }
  throw packbench::Error("unknown type " + name);
}

std::string reference_script() { return source_dir() + "/scripts/reference/gguf_dequant_ref.py"; }

}  // namespace

TEST(GgufDequant, HalfToFloatEdgeCases) {
  EXPECT_EQ(half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_to_float(0xC000), -2.0f);
  EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));       // smallest subnormal
  EXPECT_EQ(half_to_float(0x03FF), 1023 * std::ldexp(1.0f, -24));  // largest subnormal
  EXPECT_EQ(bits_of(half_to_float(0x8000)), 0x80000000u);          // -0
  EXPECT_TRUE(std::isinf(half_to_float(0x7C00)));
  EXPECT_EQ(bits_of(half_to_float(0x7E01)), 0x7FC02000u);  // NaN payload kept
}

TEST(GgufDequant, HandComputedBlocks) {
  // Q4_0: d = 0.5 (f16 0x3800); byte j = (hi << 4) | lo; x = d * (q - 8).
  uint8_t q40[18] = {0x00, 0x38};
  for (int j = 0; j < 16; ++j) q40[2 + j] = static_cast<uint8_t>((15 - j) << 4 | j);
  float y[32];
  dequantize_ggml(GgmlType::kQ4_0, q40, 32, y);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * (j - 8)) << j;
    EXPECT_EQ(y[j + 16], 0.5f * (15 - j - 8)) << j;
  }
  // Q5_1: d = 1, m = -16 (f16 0xCC00); fifth bits set for even elements.
  uint8_t q51[24] = {0x00, 0x3C, 0x00, 0xCC};
  const uint32_t qh = 0x55555555u;
  std::memcpy(q51 + 4, &qh, 4);
  for (int j = 0; j < 16; ++j) q51[8 + j] = static_cast<uint8_t>(j << 4 | j);
  dequantize_ggml(GgmlType::kQ5_1, q51, 32, y);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], static_cast<float>((j % 16) + ((j % 2 == 0) ? 16 : 0) - 16)) << j;
  // Q6_K: d = 1, all scales 2, ql = 0x21, qh = 0: element e is 2 * ((e/64 odd ? 2 : 1) - 32).
  uint8_t q6[210] = {};
  for (int k = 0; k < 128; ++k) q6[k] = 0x21;
  for (int k = 0; k < 16; ++k) q6[192 + k] = 2;
  q6[208] = 0x00;
  q6[209] = 0x3C;
  float z[256];
  dequantize_ggml(GgmlType::kQ6_K, q6, 256, z);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(z[e], 2.0f * (((e % 128) / 64 ? 2 : 1) - 32)) << e;

  EXPECT_THROW(dequantize_ggml(GgmlType::kQ4_0, q40, 16, y), packbench::Error);  // half a block
  EXPECT_THROW(dequantize_ggml(GgmlType::kQ2_K, q6, 256, z), packbench::Error);  // unsupported type
  EXPECT_FALSE(ggml_can_dequantize(GgmlType::kIQ2_XXS));
}

// Every supported type on blocks from gguf.quants.quantize (or random blocks where the package
// cannot quantize that type), against gguf.quants.dequantize.
TEST(GgufDequant, EveryTypeMatchesTheGgufPackageBitForBit) {
  PB_REQUIRE_VENV(python);
  const std::string dir = temp_dir("gguf_blocks");
  std::string out;
  ASSERT_EQ(run_command(python + " " + reference_script() + " blocks " + dir, &out), 0) << out;
  const auto manifest = nlohmann::json::parse(slurp(dir + "/manifest.json"));
  std::set<std::string> seen;
  for (const auto& m : manifest) {
    const std::string name = m["type"];
    const int64_t n = m["n"];
    const std::string raw = slurp(dir + "/" + name + ".raw"), want = slurp(dir + "/" + name + ".f32");
    ASSERT_EQ(want.size(), static_cast<size_t>(n) * 4) << name;
    const GgmlTypeInfo* info = ggml_type_info(static_cast<uint32_t>(type_named(name)));
    ASSERT_EQ(raw.size(), static_cast<size_t>(n / info->block_size * info->type_size)) << name;
    std::vector<float> got(static_cast<size_t>(n));
    dequantize_ggml(type_named(name), reinterpret_cast<const uint8_t*>(raw.data()), n, got.data());
    int64_t differing = 0, first = -1;
    for (int64_t i = 0; i < n; ++i) {
      uint32_t w;
      std::memcpy(&w, want.data() + 4 * i, 4);
      if (bits_of(got[static_cast<size_t>(i)]) != w && ++differing == 1) first = i;
    }
    float wf = 0;
    if (first >= 0) std::memcpy(&wf, want.data() + 4 * first, 4);
    EXPECT_EQ(differing, 0) << name << " (" << m["source"].get<std::string>() << "): first difference at " << first
                            << ": packbench " << (first >= 0 ? got[static_cast<size_t>(first)] : 0) << ", gguf " << wf;
    seen.insert(name);
  }
  EXPECT_EQ(seen.size(), 11u) << "the reference should cover every supported type";
}

// The SmolLM2 GGUF: metadata and tensor infos as the gguf package reads them, and every tensor
// dequantized (CRC-32 of all float32 bytes plus 64 sampled values) equal to gguf.quants.dequantize.
TEST(GgufDequant, SmolLM2FileMatchesTheGgufPackage) {
  PB_REQUIRE_VENV(python);
  const std::string gguf = packbench::smollm2_gguf();
  if (gguf.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found: run scripts/setup.sh";
  const std::string json_path = temp_dir("gguf_smollm2") + "/reference.json";
  std::string out;
  ASSERT_EQ(run_command(python + " " + reference_script() + " tensors " + gguf + " " + json_path, &out), 0) << out;
  const auto ref = nlohmann::json::parse(slurp(json_path));

  GgufFile f(gguf);
  // Metadata: same keys, types and values.
  EXPECT_EQ(f.keys().size(), ref["metadata"].size());
  for (const auto& [key, m] : ref["metadata"].items()) {
    const GgufValue* v = f.find(key);
    ASSERT_NE(v, nullptr) << key;
    EXPECT_EQ(gguf_type_name(v->type), m["type"].get<std::string>()) << key;
    if (v->type == GgufType::kArray) {
      EXPECT_EQ(gguf_type_name(v->elem_type), m["elem_type"].get<std::string>()) << key;
      ASSERT_EQ(v->items.size(), m["count"].get<size_t>()) << key;
      for (size_t i = 0; i < m["value"].size(); ++i) {
        const GgufValue& it = v->items[i];
        if (it.type == GgufType::kString) {
          EXPECT_EQ(it.s, m["value"][i].get<std::string>()) << key << "[" << i << "]";
        } else if (it.is_integer()) {
          EXPECT_EQ(it.type == GgufType::kInt32 ? it.i : static_cast<int64_t>(it.u), m["value"][i].get<int64_t>()) << key;
        }
      }
    } else if (v->type == GgufType::kString) {
      EXPECT_EQ(v->s, m["value"].get<std::string>()) << key;
    } else if (v->type == GgufType::kBool) {
      EXPECT_EQ(v->b, m["value"].get<bool>()) << key;
    } else if (v->is_float()) {
      EXPECT_EQ(v->f, m["value"].get<double>()) << key;
    } else {
      EXPECT_EQ(f.get_int(key), m["value"].get<int64_t>()) << key;
    }
  }
  // Tensors: names, types, shapes, offsets, and the dequantized values.
  const auto& tensors = ref["tensors"];
  ASSERT_EQ(f.tensors().size(), tensors.size());
  std::map<std::string, int> types;
  for (size_t k = 0; k < tensors.size(); ++k) {
    const auto& r = tensors[k];
    const GgufTensorInfo& t = f.tensors()[k];
    ASSERT_EQ(t.name, r["name"].get<std::string>());
    EXPECT_EQ(ggml_type_name(t.type), r["type"].get<std::string>()) << t.name;
    EXPECT_EQ(t.shape(), r["shape"].get<std::vector<int64_t>>()) << t.name;
    EXPECT_EQ(f.data_offset() + t.offset, r["offset"].get<uint64_t>()) << t.name;
    const std::vector<float> x = dequantize_tensor(f, t);
    for (const auto& s : r["samples"]) {
      const auto i = s[0].get<size_t>();
      ASSERT_LT(i, x.size());
      EXPECT_EQ(bits_of(x[i]), s[1].get<uint32_t>()) << t.name << " element " << i;
    }
    EXPECT_EQ(crc32(x.data(), x.size() * 4), r["crc32"].get<uint32_t>()) << t.name << " (" << r["type"] << ")";
    types[r["type"]] += 1;
  }
  EXPECT_GT(types["Q4_1"], 0);
  EXPECT_GT(types["Q8_0"], 0);
  EXPECT_GT(types["F32"], 0);
}
