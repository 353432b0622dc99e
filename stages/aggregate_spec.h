#pragma once
// The config syntax of an aggregate: a `group_by` entry (a field, or a time bucket of one) and
// a metric expression (`count`, `sum(bytes)`, `top(path, 10)`, `p99.9(rt)`, ...), parsed into
// specs that AggregateStage::Create checks against the schema. What each one computes is
// documented in stages/aggregate_stage.h.
// Errors: kConfig saying what was expected, with a "did you mean" for near-miss metric names.

#include <cstdint>
#include <string>

#include "io/status.h"

namespace logpipe {

struct GroupKeySpec {
  std::string label;      // the column name: "status", "bucket(ts, 5m)"
  std::string field;      // the field it reads
  int64_t bucket_ms = 0;  // 0: the field's value; otherwise floor(time / bucket_ms) * bucket_ms
};

struct MetricSpec {
  enum class Kind {
    kCount,
    kSum,
    kMin,
    kMax,
    kAvg,
    kDistinct,
    kTop,
    kPercentile,
    kDistinctApprox,
    kPercentileApprox
  };
  std::string name;  // the column name (config key)
  Kind kind = Kind::kCount;
  std::string field;      // empty for count
  int64_t k = 0;          // top(f, k)
  double percentile = 0;  // pNN: 0 < NN <= 100
};

// Parse one `group_by` entry / one `metrics` value. Errors: kConfig saying what was expected.
Result<GroupKeySpec> ParseGroupKey(const std::string& text);
Result<MetricSpec> ParseMetric(const std::string& name, const std::string& expr);

// For --explain: what an approximate metric keeps per group and its error, e.g.
// "HyperLogLog: exact up to 1024 values, then 16 KiB per group, 0.81% standard error"; empty
// for exact metrics (and for expressions that do not parse).
std::string MetricSketchNote(const std::string& expr);

}  // namespace logpipe
