// YAML files as nlohmann::json values, so configs are read one way whatever their syntax.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace packbench::cli {

// Parses YAML text (a superset of JSON). Scalars become numbers or booleans when they read as
// such, else strings. `source` names the file in errors (with line and column).
nlohmann::json yaml_to_json(const std::string& text, const std::string& source);
nlohmann::json load_yaml_file(const std::string& path);
// Writes a JSON value as YAML (block style), for resolved configs people read.
std::string json_to_yaml(const nlohmann::json& value);

}  // namespace packbench::cli
