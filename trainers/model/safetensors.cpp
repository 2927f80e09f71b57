// safetensors reading (mmap, validated), writing (atomic) and sharded checkpoint folders.
#include "trainers/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"

namespace packbench::train {
namespace fs = std::filesystem;

namespace {
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // the format's own limit on the JSON header

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}
}  // namespace

const char* st_dtype_name(StDtype d) {
  switch (d) {
    case StDtype::kF32: return "F32";
    case StDtype::kF16: return "F16";
    case StDtype::kBF16: return "BF16";
    case StDtype::kF64: return "F64";
    case StDtype::kI64: return "I64";
    case StDtype::kI32: return "I32";
  }
  return "?";
}

size_t st_dtype_size(StDtype d) {
  switch (d) {
    case StDtype::kF16:
    case StDtype::kBF16: return 2;
    case StDtype::kF32:
    case StDtype::kI32: return 4;
    case StDtype::kF64:
    case StDtype::kI64: return 8;
  }
  return 0;
}

bool st_dtype_parse(const std::string& name, StDtype* out) {
  for (StDtype d : {StDtype::kF32, StDtype::kF16, StDtype::kBF16, StDtype::kF64, StDtype::kI64, StDtype::kI32}) {
    if (name == st_dtype_name(d)) {
      *out = d;
      return true;
    }
  }
  return false;
}

int64_t StTensorView::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Reading

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error(path + ": cannot open safetensors file: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(path + ": cannot stat: " + std::strerror(errno));
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ < 8) {
    ::close(fd);
    throw Error(fmt::format("{}: not a safetensors file: {} bytes, too short for the 8-byte header length", path, size_));
  }
  map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw Error(path + ": cannot map: " + std::strerror(errno));
  }
  try {
    const auto* bytes = static_cast<const uint8_t*>(map_);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];  // little-endian u64
    if (header_len > size_ - 8) {
      throw Error(fmt::format("{}: header length {} runs past the end of the file ({} bytes; truncated or not safetensors)",
                              path, header_len, size_));
    }
    if (header_len > kMaxHeaderBytes) throw Error(fmt::format("{}: header length {} exceeds the 100 MB limit", path, header_len));
    const uint8_t* data = bytes + 8 + header_len;
    const uint64_t data_size = size_ - 8 - header_len;
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(bytes + 8, bytes + 8 + header_len);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(path + ": header is not valid JSON: " + e.what());
    }
    if (!header.is_object()) throw Error(path + ": header is not a JSON object");
    struct Span { uint64_t begin, end; size_t index; };
    std::vector<Span> spans;
    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      if (name == "__metadata__") {
        if (!it->is_object()) throw Error(path + ": __metadata__ is not an object");
        for (auto m = it->begin(); m != it->end(); ++m) {
          if (!m->is_string()) throw Error(path + ": __metadata__." + m.key() + " is not a string");
          metadata_[m.key()] = m->get<std::string>();
        }
        continue;
      }
      const std::string where = path + ": tensor '" + name + "'";
      const auto& t = *it;
      if (!t.is_object()) throw Error(where + ": entry is not an object");
      if (!t.contains("dtype") || !t["dtype"].is_string()) throw Error(where + ": missing dtype");
      StTensorView v;
      v.name = name;
      const std::string dt = t["dtype"].get<std::string>();
      if (!st_dtype_parse(dt, &v.dtype)) throw Error(where + ": unsupported dtype '" + dt + "' (supported: F32, BF16, F16, F64, I64, I32)");
      if (!t.contains("shape") || !t["shape"].is_array()) throw Error(where + ": missing shape");
      uint64_t numel = 1;
      for (const auto& d : t["shape"]) {
        if (!d.is_number_unsigned()) throw Error(where + ": shape " + t["shape"].dump() + " has a non-integer or negative dimension");
        const uint64_t n = d.get<uint64_t>();
        if (n != 0 && numel > std::numeric_limits<uint64_t>::max() / 8 / n) throw Error(where + ": shape " + t["shape"].dump() + " is too large");
        numel *= n;
        v.shape.push_back(static_cast<int64_t>(n));
      }
      const auto& off = t.contains("data_offsets") ? t["data_offsets"] : nlohmann::json();
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
        throw Error(where + ": data_offsets must be [begin, end] with non-negative integers");
      }
      const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
      if (end < begin) throw Error(fmt::format("{}: data_offsets [{}, {}] end before they begin", where, begin, end));
      if (end > data_size) {
        throw Error(fmt::format("{}: data_offsets [{}, {}] run past the end of the data ({} bytes; file truncated?)", where,
                                begin, end, data_size));
      }
      const uint64_t want = numel * st_dtype_size(v.dtype);
      if (end - begin != want) {
        throw Error(fmt::format("{}: shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}", where,
                                shape_str(v.shape), dt, want, begin, end, end - begin));
      }
      v.data = data + begin;
      v.nbytes = static_cast<size_t>(want);
      spans.push_back({begin, end, tensors_.size()});
      tensors_.push_back(std::move(v));
    }
    std::sort(spans.begin(), spans.end(),
              [](const Span& a, const Span& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
    for (size_t i = 1; i < spans.size(); ++i) {
      if (spans[i].begin < spans[i - 1].end) {
        throw Error(fmt::format("{}: tensors '{}' and '{}' overlap (data_offsets [{}, {}] and [{}, {}])", path,
                                tensors_[spans[i - 1].index].name, tensors_[spans[i].index].name, spans[i - 1].begin,
                                spans[i - 1].end, spans[i].begin, spans[i].end));
      }
    }
    // Keep the tensors in data order (for files packbench writes: the order written).
    std::vector<StTensorView> ordered;
    ordered.reserve(spans.size());
    for (const Span& s : spans) ordered.push_back(std::move(tensors_[s.index]));
    tensors_ = std::move(ordered);
    for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
  } catch (...) {
    ::munmap(map_, size_);
    map_ = nullptr;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, size_);
}

const StTensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const StTensorView& SafetensorsFile::at(const std::string& name) const {
  const StTensorView* v = find(name);
  if (!v) throw Error(path_ + ": no tensor named '" + name + "'");
  return *v;
}

// ---------------------------------------------------------------------------------------------
// Writing

uint64_t write_safetensors(const std::string& path, const std::vector<StTensorView>& tensors,
                           const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__") throw Error(path + ": bad tensor name '" + t.name + "'");
    if (header.contains(t.name)) throw Error(path + ": tensor '" + t.name + "' given twice");
    const uint64_t want = static_cast<uint64_t>(t.numel()) * st_dtype_size(t.dtype);
    if (want != t.nbytes || (want > 0 && !t.data)) {
      throw Error(fmt::format("{}: tensor '{}': shape {} of {} needs {} bytes, view holds {}", path, t.name,
                              shape_str(t.shape), st_dtype_name(t.dtype), want, t.nbytes));
    }
    header[t.name] = {{"dtype", st_dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + want}}};
    offset += want;
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');
  char len[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  AtomicFileWriter w(path);
  w.write(std::string_view(len, 8));
  w.write(text);
  for (const auto& t : tensors) w.write(std::string_view(reinterpret_cast<const char*>(t.data), t.nbytes));
  w.commit();
  return 8 + text.size() + offset;
}

std::vector<std::string> write_safetensors_checkpoint(const std::string& dir, const std::vector<StTensorView>& tensors,
                                                      uint64_t max_shard_bytes) {
  std::vector<std::vector<StTensorView>> shards(1);
  uint64_t in_shard = 0, total = 0;
  for (const auto& t : tensors) {
    if (in_shard > 0 && max_shard_bytes > 0 && in_shard + t.nbytes > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(t);
    in_shard += t.nbytes;
    total += t.nbytes;
  }
  std::vector<std::string> files;
  if (shards.size() == 1) {
    write_safetensors((fs::path(dir) / "model.safetensors").string(), shards[0]);
    files.push_back("model.safetensors");
    return files;
  }
  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", total}};
  index["weight_map"] = nlohmann::ordered_json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string name = fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, shards.size());
    write_safetensors((fs::path(dir) / name).string(), shards[i]);
    for (const auto& t : shards[i]) index["weight_map"][t.name] = name;
    files.push_back(name);
  }
  write_file_atomic((fs::path(dir) / "model.safetensors.index.json").string(), index.dump(2) + "\n");
  files.push_back("model.safetensors.index.json");
  return files;
}

// ---------------------------------------------------------------------------------------------
// Checkpoint folders

SafetensorsCheckpoint::SafetensorsCheckpoint(const std::string& dir) : dir_(dir) {
  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(index_path)) {
    nlohmann::json index;
    try {
      index = nlohmann::json::parse(read_file(index_path.string()));
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(index_path.string() + ": not valid JSON: " + e.what());
    }
    if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
      throw Error(index_path.string() + ": field 'weight_map': missing or not an object");
    }
    std::map<std::string, SafetensorsFile*> opened;  // shard name -> file, opened in name order
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it->is_string()) throw Error(index_path.string() + ": weight_map['" + it.key() + "'] is not a file name");
      const std::string file = it->get<std::string>();
      if (file.find('/') != std::string::npos) throw Error(index_path.string() + ": weight_map['" + it.key() + "']: bad file name '" + file + "'");
      opened[file] = nullptr;
    }
    for (auto& [file, f] : opened) {
      files_.push_back(std::make_unique<SafetensorsFile>((fs::path(dir) / file).string()));
      f = files_.back().get();
    }
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      const std::string file = it->get<std::string>();
      const StTensorView* v = opened[file]->find(it.key());
      if (!v) throw Error(index_path.string() + ": weight_map says '" + it.key() + "' is in " + file + ", but it is not there");
      by_name_[it.key()] = v;
      names_.push_back(it.key());
    }
  } else if (fs::exists(single)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single.string()));
    for (const auto& v : files_.back()->tensors()) {
      by_name_[v.name] = &v;
      names_.push_back(v.name);
    }
  } else {
    throw Error(dir + ": no model.safetensors or model.safetensors.index.json");
  }
}

const StTensorView* SafetensorsCheckpoint::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

const StTensorView& SafetensorsCheckpoint::at(const std::string& name) const {
  const StTensorView* v = find(name);
  if (!v) throw Error(dir_ + ": the checkpoint has no tensor '" + name + "'");
  return *v;
}

}  // namespace packbench::train
