// Readers: dataset_info.json, sharegpt/alpaca in JSON array and JSONL, and every bad-input case.
#include <gtest/gtest.h>

#include "datasets/conversation_reader.h"
#include "datasets/dataset_registry.h"
#include "core/error.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

using namespace packbench::data;
using packbench::Error;

using packbench::testing::error_of;

namespace {

std::string fixtures() { return packbench::testing::fixtures_dir() + "/datasets"; }

std::vector<Conversation> read_all(const std::string& name, BadRecordPolicy p = BadRecordPolicy::kFail,
                                   ReadReport* rep = nullptr, int64_t max_records = -1) {
  auto specs = load_dataset_specs(fixtures(), name);
  std::vector<Conversation> out;
  auto r = read_conversations(specs.at(0), p, max_records, [&](Conversation&& c) { out.push_back(std::move(c)); });
  if (rep) *rep = r;
  return out;
}

}  // namespace

TEST(Registry, ReadsEntriesWithDefaultsAndColumns) {
  auto specs = load_dataset_specs(fixtures(), "tiny_sharegpt, tiny_alpaca,tiny_messages");
  ASSERT_EQ(specs.size(), 3u);
  EXPECT_EQ(specs[0].formatting, Formatting::kShareGpt);
  EXPECT_EQ(specs[0].messages, "conversations");
  EXPECT_EQ(specs[0].role_tag, "from");
  EXPECT_FALSE(specs[0].tags_given);
  EXPECT_EQ(specs[1].formatting, Formatting::kAlpaca);
  EXPECT_EQ(specs[1].history, "history");
  EXPECT_EQ(specs[2].messages, "messages");
  EXPECT_EQ(specs[2].user_tag, "user");
  EXPECT_TRUE(specs[2].tags_given);
}

TEST(Registry, BadEntriesNameTheFileAndEntry) {
  EXPECT_NE(error_of([] { load_dataset_specs(fixtures(), "nope"); }).find("dataset 'nope' is not defined"), std::string::npos);
  EXPECT_NE(error_of([] { load_dataset_specs(fixtures(), "bad_formatting"); }).find("'formatting'"), std::string::npos);
  EXPECT_NE(error_of([] { load_dataset_specs("/nonexistent-dir", "x"); }).find("dataset_info.json"), std::string::npos);
  EXPECT_NE(error_of([] { parse_dataset_specs("{oops", "info.json", ".", "x"); }).find("info.json: not valid JSON"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_dataset_specs(R"({"x": {"hf_hub_url": "a/b"}})", "info.json", ".", "x"); })
                .find("not supported"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_dataset_specs(R"({"x": {"file_name": 3}})", "info.json", ".", "x"); })
                .find("'file_name' must be a string"),
            std::string::npos);
}

TEST(ShareGpt, ArrayAndJsonlGiveTheSameConversations) {
  auto a = read_all("tiny_sharegpt");
  auto b = read_all("tiny_sharegpt_jsonl");
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].system, b[i].system);
    ASSERT_EQ(a[i].messages.size(), b[i].messages.size());
    for (size_t k = 0; k < a[i].messages.size(); ++k) {
      EXPECT_EQ(a[i].messages[k].content, b[i].messages[k].content);
      EXPECT_EQ(a[i].messages[k].role, b[i].messages[k].role);
    }
    EXPECT_EQ(a[i].record_index, static_cast<int64_t>(i));
  }
  // The system message becomes the system prompt; roles alternate.
  EXPECT_EQ(a[1].system, "Be brief.");
  ASSERT_EQ(a[1].messages.size(), 4u);
  EXPECT_EQ(a[1].messages[0].role, Role::kUser);
  EXPECT_EQ(a[1].messages[3].role, Role::kAssistant);
  EXPECT_EQ(a[1].messages[3].content, "6");
  // A trailing unanswered prompt is dropped (LLaMA-Factory keeps an even number of messages).
  ASSERT_EQ(a[2].messages.size(), 2u);
  EXPECT_EQ(a[2].messages[1].content, "ok");
}

TEST(ShareGpt, OpenAiMessagesWithTagsAndUnicodeEscapes) {
  auto c = read_all("tiny_messages");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].system, "sys");
  EXPECT_EQ(c[0].messages[0].content, "q1");
  EXPECT_EQ(c[1].messages[0].content, "q\xc3\xa9");
  EXPECT_EQ(c[1].messages[1].content, "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST(ShareGpt, OpenAiKeysAcceptedWithoutTags) {
  DatasetSpec s;
  s.formatting = Formatting::kShareGpt;
  s.messages = "messages";
  std::vector<Conversation> out;
  read_conversations_from_buffer(
      R"({"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]})", "mem", true, s,
      BadRecordPolicy::kFail, -1, [&](Conversation&& c) { out.push_back(std::move(c)); });
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].messages[1].content, "a");
}

TEST(Alpaca, InstructionInputHistorySystem) {
  auto c = read_all("tiny_alpaca");
  ASSERT_EQ(c.size(), 3u);
  ASSERT_EQ(c[0].messages.size(), 2u);
  EXPECT_EQ(c[0].messages[0].content, "Add\n1 and 2");
  EXPECT_EQ(c[0].messages[1].content, "3");
  EXPECT_EQ(c[1].messages[0].content, "Say hi");  // empty input left out
  EXPECT_EQ(c[1].system, "You are terse.");
  ASSERT_EQ(c[2].messages.size(), 4u);  // history pair first
  EXPECT_EQ(c[2].messages[0].content, "First");
  EXPECT_EQ(c[2].messages[1].content, "A");
  EXPECT_EQ(c[2].messages[2].content, "Next");
  EXPECT_EQ(c[2].messages[3].content, "B");
}

TEST(Alpaca, MissingOutputIsABadRecord) {
  DatasetSpec s;
  s.history = "history";
  std::string err = error_of([&] {
    read_conversations_from_buffer("[{\"instruction\": \"x\"}]", "mem.json", false, s, BadRecordPolicy::kFail, -1,
                                   [](Conversation&&) {});
  });
  EXPECT_NE(err.find("mem.json: record 0 (line 1): field 'output' is missing"), std::string::npos) << err;
  err = error_of([&] {
    read_conversations_from_buffer("{\"instruction\": \"x\", \"output\": [\"a\"]}\n", "mem.jsonl", true, s,
                                   BadRecordPolicy::kFail, -1, [](Conversation&&) {});
  });
  EXPECT_NE(err.find("'output' must be a string"), std::string::npos) << err;
  err = error_of([&] {
    read_conversations_from_buffer("{\"instruction\": \"x\", \"output\": \"y\", \"history\": [[\"a\"]]}\n", "m", true, s,
                                   BadRecordPolicy::kFail, -1, [](Conversation&&) {});
  });
  EXPECT_NE(err.find("exactly 2 strings"), std::string::npos) << err;
}

TEST(BadRecords, FailNamesFileLineAndField) {
  std::string err = error_of([] { read_all("bad_sharegpt"); });
  EXPECT_NE(err.find("bad_sharegpt.jsonl: record 1 (line 2): empty conversation"), std::string::npos) << err;
}

TEST(BadRecords, SkipCountsEveryKind) {
  ReadReport rep;
  auto c = read_all("bad_sharegpt", BadRecordPolicy::kSkip, &rep);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].messages[0].content, "fine");
  EXPECT_EQ(c[1].messages[0].content, "also fine");
  EXPECT_EQ(c[1].record_index, 9);
  EXPECT_EQ(rep.records, 10);
  EXPECT_EQ(rep.accepted, 2);
  EXPECT_EQ(rep.skipped, 8);
  EXPECT_NE(rep.first_skip_reason.find("record 1 (line 2)"), std::string::npos);
}

TEST(BadRecords, EachKindHasItsOwnMessage) {
  auto spec = load_dataset_specs(fixtures(), "bad_sharegpt").at(0);
  const std::pair<const char*, const char*> cases[] = {
      {R"({"conversations": [{"from": "gpt", "value": "x"}, {"from": "human", "value": "y"}]})", "wrong role order"},
      {R"({"conversations": [{"from": "human", "value": "x"}, {"from": "gpt"}]})", "message 1: field 'value' is missing"},
      {R"({"conversation": []})", "field 'conversations' is missing"},
      {R"({"conversations": [{"from": "human", "value": "x)", "invalid JSON"},
      {R"({"conversations": [{"from": "human", "value": 5}, {"from": "gpt", "value": "x"}]})", "'value' must be a string"},
      {R"({"conversations": [{"from": "alien", "value": "x"}, {"from": "gpt", "value": "x"}]})", "unknown role 'alien'"},
      {R"([1, 2])", "not a JSON object"},
      {R"({"conversations": [{"from": "system", "value": "s"}]})", "empty conversation"},
      {R"({"conversations": "text"})", "must be an array"},
      {"{\"conversations\": [{\"from\": \"human\", \"value\": \"a\xc3\x28\"}, {\"from\": \"gpt\", \"value\": \"b\"}]}", "invalid UTF-8"},
  };
  for (const auto& [line, expect] : cases) {
    std::string err = error_of([&] {
      read_conversations_from_buffer(line, "m.jsonl", true, spec, BadRecordPolicy::kFail, -1, [](Conversation&&) {});
    });
    EXPECT_NE(err.find(expect), std::string::npos) << line << " -> " << err;
  }
}

TEST(BadRecords, InvalidUtf8IsReportedNotCrashed) {
  std::string err = error_of([] { read_all("bad_utf8"); });
  EXPECT_NE(err.find("record 1 (line 2): invalid UTF-8"), std::string::npos) << err;
  ReadReport rep;
  auto c = read_all("bad_utf8", BadRecordPolicy::kSkip, &rep);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(rep.skipped, 1);
}

TEST(BadRecords, CutShortArrayAndMissingFile) {
  std::string err = error_of([] { read_all("bad_array", BadRecordPolicy::kSkip); });
  EXPECT_NE(err.find("bad_array.json: record 1 (line 3): unterminated record"), std::string::npos) << err;
  err = error_of([] { read_all("missing_file"); });
  EXPECT_NE(err.find("does_not_exist.json: cannot open"), std::string::npos) << err;
  DatasetSpec s;
  err = error_of([&] {
    read_conversations_from_buffer("[{\"instruction\": \"a\", \"output\": \"b\"},]", "m.json", false, s,
                                   BadRecordPolicy::kFail, -1, [](Conversation&&) {});
  });
  EXPECT_EQ(err, "(no error)");  // a trailing comma is tolerated
  err = error_of([&] {
    read_conversations_from_buffer("{\"not\": \"an array\"}", "m.json", false, s, BadRecordPolicy::kFail, -1,
                                   [](Conversation&&) {});
  });
  EXPECT_NE(err.find("expected a JSON array"), std::string::npos) << err;
}

TEST(Reader, MaxRecordsStopsEarly) {
  auto c = read_all("tiny_sharegpt", BadRecordPolicy::kFail, nullptr, 2);
  EXPECT_EQ(c.size(), 2u);
}

TEST(Reader, ByteOrderMarkEmptyFileAndCrlf) {
  std::string dir = packbench::testing::temp_dir("reader");
  DatasetSpec s;
  s.formatting = Formatting::kShareGpt;
  auto count = [&](const std::string& name, const std::string& body) {
    std::string path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    std::fwrite(body.data(), 1, body.size(), f);
    std::fclose(f);
    s.file_path = path;
    int64_t n = 0;
    read_conversations(s, BadRecordPolicy::kFail, -1, [&](Conversation&&) { ++n; });
    return n;
  };
  const std::string rec = R"({"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]})";
  EXPECT_EQ(count("bom.json", "\xEF\xBB\xBF[" + rec + "," + rec + "]"), 2);
  EXPECT_EQ(count("bom.jsonl", "\xEF\xBB\xBF" + rec + "\r\n" + rec + "\r\n"), 2);
  EXPECT_EQ(count("empty.jsonl", ""), 0);
  EXPECT_EQ(count("blank.jsonl", "\n\n  \n"), 0);
  EXPECT_EQ(count("empty_array.json", " [ ] "), 0);
}

namespace {

// The conversations of `file` under tests/fixtures/parquet as a LLaMA-Factory dataset entry.
std::vector<Conversation> read_parquet_fixture(const std::string& file, const std::string& formatting,
                                               BadRecordPolicy p = BadRecordPolicy::kFail, ReadReport* rep = nullptr,
                                               int64_t max_records = -1) {
  const std::string columns = formatting == "sharegpt" ? R"(, "columns": {"messages": "conversations", "system": "system"})" : "";
  const std::string info =
      R"({"d": {"file_name": ")" + file + R"(", "formatting": ")" + formatting + R"(")" + columns + "}}";
  auto specs = parse_dataset_specs(info, "info.json", packbench::testing::fixtures_dir() + "/parquet", "d");
  std::vector<Conversation> out;
  auto r = read_conversations(specs.at(0), p, max_records, [&](Conversation&& c) { out.push_back(std::move(c)); });
  if (rep) *rep = r;
  return out;
}

void expect_same(const std::vector<Conversation>& a, const std::vector<Conversation>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].system, b[i].system);
    EXPECT_EQ(a[i].record_index, b[i].record_index);
    ASSERT_EQ(a[i].messages.size(), b[i].messages.size());
    for (size_t k = 0; k < a[i].messages.size(); ++k) {
      EXPECT_EQ(a[i].messages[k].role, b[i].messages[k].role);
      EXPECT_EQ(a[i].messages[k].content, b[i].messages[k].content);
    }
  }
}

}  // namespace

// LLaMA-Factory reads *.parquet files too: the same rows as Parquet (written by pyarrow) and as a
// JSON array (pyarrow's to_pylist of them, nulls included) give the same conversations.
TEST(Parquet, ShareGptAndAlpacaFilesReadAsTheirJson) {
  auto sp = read_parquet_fixture("sharegpt.parquet", "sharegpt");
  auto sj = read_parquet_fixture("sharegpt.json", "sharegpt");
  ASSERT_EQ(sp.size(), 2u);
  expect_same(sp, sj);
  EXPECT_EQ(sp[0].system, "You are helpful.");
  ASSERT_EQ(sp[1].messages.size(), 4u);
  EXPECT_EQ(sp[1].messages[3].content, "どういたしまして 😊");
  auto ap = read_parquet_fixture("alpaca.parquet", "alpaca");
  auto aj = read_parquet_fixture("alpaca.json", "alpaca");
  ASSERT_EQ(ap.size(), 3u);
  expect_same(ap, aj);
  EXPECT_EQ(ap[2].messages[0].content,
            "Summarize.\nParquet is a columnar file format.\nIt stores data by column.");  // instruction + "\n" + input
  // max_samples: the first rows only.
  ReadReport rep;
  auto first = read_parquet_fixture("alpaca.parquet", "alpaca", BadRecordPolicy::kFail, &rep, 2);
  EXPECT_EQ(first.size(), 2u);
  EXPECT_EQ(rep.records, 2);
}

// A row that is not a record of the dataset's format is named by its row; skip counts it.
TEST(Parquet, BadRowsAreNamedByRow) {
  // The alpaca file read as sharegpt has no 'conversations' column in any row.
  const std::string e = error_of([] { read_parquet_fixture("alpaca.parquet", "sharegpt"); });
  EXPECT_NE(e.find("alpaca.parquet: row 0: "), std::string::npos) << e;
  ReadReport rep;
  auto none = read_parquet_fixture("alpaca.parquet", "sharegpt", BadRecordPolicy::kSkip, &rep);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(rep.skipped, 3);
  // A file that is not Parquet: the reader's own error, naming the file.
  const std::string dir = packbench::testing::temp_dir("reader_parquet");
  packbench::testing::write_text(dir, "x.parquet", "not parquet");
  const std::string info = R"({"d": {"file_name": "x.parquet"}})";
  auto specs = parse_dataset_specs(info, "info.json", dir, "d");
  const std::string e2 = error_of([&] { read_conversations(specs.at(0), BadRecordPolicy::kSkip, -1, [](Conversation&&) {}); });
  EXPECT_NE(e2.find("x.parquet"), std::string::npos) << e2;
}
