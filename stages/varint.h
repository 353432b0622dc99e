#pragma once
// LEB128 varints for the encoded aggregate partials and sketches (stages/aggregate_wire.cc,
// hyperloglog.cc, log_histogram.cc): 7 bits a byte, low bits first, high bit set on every byte
// but the last. GetVarint takes from the front of a string_view and returns false, consuming
// nothing useful, when the bytes run out or the value does not fit in 64 bits: corrupt input is
// detected, never overrun.
// Thread-safety: pure functions.

#include <cstdint>
#include <string>
#include <string_view>

namespace logpipe {

inline void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in->empty()) return false;
    const uint8_t b = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    if (shift == 63 && b > 1) return false;
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = result;
      return true;
    }
  }
  return false;
}

}  // namespace logpipe
