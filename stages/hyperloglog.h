#pragma once
// HyperLogLog estimates the number of distinct values with bounded memory, for the aggregate
// metric distinct_approx(f).
//
// Hash: every value is hashed with SketchHash64 (below): a fixed 64-bit function of the value
//   bytes (little-endian words, murmur3's fmix64 finaliser), the same in every build, process
//   and machine. It is not std::hash and never changes without a new partial format version.
// State: a pure function of the set of hashes seen, whatever the order of Add and Merge calls:
//   - exact (sparse) while at most kExactMax distinct hashes were seen: the sorted hashes
//     themselves, and Estimate() is their number (exact up to 64-bit hash collisions: with n
//     values the odds of one are about n^2 / 2^65);
//   - dense beyond: kRegisters one-byte registers (precision kPrecision = 14: 16 KiB), register
//     i holding the largest rank (leading zeros + 1 of the 50 low hash bits) of the hashes whose
//     top 14 bits are i. Merge is a register-wise max.
//   So merging in any order or split gives identical bytes and an identical estimate.
// Error (dense): Ertl's improved raw estimator ("New cardinality estimation algorithms for
//   HyperLogLog sketches", 2017), unbiased over the whole range, relative standard error
//   1.04 / sqrt(16384) = 0.81%: about 95% of estimates are within 1.6% and 99.7% within 2.5%.
// Thread-safety: none; one sketch per partial. Cost: Add is a hash and a binary search (exact
//   mode) or a register update (dense). Memory: at most 8 * kExactMax bytes exact, then 16 KiB.
// Errors: Decode returns false on corrupt bytes and leaves the sketch unchanged.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace logpipe {

// The fixed 64-bit hash of `bytes` that sketches use (documented above).
uint64_t SketchHash64(std::string_view bytes);

class HyperLogLog {
 public:
  static constexpr int kPrecision = 14;
  static constexpr size_t kRegisters = size_t{1} << kPrecision;
  static constexpr size_t kExactMax = 1024;  // distinct hashes kept before going dense

  HyperLogLog() = default;
  HyperLogLog(const HyperLogLog& o);
  HyperLogLog& operator=(const HyperLogLog& o);
  HyperLogLog(HyperLogLog&&) noexcept = default;
  HyperLogLog& operator=(HyperLogLog&&) noexcept = default;

  void AddHash(uint64_t hash);
  void Add(std::string_view value) { AddHash(SketchHash64(value)); }
  void Merge(const HyperLogLog& o);
  // Exact count in sparse mode; Ertl's estimate, rounded to the nearest integer, when dense.
  uint64_t Estimate() const;

  bool dense() const { return registers_ != nullptr; }
  size_t MemoryBytes() const;

  // Appends a self-delimiting byte form; Decode reads one from `*bytes` (advancing it) into
  // a fresh sketch. Canonical: equal states encode to equal bytes.
  void Encode(std::string* out) const;
  bool Decode(std::string_view* bytes);

  bool operator==(const HyperLogLog& o) const;

 private:
  void MakeDense();
  void SetRegister(uint64_t hash);

  std::vector<uint64_t> exact_;           // sorted, distinct; empty when dense
  std::unique_ptr<uint8_t[]> registers_;  // kRegisters bytes when dense
};

}  // namespace logpipe
