#pragma once
// The frames between the processes executor's parent and its shard processes (one
// socketpair per shard; see executor_processes.cc for who sends what when), and what both
// sides know of inputs and chunks. Used only by executor_processes.cc and processes_shard.cc.
//
// Frames (native byte order; both ends are the same binary on the same machine):
//   request: u64 type (1 chunk, 2 finish, 3 query), u64 meta_len, u64 data_len, meta, data
//     chunk meta: seq, source, offset, size, first_line, line_count, dropped_lines,
//                 truncated_events, last_in_source, attempt, has_data,
//                 range, limit, line_start (a range: offset/size are its [begin, end)),
//                 n_oversized, n x (line_number, bytes, head_len, head)
//     data: the chunk's bytes for a streamed input; empty for a plain one (the shard preads)
//     query meta: u64 aggregate index, then Aggregate::CompleteHeads's query bytes (no data)
//   reply:   u64 type (1 batch, 2 chunk error, 3 partials, 4 range done, 5 answer), u64 len,
//            payload
//     batch: sub (the chunk's index in its range, 0 for a chunk) + BatchOutput::EncodeTo;
//     chunk error: seq + Status::EncodeTo (the shard could not read a plain chunk or range);
//     range done: seq, number of chunks; partials: n, n x (len, Aggregate::Encode bytes, or
//     EncodeHead's when the run's partials only go to Finish), then the shard's track
//     (EncodeTrack); answer: Aggregate::AnswerQuery's bytes.

#include <sys/types.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "io/chunk.h"
#include "pipeline/run_trace.h"
#include "pipeline/wire_bytes.h"

namespace logpipe::processes {

enum RequestType : uint64_t { kRequestChunk = 1, kRequestFinish = 2, kRequestQuery = 3 };
enum ReplyType : uint64_t {
  kReplyBatch = 1,
  kReplyChunkError = 2,
  kReplyPartials = 3,
  kReplyRangeDone = 4,
  kReplyAnswer = 5,
};
constexpr size_t kRequestHeader = 24;  // type, meta_len, data_len
constexpr size_t kReplyHeader = 16;    // type, len

// Appends the header of a reply frame to `out` (a shard may send several frames in one
// write) and returns where the frame starts; EndReply(out, that) fills in its length once the
// body is appended.
inline size_t BeginReply(uint64_t type, std::string* out) {
  using wire::PutU64;
  const size_t at = out->size();
  PutU64(type, out);
  PutU64(0, out);
  return at;
}

inline void EndReply(std::string* out, size_t at) {
  uint64_t len = out->size() - at - kReplyHeader;
  std::memcpy(&(*out)[at + 8], &len, 8);
}

// How the parent found each input before the shards started (ClassifyInputs); shards check a
// plain file's identity against it before they read.
struct InputInfo {
  bool plain = false;       // local regular uncompressed file: shards pread it themselves
  bool compressed = false;  // gzip or zstd magic (offsets are in the decompressed stream)
  dev_t dev = 0;            // identity of a plain file, checked by the shards
  ino_t ino = 0;
  uint64_t size = 0;  // a plain file's size when the run started (ranges end there)
};

// Where a chunk is: enough to resend a plain chunk's descriptor and to name it in messages.
struct ChunkPlace {
  uint64_t seq = 0;
  uint64_t source = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t first_line = 1;
  uint64_t line_count = 0;
  uint64_t dropped_lines = 0;
  uint64_t truncated_events = 0;
  // A byte range of a plain input that the shard cuts into chunks itself: the lines starting
  // in [offset, offset + size), read up to `limit`; first_line is 0 when not known.
  bool range = false;
  uint64_t limit = 0;
  bool line_start = false;  // offset is known to start a line
};

struct ChunkDesc {
  ChunkPlace place;
  bool last_in_source = false;
  std::vector<OversizedLine> oversized;
};

// A chunk request's meta (the fields in the order above), and its reading by the shard: false
// on malformed bytes (short, an oversized-line count the bytes cannot hold, bytes left over).
void EncodeChunkMeta(const ChunkDesc& d, uint64_t attempt, bool has_data, std::string* out);
bool DecodeChunkMeta(std::string_view in, ChunkDesc* d, uint64_t* attempt, bool* has_data);

// A shard's track travels after its partials: the sums per kind, CPU and run-queue time, then
// its spans. DecodeTrack adds them to `track`; false on malformed bytes.
void EncodeTrack(const RunTrace::Track& track, std::string* out);
bool DecodeTrack(std::string_view* in, RunTrace::Track* track);

}  // namespace logpipe::processes
