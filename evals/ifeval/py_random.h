// Python's random.Random (Mersenne Twister MT19937) reproduced bit for bit, for the calls langdetect makes.
#pragma once

#include <cstdint>

namespace packbench::evals {

// CPython 3.11's random.Random for the methods langdetect's detector uses: seed(int),
// random(), getrandbits(k), choice (through _randbelow) and gauss(). Same seed, same calls,
// same numbers as Python (tests/evals/ifeval/test_langdetect.cpp compares with /usr/bin/python3).
class PyRandom {
 public:
  // random.Random(seed) for a non-negative int seed (Python seeds from abs(seed)).
  explicit PyRandom(uint64_t seed = 0) { seed_with(seed); }
  // Random.seed(seed): the generator state from init_by_array over seed's 32-bit words
  // (least significant first; 0 is the one-word key [0]), and no cached gauss value.
  void seed_with(uint64_t seed);
  // The next 32 random bits (genrand_uint32).
  uint32_t next_uint32();
  // random(): a double in [0, 1) with 53 random bits.
  double random();
  // getrandbits(k) for 0 <= k <= 32.
  uint32_t getrandbits(int k);
  // _randbelow(n) by rejection on n.bit_length() bits: what choice(seq) uses as the index.
  // n must be in [1, 2^32).
  uint32_t randbelow(uint64_t n);
  // gauss(mu, sigma): Box-Muller, two values per pair of random() calls, the second cached.
  double gauss(double mu, double sigma);

 private:
  static constexpr int kN = 624;
  uint32_t mt_[kN];
  int index_ = kN;
  double gauss_next_ = 0.0;
  bool has_gauss_next_ = false;
};

}  // namespace packbench::evals
