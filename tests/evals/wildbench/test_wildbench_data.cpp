// WildBench reader: the JSON, JSON-lines and Parquet exports, fields kept, errors naming file, record and field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "evals/wildbench/wildbench_data.h"
#include "tests/common/test_paths.h"

namespace fs = std::filesystem;
namespace pt = packbench::testing;
namespace wb = packbench::evals::wildbench;
using ::testing::HasSubstr;

namespace {

std::string mini() { return pt::fixtures_dir() + "/wildbench/mini_tasks.jsonl"; }

std::string error_of(const std::string& path) {
  try {
    wb::load_tasks(path);
  } catch (const packbench::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(WildBenchData, ReadsJsonLines) {
  auto tasks = wb::load_tasks(mini());
  ASSERT_EQ(tasks.size(), 5u);
  const auto& t = tasks[1];
  EXPECT_EQ(t.session_id, "mini-0002");
  ASSERT_EQ(t.conversation_input.size(), 3u);
  EXPECT_EQ(t.conversation_input[1].role, "assistant");
  EXPECT_EQ(t.conversation_input[2].content, "Now make it about snow.");
  EXPECT_EQ(t.primary_tag, "Creative Writing");
  EXPECT_THAT(t.secondary_tags, ::testing::ElementsAre("Editing", "Others"));
  EXPECT_EQ(t.checklist.size(), 2u);
  EXPECT_EQ(t.intent, "The user wants the haiku rewritten about snow.");
  EXPECT_EQ(t.raw["length"], 3);  // other columns are kept
}

// The same five tasks exported to Parquet by Hugging Face `datasets` (Dataset.to_parquet, snappy,
// dictionary pages; tests/fixtures/wildbench/make_mini_parquet.py) read as the JSON lines do.
TEST(WildBenchData, ReadsTheParquetExportTheSame) {
  auto lines = wb::load_tasks(mini());
  auto tasks = wb::load_tasks(pt::fixtures_dir() + "/wildbench/mini_tasks.parquet");
  ASSERT_EQ(tasks.size(), lines.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    SCOPED_TRACE(lines[i].session_id);
    EXPECT_EQ(tasks[i].session_id, lines[i].session_id);
    ASSERT_EQ(tasks[i].conversation_input.size(), lines[i].conversation_input.size());
    for (size_t k = 0; k < tasks[i].conversation_input.size(); ++k) {
      EXPECT_EQ(tasks[i].conversation_input[k].role, lines[i].conversation_input[k].role);
      EXPECT_EQ(tasks[i].conversation_input[k].content, lines[i].conversation_input[k].content);
    }
    EXPECT_EQ(tasks[i].checklist, lines[i].checklist);
    EXPECT_EQ(tasks[i].primary_tag, lines[i].primary_tag);
    EXPECT_EQ(tasks[i].secondary_tags, lines[i].secondary_tags);
    EXPECT_EQ(tasks[i].intent, lines[i].intent);
    EXPECT_EQ(tasks[i].raw["length"], lines[i].raw["length"]);
  }
}

// A Parquet row that is not a valid task is named by its row and session.
TEST(WildBenchData, ParquetErrorsNameTheRow) {
  // Row 2 of this WildBench-shaped fixture ends its conversation with the assistant's turn.
  const std::string p = pt::fixtures_dir() + "/parquet/wildbench_snappy.parquet";
  const std::string e = error_of(p);
  EXPECT_THAT(e, HasSubstr("wildbench_snappy.parquet row 2 (session_id g7h8i9)"));
  EXPECT_THAT(e, HasSubstr("last turn must be the user's"));
  // Not Parquet at all: the reader says so and names the file.
  const std::string bad = pt::temp_dir("wb_parquet") + "/f.parquet";
  packbench::write_file_atomic(bad, "PAR1 but nothing else");
  EXPECT_THAT(error_of(bad), HasSubstr("f.parquet"));
  EXPECT_NE(error_of(bad), "");
}

TEST(WildBenchData, ReadsAJsonListTheSame) {
  auto lines = wb::load_tasks(mini());
  nlohmann::json list = nlohmann::json::array();
  for (const auto& t : lines) list.push_back(t.raw);
  const std::string path = pt::temp_dir("wb_data") + "/tasks.json";
  packbench::write_file_atomic(path, list.dump());
  auto tasks = wb::load_tasks(path);
  ASSERT_EQ(tasks.size(), lines.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    EXPECT_EQ(tasks[i].session_id, lines[i].session_id);
    EXPECT_EQ(tasks[i].checklist, lines[i].checklist);
  }
}

TEST(WildBenchData, ErrorsNameFileRecordAndField) {
  const std::string dir = pt::temp_dir("wb_data_bad");
  auto write = [&](const std::string& name, const std::string& text) {
    packbench::write_file_atomic(dir + "/" + name, text);
    return dir + "/" + name;
  };
  const std::string good =
      R"({"session_id": "s1", "conversation_input": [{"role": "user", "content": "hi"}], "checklist": [], "primary_tag": "Others", "secondary_tags": []})";
  // The checklist is missing on line 2.
  std::string p = write("a.jsonl", good + "\n" +
                                       R"({"session_id": "s2", "conversation_input": [{"role": "user", "content": "x"}], "primary_tag": "Math", "secondary_tags": []})" +
                                       "\n");
  std::string e = error_of(p);
  EXPECT_THAT(e, HasSubstr(p + ":2"));
  EXPECT_THAT(e, HasSubstr("s2"));
  EXPECT_THAT(e, HasSubstr("checklist"));
  // A turn's content is a number.
  p = write("b.json", "[" + std::string(R"({"session_id": "s3", "conversation_input": [{"role": "user", "content": 5}], "checklist": [], "primary_tag": "Math", "secondary_tags": []})") + "]");
  e = error_of(p);
  EXPECT_THAT(e, HasSubstr("record 0"));
  EXPECT_THAT(e, HasSubstr("conversation_input[0]"));
  EXPECT_THAT(e, HasSubstr("content"));
  // The last turn is the assistant's.
  p = write("c.jsonl", R"({"session_id": "s4", "conversation_input": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "checklist": [], "primary_tag": "Math", "secondary_tags": []})");
  EXPECT_THAT(error_of(p), HasSubstr("last turn must be the user's"));
  // A secondary tag that is not a string.
  p = write("d.jsonl", R"({"session_id": "s5", "conversation_input": [{"role": "user", "content": "a"}], "checklist": [], "primary_tag": "Math", "secondary_tags": [1]})");
  EXPECT_THAT(error_of(p), HasSubstr("secondary_tags[0]"));
  // The same session twice.
  p = write("e.jsonl", good + "\n" + good + "\n");
  EXPECT_THAT(error_of(p), HasSubstr("listed twice"));
  // Other formats are refused with the ones read.
  p = write("f.csv", "session_id\n");
  EXPECT_THAT(error_of(p), HasSubstr(".parquet file of WildBench rows"));
}
