// Reading jsonl and CSV records: quoting, line numbers, and errors that name file, line and field.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "evals/records.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

using namespace packbench::evals;

using packbench::testing::error_of;
using packbench::testing::write_text;


TEST(Csv, QuotedCommasQuotesAndNewlines) {
  auto dir = packbench::testing::temp_dir("csv");
  auto p = write_text(dir, "a.csv",
                 "plain,b,c\n"
                 "\"has, comma\",\"has \"\"quote\"\"\",\"two\nlines\"\n"
                 "last,row,here\n");
  auto rows = read_csv(p);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"plain", "b", "c"}));
  EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"has, comma", "has \"quote\"", "two\nlines"}));
  EXPECT_EQ(rows[0].line, 1);
  EXPECT_EQ(rows[1].line, 2);
  EXPECT_EQ(rows[2].line, 4);  // the quoted newline pushed it down a line
}

TEST(Csv, NoTrailingNewlineAndCrlf) {
  auto dir = packbench::testing::temp_dir("csv");
  auto rows = read_csv(write_text(dir, "a.csv", "a,b\r\nc,d"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"c", "d"}));
}

TEST(Csv, StrayQuoteInUnquotedFieldIsLiteralAsPythonReadsIt) {
  auto dir = packbench::testing::temp_dir("csv");
  auto rows = read_csv(write_text(dir, "a.csv", "Why?\",b\n"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"Why?\"", "b"}));
}

TEST(Csv, UnterminatedQuoteNamesFile) {
  auto dir = packbench::testing::temp_dir("csv");
  auto p = write_text(dir, "bad.csv", "a,b\n\"open,c\n");
  auto msg = error_of([&] { read_csv(p); });
  EXPECT_NE(msg.find("bad.csv"), std::string::npos) << msg;
  EXPECT_NE(msg.find("malformed CSV"), std::string::npos) << msg;
}

TEST(Jsonl, LineNumbersSkipBlankLines) {
  auto dir = packbench::testing::temp_dir("jsonl");
  auto recs = read_jsonl(write_text(dir, "a.jsonl", "{\"a\":1}\n\n{\"a\":2}\n"));
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].line, 3);
  EXPECT_EQ(recs[1].value["a"], 2);
}

TEST(Jsonl, BadLineNamesFileAndLine) {
  auto dir = packbench::testing::temp_dir("jsonl");
  auto p = write_text(dir, "b.jsonl", "{\"a\":1}\n{\"a\":\n");
  auto msg = error_of([&] { read_jsonl(p); });
  EXPECT_NE(msg.find("b.jsonl: line 2"), std::string::npos) << msg;
  auto p2 = write_text(dir, "c.jsonl", "[1,2]\n");
  msg = error_of([&] { read_jsonl(p2); });
  EXPECT_NE(msg.find("line 1: expected a JSON object"), std::string::npos) << msg;
}

TEST(Fields, MissingAndWrongTypeNameTheField) {
  nlohmann::json j = {{"a", 1}};
  auto msg = error_of([&] { require_string(j, "q", "f.jsonl:3"); });
  EXPECT_EQ(msg, "f.jsonl:3: missing field 'q'");
  msg = error_of([&] { require_string(j, "a", "f.jsonl:3"); });
  EXPECT_EQ(msg, "f.jsonl:3: field 'a' must be a string, got number");
}
