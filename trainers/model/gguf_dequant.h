// Dequantization of GGUF tensor data to float32, one function per ggml block type. No LibTorch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trainers/model/gguf.h"

namespace packbench::train {

// The types dequantize_ggml handles: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K.
bool ggml_can_dequantize(GgmlType type);
std::string ggml_dequantizable_names();  // "F32, F16, ..." for messages

// Dequantizes `n` elements (a whole number of blocks) of `type` from `src` into `out`, computing
// each value with the same float32 operations, in the same order, as the reference dequantizers
// of llama.cpp's gguf Python package (gguf.quants.dequantize), so the results are bit-identical.
// Throws packbench::Error for an unsupported type or a partial block.
void dequantize_ggml(GgmlType type, const uint8_t* src, int64_t n, float* out);

// A whole tensor of `file` as float32 in row-major order (shape: t.shape()). Errors name the
// file and tensor.
std::vector<float> dequantize_tensor(const GgufFile& file, const GgufTensorInfo& t);

// IEEE half (binary16) bits to float32, exactly (subnormals, infinities and NaN payloads kept).
float half_to_float(uint16_t h);

}  // namespace packbench::train
