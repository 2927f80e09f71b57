// YAML files as nlohmann::json values, so configs are read one way whatever their syntax.
#include "harness/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <regex>

#include "core/atomic_file.h"
#include "core/error.h"

namespace packbench::cli {
namespace {

nlohmann::json scalar(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted: always a string
  static const std::regex int_re(R"(^[-+]?[0-9]+$)");
  static const std::regex float_re(R"(^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$)");
  if (std::regex_match(s, int_re)) {
    try {
      return std::stoll(s);
    } catch (...) {
    }
  }
  if (std::regex_match(s, float_re)) return std::strtod(s.c_str(), nullptr);
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s == "null" || s == "~" || s.empty()) return nullptr;
  return s;
}

nlohmann::json convert(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar: return scalar(n);
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& c : n) a.push_back(convert(c));
      return a;
    }
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = convert(kv.second);
      return o;
    }
  }
  return nullptr;
}

void emit(const nlohmann::json& v, int indent, std::string& out);

std::string scalar_text(const nlohmann::json& v) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    YAML::Emitter e;
    e << YAML::DoubleQuoted << s;
    bool plain = !s.empty() && s.find_first_of(":#{}[],&*!|>'\"%@`\n") == std::string::npos &&
                 s.front() != ' ' && s.back() != ' ' && scalar(YAML::Node(s)).is_string();
    return plain ? s : e.c_str();
  }
  return v.dump();
}

void emit(const nlohmann::json& v, int indent, std::string& out) {
  std::string pad(indent, ' ');
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      if ((it->is_object() && !it->empty()) || (it->is_array() && !it->empty())) {
        out += pad + it.key() + ":\n";
        emit(*it, indent + 2, out);
      } else {
        out += pad + it.key() + ": " + (it->is_object() ? "{}" : it->is_array() ? "[]" : scalar_text(*it)) + "\n";
      }
    }
  } else if (v.is_array()) {
    for (const auto& e : v) {
      if (e.is_object() && !e.empty()) {
        std::string sub;
        emit(e, indent + 2, sub);
        out += pad + "- " + sub.substr(indent + 2);
      } else {
        out += pad + "- " + scalar_text(e) + "\n";
      }
    }
  } else {
    out += pad + scalar_text(v) + "\n";
  }
}

}  // namespace

nlohmann::json yaml_to_json(const std::string& text, const std::string& source) {
  try {
    return convert(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    throw Error(source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                ": invalid YAML: " + e.msg);
  }
}

nlohmann::json load_yaml_file(const std::string& path) { return yaml_to_json(read_file(path), path); }

std::string json_to_yaml(const nlohmann::json& value) {
  std::string out;
  emit(value, 0, out);
  return out;
}

}  // namespace packbench::cli
