// GGUF dequantization: each block type's layout and its float32 arithmetic in one small function.
//
// Bit-identity with the gguf Python package needs each value computed with the same float32
// operations in the same order (e.g. Q4_1 is (d * q) + m, two roundings): this file is compiled
// with -ffp-contract=off (trainers/CMakeLists.txt) so no multiply-add is fused.
#include "trainers/model/gguf_dequant.h"

#include <cstring>

#include <fmt/core.h>

#include "core/error.h"

namespace packbench::train {

namespace {

uint16_t u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
uint32_t u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
float f16(const uint8_t* p) { return half_to_float(u16(p)); }

// ---- 32-element blocks ----

// Q4_0: d (f16), 16 bytes of 4-bit values (low nibbles are elements 0-15, high 16-31); x = d * (q - 8).
void block_q4_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>((qs[j] & 0x0F) - 8);
    y[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
  }
}

// Q4_1: d, m (f16), 16 bytes of 4-bit values; x = d * q + m.
void block_q4_1(const uint8_t* b, float* y) {
  const float d = f16(b), m = f16(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(qs[j] & 0x0F) + m;
    y[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
  }
}

// Q5_0: d (f16), qh (32 fifth bits, bit j for element j), 16 bytes of low nibbles; x = d * (q - 16).
void block_q5_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  const uint32_t qh = u32(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * static_cast<float>(lo - 16);
    y[j + 16] = d * static_cast<float>(hi - 16);
  }
}

// Q5_1: d, m (f16), qh, 16 bytes of low nibbles; x = d * q + m.
void block_q5_1(const uint8_t* b, float* y) {
  const float d = f16(b), m = f16(b + 2);
  const uint32_t qh = u32(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * static_cast<float>(lo) + m;
    y[j + 16] = d * static_cast<float>(hi) + m;
  }
}

// Q8_0: d (f16), 32 signed bytes; x = q * d.
void block_q8_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

// ---- 256-element "K" blocks ----

// The 6-bit scale and min of sub-block j (0-7) of Q4_K/Q5_K, packed in 12 bytes: bytes 0-3 hold
// the scales of 0-3 (low 6 bits) and the top 2 bits of scales 4-7; bytes 4-7 the same for the
// mins; bytes 8-11 the low 4 bits of scales 4-7 (low nibble) and mins 4-7 (high nibble).
void k_scale_min(const uint8_t* s, int j, int* sc, int* mn) {
  if (j < 4) {
    *sc = s[j] & 0x3F;
    *mn = s[j + 4] & 0x3F;
  } else {
    *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 2) & 0x30);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 2) & 0x30);
  }
}

// Q4_K: d, dmin (f16), 12 scale bytes, 128 bytes of 4-bit values; 8 sub-blocks of 32, sub-block
// 2g is the low nibbles of bytes 32g..32g+31, 2g+1 their high nibbles; x = (d*sc) * q - (dmin*m).
void block_q4_k(const uint8_t* b, float* y) {
  const float d = f16(b), dmin = f16(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qs = b + 16;
  for (int j = 0; j < 8; ++j) {
    int sc, mn;
    k_scale_min(scales, j, &sc, &mn);
    const float ds = d * static_cast<float>(sc), ms = dmin * static_cast<float>(mn);
    const uint8_t* q = qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    for (int l = 0; l < 32; ++l) {
      const float v = ds * static_cast<float>((q[l] >> shift) & 0x0F);
      y[32 * j + l] = v - ms;
    }
  }
}

// Q5_K: as Q4_K plus 32 bytes qh after the scales: bit j of qh[l] is the fifth bit of element l
// of sub-block j.
void block_q5_k(const uint8_t* b, float* y) {
  const float d = f16(b), dmin = f16(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int j = 0; j < 8; ++j) {
    int sc, mn;
    k_scale_min(scales, j, &sc, &mn);
    const float ds = d * static_cast<float>(sc), ms = dmin * static_cast<float>(mn);
    const uint8_t* q = qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    for (int l = 0; l < 32; ++l) {
      const int v = ((q[l] >> shift) & 0x0F) | (((qh[l] >> j) & 1) << 4);
      const float x = ds * static_cast<float>(v);
      y[32 * j + l] = x - ms;
    }
  }
}

// Q6_K: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 signed scales, d (f16). Two
// halves of 128 elements: in half h, element r takes ql[64h + r%64] nibble r/64 and qh[32h + r%32]
// bits 2*(r/32); x = (d * scale[e/16]) * (q - 32).
void block_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = f16(b + 208);
  float ds[16];
  for (int k = 0; k < 16; ++k) ds[k] = d * static_cast<float>(scales[k]);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, r = e % 128;
    const int lo = (ql[64 * h + r % 64] >> (4 * (r / 64))) & 0x0F;
    const int hi = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 0x03;
    y[e] = ds[e / 16] * static_cast<float>(static_cast<int8_t>(lo | (hi << 4)) - 32);
  }
}

using BlockFn = void (*)(const uint8_t*, float*);

BlockFn block_fn(GgmlType type) {
  switch (type) {
    case GgmlType::kQ4_0: return block_q4_0;
    case GgmlType::kQ4_1: return block_q4_1;
    case GgmlType::kQ5_0: return block_q5_0;
    case GgmlType::kQ5_1: return block_q5_1;
    case GgmlType::kQ8_0: return block_q8_0;
    case GgmlType::kQ4_K: return block_q4_k;
    case GgmlType::kQ5_K: return block_q5_k;
    case GgmlType::kQ6_K: return block_q6_k;
    default: return nullptr;
  }
}

}  // namespace

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1F, man = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (man << 13);  // infinity or NaN, payload kept
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);  // normal: rebias 15 -> 127
  } else {
    const float v = static_cast<float>(man) * 5.9604644775390625e-08f;  // subnormal: man * 2^-24, exact
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

bool ggml_can_dequantize(GgmlType type) {
  return type == GgmlType::kF32 || type == GgmlType::kF16 || type == GgmlType::kBF16 || block_fn(type) != nullptr;
}

std::string ggml_dequantizable_names() { return "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K"; }

void dequantize_ggml(GgmlType type, const uint8_t* src, int64_t n, float* out) {
  const GgmlTypeInfo* info = ggml_type_info(static_cast<uint32_t>(type));
  if (!info || !ggml_can_dequantize(type))
    throw Error("cannot dequantize " + ggml_type_name(type) + " (supported: " + ggml_dequantizable_names() + ")");
  if (n < 0 || n % info->block_size != 0)
    throw Error(fmt::format("{} elements are not a whole number of {} blocks of {}", n, info->name, info->block_size));
  switch (type) {
    case GgmlType::kF32: std::memcpy(out, src, static_cast<size_t>(n) * 4); return;
    case GgmlType::kF16:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) out[i] = half_to_float(u16(src + 2 * i));
      return;
    case GgmlType::kBF16:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const uint32_t bits = static_cast<uint32_t>(u16(src + 2 * i)) << 16;
        std::memcpy(out + i, &bits, 4);
      }
      return;
    default: break;
  }
  const BlockFn fn = block_fn(type);
  const int64_t blocks = n / info->block_size;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < blocks; ++k) fn(src + k * info->type_size, out + k * info->block_size);
}

std::vector<float> dequantize_tensor(const GgufFile& file, const GgufTensorInfo& t) {
  if (!ggml_can_dequantize(t.type))
    throw Error(file.path() + ": tensor '" + t.name + "' has type " + ggml_type_name(t.type) +
                ", which packbench cannot dequantize (supported: " + ggml_dequantizable_names() + ")");
  std::vector<float> out(static_cast<size_t>(t.numel()));
  dequantize_ggml(t.type, t.data, t.numel(), out.data());
  return out;
}

}  // namespace packbench::train
