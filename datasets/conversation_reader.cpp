// Streams LLaMA-Factory sharegpt/alpaca records (JSON array, JSONL or Parquet) into Conversations.
//
// Conversion follows LLaMA-Factory 0.7's aligner (data/aligner.py):
//  - sharegpt: a leading message whose role is the system tag becomes the system prompt (else
//    the `system` column); the messages are cut to an even count (a trailing unanswered prompt is
//    dropped, as LLaMA-Factory does); even positions must be user/observation, odd positions
//    assistant/function_call. Unlike LLaMA-Factory, which silently drops an empty conversation
//    and raises on a wrong role order, both are reported as bad records here.
//  - alpaca: history pairs first, then one user turn "<instruction>\n<input>" (empty parts left
//    out), then the `output` string as the assistant turn.
#include "datasets/conversation_reader.h"

#include <cstring>
#include <filesystem>
#include <simdjson.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/parquet.h"

namespace packbench::data {

namespace od = simdjson::ondemand;

BadRecordPolicy parse_bad_record_policy(const std::string& name) {
  if (name == "fail") return BadRecordPolicy::kFail;
  if (name == "skip") return BadRecordPolicy::kSkip;
  throw Error("on_bad_record must be 'fail' or 'skip', got '" + name + "'");
}

namespace {

struct BadRecord {
  std::string what;
};

[[noreturn]] void bad(std::string what) { throw BadRecord{std::move(what)}; }

// Reads a string value; null gives "" when allow_null. Anything else is a bad record.
std::string get_string(od::value v, const std::string& field, bool allow_null) {
  od::json_type t;
  if (v.type().get(t)) bad("field '" + field + "' is not valid JSON");
  if (t == od::json_type::null) {
    if (allow_null) return {};
    bad("field '" + field + "' is null, expected a string");
  }
  if (t != od::json_type::string) bad("field '" + field + "' must be a string");
  std::string_view s;
  if (v.get_string().get(s)) bad("field '" + field + "' is not a valid string");
  return std::string(s);
}

// Tools may be a string or any JSON value (kept as its raw JSON text).
std::string get_tools(od::value v) {
  od::json_type t;
  if (v.type().get(t)) bad("field 'tools' is not valid JSON");
  if (t == od::json_type::null) return {};
  if (t == od::json_type::string) return get_string(v, "tools", true);
  std::string_view raw;
  if (t == od::json_type::object) {
    od::object o;
    if (v.get_object().get(o) || o.raw_json().get(raw)) bad("field 'tools' is not valid JSON");
  } else if (t == od::json_type::array) {
    od::array a;
    if (v.get_array().get(a) || a.raw_json().get(raw)) bad("field 'tools' is not valid JSON");
  } else {
    raw = v.raw_json_token();
  }
  return std::string(raw);
}

bool role_from_tag(const DatasetSpec& s, const std::string& tag, bool openai_keys, Role& role) {
  if (openai_keys) {  // OpenAI-style messages (role/content) when no tags were configured
    if (tag == "user") role = Role::kUser;
    else if (tag == "assistant") role = Role::kAssistant;
    else if (tag == "system") role = Role::kSystem;
    else if (tag == "tool" || tag == "observation") role = Role::kObservation;
    else if (tag == "function" || tag == "function_call") role = Role::kFunctionCall;
    else return false;
    return true;
  }
  if (tag == s.user_tag) role = Role::kUser;
  else if (tag == s.assistant_tag) role = Role::kAssistant;
  else if (tag == s.observation_tag) role = Role::kObservation;
  else if (tag == s.function_tag) role = Role::kFunctionCall;
  else if (!s.system_tag.empty() && tag == s.system_tag) role = Role::kSystem;
  else return false;
  return true;
}

const char* role_name(Role r) {
  switch (r) {
    case Role::kSystem: return "system";
    case Role::kUser: return "user";
    case Role::kAssistant: return "assistant";
    case Role::kObservation: return "observation";
    case Role::kFunctionCall: return "function_call";
  }
  return "?";
}

Conversation convert_sharegpt(od::object obj, const DatasetSpec& s) {
  Conversation c;
  bool have_messages = false;
  std::string system_column;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) bad("invalid field name");
    od::value v = field.value();
    if (key == s.messages) {
      have_messages = true;
      od::array arr;
      if (v.get_array().get(arr)) bad("field '" + s.messages + "' must be an array of messages");
      size_t k = 0;
      for (auto item : arr) {
        od::object m;
        if (item.get_object().get(m)) bad("message " + std::to_string(k) + " is not an object");
        std::string tag, content;
        bool have_tag = false, have_content = false, openai = false;
        for (auto mf : m) {
          std::string_view mk;
          if (mf.unescaped_key().get(mk)) bad("message " + std::to_string(k) + ": invalid field name");
          bool is_role = mk == s.role_tag, is_content = mk == s.content_tag;
          if (!s.tags_given && !is_role && !is_content) {
            if (mk == "role" && !have_tag) { is_role = true; openai = true; }
            else if (mk == "content" && !have_content) is_content = true;
          }
          if (is_role) {
            tag = get_string(mf.value(), std::string(mk), false);
            have_tag = true;
          } else if (is_content) {
            content = get_string(mf.value(), std::string(mk), false);
            have_content = true;
          }
        }
        std::string msg = "message " + std::to_string(k);
        if (!have_tag) bad(msg + ": field '" + s.role_tag + "' is missing");
        if (!have_content) bad(msg + ": field '" + s.content_tag + "' is missing");
        Message out;
        if (!role_from_tag(s, tag, openai, out.role)) bad(msg + ": unknown role '" + tag + "'");
        out.content = std::move(content);
        c.messages.push_back(std::move(out));
        ++k;
      }
    } else if (!s.system.empty() && key == s.system) {
      system_column = get_string(v, s.system, true);
    } else if (!s.tools.empty() && key == s.tools) {
      c.tools = get_tools(v);
    }
  }
  if (!have_messages) bad("field '" + s.messages + "' is missing");
  size_t first = 0;
  if (!c.messages.empty() && c.messages[0].role == Role::kSystem) {
    c.system = std::move(c.messages[0].content);
    first = 1;
  } else {
    c.system = std::move(system_column);
  }
  if (first) c.messages.erase(c.messages.begin());
  c.messages.resize(c.messages.size() / 2 * 2);  // LLaMA-Factory keeps an even number of turns
  if (c.messages.empty()) bad("empty conversation (no prompt/response pair)");
  for (size_t i = 0; i < c.messages.size(); ++i) {
    Role r = c.messages[i].role;
    bool ok = (i % 2 == 0) ? (r == Role::kUser || r == Role::kObservation)
                           : (r == Role::kAssistant || r == Role::kFunctionCall);
    if (!ok)
      bad("wrong role order: message " + std::to_string(i + first) + " is '" + role_name(r) + "' where a " +
          (i % 2 == 0 ? "prompt (user/observation)" : "response (assistant/function_call)") + " is expected");
  }
  return c;
}

Conversation convert_alpaca(od::object obj, const DatasetSpec& s) {
  Conversation c;
  std::string prompt, query, response;
  bool have_prompt = false, have_query = false, have_response = false;
  std::vector<Message> history;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) bad("invalid field name");
    od::value v = field.value();
    if (!s.prompt.empty() && key == s.prompt) {
      prompt = get_string(v, s.prompt, true);
      have_prompt = true;
    } else if (!s.query.empty() && key == s.query) {
      query = get_string(v, s.query, true);
      have_query = true;
    } else if (!s.response.empty() && key == s.response) {
      od::json_type t;
      if (v.type().get(t)) bad("field '" + s.response + "' is not valid JSON");
      if (t != od::json_type::string) bad("field '" + s.response + "' must be a string");
      response = get_string(v, s.response, false);
      have_response = true;
    } else if (!s.system.empty() && key == s.system) {
      c.system = get_string(v, s.system, true);
    } else if (!s.history.empty() && key == s.history) {
      od::json_type t;
      if (v.type().get(t)) bad("field '" + s.history + "' is not valid JSON");
      if (t == od::json_type::null) continue;
      od::array arr;
      if (v.get_array().get(arr)) bad("field '" + s.history + "' must be a list of [prompt, response] pairs");
      size_t k = 0;
      for (auto pair : arr) {
        od::array p;
        std::string where = s.history + "[" + std::to_string(k) + "]";
        if (pair.get_array().get(p)) bad("field '" + where + "' must be a [prompt, response] pair");
        std::vector<std::string> parts;
        for (auto x : p) parts.push_back(get_string(x.value(), where, false));
        if (parts.size() != 2) bad("field '" + where + "' must have exactly 2 strings");
        history.push_back({Role::kUser, std::move(parts[0])});
        history.push_back({Role::kAssistant, std::move(parts[1])});
        ++k;
      }
    }
  }
  if (!have_prompt && !have_query) bad("field '" + s.prompt + "' is missing");
  if (!have_response) bad("field '" + s.response + "' is missing");
  c.messages = std::move(history);
  std::string content = prompt;
  if (!query.empty()) content = content.empty() ? query : content + "\n" + query;
  c.messages.push_back({Role::kUser, std::move(content)});
  c.messages.push_back({Role::kAssistant, std::move(response)});
  return c;
}

Conversation parse_record(od::parser& parser, const char* p, size_t len, const DatasetSpec& spec) {
  od::document doc;
  auto err = parser.iterate(p, len, len + simdjson::SIMDJSON_PADDING).get(doc);
  if (err == simdjson::UTF8_ERROR) bad("invalid UTF-8");
  if (err) bad(std::string("invalid JSON: ") + simdjson::error_message(err));
  od::object obj;
  err = doc.get_object().get(obj);
  if (err == simdjson::UTF8_ERROR) bad("invalid UTF-8");
  if (err) bad("record is not a JSON object");
  Conversation c = spec.formatting == Formatting::kShareGpt ? convert_sharegpt(obj, spec) : convert_alpaca(obj, spec);
  return c;
}

// Converts one record (`index` in its file) and hands it to the sink. A bad record is an Error
// under kFail, else counted in `rep`; `where()` names it in messages ("<file>: record 3 (line 4)").
template <typename Where>
void take_record(od::parser& parser, const char* p, size_t len, int64_t index, const DatasetSpec& spec,
                 BadRecordPolicy policy, ReadReport& rep, const std::function<void(Conversation&&)>& sink,
                 const Where& where) {
  auto reject = [&](const std::string& msg, const char* hint) {
    if (policy == BadRecordPolicy::kFail) throw Error(msg + hint);
    if (rep.skipped++ == 0) rep.first_skip_reason = msg;
  };
  try {
    Conversation c = parse_record(parser, p, len, spec);
    c.record_index = index;
    ++rep.accepted;
    sink(std::move(c));
  } catch (const BadRecord& b) {
    reject(where() + ": " + b.what, " (use --on-bad-record=skip to skip bad records)");
  } catch (const simdjson::simdjson_error& e) {
    reject(where() + ": invalid JSON: " + e.what(), "");
  }
}

// The core loop over a padded buffer (at least SIMDJSON_PADDING readable bytes after `size`).
ReadReport read_records(const char* data, size_t size, const std::string& origin, bool jsonl,
                        const DatasetSpec& spec, BadRecordPolicy policy, int64_t max_records,
                        const std::function<void(Conversation&&)>& sink,
                        const std::function<void(int64_t)>& on_bytes = nullptr) {
  ReadReport rep;
  od::parser parser;
  int64_t line = 1;        // 1-based line of `counted`
  size_t counted = 0;      // newlines counted up to here
  auto line_at = [&](size_t pos) {
    for (const char* q; counted < pos && (q = static_cast<const char*>(std::memchr(data + counted, '\n', pos - counted)));) {
      ++line;
      counted = static_cast<size_t>(q - data) + 1;
    }
    counted = std::max(counted, pos);
    return line;
  };
  auto handle = [&](size_t start, size_t end) {
    const int64_t index = rep.records++;
    const int64_t ln = line_at(start);
    take_record(parser, data + start, end - start, index, spec, policy, rep, sink, [&] {
      return origin + ": record " + std::to_string(index) + " (line " + std::to_string(ln) + ")";
    });
    if (on_bytes && (rep.records & 255) == 0) on_bytes(static_cast<int64_t>(end));
  };
  auto is_ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  auto done = [&] { return max_records >= 0 && rep.records >= max_records; };

  if (jsonl) {
    size_t pos = 0;
    while (pos < size && !done()) {
      const char* nl = static_cast<const char*>(std::memchr(data + pos, '\n', size - pos));
      size_t end = nl ? static_cast<size_t>(nl - data) : size;
      size_t b = pos, e = end;
      while (b < e && is_ws(data[b])) ++b;
      while (e > b && is_ws(data[e - 1])) --e;
      if (b < e) handle(b, e);
      pos = end + 1;
    }
    return rep;
  }
  // JSON array: find each element's extent with a scanner that tracks strings and nesting.
  size_t pos = 0;
  while (pos < size && is_ws(data[pos])) ++pos;
  if (pos >= size || data[pos] != '[') throw Error(origin + ": expected a JSON array or JSON lines");
  ++pos;
  while (!done()) {
    while (pos < size && is_ws(data[pos])) ++pos;
    if (pos >= size) throw Error(origin + ": record " + std::to_string(rep.records) + ": unterminated JSON array");
    if (data[pos] == ']') break;
    size_t start = pos;
    int depth = 0;
    bool in_string = false;
    for (; pos < size; ++pos) {
      char ch = data[pos];
      if (in_string) {
        if (ch == '\\') ++pos;
        else if (ch == '"') in_string = false;
      } else if (ch == '"') {
        in_string = true;
      } else if (ch == '{' || ch == '[') {
        ++depth;
      } else if (ch == '}' || ch == ']') {
        if (depth == 0) break;
        --depth;
      } else if (ch == ',' && depth == 0) {
        break;
      }
    }
    if (pos >= size)
      throw Error(origin + ": record " + std::to_string(rep.records) + " (line " + std::to_string(line_at(start)) +
                  "): unterminated record (the JSON array is cut short)");
    size_t end = pos;
    while (end > start && is_ws(data[end - 1])) --end;
    if (end == start)
      throw Error(origin + ": record " + std::to_string(rep.records) + " (line " + std::to_string(line_at(start)) +
                  "): empty element in the JSON array");
    handle(start, end);
    if (data[pos] == ',') ++pos;
  }
  return rep;
}

// A Parquet file (LLaMA-Factory loads *.parquet with `datasets`): each row, as JSON, is one record;
// rows are read one row group at a time.
ReadReport read_parquet_records(const DatasetSpec& spec, BadRecordPolicy policy, int64_t max_records,
                                const std::function<void(Conversation&&)>& sink) {
  struct Enough {};
  ReadReport rep;
  od::parser parser;
  try {
    parquet::for_each_row_group(spec.file_path, [&](std::vector<nlohmann::json>&& rows, int64_t) {
      for (auto& row : rows) {
        if (max_records >= 0 && rep.records >= max_records) throw Enough{};
        const int64_t index = rep.records++;
        const simdjson::padded_string text(row.dump());
        take_record(parser, text.data(), text.size(), index, spec, policy, rep, sink,
                    [&] { return spec.file_path + ": row " + std::to_string(index); });
        row = nullptr;  // free the row's DOM as soon as it is converted
      }
    });
  } catch (const Enough&) {
  }
  return rep;
}

bool is_parquet(const std::string& path) {
  return path.size() >= 8 && path.compare(path.size() - 8, 8, ".parquet") == 0;
}

}  // namespace

ReadReport read_conversations(const DatasetSpec& spec, BadRecordPolicy policy, int64_t max_records,
                              const std::function<void(Conversation&&)>& sink,
                              const std::function<void(int64_t)>& on_bytes) {
  if (is_parquet(spec.file_path)) {
    ReadReport rep = read_parquet_records(spec, policy, max_records, sink);
    if (on_bytes) on_bytes(static_cast<int64_t>(std::filesystem::file_size(spec.file_path)));
    return rep;
  }
  MappedFile file(spec.file_path);
  const char* d = file.data();
  size_t i = 0;
  if (file.size() >= 3 && std::memcmp(d, "\xEF\xBB\xBF", 3) == 0) i = 3;  // a UTF-8 byte-order mark
  while (i < file.size() && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r')) ++i;
  if (i == file.size()) return {};  // an empty file holds no records
  bool jsonl = d[i] != '[';
  const size_t bom = (file.size() >= 3 && std::memcmp(d, "\xEF\xBB\xBF", 3) == 0) ? 3 : 0;
  ReadReport rep = read_records(d + bom, file.size() - bom, spec.file_path, jsonl, spec, policy, max_records, sink, on_bytes);
  if (on_bytes) on_bytes(static_cast<int64_t>(file.size()));
  return rep;
}

ReadReport read_conversations_from_buffer(std::string_view text, const std::string& origin, bool is_jsonl,
                                          const DatasetSpec& spec, BadRecordPolicy policy, int64_t max_records,
                                          const std::function<void(Conversation&&)>& sink) {
  simdjson::padded_string padded(text);
  return read_records(padded.data(), padded.size(), origin, is_jsonl, spec, policy, max_records, sink);
}

}  // namespace packbench::data
