#include "stages/aggregate_spec.h"

#include <gtest/gtest.h>

#include <string>

namespace logpipe {
namespace {

TEST(GroupKey, ParsesFieldsAndTimeBuckets) {
  Result<GroupKeySpec> k = ParseGroupKey("status");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->label, "status");
  EXPECT_EQ(k->field, "status");
  EXPECT_EQ(k->bucket_ms, 0);

  k = ParseGroupKey(" bucket( ts ,5m ) ");
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(k->label, "bucket(ts, 5m)");
  EXPECT_EQ(k->field, "ts");
  EXPECT_EQ(k->bucket_ms, 300000);

  k = ParseGroupKey("minute(ts)");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->label, "minute(ts)");
  EXPECT_EQ(k->bucket_ms, 60000);
  k = ParseGroupKey("hour(ts)");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->bucket_ms, 3600000);
  k = ParseGroupKey("day(ts)");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->bucket_ms, 86400000);
}

TEST(GroupKey, RejectsMalformedEntriesSayingWhatWasExpected) {
  for (const char* bad : {"", "bucket(ts)", "week(ts)", "bucket(ts, 5m, 1)", "status code",
                          "minute()", "hour(ts", "1status", "bucket((ts), 5m)"}) {
    Result<GroupKeySpec> k = ParseGroupKey(bad);
    ASSERT_FALSE(k.ok()) << bad;
    EXPECT_EQ(k.status().code(), StatusCode::kConfig);
    EXPECT_EQ(k.status().message(),
              std::string("group_by: expected a field name, bucket(f, duration), minute(f), "
                          "hour(f) or day(f), got '") +
                  bad + "'");
  }
  for (const char* bad : {"bucket(ts, 5x)", "bucket(ts, 0m)", "bucket(ts, -5m)"}) {
    Result<GroupKeySpec> k = ParseGroupKey(bad);
    ASSERT_FALSE(k.ok()) << bad;
    EXPECT_NE(k.status().message().find("expected a positive duration"), std::string::npos)
        << k.status().message();
  }
}

TEST(Metric, ParsesEveryKind) {
  struct Case {
    const char* expr;
    MetricSpec::Kind kind;
    const char* field;
  };
  for (const Case& c :
       std::vector<Case>{{"count", MetricSpec::Kind::kCount, ""},
                         {"sum(bytes)", MetricSpec::Kind::kSum, "bytes"},
                         {"min( rt )", MetricSpec::Kind::kMin, "rt"},
                         {"max(path)", MetricSpec::Kind::kMax, "path"},
                         {"avg(rt)", MetricSpec::Kind::kAvg, "rt"},
                         {"distinct(ip)", MetricSpec::Kind::kDistinct, "ip"},
                         {"top(path, 10)", MetricSpec::Kind::kTop, "path"},
                         {"p95(rt)", MetricSpec::Kind::kPercentile, "rt"},
                         {"distinct_approx(ip)", MetricSpec::Kind::kDistinctApprox, "ip"},
                         {"p95_approx( rt )", MetricSpec::Kind::kPercentileApprox, "rt"}}) {
    Result<MetricSpec> m = ParseMetric("m", c.expr);
    ASSERT_TRUE(m.ok()) << c.expr << ": " << m.status().message();
    EXPECT_EQ(m->name, "m");
    EXPECT_EQ(m->kind, c.kind) << c.expr;
    EXPECT_EQ(m->field, c.field) << c.expr;
  }
  Result<MetricSpec> m = ParseMetric("t", "top(path,3)");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->k, 3);
  m = ParseMetric("p", "p99.9(rt)");
  ASSERT_TRUE(m.ok());
  EXPECT_DOUBLE_EQ(m->percentile, 99.9);
  m = ParseMetric("p", "p100(rt)");
  ASSERT_TRUE(m.ok());
  EXPECT_DOUBLE_EQ(m->percentile, 100);
  m = ParseMetric("p", "p99.9_approx(rt)");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->kind, MetricSpec::Kind::kPercentileApprox);
  EXPECT_DOUBLE_EQ(m->percentile, 99.9);
}

TEST(Metric, ApproxTyposGetADidYouMeanAndTopApproxSaysWhyNot) {
  auto message = [](const char* expr) { return ParseMetric("x", expr).status().message(); };
  EXPECT_EQ(message("distinct_aprox(ip)"),
            "metric 'x': expected count, sum(f), min(f), max(f), avg(f), distinct(f), "
            "distinct_approx(f), top(f, k), pNN(f) or pNN_approx(f), got 'distinct_aprox(ip)' "
            "(did you mean 'distinct_approx'?)");
  EXPECT_NE(message("p95_aprox(rt)").find("(did you mean 'p95_approx'?)"), std::string::npos)
      << message("p95_aprox(rt)");
  EXPECT_NE(message("p95approx(rt)").find("(did you mean 'p95_approx'?)"), std::string::npos)
      << message("p95approx(rt)");
  EXPECT_NE(message("distnct(ip)").find("(did you mean 'distinct'?)"), std::string::npos);
  EXPECT_EQ(message("frobnicate(ip)").find("did you mean"), std::string::npos);
  EXPECT_NE(message("sum_approx(bytes)").find("only distinct and pNN have an _approx variant"),
            std::string::npos);
  EXPECT_NE(message("p0_approx(rt)").find("pNN_approx(f) needs 0 < NN <= 100"), std::string::npos)
      << message("p0_approx(rt)");
  EXPECT_NE(message("top_approx(path, 10)").find("top_approx is not available"), std::string::npos);
  EXPECT_NE(message("top_approx(path, 10)").find("use top(f, k)"), std::string::npos);
}

TEST(Metric, RejectsMalformedExpressionsSayingWhatWasExpected) {
  Result<MetricSpec> m = ParseMetric("x", "summ(bytes)");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kConfig);
  EXPECT_EQ(m.status().message(),
            "metric 'x': expected count, sum(f), min(f), max(f), avg(f), distinct(f), "
            "distinct_approx(f), top(f, k), pNN(f) or pNN_approx(f), got 'summ(bytes)' (did you "
            "mean 'sum'?)");
  for (const char* bad :
       {"", "count()", "sum()", "sum(bytes", "sum(a, b)", "top(path)", "countx", "sum(1x)"}) {
    m = ParseMetric("x", bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_NE(m.status().message().find("expected count,"), std::string::npos)
        << m.status().message();
  }
  for (const char* bad : {"top(path, 0)", "top(path, -1)", "top(path, x)", "top(path, 1.5)"}) {
    m = ParseMetric("x", bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_NE(m.status().message().find("k a whole number >= 1"), std::string::npos) << bad;
  }
  for (const char* bad :
       {"p0(rt)", "p100.5(rt)", "p101(rt)", "p99.1234567(rt)", "p9x(rt)", "p.5(rt)", "p50.(rt)"}) {
    m = ParseMetric("x", bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_NE(m.status().message().find("0 < NN <= 100"), std::string::npos)
        << bad << ": " << m.status().message();
  }
  m = ParseMetric("", "count");
  EXPECT_FALSE(m.ok());
}

TEST(AggregateApprox, ExplainNoteStatesTheSketchAndItsMemory) {
  EXPECT_EQ(MetricSketchNote("distinct(ip)"), "");
  EXPECT_EQ(MetricSketchNote("p99(rt)"), "");
  EXPECT_EQ(MetricSketchNote("nonsense"), "");
  EXPECT_EQ(MetricSketchNote("distinct_approx(ip)"),
            "HyperLogLog, fixed 64-bit hash, 2^14 registers: exact up to 1024 values (8 bytes "
            "each), then 16 KiB per group, 0.81% relative standard error");
  EXPECT_EQ(MetricSketchNote("p99_approx(rt)"),
            "log-bucket histogram: within 1% of the exact nearest-rank percentile, 12 bytes per "
            "non-empty bucket, at most 2048 buckets = 24 KiB per group");
}

}  // namespace
}  // namespace logpipe
