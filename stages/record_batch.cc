#include "stages/record_batch.h"

#include <cstring>

namespace logpipe {

const char* RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kMismatch: return "no match";
    case RejectReason::kInvalidUtf8: return "invalid UTF-8";
  }
  return "?";
}

void BatchCounters::Clear(size_t num_fields) {
  lines = events = truncated_events = dropped_lines = bytes = matched = mismatched = invalid_utf8 = filtered_out = 0;
  conversion_errors.assign(num_fields, 0);
}

void BatchCounters::Merge(const BatchCounters& other) {
  lines += other.lines;
  events += other.events;
  truncated_events += other.truncated_events;
  dropped_lines += other.dropped_lines;
  bytes += other.bytes;
  matched += other.matched;
  mismatched += other.mismatched;
  invalid_utf8 += other.invalid_utf8;
  filtered_out += other.filtered_out;
  if (conversion_errors.size() < other.conversion_errors.size()) {
    conversion_errors.resize(other.conversion_errors.size(), 0);
  }
  for (size_t i = 0; i < other.conversion_errors.size(); ++i) {
    conversion_errors[i] += other.conversion_errors[i];
  }
}

void RecordBatch::Reset(const Chunk& chunk, size_t num_fields, const StartsEventFn* starts_event) {
  chunk_ = &chunk;
  lines_.clear();
  multiline_ = starts_event != nullptr && *starts_event;
  first_lines_.clear();
  event_lines_.clear();
  joined_.clear();
  const char* p = chunk.data();
  const char* end = p + chunk.size();
  uint32_t line_index = 0;
  // Multi-line: the open event is [event_begin, event_end) of the chunk, unless `rejoin` (a
  // line before its last ended in '\r'): then its text is the tail of joined_ from joined_at.
  const char* event_begin = nullptr;
  const char* event_end = nullptr;
  bool rejoin = false;
  size_t joined_at = 0;
  auto close_event = [&] {
    if (event_begin == nullptr) return;
    lines_.emplace_back(rejoin ? std::string_view(joined_.data() + joined_at,
                                                  joined_.size() - joined_at)
                               : std::string_view(event_begin, event_end - event_begin));
  };
  for (; p < end; ++line_index) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    const char* line_end = nl ? nl : end;
    size_t len = line_end - p;
    if (len > 0 && p[len - 1] == '\r') --len;
    const std::string_view line(p, len);
    p = nl ? nl + 1 : end;
    if (!multiline_) {
      lines_.push_back(line);
      continue;
    }
    if (event_begin == nullptr || (*starts_event)(line)) {
      close_event();
      first_lines_.push_back(line_index);
      event_lines_.push_back(1);
      event_begin = line.data();
      event_end = line.data() + line.size();
      rejoin = false;
      continue;
    }
    ++event_lines_.back();
    if (!rejoin && event_end != line.data() - 1) {
      // The previous line ended in "\r\n": copy the event so far, without its '\r's. joined_
      // never outgrows the chunk, so reserving that once keeps earlier views valid.
      if (joined_.capacity() < chunk.size()) joined_.reserve(chunk.size());
      rejoin = true;
      joined_at = joined_.size();
      joined_.append(event_begin, event_end - event_begin);
    }
    if (rejoin) {
      joined_ += '\n';
      joined_.append(line.data(), line.size());
    }
    event_end = line.data() + line.size();
  }
  close_event();
  const uint32_t n = size();
  selected.resize(n);
  for (uint32_t r = 0; r < n; ++r) selected[r] = r;
  rejects.clear();
  columns_.resize(num_fields);
  for (auto& column : columns_) column.assign(n, Value{});
  counters.Clear(num_fields);
  counters.lines = line_index;
  counters.events = n;
  counters.truncated_events = chunk.truncated_events;
  counters.dropped_lines = chunk.dropped_lines;
  counters.bytes = chunk.size();
}

}  // namespace logpipe
