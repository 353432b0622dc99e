// Tests of the bounded-memory sketches behind distinct_approx (stages/hyperloglog.h) and
// pNN_approx (stages/log_histogram.h): error bounds against exact answers on random and skewed
// data with fixed seeds, and identical state whatever the order and split of Add and Merge.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "stages/hyperloglog.h"
#include "stages/log_histogram.h"

namespace logpipe {
namespace {

// ---------------------------------------------------------------------------------------------
// SketchHash64

TEST(SketchHash64, IsTheDocumentedFixedFunction) {
  // Computed by an independent Python implementation of the documented algorithm
  // (little-endian 8-byte words, fmix64, multiplier 0x87c37b91114253d5).
  EXPECT_EQ(SketchHash64(""), 0x9ca066f1a4ab2eeaULL);
  EXPECT_EQ(SketchHash64("a"), 0x95768d3a4c0e690fULL);
  EXPECT_EQ(SketchHash64("10.0.0.1"), 0x2656928c46468e7fULL);
  EXPECT_EQ(SketchHash64("/index.html?q=12345"), 0x39fd18b36a97acecULL);
  EXPECT_EQ(SketchHash64(std::string("\xc8\0\0\0\0\0\0\0", 8)), 0x217499984ae198d2ULL);
}

// ---------------------------------------------------------------------------------------------
// HyperLogLog

std::string Key(uint64_t i) { return "10." + std::to_string(i) + ".client"; }

TEST(HyperLogLog, IsExactUpToTheExactLimitAndIgnoresRepeats) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{500}, HyperLogLog::kExactMax}) {
    HyperLogLog h;
    for (int rep = 0; rep < 3; ++rep) {
      for (size_t i = 0; i < n; ++i) h.Add(Key(i));
    }
    EXPECT_FALSE(h.dense()) << n;
    EXPECT_EQ(h.Estimate(), n);
  }
  HyperLogLog h;
  for (size_t i = 0; i <= HyperLogLog::kExactMax; ++i) h.Add(Key(i));
  EXPECT_TRUE(h.dense());
  EXPECT_EQ(h.MemoryBytes(), HyperLogLog::kRegisters);
}

// One sketch per cardinality; 3 standard errors (2.4%) is the bound, and the average of the
// absolute errors must be near the documented 0.81% standard error (not far above it).
TEST(HyperLogLog, EstimatesStayWithinThreeStandardErrors) {
  std::vector<uint64_t> sizes = {1025, 2000, 5000, 12000, 30000, 80000, 200000, 1000000};
  double sum_abs = 0;
  for (size_t t = 0; t < sizes.size(); ++t) {
    HyperLogLog h;
    const uint64_t n = sizes[t];
    for (uint64_t i = 0; i < n; ++i) h.Add(std::to_string(i * 7919 + t) + "/x");
    const double err = (static_cast<double>(h.Estimate()) - n) / n;
    EXPECT_LE(std::fabs(err), 0.024) << "n=" << n << " estimate " << h.Estimate();
    sum_abs += std::fabs(err);
  }
  EXPECT_LE(sum_abs / sizes.size(), 0.012);
}

TEST(HyperLogLog, SkewedRepeatsDoNotMoveTheEstimate) {
  // 20000 distinct values; value i repeated about 20000 / (i + 1) times (Zipf-like).
  std::mt19937_64 rng(7);
  HyperLogLog skewed, once;
  std::set<uint64_t> seen;
  for (int i = 0; i < 400000; ++i) {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const uint64_t v = static_cast<uint64_t>(std::pow(20000.0, u)) - 1;  // log-uniform
    skewed.Add("v" + std::to_string(v));
    seen.insert(v);
  }
  for (uint64_t v : seen) once.Add("v" + std::to_string(v));
  EXPECT_TRUE(skewed == once);
  const double err = (static_cast<double>(skewed.Estimate()) - seen.size()) / seen.size();
  EXPECT_LE(std::fabs(err), 0.024) << seen.size() << " vs " << skewed.Estimate();
}

// Adds values[i] to sketch i % parts after shuffling, then merges the sketches in a random
// order, half the time through Encode/Decode.
template <typename Sketch, typename T, typename AddFn>
Sketch SplitAndMerge(const std::vector<T>& values, uint32_t seed, AddFn add) {
  std::mt19937 rng(seed);
  std::vector<T> shuffled = values;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  const size_t parts = 1 + rng() % 7;
  std::vector<Sketch> sketches(parts);
  for (size_t i = 0; i < shuffled.size(); ++i) add(sketches[rng() % parts], shuffled[i]);
  while (sketches.size() > 1) {
    const size_t from = rng() % sketches.size();
    size_t into = rng() % (sketches.size() - 1);
    if (into >= from) ++into;
    if (rng() % 2) {
      std::string bytes;
      sketches[from].Encode(&bytes);
      Sketch decoded;
      std::string_view view(bytes);
      EXPECT_TRUE(decoded.Decode(&view));
      EXPECT_TRUE(view.empty());
      sketches[into].Merge(decoded);
    } else {
      sketches[into].Merge(sketches[from]);
    }
    sketches.erase(sketches.begin() + static_cast<std::ptrdiff_t>(from));
  }
  return std::move(sketches[0]);
}

TEST(HyperLogLog, MergeInAnyOrderAndSplitGivesIdenticalBytes) {
  for (size_t n : {size_t{300}, size_t{1024}, size_t{1100}, size_t{50000}}) {
    std::vector<std::string> values;
    for (size_t i = 0; i < n; ++i) values.push_back(Key(i % (n - n / 5)));  // some repeats
    HyperLogLog reference;
    for (const auto& v : values) reference.Add(v);
    std::string reference_bytes;
    reference.Encode(&reference_bytes);
    for (uint32_t seed = 1; seed <= 8; ++seed) {
      HyperLogLog merged =
          SplitAndMerge<HyperLogLog>(values, seed * 31 + static_cast<uint32_t>(n),
                                     [](HyperLogLog& h, const std::string& v) { h.Add(v); });
      std::string bytes;
      merged.Encode(&bytes);
      EXPECT_TRUE(bytes == reference_bytes) << "n=" << n << " seed " << seed;
      EXPECT_EQ(merged.Estimate(), reference.Estimate());
    }
  }
}

TEST(HyperLogLog, DecodeRejectsCorruptBytesAndLeavesTheSketchUnchanged) {
  HyperLogLog exact, dense;
  for (int i = 0; i < 100; ++i) exact.Add(Key(i));
  for (int i = 0; i < 5000; ++i) dense.Add(Key(i));
  for (const HyperLogLog* h : {&exact, &dense}) {
    std::string bytes;
    h->Encode(&bytes);
    for (size_t n = 0; n < bytes.size(); ++n) {
      HyperLogLog target;
      target.Add("keep");
      std::string_view view(bytes.data(), n);
      EXPECT_FALSE(target.Decode(&view)) << n;
      EXPECT_EQ(target.Estimate(), 1u);
    }
  }
  std::string bytes;
  dense.Encode(&bytes);
  bytes[100] = 52;  // a rank above 51 cannot happen
  std::string_view view(bytes);
  HyperLogLog target;
  EXPECT_FALSE(target.Decode(&view));
  // Exact mode: too many hashes, a repeated hash (delta 0), an unknown mode.
  for (const std::string& bad :
       {std::string("\x00\x81\x08", 3), std::string("\x00\x02\x05\x00", 4), std::string("\x07")}) {
    std::string_view v(bad);
    EXPECT_FALSE(target.Decode(&v));
  }
  // Random corruption: an error or a valid sketch, never a crash.
  std::mt19937 rng(3);
  exact.Encode(&bytes);
  for (int i = 0; i < 2000; ++i) {
    std::string bad = bytes;
    bad[rng() % bad.size()] = static_cast<char>(rng());
    std::string_view v(bad);
    HyperLogLog h;
    if (h.Decode(&v)) (void)h.Estimate();
  }
}

// ---------------------------------------------------------------------------------------------
// LogHistogram

// Nearest rank over a sorted vector: the smallest value with at least pct% of values <= it.
uint64_t PctMicro(double pct) { return static_cast<uint64_t>(std::llround(pct * 1e6)); }

double ExactPercentile(const std::vector<double>& sorted, double pct) {
  const uint64_t n = sorted.size();
  uint64_t rank = (PctMicro(pct) * n + 99'999'999) / 100'000'000;  // ceil(pct / 100 * n)
  rank = std::max<uint64_t>(rank, 1);
  return sorted[rank - 1];
}

void ExpectWithinRelativeError(const std::vector<double>& values, const std::string& what) {
  LogHistogram h;
  for (double v : values) h.Add(v);
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  for (double pct : {0.1, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 100.0}) {
    const double exact = ExactPercentile(sorted, pct);
    const double approx = *h.Percentile(PctMicro(pct));
    EXPECT_LE(std::fabs(approx - exact),
              LogHistogram::kRelativeAccuracy * std::fabs(exact) * (1 + 1e-9))
        << what << " p" << pct << ": exact " << exact << " approx " << approx;
  }
  EXPECT_EQ(h.count(), values.size());
}

TEST(LogHistogram, PercentilesAreWithinOnePercentOnRandomData) {
  std::mt19937_64 rng(42);
  std::vector<double> uniform, log_uniform, lognormal, pareto, mixed_sign, ints;
  std::uniform_real_distribution<double> u01(0, 1);
  std::lognormal_distribution<double> ln(3, 1.5);
  for (int i = 0; i < 100000; ++i) {
    uniform.push_back(u01(rng) * 1000);
    log_uniform.push_back(std::pow(10, -6 + 12 * u01(rng)));
    lognormal.push_back(ln(rng));
    pareto.push_back(1 / std::pow(1 - u01(rng), 1 / 1.2));  // heavy tail
    const double x = ln(rng);
    mixed_sign.push_back(i % 10 == 0 ? 0.0 : (i % 3 == 0 ? -x : x));
    ints.push_back(static_cast<double>(static_cast<int64_t>(ln(rng) * 10)));
  }
  ExpectWithinRelativeError(uniform, "uniform");
  ExpectWithinRelativeError(log_uniform, "log-uniform");
  ExpectWithinRelativeError(lognormal, "lognormal");
  ExpectWithinRelativeError(pareto, "pareto");
  ExpectWithinRelativeError(mixed_sign, "mixed sign with zeros");
  ExpectWithinRelativeError(ints, "whole numbers");
}

TEST(LogHistogram, HandlesZeroInfinitiesExtremesAndEmpty) {
  LogHistogram empty;
  EXPECT_FALSE(empty.Percentile(PctMicro(50)).has_value());
  LogHistogram h;
  for (double v : {-0.0, 0.0, 0.0}) h.Add(v);
  EXPECT_EQ(*h.Percentile(PctMicro(100)), 0.0);
  const double inf = std::numeric_limits<double>::infinity();
  LogHistogram e;
  for (double v : {-inf, -1e308, -5e-324, 5e-324, 1e-300, 1.0, 1e308, inf}) e.Add(v);
  EXPECT_EQ(*e.Percentile(PctMicro(1)), -inf);
  EXPECT_EQ(*e.Percentile(PctMicro(100)), inf);
  EXPECT_NEAR(*e.Percentile(PctMicro(75)), 1.0, 0.0101);     // rank 6 of 8
  EXPECT_NEAR(*e.Percentile(PctMicro(87.5)), 1e308, 2e306);  // rank 7
  EXPECT_NEAR(*e.Percentile(PctMicro(25)), -1e308, 2e306);   // rank 2
  EXPECT_LT(*e.Percentile(PctMicro(37.5)), 0);               // rank 3: -5e-324
  EXPECT_GT(*e.Percentile(PctMicro(50)), 0);                 // rank 4: 5e-324
  // Ordinals increase with the value across signs.
  EXPECT_LT(LogHistogram::BucketOf(-2), LogHistogram::BucketOf(-1));
  EXPECT_LT(LogHistogram::BucketOf(-1e-300), LogHistogram::BucketOf(0));
  EXPECT_LT(LogHistogram::BucketOf(0), LogHistogram::BucketOf(1e-300));
  EXPECT_LT(LogHistogram::BucketOf(1e300), LogHistogram::BucketOf(inf));
}

TEST(LogHistogram, MergeInAnyOrderAndSplitGivesIdenticalState) {
  std::mt19937_64 rng(9);
  std::lognormal_distribution<double> ln(2, 2);
  std::vector<double> values;
  for (int i = 0; i < 20000; ++i) values.push_back(i % 5 == 0 ? -ln(rng) : ln(rng));
  LogHistogram reference;
  for (double v : values) reference.Add(v);
  std::string reference_bytes;
  reference.Encode(&reference_bytes);
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    LogHistogram merged =
        SplitAndMerge<LogHistogram>(values, seed, [](LogHistogram& h, double v) { h.Add(v); });
    std::string bytes;
    merged.Encode(&bytes);
    EXPECT_TRUE(bytes == reference_bytes) << "seed " << seed;
  }
}

// Values spanning more buckets than kept: the lowest are folded, identically in every order,
// and the upper percentiles keep their guarantee.
TEST(LogHistogram, CollapseIsBoundedAndOrderIndependent) {
  std::vector<double> values;
  for (int i = 0; i < 3000; ++i) values.push_back(std::pow(1.03, i) * 1e-20);  // 3000 buckets
  LogHistogram reference;
  for (double v : values) reference.Add(v);
  EXPECT_EQ(reference.buckets(), LogHistogram::kMaxBuckets);
  EXPECT_EQ(reference.count(), values.size());
  std::string reference_bytes;
  reference.Encode(&reference_bytes);
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    LogHistogram merged =
        SplitAndMerge<LogHistogram>(values, seed, [](LogHistogram& h, double v) { h.Add(v); });
    std::string bytes;
    merged.Encode(&bytes);
    EXPECT_TRUE(bytes == reference_bytes) << "seed " << seed;
  }
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  for (double pct : {50.0, 90.0, 99.0, 100.0}) {
    const double exact = ExactPercentile(sorted, pct);
    EXPECT_LE(std::fabs(*reference.Percentile(PctMicro(pct)) - exact),
              LogHistogram::kRelativeAccuracy * exact * (1 + 1e-9))
        << pct;
  }
}

TEST(LogHistogram, DecodeRejectsCorruptBytesAndLeavesTheSketchUnchanged) {
  LogHistogram h;
  for (int i = 1; i < 300; ++i) h.Add(i * 1.5);
  std::string bytes;
  h.Encode(&bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    LogHistogram target;
    target.Add(7);
    std::string_view view(bytes.data(), n);
    EXPECT_FALSE(target.Decode(&view)) << n;
    EXPECT_EQ(target.count(), 1u);
  }
  // Repeated bucket (delta 0), zero count, an ordinal past the last, too many buckets.
  for (const std::string& bad :
       {std::string("\x02\x05\x01\x00\x01", 5), std::string("\x01\x05\x00", 3),
        std::string("\x01\xff\xff\xff\x0f\x01", 6), std::string("\x81\x10", 2)}) {
    LogHistogram target;
    std::string_view v(bad);
    EXPECT_FALSE(target.Decode(&v)) << bad.size();
  }
  std::mt19937 rng(4);
  for (int i = 0; i < 2000; ++i) {
    std::string bad = bytes;
    bad[rng() % bad.size()] = static_cast<char>(rng());
    std::string_view v(bad);
    LogHistogram d;
    if (d.Decode(&v)) (void)d.Percentile(PctMicro(99));
  }
}

}  // namespace
}  // namespace logpipe
