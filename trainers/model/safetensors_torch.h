// Thin LibTorch adapter for trainers/model/safetensors.h: views <-> torch::Tensor.
#pragma once

#include <torch/torch.h>

#include <cstring>
#include <string>

#include "core/error.h"
#include "trainers/model/safetensors.h"

namespace packbench::train {

inline torch::Dtype st_to_torch(StDtype d) {
  switch (d) {
    case StDtype::kF32: return torch::kFloat;
    case StDtype::kF16: return torch::kHalf;
    case StDtype::kBF16: return torch::kBFloat16;
    case StDtype::kF64: return torch::kDouble;
    case StDtype::kI64: return torch::kLong;
    case StDtype::kI32: return torch::kInt;
  }
  return torch::kFloat;
}

inline StDtype st_from_torch(torch::Dtype d, const std::string& what) {
  switch (d) {
    case torch::kFloat: return StDtype::kF32;
    case torch::kHalf: return StDtype::kF16;
    case torch::kBFloat16: return StDtype::kBF16;
    case torch::kDouble: return StDtype::kF64;
    case torch::kLong: return StDtype::kI64;
    case torch::kInt: return StDtype::kI32;
    default: throw Error(what + ": dtype " + std::string(c10::toString(d)) + " cannot be stored in safetensors");
  }
}

// A CPU tensor holding a copy of the view's bytes, in the file's dtype.
inline torch::Tensor st_to_tensor(const StTensorView& v) {
  torch::Tensor t = torch::empty(v.shape, torch::TensorOptions().dtype(st_to_torch(v.dtype)));
  if (v.nbytes) std::memcpy(t.data_ptr(), v.data, v.nbytes);
  return t;
}

// A view of `t`, which must be a contiguous CPU tensor that outlives the view.
inline StTensorView st_view_of(const std::string& name, const torch::Tensor& t) {
  if (!t.device().is_cpu() || !t.is_contiguous()) throw Error(name + ": only contiguous CPU tensors can be viewed");
  StTensorView v;
  v.name = name;
  v.dtype = st_from_torch(t.scalar_type(), name);
  v.shape.assign(t.sizes().begin(), t.sizes().end());
  v.data = static_cast<const uint8_t*>(t.data_ptr());
  v.nbytes = t.numel() * t.element_size();
  return v;
}

}  // namespace packbench::train
