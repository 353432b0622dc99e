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

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "io/byte_source.h"
#include "io/chunk.h"
#include "io/status.h"

namespace logpipe {

struct ChunkerOptions {
  size_t chunk_bytes = size_t{4} << 20;  // target chunk size
  // Longer lines are reported as oversized; a line's length counts any '\r' but not its '\n'.
  size_t max_line_bytes = size_t{16} << 20;
};

class Chunker {
 public:
  Chunker(std::unique_ptr<ByteSource> source, uint32_t source_index, ChunkerOptions options);

  // Fills `chunk` with the next whole lines (setting source, offset, first_line, line_count,
  // last_in_source, oversized; not seq). Returns false, leaving `chunk` empty, when the input
  // is exhausted; oversized lines at the very end are still delivered in a chunk with no data.
  Result<bool> Next(Chunk* chunk);

  const std::string& name() const { return source_->name(); }

 private:
  // Drops the line at the start of `chunk` (longer than max_line_bytes, no '\n' among the
  // first `*size` bytes), reading until its end, and records it in chunk->oversized.
  Status SkipOversizedLine(Chunk* chunk, size_t* size);

  std::unique_ptr<ByteSource> source_;
  uint32_t source_index_;
  ChunkerOptions options_;
  Chunk carry_;                         // bytes read but not yet delivered (a partial line)
  std::vector<OversizedLine> pending_;  // oversized lines for the next chunk
  uint64_t next_offset_ = 0;            // stream offset of carry_'s first byte
  uint64_t next_line_ = 1;              // line number of carry_'s first line
  bool eof_ = false;                    // the source returned 0
  bool done_ = false;                   // Next() has nothing more to give
};

}  // namespace logpipe
