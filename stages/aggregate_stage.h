#pragma once
// AggregateStage groups the selected rows by key fields (and time buckets) and computes
// metrics per group. Every metric is a mergeable partial, so threads, process shards and
// cluster shards can each fold part of the input and merge in any order to the same bytes.
//
// Group keys (config `group_by`): a field name (`status`), or a time bucket of a time field:
//   `bucket(ts, 5m)` (a whole number and one unit: ms s m h d), `minute(ts)`, `hour(ts)`,
//   `day(ts)`. A bucket is floor(time / size) * size, toward -infinity (so times before 1970
//   fall in the bucket that starts at or before them). An absent value is its own group.
// Metrics (config `metrics: {name: expr}`), over the present values of a field:
//   count                 rows in the group
//   sum(f)                int or float field; no values -> 0
//   avg(f)                int or float field: sum / number of values (float); none -> null
//   min(f) max(f)         int, float, time (numerically) or string (bytewise); none -> null
//   distinct(f)           exact number of distinct values
//   top(f, k)             exact k most frequent values: count desc, then value text bytewise asc
//   pNN(f)                int, float or time field: exact nearest-rank percentile, the smallest
//                         value v with at least NN% of the values <= v (rank ceil(NN/100 * n),
//                         at least 1; NN in (0, 100] with up to 6 decimals: p50, p99.9);
//                         none -> null
//   distinct_approx(f)    estimated number of distinct values, bounded memory (HyperLogLog,
//                         stages/hyperloglog.h): exact up to 1024 distinct values per group,
//                         then 16 KiB per group and 0.81% relative standard error
//   pNN_approx(f)         int or float field: the nearest-rank percentile within 1% relative
//                         error, bounded memory (stages/log_histogram.h: at most 2048 buckets,
//                         24 KiB per group); ints are rounded to whole numbers (exact below
//                         50); none -> null
//   Both sketches merge exactly (register max, bucket counts), so an approximate result is
//   still identical whatever the executor, worker count or chunk size.
// Values compare by type: int and time fields by their integer, floats by value (-0 == 0, all
// NaNs one value), strings by bytes. distinct/top/pNN therefore count " 200" and "200" of an
// int field as one value; top shows ints in decimal, times as ISO 8601, floats shortest.
// Exactness: sums are 192-bit integers (stages/wide_sum.h): int sums exact (a sum beyond int64
// is reported as a float); float sums accumulated exactly in fixed point (each value rounded
// once to 1e-9 units), so no result depends on the order of addition. NaN inputs make a float
// sum NaN; +-inf (or values beyond +-8e28) make it +-inf. min/max/pNN skip NaN.
// Finish: one row per group, rows sorted by key (ints/floats numerically with NaN last,
// times by instant, strings bytewise; absent before present); columns are the group_by
// labels then metrics in config order. Without group_by there is exactly one row (possibly
// with count 0).
// Thread-safety: const methods run concurrently with distinct Partials.
// Cost: per batch, each row's composite key is built into a reused buffer and hashed once;
//   lookups in the open-addressing tables (stages/hash_table.h) are pipelined with
//   prefetches. Key bytes are copied only when a group (or a group's value) is first seen;
//   Add allocates nothing for groups and values already seen once a batch of that size has
//   been added. distinct/top/pNN keep every distinct (group, value) pair: memory grows with
//   their number; the _approx metrics keep a bounded sketch per group instead.
//   Merge folds value tables into one, except those of fields that only top(f, k) reads:
//   it keeps up to three apart (moved, not copied), and Finish finds the exact top k across them
//   from each one's top k and a threshold, with a few lookups per candidate, instead of
//   inserting every value of every worker's table into one at the end of a run (Encode
//   folds them first; so does Finish when the counts are too flat for the threshold to cut).
// Errors: Create returns kConfig naming an unknown field, a wrong type (sum of a string),
//   a malformed expression or a column name used twice; Decode returns kDataError for
//   corrupt, truncated or foreign bytes, and then leaves `into` unchanged.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/status.h"
#include "stages/aggregate_spec.h"
#include "stages/schema.h"
#include "stages/stage.h"

namespace logpipe {

namespace aggregate_internal {
struct AggregatePlan;
}  // namespace aggregate_internal

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
  // Appends a compact, versioned byte form of `p` (varints; the stage's shape is included so
  // bytes from another config are refused). Folds the value tables Merge kept apart first.
  void Encode(Partial& p, std::string* out) const override;
  // Folds the partial encoded in `bytes` into `*into` (which may already hold data). Into an
  // empty partial, groups keep the ids they had where they were encoded.
  Status Decode(std::string_view bytes, Partial* into) const override;
  Table Finish(Partial&& all) const override;

  // Heads leave out of every top-only value table (read by top(f, k) only) all but each group's
  // k largest counts; CompleteHeads then asks each holder, in two rounds, for every value that
  // could still reach the k largest totals, and the exact counts of those values:
  //   1. T = the k-th largest of the candidates' known totals (a lower bound of the k-th true
  //      total); each holder sends every value whose count c has c x holders >= T, and the
  //      counts of candidates its head did not show;
  //   2. the counts of values a holder did not show that another one sent in round 1.
  // A value no holder sent has c x holders < T everywhere, so its total is below T: it cannot
  // be among the k (ties included). The heads then hold every candidate's exact counts.
  // Cost: a scan of each holder's table and a few lookups, where whole partials would send
  // every distinct value (tens of MiB for 10^5-10^6 paths). With flat counts (T at most the
  // number of holders) a holder sends its whole group, about what Encode would have.
  bool HeadsNeedQueries() const override;  // true when some field is read by top(f, k) only
  void EncodeHead(Partial& p, std::string* out) const override;
  Status AnswerQuery(const Partial& p, std::string_view query, std::string* answer) const override;
  Status CompleteHeads(const std::vector<Partial*>& heads, const AskHolders& ask) const override;

 private:
  AggregateStage();
  using Impl = aggregate_internal::AggregatePlan;  // stages/aggregate_state.h
  std::unique_ptr<Impl> impl_;
};

}  // namespace logpipe
