#include "io/chunker.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace logpipe {
namespace {

// Reads are at least this big even for tiny chunk_bytes (one-line chunks in tests), so a
// small chunk size does not turn into one read(2) per byte; bytes past the cut are carried.
constexpr size_t kMinFill = 4096;
// When a chunk ends exactly at the end of what was read, this much is read ahead to learn
// whether the input is over (so last_in_source is exact).
constexpr size_t kProbeBytes = 4096;
// OversizedLine::head keeps this many bytes.
constexpr size_t kHeadBytes = 256;

// Number of '\n' bytes in [p, p + n): 16 bytes at a time with SSE2 (baseline on x86-64),
// else 8 at a time in a general-purpose register. Byte-wide counters are summed before they
// can overflow (every 255 blocks).
uint64_t CountNewlines(const char* p, size_t n) {
  uint64_t count = 0;
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i newline = _mm_set1_epi8('\n');
  while (i + 16 <= n) {
    size_t blocks = std::min<size_t>((n - i) / 16, 255);
    __m128i acc = _mm_setzero_si128();
    for (size_t b = 0; b < blocks; ++b, i += 16) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(v, newline));  // +1 per matching byte
    }
    __m128i sums = _mm_sad_epu8(acc, _mm_setzero_si128());  // two 64-bit lane sums
    count += static_cast<uint64_t>(_mm_cvtsi128_si64(sums)) +
             static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums)));
  }
#else
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
  constexpr uint64_t kNewlines = 0x0a0a0a0a0a0a0a0aULL;
  constexpr uint64_t kByteLanes = 0x00ff00ff00ff00ffULL;
  while (i + 8 <= n) {
    size_t words = std::min<size_t>((n - i) / 8, 255);
    uint64_t acc = 0;  // eight byte-wide counters
    for (size_t w = 0; w < words; ++w, i += 8) {
      uint64_t x;
      std::memcpy(&x, p + i, 8);
      x ^= kNewlines;                                // bytes equal to '\n' become 0
      uint64_t nonzero = ((x & kLow7) + kLow7) | x;  // high bit set in each nonzero byte
      acc += (~nonzero & ~kLow7) >> 7;               // 1 in each zero byte
    }
    uint64_t pairs = (acc & kByteLanes) + ((acc >> 8) & kByteLanes);  // four 16-bit sums
    count += (pairs * 0x0001000100010001ULL) >> 48;
  }
#endif
  for (; i < n; ++i) count += p[i] == '\n';
  return count;
}

// Where to cut a buffer of `size` bytes into whole lines, aiming at `target` bytes: just after
// the last '\n' before `target`, else just after the first '\n' at or after it. 0 when there
// is no '\n' at or after `scan_from` (callers know [0, scan_from) holds none).
size_t CutPoint(const char* buf, size_t scan_from, size_t size, size_t target) {
  size_t lim = std::min(size, target);
  if (lim > scan_from) {
    const void* p = memrchr(buf + scan_from, '\n', lim - scan_from);
    if (p != nullptr) return static_cast<size_t>(static_cast<const char*>(p) - buf) + 1;
  }
  size_t from = std::max(lim, scan_from);
  if (size > from) {
    const void* p = std::memchr(buf + from, '\n', size - from);
    if (p != nullptr) return static_cast<size_t>(static_cast<const char*>(p) - buf) + 1;
  }
  return 0;
}

// Finds the first line in [0, end) longer than `max_len` (not counting its '\n'). Returns
// false if there is none; else sets its start and the index just past its content.
bool FindLongLine(const char* buf, size_t end, size_t max_len, size_t* start, size_t* stop) {
  size_t pos = 0;
  while (pos < end) {
    const void* p = std::memchr(buf + pos, '\n', end - pos);
    size_t nl = p ? static_cast<size_t>(static_cast<const char*>(p) - buf) : end;
    if (nl - pos > max_len) {
      *start = pos;
      *stop = nl;
      return true;
    }
    pos = nl + 1;
  }
  return false;
}

OversizedLine MakeOversized(uint64_t line_number, uint64_t bytes, const char* head) {
  OversizedLine line;
  line.line_number = line_number;
  line.bytes = bytes;
  line.head.assign(head, static_cast<size_t>(std::min<uint64_t>(bytes, kHeadBytes)));
  return line;
}

}  // namespace

Chunker::Chunker(std::unique_ptr<ByteSource> source, uint32_t source_index, ChunkerOptions options,
                 uint64_t first_offset, uint64_t first_line)
    : source_(std::move(source)),
      source_index_(source_index),
      options_(options),
      next_offset_(first_offset),
      next_line_(first_line),
      pos_line_(first_line) {
  if (options_.chunk_bytes == 0) options_.chunk_bytes = 1;
}

Status Chunker::SkipOversizedLine(Chunk* chunk, size_t* size) {
  char* buf = chunk->mutable_data();
  OversizedLine line = MakeOversized(chunk->first_line, *size, buf);
  uint64_t consumed = *size;
  *size = 0;
  chunk->set_size(0);
  for (;;) {
    if (eof_) break;  // the line ends the input, without '\n'
    Result<size_t> got = source_->Read(buf, chunk->capacity());
    if (!got.ok()) return got.status();
    if (*got == 0) {
      eof_ = true;
      continue;
    }
    const void* p = std::memchr(buf, '\n', *got);
    size_t nl = p ? static_cast<size_t>(static_cast<const char*>(p) - buf) : *got;
    if (line.head.size() < kHeadBytes) {
      line.head.append(buf, std::min(nl, kHeadBytes - line.head.size()));
    }
    if (p == nullptr) {
      line.bytes += *got;
      consumed += *got;
      continue;
    }
    line.bytes += nl;
    consumed += nl + 1;
    *size = *got - nl - 1;
    std::memmove(buf, buf + nl + 1, *size);
    break;
  }
  chunk->set_size(*size);
  chunk->offset += consumed;
  chunk->first_line += 1;
  chunk->oversized.push_back(std::move(line));
  return Status::Ok();
}

Result<bool> Chunker::Next(Chunk* chunk) {
  return options_.multiline.enabled() ? NextEvents(chunk) : NextLines(chunk);
}

Result<bool> Chunker::NextLines(Chunk* chunk) {
  chunk->set_size(0);
  chunk->line_count = 0;
  chunk->dropped_lines = 0;
  chunk->truncated_events = 0;
  chunk->last_in_source = false;
  chunk->oversized.clear();
  chunk->source = source_index_;
  chunk->offset = next_offset_;
  chunk->first_line = next_line_;
  if (done_) return false;
  chunk->oversized.swap(pending_);

  const size_t max_line = options_.max_line_bytes;
  size_t target = options_.chunk_bytes;
  size_t size = carry_.size();
  chunk->Reserve(std::max({target, kMinFill, size}));
  if (size > 0) std::memcpy(chunk->mutable_data(), carry_.data(), size);
  chunk->set_size(size);
  carry_.set_size(0);

  size_t scan_from = 0;              // [0, scan_from) is known to hold no '\n'
  size_t end = 0;                    // the chunk is [0, end)
  size_t resume = 0;                 // the next chunk starts at [resume, size)
  uint64_t lines_before_resume = 0;  // lines in [0, resume), counting a dropped one
  for (;;) {
    size_t fill_to = std::max(target, kMinFill);
    chunk->Reserve(fill_to);
    while (!eof_ && size < target) {
      Result<size_t> got = source_->Read(chunk->mutable_data() + size, fill_to - size);
      if (!got.ok()) {
        chunk->set_size(0);
        return got.status();
      }
      if (*got == 0) {
        eof_ = true;
      } else {
        size += *got;
      }
    }
    chunk->set_size(size);
    char* buf = chunk->mutable_data();

    if (eof_ && size <= target) {
      end = size;  // the rest of the input, perhaps ending in a line without '\n'
    } else {
      end = CutPoint(buf, scan_from, size, target);
      if (end == 0 && eof_) end = size;  // a last line without '\n', larger than target
    }
    if (end == 0 && size > 0) {
      // [0, size) is the start of one line, with more to come.
      if (size > max_line) {
        Status st = SkipOversizedLine(chunk, &size);
        if (!st.ok()) {
          chunk->set_size(0);
          return st;
        }
        scan_from = 0;
        target = options_.chunk_bytes;
        continue;
      }
      scan_from = size;
      size_t limit = max_line < SIZE_MAX / 2 ? max_line + 1 : SIZE_MAX / 2;
      target = std::max(size + 1, std::min(2 * size, limit));
      continue;
    }

    resume = end;
    size_t long_start = 0, long_stop = 0;
    if (end > max_line && FindLongLine(buf, end, max_line, &long_start, &long_stop)) {
      size_t after = long_stop < size ? long_stop + 1 : long_stop;  // past its '\n'
      if (long_start == 0) {
        // Drop it here and go on filling this chunk.
        chunk->oversized.push_back(MakeOversized(chunk->first_line, long_stop, buf));
        std::memmove(buf, buf + after, size - after);
        size -= after;
        chunk->set_size(size);
        chunk->offset += after;
        chunk->first_line += 1;
        scan_from = 0;
        target = options_.chunk_bytes;
        continue;
      }
      // Deliver the lines before it; it goes into the next chunk's `oversized`.
      uint64_t lines = CountNewlines(buf, long_start);
      pending_.push_back(
          MakeOversized(chunk->first_line + lines, long_stop - long_start, buf + long_start));
      end = long_start;
      resume = after;
      lines_before_resume = lines + 1;
    }
    break;
  }

  char* buf = chunk->mutable_data();
  if (end == 0 && resume == size) {
    // Input exhausted with no line left; deliver any oversized lines still owed.
    done_ = true;
    next_offset_ = chunk->offset + resume;
    next_line_ = chunk->first_line + lines_before_resume;
    chunk->set_size(0);
    if (chunk->oversized.empty()) return false;
    chunk->last_in_source = true;
    return true;
  }

  chunk->line_count = CountNewlines(buf, end) + (end > 0 && buf[end - 1] != '\n' ? 1 : 0);
  if (resume == end) lines_before_resume = chunk->line_count;
  next_offset_ = chunk->offset + resume;
  next_line_ = chunk->first_line + lines_before_resume;
  size_t tail = size - resume;
  if (tail > 0) {
    carry_.set_size(0);
    carry_.Reserve(tail);
    std::memcpy(carry_.mutable_data(), buf + resume, tail);
    carry_.set_size(tail);
  } else if (!eof_ && pending_.empty()) {
    // Read ahead a little to learn whether this is the last chunk.
    carry_.Reserve(kProbeBytes);
    Result<size_t> got = source_->Read(carry_.mutable_data(), kProbeBytes);
    if (!got.ok()) {
      chunk->set_size(0);
      return got.status();
    }
    if (*got == 0) eof_ = true;
    carry_.set_size(*got);
  }
  chunk->set_size(end);
  chunk->last_in_source = eof_ && carry_.size() == 0 && pending_.empty();
  if (chunk->last_in_source) done_ = true;
  return true;
}

void Chunker::AppendLine(const char* begin, size_t n, Chunk* chunk) {
  const size_t size = chunk->size();
  if (size + n > chunk->capacity()) {
    chunk->Reserve(std::max({size + n, 2 * chunk->capacity(), kMinFill}));
  }
  std::memcpy(chunk->mutable_data() + size, begin, n);
  chunk->set_size(size + n);
  ++chunk->line_count;
}

Result<bool> Chunker::NextEvents(Chunk* chunk) {
  chunk->set_size(0);
  chunk->line_count = 0;
  chunk->last_in_source = false;
  chunk->oversized.clear();
  chunk->oversized.swap(event_pending_);
  chunk->dropped_lines = 0;
  chunk->truncated_events = 0;
  chunk->source = source_index_;
  chunk->offset = lines_.offset + pos_;
  chunk->first_line = pos_line_;
  if (events_done_) return false;

  const MultilineOptions& ml = options_.multiline;
  const uint64_t max_lines = std::max<size_t>(ml.max_lines, 1);
  for (;;) {
    if (pos_ >= lines_.size()) {
      // This line chunk is used up: take the next one, unless the input is over.
      bool more = false;
      if (!lines_done_) {
        Result<bool> got = NextLines(&lines_);
        if (!got.ok()) {
          chunk->set_size(0);
          return got.status();
        }
        more = *got;
        lines_done_ = !more;
        pos_ = 0;
        pos_line_ = lines_.first_line;
      }
      if (!more) {
        events_done_ = true;
        if (chunk->size() == 0) {
          if (chunk->oversized.empty() && chunk->dropped_lines == 0) return false;
          chunk->offset = lines_.offset + pos_;
          chunk->first_line = pos_line_;
        }
        chunk->last_in_source = true;
        return true;
      }
      if (!lines_.oversized.empty()) {
        // Oversized lines come just before lines_'s data; they end the open event.
        event_lines_ = 0;
        dropping_ = false;
        if (chunk->size() > 0) {
          event_pending_.swap(lines_.oversized);
          lines_.oversized.clear();
          return true;
        }
        for (OversizedLine& line : lines_.oversized) chunk->oversized.push_back(std::move(line));
        lines_.oversized.clear();
      }
      continue;
    }

    const char* p = lines_.data() + pos_;
    const size_t avail = lines_.size() - pos_;
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', avail));
    const size_t n = nl != nullptr ? static_cast<size_t>(nl - p) + 1 : avail;  // with its '\n'
    size_t len = nl != nullptr ? n - 1 : n;
    if (len > 0 && p[len - 1] == '\r') --len;
    const bool starts =
        event_lines_ == 0 || pos_starts_event_ || ml.starts_event(std::string_view(p, len));
    pos_starts_event_ = false;
    if (starts) {
      if (chunk->size() > 0 && chunk->size() >= options_.chunk_bytes) {
        pos_starts_event_ = true;  // cut before it; the next chunk starts with it
        return true;
      }
      event_lines_ = 1;
      event_bytes_ = len;
      dropping_ = false;
    } else if (dropping_) {
      // A continuation of a truncated event: dropped (this chunk is still empty).
      ++chunk->dropped_lines;
      pos_ += n;
      ++pos_line_;
      continue;
    } else if (event_lines_ + 1 > max_lines || event_bytes_ + 1 + len > ml.max_bytes) {
      // The first line over a bound: the event (all in this chunk) ends before it.
      dropping_ = true;
      ++chunk->truncated_events;
      return true;
    } else {
      ++event_lines_;
      event_bytes_ += 1 + len;
    }
    if (chunk->size() == 0) {
      chunk->offset = lines_.offset + pos_;
      chunk->first_line = pos_line_;
    }
    AppendLine(p, n, chunk);
    pos_ += n;
    ++pos_line_;
  }
}

}  // namespace logpipe
