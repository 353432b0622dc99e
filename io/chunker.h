#pragma once
// Chunker cuts a byte stream into Chunks that hold whole lines only.
//
// Lines end at '\n'; the last line of an input may lack it and still counts. NUL bytes and
// '\r' are ordinary bytes here (RecordBatch strips one trailing '\r' per line). An empty
// input yields no chunk.
// Thread-safety: none; use one Chunker per input.
// Lifetime: a Chunk owns its bytes; views into it are valid while the Chunk lives.
// Cost: one Read() per chunk_bytes; only the partial last line is copied, into the next
//   chunk. The Chunk passed to Next() is refilled in place, reusing its buffer. Reads are at
//   least 4 KiB even when chunk_bytes is smaller (whole lines past the cut are carried), and
//   a chunk that ends exactly where reading stopped costs one small read-ahead, so that
//   last_in_source is exact.
// Errors: a read failure returns the source's Status (naming the input and byte offset). A
//   chunk grows to hold one whole line up to max_line_bytes; a longer line is skipped,
//   listed in the next chunk's `oversized` (line number, length, first bytes) and never
//   fatal. Memory stays below about 2 * max(chunk_bytes, max_line_bytes) per Chunker.
//
// Multi-line events (options.multiline.starts_event set): the Chunker alone decides, in input
// order, where events begin and end, so every executor sees the same events whatever the
// chunk size, worker count or model. A chunk then holds whole events only: it is cut only
// before a line that starts an event (once it holds at least chunk_bytes), and RecordBatch
// groups its lines again with the same predicate. The rules, all decided by the data alone:
//   - the first line of an input, and the first line after an oversized line, starts an event
//     (so lines before the first start line form an event of their own); any other line
//     starts one when starts_event(line) is true (the line without '\n' and one trailing '\r');
//   - an event keeps its first line and then its continuation lines while it holds at most
//     max_lines lines and its text (lines without '\r', joined by '\n') at most max_bytes; at
//     the first continuation line over a bound the event is cut there (counted in the chunk's
//     truncated_events) and its remaining continuation lines are dropped (counted in the next
//     chunk's dropped_lines), so memory stays bounded by max_bytes per event;
//   - an oversized line ends the event before it.
// Cost (multi-line): starts_event once per line on the calling thread, and one extra copy of
//   every kept byte (lines are read in line chunks, then gathered into event chunks). Memory:
//   about 2 * chunk_bytes + max_bytes + max_line_bytes more.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "io/byte_source.h"
#include "io/chunk.h"
#include "io/status.h"

namespace logpipe {

// Whether `line` (without its '\n' and one trailing '\r') starts a new multi-line event.
// Must be a pure function of the line, callable concurrently (RecordBatch calls it in workers).
using StartsEventFn = std::function<bool(std::string_view line)>;

struct MultilineOptions {
  StartsEventFn starts_event;  // empty: multi-line events off, one event per line
  size_t max_lines = 500;      // lines per event at most (>= 1)
  size_t max_bytes = size_t{1} << 20;  // bytes of an event's text at most (its first line is
                                       // always kept, however long)
  bool enabled() const { return static_cast<bool>(starts_event); }
};

// The default target chunk size (read.chunk_bytes). Small enough that a chunk, copied in by
// pread, is still in its core's cache when it is parsed, and that the chunks in flight of a
// parallel run (2 x workers) leave the shared cache to the aggregate tables. On the 2-core
// reference machine (bench/reference/run.sh --chunk-sweep, bench/RESULTS.md) 1 MiB chunks ran
// the reference job 4-10% faster with 2 workers than 4 MiB chunks (serially: no difference
// beyond noise), at a lower peak RSS; 512 KiB to 2 MiB were alike within noise, and much
// smaller chunks cost more in per-chunk handoffs than they save.
constexpr size_t kDefaultChunkBytes = size_t{1} << 20;

struct ChunkerOptions {
  size_t chunk_bytes = kDefaultChunkBytes;  // target chunk size
  // Longer lines are reported as oversized; a line's length counts any '\r' but not its '\n'.
  size_t max_line_bytes = size_t{16} << 20;
  MultilineOptions multiline;
};

class Chunker {
 public:
  // `first_offset` and `first_line`: where the source's first byte is in the whole input, when
  // the source starts partway (incremental runs, io/byte_source.h OpenInputRange): chunk
  // offsets and line numbers then continue from there. The first byte must start a line.
  Chunker(std::unique_ptr<ByteSource> source, uint32_t source_index, ChunkerOptions options,
          uint64_t first_offset = 0, uint64_t first_line = 1);

  // Fills `chunk` with the next whole lines (setting source, offset, first_line, line_count,
  // last_in_source, oversized, dropped_lines, truncated_events; not seq); with multi-line
  // events on, with whole events. Returns false, leaving `chunk` empty, when the input
  // is exhausted; oversized lines at the very end are still delivered in a chunk with no data.
  Result<bool> Next(Chunk* chunk);

  const std::string& name() const { return source_->name(); }

 private:
  // Drops the line at the start of `chunk` (longer than max_line_bytes, no '\n' among the
  // first `*size` bytes), reading until its end, and records it in chunk->oversized.
  Status SkipOversizedLine(Chunk* chunk, size_t* size);
  // Next() without multi-line events: whole lines.
  Result<bool> NextLines(Chunk* chunk);
  // Next() with multi-line events: gathers lines from lines_ (filled by NextLines) into
  // whole events.
  Result<bool> NextEvents(Chunk* chunk);
  // Appends the line [begin, begin + n) of lines_ to `chunk`.
  void AppendLine(const char* begin, size_t n, Chunk* chunk);

  std::unique_ptr<ByteSource> source_;
  uint32_t source_index_;
  ChunkerOptions options_;
  Chunk carry_;                         // bytes read but not yet delivered (a partial line)
  std::vector<OversizedLine> pending_;  // oversized lines for the next chunk
  uint64_t next_offset_ = 0;            // stream offset of carry_'s first byte
  uint64_t next_line_ = 1;              // line number of carry_'s first line
  bool eof_ = false;                    // the source returned 0
  bool done_ = false;                   // Next() has nothing more to give

  // Multi-line events only.
  Chunk lines_;                         // the current line chunk, read from pos_ on
  size_t pos_ = 0;                      // next unread byte of lines_
  uint64_t pos_line_ = 1;               // line number of the line at pos_
  bool lines_done_ = false;             // NextLines() returned false
  bool events_done_ = false;            // NextEvents() has nothing more to give
  std::vector<OversizedLine> event_pending_;  // oversized lines for the next event chunk
  bool pos_starts_event_ = false;       // the line at pos_ is known to start an event
  uint64_t event_lines_ = 0;            // lines of the open event (0: none is open)
  uint64_t event_bytes_ = 0;            // bytes of its text
  bool dropping_ = false;               // the open event was truncated: drop its continuations
};

}  // namespace logpipe
