#pragma once
// AggregateStage groups the selected rows by key fields (and time buckets) and computes
// metrics per group. Every metric is a mergeable partial, so threads, process shards and
// cluster shards can each fold part of the input and merge in any order to the same bytes.
//
// Group keys (config `group_by`): a field name (`status`), or a time bucket of a time field:
//   `bucket(ts, 5m)` (any duration: ms s m h d), `minute(ts)`, `hour(ts)`, `day(ts)`.
// Metrics (config `metrics: {name: expr}`):
//   count                 rows in the group
//   sum(f) min(f) max(f)  over present values of an int/float/time field (min/max also string)
//   avg(f)                sum / count of present values (float)
//   distinct(f)           exact number of distinct texts
//   top(f, k)             exact k most frequent texts: count desc, then text bytewise asc
//   pNN(f)                exact nearest-rank percentile (p50, p95, p99.9) of an int/float field
// Exactness: int sums are int64; float sums are accumulated exactly in fixed point (1e-9
// units, 128-bit), so no result depends on the order of addition.
// Finish: one row per group, rows sorted by key (ints/floats numerically, times by instant,
// strings bytewise; absent before present); columns are the group_by labels then metrics in
// config order. Without group_by there is exactly one row (possibly with count 0).
// Thread-safety: const methods run concurrently with distinct Partials.
// Cost: key hashed once per row into an open-addressing table; key bytes copied only when a
//   group is first seen; no allocation for rows of groups (and values) already seen.
// Errors: Create returns kConfig naming an unknown field, a wrong type (sum of a string), or
//   a malformed expression; Decode returns kDataError for corrupt bytes.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/status.h"
#include "stages/schema.h"
#include "stages/stage.h"

namespace logpipe {

struct GroupKeySpec {
  std::string label;       // the column name: "status", "bucket(ts, 5m)"
  std::string field;       // the field it reads
  int64_t bucket_ms = 0;   // 0: the field's value; otherwise floor(time / bucket_ms) * bucket_ms
};

struct MetricSpec {
  enum class Kind { kCount, kSum, kMin, kMax, kAvg, kDistinct, kTop, kPercentile };
  std::string name;        // the column name (config key)
  Kind kind = Kind::kCount;
  std::string field;       // empty for count
  int64_t k = 0;           // top(f, k)
  double percentile = 0;   // pNN: 0 < NN <= 100
};

// Parse one `group_by` entry / one `metrics` value. Errors: kConfig saying what was expected.
Result<GroupKeySpec> ParseGroupKey(const std::string& text);
Result<MetricSpec> ParseMetric(const std::string& name, const std::string& expr);

class AggregateStage : public Aggregate {
 public:
  static Result<std::unique_ptr<AggregateStage>> Create(std::vector<GroupKeySpec> keys,
                                                        std::vector<MetricSpec> metrics,
                                                        const Schema& schema);
  ~AggregateStage() override;

  std::string_view name() const override { return "aggregate"; }
  std::unique_ptr<Partial> NewPartial() const override;
  void Add(const RecordBatch& batch, Partial& into) const override;
  void Merge(Partial&& from, Partial& into) const override;
  void Encode(const Partial& p, std::string* out) const override;
  Status Decode(std::string_view bytes, Partial* into) const override;
  Table Finish(Partial&& all) const override;

 private:
  AggregateStage();
  struct Impl;  // defined in aggregate_stage.cc
  std::unique_ptr<Impl> impl_;
};

}  // namespace logpipe
