#pragma once
// Chunk: an owned buffer of whole lines from one input, the unit of parallel work.
//
// A line never spans two chunks. `data()` holds the raw bytes of consecutive lines exactly as
// read (including their '\n' and any '\r'); only the last line of an input may lack its '\n'.
// Lines longer than the chunker's max_line_bytes are never stored: they are listed in
// `oversized` of the chunk that follows them, so line numbering stays exact. With multi-line
// events on (ChunkerOptions::multiline), a chunk holds whole events only and the lines dropped
// from truncated events are counted in `dropped_lines` of the chunk that follows them.
// Thread-safety: none; a Chunk is handed from stage to stage, one owner at a time.
// Lifetime: views into data() are valid until the Chunk is refilled or destroyed.
// Cost: the buffer is allocated once and reused when the Chunk is refilled (chunk pools keep
//   Chunks alive between uses; fresh multi-MiB buffers cost page faults, see BASELINES.md).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace logpipe {

// A line that was longer than max_line_bytes: counted and reported, never parsed.
struct OversizedLine {
  uint64_t line_number = 0;  // 1-based, within its input
  uint64_t bytes = 0;        // length without the line terminator
  std::string head;          // its first bytes (up to 256), for the rejects file
};

class Chunk {
 public:
  Chunk() = default;
  Chunk(Chunk&&) = default;
  Chunk& operator=(Chunk&&) = default;

  const char* data() const { return buf_.get(); }
  char* mutable_data() { return buf_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  std::string_view bytes() const { return std::string_view(buf_.get(), size_); }

  // Makes room for at least `n` bytes, keeping the first size() bytes.
  void Reserve(size_t n);
  void set_size(size_t n) { size_ = n; }  // REQUIRES: n <= capacity()

  uint32_t source = 0;      // index of the input in the run's input list
  uint64_t offset = 0;      // byte offset of data()[0] in the input's (decompressed) stream
  uint64_t first_line = 1;  // 1-based line number of the first line in data()
  uint64_t seq = 0;         // position of this chunk in the whole run, from 0
  uint64_t line_count = 0;  // number of lines in data() (oversized lines not included)
  bool last_in_source = false;            // no more chunks follow from this input
  std::vector<OversizedLine> oversized;   // lines dropped just before this chunk's data
  // Multi-line events only (else 0): continuation lines of truncated events dropped just
  // before this chunk's data (before any `oversized` lines), and the events in data() that were
  // cut short at max_lines or max_bytes.
  uint64_t dropped_lines = 0;
  uint64_t truncated_events = 0;

 private:
  std::unique_ptr<char[]> buf_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace logpipe
