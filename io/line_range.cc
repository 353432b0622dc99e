#include "io/line_range.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include "io/posix_io.h"

namespace logpipe {
namespace {

constexpr size_t kScanBlock = size_t{64} << 10;

}  // namespace

std::vector<LineRange> SplitRegion(const InputRegion& region, uint64_t range_bytes) {
  return SplitRegionTapered(region, range_bytes, range_bytes, 0);
}

std::vector<LineRange> SplitRegionTapered(const InputRegion& region, uint64_t range_bytes,
                                          uint64_t min_range_bytes, uint64_t taper) {
  std::vector<LineRange> out;
  range_bytes = std::max<uint64_t>(range_bytes, 1);
  min_range_bytes = std::clamp<uint64_t>(min_range_bytes, 1, range_bytes);
  for (uint64_t b = region.begin; b < region.end;) {
    const uint64_t left = region.end - b;
    uint64_t size = range_bytes;
    if (taper > 0) size = std::clamp<uint64_t>(left / taper, min_range_bytes, range_bytes);
    LineRange r;
    r.begin = b;
    r.end = left > size ? b + size : region.end;
    r.limit = region.end;
    r.begin_is_line_start = b == region.begin;
    r.first_line = b == region.begin ? region.first_line : 0;
    out.push_back(r);
    b = r.end;
  }
  return out;
}

LineRangeSource::LineRangeSource(std::string name, int fd, const LineRange& range)
    : name_(std::move(name)), fd_(fd), range_(range) {
  range_.end = std::min(range_.end, range_.limit);
  range_.begin = std::min(range_.begin, range_.end);
  start_ = pos_ = range_.begin;
}

Result<size_t> LineRangeSource::ReadAt(uint64_t offset, char* buf, size_t n) {
  return PreadSome(fd_, name_, offset, buf, n, range_.limit);
}

Status LineRangeSource::Start() {
  start_ = pos_ = range_.begin;
  done_ = range_.begin >= range_.end;
  if (done_ || range_.begin_is_line_start || range_.begin == 0) return Status::Ok();
  char before = 0;
  Result<size_t> got = ReadAt(range_.begin - 1, &before, 1);
  if (!got.ok()) return got.status();
  if (before == '\n') return Status::Ok();
  // The range starts inside a line owned by an earlier range: skip to just past its '\n'.
  std::unique_ptr<char[]> block(new char[kScanBlock]);
  uint64_t at = range_.begin;
  while (at < range_.end) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kScanBlock, range_.end - at));
    Result<size_t> n = ReadAt(at, block.get(), want);
    if (!n.ok()) return n.status();
    const void* nl = std::memchr(block.get(), '\n', *n);
    if (nl != nullptr) {
      start_ = pos_ = at + static_cast<uint64_t>(static_cast<const char*>(nl) - block.get()) + 1;
      done_ = start_ >= range_.end;
      return Status::Ok();
    }
    at += *n;
  }
  start_ = pos_ = range_.end;  // no line starts in the range
  done_ = true;
  return Status::Ok();
}

Result<size_t> LineRangeSource::Read(char* buf, size_t n) {
  if (done_ || n == 0) return size_t{0};
  if (pos_ >= range_.limit) {
    done_ = true;
    return size_t{0};
  }
  if (pos_ < range_.end) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(n, range_.end - pos_));
    Result<size_t> got = ReadAt(pos_, buf, want);
    if (!got.ok()) return got;
    pos_ += *got;
    last_was_newline_ = buf[*got - 1] == '\n';
    return got;
  }
  // Past `end`: only the rest of the last line, if it did not end exactly at `end`.
  if (pos_ == start_ || last_was_newline_) {
    done_ = true;
    return size_t{0};
  }
  size_t want = static_cast<size_t>(std::min<uint64_t>(n, range_.limit - pos_));
  Result<size_t> got = ReadAt(pos_, buf, want);
  if (!got.ok()) return got;
  size_t len = *got;
  const void* nl = std::memchr(buf, '\n', len);
  if (nl != nullptr) {
    len = static_cast<size_t>(static_cast<const char*>(nl) - buf) + 1;
    done_ = true;
  }
  pos_ += len;
  return len;
}

}  // namespace logpipe
