#pragma once
// Deterministic text-like test bodies: letters in lines of 80 bytes, never a gzip or zstd
// magic number, varied enough that a shifted or repeated range would not compare equal.

#include <cstddef>
#include <cstdint>
#include <string>

namespace logpipe::testing {

inline std::string RandomText(size_t n, unsigned seed = 1) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 12345;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = (i % 80 == 79) ? '\n' : static_cast<char>('a' + x % 26);
  }
  return s;
}

}  // namespace logpipe::testing
