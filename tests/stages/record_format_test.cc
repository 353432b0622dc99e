#include "stages/record_format.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <sstream>
#include <string>

#include "io/chunk.h"
#include "io/text_escape.h"
#include "stages/record_batch.h"
#include "stages/schema.h"
#include "tests/support/test_batch.h"

#if __has_include(<nlohmann/json.hpp>)
#include <nlohmann/json.hpp>
#define LOGPIPE_HAVE_NLOHMANN_JSON 1
#endif

#if __has_include("tests/support/alloc_counter.h")
#include "tests/support/alloc_counter.h"
#define LOGPIPE_HAVE_ALLOC_COUNTER 1
#endif

namespace logpipe {
namespace {

constexpr size_t kIp = 0;      // string
constexpr size_t kStatus = 1;  // int
constexpr size_t kRt = 2;      // float
constexpr size_t kTs = 3;      // time

Schema TestSchema() {
  Schema s;
  s.Add({"ip", FieldType::kString, ""});
  s.Add({"status", FieldType::kInt, ""});
  s.Add({"rt", FieldType::kFloat, ""});
  s.Add({"ts", FieldType::kTime, "iso8601"});
  return s;
}

// Batches here start at line 41, so line numbers in records are not row indexes.
class TestBatch : public testing::TestBatch {
 public:
  TestBatch(size_t num_fields, uint32_t rows) : testing::TestBatch(num_fields, rows, 41) {}
};

std::unique_ptr<RecordFormatter> Make(RecordFormat format, std::vector<std::string> fields,
                                      bool line_numbers) {
  RecordOutputOptions options;
  options.format = format;
  options.fields = std::move(fields);
  options.with_line_numbers = line_numbers;
  Result<std::unique_ptr<RecordFormatter>> f = NewRecordFormatter(options, TestSchema());
  EXPECT_TRUE(f.ok()) << f.status().message();
  return std::move(f.value());
}

// Three rows: a full one, one with awkward strings and non-finite float, one all absent.
void Fill(TestBatch& b) {
  b.Str(kIp, 0, "10.0.0.1");
  b.Int(kStatus, 0, 200);
  b.Float(kRt, 0, 0.25);
  b.Int(kTs, 0, 1431857103000);
  b.Str(kIp, 1, "a\"b,c\n\xff");
  b.Int(kStatus, 1, -1);
  b.Float(kRt, 1, std::numeric_limits<double>::infinity());
  b.Int(kTs, 1, 1431857103250);
}

TEST(RecordJson, WritesTypedValuesInChosenOrder) {
  TestBatch b(4, 3);
  Fill(b);
  auto f = Make(RecordFormat::kJsonLines, {}, false);
  EXPECT_EQ(f->Header(), "");
  std::string out;
  f->Format(b.batch(), &out);
  EXPECT_EQ(out,
            "{\"ip\":\"10.0.0.1\",\"status\":200,\"rt\":0.25,\"ts\":\"2015-05-17T10:05:03Z\"}\n"
            "{\"ip\":\"a\\\"b,c\\n\\\\xFF\",\"status\":-1,\"rt\":null,"
            "\"ts\":\"2015-05-17T10:05:03.250Z\"}\n"
            "{\"ip\":null,\"status\":null,\"rt\":null,\"ts\":null}\n");
}

TEST(RecordJson, LineNumbersComeFirstAndOnlySelectedRowsAreWritten) {
  TestBatch b(4, 3);
  Fill(b);
  b.batch().selected = {0, 2};
  auto f = Make(RecordFormat::kJsonLines, {"status", "ip"}, true);
  std::string out;
  f->Format(b.batch(), &out);
  EXPECT_EQ(out,
            "{\"_line\":41,\"status\":200,\"ip\":\"10.0.0.1\"}\n"
            "{\"_line\":43,\"status\":null,\"ip\":null}\n");
  auto none = Make(RecordFormat::kJsonLines, {}, false);
  Schema empty;
  RecordOutputOptions options;
  Result<std::unique_ptr<RecordFormatter>> g = NewRecordFormatter(options, empty);
  ASSERT_TRUE(g.ok());
  TestBatch e(0, 1);
  out.clear();
  g.value()->Format(e.batch(), &out);
  EXPECT_EQ(out, "{}\n");
}

#ifdef LOGPIPE_HAVE_NLOHMANN_JSON
TEST(RecordJson, EveryLineParses) {
  TestBatch b(4, 64);
  for (uint32_t r = 0; r < 64; ++r) {
    std::string s;
    for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>(r * 37 + i * 101));
    b.Str(kIp, r, s);
    b.Float(kRt, r, r * 0.1);
  }
  auto f = Make(RecordFormat::kJsonLines, {}, true);
  std::string out;
  f->Format(b.batch(), &out);
  ASSERT_TRUE(IsValidUtf8(out));
  std::istringstream lines(out);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    EXPECT_EQ(j["_line"].get<int>(), 41 + n);
    EXPECT_EQ(j["rt"].get<double>(), n * 0.1);
  }
  EXPECT_EQ(n, 64);
}
#endif

TEST(RecordCsv, WritesHeaderAndQuotesFields) {
  TestBatch b(4, 3);
  Fill(b);
  auto f = Make(RecordFormat::kCsv, {}, true);
  EXPECT_EQ(f->Header(), "_line,ip,status,rt,ts\n");
  std::string out;
  f->Format(b.batch(), &out);
  EXPECT_EQ(out,
            "41,10.0.0.1,200,0.25,2015-05-17T10:05:03Z\n"
            "42,\"a\"\"b,c\n\\xFF\",-1,,2015-05-17T10:05:03.250Z\n"
            "43,,,,\n");
}

TEST(RecordCsv, SingleEmptyFieldIsNotABlankLine) {
  TestBatch b(4, 2);
  b.Str(kIp, 0, "x");
  auto f = Make(RecordFormat::kCsv, {"ip"}, false);
  EXPECT_EQ(f->Header(), "ip\n");
  std::string out;
  f->Format(b.batch(), &out);
  EXPECT_EQ(out, "x\n\"\"\n");
}

TEST(RecordFormat, RejectsUnknownAndRepeatedFields) {
  RecordOutputOptions options;
  options.fields = {"ip", "stauts"};
  Result<std::unique_ptr<RecordFormatter>> f = NewRecordFormatter(options, TestSchema());
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kConfig);
  EXPECT_EQ(f.status().message(),
            "records output: unknown field 'stauts' (fields: ip, status, rt, ts)");
  options.fields = {"ip", "ip"};
  f = NewRecordFormatter(options, TestSchema());
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(), "records output: field 'ip' is listed twice");
}

#ifdef LOGPIPE_HAVE_ALLOC_COUNTER
TEST(RecordFormat, FormatAllocatesNothingOnceTheBufferHasGrown) {
  TestBatch b(4, 3);
  Fill(b);
  for (RecordFormat format : {RecordFormat::kJsonLines, RecordFormat::kCsv}) {
    auto f = Make(format, {}, true);
    std::string out;
    f->Format(b.batch(), &out);
    out.clear();
    const uint64_t before = testing::AllocationCount();
    f->Format(b.batch(), &out);
    EXPECT_EQ(testing::AllocationCount() - before, 0u);
  }
}
#endif

}  // namespace
}  // namespace logpipe
