#include "stages/hyperloglog.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "stages/varint.h"

namespace logpipe {

namespace {

constexpr int kRankBits = 64 - HyperLogLog::kPrecision;  // q = 50
constexpr uint8_t kMaxRank = kRankBits + 1;              // 51

inline uint64_t Fmix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

inline uint64_t LoadLE(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

// Ertl's sigma and tau functions (improved raw estimator).
double Sigma(double x) {
  if (x == 1) return std::numeric_limits<double>::infinity();
  double y = 1, z = x;
  for (;;) {
    x *= x;
    const double z_old = z;
    z += x * y;
    y += y;
    if (z == z_old) return z;
  }
}

double Tau(double x) {
  if (x == 0 || x == 1) return 0;
  double y = 1, z = 1 - x;
  for (;;) {
    x = std::sqrt(x);
    const double z_old = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
    if (z == z_old) return z / 3;
  }
}

constexpr uint8_t kModeExact = 0;
constexpr uint8_t kModeDense = 1;

}  // namespace

uint64_t SketchHash64(std::string_view bytes) {
  constexpr uint64_t kSeed = 0x9e3779b97f4a7c15ULL;
  constexpr uint64_t kMul = 0x87c37b91114253d5ULL;
  uint64_t h = kSeed ^ (static_cast<uint64_t>(bytes.size()) * kMul);
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) h = Fmix64(h ^ LoadLE(bytes.data() + i, 8)) * kMul + 1;
  if (i < bytes.size()) h = Fmix64(h ^ LoadLE(bytes.data() + i, bytes.size() - i)) * kMul + 2;
  return Fmix64(h);
}

HyperLogLog::HyperLogLog(const HyperLogLog& o) : exact_(o.exact_) {
  if (o.registers_) {
    registers_.reset(new uint8_t[kRegisters]);
    std::memcpy(registers_.get(), o.registers_.get(), kRegisters);
  }
}

HyperLogLog& HyperLogLog::operator=(const HyperLogLog& o) {
  if (this != &o) *this = HyperLogLog(o);
  return *this;
}

void HyperLogLog::SetRegister(uint64_t hash) {
  const size_t index = static_cast<size_t>(hash >> kRankBits);
  const uint64_t rest = hash << kPrecision;  // the 50 low bits, at the top
  const uint8_t rank =
      rest == 0 ? kMaxRank
                : static_cast<uint8_t>(std::min<int>(__builtin_clzll(rest) + 1, kMaxRank));
  if (rank > registers_[index]) registers_[index] = rank;
}

void HyperLogLog::MakeDense() {
  registers_.reset(new uint8_t[kRegisters]);
  std::memset(registers_.get(), 0, kRegisters);
  for (uint64_t h : exact_) SetRegister(h);
  std::vector<uint64_t>().swap(exact_);
}

void HyperLogLog::AddHash(uint64_t hash) {
  if (registers_) {
    SetRegister(hash);
    return;
  }
  const auto it = std::lower_bound(exact_.begin(), exact_.end(), hash);
  if (it != exact_.end() && *it == hash) return;
  if (exact_.size() < kExactMax) {
    exact_.insert(it, hash);
    return;
  }
  MakeDense();
  SetRegister(hash);
}

void HyperLogLog::Merge(const HyperLogLog& o) {
  if (o.registers_) {
    if (!registers_) MakeDense();
    for (size_t i = 0; i < kRegisters; ++i) {
      registers_[i] = std::max(registers_[i], o.registers_[i]);
    }
    return;
  }
  if (registers_) {
    for (uint64_t h : o.exact_) SetRegister(h);
    return;
  }
  std::vector<uint64_t> merged;
  merged.reserve(exact_.size() + o.exact_.size());
  std::set_union(exact_.begin(), exact_.end(), o.exact_.begin(), o.exact_.end(),
                 std::back_inserter(merged));
  exact_.swap(merged);
  if (exact_.size() > kExactMax) MakeDense();
}

uint64_t HyperLogLog::Estimate() const {
  if (!registers_) return exact_.size();
  // Ertl, algorithm 6: histogram of register values, then the improved raw estimate.
  uint32_t c[kMaxRank + 1] = {};
  for (size_t i = 0; i < kRegisters; ++i) ++c[registers_[i]];
  const double m = static_cast<double>(kRegisters);
  double z = m * Tau(1 - c[kMaxRank] / m);
  for (int k = kRankBits; k >= 1; --k) z = 0.5 * (z + c[k]);
  z += m * Sigma(c[0] / m);
  const double alpha_inf = 1 / (2 * std::log(2.0));
  return static_cast<uint64_t>(std::llround(alpha_inf * m * m / z));
}

size_t HyperLogLog::MemoryBytes() const {
  return registers_ ? kRegisters : exact_.capacity() * sizeof(uint64_t);
}

void HyperLogLog::Encode(std::string* out) const {
  if (registers_) {
    out->push_back(static_cast<char>(kModeDense));
    out->append(reinterpret_cast<const char*>(registers_.get()), kRegisters);
    return;
  }
  out->push_back(static_cast<char>(kModeExact));
  PutVarint(exact_.size(), out);
  uint64_t prev = 0;
  for (size_t i = 0; i < exact_.size(); ++i) {
    PutVarint(i == 0 ? exact_[i] : exact_[i] - prev, out);  // ascending: deltas are > 0
    prev = exact_[i];
  }
}

bool HyperLogLog::Decode(std::string_view* bytes) {
  std::string_view in = *bytes;
  if (in.empty()) return false;
  const uint8_t mode = static_cast<uint8_t>(in.front());
  in.remove_prefix(1);
  HyperLogLog fresh;
  if (mode == kModeDense) {
    if (in.size() < kRegisters) return false;
    fresh.registers_.reset(new uint8_t[kRegisters]);
    std::memcpy(fresh.registers_.get(), in.data(), kRegisters);
    for (size_t i = 0; i < kRegisters; ++i) {
      if (fresh.registers_[i] > kMaxRank) return false;
    }
    in.remove_prefix(kRegisters);
  } else if (mode == kModeExact) {
    uint64_t n = 0;
    if (!GetVarint(&in, &n) || n > kExactMax || n > in.size()) return false;
    fresh.exact_.reserve(n);
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t d = 0;
      if (!GetVarint(&in, &d)) return false;
      if (i > 0 && (d == 0 || d > std::numeric_limits<uint64_t>::max() - prev)) return false;
      prev = i == 0 ? d : prev + d;
      fresh.exact_.push_back(prev);
    }
  } else {
    return false;
  }
  *this = std::move(fresh);
  *bytes = in;
  return true;
}

bool HyperLogLog::operator==(const HyperLogLog& o) const {
  if (dense() != o.dense()) return false;
  if (!dense()) return exact_ == o.exact_;
  return std::memcmp(registers_.get(), o.registers_.get(), kRegisters) == 0;
}

}  // namespace logpipe
