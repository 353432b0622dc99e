#pragma once
// WideSum: an exact sum of integers and floats whose result does not depend on the order of
// addition, for the sum(f) and avg(f) aggregates (stages/aggregate_stage.h).
//
// The sum is a 192-bit two's complement integer (`hi`:`lo`) held in unsigned arithmetic, so a
// corrupt partial can wrap it but never invokes undefined behaviour. Ints are added as they
// are. A float is added as a whole number of 1e-9 units (rounded once, to nearest), so float
// sums are exact in that fixed point and associative; a float whose units would not fit in
// 126 bits counts as +-infinity. Non-finite inputs set `flags` (kNaN, kPosInf, kNegInf);
// FloatValue applies them: NaN, or both infinities, give NaN; one infinity gives it.
// Merging two sums (AddSum) adds the integers and ORs the flags.
// Thread-safety: a value type; no shared state.
// Cost: a few integer operations per Add; 32 bytes; never allocates.
// Errors: none. Past 2^191 in magnitude the integer wraps (only corrupt or adversarial input
//   gets there: it takes 2^127 int64 values).

#include <cmath>
#include <cstdint>
#include <limits>

namespace logpipe {

struct WideSum {
  static constexpr uint8_t kNaN = 1;
  static constexpr uint8_t kPosInf = 2;
  static constexpr uint8_t kNegInf = 4;
  static constexpr uint8_t kAllFlags = kNaN | kPosInf | kNegInf;
  static constexpr double kUnitsPerOne = 1e9;  // float sums count 1e-9 units
  // Float inputs whose units would not fit in 126 bits count as infinite.
  static constexpr double kMaxUnits = 8.5070591730234616e37;  // 2^126

  unsigned __int128 lo = 0;
  uint64_t hi = 0;  // two's complement high word
  uint8_t flags = 0;

  void Add(__int128 v) {
    const unsigned __int128 old = lo;
    lo += static_cast<unsigned __int128>(v);
    hi += (lo < old ? 1 : 0) + (v < 0 ? ~uint64_t{0} : 0);
  }
  void AddSum(const WideSum& o) {
    const unsigned __int128 old = lo;
    lo += o.lo;
    hi += o.hi + (lo < old ? 1 : 0);
    flags |= o.flags;
  }
  void AddFloat(double f) {
    if (std::isnan(f)) {
      flags |= kNaN;
      return;
    }
    const double units = f * kUnitsPerOne;
    if (!(units < kMaxUnits)) {
      flags |= kPosInf;
    } else if (!(units > -kMaxUnits)) {
      flags |= kNegInf;
    } else {
      Add(static_cast<__int128>(std::nearbyint(units)));
    }
  }
  // The exact integer, rounded once to double.
  double ToDouble() const {
    const __int128 low_signed = static_cast<__int128>(lo);
    const uint64_t sign_ext = low_signed < 0 ? ~uint64_t{0} : 0;
    if (hi == sign_ext) return static_cast<double>(low_signed);
    return static_cast<double>(static_cast<int64_t>(hi)) * 0x1p128 + static_cast<double>(lo);
  }
  // Whether the integer fits in an int64, and then it in *v.
  bool FitsInt64(int64_t* v) const {
    const __int128 low_signed = static_cast<__int128>(lo);
    const uint64_t sign_ext = low_signed < 0 ? ~uint64_t{0} : 0;
    if (hi != sign_ext) return false;
    if (low_signed < std::numeric_limits<int64_t>::min() ||
        low_signed > std::numeric_limits<int64_t>::max()) {
      return false;
    }
    *v = static_cast<int64_t>(low_signed);
    return true;
  }
  // A float sum (or average numerator) with the non-finite inputs applied.
  double FloatValue() const {
    if ((flags & kNaN) || (flags & (kPosInf | kNegInf)) == (kPosInf | kNegInf)) {
      return std::numeric_limits<double>::quiet_NaN();
    }
    if (flags & kPosInf) return std::numeric_limits<double>::infinity();
    if (flags & kNegInf) return -std::numeric_limits<double>::infinity();
    return ToDouble() / kUnitsPerOne;
  }
};

}  // namespace logpipe
