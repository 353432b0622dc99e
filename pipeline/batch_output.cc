#include "pipeline/batch_output.h"

#include <cstring>

#include "io/text_escape.h"
#include "pipeline/wire_bytes.h"

namespace logpipe {
namespace {

using wire::GetU64;
using wire::PutBytes;
using wire::PutU64;

bool GetBytes(std::string_view* in, std::string* out) {
  std::string_view view;
  if (!wire::GetBytes(in, &view)) return false;
  out->assign(view);
  return true;
}

}  // namespace

void BatchOutput::EncodeTo(std::string* out) const {
  PutU64(seq, out);
  PutU64(source, out);
  PutU64(end_offset, out);
  PutU64(end_line, out);
  for (uint64_t v : {counters.lines, counters.events, counters.truncated_events,
                     counters.dropped_lines, counters.bytes, counters.matched, counters.mismatched,
                     counters.invalid_utf8, counters.filtered_out, oversized_lines}) {
    PutU64(v, out);
  }
  PutU64(counters.conversion_errors.size(), out);
  for (uint64_t v : counters.conversion_errors) PutU64(v, out);
  PutU64(records.size(), out);
  for (const auto& r : records) PutBytes(r, out);
  PutBytes(rejects, out);
  std::string status;
  error.EncodeTo(&status);
  PutBytes(status, out);
}

Status BatchOutput::DecodeFrom(std::string_view in, BatchOutput* out) {
  const Status corrupt = InternalError("a worker process sent a malformed batch result");
  uint64_t n = 0;
  if (!GetU64(&in, &out->seq) || !GetU64(&in, &out->source) || !GetU64(&in, &out->end_offset) ||
      !GetU64(&in, &out->end_line)) {
    return corrupt;
  }
  BatchCounters& c = out->counters;
  for (uint64_t* v : {&c.lines, &c.events, &c.truncated_events, &c.dropped_lines, &c.bytes, &c.matched, &c.mismatched, &c.invalid_utf8,
                      &c.filtered_out, &out->oversized_lines}) {
    if (!GetU64(&in, v)) return corrupt;
  }
  if (!GetU64(&in, &n) || n > in.size() / 8) return corrupt;
  c.conversion_errors.resize(n);
  for (uint64_t& v : c.conversion_errors) {
    if (!GetU64(&in, &v)) return corrupt;
  }
  if (!GetU64(&in, &n) || n > in.size() / 8) return corrupt;
  out->records.resize(n);
  for (auto& r : out->records) {
    if (!GetBytes(&in, &r)) return corrupt;
  }
  std::string status;
  if (!GetBytes(&in, &out->rejects) || !GetBytes(&in, &status) || !in.empty() ||
      !Status::DecodeFrom(status, &out->error)) {
    return corrupt;
  }
  return Status::Ok();
}

void BatchRenderer::Render(const RecordBatch& batch, BatchOutput* out) const {
  const Chunk& chunk = batch.chunk();
  const std::string& source = inputs_[chunk.source];
  out->seq = chunk.seq;
  out->source = chunk.source;
  out->end_offset = chunk.offset + chunk.size();
  out->end_line = chunk.first_line + chunk.line_count;
  out->counters = batch.counters;
  out->oversized_lines = chunk.oversized.size();
  out->rejects.clear();
  out->error = Status::Ok();
  for (const OversizedLine& line : chunk.oversized) {
    Reject(source, line.line_number,
           "line of " + std::to_string(line.bytes) + " bytes is over read.max_line_bytes (" +
               std::to_string(plan_.chunker.max_line_bytes) + ")",
           line.head, out);
  }
  for (const RejectedRow& reject : batch.rejects) {
    Reject(source, batch.line_number(reject.row), RejectReasonName(reject.reason),
           batch.line(reject.row), out);
  }
  out->records.resize(plan_.record_outputs.size());
  for (size_t i = 0; i < plan_.record_outputs.size(); ++i) {
    out->records[i].clear();
    plan_.record_outputs[i].formatter->Format(batch, &out->records[i]);
  }
}

void BatchRenderer::Reject(const std::string& source, uint64_t line_number,
                           std::string_view reason, std::string_view line,
                           BatchOutput* out) const {
  if (plan_.on_mismatch == OnMismatch::kFail) {
    if (out->error.ok()) {  // the first bad line of the batch is the one to report
      std::string shown;
      AppendEscapedLine(line.substr(0, 200), &shown);
      out->error = DataError(source + ":" + std::to_string(line_number) + ": " +
                             std::string(reason) +
                             " (on_mismatch: fail stops at the first bad line; use count or "
                             "reject to keep going): " + shown);
    }
    return;
  }
  if (plan_.rejects_path.empty()) return;
  std::string& r = out->rejects;
  r += source;
  r += ':';
  r += std::to_string(line_number);
  r += '\t';
  r.append(reason);
  r += '\t';
  AppendEscapedLine(line, &r);
  r += '\n';
}

}  // namespace logpipe
