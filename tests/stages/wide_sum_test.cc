#include "stages/wide_sum.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace logpipe {
namespace {

constexpr __int128 kInt128Max = static_cast<__int128>(~static_cast<unsigned __int128>(0) >> 1);
constexpr double kTwoTo128 = 0x1p128;

TEST(WideSum, SmallIntegersFitInt64) {
  WideSum s;
  s.Add(5);
  s.Add(-7);
  int64_t v = 0;
  ASSERT_TRUE(s.FitsInt64(&v));
  EXPECT_EQ(v, -2);
  EXPECT_EQ(s.ToDouble(), -2.0);
  EXPECT_EQ(s.flags, 0);
}

TEST(WideSum, FitsInt64ToBothEndsOfItsRange) {
  WideSum s;
  s.Add(std::numeric_limits<int64_t>::min());
  int64_t v = 0;
  ASSERT_TRUE(s.FitsInt64(&v));
  EXPECT_EQ(v, std::numeric_limits<int64_t>::min());
  s.Add(-1);  // -2^63 - 1
  EXPECT_FALSE(s.FitsInt64(&v));
  EXPECT_EQ(s.ToDouble(), -9223372036854775808.0);  // rounds to -2^63
}

TEST(WideSum, SumsPastInt64AreExactAndReportedAsNotFitting) {
  WideSum s;
  s.Add(std::numeric_limits<int64_t>::max());
  s.Add(std::numeric_limits<int64_t>::max());
  int64_t v = 0;
  EXPECT_FALSE(s.FitsInt64(&v));
  EXPECT_EQ(s.ToDouble(), 2.0 * 9223372036854775807.0);  // 2^64 - 2, rounded once
  s.Add(-std::numeric_limits<int64_t>::max());
  ASSERT_TRUE(s.FitsInt64(&v));
  EXPECT_EQ(v, std::numeric_limits<int64_t>::max());
}

TEST(WideSum, CarriesIntoTheHighWordBothWays) {
  // (2^127 - 1) * 2 = 2^128 - 2: past 128 bits signed, held by the high word.
  WideSum up;
  up.Add(kInt128Max);
  up.Add(kInt128Max);
  EXPECT_EQ(up.hi, 0u);
  EXPECT_EQ(up.ToDouble(), kTwoTo128);  // 2^128 - 2 rounds to 2^128
  // -2^127 * 2 = -2^128: the low words wrap to 0 and the high word is -1.
  WideSum down;
  down.Add(-kInt128Max - 1);
  down.Add(-kInt128Max - 1);
  EXPECT_EQ(down.lo, 0u);
  EXPECT_EQ(down.hi, ~uint64_t{0});
  EXPECT_EQ(down.ToDouble(), -kTwoTo128);
  // And back to zero.
  down.Add(kInt128Max);
  down.Add(kInt128Max);
  down.Add(2);
  int64_t v = -1;
  ASSERT_TRUE(down.FitsInt64(&v));
  EXPECT_EQ(v, 0);
}

TEST(WideSum, FloatSumsAreExactInNanoUnitsWhateverTheOrder) {
  WideSum s;
  s.AddFloat(0.1);
  s.AddFloat(0.2);
  EXPECT_EQ(s.FloatValue(), 0.3);  // 1e8 + 2e8 units; 0.1 + 0.2 in doubles is 0.30000000000000004
  std::vector<double> values = {1e20, 1.0, -1e20, 0.5, 2.25};
  std::sort(values.begin(), values.end());
  do {
    WideSum t;
    for (double f : values) t.AddFloat(f);
    EXPECT_EQ(t.FloatValue(), 3.75);
  } while (std::next_permutation(values.begin(), values.end()));
}

TEST(WideSum, NonFiniteInputsSetFlagsThatFloatValueApplies) {
  WideSum nan;
  nan.AddFloat(1.0);
  nan.AddFloat(std::nan(""));
  EXPECT_TRUE(std::isnan(nan.FloatValue()));

  WideSum inf;
  inf.AddFloat(std::numeric_limits<double>::infinity());
  inf.AddFloat(-5.0);
  EXPECT_EQ(inf.FloatValue(), std::numeric_limits<double>::infinity());

  WideSum huge;  // 1e30 is 1e39 units, past 2^126: counts as infinite
  huge.AddFloat(-1e30);
  EXPECT_EQ(huge.FloatValue(), -std::numeric_limits<double>::infinity());

  WideSum both = inf;
  both.AddSum(huge);
  EXPECT_TRUE(std::isnan(both.FloatValue()));
  EXPECT_EQ(both.flags, WideSum::kPosInf | WideSum::kNegInf);
}

TEST(WideSum, AddSumEqualsAddingEverythingToOne) {
  const std::vector<__int128> inputs = {kInt128Max, 3, kInt128Max, -kInt128Max - 1, -17, 1};
  WideSum one;
  for (__int128 v : inputs) one.Add(v);
  for (size_t split = 0; split <= inputs.size(); ++split) {
    WideSum a, b;
    for (size_t i = 0; i < inputs.size(); ++i) (i < split ? a : b).Add(inputs[i]);
    a.AddSum(b);
    EXPECT_EQ(a.lo, one.lo) << "split " << split;
    EXPECT_EQ(a.hi, one.hi) << "split " << split;
  }
}

}  // namespace
}  // namespace logpipe
