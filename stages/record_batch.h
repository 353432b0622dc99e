#pragma once
// RecordBatch: the lines of one Chunk as records, with typed fields, flowing through the
// CPU stages (parse -> filter -> aggregate / records output).
//
// Rows are the chunk's lines in order (row r is line chunk.first_line + r), or with multi-line
// events its events in order (io/chunker.h: the chunker cut the chunk at event starts, and
// Reset groups its lines again with the same predicate; row r's line() is the event's text,
// its lines without '\r' joined by '\n', and line_number(r) is its first line's). Fields are
// columns: field(f, row) is a Value whose `text` views the chunk's bytes. `selected` lists
// the rows still alive, ascending: a filter narrows it, a parse stage drops rows that do not
// match (and lists them in `rejects`). Counters are plain integers summed by the executor.
// Thread-safety: none; one batch is processed by one worker at a time.
// Lifetime: views (line(), Value::text) are valid while the Chunk passed to Reset() lives and
//   is not refilled.
// Cost: Reset() is one memchr pass (plus, for multi-line events, the predicate once per line
//   and a copy of the events whose interior lines end in "\r\n"); after the first batch,
//   Reset() allocates nothing unless a chunk has more lines (or bytes) than any before.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/chunk.h"
#include "io/chunker.h"

namespace logpipe {

// One field of one record. `present` is false when the group did not participate in the
// match, when the text is empty or "-" (the log convention for "no value"), or when a typed
// conversion failed (counted in BatchCounters::conversion_errors).
struct Value {
  std::string_view text;
  int64_t i = 0;   // kInt: the value; kTime: milliseconds since the Unix epoch, UTC
  double f = 0;    // kFloat: the value
  bool present = false;
};

enum class RejectReason : uint8_t { kMismatch, kInvalidUtf8 };
const char* RejectReasonName(RejectReason reason);

struct RejectedRow {
  uint32_t row;
  RejectReason reason;
};

struct BatchCounters {
  uint64_t lines = 0;         // lines in the batch (oversized and dropped lines not included)
  uint64_t events = 0;        // rows in the batch: lines, or multi-line events
  uint64_t truncated_events = 0;  // multi-line events cut at max_lines / max_bytes
  uint64_t dropped_lines = 0;     // lines dropped from those events
  uint64_t bytes = 0;         // bytes of the chunk
  uint64_t matched = 0;       // rows the parse stage accepted
  uint64_t mismatched = 0;    // rows that did not match the pattern
  uint64_t invalid_utf8 = 0;  // rows rejected by `encoding: utf8`
  uint64_t filtered_out = 0;  // rows removed by filters
  std::vector<uint64_t> conversion_errors;  // per schema field: typed conversion failures

  void Clear(size_t num_fields);
  // Adds `other` into this. Associative and commutative.
  void Merge(const BatchCounters& other);
};

class RecordBatch {
 public:
  // Splits `chunk` into rows (one trailing '\r' stripped from each line), selects every row,
  // and sizes `num_fields` empty columns. With `starts_event` (non-null and set), a row is a
  // multi-line event: the chunk's first line and every line for which it is true start one.
  // REQUIRES: chunk (and *starts_event) outlive the use of this batch.
  void Reset(const Chunk& chunk, size_t num_fields, const StartsEventFn* starts_event = nullptr);

  const Chunk& chunk() const { return *chunk_; }
  uint32_t size() const { return static_cast<uint32_t>(lines_.size()); }
  // The row's text: a line, or an event's lines joined by '\n'.
  std::string_view line(uint32_t row) const { return lines_[row]; }
  // The line number (in its input) of the row's line, or of its event's first line.
  uint64_t line_number(uint32_t row) const {
    return chunk_->first_line + (multiline_ ? first_lines_[row] : row);
  }
  // Lines in the row's event (1 without multi-line events).
  uint32_t event_lines(uint32_t row) const { return multiline_ ? event_lines_[row] : 1; }
  size_t num_fields() const { return columns_.size(); }

  Value& field(size_t f, uint32_t row) { return columns_[f][row]; }
  const Value& field(size_t f, uint32_t row) const { return columns_[f][row]; }

  std::vector<uint32_t> selected;      // rows still alive, ascending
  std::vector<RejectedRow> rejects;    // rows dropped by parse, ascending by row
  BatchCounters counters;

 private:
  const Chunk* chunk_ = nullptr;
  std::vector<std::string_view> lines_;
  bool multiline_ = false;
  std::vector<uint32_t> first_lines_;  // multi-line: per row, its first line's index in the chunk
  std::vector<uint32_t> event_lines_;  // multi-line: per row, its number of lines
  std::string joined_;                 // multi-line: texts of events that had to be rejoined
  std::vector<std::vector<Value>> columns_;
};

}  // namespace logpipe
