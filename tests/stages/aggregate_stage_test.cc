#include "stages/aggregate_stage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "io/chunk.h"
#include "stages/record_batch.h"
#include "stages/schema.h"
#include "stages/table.h"
#include "tests/support/test_batch.h"

#if __has_include("tests/support/alloc_counter.h")
#include "tests/support/alloc_counter.h"
#define LOGPIPE_HAVE_ALLOC_COUNTER 1
#endif

namespace logpipe {
namespace {

// Field indexes of TestSchema().
constexpr size_t kStatus = 0;  // int
constexpr size_t kBytes = 1;   // int
constexpr size_t kPath = 2;    // string
constexpr size_t kTs = 3;      // time
constexpr size_t kRt = 4;      // float
constexpr size_t kIp = 5;      // string

Schema TestSchema() {
  Schema s;
  s.Add({"status", FieldType::kInt, ""});
  s.Add({"bytes", FieldType::kInt, ""});
  s.Add({"path", FieldType::kString, ""});
  s.Add({"ts", FieldType::kTime, "epoch_ms"});
  s.Add({"rt", FieldType::kFloat, ""});
  s.Add({"ip", FieldType::kString, ""});
  return s;
}

using testing::TestBatch;

std::unique_ptr<AggregateStage> MakeStage(
    const std::vector<std::string>& keys,
    const std::vector<std::pair<std::string, std::string>>& metrics,
    const Schema& schema = TestSchema()) {
  std::vector<GroupKeySpec> key_specs;
  for (const auto& k : keys) {
    Result<GroupKeySpec> spec = ParseGroupKey(k);
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    key_specs.push_back(spec.value());
  }
  std::vector<MetricSpec> metric_specs;
  for (const auto& [name, expr] : metrics) {
    Result<MetricSpec> spec = ParseMetric(name, expr);
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    metric_specs.push_back(spec.value());
  }
  Result<std::unique_ptr<AggregateStage>> stage =
      AggregateStage::Create(key_specs, metric_specs, schema);
  EXPECT_TRUE(stage.ok()) << stage.status().message();
  return std::move(stage.value());
}

// A readable, exact rendering of a table for comparisons.
std::string Dump(const Table& t) {
  std::string out;
  for (const auto& c : t.columns) out += c + "|";
  out += "\n";
  for (const auto& row : t.rows) {
    for (const Cell& c : row) {
      switch (c.kind) {
        case Cell::Kind::kNull:
          out += "null";
          break;
        case Cell::Kind::kInt:
          out += "i" + std::to_string(c.i);
          break;
        case Cell::Kind::kTime:
          out += "t" + std::to_string(c.i);
          break;
        case Cell::Kind::kFloat: {
          char buf[64];
          std::snprintf(buf, sizeof(buf), "f%.17g", c.f);
          out += buf;
          break;
        }
        case Cell::Kind::kString:
          out += "s" + c.s;
          break;
        case Cell::Kind::kTop:
          out += "[";
          for (const auto& [v, n] : c.top) out += v + ":" + std::to_string(n) + ",";
          out += "]";
          break;
      }
      out += "|";
    }
    out += "\n";
  }
  return out;
}

TEST(AggregateStage, CreateRejectsUnknownFieldsWrongTypesAndDuplicateColumns) {
  const Schema schema = TestSchema();
  auto create = [&](std::vector<GroupKeySpec> keys, std::vector<MetricSpec> metrics) {
    return AggregateStage::Create(std::move(keys), std::move(metrics), schema);
  };
  auto metric = [](const char* name, const char* expr) { return ParseMetric(name, expr).value(); };
  auto key = [](const char* text) { return ParseGroupKey(text).value(); };

  auto r = create({key("stauts")}, {metric("n", "count")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kConfig);
  EXPECT_EQ(r.status().message(),
            "group_by 'stauts': unknown field 'stauts' (fields: status, bytes, path, ts, rt, ip)");

  r = create({key("bucket(status, 5m)")}, {metric("n", "count")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "group_by 'bucket(status, 5m)': field 'status' is int; a time bucket needs a time "
            "field");

  r = create({}, {metric("b", "sum(path)")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "metric 'b': sum(f) needs an int or float field; 'path' is string");
  r = create({}, {metric("b", "avg(ts)")});
  ASSERT_FALSE(r.ok());
  r = create({}, {metric("b", "p50(ip)")});
  ASSERT_FALSE(r.ok());
  r = create({}, {metric("b", "sum(nope)")});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown field 'nope'"), std::string::npos);

  r = create({key("status")}, {metric("status", "count")});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("column 'status' appears twice"), std::string::npos);

  r = create({}, {metric("p", "p95_approx(ts)")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "metric 'p': pNN_approx(f) needs an int or float field (1% of a timestamp is months; "
            "use pNN(f) for times); 'ts' is time");
  r = create({}, {metric("p", "p95_approx(path)")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "metric 'p': pNN_approx(f) needs an int or float field; 'path' is string");

  // Every allowed type combination is accepted.
  r = create({key("status"), key("path"), key("rt"), key("ts"), key("hour(ts)")},
             {metric("n", "count"), metric("s1", "sum(bytes)"), metric("s2", "sum(rt)"),
              metric("a", "min(path)"), metric("b", "max(ts)"), metric("c", "avg(bytes)"),
              metric("d", "distinct(rt)"), metric("e", "top(status, 3)"), metric("f", "p50(ts)"),
              metric("g", "distinct_approx(ts)"), metric("h", "distinct_approx(path)"),
              metric("i", "p50_approx(bytes)"), metric("j", "p50_approx(rt)")});
  EXPECT_TRUE(r.ok()) << r.status().message();
}

// ---------------------------------------------------------------------------------------------
// Metrics, hand-computed

TEST(AggregateStage, ComputesEveryMetricKind) {
  auto stage = MakeStage({"status"}, {{"hits", "count"},
                                      {"bytes", "sum(bytes)"},
                                      {"min_b", "min(bytes)"},
                                      {"max_b", "max(bytes)"},
                                      {"avg_b", "avg(bytes)"},
                                      {"rt_sum", "sum(rt)"},
                                      {"rt_avg", "avg(rt)"},
                                      {"rt_min", "min(rt)"},
                                      {"first_path", "min(path)"},
                                      {"last_path", "max(path)"},
                                      {"last_ts", "max(ts)"},
                                      {"ips", "distinct(ip)"},
                                      {"top", "top(path, 2)"},
                                      {"p50", "p50(bytes)"},
                                      {"p90rt", "p90(rt)"}});
  TestBatch b(6, 6);
  // status 200: bytes 10, 20, absent; rt 0.1, 0.2, 0.3; paths /a /b /a; ips 1 1 2
  // status 404: bytes 5, 7; rt absent; paths /z /a; ips absent
  struct Row {
    int64_t status;
    int64_t bytes;  // -1: absent
    double rt;      // < 0: absent
    const char* path;
    const char* ip;  // "": absent
    int64_t ts;
  };
  const Row rows[] = {{200, 10, 0.1, "/a", "1", 5000}, {404, 5, -1, "/z", "", 1000},
                      {200, 20, 0.2, "/b", "1", 7000}, {200, -1, 0.3, "/a", "2", 6000},
                      {404, 7, -1, "/a", "", 2000},    {200, 10, -1, "/c", "3", 3000}};
  for (uint32_t r = 0; r < 6; ++r) {
    b.Int(kStatus, r, rows[r].status);
    if (rows[r].bytes >= 0) b.Int(kBytes, r, rows[r].bytes);
    if (rows[r].rt >= 0) b.Float(kRt, r, rows[r].rt);
    b.Str(kPath, r, rows[r].path);
    if (*rows[r].ip) b.Str(kIp, r, rows[r].ip);
    b.Time(kTs, r, rows[r].ts);
  }
  // Row 5 is filtered out.
  b.batch().selected = {0, 1, 2, 3, 4};
  auto p = stage->NewPartial();
  stage->Add(b.batch(), *p);
  Table t = stage->Finish(std::move(*p));

  ASSERT_EQ(t.columns.size(), 16u);
  EXPECT_EQ(t.columns[0], "status");
  EXPECT_EQ(t.columns[15], "p90rt");
  ASSERT_EQ(t.rows.size(), 2u);
  const std::vector<Cell>& a = t.rows[0];
  EXPECT_EQ(a[0].i, 200);
  EXPECT_EQ(a[1].i, 3);  // hits
  EXPECT_EQ(a[2].kind, Cell::Kind::kInt);
  EXPECT_EQ(a[2].i, 30);  // 10 + 20 (absent skipped)
  EXPECT_EQ(a[3].i, 10);  // min
  EXPECT_EQ(a[4].i, 20);  // max
  EXPECT_EQ(a[5].kind, Cell::Kind::kFloat);
  EXPECT_EQ(a[5].f, 15.0);  // avg over present values
  EXPECT_EQ(a[6].kind, Cell::Kind::kFloat);
  EXPECT_EQ(a[6].f, 0.6);  // exact: 0.1 + 0.2 + 0.3 == 0.6 in fixed point
  EXPECT_EQ(a[7].f, 0.2);  // 0.6 / 3
  EXPECT_EQ(a[8].f, 0.1);
  EXPECT_EQ(a[9].s, "/a");
  EXPECT_EQ(a[10].s, "/b");
  EXPECT_EQ(a[11].kind, Cell::Kind::kTime);
  EXPECT_EQ(a[11].i, 7000);
  EXPECT_EQ(a[12].i, 2);  // distinct ips {1, 2}
  ASSERT_EQ(a[13].kind, Cell::Kind::kTop);
  ASSERT_EQ(a[13].top.size(), 2u);
  EXPECT_EQ(a[13].top[0], (std::pair<std::string, uint64_t>("/a", 2)));
  EXPECT_EQ(a[13].top[1], (std::pair<std::string, uint64_t>("/b", 1)));
  EXPECT_EQ(a[14].kind, Cell::Kind::kInt);
  EXPECT_EQ(a[14].i, 10);   // p50 of {10, 20}: rank ceil(1) = 1
  EXPECT_EQ(a[15].f, 0.3);  // p90 of {0.1, 0.2, 0.3}: rank ceil(2.7) = 3

  const std::vector<Cell>& z = t.rows[1];
  EXPECT_EQ(z[0].i, 404);
  EXPECT_EQ(z[1].i, 2);
  EXPECT_EQ(z[2].i, 12);
  EXPECT_EQ(z[5].f, 6.0);
  EXPECT_EQ(z[6].kind, Cell::Kind::kFloat);  // sum of no values is 0
  EXPECT_EQ(z[6].f, 0.0);
  EXPECT_EQ(z[7].kind, Cell::Kind::kNull);  // avg of no values
  EXPECT_EQ(z[8].kind, Cell::Kind::kNull);  // min of no values
  EXPECT_EQ(z[12].i, 0);                    // distinct of no values
  ASSERT_EQ(z[13].top.size(), 2u);          // tie at 1: bytewise ascending
  EXPECT_EQ(z[13].top[0].first, "/a");
  EXPECT_EQ(z[13].top[1].first, "/z");
  EXPECT_EQ(z[15].kind, Cell::Kind::kNull);  // percentile of no values
}

TEST(AggregateStage, PercentilesUseNearestRank) {
  auto stage = MakeStage({}, {{"p10", "p10(bytes)"},
                              {"p50", "p50(bytes)"},
                              {"p90", "p90(bytes)"},
                              {"p91", "p91(bytes)"},
                              {"p99.9", "p99.9(bytes)"},
                              {"p100", "p100(bytes)"},
                              {"tiny", "p0.000001(bytes)"}});
  // Values 1..10 in a scrambled order, one of them repeated: {1,2,3,4,5,5,6,7,8,9,10}
  TestBatch b(6, 11);
  const int64_t values[] = {7, 3, 10, 1, 5, 9, 2, 8, 4, 6, 5};
  for (uint32_t r = 0; r < 11; ++r) b.Int(kBytes, r, values[r]);
  auto p = stage->NewPartial();
  stage->Add(b.batch(), *p);
  Table t = stage->Finish(std::move(*p));
  ASSERT_EQ(t.rows.size(), 1u);
  // n = 11. p10: ceil(1.1) = 2 -> 2. p50: ceil(5.5) = 6 -> 5 (the 5th and 6th are both 5).
  // p90: ceil(9.9) = 10 -> 9. p91: ceil(10.01) = 11 -> 10. p99.9 -> 11th -> 10. p100 -> 10.
  // p0.000001: rank 1 -> 1.
  EXPECT_EQ(Dump(t), "p10|p50|p90|p91|p99.9|p100|tiny|\ni2|i5|i9|i10|i10|i10|i1|\n");
}

TEST(AggregateStage, PercentileRankIsExactNotFloatingPoint) {
  // p99.9 of 1..1000 is the 999th value: 0.999 * 1000 in doubles is 999.0000000000001.
  auto stage = MakeStage({}, {{"p", "p99.9(bytes)"}, {"q", "p0.1(bytes)"}});
  TestBatch b(6, 1000);
  for (uint32_t r = 0; r < 1000; ++r) b.Int(kBytes, r, 1000 - r);
  auto p = stage->NewPartial();
  stage->Add(b.batch(), *p);
  Table t = stage->Finish(std::move(*p));
  EXPECT_EQ(t.rows[0][0].i, 999);
  EXPECT_EQ(t.rows[0][1].i, 1);
}

TEST(AggregateStage, FloatValuesAreCanonicalAndNonFiniteHandled) {
  auto stage = MakeStage({"rt"}, {{"n", "count"},
                                  {"s", "sum(rt)"},
                                  {"lo", "min(rt)"},
                                  {"d", "distinct(rt)"},
                                  {"p", "p50(rt)"}});
  TestBatch b(6, 6);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  b.Float(kRt, 0, 0.0);
  b.Float(kRt, 1, -0.0);
  b.Float(kRt, 2, nan);
  b.Float(kRt, 3, -nan);
  b.Float(kRt, 4, inf);
  b.Float(kRt, 5, -1.5);
  auto p = stage->NewPartial();
  stage->Add(b.batch(), *p);
  Table t = stage->Finish(std::move(*p));
  // Groups: -1.5, 0 (both zeros), +inf, NaN (both NaNs, last).
  ASSERT_EQ(t.rows.size(), 4u);
  EXPECT_EQ(t.rows[0][0].f, -1.5);
  EXPECT_EQ(t.rows[1][0].f, 0.0);
  EXPECT_FALSE(std::signbit(t.rows[1][0].f));
  EXPECT_EQ(t.rows[1][1].i, 2);
  EXPECT_EQ(t.rows[2][0].f, inf);
  EXPECT_EQ(t.rows[2][2].f, inf);  // sum of +inf
  EXPECT_TRUE(std::isnan(t.rows[3][0].f));
  EXPECT_EQ(t.rows[3][1].i, 2);
  EXPECT_TRUE(std::isnan(t.rows[3][2].f));          // sum with NaN
  EXPECT_EQ(t.rows[3][3].kind, Cell::Kind::kNull);  // min skips NaN
  EXPECT_EQ(t.rows[3][4].i, 1);                     // both NaNs are one distinct value
  EXPECT_EQ(t.rows[3][5].kind, Cell::Kind::kNull);  // percentile skips NaN
}

TEST(AggregateStage, FloatSumsDoNotDependOnOrder) {
  auto stage = MakeStage({}, {{"s", "sum(rt)"}});
  const std::vector<double> values = {1e15, 0.1, -1e15, 0.2, 1e-9, 3.000000001};
  std::vector<double> order = values;
  std::string first;
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::shuffle(order.begin(), order.end(), rng);
    TestBatch b(6, static_cast<uint32_t>(order.size()));
    for (uint32_t r = 0; r < order.size(); ++r) b.Float(kRt, r, order[r]);
    auto p = stage->NewPartial();
    stage->Add(b.batch(), *p);
    Table t = stage->Finish(std::move(*p));
    EXPECT_EQ(t.rows[0][0].f, 3.300000002);
    if (round == 0) first = Dump(t);
    EXPECT_EQ(Dump(t), first);
  }
}

TEST(AggregateStage, IntSumsBeyondInt64BecomeFloat) {
  auto stage = MakeStage({}, {{"s", "sum(bytes)"}, {"a", "avg(bytes)"}});
  TestBatch b(6, 3);
  for (uint32_t r = 0; r < 3; ++r) b.Int(kBytes, r, std::numeric_limits<int64_t>::max());
  auto p = stage->NewPartial();
  stage->Add(b.batch(), *p);
  Table t = stage->Finish(std::move(*p));
  EXPECT_EQ(t.rows[0][0].kind, Cell::Kind::kFloat);
  EXPECT_EQ(t.rows[0][0].f, 3.0 * 9223372036854775807.0);
  EXPECT_EQ(t.rows[0][1].f, 9223372036854775807.0);
}

TEST(AggregateStage, WithoutGroupByThereIsExactlyOneRow) {
  auto stage = MakeStage({}, {{"n", "count"},
                              {"b", "sum(bytes)"},
                              {"a", "avg(bytes)"},
                              {"m", "max(path)"},
                              {"d", "distinct(ip)"},
                              {"t", "top(path, 3)"},
                              {"p", "p50(rt)"}});
  auto p = stage->NewPartial();
  Table t = stage->Finish(std::move(*p));
  EXPECT_EQ(Dump(t), "n|b|a|m|d|t|p|\ni0|i0|null|null|i0|[]|null|\n");
}

TEST(AggregateStage, GroupsSortByTypedKeyWithAbsentFirst) {
  auto stage = MakeStage({"status", "path"}, {{"n", "count"}});
  TestBatch b(6, 7);
  b.Int(kStatus, 0, 1000);
  b.Str(kPath, 0, "b");
  b.Int(kStatus, 1, 200);
  b.Str(kPath, 1, "\xff");
  b.Int(kStatus, 2, -5);
  b.Str(kPath, 2, "a");
  b.Int(kStatus, 3, 200);
  b.Str(kPath, 3, "B");
  b.Str(kPath, 4, "z");    // status absent
  b.Int(kStatus, 5, 200);  // path absent
  b.Int(kStatus, 6, 200);
  b.Str(kPath, 6, "B");
  auto p = stage->NewPartial();
  stage->Add(b.batch(), *p);
  Table t = stage->Finish(std::move(*p));
  EXPECT_EQ(Dump(t),
            "status|path|n|\n"
            "null|sz|i1|\n"
            "i-5|sa|i1|\n"
            "i200|null|i1|\n"
            "i200|sB|i2|\n"
            "i200|s\xff|i1|\n"
            "i1000|sb|i1|\n");
}

TEST(AggregateStage, TimeBucketsFloorTowardMinusInfinity) {
  auto stage = MakeStage({"bucket(ts, 5m)"}, {{"n", "count"}});
  TestBatch b(6, 8);
  const int64_t times[] = {0, 299999, 300000, -1, -300000, -300001, 1431857103000, 599999};
  for (uint32_t r = 0; r < 8; ++r) b.Time(kTs, r, times[r]);
  auto p = stage->NewPartial();
  stage->Add(b.batch(), *p);
  Table t = stage->Finish(std::move(*p));
  EXPECT_EQ(t.columns[0], "bucket(ts, 5m)");
  EXPECT_EQ(Dump(t),
            "bucket(ts, 5m)|n|\n"
            "t-600000|i1|\n"
            "t-300000|i2|\n"
            "t0|i2|\n"
            "t300000|i2|\n"
            "t1431857100000|i1|\n");
  for (const auto& row : t.rows) EXPECT_EQ(row[0].kind, Cell::Kind::kTime);
}

TEST(AggregateStage, TopBreaksTiesBytewiseAndFormatsTypedValues) {
  auto stage = MakeStage({}, {{"paths", "top(path, 3)"},
                              {"codes", "top(status, 2)"},
                              {"times", "top(ts, 1)"},
                              {"one", "top(ip, 100)"}});
  TestBatch b(6, 6);
  const char* paths[] = {"/b", "/a", "/c", "/\xc3\xa9", "/B", "/c"};
  const int64_t codes[] = {404, 200, 404, 200, 1000, 5};
  for (uint32_t r = 0; r < 6; ++r) {
    b.Str(kPath, r, paths[r]);
    b.Int(kStatus, r, codes[r]);
    b.Time(kTs, r, 1431857103250);
  }
  b.Str(kIp, 0, "1.1.1.1");
  auto p = stage->NewPartial();
  stage->Add(b.batch(), *p);
  Table t = stage->Finish(std::move(*p));
  // /c: 2, then ties at 1 bytewise: "/B" < "/a" < "/b" < "/\xc3\xa9". Codes: 200 and 404 tie
  // at 2; "200" < "404" as text.
  EXPECT_EQ(Dump(t),
            "paths|codes|times|one|\n"
            "[/c:2,/B:1,/a:1,]|[200:2,404:2,]|[2015-05-17T10:05:03.250Z:6,]|[1.1.1.1:1,]|\n");
}

TEST(AggregateStage, StringMinMaxAreBytewise) {
  auto stage = MakeStage({}, {{"lo", "min(path)"}, {"hi", "max(path)"}});
  TestBatch b(6, 4);
  b.Str(kPath, 0, "b");
  b.Str(kPath, 1, "\xff\x01");
  b.Str(kPath, 2, "B");
  b.Str(kPath, 3, "ab");
  auto p = stage->NewPartial();
  stage->Add(b.batch(), *p);
  Table t = stage->Finish(std::move(*p));
  EXPECT_EQ(t.rows[0][0].s, "B");
  EXPECT_EQ(t.rows[0][1].s, "\xff\x01");
}

// ---------------------------------------------------------------------------------------------
// Merge, Encode, Decode

// Random rows over a few keys with every metric kind; values chosen to collide.
struct RandomRows {
  std::vector<int64_t> status, bytes, ts;
  std::vector<double> rt;
  std::vector<std::string> path, ip;
  std::vector<uint8_t> present;  // bit per field

  explicit RandomRows(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    for (size_t i = 0; i < n; ++i) {
      status.push_back(std::vector<int64_t>{200, 304, 404, 500, -1}[rng() % 5]);
      bytes.push_back(static_cast<int64_t>(rng() % 5000) - 100);
      ts.push_back(static_cast<int64_t>(rng() % 7200000) - 3600000);
      rt.push_back((rng() % 2000) / 1000.0 - (rng() % 3 == 0 ? 1e6 : 0));
      path.push_back("/p" + std::to_string(rng() % 40) + (rng() % 9 == 0 ? "\xff" : ""));
      ip.push_back("10.0.0." + std::to_string(rng() % 30));
      present.push_back(static_cast<uint8_t>(rng()));
    }
  }
  size_t size() const { return status.size(); }

  // A batch of rows [begin, end).
  std::unique_ptr<TestBatch> Batch(size_t begin, size_t end) const {
    auto b = std::make_unique<TestBatch>(6, static_cast<uint32_t>(end - begin));
    for (size_t i = begin; i < end; ++i) {
      const uint32_t r = static_cast<uint32_t>(i - begin);
      const uint8_t m = present[i];
      if (m & 1) b->Int(kStatus, r, status[i]);
      if (m & 2) b->Int(kBytes, r, bytes[i]);
      if (m & 4) b->Str(kPath, r, path[i]);
      if (m & 8) b->Time(kTs, r, ts[i]);
      if ((m & 16) || (m & 64)) b->Float(kRt, r, rt[i]);
      if (m & 32) b->Str(kIp, r, ip[i]);
    }
    return b;
  }
};

std::unique_ptr<AggregateStage> EveryMetricStage() {
  return MakeStage({"status", "bucket(ts, 20m)"}, {{"n", "count"},
                                                   {"b", "sum(bytes)"},
                                                   {"rs", "sum(rt)"},
                                                   {"lo", "min(bytes)"},
                                                   {"hi", "max(rt)"},
                                                   {"first", "min(path)"},
                                                   {"last", "max(ip)"},
                                                   {"t0", "min(ts)"},
                                                   {"avg_b", "avg(bytes)"},
                                                   {"avg_r", "avg(rt)"},
                                                   {"ips", "distinct(ip)"},
                                                   {"top", "top(path, 3)"},
                                                   {"p50", "p50(bytes)"},
                                                   {"p99", "p99.9(rt)"},
                                                   {"pt", "p25(ts)"},
                                                   {"dp", "distinct(path)"},
                                                   {"tr", "top(rt, 2)"},
                                                   {"dpa", "distinct_approx(path)"},
                                                   {"dra", "distinct_approx(rt)"},
                                                   {"p50a", "p50_approx(bytes)"},
                                                   {"p99a", "p99.9_approx(rt)"},
                                                   {"ti", "top(ip, 4)"}});  // ip: top only
}

TEST(AggregateMerge, ResultDoesNotDependOnSplitOrMergeOrder) {
  auto stage = EveryMetricStage();
  const RandomRows rows(3000, 1);
  // Reference: one partial, one batch.
  std::string reference;
  {
    auto b = rows.Batch(0, rows.size());
    auto p = stage->NewPartial();
    stage->Add(b->batch(), *p);
    reference = Dump(stage->Finish(std::move(*p)));
  }
  std::mt19937 rng(99);
  for (int round = 0; round < 12; ++round) {
    // Cut the rows into random batches, give them to random partials, merge in random order.
    const size_t npartials = 1 + rng() % 5;
    std::vector<std::unique_ptr<Partial>> partials;
    for (size_t i = 0; i < npartials; ++i) partials.push_back(stage->NewPartial());
    size_t pos = 0;
    while (pos < rows.size()) {
      const size_t len = std::min<size_t>(rows.size() - pos, 1 + rng() % 400);
      auto b = rows.Batch(pos, pos + len);
      stage->Add(b->batch(), *partials[rng() % npartials]);
      pos += len;
    }
    const bool through_bytes = round % 2 == 1;
    while (partials.size() > 1) {
      const size_t from = rng() % partials.size();
      size_t into = rng() % (partials.size() - 1);
      if (into >= from) ++into;
      if (through_bytes) {
        std::string bytes;
        stage->Encode(*partials[from], &bytes);
        Status st = stage->Decode(bytes, partials[into].get());
        ASSERT_TRUE(st.ok()) << st.message();
      } else {
        stage->Merge(std::move(*partials[from]), *partials[into]);
      }
      partials.erase(partials.begin() + from);
    }
    EXPECT_EQ(Dump(stage->Finish(std::move(*partials[0]))), reference) << "round " << round;
  }
}

TEST(AggregateMerge, EncodeDecodeRoundTripsIntoAnEmptyPartial) {
  auto stage = EveryMetricStage();
  const RandomRows rows(500, 2);
  auto b = rows.Batch(0, rows.size());
  auto p = stage->NewPartial();
  stage->Add(b->batch(), *p);
  std::string bytes;
  stage->Encode(*p, &bytes);
  auto q = stage->NewPartial();
  ASSERT_TRUE(stage->Decode(bytes, q.get()).ok());
  std::string again;
  stage->Encode(*q, &again);
  EXPECT_EQ(Dump(stage->Finish(std::move(*q))), Dump(stage->Finish(std::move(*p))));
  EXPECT_EQ(again.size(), bytes.size());
}

TEST(AggregateMerge, MergedPartialCanKeepAdding) {
  auto stage = MakeStage({"status"}, {{"n", "count"}, {"d", "distinct(path)"}});
  const RandomRows rows(200, 3);
  auto p = stage->NewPartial();
  auto q = stage->NewPartial();
  auto b1 = rows.Batch(0, 100);
  auto b2 = rows.Batch(100, 200);
  stage->Add(b1->batch(), *q);
  stage->Merge(std::move(*q), *p);
  stage->Add(b2->batch(), *q);  // `from` is left empty and usable
  stage->Merge(std::move(*q), *p);
  auto r = stage->NewPartial();
  auto all = rows.Batch(0, 200);
  stage->Add(all->batch(), *r);
  EXPECT_EQ(Dump(stage->Finish(std::move(*p))), Dump(stage->Finish(std::move(*r))));
}

TEST(AggregateMerge, DecodeRejectsTruncatedAndCorruptBytes) {
  auto stage = EveryMetricStage();
  const RandomRows rows(60, 4);
  auto b = rows.Batch(0, rows.size());
  auto p = stage->NewPartial();
  stage->Add(b->batch(), *p);
  std::string bytes;
  stage->Encode(*p, &bytes);
  const std::string reference = Dump(stage->Finish(std::move(*p)));

  // Every strict prefix is an error and leaves the target untouched.
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto q = stage->NewPartial();
    Status st = stage->Decode(std::string_view(bytes.data(), n), q.get());
    ASSERT_FALSE(st.ok()) << "prefix " << n;
    EXPECT_EQ(st.code(), StatusCode::kDataError);
    EXPECT_EQ(Dump(stage->Finish(std::move(*q))),
              Dump(stage->Finish(std::move(*stage->NewPartial()))));
  }
  // Trailing bytes.
  {
    auto q = stage->NewPartial();
    EXPECT_FALSE(stage->Decode(bytes + "x", q.get()).ok());
  }
  // Random corruption: an error or some valid partial, never a crash (ASan checks reads).
  std::mt19937 rng(5);
  int errors = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bad = bytes;
    const int flips = 1 + rng() % 4;
    for (int f = 0; f < flips; ++f) bad[rng() % bad.size()] = static_cast<char>(rng());
    auto q = stage->NewPartial();
    Status st = stage->Decode(bad, q.get());
    if (!st.ok()) {
      ++errors;
      EXPECT_EQ(st.code(), StatusCode::kDataError);
      EXPECT_EQ(st.message().rfind("aggregate partial: ", 0), 0u) << st.message();
    } else {
      (void)stage->Finish(std::move(*q));
    }
  }
  EXPECT_GT(errors, 1000);
  // Garbage and bytes from another stage's shape.
  for (const std::string& garbage : {std::string(), std::string("LPAG"), std::string(100, '\xff'),
                                     std::string("LPAG\x01\x00\x00\x00", 8)}) {
    auto q = stage->NewPartial();
    EXPECT_FALSE(stage->Decode(garbage, q.get()).ok());
  }
  auto other = MakeStage({"status"}, {{"n", "count"}});
  auto q = other->NewPartial();
  Status st = other->Decode(bytes, q.get());
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("mismatch"), std::string::npos) << st.message();
}

TEST(AggregateMerge, DecodeRejectsDuplicateGroupsAndValues) {
  auto stage = MakeStage({"status"}, {{"d", "distinct(status)"}});
  TestBatch b(6, 1);
  b.Int(kStatus, 0, 200);
  auto p = stage->NewPartial();
  stage->Add(b.batch(), *p);
  std::string bytes;
  stage->Encode(*p, &bytes);
  // Layout: header (4 magic + 1 version + 1 nkeys + 2 key + 1 nmetrics + 2 metric) = 11, then
  // ngroups(1) keylen(1) key(9) rows(1) | nvalues(1) gid(1) value(zigzag 200: 2) count(1).
  ASSERT_EQ(bytes.size(), 11u + 12u + 5u);
  std::string groups = bytes.substr(12, 11);
  std::string two_groups = bytes.substr(0, 11) + "\x02" + groups + groups + bytes.substr(23);
  auto q = stage->NewPartial();
  Status st = stage->Decode(two_groups, q.get());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("duplicate group"), std::string::npos) << st.message();
  std::string values = bytes.substr(24);
  std::string two_values = bytes.substr(0, 23) + "\x02" + values + values;
  st = stage->Decode(two_values, q.get());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("duplicate value"), std::string::npos) << st.message();
}

// ---------------------------------------------------------------------------------------------
// Approximate metrics

// Rows for the approximate metrics: group status 1 has few clients (exact range), group 2 has
// thousands (dense HyperLogLog); bytes are skewed whole numbers, rt lognormal floats.
struct ApproxRows {
  std::vector<int64_t> status, bytes;
  std::vector<double> rt;
  std::vector<std::string> ip;
  explicit ApproxRows(size_t n, uint32_t seed) {
    std::mt19937_64 rng(seed);
    std::lognormal_distribution<double> ln(4, 2);
    for (size_t i = 0; i < n; ++i) {
      const int64_t g = 1 + static_cast<int64_t>(rng() % 3);
      status.push_back(g);
      bytes.push_back(static_cast<int64_t>(ln(rng)) * (rng() % 7 == 0 ? -1 : 1));
      rt.push_back(ln(rng) / 1000);
      const uint64_t clients = g == 1 ? 300 : (g == 2 ? 20000 : 1024);
      ip.push_back("10." + std::to_string(rng() % clients) + ".x");
    }
  }
  size_t size() const { return status.size(); }
  std::unique_ptr<TestBatch> Batch(size_t begin, size_t end) const {
    auto b = std::make_unique<TestBatch>(6, static_cast<uint32_t>(end - begin));
    for (size_t i = begin; i < end; ++i) {
      const uint32_t r = static_cast<uint32_t>(i - begin);
      b->Int(kStatus, r, status[i]);
      b->Int(kBytes, r, bytes[i]);
      if (i % 11 != 0) b->Float(kRt, r, rt[i]);  // some absent
      b->Str(kIp, r, ip[i]);
    }
    return b;
  }
};

std::unique_ptr<AggregateStage> ApproxStage() {
  return MakeStage({"status"}, {{"ips", "distinct(ip)"},
                                {"ips_a", "distinct_approx(ip)"},
                                {"b", "distinct(bytes)"},
                                {"b_a", "distinct_approx(bytes)"},
                                {"p50", "p50(bytes)"},
                                {"p50_a", "p50_approx(bytes)"},
                                {"p99", "p99(bytes)"},
                                {"p99_a", "p99_approx(bytes)"},
                                {"r999", "p99.9(rt)"},
                                {"r999_a", "p99.9_approx(rt)"},
                                {"r1", "p1(rt)"},
                                {"r1_a", "p1_approx(rt)"}});
}

// The approximate columns against the exact ones of the same table, within the documented
// error: distinct_approx exact up to 1024 values, else within 3 standard errors (2.4%);
// pNN_approx within 1% (floats), within 1% + 0.5 (ints, rounded) and exact below 50.
TEST(AggregateApprox, ResultsAreWithinTheDocumentedErrorOfTheExactMetrics) {
  auto stage = ApproxStage();
  const ApproxRows rows(60000, 21);
  auto b = rows.Batch(0, rows.size());
  auto p = stage->NewPartial();
  stage->Add(b->batch(), *p);
  const Table t = stage->Finish(std::move(*p));
  ASSERT_EQ(t.rows.size(), 3u);
  bool saw_dense = false, saw_small_int = false;
  for (const auto& row : t.rows) {
    for (size_t exact_col : {1, 3}) {
      const int64_t exact = row[exact_col].i, approx = row[exact_col + 1].i;
      if (exact <= 1024) {
        EXPECT_EQ(approx, exact) << Dump(t);
      } else {
        saw_dense = true;
        EXPECT_LE(std::fabs(static_cast<double>(approx - exact)), 0.024 * exact) << Dump(t);
      }
    }
    for (size_t exact_col : {5, 7}) {
      ASSERT_EQ(row[exact_col + 1].kind, Cell::Kind::kInt);
      const int64_t exact = row[exact_col].i, approx = row[exact_col + 1].i;
      if (std::llabs(exact) < 50) {
        saw_small_int = true;
        EXPECT_EQ(approx, exact) << Dump(t);
      } else {
        EXPECT_LE(std::fabs(static_cast<double>(approx - exact)), 0.01 * std::llabs(exact) + 0.5)
            << Dump(t);
      }
    }
    for (size_t exact_col : {9, 11}) {
      ASSERT_EQ(row[exact_col + 1].kind, Cell::Kind::kFloat);
      const double exact = row[exact_col].f, approx = row[exact_col + 1].f;
      EXPECT_LE(std::fabs(approx - exact), 0.01 * std::fabs(exact) * (1 + 1e-9)) << Dump(t);
    }
  }
  EXPECT_TRUE(saw_dense);
  EXPECT_TRUE(saw_small_int);
}

TEST(AggregateApprox, ExactWhenSmallNullWhenNoValues) {
  auto stage = MakeStage(
      {"status"},
      {{"d", "distinct_approx(path)"}, {"p", "p50_approx(bytes)"}, {"r", "p90_approx(rt)"}});
  TestBatch b(6, 5);
  b.Int(kStatus, 0, 200);
  b.Str(kPath, 0, "/a");
  b.Int(kBytes, 0, 10);
  b.Int(kStatus, 1, 200);
  b.Str(kPath, 1, "/b");
  b.Int(kBytes, 1, 30);
  b.Float(kRt, 1, 0.25);
  b.Int(kStatus, 2, 200);
  b.Str(kPath, 2, "/a");
  b.Int(kBytes, 2, 20);
  b.Int(kStatus, 3, 500);
  b.Int(kStatus, 4, 404);
  b.Int(kBytes, 4, 1000);
  auto p = stage->NewPartial();
  stage->Add(b.batch(), *p);
  // p50 of {10, 30, 20}: rank 2 -> 20 (exact below 50); p50 of {1000}: within 1% + 0.5;
  // p90 of {0.25}: the bucket value within 1%.
  const Table t = stage->Finish(std::move(*p));
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0][1].i, 2);
  EXPECT_EQ(t.rows[0][2].i, 20);
  EXPECT_NEAR(t.rows[0][3].f, 0.25, 0.0025);
  EXPECT_EQ(t.rows[1][1].i, 0);
  EXPECT_NEAR(static_cast<double>(t.rows[1][2].i), 1000, 10.5);
  EXPECT_EQ(t.rows[1][3].kind, Cell::Kind::kNull);
  EXPECT_EQ(t.rows[2][1].i, 0);
  EXPECT_EQ(t.rows[2][2].kind, Cell::Kind::kNull);
}

// With thousands of distinct values per group (dense sketches), any split into batches and
// partials, merged in any order, directly or through Encode/Decode, gives identical results.
TEST(AggregateApprox, DenseSketchesMergeIdenticallyInAnyOrder) {
  auto stage = MakeStage(
      {"status"},
      {{"ips_a", "distinct_approx(ip)"}, {"b_a", "p99_approx(bytes)"}, {"r_a", "p50_approx(rt)"}});
  const ApproxRows rows(20000, 5);
  std::string reference, reference_bytes;
  {
    auto b = rows.Batch(0, rows.size());
    auto p = stage->NewPartial();
    stage->Add(b->batch(), *p);
    stage->Encode(*p, &reference_bytes);
    reference = Dump(stage->Finish(std::move(*p)));
  }
  std::mt19937 rng(17);
  for (int round = 0; round < 6; ++round) {
    const size_t npartials = 2 + rng() % 4;
    std::vector<std::unique_ptr<Partial>> partials;
    for (size_t i = 0; i < npartials; ++i) partials.push_back(stage->NewPartial());
    size_t pos = 0;
    while (pos < rows.size()) {
      const size_t len = std::min<size_t>(rows.size() - pos, 1 + rng() % 3000);
      auto b = rows.Batch(pos, pos + len);
      stage->Add(b->batch(), *partials[rng() % npartials]);
      pos += len;
    }
    while (partials.size() > 1) {
      const size_t from = rng() % partials.size();
      size_t into = rng() % (partials.size() - 1);
      if (into >= from) ++into;
      if (rng() % 2) {
        std::string bytes;
        stage->Encode(*partials[from], &bytes);
        Status st = stage->Decode(bytes, partials[into].get());
        ASSERT_TRUE(st.ok()) << st.message();
      } else {
        stage->Merge(std::move(*partials[from]), *partials[into]);
      }
      partials.erase(partials.begin() + from);
    }
    std::string bytes;
    stage->Encode(*partials[0], &bytes);
    EXPECT_EQ(Dump(stage->Finish(std::move(*partials[0]))), reference) << "round " << round;
    EXPECT_EQ(bytes.size(), reference_bytes.size()) << "round " << round;
  }
}

TEST(AggregateApprox, DecodeRejectsCorruptSketchesWithoutCrashing) {
  auto stage =
      MakeStage({"status"}, {{"ips_a", "distinct_approx(ip)"}, {"b_a", "p99_approx(bytes)"}});
  const ApproxRows rows(6000, 8);
  auto b = rows.Batch(0, rows.size());
  auto p = stage->NewPartial();
  stage->Add(b->batch(), *p);
  std::string bytes;
  stage->Encode(*p, &bytes);
  for (size_t n : {size_t{20}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 1}) {
    auto q = stage->NewPartial();
    Status st = stage->Decode(std::string_view(bytes.data(), n), q.get());
    ASSERT_FALSE(st.ok()) << n;
    EXPECT_EQ(st.code(), StatusCode::kDataError);
  }
  std::mt19937 rng(12);
  int errors = 0;
  for (int i = 0; i < 400; ++i) {
    std::string bad = bytes;
    for (int f = 0; f < 3; ++f) bad[rng() % bad.size()] = static_cast<char>(rng());
    auto q = stage->NewPartial();
    Status st = stage->Decode(bad, q.get());
    if (!st.ok()) {
      ++errors;
      EXPECT_EQ(st.message().rfind("aggregate partial: ", 0), 0u) << st.message();
    } else {
      (void)stage->Finish(std::move(*q));
    }
  }
  EXPECT_GT(errors, 0);
}

// ---------------------------------------------------------------------------------------------
// Scale and allocation

// The Dump of a top(f, k) cell by brute force: every value's count sorted by count desc, then
// text asc, the first k.
std::string BruteForceTop(const std::map<std::string, uint64_t>& counts, size_t k) {
  std::vector<std::pair<std::string, uint64_t>> all(counts.begin(), counts.end());
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (all.size() > k) all.resize(k);
  std::string out = "[";
  for (const auto& [v, n] : all) out += v + ":" + std::to_string(n) + ",";
  return out + "]";
}

// top(f, k) against a brute force (count every value in a std::map, sort all of them by
// count desc then text asc), with and without group_by, for a string field and an int field
// (whose text order differs from its numeric order), from one partial, from two merged
// partials, and through Encode/Decode.
TEST(AggregateStage, TopMatchesAFullSortWithAndWithoutGroupBy) {
  const RandomRows rows(6000, 11);
  for (const bool grouped : {false, true}) {
    const std::vector<std::string> keys =
        grouped ? std::vector<std::string>{"status"} : std::vector<std::string>{};
    auto stage = MakeStage(keys, {{"tb", "top(bytes, 7)"}, {"tp", "top(path, 5)"}});
    // Brute force: group label -> value text -> count.
    std::map<std::string, std::map<std::string, uint64_t>> bytes_counts, path_counts;
    std::set<std::string> groups;
    for (size_t i = 0; i < rows.size(); ++i) {
      const uint8_t m = rows.present[i];
      const std::string g = !grouped ? "" : (m & 1) ? "i" + std::to_string(rows.status[i]) : "null";
      groups.insert(g);
      if (m & 2) ++bytes_counts[g][std::to_string(rows.bytes[i])];
      if (m & 4) ++path_counts[g][rows.path[i]];
    }
    // Rows sort by status with absent first: "null" before the ints, which std::map orders
    // as text; re-sort them numerically.
    std::vector<std::string> order(groups.begin(), groups.end());
    std::sort(order.begin(), order.end(), [](const std::string& a, const std::string& b) {
      if (a == "null" || b == "null") return a == "null" && b != "null";
      if (a.empty() || b.empty()) return a.empty() && !b.empty();
      return std::stoll(a.substr(1)) < std::stoll(b.substr(1));
    });
    std::string want = grouped ? "status|tb|tp|\n" : "tb|tp|\n";
    for (const std::string& g : order) {
      if (grouped) want += g + "|";
      want += BruteForceTop(bytes_counts[g], 7) + "|" + BruteForceTop(path_counts[g], 5) + "|\n";
    }

    auto one = stage->NewPartial();
    auto all = rows.Batch(0, rows.size());
    stage->Add(all->batch(), *one);
    EXPECT_EQ(Dump(stage->Finish(std::move(*one))), want) << grouped;

    auto a = stage->NewPartial();
    auto b = stage->NewPartial();
    auto first = rows.Batch(0, 2500);
    auto second = rows.Batch(2500, rows.size());
    stage->Add(first->batch(), *a);
    stage->Add(second->batch(), *b);
    std::string bytes;
    stage->Encode(*b, &bytes);
    auto c = stage->NewPartial();
    ASSERT_TRUE(stage->Decode(bytes, c.get()).ok());
    stage->Merge(std::move(*b), *a);
    EXPECT_EQ(Dump(stage->Finish(std::move(*a))), want) << grouped;
    auto d = stage->NewPartial();
    stage->Add(first->batch(), *d);
    stage->Merge(std::move(*d), *c);
    EXPECT_EQ(Dump(stage->Finish(std::move(*c))), want) << grouped;
  }
}

// Rows given as (group, value, times, partial) for the top tests below: a partial's rows in a
// shuffled order, and the brute-force answer (count every value, sort all by count desc then
// text asc) of top(path, k) and top(bytes, k), where a row's bytes is a number derived from
// its path whose text order differs from its numeric order.
struct TopRows {
  struct Spec {
    int64_t status;  // -1: absent
    std::string path;
    uint32_t times;
    size_t partial;
  };
  std::vector<Spec> specs;

  static int64_t BytesOf(const std::string& path) {
    int64_t h = 7;
    for (char c : path) h = (h * 31 + static_cast<unsigned char>(c)) % 997;
    return h * 10 - 500;
  }
  std::unique_ptr<TestBatch> Batch(size_t partial, uint32_t seed) const {
    std::vector<const Spec*> rows;
    for (const Spec& s : specs) {
      if (s.partial != partial) continue;
      for (uint32_t i = 0; i < s.times; ++i) rows.push_back(&s);
    }
    std::shuffle(rows.begin(), rows.end(), std::mt19937(seed));
    auto b = std::make_unique<TestBatch>(6, static_cast<uint32_t>(rows.size()));
    for (uint32_t r = 0; r < rows.size(); ++r) {
      if (rows[r]->status >= 0) b->Int(kStatus, r, rows[r]->status);
      b->Str(kPath, r, rows[r]->path);
      b->Int(kBytes, r, BytesOf(rows[r]->path));
    }
    return b;
  }
  // The Dump of the table of MakeStage(grouped ? {"status"} : {}, {top(path, kp), top(bytes, kb)}).
  std::string Want(bool grouped, size_t kp, size_t kb) const {
    std::map<int64_t, std::map<std::string, uint64_t>> paths, bytes;  // -1 sorts first: absent
    for (const Spec& s : specs) {
      const int64_t g = grouped ? s.status : 0;
      paths[g][s.path] += s.times;
      bytes[g][std::to_string(BytesOf(s.path))] += s.times;
    }
    std::string want = grouped ? "status|tp|tb|\n" : "tp|tb|\n";
    for (const auto& [g, counts] : paths) {
      if (grouped) want += (g < 0 ? std::string("null") : "i" + std::to_string(g)) + "|";
      want += BruteForceTop(counts, kp) + "|" + BruteForceTop(bytes[g], kb) + "|\n";
    }
    return want;
  }
};

// Adds each partial's rows (the last partial's after the merges, into the merged partial),
// merges the others in a random order, through Encode/Decode when `through_bytes`, and returns
// the Dump of Finish.
std::string MergeInRandomOrder(const AggregateStage& stage, const TopRows& rows, size_t npartials,
                               bool through_bytes, std::mt19937& rng) {
  std::vector<std::unique_ptr<Partial>> partials;
  for (size_t i = 0; i + 1 < npartials; ++i) {
    partials.push_back(stage.NewPartial());
    auto b = rows.Batch(i, static_cast<uint32_t>(rng()));
    stage.Add(b->batch(), *partials.back());
  }
  while (partials.size() > 1) {
    const size_t from = rng() % partials.size();
    size_t into = rng() % (partials.size() - 1);
    if (into >= from) ++into;
    if (through_bytes && rng() % 2 == 0) {
      std::string bytes;
      stage.Encode(*partials[from], &bytes);
      EXPECT_TRUE(stage.Decode(bytes, partials[into].get()).ok());
    } else {
      stage.Merge(std::move(*partials[from]), *partials[into]);
    }
    partials.erase(partials.begin() + static_cast<std::ptrdiff_t>(from));
  }
  auto late = rows.Batch(npartials - 1, static_cast<uint32_t>(rng()));
  stage.Add(late->batch(), *partials[0]);
  return Dump(stage.Finish(std::move(*partials[0])));
}

// Merge keeps the value tables of fields read only by top(f, k) apart, and Finish finds the
// top k across them from each table's own top k, a threshold and exact totals. The data is
// built against that shortcut: in each partial a few values lead by a little ("local"), while
// the overall winners are spread over every partial and never in any partial's own top k;
// values tie at many counts, so the text order decides; and one partial arrives after the
// merges.
TEST(AggregateMerge, TopAcrossPartialsKeptApartMatchesAFullSort) {
  std::mt19937 rng(5);
  for (size_t npartials : {2, 3, 5, 8}) {
    TopRows rows;
    for (int64_t status : {-1, 200, 404}) {
      for (size_t part = 0; part < npartials; ++part) {
        for (int j = 0; j < 8; ++j) {
          rows.specs.push_back(
              {status, "/local/" + std::to_string(part) + "/" + std::to_string(j), 10, part});
        }
        for (int j = 0; j < 6; ++j) {
          rows.specs.push_back({status, "/spread/" + std::to_string(j), 6, part});
        }
        rows.specs.push_back({status, part % 2 ? "/tie/a" : "/tie/b", 5, part});
        for (int j = 0; j < 40; ++j) {
          rows.specs.push_back({status, "/noise/" + std::to_string(rng() % 60),
                                1 + static_cast<uint32_t>(rng() % 3), part});
        }
      }
    }
    for (const bool grouped : {false, true}) {
      const std::vector<std::string> keys =
          grouped ? std::vector<std::string>{"status"} : std::vector<std::string>{};
      for (const auto& [kp, kb] : {std::pair<size_t, size_t>{5, 4}, {1, 30}, {9, 1}}) {
        auto stage = MakeStage(keys, {{"tp", "top(path, " + std::to_string(kp) + ")"},
                                      {"tb", "top(bytes, " + std::to_string(kb) + ")"}});
        const std::string want = rows.Want(grouped, kp, kb);
        for (const bool through_bytes : {false, true}) {
          EXPECT_EQ(MergeInRandomOrder(*stage, rows, npartials, through_bytes, rng), want)
              << npartials << " partials, grouped " << grouped << ", k " << kp << "/" << kb
              << ", through bytes " << through_bytes;
        }
      }
    }
  }
}

// When the counts are flat (most values seen once or twice), most values could reach the
// threshold: Finish either looks up thousands of candidates or, past what folding the tables
// would cost (here with group_by), folds them instead. The same answer either way.
TEST(AggregateMerge, TopAcrossFlatPartialsMatchesAFullSort) {
  std::mt19937 rng(6);
  TopRows rows;
  for (int i = 0; i < 12000; ++i) {
    rows.specs.push_back({i % 3 == 0 ? 200 : -1, "/flat/" + std::to_string(rng() % 9000),
                          1 + static_cast<uint32_t>(rng() % 2), static_cast<size_t>(rng() % 4)});
  }
  for (const bool grouped : {false, true}) {
    const std::vector<std::string> keys =
        grouped ? std::vector<std::string>{"status"} : std::vector<std::string>{};
    auto stage = MakeStage(keys, {{"tp", "top(path, 6)"}, {"tb", "top(bytes, 3)"}});
    EXPECT_EQ(MergeInRandomOrder(*stage, rows, 4, false, rng), rows.Want(grouped, 6, 3)) << grouped;
  }
}

// Many groups with a few values each: every value is a candidate, so Finish folds the tables
// instead (it gives up as soon as the candidates pass what folding costs). Against the same
// rows in one partial.
TEST(AggregateMerge, TopAcrossManySmallGroupsMatchesOnePartial) {
  auto stage = MakeStage({"path", "status"}, {{"ti", "top(ip, 10)"}, {"tb", "top(bytes, 2)"}});
  const RandomRows rows(6000, 12);
  auto all = rows.Batch(0, rows.size());
  auto one = stage->NewPartial();
  stage->Add(all->batch(), *one);
  const std::string want = Dump(stage->Finish(std::move(*one)));
  std::vector<std::unique_ptr<Partial>> partials;
  for (size_t begin = 0; begin < rows.size(); begin += 1500) {
    partials.push_back(stage->NewPartial());
    auto b = rows.Batch(begin, begin + 1500);
    stage->Add(b->batch(), *partials.back());
  }
  for (size_t i = 1; i < partials.size(); ++i) stage->Merge(std::move(*partials[i]), *partials[0]);
  EXPECT_EQ(Dump(stage->Finish(std::move(*partials[0]))), want);
}

// ---------------------------------------------------------------------------------------------
// Heads: partials finished where they were built (EncodeHead, AnswerQuery, CompleteHeads)

// What FinishThroughHeads moved between the holders and the coordinator.
struct HeadTraffic {
  size_t head_bytes = 0;
  size_t query_bytes = 0;
  size_t answer_bytes = 0;
  int rounds = 0;
};

// The Dump of Finish over `holders` as the processes executor does it: each holder's head
// decoded into a fresh partial, completed by asking the holders (AnswerQuery), the heads merged
// in a random order. `fail_round`: that round's ask fails first (the heads must be left as they
// were: the second CompleteHeads then gives the same answer).
std::string FinishThroughHeads(const AggregateStage& stage,
                               std::vector<std::unique_ptr<Partial>>& holders, std::mt19937& rng,
                               HeadTraffic* traffic = nullptr, int fail_round = -1) {
  HeadTraffic unused;
  HeadTraffic& t = traffic != nullptr ? *traffic : unused;
  std::vector<std::unique_ptr<Partial>> heads;
  std::vector<Partial*> head_ptrs;
  for (auto& p : holders) {
    std::string bytes;
    stage.EncodeHead(*p, &bytes);
    t.head_bytes += bytes.size();
    heads.push_back(stage.NewPartial());
    const Status st = stage.Decode(bytes, heads.back().get());
    EXPECT_TRUE(st.ok()) << st.message();
    head_ptrs.push_back(heads.back().get());
  }
  int calls = 0;
  bool failing = fail_round >= 0;
  auto ask = [&](const std::vector<std::string>& queries, std::vector<std::string>* answers) {
    EXPECT_EQ(queries.size(), holders.size());
    if (failing && calls++ == fail_round) return InternalError("a holder died");
    ++t.rounds;
    for (size_t i = 0; i < queries.size(); ++i) {
      t.query_bytes += queries[i].size();
      (*answers)[i].clear();
      const Status st = stage.AnswerQuery(*holders[i], queries[i], &(*answers)[i]);
      EXPECT_TRUE(st.ok()) << st.message();
      t.answer_bytes += (*answers)[i].size();
    }
    return Status::Ok();
  };
  Status st = Status(StatusCode::kInternal, "not run");
  if (failing) {
    st = stage.CompleteHeads(head_ptrs, ask);  // fails unless it needed fewer rounds
    failing = false;
    if (!st.ok()) {
      EXPECT_EQ(st.message(), "a holder died");
    }
    t = HeadTraffic();
  }
  if (!st.ok()) st = stage.CompleteHeads(head_ptrs, ask);
  EXPECT_TRUE(st.ok()) << st.message();
  while (heads.size() > 1) {
    const size_t from = rng() % heads.size();
    size_t into = rng() % (heads.size() - 1);
    if (into >= from) ++into;
    stage.Merge(std::move(*heads[from]), *heads[into]);
    heads.erase(heads.begin() + static_cast<std::ptrdiff_t>(from));
  }
  return Dump(stage.Finish(std::move(*heads[0])));
}

// The data of TopAcrossPartialsKeptApartMatchesAFullSort (winners spread over every holder and
// in none's own top k, ties decided by text), finished through heads: 1 to 8 holders, with and
// without group_by, k from 1 to 30, and with a failed round before the one that succeeds.
TEST(AggregateHeads, TopThroughHeadsMatchesAFullSort) {
  std::mt19937 rng(15);
  for (size_t nholders : {1, 2, 3, 5, 8}) {
    TopRows rows;
    for (int64_t status : {-1, 200, 404}) {
      for (size_t part = 0; part < nholders; ++part) {
        for (int j = 0; j < 8; ++j) {
          rows.specs.push_back(
              {status, "/local/" + std::to_string(part) + "/" + std::to_string(j), 10, part});
        }
        for (int j = 0; j < 6; ++j) {
          rows.specs.push_back({status, "/spread/" + std::to_string(j), 6, part});
        }
        rows.specs.push_back({status, part % 2 ? "/tie/a" : "/tie/b", 5, part});
        for (int j = 0; j < 40; ++j) {
          rows.specs.push_back({status, "/noise/" + std::to_string(rng() % 60),
                                1 + static_cast<uint32_t>(rng() % 3), part});
        }
      }
    }
    for (const bool grouped : {false, true}) {
      const std::vector<std::string> keys =
          grouped ? std::vector<std::string>{"status"} : std::vector<std::string>{};
      for (const auto& [kp, kb] : {std::pair<size_t, size_t>{5, 4}, {1, 30}, {9, 1}}) {
        auto stage = MakeStage(keys, {{"tp", "top(path, " + std::to_string(kp) + ")"},
                                      {"tb", "top(bytes, " + std::to_string(kb) + ")"}});
        const std::string want = rows.Want(grouped, kp, kb);
        for (const int fail_round : {-1, 0, 1}) {
          std::vector<std::unique_ptr<Partial>> holders;
          for (size_t i = 0; i < nholders; ++i) {
            holders.push_back(stage->NewPartial());
            auto b = rows.Batch(i, static_cast<uint32_t>(rng()));
            stage->Add(b->batch(), *holders.back());
          }
          EXPECT_EQ(FinishThroughHeads(*stage, holders, rng, nullptr, fail_round), want)
              << nholders << " holders, grouped " << grouped << ", k " << kp << "/" << kb
              << ", failed round " << fail_round;
        }
      }
    }
  }
}

// Flat counts (most values seen once or twice: thresholds of at most the number of holders
// let every count through) and many small groups: the same answer as one partial.
TEST(AggregateHeads, FlatCountsAndManySmallGroupsMatchOnePartial) {
  std::mt19937 rng(16);
  TopRows flat;
  for (int i = 0; i < 12000; ++i) {
    flat.specs.push_back({i % 3 == 0 ? 200 : -1, "/flat/" + std::to_string(rng() % 9000),
                          1 + static_cast<uint32_t>(rng() % 2), static_cast<size_t>(rng() % 4)});
  }
  for (const bool grouped : {false, true}) {
    const std::vector<std::string> keys =
        grouped ? std::vector<std::string>{"status"} : std::vector<std::string>{};
    auto stage = MakeStage(keys, {{"tp", "top(path, 6)"}, {"tb", "top(bytes, 3)"}});
    std::vector<std::unique_ptr<Partial>> holders;
    for (size_t i = 0; i < 4; ++i) {
      holders.push_back(stage->NewPartial());
      auto b = flat.Batch(i, static_cast<uint32_t>(rng()));
      stage->Add(b->batch(), *holders.back());
    }
    EXPECT_EQ(FinishThroughHeads(*stage, holders, rng), flat.Want(grouped, 6, 3)) << grouped;
  }

  auto stage = MakeStage({"path", "status"}, {{"ti", "top(ip, 10)"}, {"tb", "top(bytes, 2)"}});
  const RandomRows rows(6000, 12);
  auto all = rows.Batch(0, rows.size());
  auto one = stage->NewPartial();
  stage->Add(all->batch(), *one);
  const std::string want = Dump(stage->Finish(std::move(*one)));
  std::vector<std::unique_ptr<Partial>> holders;
  for (size_t begin = 0; begin < rows.size(); begin += 1500) {
    holders.push_back(stage->NewPartial());
    auto b = rows.Batch(begin, begin + 1500);
    stage->Add(b->batch(), *holders.back());
  }
  EXPECT_EQ(FinishThroughHeads(*stage, holders, rng), want);
}

// Every metric kind at once (a field read by top and by distinct is sent whole; ip, read by top
// only, goes through the rounds), against one partial.
TEST(AggregateHeads, EveryMetricKindMatchesOnePartial) {
  auto stage = EveryMetricStage();
  const RandomRows rows(3000, 3);
  auto all = rows.Batch(0, rows.size());
  auto one = stage->NewPartial();
  stage->Add(all->batch(), *one);
  const std::string want = Dump(stage->Finish(std::move(*one)));
  std::mt19937 rng(17);
  std::vector<std::unique_ptr<Partial>> holders;
  for (size_t begin = 0; begin < rows.size(); begin += 1000) {
    holders.push_back(stage->NewPartial());
    auto b = rows.Batch(begin, begin + 1000);
    stage->Add(b->batch(), *holders.back());
  }
  EXPECT_EQ(FinishThroughHeads(*stage, holders, rng), want);
}

// The point of heads: with skewed counts (a few hot paths, a long tail seen a few times each)
// the holders send a small fraction of what Encode would, in two rounds.
TEST(AggregateHeads, SkewedCountsSendAFractionOfThePartials) {
  std::mt19937 rng(18);
  TopRows rows;
  for (size_t part = 0; part < 2; ++part) {
    for (int j = 0; j < 20; ++j) {
      rows.specs.push_back(
          {200, "/hot/" + std::to_string(j), 500 + 10 * static_cast<uint32_t>(j), part});
    }
    for (int j = 0; j < 20000; ++j) {
      rows.specs.push_back({200, "/tail/" + std::to_string(rng() % 30000),
                            1 + static_cast<uint32_t>(rng() % 3), part});
    }
  }
  auto stage = MakeStage({}, {{"tp", "top(path, 10)"}, {"tb", "top(bytes, 10)"}});
  std::vector<std::unique_ptr<Partial>> holders;
  size_t encoded = 0;
  for (size_t i = 0; i < 2; ++i) {
    holders.push_back(stage->NewPartial());
    auto b = rows.Batch(i, static_cast<uint32_t>(rng()));
    stage->Add(b->batch(), *holders.back());
    std::string bytes;
    stage->Encode(*holders.back(), &bytes);
    encoded += bytes.size();
  }
  EXPECT_TRUE(stage->HeadsNeedQueries());
  // A field that distinct reads too is sent whole: nothing to ask.
  EXPECT_FALSE(
      MakeStage({}, {{"tp", "top(path, 10)"}, {"dp", "distinct(path)"}})->HeadsNeedQueries());
  HeadTraffic traffic;
  EXPECT_EQ(FinishThroughHeads(*stage, holders, rng, &traffic), rows.Want(false, 10, 10));
  EXPECT_LE(traffic.rounds, 2);
  EXPECT_LT(traffic.head_bytes + traffic.query_bytes + traffic.answer_bytes, encoded / 20)
      << "heads " << traffic.head_bytes << ", queries " << traffic.query_bytes << ", answers "
      << traffic.answer_bytes << ", whole partials " << encoded;
}

// A holder that sends a value nobody asked for (in the second round, which asks no thresholds)
// is refused with kDataError, and the heads are left as they were.
TEST(AggregateHeads, CompleteHeadsRefusesValuesNotAskedFor) {
  std::mt19937 rng(19);
  TopRows rows;
  for (size_t part = 0; part < 3; ++part) {
    for (int j = 0; j < 6; ++j)
      rows.specs.push_back({200, "/spread/" + std::to_string(j), 6, part});
    for (int j = 0; j < 8; ++j) {
      rows.specs.push_back(
          {200, "/local/" + std::to_string(part) + "/" + std::to_string(j), 10, part});
    }
  }
  auto stage = MakeStage({}, {{"tp", "top(path, 5)"}});
  std::vector<std::unique_ptr<Partial>> holders;
  std::vector<std::unique_ptr<Partial>> heads;
  std::vector<Partial*> head_ptrs;
  for (size_t i = 0; i < 3; ++i) {
    holders.push_back(stage->NewPartial());
    auto b = rows.Batch(i, static_cast<uint32_t>(rng()));
    stage->Add(b->batch(), *holders.back());
    std::string bytes;
    stage->EncodeHead(*holders.back(), &bytes);
    heads.push_back(stage->NewPartial());
    ASSERT_TRUE(stage->Decode(bytes, heads.back().get()).ok());
    head_ptrs.push_back(heads.back().get());
  }
  int round = 0;
  auto forge = [&](const std::vector<std::string>& queries, std::vector<std::string>* answers) {
    ++round;
    for (size_t i = 0; i < queries.size(); ++i) {
      (*answers)[i].clear();
      EXPECT_TRUE(stage->AnswerQuery(*holders[i], queries[i], &(*answers)[i]).ok());
      if (round == 2) {
        // The answer starts with the number of values sent (0: no thresholds asked): one
        // value instead, group 0, "/forged", count 1.
        EXPECT_EQ((*answers)[i][0], '\0');
        (*answers)[i] = std::string("\x01\x00\x07/forged\x01", 11) + (*answers)[i].substr(1);
      }
    }
    return Status::Ok();
  };
  const Status st = stage->CompleteHeads(head_ptrs, forge);
  ASSERT_EQ(round, 2) << "the data must take a second round";
  EXPECT_EQ(st.code(), StatusCode::kDataError) << st.message();
  EXPECT_NE(st.message().find("not asked for"), std::string::npos) << st.message();
  // Untouched: completing them properly still gives the right answer.
  auto ask = [&](const std::vector<std::string>& queries, std::vector<std::string>* answers) {
    for (size_t i = 0; i < queries.size(); ++i) {
      (*answers)[i].clear();
      EXPECT_TRUE(stage->AnswerQuery(*holders[i], queries[i], &(*answers)[i]).ok());
    }
    return Status::Ok();
  };
  ASSERT_TRUE(stage->CompleteHeads(head_ptrs, ask).ok());
  auto all = stage->NewPartial();
  for (size_t i = 0; i < 3; ++i) {
    auto b = rows.Batch(i, 1);
    stage->Add(b->batch(), *all);
  }
  for (size_t i = 1; i < heads.size(); ++i) stage->Merge(std::move(*heads[i]), *heads[0]);
  EXPECT_EQ(Dump(stage->Finish(std::move(*heads[0]))), Dump(stage->Finish(std::move(*all))));
}

// A malformed query (every truncation of a real one, and a group the holder does not have) is
// a kDataError, never a crash.
TEST(AggregateHeads, AnswerQueryRejectsMalformedQueries) {
  auto stage = MakeStage({"status"}, {{"tp", "top(path, 2)"}});
  const RandomRows rows(400, 4);
  std::vector<std::unique_ptr<Partial>> holders;
  for (size_t begin = 0; begin < rows.size(); begin += 200) {
    holders.push_back(stage->NewPartial());
    auto b = rows.Batch(begin, begin + 200);
    stage->Add(b->batch(), *holders.back());
  }
  std::vector<std::unique_ptr<Partial>> heads;
  std::vector<Partial*> head_ptrs;
  for (auto& p : holders) {
    std::string bytes;
    stage->EncodeHead(*p, &bytes);
    heads.push_back(stage->NewPartial());
    ASSERT_TRUE(stage->Decode(bytes, heads.back().get()).ok());
    head_ptrs.push_back(heads.back().get());
  }
  std::string query;
  auto capture = [&](const std::vector<std::string>& queries, std::vector<std::string>*) {
    query = queries[0];
    return InternalError("stop");
  };
  ASSERT_FALSE(stage->CompleteHeads(head_ptrs, capture).ok());
  ASSERT_FALSE(query.empty());
  std::string answer;
  ASSERT_TRUE(stage->AnswerQuery(*holders[0], query, &answer).ok());
  for (size_t len = 0; len < query.size(); ++len) {
    answer.clear();
    EXPECT_EQ(stage->AnswerQuery(*holders[0], query.substr(0, len), &answer).code(),
              StatusCode::kDataError)
        << len;
  }
  // Holder count 1, one threshold for group 99.
  const std::string bad_group = std::string("\x01\x01\x63\x01\x00", 5);
  EXPECT_EQ(stage->AnswerQuery(*holders[0], bad_group, &answer).code(), StatusCode::kDataError);
}

TEST(AggregateStage, HandlesQuarterMillionDistinctKeys) {
  constexpr uint32_t kKeys = 250000;
  auto stage = MakeStage({"path"}, {{"n", "count"}, {"b", "sum(bytes)"}});
  auto top = MakeStage({}, {{"top", "top(path, 3)"}, {"d", "distinct(path)"}});
  auto p = stage->NewPartial();
  auto tp = top->NewPartial();
  // Two passes over the keys in batches of 10000 rows; key i gets bytes i, twice; key 7 thrice.
  for (int pass = 0; pass < 2; ++pass) {
    for (uint32_t start = 0; start < kKeys; start += 10000) {
      TestBatch b(6, 10000);
      for (uint32_t r = 0; r < 10000; ++r) {
        const uint32_t key = start + r;
        b.Str(kPath, r, "/item/" + std::to_string(key));
        b.Int(kBytes, r, key);
      }
      stage->Add(b.batch(), *p);
      top->Add(b.batch(), *tp);
    }
  }
  TestBatch extra(6, 1);
  extra.Str(kPath, 0, "/item/7");
  extra.Int(kBytes, 0, 7);
  stage->Add(extra.batch(), *p);
  top->Add(extra.batch(), *tp);

  Table t = stage->Finish(std::move(*p));
  ASSERT_EQ(t.rows.size(), kKeys);
  for (size_t i = 1; i < t.rows.size(); ++i) ASSERT_LT(t.rows[i - 1][0].s, t.rows[i][0].s);
  uint64_t total = 0;
  for (const auto& row : t.rows) {
    const int64_t key = std::stoll(row[0].s.substr(6));
    const int64_t times = key == 7 ? 3 : 2;
    ASSERT_EQ(row[1].i, times) << row[0].s;
    ASSERT_EQ(row[2].i, key * times) << row[0].s;
    total += static_cast<uint64_t>(row[1].i);
  }
  EXPECT_EQ(total, 2u * kKeys + 1);

  Table tt = top->Finish(std::move(*tp));
  EXPECT_EQ(Dump(tt), "top|d|\n[/item/7:3,/item/0:2,/item/1:2,]|i250000|\n");
}

#ifdef LOGPIPE_HAVE_ALLOC_COUNTER
TEST(AggregateStage, AddAllocatesNothingForKeysAndValuesAlreadySeen) {
  auto stage = EveryMetricStage();
  const RandomRows rows(2000, 6);
  auto b = rows.Batch(0, rows.size());
  auto p = stage->NewPartial();
  stage->Add(b->batch(), *p);
  const uint64_t before = testing::AllocationCount();
  stage->Add(b->batch(), *p);
  EXPECT_EQ(testing::AllocationCount() - before, 0u);
}
#endif

}  // namespace
}  // namespace logpipe
