// RMSNorm, rotary embedding and SwiGLU as single-pass CPU kernels with hand-written backward
// passes (float32 and float64); other devices and dtypes use the same maths in ATen ops.
#pragma once

#include <torch/torch.h>

namespace packbench::train {

// The dtype reductions (RMSNorm variance, softmax) run in: float32, or float64 for a float64
// model (finite-difference checks), as Hugging Face runs them.
torch::ScalarType accumulate_dtype(torch::ScalarType t);

// weight * x / sqrt(mean(x^2) + eps) over the last dimension, as Hugging Face's LlamaRMSNorm.
torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// Rotary embedding of projections x [B,T,H*d] (heads side by side), returned as [B,H,T,d]:
// x * cos + rotate_half(x) * sin with cos, sin [B,T,d] (no gradient).
torch::Tensor fused_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin, int64_t heads);

// silu(gate) * up, elementwise.
torch::Tensor fused_swiglu(const torch::Tensor& gate, const torch::Tensor& up);

// The same three in plain ATen ops (the reference the kernels are tested against).
torch::Tensor reference_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);
torch::Tensor reference_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin, int64_t heads);
torch::Tensor reference_swiglu(const torch::Tensor& gate, const torch::Tensor& up);

}  // namespace packbench::train
