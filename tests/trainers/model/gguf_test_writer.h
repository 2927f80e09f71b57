// A minimal GGUF writer for tests: builds files byte by byte (valid ones, and ones broken on purpose).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace packbench::testing {

class GgufWriter {
 public:
  // Value type numbers as in the format.
  enum : uint32_t { U8 = 0, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 };

  template <class T>
  static void put(std::string& b, T v) { b.append(reinterpret_cast<const char*>(&v), sizeof(T)); }
  static void put_str(std::string& b, const std::string& s) {
    put<uint64_t>(b, s.size());
    b += s;
  }

  // One key with its type and already-encoded value bytes.
  void raw(const std::string& key, uint32_t type, const std::string& value) {
    put_str(kv_, key);
    put<uint32_t>(kv_, type);
    kv_ += value;
    ++n_kv_;
  }
  template <class T>
  void scalar(const std::string& key, uint32_t type, T v) {
    std::string b;
    put<T>(b, v);
    raw(key, type, b);
  }
  void u32(const std::string& key, uint32_t v) { scalar(key, U32, v); }
  void f32(const std::string& key, float v) { scalar(key, F32, v); }
  void boolean(const std::string& key, bool v) { scalar<uint8_t>(key, BOOL, v ? 1 : 0); }
  void str(const std::string& key, const std::string& v) {
    std::string b;
    put_str(b, v);
    raw(key, STR, b);
  }
  void strs(const std::string& key, const std::vector<std::string>& v) {
    std::string b;
    put<uint32_t>(b, STR);
    put<uint64_t>(b, v.size());
    for (const auto& s : v) put_str(b, s);
    raw(key, ARR, b);
  }
  void i32s(const std::string& key, const std::vector<int32_t>& v) {
    std::string b;
    put<uint32_t>(b, I32);
    put<uint64_t>(b, v.size());
    for (int32_t x : v) put<int32_t>(b, x);
    raw(key, ARR, b);
  }

  // A tensor: dims in ggml order (ne[0] fastest), type number, data bytes (placed aligned).
  void tensor(const std::string& name, const std::vector<int64_t>& ne, uint32_t type, const std::string& bytes) {
    tensors_.push_back({name, ne, type, bytes});
  }
  void tensor_f32(const std::string& name, const std::vector<int64_t>& ne, const std::vector<float>& v) {
    tensor(name, ne, 0, std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
  }

  // The file's bytes. `alignment` must match general.alignment when that key is set.
  std::string build(uint64_t alignment = 32, uint32_t version = 3) const {
    std::string b = "GGUF";
    put<uint32_t>(b, version);
    put<uint64_t>(b, tensors_.size());
    put<uint64_t>(b, n_kv_);
    b += kv_;
    std::vector<uint64_t> offsets;
    uint64_t off = 0;
    for (const auto& t : tensors_) {
      offsets.push_back(off);
      off += (t.bytes.size() + alignment - 1) / alignment * alignment;
    }
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const auto& t = tensors_[i];
      put_str(b, t.name);
      put<uint32_t>(b, static_cast<uint32_t>(t.ne.size()));
      for (int64_t d : t.ne) put<uint64_t>(b, static_cast<uint64_t>(d));
      put<uint32_t>(b, t.type);
      put<uint64_t>(b, offsets[i]);
    }
    b.resize((b.size() + alignment - 1) / alignment * alignment, '\0');
    for (size_t i = 0; i < tensors_.size(); ++i) {
      b += tensors_[i].bytes;
      if (i + 1 < tensors_.size()) b.resize(b.size() + (offsets[i + 1] - offsets[i] - tensors_[i].bytes.size()), '\0');
    }
    return b;
  }

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type;
    std::string bytes;
  };
  std::string kv_;
  uint64_t n_kv_ = 0;
  std::vector<Tensor> tensors_;
};

}  // namespace packbench::testing
