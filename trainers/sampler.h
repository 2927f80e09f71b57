// Which rows each rank trains on, micro-batch by micro-batch (DistributedSampler semantics).
#pragma once

#include <cstdint>
#include <vector>

namespace packbench::train {

// The order of all n rows in `epoch`: torch.randperm(n) from a generator seeded seed + epoch (the
// same permutation PyTorch's DistributedSampler draws), or 0..n-1 without shuffle; then padded by
// repeating its head to a multiple of world_size; rank r takes positions r, r + world, ...
std::vector<int64_t> rank_indices(int64_t n, int world_size, int rank, uint64_t seed, int64_t epoch,
                                  bool shuffle = true);

// The rank's micro-batches for one epoch: consecutive chunks of per_device rows (the last may be
// short). Only the first optimizer_steps_per_epoch() * grad_accum of them are trained, as the
// Hugging Face Trainer counts steps (a short epoch of fewer than grad_accum micro-batches makes
// one step of all of them).
std::vector<std::vector<int64_t>> rank_micro_batches(int64_t n, int world_size, int rank, uint64_t seed,
                                                     int64_t epoch, int per_device, bool shuffle = true);

// ceil(n / (per_device * world)) micro-batches per rank per epoch.
int64_t micro_batches_per_epoch(int64_t n, int per_device, int world_size);
// max(micro_batches_per_epoch // grad_accum, 1); 0 when n == 0.
int64_t optimizer_steps_per_epoch(int64_t n, int per_device, int world_size, int grad_accum);

}  // namespace packbench::train
