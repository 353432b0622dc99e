#pragma once
// Little helpers for the byte frames that cross a process boundary (batch outputs, shard
// requests and replies): fixed 8-byte integers in host order (both ends are the same binary
// on the same machine) and length-prefixed byte strings. Readers take from the front of a
// string_view and return false when it runs out, so corrupt input is detected, never overrun.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace logpipe::wire {

inline void PutU64(uint64_t v, std::string* out) {
  out->append(reinterpret_cast<const char*>(&v), 8);
}

inline void PutBytes(std::string_view bytes, std::string* out) {
  PutU64(bytes.size(), out);
  out->append(bytes);
}

inline bool GetU64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  std::memcpy(v, in->data(), 8);
  in->remove_prefix(8);
  return true;
}

// `*out` views into the caller's buffer.
inline bool GetBytes(std::string_view* in, std::string_view* out) {
  uint64_t n = 0;
  if (!GetU64(in, &n) || n > in->size()) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

}  // namespace logpipe::wire
