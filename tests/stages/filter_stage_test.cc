#include "stages/filter_stage.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "io/chunk.h"
#include "stages/record_batch.h"
#include "stages/schema.h"
#include "tests/support/alloc_counter.h"

namespace logpipe {
namespace {

// 2015-05-17T10:05:00Z
constexpr int64_t kT0 = 1431857100000;

// A hand-built batch: `rows` lines, every field absent until set.
class Batch {
 public:
  Batch(const Schema& schema, uint32_t rows) {
    std::string text;
    for (uint32_t r = 0; r < rows; ++r) text += "line " + std::to_string(r) + "\n";
    chunk_.Reserve(text.size());
    if (!text.empty()) std::memcpy(chunk_.mutable_data(), text.data(), text.size());
    chunk_.set_size(text.size());
    batch_.Reset(chunk_, schema.size());
  }

  RecordBatch& batch() { return batch_; }

  void Int(size_t f, uint32_t row, int64_t v) { Set(f, row).i = v; }
  void Float(size_t f, uint32_t row, double v) { Set(f, row).f = v; }
  void Time(size_t f, uint32_t row, int64_t ms) { Set(f, row).i = ms; }
  // `text` must outlive the batch (string literals in these tests).
  void Str(size_t f, uint32_t row, std::string_view text) { Set(f, row).text = text; }
  void Absent(size_t f, uint32_t row) { batch_.field(f, row) = Value{}; }

  void SelectAll() {
    batch_.selected.clear();
    for (uint32_t r = 0; r < batch_.size(); ++r) batch_.selected.push_back(r);
    batch_.counters.filtered_out = 0;
  }

 private:
  Value& Set(size_t f, uint32_t row) {
    Value& v = batch_.field(f, row);
    v.present = true;
    return v;
  }
  Chunk chunk_;
  RecordBatch batch_;
};

Schema TestSchema() {
  Schema s;
  s.Add({"status", FieldType::kInt, ""});       // 0
  s.Add({"bytes", FieldType::kInt, ""});        // 1
  s.Add({"latency", FieldType::kFloat, ""});    // 2
  s.Add({"method", FieldType::kString, ""});    // 3
  s.Add({"path", FieldType::kString, ""});      // 4
  s.Add({"ts", FieldType::kTime, "iso8601"});   // 5
  s.Add({"ts2", FieldType::kTime, "iso8601"});  // 6
  return s;
}
enum : size_t { kStatus, kBytes, kLatency, kMethod, kPath, kTs, kTs2 };

std::unique_ptr<FilterStage> Build(const std::string& where, const Schema& schema) {
  Result<FilterExpr> expr = FilterExpr::Parse(where);
  EXPECT_TRUE(expr.ok()) << where << ": " << expr.status().message();
  if (!expr.ok()) return nullptr;
  Result<std::unique_ptr<FilterStage>> stage = FilterStage::Create(std::move(*expr), schema);
  EXPECT_TRUE(stage.ok()) << where << ": " << stage.status().message();
  if (!stage.ok()) return nullptr;
  return std::move(*stage);
}

// Runs `where` over every row of `b` and returns the rows kept.
std::vector<uint32_t> Keep(const std::string& where, Batch& b, const Schema& schema) {
  std::unique_ptr<FilterStage> stage = Build(where, schema);
  if (!stage) return {999999};
  b.SelectAll();
  std::unique_ptr<Scratch> scratch = stage->NewScratch();
  stage->Process(b.batch(), *scratch);
  EXPECT_EQ(b.batch().counters.filtered_out, b.batch().size() - b.batch().selected.size());
  return b.batch().selected;
}

// The message of the first error of Parse then Create, or "" if both succeed.
std::string ErrorOf(const std::string& where, const Schema& schema) {
  Result<FilterExpr> expr = FilterExpr::Parse(where);
  if (!expr.ok()) {
    EXPECT_EQ(expr.status().code(), StatusCode::kConfig);
    return expr.status().message();
  }
  Result<std::unique_ptr<FilterStage>> stage = FilterStage::Create(std::move(*expr), schema);
  if (!stage.ok()) {
    EXPECT_EQ(stage.status().code(), StatusCode::kConfig);
    return stage.status().message();
  }
  return "";
}

using Rows = std::vector<uint32_t>;

// Five rows with status 200, 301, 404, 500, absent.
class FilterTest : public ::testing::Test {
 protected:
  FilterTest() : schema_(TestSchema()), b_(schema_, 5) {
    const int64_t status[] = {200, 301, 404, 500};
    for (uint32_t r = 0; r < 4; ++r) b_.Int(kStatus, r, status[r]);
  }
  Rows Keep(const std::string& where) { return logpipe::Keep(where, b_, schema_); }
  std::string ErrorOf(const std::string& where) { return logpipe::ErrorOf(where, schema_); }

  Schema schema_;
  Batch b_;
};

TEST(FilterExpr, ParseListsFieldsOnceInOrderOfFirstUse) {
  Result<FilterExpr> e =
      FilterExpr::Parse("not (path =~ \"^/a\") and status >= 500 or exists(ts) or path == 'x'");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->fields(), (std::vector<std::string>{"path", "status", "ts"}));
  EXPECT_EQ(e->text(), "not (path =~ \"^/a\") and status >= 500 or exists(ts) or path == 'x'");
}

TEST(FilterExpr, ParseDoesNotNeedTheSchema) {
  Result<FilterExpr> e = FilterExpr::Parse("nosuchfield == 1");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->fields(), std::vector<std::string>{"nosuchfield"});
}

TEST_F(FilterTest, EveryComparisonOperatorOnInts) {
  EXPECT_EQ(Keep("status == 404"), (Rows{2}));
  EXPECT_EQ(Keep("status != 404"), (Rows{0, 1, 3}));
  EXPECT_EQ(Keep("status < 404"), (Rows{0, 1}));
  EXPECT_EQ(Keep("status <= 404"), (Rows{0, 1, 2}));
  EXPECT_EQ(Keep("status > 404"), (Rows{3}));
  EXPECT_EQ(Keep("status >= 404"), (Rows{2, 3}));
  EXPECT_EQ(Keep("status>=404"), (Rows{2, 3}));
}

TEST_F(FilterTest, LiteralOnTheLeftIsFlipped) {
  EXPECT_EQ(Keep("404 == status"), (Rows{2}));
  EXPECT_EQ(Keep("404 != status"), (Rows{0, 1, 3}));
  EXPECT_EQ(Keep("404 > status"), (Rows{0, 1}));
  EXPECT_EQ(Keep("404 >= status"), (Rows{0, 1, 2}));
  EXPECT_EQ(Keep("404 < status"), (Rows{3}));
  EXPECT_EQ(Keep("404 <= status"), (Rows{2, 3}));
}

TEST_F(FilterTest, IntFieldAgainstFloatLiteralComparesNumerically) {
  EXPECT_EQ(Keep("status > 300.5"), (Rows{1, 2, 3}));
  EXPECT_EQ(Keep("status < 301.0"), (Rows{0}));
  EXPECT_EQ(Keep("status <= 301.0"), (Rows{0, 1}));
  EXPECT_EQ(Keep("status == 301.0"), (Rows{1}));
  EXPECT_EQ(Keep("status == 301.5"), (Rows{}));
  EXPECT_EQ(Keep("status != 301.5"), (Rows{0, 1, 2, 3}));  // absent row 4 is still false
  EXPECT_EQ(Keep("status >= 3.01e2"), (Rows{1, 2, 3}));
  EXPECT_EQ(Keep("status < -0.5"), (Rows{}));
  EXPECT_EQ(Keep("status < 1e300"), (Rows{0, 1, 2, 3}));
  EXPECT_EQ(Keep("status > -1e300"), (Rows{0, 1, 2, 3}));
  EXPECT_EQ(Keep("status < 99999999999999999999"), (Rows{0, 1, 2, 3}));
}

TEST(Filter, IntComparisonsAreExactBeyondDoublePrecision) {
  Schema schema = TestSchema();
  Batch b(schema, 3);
  b.Int(kBytes, 0, (int64_t{1} << 53) + 1);
  b.Int(kBytes, 1, std::numeric_limits<int64_t>::max());
  b.Int(kBytes, 2, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(Keep("bytes == 9007199254740993", b, schema), (Rows{0}));
  EXPECT_EQ(Keep("bytes > 9007199254740992", b, schema), (Rows{0, 1}));
  // 9007199254740992.0 is 2^53 exactly; 2^53 + 1 is above it even though it rounds to it.
  EXPECT_EQ(Keep("bytes > 9007199254740992.0", b, schema), (Rows{0, 1}));
  EXPECT_EQ(Keep("bytes == 9223372036854775807", b, schema), (Rows{1}));
  EXPECT_EQ(Keep("bytes < 9223372036854775808.0", b, schema), (Rows{0, 1, 2}));
  EXPECT_EQ(Keep("bytes == -9223372036854775808", b, schema), (Rows{2}));
}

TEST(Filter, FloatFieldComparesWithIntAndFloatLiterals) {
  Schema schema = TestSchema();
  Batch b(schema, 4);
  b.Float(kLatency, 0, 0.25);
  b.Float(kLatency, 1, 1.0);
  b.Float(kLatency, 2, 2.5);
  b.Float(kLatency, 3, std::nan(""));
  EXPECT_EQ(Keep("latency == 1", b, schema), (Rows{1}));
  EXPECT_EQ(Keep("latency > 1", b, schema), (Rows{2}));
  EXPECT_EQ(Keep("latency <= 0.25", b, schema), (Rows{0}));
  EXPECT_EQ(Keep("latency >= -.5", b, schema), (Rows{0, 1, 2}));
  EXPECT_EQ(Keep("latency != 1", b, schema), (Rows{0, 2, 3}));  // NaN != everything
  EXPECT_EQ(Keep("latency in [1, 2.5]", b, schema), (Rows{1, 2}));
  EXPECT_EQ(Keep("latency not in [1, 2.5]", b, schema), (Rows{0, 3}));
}

TEST(Filter, StringsCompareBytewiseIncludingHighBytes) {
  Schema schema = TestSchema();
  Batch b(schema, 5);
  b.Str(kPath, 0, "/a");
  b.Str(kPath, 1, "/b");
  b.Str(kPath, 2, "/\xC3\xA9");  // é in UTF-8: above every ASCII byte
  b.Str(kPath, 3, "/a/b");
  b.Str(kPath, 4, "/\xE9");  // é in Latin-1
  EXPECT_EQ(Keep("path == \"/a\"", b, schema), (Rows{0}));
  EXPECT_EQ(Keep("path > '/b'", b, schema), (Rows{2, 4}));
  EXPECT_EQ(Keep("path < \"/a/\"", b, schema), (Rows{0}));
  EXPECT_EQ(Keep("path <= \"/a/b\"", b, schema), (Rows{0, 3}));
  EXPECT_EQ(Keep("path == \"/\xC3\xA9\"", b, schema), (Rows{2}));
  EXPECT_EQ(Keep("path == '/\xE9'", b, schema), (Rows{4}));
  EXPECT_EQ(Keep("path > \"/\xC3\xA9\"", b, schema), (Rows{4}));
}

TEST(Filter, StringLiteralEscapes) {
  Schema schema = TestSchema();
  Batch b(schema, 6);
  b.Str(kPath, 0, "a\"b");
  b.Str(kPath, 1, "it's");
  b.Str(kPath, 2, "back\\slash");
  b.Str(kPath, 3, "tab\there");
  b.Str(kPath, 4, "\\d");
  b.Str(kPath, 5, "");  // present and empty
  EXPECT_EQ(Keep(R"(path == "a\"b")", b, schema), (Rows{0}));
  EXPECT_EQ(Keep(R"(path == 'a"b')", b, schema), (Rows{0}));
  EXPECT_EQ(Keep(R"(path == 'it\'s')", b, schema), (Rows{1}));
  EXPECT_EQ(Keep(R"(path == "it's")", b, schema), (Rows{1}));
  EXPECT_EQ(Keep(R"(path == "back\\slash")", b, schema), (Rows{2}));
  EXPECT_EQ(Keep(R"(path == "tab\there")", b, schema), (Rows{3}));
  // Other backslash pairs are kept as written, so regexes read naturally.
  EXPECT_EQ(Keep(R"(path == "\d")", b, schema), (Rows{4}));
  EXPECT_EQ(Keep(R"(path == "")", b, schema), (Rows{5}));
}

TEST(Filter, RegexMatchIsAnUnanchoredSearchOnBytes) {
  Schema schema = TestSchema();
  Batch b(schema, 5);
  b.Str(kPath, 0, "/api/v1/users");
  b.Str(kPath, 1, "/static/app.js");
  b.Str(kPath, 2, "/\xE9");      // one Latin-1 byte
  b.Str(kPath, 3, "/\xC3\xA9");  // two UTF-8 bytes
  EXPECT_EQ(Keep(R"(path =~ "api")", b, schema), (Rows{0}));
  EXPECT_EQ(Keep(R"(path =~ "^/api/v\d+/")", b, schema), (Rows{0}));
  EXPECT_EQ(Keep(R"(path =~ "\.js$")", b, schema), (Rows{1}));
  EXPECT_EQ(Keep(R"(path !~ "^/api")", b, schema), (Rows{1, 2, 3}));  // absent row 4: false
  EXPECT_EQ(Keep("path =~ \"^/.$\"", b, schema), (Rows{2}));          // '.' is one byte
  EXPECT_EQ(Keep("path =~ \"^/..$\"", b, schema), (Rows{3}));
  EXPECT_EQ(Keep("path =~ \"\xE9\"", b, schema), (Rows{2}));
  EXPECT_EQ(Keep("path =~ \"(?i)API\"", b, schema), (Rows{0}));
}

TEST_F(FilterTest, RegexOnATypedFieldMatchesItsText) {
  b_.Str(kStatus, 0, "200");
  b_.Str(kStatus, 1, "301");
  b_.Str(kStatus, 2, "404");
  b_.Str(kStatus, 3, "500");
  EXPECT_EQ(Keep(R"(status =~ "^[45]")"), (Rows{2, 3}));
  EXPECT_EQ(Keep(R"(status !~ "^[45]")"), (Rows{0, 1}));
}

TEST_F(FilterTest, InAndNotInWithInts) {
  EXPECT_EQ(Keep("status in [404, 500, 200]"), (Rows{0, 2, 3}));
  EXPECT_EQ(Keep("status not in [404, 500, 200]"), (Rows{1}));
  EXPECT_EQ(Keep("status in [500]"), (Rows{3}));
  EXPECT_EQ(Keep("status in [500, 500]"), (Rows{3}));
  EXPECT_EQ(Keep("status in []"), (Rows{}));
  EXPECT_EQ(Keep("status not in []"), (Rows{0, 1, 2, 3}));
  EXPECT_EQ(Keep("status in [200.0, 300.5, 4.04e2]"), (Rows{0, 2}));
  EXPECT_EQ(Keep("not status in [200]"), (Rows{1, 2, 3, 4}));  // not (absent in ..) is true
}

TEST(Filter, InAndNotInWithStrings) {
  Schema schema = TestSchema();
  Batch b(schema, 5);
  const char* methods[] = {"GET", "POST", "PUT", "get"};
  for (uint32_t r = 0; r < 4; ++r) b.Str(kMethod, r, methods[r]);
  EXPECT_EQ(Keep(R"(method in ["POST", 'GET'])", b, schema), (Rows{0, 1}));
  EXPECT_EQ(Keep(R"(method not in ["POST", "GET", "DELETE"])", b, schema), (Rows{2, 3}));
  EXPECT_EQ(Keep(R"(method in ["G", "GE", "GETS", ""])", b, schema), (Rows{}));
}

TEST(Filter, TimeFieldsCompareWithIsoTimeStrings) {
  Schema schema = TestSchema();
  Batch b(schema, 4);
  b.Time(kTs, 0, kT0 - 1000);  // 10:04:59
  b.Time(kTs, 1, kT0);         // 10:05:00
  b.Time(kTs, 2, kT0 + 250);   // 10:05:00.250
  EXPECT_EQ(Keep(R"(ts == "2015-05-17T10:05:00Z")", b, schema), (Rows{1}));
  EXPECT_EQ(Keep(R"(ts >= "2015-05-17 10:05:00")", b, schema), (Rows{1, 2}));
  EXPECT_EQ(Keep(R"(ts > "2015-05-17T10:05:00.100Z")", b, schema), (Rows{2}));
  EXPECT_EQ(Keep(R"(ts < "2015-05-17T12:05:00+02:00")", b, schema), (Rows{0}));
  EXPECT_EQ(Keep(R"("2015-05-17T10:05:00Z" > ts)", b, schema), (Rows{0}));
  EXPECT_EQ(Keep(R"(ts in ["2015-05-17T10:04:59Z", "2015-05-17T10:05:00.250Z"])", b, schema),
            (Rows{0, 2}));
  EXPECT_EQ(Keep(R"(ts not in ["2015-05-17T10:04:59Z"])", b, schema), (Rows{1, 2}));
}

TEST(Filter, FieldAgainstField) {
  Schema schema = TestSchema();
  Batch b(schema, 5);
  b.Int(kStatus, 0, 1);
  b.Int(kBytes, 0, 2);
  b.Int(kStatus, 1, 2);
  b.Int(kBytes, 1, 2);
  b.Int(kStatus, 2, 3);
  b.Int(kBytes, 2, 2);
  b.Int(kStatus, 3, 3);  // bytes absent
  EXPECT_EQ(Keep("status < bytes", b, schema), (Rows{0}));
  EXPECT_EQ(Keep("status == bytes", b, schema), (Rows{1}));
  EXPECT_EQ(Keep("status != bytes", b, schema), (Rows{0, 2}));
  EXPECT_EQ(Keep("bytes < status", b, schema), (Rows{2}));
  b.Float(kLatency, 0, 1.5);
  b.Float(kLatency, 1, 2.0);
  b.Float(kLatency, 2, 2.5);
  EXPECT_EQ(Keep("status < latency", b, schema), (Rows{0}));
  EXPECT_EQ(Keep("latency > status", b, schema), (Rows{0}));
  EXPECT_EQ(Keep("latency <= status", b, schema), (Rows{1, 2}));
  EXPECT_EQ(Keep("latency == bytes", b, schema), (Rows{1}));
  b.Str(kMethod, 0, "a");
  b.Str(kPath, 0, "b");
  b.Str(kMethod, 1, "b");
  b.Str(kPath, 1, "b");
  EXPECT_EQ(Keep("method < path", b, schema), (Rows{0}));
  EXPECT_EQ(Keep("method == path", b, schema), (Rows{1}));
  b.Time(kTs, 0, kT0);
  b.Time(kTs2, 0, kT0 + 1);
  EXPECT_EQ(Keep("ts < ts2", b, schema), (Rows{0}));
}

TEST_F(FilterTest, AbsentFieldsMakeComparisonsFalse) {
  // Row 4 has no status: every comparison is false, so `not` makes it true.
  EXPECT_EQ(Keep("status != 1"), (Rows{0, 1, 2, 3}));
  EXPECT_EQ(Keep("not status == 1"), (Rows{0, 1, 2, 3, 4}));
  EXPECT_EQ(Keep("exists(status)"), (Rows{0, 1, 2, 3}));
  EXPECT_EQ(Keep("not exists(status)"), (Rows{4}));
  EXPECT_EQ(Keep("exists(path)"), (Rows{}));
  EXPECT_EQ(Keep("exists ( status ) and status > 300"), (Rows{1, 2, 3}));
  // A field called "exists" is still a field when no '(' follows.
  Schema s;
  s.Add({"exists", FieldType::kInt, ""});
  Batch b(s, 2);
  b.Int(0, 1, 7);
  EXPECT_EQ(logpipe::Keep("exists == 7", b, s), (Rows{1}));
  EXPECT_EQ(logpipe::Keep("exists(exists)", b, s), (Rows{1}));
}

TEST_F(FilterTest, PrecedenceIsOrThenAndThenNot) {
  // or < and: a or b and c == a or (b and c)
  EXPECT_EQ(Keep("status == 200 or status > 300 and status < 500"), (Rows{0, 1, 2}));
  EXPECT_EQ(Keep("(status == 200 or status > 300) and status < 500"), (Rows{0, 1, 2}));
  EXPECT_EQ(Keep("status > 300 and status < 500 or status == 200"), (Rows{0, 1, 2}));
  EXPECT_EQ(Keep("status > 300 and (status < 500 or status == 200)"), (Rows{1, 2}));
  // not binds tighter than and/or.
  EXPECT_EQ(Keep("not status == 200 and status < 500"), (Rows{1, 2}));
  EXPECT_EQ(Keep("not (status == 200 and status < 500)"), (Rows{1, 2, 3, 4}));
  EXPECT_EQ(Keep("not status == 200 or status == 200"), (Rows{0, 1, 2, 3, 4}));
  EXPECT_EQ(Keep("not not status == 200"), (Rows{0}));
  EXPECT_EQ(Keep("((((status == 404))))"), (Rows{2}));
  EXPECT_EQ(Keep("status==200 or status==301 or status==404 and status==500"), (Rows{0, 1}));
}

TEST_F(FilterTest, ProcessNarrowsTheSelectionInPlaceAndStably) {
  std::unique_ptr<FilterStage> stage = Build("status >= 301", schema_);
  ASSERT_TRUE(stage);
  RecordBatch& batch = b_.batch();
  batch.selected = {0, 2, 4};  // an earlier stage already dropped rows 1 and 3
  batch.counters.filtered_out = 5;
  std::unique_ptr<Scratch> scratch = stage->NewScratch();
  stage->Process(batch, *scratch);
  EXPECT_EQ(batch.selected, (Rows{2}));
  EXPECT_EQ(batch.counters.filtered_out, 7u);
  EXPECT_EQ(stage->name(), "filter");
}

TEST_F(FilterTest, ParseErrorsNameTheColumnAndWhatWasExpected) {
  EXPECT_EQ(ErrorOf("status >="), "at column 10: expected a value after '>='");
  EXPECT_EQ(ErrorOf("status >= and"), "at column 11: expected a value after '>=', found 'and'");
  EXPECT_EQ(ErrorOf(""), "at column 1: the expression is empty");
  EXPECT_EQ(ErrorOf("   "), "at column 1: the expression is empty");
  EXPECT_EQ(ErrorOf("status"),
            "at column 7: expected a comparison operator (== != < <= > >= =~ !~ in) after "
            "'status'");
  EXPECT_EQ(ErrorOf("(status == 1"),
            "at column 13: expected ')' to close '(' at column 1, found the end of the "
            "expression");
  EXPECT_EQ(ErrorOf("status == 1)"), "at column 12: unexpected ')' with no matching '('");
  EXPECT_EQ(ErrorOf("status == 1 status"),
            "at column 13: expected 'and', 'or' or the end of the expression, found 'status'");
  EXPECT_EQ(ErrorOf("status == 1 and"), "at column 16: expected an expression after 'and'");
  EXPECT_EQ(ErrorOf("not"), "at column 4: expected an expression after 'not'");
  EXPECT_EQ(ErrorOf("path == \"abc"),
            "at column 9: unterminated string: no closing \" before the end");
  EXPECT_EQ(ErrorOf("path == 'abc\\'"),
            "at column 9: unterminated string: no closing ' before the end");
  EXPECT_EQ(ErrorOf("status = 1"), "at column 8: unexpected '='; use '==' to compare");
  EXPECT_EQ(ErrorOf("!exists(status)"), "at column 1: unexpected '!'; use 'not' to negate");
  EXPECT_EQ(ErrorOf("status == 1 && bytes == 2"), "at column 13: unexpected '&&'; use 'and'");
  EXPECT_EQ(ErrorOf("status == 1 || bytes == 2"), "at column 13: unexpected '||'; use 'or'");
  EXPECT_EQ(ErrorOf("status == 1 @"), "at column 13: unexpected '@'");
  EXPECT_EQ(ErrorOf("status == 1.2.3"), "at column 11: malformed number '1.2.3'");
  EXPECT_EQ(ErrorOf("status == 12abc"), "at column 11: malformed number '12abc'");
  EXPECT_EQ(ErrorOf("status == 1e999"), "at column 11: number '1e999' is out of range");
  EXPECT_EQ(ErrorOf("1 == 2"),
            "at column 1: a comparison needs a field on one side; 1 == 2 compares two values");
  EXPECT_EQ(ErrorOf("\"a\" =~ path"),
            "at column 1: the left side of '=~' must be a field, not \"a\"");
  EXPECT_EQ(ErrorOf("path =~ other"),
            "at column 9: expected a quoted regex after '=~', found 'other'");
  EXPECT_EQ(ErrorOf("status in 200"), "at column 11: expected '[' after 'in', found '200'");
  EXPECT_EQ(ErrorOf("status in [200"),
            "at column 15: expected ',' or ']' to close '[' at column 11 after '200'");
  EXPECT_EQ(ErrorOf("status in [200,]"),
            "at column 16: expected a number or a quoted string after ',', found ']'");
  EXPECT_EQ(ErrorOf("status in [bytes]"),
            "at column 12: expected a number or a quoted string after '[', found 'bytes'");
  EXPECT_EQ(ErrorOf("status not == 1"), "at column 12: expected 'in' after 'not', found '=='");
  EXPECT_EQ(ErrorOf("exists(1)"), "at column 8: expected a field name after '(', found '1'");
  EXPECT_EQ(ErrorOf("exists(status"),
            "at column 14: expected ')' to close 'exists(' after 'status'");
  EXPECT_EQ(ErrorOf("status == 1 or and"),
            "at column 16: expected an expression after 'or', found 'and'");
  EXPECT_EQ(ErrorOf(") "),
            "at column 1: expected a field, a value, 'not', 'exists(' or '(', found ')'");
  // Columns count characters, not bytes.
  EXPECT_EQ(ErrorOf("path == \"\xC3\xA9\xC3\xA9\" and"),
            "at column 17: expected an expression after 'and'");
  // Deep nesting is an error, not a stack overflow.
  EXPECT_NE(ErrorOf(std::string(100000, '(') + "status == 1" + std::string(100000, ')')), "");
  std::string nots;
  for (int i = 0; i < 100000; ++i) nots += "not ";
  EXPECT_EQ(ErrorOf(nots + "status == 1"), "at column 805: expression nested too deeply");
}

TEST_F(FilterTest, UnknownFieldsAreReportedAtTheirColumn) {
  EXPECT_EQ(ErrorOf("stauts == 500"),
            "at column 1: unknown field 'stauts' (did you mean 'status'?)");
  EXPECT_EQ(ErrorOf("status == 500 and zzzzzzzz == 1"),
            "at column 19: unknown field 'zzzzzzzz' (fields: status bytes latency method path ts "
            "ts2)");
  EXPECT_EQ(ErrorOf("exists(pth)"), "at column 8: unknown field 'pth' (did you mean 'path'?)");
  EXPECT_EQ(ErrorOf("1 < methd"), "at column 5: unknown field 'methd' (did you mean 'method'?)");
}

TEST_F(FilterTest, TypeMismatchesAreConfigErrorsAtTheLiteral) {
  EXPECT_EQ(ErrorOf("status == \"abc\""),
            "at column 11: field 'status' is int but \"abc\" is a string");
  EXPECT_EQ(ErrorOf("'abc' < status"), "at column 1: field 'status' is int but 'abc' is a string");
  EXPECT_EQ(ErrorOf("path == 42"), "at column 9: field 'path' is string but 42 is a number");
  EXPECT_EQ(ErrorOf("latency > \"1\""),
            "at column 11: field 'latency' is float but \"1\" is a string");
  EXPECT_EQ(ErrorOf("status in [1, \"2\"]"),
            "at column 15: field 'status' is int but \"2\" is a string");
  EXPECT_EQ(ErrorOf("method not in [\"GET\", 3]"),
            "at column 23: field 'method' is string but 3 is a number");
  EXPECT_EQ(ErrorOf("ts > 1431857100000"),
            "at column 6: field 'ts' is time but 1431857100000 is a number; write a time as an ISO "
            "8601 string such as \"2015-05-17T10:05:00Z\"");
  EXPECT_EQ(ErrorOf("ts > \"yesterday\""),
            "at column 6: field 'ts' is time but \"yesterday\" is not an ISO 8601 time such as "
            "\"2015-05-17T10:05:00Z\"");
  EXPECT_EQ(ErrorOf("ts in [\"2015-13-01T00:00:00Z\"]"),
            "at column 8: field 'ts' is time but \"2015-13-01T00:00:00Z\" is not an ISO 8601 time "
            "such as \"2015-05-17T10:05:00Z\"");
  EXPECT_EQ(ErrorOf("status < path"),
            "at column 8: cannot compare field 'status' (int) with field 'path' (string)");
  EXPECT_EQ(ErrorOf("ts == status"),
            "at column 4: cannot compare field 'ts' (time) with field 'status' (int)");
}

TEST_F(FilterTest, BadRegexQuotesThePatternAndRe2sError) {
  EXPECT_EQ(ErrorOf("path =~ \"a(b\""), "at column 9: bad regex \"a(b\": missing ): a(b");
  EXPECT_EQ(ErrorOf("status == 1 or path !~ '[z-a]'"),
            "at column 24: bad regex \"[z-a]\": invalid character class range: z-a");
}

TEST(Filter, ProcessOnASecondBatchAllocatesNothing) {
  Schema schema = TestSchema();
  auto fill = [](Batch& b) {
    for (uint32_t r = 0; r < 64; ++r) {
      if (r % 5) b.Int(kStatus, r, 200 + r);
      b.Str(kPath, r, r % 2 ? "/api/x" : "/static/\xE9");
      b.Str(kMethod, r, r % 3 ? "GET" : "POST");
      b.Float(kLatency, r, r * 0.1);
      b.Time(kTs, r, kT0 + (r - 32) * 1000);
    }
  };
  Batch first(schema, 64), second(schema, 64);
  fill(first);
  fill(second);
  const uint64_t before_build = logpipe::testing::AllocationCount();
  std::unique_ptr<FilterStage> stage =
      Build(R"((status in [200, 404] or path =~ "^/api/" or method in ["GET", "PUT"]) and )"
            R"(not (latency > 1.5 or ts < "2015-05-17T10:05:00Z") and path !~ "x$" or )"
            R"(status > 250.5 and exists(bytes) or method < path)",
            schema);
  ASSERT_TRUE(stage);
  std::unique_ptr<Scratch> scratch = stage->NewScratch();
  EXPECT_GT(logpipe::testing::AllocationCount(), before_build);  // the counter counts
  stage->Process(first.batch(), *scratch);
  const uint64_t before = logpipe::testing::AllocationCount();
  stage->Process(second.batch(), *scratch);
  EXPECT_EQ(logpipe::testing::AllocationCount() - before, 0u);
  EXPECT_EQ(second.batch().selected, first.batch().selected);
  EXPECT_GT(second.batch().selected.size(), 0u);
  EXPECT_LT(second.batch().selected.size(), 64u);
}

// ---------------------------------------------------------------------------------------------
// Property test: random expressions, evaluated by the stage and by a small reference evaluator
// written independently (long double arithmetic, explicit byte comparisons, no regex engine).

enum : size_t { kI1, kI2, kF1, kS1, kS2, kT1, kT2, kNumRandomFields };
const char* const kRandomNames[] = {"i1", "i2", "f1", "s1", "s2", "t1", "t2"};
const FieldType kRandomTypes[] = {FieldType::kInt,    FieldType::kInt,    FieldType::kFloat,
                                  FieldType::kString, FieldType::kString, FieldType::kTime,
                                  FieldType::kTime};
const char* const kRandomStrings[] = {"",     "a",    "b",        "ab",   "ba", "A",
                                      "a\"b", "\xE9", "\xC3\xA9", "it's", "\\"};
const int64_t kRandomInts[] = {-3, -1, 0, 1, 2, 3, 200, 404, std::numeric_limits<int64_t>::max()};
const double kRandomFloats[] = {-1.5, -1, 0, 0.5, 1, 2, 2.5, 404};
const int64_t kRandomTimes[] = {kT0 - 1000, kT0, kT0 + 250, kT0 + 3600000};

struct RandomExpr {
  enum Kind { kAnd, kOr, kNot, kExists, kCmpLit, kCmpField, kPrefix, kSuffix, kContains, kIn };
  Kind kind = kAnd;
  std::vector<RandomExpr> kids;
  size_t field = 0, field2 = 0;
  int op = 0;  // == != < <= > >=
  bool negate = false;
  long double num = 0;  // numeric literal
  int64_t ms = 0;       // time literal
  std::string str;      // string literal or regex needle
  std::vector<long double> nums;
  std::vector<int64_t> times;
  std::vector<std::string> strs;
};

template <typename T>
bool RefCompare(int op, const T& a, const T& b) {
  switch (op) {
    case 0:
      return a == b;
    case 1:
      return a != b;
    case 2:
      return a < b;
    case 3:
      return a <= b;
    case 4:
      return a > b;
    default:
      return a >= b;
  }
}

// Bytewise three-way comparison with bytes as unsigned values.
int RefBytes(std::string_view a, std::string_view b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const int x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

long double RefNumber(const Value& v, size_t f) {
  return kRandomTypes[f] == FieldType::kFloat ? static_cast<long double>(v.f)
                                              : static_cast<long double>(v.i);
}

bool RefEval(const RandomExpr& e, const RecordBatch& batch, uint32_t row) {
  const Value& v = batch.field(e.field, row);
  const FieldType type = kRandomTypes[e.field];
  switch (e.kind) {
    case RandomExpr::kAnd:
      for (const auto& k : e.kids) {
        if (!RefEval(k, batch, row)) return false;
      }
      return true;
    case RandomExpr::kOr:
      for (const auto& k : e.kids) {
        if (RefEval(k, batch, row)) return true;
      }
      return false;
    case RandomExpr::kNot:
      return !RefEval(e.kids[0], batch, row);
    case RandomExpr::kExists:
      return v.present;
    case RandomExpr::kCmpLit:
      if (!v.present) return false;
      if (type == FieldType::kString) return RefCompare(e.op, RefBytes(v.text, e.str), 0);
      if (type == FieldType::kTime) return RefCompare(e.op, v.i, e.ms);
      return RefCompare(e.op, RefNumber(v, e.field), e.num);
    case RandomExpr::kCmpField: {
      const Value& w = batch.field(e.field2, row);
      if (!v.present || !w.present) return false;
      if (type == FieldType::kString) return RefCompare(e.op, RefBytes(v.text, w.text), 0);
      if (type == FieldType::kTime) return RefCompare(e.op, v.i, w.i);
      return RefCompare(e.op, RefNumber(v, e.field), RefNumber(w, e.field2));
    }
    case RandomExpr::kPrefix:
      if (!v.present) return false;
      return (v.text.substr(0, e.str.size()) == e.str) != e.negate;
    case RandomExpr::kSuffix:
      if (!v.present) return false;
      return (v.text.size() >= e.str.size() &&
              v.text.substr(v.text.size() - e.str.size()) == e.str) != e.negate;
    case RandomExpr::kContains:
      if (!v.present) return false;
      return (v.text.find(e.str) != std::string_view::npos) != e.negate;
    case RandomExpr::kIn: {
      if (!v.present) return false;
      bool found = false;
      if (type == FieldType::kString) {
        for (const auto& s : e.strs) found |= RefBytes(v.text, s) == 0;
      } else if (type == FieldType::kTime) {
        for (int64_t t : e.times) found |= v.i == t;
      } else {
        for (long double n : e.nums) found |= RefNumber(v, e.field) == n;
      }
      return found != e.negate;
    }
  }
  return false;
}

class RandomExprWriter {
 public:
  explicit RandomExprWriter(uint32_t seed) : rng_(seed) {}

  // Builds a random expression and writes it as text with as few parentheses as precedence
  // allows (plus some redundant ones).
  RandomExpr Make(int depth, std::string* text) { return MakeAt(depth, 0, text); }

 private:
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool Coin() { return Pick(2) == 0; }

  // `min_prec`: 0 anything, 1 an and-operand, 2 a not-operand (or, and, not, atom = 0..3).
  RandomExpr MakeAt(int depth, int min_prec, std::string* text) {
    const size_t kind = depth <= 0 ? 3 : Pick(6);
    RandomExpr e;
    std::string body;
    int prec = 3;
    if (kind == 0 || kind == 1) {
      e.kind = kind == 0 ? RandomExpr::kOr : RandomExpr::kAnd;
      prec = kind == 0 ? 0 : 1;
      const size_t n = 2 + Pick(3);
      for (size_t i = 0; i < n; ++i) {
        std::string part;
        e.kids.push_back(MakeAt(depth - 1, prec + 1, &part));
        body += (i ? (prec == 0 ? " or " : " and ") : "") + part;
      }
    } else if (kind == 2) {
      e.kind = RandomExpr::kNot;
      prec = 2;
      std::string part;
      e.kids.push_back(MakeAt(depth - 1, 2, &part));
      body = "not " + part;
    } else {
      e = Atom(&body);
    }
    if (prec < min_prec || Pick(8) == 0) body = "(" + body + ")";
    *text += body;
    return e;
  }

  std::string Quote(std::string_view s) {
    const char q = Coin() ? '"' : '\'';
    std::string out(1, q);
    for (char c : s) {
      if (c == q || c == '\\' || (c == '"' && Coin())) out += '\\';
      out += c;
    }
    return out + q;
  }

  std::string NumberText(long double* value) {
    static const char* const kTexts[] = {"0",   "1",   "-1",  "2",   "2.5", "-1.5", "0.5",
                                         "1e0", "404", "2e2", "3.0", "-3",  ".5"};
    static const long double kValues[] = {0, 1, -1, 2, 2.5L, -1.5L, 0.5L, 1, 404, 200, 3, -3, 0.5L};
    const size_t i = Pick(std::size(kTexts));
    *value = kValues[i];
    return kTexts[i];
  }

  std::string TimeText(int64_t* ms) {
    static const char* const kTexts[] = {"2015-05-17T10:04:59Z", "2015-05-17 10:05:00",
                                         "2015-05-17T12:05:00.250+02:00", "2015-05-17T11:05:00Z",
                                         "2015-05-17T10:05:00.100Z"};
    static const int64_t kValues[] = {kT0 - 1000, kT0, kT0 + 250, kT0 + 3600000, kT0 + 100};
    const size_t i = Pick(std::size(kTexts));
    *ms = kValues[i];
    return Quote(kTexts[i]);
  }

  // A literal for a field of `type`, as text, stored into e.
  std::string Literal(FieldType type, long double* num, int64_t* ms, std::string* str) {
    switch (type) {
      case FieldType::kString:
        *str = kRandomStrings[Pick(std::size(kRandomStrings))];
        return Quote(*str);
      case FieldType::kTime:
        return TimeText(ms);
      default:
        return NumberText(num);
    }
  }

  RandomExpr Atom(std::string* text) {
    static const char* const kOps[] = {"==", "!=", "<", "<=", ">", ">="};
    static const int kFlipped[] = {0, 1, 4, 5, 2, 3};
    RandomExpr e;
    e.field = Pick(kNumRandomFields);
    const FieldType type = kRandomTypes[e.field];
    const std::string name = kRandomNames[e.field];
    switch (Pick(5)) {
      case 0:
        e.kind = RandomExpr::kExists;
        *text = "exists(" + name + ")";
        return e;
      case 1: {  // field OP field of a comparable type
        static const size_t kPairs[][2] = {{kI1, kI2}, {kI1, kF1}, {kF1, kI2}, {kS1, kS2},
                                           {kT1, kT2}, {kF1, kF1}, {kI2, kI1}};
        const auto& p = kPairs[Pick(std::size(kPairs))];
        e.kind = RandomExpr::kCmpField;
        e.field = p[0];
        e.field2 = p[1];
        e.op = static_cast<int>(Pick(6));
        *text = std::string(kRandomNames[p[0]]) + " " + kOps[e.op] + " " + kRandomNames[p[1]];
        return e;
      }
      case 2:
        if (type == FieldType::kString) {
          e.kind = static_cast<RandomExpr::Kind>(RandomExpr::kPrefix + Pick(3));
          e.negate = Coin();
          static const char* const kNeedles[] = {"a", "b", "\xE9", "\xC3", "'"};
          e.str = kNeedles[Pick(std::size(kNeedles))];
          std::string re = e.kind == RandomExpr::kPrefix   ? "^" + e.str
                           : e.kind == RandomExpr::kSuffix ? e.str + "$"
                                                           : e.str;
          *text = name + (e.negate ? " !~ " : " =~ ") + Quote(re);
          return e;
        }
        [[fallthrough]];
      case 3: {
        e.kind = RandomExpr::kIn;
        e.negate = Coin();
        const size_t n = Pick(4);
        std::string list;
        for (size_t i = 0; i < n; ++i) {
          long double num = 0;
          int64_t ms = 0;
          std::string str;
          list += (i ? ", " : "") + Literal(type, &num, &ms, &str);
          e.nums.push_back(num);
          e.times.push_back(ms);
          e.strs.push_back(str);
        }
        *text = name + (e.negate ? " not in [" : " in [") + list + "]";
        return e;
      }
      default: {
        e.kind = RandomExpr::kCmpLit;
        e.op = static_cast<int>(Pick(6));
        const std::string lit = Literal(type, &e.num, &e.ms, &e.str);
        if (Coin()) {
          *text = name + " " + kOps[e.op] + " " + lit;
        } else {
          *text = lit + " " + kOps[kFlipped[e.op]] + " " + name;
        }
        return e;
      }
    }
  }

  std::mt19937 rng_;
};

TEST(FilterProperty, RandomExpressionsAgreeWithAReferenceEvaluator) {
  Schema schema;
  for (size_t f = 0; f < kNumRandomFields; ++f) {
    schema.Add({kRandomNames[f], kRandomTypes[f], ""});
  }
  std::mt19937 rng(20150517);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  constexpr uint32_t kRows = 64;
  Batch b(schema, kRows);
  for (uint32_t r = 0; r < kRows; ++r) {
    for (size_t f = 0; f < kNumRandomFields; ++f) {
      if (pick(6) == 0) continue;  // absent
      switch (kRandomTypes[f]) {
        case FieldType::kInt:
          b.Int(f, r, kRandomInts[pick(std::size(kRandomInts))]);
          break;
        case FieldType::kFloat:
          b.Float(f, r, pick(20) ? kRandomFloats[pick(std::size(kRandomFloats))] : std::nan(""));
          break;
        case FieldType::kString:
          b.Str(f, r, kRandomStrings[pick(std::size(kRandomStrings))]);
          break;
        case FieldType::kTime:
          b.Time(f, r, kRandomTimes[pick(std::size(kRandomTimes))]);
          break;
      }
    }
  }
  RandomExprWriter writer(7);
  size_t kept_total = 0;
  for (int i = 0; i < 600; ++i) {
    std::string text;
    const RandomExpr ref = writer.Make(1 + i % 4, &text);
    Rows want;
    for (uint32_t r = 0; r < kRows; ++r) {
      if (RefEval(ref, b.batch(), r)) want.push_back(r);
    }
    ASSERT_EQ(Keep(text, b, schema), want) << text;
    kept_total += want.size();
  }
  // Neither trivially empty nor trivially full.
  EXPECT_GT(kept_total, 600u * kRows / 10);
  EXPECT_LT(kept_total, 600u * kRows * 9 / 10);
}

}  // namespace
}  // namespace logpipe
