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
  lines = bytes = matched = mismatched = invalid_utf8 = filtered_out = 0;
  conversion_errors.assign(num_fields, 0);
}

void BatchCounters::Merge(const BatchCounters& other) {
  lines += other.lines;
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

void RecordBatch::Reset(const Chunk& chunk, size_t num_fields) {
  chunk_ = &chunk;
  lines_.clear();
  const char* p = chunk.data();
  const char* end = p + chunk.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    const char* line_end = nl ? nl : end;
    size_t len = line_end - p;
    if (len > 0 && p[len - 1] == '\r') --len;
    lines_.emplace_back(p, len);
    p = nl ? nl + 1 : end;
  }
  const uint32_t n = size();
  selected.resize(n);
  for (uint32_t r = 0; r < n; ++r) selected[r] = r;
  rejects.clear();
  columns_.resize(num_fields);
  for (auto& column : columns_) column.assign(n, Value{});
  counters.Clear(num_fields);
  counters.lines = n;
  counters.bytes = chunk.size();
}

}  // namespace logpipe
