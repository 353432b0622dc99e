#pragma once
// InputRange: which part of one input a run reads, for incremental runs (pipeline/incremental.h).
// Every executor and fetch model reads exactly the (decompressed) bytes [begin, end) of the
// input, numbering its lines from first_line; the default is the whole input from line 1.
// `begin` is always at a line start. A run without a state file uses the defaults for every
// input (an empty range list means that too).
// Thread-safety: a plain value.

#include <cstdint>
#include <vector>

namespace logpipe {

struct InputRange {
  uint64_t begin = 0;
  uint64_t end = UINT64_MAX;  // UINT64_MAX: to the end of the input
  uint64_t first_line = 1;
  bool whole() const { return begin == 0 && end == UINT64_MAX; }
};

// ranges[i] when given, else the whole input.
inline InputRange RangeOf(const std::vector<InputRange>& ranges, size_t i) {
  return i < ranges.size() ? ranges[i] : InputRange();
}

}  // namespace logpipe
