#include "pipeline/processes_wire.h"

namespace logpipe::processes {

using wire::GetBytes;
using wire::GetU64;
using wire::PutBytes;
using wire::PutU64;

void EncodeChunkMeta(const ChunkDesc& d, uint64_t attempt, bool has_data, std::string* out) {
  const ChunkPlace& p = d.place;
  for (uint64_t v :
       {p.seq, p.source, p.offset, p.size, p.first_line, p.line_count, p.dropped_lines,
        p.truncated_events, uint64_t{d.last_in_source}, attempt, uint64_t{has_data},
        uint64_t{p.range}, p.limit, uint64_t{p.line_start}, uint64_t{d.oversized.size()}}) {
    PutU64(v, out);
  }
  for (const OversizedLine& line : d.oversized) {
    PutU64(line.line_number, out);
    PutU64(line.bytes, out);
    PutBytes(line.head, out);
  }
}

bool DecodeChunkMeta(std::string_view in, ChunkDesc* d, uint64_t* attempt, bool* has_data) {
  ChunkPlace& p = d->place;
  uint64_t last = 0, data = 0, range = 0, line_start = 0, n_oversized = 0;
  for (uint64_t* v :
       {&p.seq, &p.source, &p.offset, &p.size, &p.first_line, &p.line_count, &p.dropped_lines,
        &p.truncated_events, &last, attempt, &data, &range, &p.limit, &line_start, &n_oversized}) {
    if (!GetU64(&in, v)) return false;
  }
  d->last_in_source = last != 0;
  *has_data = data != 0;
  p.range = range != 0;
  p.line_start = line_start != 0;
  if (n_oversized > in.size() / 24) return false;
  d->oversized.resize(n_oversized);
  for (OversizedLine& line : d->oversized) {
    std::string_view head;
    if (!GetU64(&in, &line.line_number) || !GetU64(&in, &line.bytes) || !GetBytes(&in, &head)) {
      return false;
    }
    line.head.assign(head);
  }
  return in.empty();
}

void EncodeTrack(const RunTrace::Track& track, std::string* out) {
  for (int k = 0; k < kSpanKinds; ++k) {
    PutU64(static_cast<uint64_t>(track.total_ns(static_cast<SpanKind>(k))), out);
  }
  PutU64(static_cast<uint64_t>(track.cpu_ns()), out);
  PutU64(static_cast<uint64_t>(track.runq_ns()), out);
  PutU64(track.spans().size(), out);
  for (const Span& span : track.spans()) {
    for (uint64_t v : {static_cast<uint64_t>(span.kind), static_cast<uint64_t>(span.start_ns),
                       static_cast<uint64_t>(span.end_ns), span.seq}) {
      PutU64(v, out);
    }
  }
}

bool DecodeTrack(std::string_view* in, RunTrace::Track* track) {
  int64_t totals[kSpanKinds];
  uint64_t cpu = 0, runq = 0, n = 0;
  for (int64_t& t : totals) {
    uint64_t v = 0;
    if (!GetU64(in, &v)) return false;
    t = static_cast<int64_t>(v);
  }
  if (!GetU64(in, &cpu) || !GetU64(in, &runq) || !GetU64(in, &n) || n > in->size() / 32) {
    return false;
  }
  track->AddTotals(totals, static_cast<int64_t>(cpu), static_cast<int64_t>(runq));
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t kind = 0, start = 0, end = 0, seq = 0;
    if (!GetU64(in, &kind) || !GetU64(in, &start) || !GetU64(in, &end) || !GetU64(in, &seq) ||
        kind >= static_cast<uint64_t>(kSpanKinds)) {
      return false;
    }
    track->AppendSpan(
        {static_cast<SpanKind>(kind), static_cast<int64_t>(start), static_cast<int64_t>(end), seq});
  }
  return true;
}

}  // namespace logpipe::processes
