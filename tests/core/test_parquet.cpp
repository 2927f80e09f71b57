// The native Parquet reader: committed pyarrow fixtures, random files checked against pyarrow, and errors on bad files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/parquet.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

namespace fs = std::filesystem;
namespace pb = packbench;
namespace pt = packbench::testing;
using nlohmann::json;

namespace {

std::string fixture(const std::string& name) { return pt::fixtures_dir() + "/parquet/" + name; }

// Compares rows with the expected JSON array, naming the first row that differs.
void expect_rows(const std::vector<json>& got, const json& want, const std::string& what) {
  ASSERT_TRUE(want.is_array()) << what;
  ASSERT_EQ(got.size(), want.size()) << what << ": row count";
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i]) {
      ADD_FAILURE() << what << ": row " << i << " differs\n  packbench: " << got[i].dump() << "\n  pyarrow:   " << want[i].dump();
      return;
    }
  }
}

void expect_fixture(const std::string& name) {
  SCOPED_TRACE(name);
  const json want = json::parse(pt::slurp(fixture(name + ".json")));
  std::vector<json> got;
  try {
    got = pb::parquet::read_rows(fixture(name + ".parquet"));
  } catch (const pb::Error& e) {
    FAIL() << e.what();
  }
  expect_rows(got, want, name);
}

// A copy of a fixture with `edit` applied to its bytes, in a fresh temp folder.
std::string edited_copy(const std::string& name, const std::function<void(std::string&)>& edit) {
  std::string bytes = pt::slurp(fixture(name + ".parquet"));
  edit(bytes);
  return pt::write_text(pt::temp_dir("parquet-bad"), name + ".parquet", bytes);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

// ---- committed fixtures (tests/fixtures/parquet/make_fixtures.py) --------------------------------

TEST(ParquetFixtures, WildBenchEveryCodecAndLayout) {
  for (const char* name : {"wildbench_snappy", "wildbench_gzip", "wildbench_zstd", "wildbench_none", "wildbench_nodict",
                           "wildbench_v2", "wildbench_v2_zstd_nodict", "wildbench_small_pages"})
    expect_fixture(name);
}

// Row group by row group: the sink sees each group's rows with its first row's index, and the
// groups together are read_rows' rows.
TEST(ParquetFixtures, RowGroupsOneAtATime) {
  const std::string path = fixture("wildbench_small_pages.parquet");  // two row groups of 2 rows
  std::vector<int64_t> firsts;
  std::vector<json> all;
  pb::parquet::for_each_row_group(path, [&](std::vector<json>&& rows, int64_t first_row) {
    firsts.push_back(first_row);
    EXPECT_EQ(rows.size(), 2u);
    for (auto& r : rows) all.push_back(std::move(r));
  });
  EXPECT_EQ(firsts, (std::vector<int64_t>{0, 2}));
  expect_rows(all, json::parse(pt::slurp(fixture("wildbench_small_pages.json"))), "row groups");
}

TEST(ParquetFixtures, WildBenchShape) {
  const auto rows = pb::parquet::read_rows(fixture("wildbench_snappy.parquet"));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0]["conversation_input"].size(), 3u);
  EXPECT_EQ(rows[0]["conversation_input"][1]["role"], "assistant");
  EXPECT_TRUE(rows[0]["conversation_input"][0]["timestamp"].is_null());
  EXPECT_EQ(rows[1]["conversation_input"][0]["content"], "写一首关于秋天的短诗 🍂，不超过四行。");
  EXPECT_EQ(rows[1]["checklist"], json::array());
  EXPECT_TRUE(rows[2]["references"].is_null());
  EXPECT_TRUE(rows[2]["secondary_tags"].is_null());
  EXPECT_EQ(rows[3]["references"], json({{"gpt-4", nullptr}}));
  EXPECT_EQ(rows[3]["length"], 0);
}

TEST(ParquetFixtures, SftFiles) {
  expect_fixture("alpaca");
  expect_fixture("sharegpt");
  const auto rows = pb::parquet::read_rows(fixture("sharegpt.parquet"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1]["conversations"][3], json({{"from", "gpt"}, {"value", "どういたしまして 😊"}}));
}

TEST(ParquetFixtures, NestingEdgeCases) {
  expect_fixture("nested");
  expect_fixture("nested_v2_nodict");
  expect_fixture("nested_legacy_names");
  expect_fixture("legacy_lists");  // 2-level lists and a bare repeated field, hand-written
  const auto rows = pb::parquet::read_rows(fixture("nested.parquet"));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_TRUE(rows[0]["nulls"].is_null());  // null, [], [null] stay apart
  EXPECT_EQ(rows[1]["nulls"], json::array());
  EXPECT_EQ(rows[2]["nulls"], json::parse("[null]"));
  EXPECT_EQ(rows[0]["m"], json::parse(R"([{"key":"one","value":1},{"key":"two","value":2}])"));
  EXPECT_EQ(rows[3]["ll"], json::parse("[[], null, [null, 4]]"));
}

TEST(ParquetFixtures, ScalarTypes) {
  expect_fixture("numeric");
  expect_fixture("numeric_v2_gzip");
  expect_fixture("bool_nulls");
  const auto rows = pb::parquet::read_rows(fixture("numeric.parquet"));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1]["u64"].get<uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(rows[0]["i64"].get<int64_t>(), INT64_MIN);
  EXPECT_EQ(rows[0]["f32"].get<double>(), double(0.1f));
  EXPECT_EQ(rows[1]["date"], 19782);  // days since 1970-01-01
  EXPECT_EQ(rows[1]["ts_ms"], 1700000000123);
  EXPECT_EQ(rows[0]["bin"], "AAH/");  // base64
}

TEST(ParquetFixtures, DeltaAndRleEncodings) {
  expect_fixture("delta");
  expect_fixture("delta_v1");
}

// ---- differential: random files, pyarrow as the reference ----------------------------------------

namespace {

// Writes N random tables (random nesting, nulls, unicode, long strings, codecs, dictionary on/off,
// page versions, row group and page sizes, DELTA encodings) and pyarrow's rows for each.
const char* kRandomTables = R"PY(
import base64, datetime, json, os, random, sys
import pyarrow as pa, pyarrow.parquet as pq

out, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
CHARS = "abcdefxyz ABC0129 é中文🙂🍂\n\t\"\\/" + "\u0000\u00ff\u2028"
WORDS = ["alpha", "beta", "gamma", "δέλτα", "", "user", "assistant"]
PRIMS = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64(),
         pa.float32(), pa.float64(), pa.bool_(), pa.string(), pa.large_string(), pa.binary(), pa.null(),
         pa.date32(), pa.binary(4)]

def rand_type(depth):
    k = rng.random()
    if depth >= 4 or k < 0.45: return rng.choice(PRIMS)
    if k < 0.65: return pa.list_(rand_type(depth + 1))
    if k < 0.85: return pa.struct([("f%d" % i, rand_type(depth + 1)) for i in range(rng.randint(1, 3))])
    if k < 0.93: return pa.map_(rng.choice([pa.string(), pa.int32()]), rand_type(depth + 1))
    return pa.large_list(rand_type(depth + 1))

def rand_str():
    n = rng.choice([0, 1, 3, 8, 20, rng.randint(0, 3000)])
    if rng.random() < 0.4: return rng.choice(WORDS)
    return "".join(rng.choice(CHARS) for _ in range(n))

def rand_int(bits, signed):
    if rng.random() < 0.3: return rng.choice([0, 1, -1 if signed else 2])
    return rng.randint(-2 ** (bits - 1), 2 ** (bits - 1) - 1) if signed else rng.randint(0, 2 ** bits - 1)

def rand_value(t, null_p, nullable=True):
    if pa.types.is_null(t): return None
    if nullable and rng.random() < null_p: return None
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [rand_value(t.value_type, null_p) for _ in range(rng.choice([0, 1, 2, 3, rng.randint(0, 30)]))]
    if pa.types.is_map(t):
        return [(rand_value(t.key_type, 0, False), rand_value(t.item_type, null_p)) for _ in range(rng.randint(0, 4))]
    if pa.types.is_struct(t): return {f.name: rand_value(f.type, null_p) for f in t}
    if pa.types.is_boolean(t): return rng.random() < 0.5
    if pa.types.is_integer(t): return rand_int(t.bit_width, pa.types.is_signed_integer(t))
    if pa.types.is_float32(t): return rng.choice([0.0, 1.5, -2.25, rng.uniform(-1e6, 1e6), rng.random() * 1e-30])
    if pa.types.is_floating(t): return rng.choice([0.0, -0.5, 1e-300, rng.uniform(-1e300, 1e300), rng.random()])
    if pa.types.is_string(t) or pa.types.is_large_string(t): return rand_str()
    if pa.types.is_fixed_size_binary(t): return bytes(rng.randrange(256) for _ in range(t.byte_width))
    if pa.types.is_binary(t): return bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 5, 40])))
    if pa.types.is_date32(t): return datetime.date.fromordinal(rng.randint(1, 800000))
    raise TypeError(t)

def to_json(v):
    if isinstance(v, dict): return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list): return [to_json(x) for x in v]
    if isinstance(v, tuple): return {"key": to_json(v[0]), "value": to_json(v[1])}
    if isinstance(v, bytes): return base64.b64encode(v).decode()
    if isinstance(v, datetime.date): return (v - datetime.date(1970, 1, 1)).days
    return v

for n in range(count):
    ncols = rng.randint(1, 5)
    types = [rand_type(0) for i in range(ncols)]
    fields = [pa.field("c%d" % i, t, nullable=pa.types.is_null(t) or rng.random() < 0.8) for i, t in enumerate(types)]
    if rng.random() < 0.2: fields[0] = pa.field("c0", pa.null())
    nrows = rng.choice([0, 1, 5, 50, rng.randint(1, 400)])
    null_p = rng.choice([0.0, 0.1, 0.5, 0.95])
    cols = {f.name: pa.array([rand_value(f.type, null_p, f.nullable) for _ in range(nrows)], type=f.type) for f in fields}
    table = pa.Table.from_pydict(cols, schema=pa.schema(fields))
    kw = dict(compression=rng.choice(["none", "snappy", "gzip", "zstd"]), use_dictionary=rng.random() < 0.6,
              data_page_version=rng.choice(["1.0", "2.0"]), row_group_size=rng.choice([None, 1, 7, 64, 1000]),
              data_page_size=rng.choice([None, 100, 4096]), write_batch_size=rng.choice([None, 5]))
    if not kw["use_dictionary"] and rng.random() < 0.5:
        enc = {}
        for f in fields:
            if f.type in (pa.int32(), pa.int64()): enc[f.name] = "DELTA_BINARY_PACKED"
            elif f.type in (pa.string(), pa.binary()): enc[f.name] = rng.choice(["DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY"])
            elif f.type == pa.bool_(): enc[f.name] = "RLE"
        if enc: kw["column_encoding"] = enc
    kw = {k: v for k, v in kw.items() if v is not None}
    path = os.path.join(out, "t%03d.parquet" % n)
    pq.write_table(table, path, **kw)
    rows = [to_json(r) for r in pq.read_table(path).to_pylist()]
    with open(os.path.join(out, "t%03d.json" % n), "w") as f: json.dump(rows, f)
    with open(os.path.join(out, "t%03d.txt" % n), "w") as f: f.write("%s rows=%d %s" % (table.schema, nrows, kw))
)PY";

}  // namespace

TEST(ParquetDifferential, RandomTablesMatchPyarrow) {
  PB_REQUIRE_VENV(python);
  const std::string dir = pt::temp_dir("parquet-random");
  pt::write_text(dir, "gen.py", kRandomTables);
  const char* env_n = std::getenv("PACKBENCH_PARQUET_RANDOM_FILES");
  const int count = env_n ? std::atoi(env_n) : 60;
  const char* env_seed = std::getenv("PACKBENCH_PARQUET_SEED");
  const std::string seed = env_seed ? env_seed : "20240611";
  std::string out;
  const int rc = pt::run_command(python + " " + dir + "/gen.py " + dir + " " + std::to_string(count) + " " + seed, &out);
  if (rc != 0 && (contains(out, "No module named 'pyarrow'") || contains(out, "No module named pyarrow")))
    GTEST_SKIP() << "pyarrow is not installed in " << python;
  ASSERT_EQ(rc, 0) << out;
  for (int i = 0; i < count; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "t%03d", i);
    const std::string base = dir + "/" + name;
    const std::string what = base + ".parquet (" + pt::slurp(base + ".txt") + ")";
    std::vector<json> got;
    try {
      got = pb::parquet::read_rows(base + ".parquet");
    } catch (const pb::Error& e) {
      ADD_FAILURE() << what << ": " << e.what();
      continue;
    }
    expect_rows(got, json::parse(pt::slurp(base + ".json")), what);
  }
}

// ---- errors --------------------------------------------------------------------------------------

TEST(ParquetErrors, NotAParquetFile) {
  const std::string path = pt::write_text(pt::temp_dir("parquet-bad"), "rows.jsonl", "{\"a\": 1}\n{\"a\": 2}\n");
  const std::string err = pt::error_of([&] { pb::parquet::read_rows(path); });
  EXPECT_TRUE(contains(err, path)) << err;
  EXPECT_TRUE(contains(err, "not a Parquet file")) << err;
  const std::string empty = pt::write_text(pt::temp_dir("parquet-bad"), "empty.parquet", "");
  EXPECT_TRUE(contains(pt::error_of([&] { pb::parquet::read_rows(empty); }), "not a Parquet file"));
  EXPECT_TRUE(contains(pt::error_of([&] { pb::parquet::read_rows("/nonexistent/x.parquet"); }), "/nonexistent/x.parquet"));
}

TEST(ParquetErrors, TruncatedFiles) {
  const std::string full = pt::slurp(fixture("wildbench_snappy.parquet"));
  // Cut anywhere: the end magic is gone (or, cut to its last bytes, the footer is not whole).
  for (size_t keep : {size_t(0), size_t(4), size_t(100), full.size() / 2, full.size() - 1, full.size() - 9}) {
    const std::string path = edited_copy("wildbench_snappy", [&](std::string& b) { b.resize(keep); });
    const std::string err = pt::error_of([&] { pb::parquet::read_rows(path); });
    EXPECT_TRUE(contains(err, path)) << keep << ": " << err;
  }
  // The footer cut short but the end magic and length kept: the Thrift reader runs out of bytes.
  const std::string cut = edited_copy("wildbench_snappy", [](std::string& b) {
    uint32_t len;
    std::memcpy(&len, b.data() + b.size() - 8, 4);
    std::string tail = b.substr(b.size() - 8);
    b.erase(b.size() - 8 - len / 2, len / 2);  // drop the footer's second half
    uint32_t half = len - len / 2;
    b.replace(b.size() - 8, 4, reinterpret_cast<const char*>(&half), 4);
  });
  EXPECT_TRUE(contains(pt::error_of([&] { pb::parquet::read_rows(cut); }), "footer")) << pt::error_of([&] { pb::parquet::read_rows(cut); });
}

TEST(ParquetErrors, FooterLengthBeyondTheFile) {
  const std::string path = edited_copy("alpaca", [](std::string& b) {
    const uint32_t huge = 0x7fffff00;
    std::memcpy(&b[b.size() - 8], &huge, 4);
  });
  const std::string err = pt::error_of([&] { pb::parquet::read_rows(path); });
  EXPECT_TRUE(contains(err, path) && contains(err, "footer length")) << err;
}

TEST(ParquetErrors, UnsupportedCodecNamesCodecAndColumn) {
  for (auto [name, codec] : {std::pair{"wildbench_lz4", "LZ4_RAW"}, std::pair{"wildbench_brotli", "BROTLI"}}) {
    const std::string err = pt::error_of([&] { pb::parquet::read_rows(fixture(std::string(name) + ".parquet")); });
    EXPECT_TRUE(contains(err, codec) && contains(err, "session_id") && contains(err, name)) << err;
  }
}

// Single-byte corruptions spread over the whole of each file (page headers, page data, footer):
// an Error naming the file or rows, never a crash (the ASan build checks "never reads out of bounds").
TEST(ParquetErrors, CorruptBytesNeverCrash) {
  const uint8_t flips[] = {0xff, 0x01, 0x80, 0x10};
  for (const char* name : {"wildbench_snappy", "wildbench_gzip", "wildbench_zstd", "nested_v2_nodict", "delta", "numeric"}) {
    const std::string orig = pt::slurp(fixture(std::string(name) + ".parquet"));
    const std::string path = pt::temp_dir("parquet-corrupt") + "/x.parquet";
    int errors = 0, reads = 0;
    const size_t step = std::max<size_t>(1, orig.size() / 700);  // ~700 corruptions a file
    for (size_t at = 4; at < orig.size() - 8; at += step) {
      std::string bytes = orig;
      bytes[at] = char(uint8_t(bytes[at]) ^ flips[(at / step) % 4]);
      pt::write_text(path, bytes);
      try {
        pb::parquet::read_rows(path);
        ++reads;
      } catch (const pb::Error& e) {
        ++errors;
        EXPECT_TRUE(contains(e.what(), path)) << e.what();
      }
    }
    EXPECT_GT(errors, 0) << name;
    std::printf("%s: %d corruptions gave an error, %d still read\n", name, errors, reads);
  }
}

TEST(ParquetErrors, CorruptPageHeaderNamesColumnAndPage) {
  // Overwrite the first page header of the first column chunk (right after the leading magic).
  const std::string path = edited_copy("alpaca", [](std::string& b) {
    for (size_t i = 4; i < 10; ++i) b[i] = char(0xff);
  });
  const std::string err = pt::error_of([&] { pb::parquet::read_rows(path); });
  EXPECT_TRUE(contains(err, path) && contains(err, "column 'instruction'") && contains(err, "row group 0") &&
              contains(err, "page 0"))
      << err;
}

TEST(ParquetErrors, UnsupportedTypesNameTypeAndColumn) {
  const std::string int96 = pt::error_of([] { pb::parquet::read_rows(fixture("int96.parquet")); });
  EXPECT_TRUE(contains(int96, "INT96") && contains(int96, "column 'when'") && contains(int96, "int96.parquet")) << int96;
  const std::string dec = pt::error_of([] { pb::parquet::read_rows(fixture("decimal.parquet")); });
  EXPECT_TRUE(contains(dec, "DECIMAL") && contains(dec, "column 'price'")) << dec;
}
