// Reader for scripts/reference/llama_ref.py's debug dump (tests/fixtures/llama_ref/llama_ref.bin).
// Layout (little-endian): u32 magic 0x4C4C5246, u32 version, u32 count, then per entry: u32 name
// length, name, u32 dtype (0 float32, 1 int64), u32 ndim, i64 dims[ndim], row-major data.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace packbench::testing {

constexpr uint32_t kLlamaRefMagic = 0x4C4C5246;
constexpr uint32_t kLlamaRefVersion = 1;
constexpr const char* kLlamaRefRegenerate =
    "regenerate it with: ~/.cache/packbench/venv/bin/python scripts/reference/llama_ref.py (from the repository root)";

struct RefArray {
  bool is_int = false;
  std::vector<int64_t> shape;
  std::vector<float> f;    // when !is_int
  std::vector<int64_t> i;  // when is_int
  int64_t numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

inline std::map<std::string, RefArray> load_llama_ref(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path + "; " + kLlamaRefRegenerate);
  auto u32 = [&]() {
    uint32_t v = 0;
    in.read(reinterpret_cast<char*>(&v), 4);
    if (!in) throw std::runtime_error(path + ": truncated; " + kLlamaRefRegenerate);
    return v;
  };
  const uint32_t magic = u32(), version = u32();
  if (magic != kLlamaRefMagic) throw std::runtime_error(path + ": bad magic number; " + kLlamaRefRegenerate);
  if (version != kLlamaRefVersion) {
    std::ostringstream s;
    s << path << ": dump version " << version << ", this test reads version " << kLlamaRefVersion << "; "
      << kLlamaRefRegenerate;
    throw std::runtime_error(s.str());
  }
  const uint32_t count = u32();
  std::map<std::string, RefArray> out;
  for (uint32_t e = 0; e < count; ++e) {
    std::string name(u32(), '\0');
    in.read(name.data(), static_cast<std::streamsize>(name.size()));
    RefArray a;
    a.is_int = u32() == 1;
    const uint32_t ndim = u32();
    a.shape.resize(ndim);
    in.read(reinterpret_cast<char*>(a.shape.data()), 8 * ndim);
    const int64_t n = a.numel();
    if (a.is_int) {
      a.i.resize(n);
      in.read(reinterpret_cast<char*>(a.i.data()), 8 * n);
    } else {
      a.f.resize(n);
      in.read(reinterpret_cast<char*>(a.f.data()), 4 * n);
    }
    if (!in) throw std::runtime_error(path + ": truncated at entry '" + name + "'; " + kLlamaRefRegenerate);
    out[name] = std::move(a);
  }
  return out;
}

}  // namespace packbench::testing
