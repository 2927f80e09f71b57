// File helpers tests share (see test_files.h).
#include "tests/common/test_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "tests/common/test_paths.h"

namespace packbench::testing {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) ADD_FAILURE() << "cannot write " << path;
  return path;
}

std::string write_text(const std::string& dir, const std::string& name, const std::string& text) {
  return write_text(dir + "/" + name, text);
}

std::vector<nlohmann::json> read_json_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

int64_t count_lines(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line))
    if (!line.empty()) ++n;
  return n;
}

std::vector<float> read_npy(const std::string& path, std::vector<int64_t>* shape) {
  const std::string raw = slurp(path);
  if (raw.size() < 10 || raw.compare(0, 6, "\x93NUMPY") != 0) {
    ADD_FAILURE() << path << ": not a .npy file";
    return {};
  }
  const size_t hlen = static_cast<unsigned char>(raw[8]) | (static_cast<unsigned char>(raw[9]) << 8);
  EXPECT_EQ((10 + hlen) % 64, 0u) << path << ": header not padded to 64 bytes";
  const std::string header = raw.substr(10, hlen);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos) << path << ": " << header;
  EXPECT_NE(header.find("'fortran_order': False"), std::string::npos) << path << ": " << header;
  if (shape) {
    const size_t a = header.find("'shape': (") + 10, b = header.find(')', a);
    const std::string dims = header.substr(a, b - a);
    shape->clear();
    for (size_t pos = 0; pos < dims.size();) {
      size_t end = dims.find(',', pos);
      if (end == std::string::npos) end = dims.size();
      const std::string d = dims.substr(pos, end - pos);
      if (d.find_first_not_of(' ') != std::string::npos) shape->push_back(std::stoll(d));
      pos = end + 1;
    }
  }
  std::vector<float> v((raw.size() - 10 - hlen) / 4);
  std::memcpy(v.data(), raw.data() + 10 + hlen, v.size() * 4);
  return v;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const packbench::Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string self_exe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

int run_packbench(const std::string& args, std::string* out) { return run_command(packbench_bin() + " " + args, out); }

}  // namespace packbench::testing
