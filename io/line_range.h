#pragma once
// Line ranges: a part of a local file, given as byte offsets, that a reader turns into whole
// lines without anyone having read the bytes before it. The processes executor hands shards
// such ranges so that its parent never reads a plain file (pipeline/executor_processes.h).
//
// The rule: a range [begin, end) owns exactly the lines whose first byte lies in [begin, end).
// So its reader skips the partial line it starts in (unless `begin` is known to start a line:
// begin == region begin, or the byte before it is '\n') and reads past `end` to finish its last
// line, never at or past `limit` (the end of the region; a last line without '\n' ends there).
// Cutting a region into consecutive ranges therefore gives every line to exactly one range,
// whatever the cut points, and a line longer than a range belongs to the range where it starts.
//
// Thread-safety: none; one reader per LineRangeSource. SplitRegion is a pure function.
// Cost: the source reads its range once with pread (plus the bytes of the line it starts in,
//   up to `end`, in 64 KiB blocks, and the rest of the line it ends in); no buffering beyond
//   one 64 KiB block while looking for the first line start.
// Errors: kIoError naming the file and the byte offset, also when the file is shorter than
//   `limit` (it shrank during the run).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/byte_source.h"
#include "io/status.h"

namespace logpipe {

// The part of an input to read: bytes [begin, end), `begin` starting line `first_line`. A
// whole file is {0, size, 1}; an incremental run may start at a saved offset.
struct InputRegion {
  uint64_t begin = 0;
  uint64_t end = 0;
  uint64_t first_line = 1;
};

struct LineRange {
  uint64_t begin = 0;  // the range owns the lines whose first byte is in [begin, end)
  uint64_t end = 0;
  uint64_t limit = 0;                // the region's end: nothing at or past it is read
  bool begin_is_line_start = false;  // begin is the region's begin (a known line start)
  uint64_t first_line = 0;  // line number at begin when known (the region's first range), else 0
};

// Cuts `region` into consecutive ranges of `range_bytes` (>= 1) each, the last one shorter.
// An empty region gives no range.
std::vector<LineRange> SplitRegion(const InputRegion& region, uint64_t range_bytes);

// The same, tapered for workers that take the ranges in turn: a range is at most 1/`taper` of
// the bytes left in the region, but no smaller than `min_range_bytes` (nor larger than
// `range_bytes`). Ranges start at `range_bytes` and shrink towards the region's end, so the
// workers finish within about `min_range_bytes` of each other rather than a whole range.
// taper 0 (or min_range_bytes >= range_bytes) is SplitRegion.
std::vector<LineRange> SplitRegionTapered(const InputRegion& region, uint64_t range_bytes,
                                          uint64_t min_range_bytes, uint64_t taper);

// A ByteSource over the lines a LineRange owns, read with pread from `fd` (not owned; it must
// stay open while the source is used). Call Start() once before Read().
class LineRangeSource : public ByteSource {
 public:
  LineRangeSource(std::string name, int fd, const LineRange& range);

  // Finds the range's first line start (reading the byte before `begin` and, when that is not
  // '\n', up to the first '\n' in [begin, end)).
  Status Start();
  // The file offset of the first byte Read() returns (== range end when the range owns no line).
  uint64_t start() const { return start_; }

  Result<size_t> Read(char* buf, size_t n) override;
  const std::string& name() const override { return name_; }

 private:
  // pread that retries EINTR and reports a short file as an error.
  Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n);

  std::string name_;
  int fd_;
  LineRange range_;
  uint64_t start_ = 0;
  uint64_t pos_ = 0;  // next file offset to read
  bool last_was_newline_ = false;
  bool done_ = false;
};

}  // namespace logpipe
