// The inference engine's DecoderBackend over packbench's LlamaForCausalLM and its KVCache.
#pragma once

#include <memory>

#include "inference/engine_backend.h"
#include "trainers/model/llama_model.h"

namespace packbench::train {

// Wraps a model for the engine (switched to eval mode). The cache is the model's KVCache in the
// model's dtype and device; only the requested last positions go through the output head.
std::shared_ptr<DecoderBackend> make_llama_backend(LlamaForCausalLM model);

}  // namespace packbench::train
