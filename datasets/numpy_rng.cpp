// numpy's default_rng(seed).permutation(n) (SeedSequence -> PCG64 -> masked-rejection shuffle),
// so the train/eval split picks the same rows as Hugging Face datasets' train_test_split(seed).
#include "datasets/numpy_rng.h"

#include <cstddef>
#include <numeric>

namespace packbench::data {

namespace {

// SeedSequence constants (numpy/random/bit_generator.pyx).
constexpr uint32_t kInitA = 0x43b0d7e5, kMultA = 0x931e8875, kInitB = 0x8b51f9dd, kMultB = 0x58f38ded;
constexpr uint32_t kMixMultL = 0xca01f9dd, kMixMultR = 0x4973f715;
constexpr int kXShift = 16, kPoolSize = 4;

struct SeedSequence {
  uint32_t pool[kPoolSize];
  explicit SeedSequence(uint64_t seed) {
    std::vector<uint32_t> entropy;  // the int as little-endian 32-bit words (at least one)
    do {
      entropy.push_back(static_cast<uint32_t>(seed & 0xffffffffu));
      seed >>= 32;
    } while (seed);
    uint32_t hash_const = kInitA;
    auto hashmix = [&](uint32_t value) {
      value ^= hash_const;
      hash_const *= kMultA;
      value *= hash_const;
      value ^= value >> kXShift;
      return value;
    };
    auto mix = [](uint32_t x, uint32_t y) {
      uint32_t r = kMixMultL * x - kMixMultR * y;
      return r ^ (r >> kXShift);
    };
    for (int i = 0; i < kPoolSize; ++i) pool[i] = hashmix(i < static_cast<int>(entropy.size()) ? entropy[i] : 0);
    for (int s = 0; s < kPoolSize; ++s)
      for (int d = 0; d < kPoolSize; ++d)
        if (s != d) pool[d] = mix(pool[d], hashmix(pool[s]));
    for (std::size_t s = kPoolSize; s < entropy.size(); ++s)
      for (int d = 0; d < kPoolSize; ++d) pool[d] = mix(pool[d], hashmix(entropy[s]));
  }
  std::vector<uint64_t> generate_state64(int n_words64) {
    std::vector<uint32_t> w(2 * n_words64);
    uint32_t hash_const = kInitB;
    for (std::size_t i = 0; i < w.size(); ++i) {
      uint32_t v = pool[i % kPoolSize];
      v ^= hash_const;
      hash_const *= kMultB;
      v *= hash_const;
      v ^= v >> kXShift;
      w[i] = v;
    }
    std::vector<uint64_t> out(n_words64);
    for (int i = 0; i < n_words64; ++i) out[i] = uint64_t(w[2 * i]) | (uint64_t(w[2 * i + 1]) << 32);
    return out;
  }
};

constexpr unsigned __int128 kMult =
    (static_cast<unsigned __int128>(0x2360ED051FC65DA4ull) << 64) | 0x4385DF649FCCF645ull;

}  // namespace

NumpyPcg64::NumpyPcg64(uint64_t seed) {
  SeedSequence ss(seed);
  auto v = ss.generate_state64(4);
  unsigned __int128 initstate = (static_cast<unsigned __int128>(v[0]) << 64) | v[1];
  unsigned __int128 initseq = (static_cast<unsigned __int128>(v[2]) << 64) | v[3];
  // pcg_setseq_128_srandom_r
  state_ = 0;
  inc_ = (initseq << 1) | 1;
  state_ = state_ * kMult + inc_;
  state_ += initstate;
  state_ = state_ * kMult + inc_;
}

uint64_t NumpyPcg64::next64() {
  state_ = state_ * kMult + inc_;  // step, then XSL-RR output of the new state
  uint64_t x = static_cast<uint64_t>(state_ >> 64) ^ static_cast<uint64_t>(state_);
  unsigned rot = static_cast<unsigned>(state_ >> 122);
  return (x >> rot) | (x << ((64 - rot) & 63));
}

uint32_t NumpyPcg64::next32() {
  if (has32_) {
    has32_ = false;
    return buf32_;
  }
  uint64_t v = next64();
  has32_ = true;
  buf32_ = static_cast<uint32_t>(v >> 32);
  return static_cast<uint32_t>(v & 0xffffffffu);
}

uint64_t NumpyPcg64::interval(uint64_t max) {
  if (max == 0) return 0;
  uint64_t mask = max;
  for (int s = 1; s <= 32; s <<= 1) mask |= mask >> s;
  uint64_t value;
  if (max <= 0xffffffffull) {
    while ((value = (next32() & mask)) > max) {
    }
  } else {
    while ((value = (next64() & mask)) > max) {
    }
  }
  return value;
}

std::vector<int64_t> numpy_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> a(n);
  std::iota(a.begin(), a.end(), 0);
  NumpyPcg64 rng(seed);
  for (int64_t i = n - 1; i >= 1; --i) std::swap(a[i], a[static_cast<int64_t>(rng.interval(static_cast<uint64_t>(i)))]);
  return a;
}

}  // namespace packbench::data
