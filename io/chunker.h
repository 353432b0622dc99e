#pragma once
// Chunker cuts a byte stream into Chunks that hold whole lines only.
//
// Lines end at '\n'; the last line of an input may lack it and still counts. NUL bytes and
// '\r' are ordinary bytes here (RecordBatch strips one trailing '\r' per line). An empty
// input yields no chunk.
// Thread-safety: none; use one Chunker per input.
// Lifetime: a Chunk owns its bytes; views into it are valid while the Chunk lives.
// Cost: one Read() per chunk_bytes; only the partial last line is copied, into the next
//   chunk. The Chunk passed to Next() is refilled in place, reusing its buffer.
// Errors: a read failure returns the source's Status (naming the input and byte offset). A
//   chunk grows to hold one whole line up to max_line_bytes; a longer line is skipped,
//   listed in the next chunk's `oversized` (line number, length, first bytes) and never
//   fatal. Memory stays below about 2 * max(chunk_bytes, max_line_bytes) per Chunker.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "io/byte_source.h"
#include "io/chunk.h"
#include "io/status.h"

namespace logpipe {

struct ChunkerOptions {
  size_t chunk_bytes = size_t{4} << 20;      // target chunk size
  size_t max_line_bytes = size_t{16} << 20;  // longer lines are reported as oversized
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
  std::unique_ptr<ByteSource> source_;
  uint32_t source_index_;
  ChunkerOptions options_;
  // Implementation state (carried-over partial line, offsets, line numbers) lives here.
  Chunk carry_;
  uint64_t next_offset_ = 0;
  uint64_t next_line_ = 1;
  bool eof_ = false;
  bool done_ = false;
};

}  // namespace logpipe
