// Causal grouped-query attention computed by query chunks (the upper triangle of the score matrix
// is never computed) with a hand-written backward; the training path on CPU.
#pragma once

#include <torch/torch.h>

namespace packbench::train {

// softmax(q k^T / sqrt(d) + causal) v for q [B,H,T,d] and k, v [B,KV,T,d] (H a multiple of KV;
// any strides). Returns the output in the layout the output projection reads: [B,T,H*d].
// Query chunk c attends only to keys [0, end of c): about half the score FLOPs and memory of a
// full [T,T] product for long rows. Gradients flow to q, k and v.
// key_valid [B,T] bool (optional): keys marked false are not attended to, except by their own
// query (so a padding query never has an empty softmax row), as padded_causal_mask allows.
torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& key_valid = torch::Tensor());

// The query chunk length causal_attention uses for a row of T tokens.
int64_t causal_attention_chunk(int64_t T);

}  // namespace packbench::train
