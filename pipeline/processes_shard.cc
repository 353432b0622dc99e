#include "pipeline/processes_shard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "io/chunker.h"
#include "io/line_range.h"
#include "io/posix_io.h"
#include "pipeline/work_item.h"

namespace logpipe::processes {

KillSpec ParseKillSpec() {
  KillSpec spec;
  const char* env = std::getenv("LOGPIPE_TEST_KILL_SHARD");
  if (env == nullptr || *env == '\0') return spec;
  char* end = nullptr;
  unsigned long long seq = 0;
  if (std::strncmp(env, "query", 5) == 0) {
    spec.at_query = true;
    end = const_cast<char*>(env) + 5;
  } else {
    errno = 0;
    seq = std::strtoull(env, &end, 10);
    if (errno != 0 || end == env) return spec;
  }
  if (std::strcmp(end, ":always") == 0) {
    spec.always = true;
  } else if (*end != '\0') {
    return spec;
  }
  spec.enabled = true;
  spec.seq = seq;
  return spec;
}

namespace {

using wire::PutU64;

// Moves all n bytes with `io` (read or write), retrying short transfers and EINTR; false on
// end of file or an error (the parent is gone).
template <typename Byte, typename Io>
bool TransferFull(int fd, Byte* buf, size_t n, Io io) {
  while (n > 0) {
    const ssize_t done = io(fd, buf, n);
    if (done > 0) {
      buf += done;
      n -= static_cast<size_t>(done);
    } else if (done < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

bool ReadFull(int fd, char* buf, size_t n) { return TransferFull(fd, buf, n, ::read); }
bool WriteFull(int fd, const char* buf, size_t n) { return TransferFull(fd, buf, n, ::write); }

// Says something on stderr without stdio (its buffers belong to the parent's copy).
void ShardSay(const char* text) {
  ssize_t ignored = write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

// The shard's own view of one plain input: its fd and the file's identity.
struct PlainFile {
  uint64_t source = UINT64_MAX;
  int fd = -1;
};

// Opens plain input `source` in `*file` unless it is already open there, checking that it is
// still the file the parent examined.
Status OpenPlain(const ShardContext& ctx, uint64_t source, PlainFile* file) {
  const std::string& path = (*ctx.inputs)[source];
  if (file->source != source) {
    if (file->fd >= 0) close(file->fd);
    file->fd = -1;
    file->source = UINT64_MAX;
    int fd = OpenRetrying(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return IoError(path + ": a worker process cannot open it: " + strerror(errno) +
                     "; was it removed or renamed during the run?");
    }
    const InputInfo& info = (*ctx.infos)[source];
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_dev != info.dev || st.st_ino != info.ino) {
      close(fd);
      return IoError(path +
                     ": the file was replaced during the run (a worker process found "
                     "another file under its name, e.g. after log rotation); run again "
                     "when it is stable, or read it with model serial");
    }
    file->fd = fd;
    file->source = source;
  }
  return Status::Ok();
}

// Reads a plain chunk's bytes [offset, offset + size) from the shard's own fd of the input.
Status ReadPlainChunk(const ShardContext& ctx, const ChunkPlace& p, PlainFile* file, Chunk* chunk) {
  chunk->set_size(0);
  if (p.size == 0) return Status::Ok();  // a chunk with oversized lines only
  const std::string& path = (*ctx.inputs)[p.source];
  LOGPIPE_RETURN_IF_ERROR(OpenPlain(ctx, p.source, file));
  chunk->Reserve(p.size);
  LOGPIPE_RETURN_IF_ERROR(
      PreadFull(file->fd, path, p.offset, chunk->mutable_data(), static_cast<size_t>(p.size)));
  chunk->set_size(p.size);
  return Status::Ok();
}

// Replies of a range waiting in the shard are sent once they reach this size, or when the
// range is done. A job without records or rejects has batches of a few dozen bytes; sending
// each on its own woke the parent once per chunk (~1,000 times per GiB) for nothing.
constexpr size_t kReplyFlushBytes = size_t{256} << 10;

// Sends the reply frames waiting in `reply` and empties it. False if the parent is gone.
bool SendReplies(RunTrace::Track* track, uint64_t seq, int fd, std::string* reply) {
  ScopedSpan span(track, SpanKind::kWaitOutput, seq);
  const bool sent = WriteFull(fd, reply->data(), reply->size());
  reply->clear();
  return sent;
}

// Runs the segment on `item` (its chunk filled in) and appends the rendered batch to `reply`,
// preceded by its index among the unit's batches.
void ProcessInto(const ShardContext& ctx, WorkItem& item, WorkerState& state, uint64_t sub,
                 RunTrace::Track* track, std::string* reply) {
  const Plan& plan = *ctx.plan;
  ScopedSpan span(track, SpanKind::kWork, item.chunk.seq);
  item.batch.Reset(item.chunk, plan.schema.size(), plan.starts_event());
  RunSegmentStages(plan, plan.segments[0], item, state);
  ctx.renderer->Render(item.batch, &item.output);
  const size_t at = BeginReply(kReplyBatch, reply);
  PutU64(sub, reply);
  item.output.EncodeTo(reply);
  EndReply(reply, at);
}

// Appends a chunk error to the replies waiting in `reply` and sends them all. False if the
// parent is gone.
bool SendChunkError(uint64_t seq, const Status& error, RunTrace::Track* track, int fd,
                    std::string* reply) {
  const size_t at = BeginReply(kReplyChunkError, reply);
  PutU64(seq, reply);
  error.EncodeTo(reply);
  EndReply(reply, at);
  return SendReplies(track, seq, fd, reply);
}

// Serves a range request: cuts the lines the range owns into chunks with the plan's Chunker
// (so chunk_bytes, max_line_bytes and oversized lines work as in the parent), sends one batch
// per chunk (gathered up to kReplyFlushBytes per write), then "range done" with their number.
// A read error is sent as the unit's chunk error after the batches before it. False if the
// parent is gone.
bool ServeRange(const ShardContext& ctx, const ChunkPlace& p, PlainFile* file, WorkItem& item,
                WorkerState& state, RunTrace::Track* track, int fd, std::string* reply) {
  const Plan& plan = *ctx.plan;
  LineRange range;
  range.begin = p.offset;
  range.end = p.offset + p.size;
  range.limit = p.limit;
  range.begin_is_line_start = p.line_start;
  range.first_line = p.first_line;
  uint64_t sub = 0;
  Status st;
  {
    ScopedSpan span(track, SpanKind::kRead, p.seq);
    st = OpenPlain(ctx, p.source, file);
  }
  if (st.ok()) {
    auto owned = std::make_unique<LineRangeSource>((*ctx.inputs)[p.source], file->fd, range);
    LineRangeSource* source = owned.get();
    {
      ScopedSpan span(track, SpanKind::kRead, p.seq);
      st = source->Start();
    }
    const uint64_t start = source->start();
    // Line numbers are only known in the region's first range; elsewhere they count from 1 at
    // the range's first line (ProcessesParentCutsReason keeps plans that render them away).
    const uint64_t line_base = range.first_line > 0 ? range.first_line - 1 : 0;
    Chunker chunker(std::move(owned), static_cast<uint32_t>(p.source), plan.chunker);
    Chunk& chunk = item.chunk;
    while (st.ok()) {
      Result<bool> more = false;
      {
        ScopedSpan span(track, SpanKind::kRead, p.seq);
        more = chunker.Next(&chunk);
      }
      if (!more.ok()) {
        st = more.status();
        break;
      }
      if (!*more) break;
      chunk.seq = p.seq;
      chunk.offset += start;
      chunk.first_line += line_base;
      for (OversizedLine& line : chunk.oversized) line.line_number += line_base;
      chunk.last_in_source = chunk.last_in_source && range.end >= range.limit;
      ProcessInto(ctx, item, state, sub, track, reply);
      if (reply->size() >= kReplyFlushBytes && !SendReplies(track, p.seq, fd, reply)) {
        return false;
      }
      ++sub;
    }
  }
  if (!st.ok()) return SendChunkError(p.seq, st, track, fd, reply);
  const size_t at = BeginReply(kReplyRangeDone, reply);
  PutU64(p.seq, reply);
  PutU64(sub, reply);
  EndReply(reply, at);
  return SendReplies(track, p.seq, fd, reply);
}

// Serves requests until "finish" (or until the parent goes away); never returns.
[[noreturn]] void ShardLoop(const ShardContext& ctx, int fd) {
  const Plan& plan = *ctx.plan;
  const Segment& segment = plan.segments[0];
  WorkerState state = NewWorkerState(plan, segment);
  WorkItem item;
  PlainFile file;
  std::string meta, reply;
  ChunkDesc request;  // the current request's meta (its oversized lines' storage is reused)
  RunTrace::Track* track = ctx.trace->NewTrack("shard", segment.label());
  bool finished = false;  // heads sent: only queries now
  bool queried = false;
  for (;;) {
    uint64_t header[3];
    // EOF: the parent closed the socket because it is stopping; nothing to report.
    bool got_request;
    {
      ScopedSpan span(track, SpanKind::kWaitInput);
      got_request = ReadFull(fd, reinterpret_cast<char*>(header), sizeof header);
    }
    // EOF: the parent stops the run, or has all it asked for.
    if (!got_request) _exit(0);
    if (header[0] == kRequestFinish) {
      if (finished) _exit(2);
      reply.clear();
      const size_t at = BeginReply(kReplyPartials, &reply);
      {
        ScopedSpan span(track, SpanKind::kMerge);  // encoding them, for the parent's merge
        PutU64(plan.aggregates.size(), &reply);
        for (size_t a = 0; a < plan.aggregates.size(); ++a) {
          // Encoded straight into the reply (as PutBytes would frame it): partials can be tens
          // of MiB, and every extra copy is fresh pages to fault in at the end of the run.
          const size_t at = reply.size();
          PutU64(0, &reply);
          if (ctx.heads) {
            plan.aggregates[a]->EncodeHead(*state.partials[a], &reply);
          } else {
            plan.aggregates[a]->Encode(*state.partials[a], &reply);
          }
          const uint64_t len = reply.size() - at - 8;
          std::memcpy(&reply[at], &len, 8);
        }
      }
      EncodeTrack(*track, &reply);
      EndReply(&reply, at);
      const bool sent = WriteFull(fd, reply.data(), reply.size());
      // Skip every destructor: nothing of the parent's (temp output files) may be touched.
      if (!sent || !ctx.heads) _exit(sent ? 0 : 1);
      finished = true;
      continue;
    }
    if (header[0] == kRequestQuery) {
      if (!finished || header[1] < 8 || header[1] > (uint64_t{1} << 40) || header[2] != 0) {
        _exit(2);
      }
      meta.resize(header[1]);
      if (!ReadFull(fd, meta.data(), meta.size())) _exit(1);
      if (ctx.kill.enabled && ctx.kill.at_query && !queried && ctx.shard == 0 &&
          (ctx.kill.always || ctx.attempt == 0)) {
        raise(SIGKILL);
      }
      queried = true;
      uint64_t a = 0;
      std::memcpy(&a, meta.data(), 8);
      if (a >= plan.aggregates.size()) _exit(2);
      reply.clear();
      const size_t at = BeginReply(kReplyAnswer, &reply);
      const Status st = plan.aggregates[a]->AnswerQuery(*state.partials[a],
                                                        std::string_view(meta).substr(8), &reply);
      if (!st.ok()) _exit(2);
      EndReply(&reply, at);
      if (!WriteFull(fd, reply.data(), reply.size())) _exit(1);
      continue;
    }
    if (finished) _exit(2);
    if (header[0] != kRequestChunk || header[1] > (uint64_t{1} << 32)) _exit(2);
    meta.resize(header[1]);
    if (!ReadFull(fd, meta.data(), meta.size())) _exit(1);

    Chunk& chunk = item.chunk;
    uint64_t attempt = 0;
    bool has_data = false;
    if (!DecodeChunkMeta(meta, &request, &attempt, &has_data) ||
        request.place.source >= ctx.inputs->size()) {
      _exit(2);
    }
    const ChunkPlace& p = request.place;
    chunk.oversized.swap(request.oversized);
    if (ctx.kill.enabled && !ctx.kill.at_query && ctx.kill.seq == p.seq &&
        (ctx.kill.always || attempt == 0)) {
      raise(SIGKILL);
    }
    if (p.range) {
      if (header[2] != 0 || has_data || !(*ctx.infos)[p.source].plain) _exit(2);
      if (!ServeRange(ctx, p, &file, item, state, track, fd, &reply)) _exit(1);
      continue;
    }

    Status read_status;
    {
      ScopedSpan span(track, SpanKind::kRead, p.seq);
      if (has_data) {
        if (header[2] != p.size) _exit(2);
        chunk.set_size(0);
        chunk.Reserve(p.size);
        if (!ReadFull(fd, chunk.mutable_data(), p.size)) _exit(1);
        chunk.set_size(p.size);
      } else {
        if (header[2] != 0 || !(*ctx.infos)[p.source].plain) _exit(2);
        read_status = ReadPlainChunk(ctx, p, &file, &chunk);
      }
    }
    if (!read_status.ok()) {
      if (!SendChunkError(p.seq, read_status, track, fd, &reply)) _exit(1);
      continue;
    }
    chunk.seq = p.seq;
    chunk.source = static_cast<uint32_t>(p.source);
    chunk.offset = p.offset;
    chunk.first_line = p.first_line;
    chunk.line_count = p.line_count;
    chunk.dropped_lines = p.dropped_lines;
    chunk.truncated_events = p.truncated_events;
    chunk.last_in_source = request.last_in_source;
    ProcessInto(ctx, item, state, /*sub=*/0, track, &reply);
    if (!SendReplies(track, p.seq, fd, &reply)) _exit(1);  // the parent is gone
  }
}

}  // namespace

[[noreturn]] void ShardMain(const ShardContext& ctx, int fd) {
  try {
    ShardLoop(ctx, fd);
  } catch (...) {  // e.g. std::bad_alloc: die without unwinding into the parent's code
    ShardSay("logpipe: a worker process failed with an exception\n");
    _exit(3);
  }
}

}  // namespace logpipe::processes
