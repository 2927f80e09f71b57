// numpy's default_rng(seed).permutation(n) (SeedSequence -> PCG64 -> masked-rejection shuffle),
// so the train/eval split picks the same rows as Hugging Face datasets' train_test_split(seed).
#pragma once

#include <cstdint>
#include <vector>

namespace packbench::data {

// numpy.random.PCG64 seeded through numpy.random.SeedSequence(seed), as default_rng(seed) does.
class NumpyPcg64 {
 public:
  explicit NumpyPcg64(uint64_t seed);
  uint64_t next64();
  uint32_t next32();  // numpy buffers the high half of a 64-bit draw for the next call
  // numpy's random_interval(max): masked rejection sampling of a value in [0, max].
  uint64_t interval(uint64_t max);

 private:
  unsigned __int128 state_ = 0, inc_ = 0;
  bool has32_ = false;
  uint32_t buf32_ = 0;
};

// numpy.random.default_rng(seed).permutation(n).
std::vector<int64_t> numpy_permutation(int64_t n, uint64_t seed);

}  // namespace packbench::data
