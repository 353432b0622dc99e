#include "stages/log_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "stages/varint.h"

namespace logpipe {

namespace {

constexpr double kGamma =
    (1 + LogHistogram::kRelativeAccuracy) / (1 - LogHistogram::kRelativeAccuracy);
// Keys k = ceil(log_gamma(|x|)) of finite nonzero doubles lie in about [-37230, 35490].
constexpr int32_t kMinKey = -38000;
constexpr int32_t kInfKey = 36000;  // +-infinity; finite keys are clamped below it
constexpr uint32_t kSpan = static_cast<uint32_t>(kInfKey - kMinKey + 1);
// Ordinals: negative values [0, kSpan), zero kSpan, positive (kSpan, 2 * kSpan].
constexpr uint32_t kZeroOrd = kSpan;
constexpr uint32_t kMaxOrd = 2 * kSpan;

const double kLogGamma = std::log(kGamma);

}  // namespace

uint32_t LogHistogram::BucketOf(double x) {
  if (x == 0) return kZeroOrd;
  const double a = std::fabs(x);
  int32_t k;
  if (std::isinf(a)) {
    k = kInfKey;
  } else {
    const double l = std::ceil(std::log(a) / kLogGamma);
    k = static_cast<int32_t>(std::clamp(l, static_cast<double>(kMinKey), kInfKey - 1.0));
  }
  const uint32_t offset = static_cast<uint32_t>(k - kMinKey);
  return x > 0 ? kZeroOrd + 1 + offset : kZeroOrd - 1 - offset;
}

double LogHistogram::BucketValue(uint32_t ord) {
  if (ord == kZeroOrd) return 0;
  const bool positive = ord > kZeroOrd;
  const int32_t k =
      static_cast<int32_t>(positive ? ord - kZeroOrd - 1 : kZeroOrd - 1 - ord) + kMinKey;
  double v;
  if (k == kInfKey) {
    v = std::numeric_limits<double>::infinity();
  } else {
    // 2 * gamma^k / (gamma + 1), computed in logs so that it neither overflows nor underflows
    // before the end; the largest finite bucket is capped at the largest double.
    v = std::exp(k * kLogGamma + std::log(2 / (kGamma + 1)));
    if (std::isinf(v)) v = std::numeric_limits<double>::max();
  }
  return positive ? v : -v;
}

void LogHistogram::AddCount(uint32_t ord, uint64_t n) {
  total_ += n;
  const auto it = std::lower_bound(ords_.begin(), ords_.end(), ord);
  const size_t i = static_cast<size_t>(it - ords_.begin());
  if (it != ords_.end() && *it == ord) {
    counts_[i] += n;
    return;
  }
  ords_.insert(it, ord);
  counts_.insert(counts_.begin() + static_cast<std::ptrdiff_t>(i), n);
  if (ords_.size() > kMaxBuckets) Collapse();
}

// Folds the lowest buckets into the lowest of the kMaxBuckets highest. For any two sketches,
// the kMaxBuckets highest buckets of their union are among the kept buckets of each, so
// collapsing before or after a merge gives the same result.
void LogHistogram::Collapse() {
  const size_t extra = ords_.size() - kMaxBuckets;
  uint64_t folded = 0;
  for (size_t i = 0; i < extra; ++i) folded += counts_[i];
  counts_[extra] += folded;
  ords_.erase(ords_.begin(), ords_.begin() + static_cast<std::ptrdiff_t>(extra));
  counts_.erase(counts_.begin(), counts_.begin() + static_cast<std::ptrdiff_t>(extra));
}

void LogHistogram::Merge(const LogHistogram& o) {
  if (o.ords_.empty()) return;
  if (ords_.empty()) {
    ords_ = o.ords_;
    counts_ = o.counts_;
    total_ = o.total_;
    return;
  }
  std::vector<uint32_t> ords;
  std::vector<uint64_t> counts;
  ords.reserve(ords_.size() + o.ords_.size());
  counts.reserve(ords_.size() + o.ords_.size());
  size_t i = 0, j = 0;
  while (i < ords_.size() || j < o.ords_.size()) {
    if (j == o.ords_.size() || (i < ords_.size() && ords_[i] < o.ords_[j])) {
      ords.push_back(ords_[i]);
      counts.push_back(counts_[i++]);
    } else if (i == ords_.size() || o.ords_[j] < ords_[i]) {
      ords.push_back(o.ords_[j]);
      counts.push_back(o.counts_[j++]);
    } else {
      ords.push_back(ords_[i]);
      counts.push_back(counts_[i++] + o.counts_[j++]);
    }
  }
  ords_.swap(ords);
  counts_.swap(counts);
  total_ += o.total_;
  if (ords_.size() > kMaxBuckets) Collapse();
}

std::optional<double> LogHistogram::Percentile(uint64_t pct_micro) const {
  if (total_ == 0) return std::nullopt;
  constexpr uint64_t kHundredPercent = 100'000'000;
  const unsigned __int128 scaled = static_cast<unsigned __int128>(pct_micro) * total_;
  uint64_t rank = static_cast<uint64_t>((scaled + kHundredPercent - 1) / kHundredPercent);
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < ords_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return BucketValue(ords_[i]);
  }
  return BucketValue(ords_.back());
}

void LogHistogram::Encode(std::string* out) const {
  PutVarint(ords_.size(), out);
  uint32_t prev = 0;
  for (size_t i = 0; i < ords_.size(); ++i) {
    PutVarint(ords_[i] - prev, out);
    prev = ords_[i];
    PutVarint(counts_[i], out);
  }
}

bool LogHistogram::Decode(std::string_view* bytes) {
  std::string_view in = *bytes;
  uint64_t n = 0;
  if (!GetVarint(&in, &n) || n > kMaxBuckets || n > in.size()) return false;
  LogHistogram fresh;
  fresh.ords_.reserve(n);
  fresh.counts_.reserve(n);
  uint64_t prev = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t delta = 0, count = 0;
    if (!GetVarint(&in, &delta) || !GetVarint(&in, &count)) return false;
    if ((i > 0 && delta == 0) || delta > kMaxOrd - prev || count == 0) return false;
    if (count > std::numeric_limits<uint64_t>::max() - fresh.total_) return false;
    prev += delta;
    fresh.ords_.push_back(static_cast<uint32_t>(prev));
    fresh.counts_.push_back(count);
    fresh.total_ += count;
  }
  *this = std::move(fresh);
  *bytes = in;
  return true;
}

}  // namespace logpipe
