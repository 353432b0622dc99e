#pragma once
// LogHistogram is a mergeable quantile sketch with a guaranteed relative error (DDSketch-style
// logarithmic buckets), for the aggregate metric pNN_approx(f).
//
// Buckets: a value x > 0 falls in bucket k = ceil(log_gamma(x)), gamma = (1 + a) / (1 - a),
//   a = kRelativeAccuracy = 1%, i.e. the range (gamma^(k-1), gamma^k]; negative values use
//   the bucket of |x| on a mirrored side; 0 (and -0) has its own bucket; +-inf have one
//   bucket each. NaN must not be added (callers skip it). A bucket is reported as its
//   representative 2 * gamma^k / (gamma + 1), within a of every value in the bucket.
// Percentiles: nearest rank like the exact pNN: the bucket holding the value of rank
//   ceil(NN/100 * n) is found exactly (counts are exact), so the reported value is within 1%
//   of the exact pNN (relative error <= a), whatever the data.
// Bound: at most kMaxBuckets non-empty buckets (a 10^17 ratio between the smallest and largest
//   |value| of one sign). Beyond, the lowest buckets are folded into the lowest kept one; that
//   is a pure function of the multiset of buckets, so it does not depend on the order of Add and
//   Merge either, but percentiles whose rank falls in the folded mass are then overestimated.
// State: a pure function of the multiset of values added: Add and Merge in any order or split
//   give identical bytes (counts per bucket are summed exactly).
// Thread-safety: none; one sketch per partial. Cost: Add is one log() and a binary search over
//   the non-empty buckets. Memory: 12 bytes per non-empty bucket, at most 24 KiB.
// Errors: Decode returns false on corrupt bytes and leaves the sketch unchanged.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace logpipe {

class LogHistogram {
 public:
  static constexpr double kRelativeAccuracy = 0.01;
  static constexpr size_t kMaxBuckets = 2048;

  // REQUIRES: !isnan(x).
  void Add(double x) { AddCount(BucketOf(x), 1); }
  void Merge(const LogHistogram& o);
  uint64_t count() const { return total_; }
  size_t buckets() const { return ords_.size(); }

  // The representative value of the bucket holding the nearest-rank percentile `pct_micro`
  // (in 1e-6 percent, 1 .. 100'000'000); nullopt when empty.
  std::optional<double> Percentile(uint64_t pct_micro) const;

  // Appends a self-delimiting canonical byte form; Decode reads one from `*bytes` (advancing it).
  void Encode(std::string* out) const;
  bool Decode(std::string_view* bytes);

  bool operator==(const LogHistogram& o) const { return ords_ == o.ords_ && counts_ == o.counts_; }

  // Bucket ordinals, increasing with the value (exposed for tests).
  static uint32_t BucketOf(double x);
  static double BucketValue(uint32_t ord);

 private:
  void AddCount(uint32_t ord, uint64_t n);
  void Collapse();

  std::vector<uint32_t> ords_;    // ascending
  std::vector<uint64_t> counts_;  // > 0, parallel to ords_
  uint64_t total_ = 0;
};

}  // namespace logpipe
