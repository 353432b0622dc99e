// The processes executor (see executor_processes.h for the contract).
//
//   parent (this thread)                                  shard i (forked at the start of Run)
//   InputStream.Next -> chunk ---- request frame ---->    plain: pread [offset, offset+size)
//     plain input: descriptor only                          from its own fd of the input;
//     streamed input: descriptor + bytes                    streamed: bytes from the frame
//                                                           RunSegmentStages + Render
//   reorder by seq, DeliverBatch <-- batch frame ------     BatchOutput::EncodeTo
//   ...
//   "finish" ------------------------------------------->   every aggregate's Encode()
//   Decode + Merge in shard order <-- partials frame --     _exit(0)
//
// One socketpair per shard (SOCK_STREAM; the brief said two pipes: a socket is one fd per side
// and lets the parent send with MSG_NOSIGNAL, so a dead shard is an EPIPE, never a SIGPIPE that
// would kill the parent). The parent never blocks on a shard: requests go into a per-shard
// buffer written with MSG_DONTWAIT when poll() says there is room, and replies are read the
// same way. That matters: with blocking writes the parent could block sending a 4 MiB chunk to
// a shard that is itself blocked sending its 4 MiB result back. Each shard reads a request,
// answers it, and reads the next (blocking I/O is fine on its side).
//
// Frames (native byte order; both ends are the same binary on the same machine):
//   request: u64 type (1 chunk, 2 finish), u64 meta_len, u64 data_len, meta, data
//     chunk meta: seq, source, offset, size, first_line, line_count, dropped_lines,
//                 truncated_events, last_in_source, attempt,
//                 has_data, n_oversized, n x (line_number, bytes, head_len, head)
//     data: the chunk's bytes for a streamed input; empty for a plain one (the shard preads)
//   reply:   u64 type (1 batch, 2 chunk error, 3 partials), u64 len, payload
//     batch: BatchOutput::EncodeTo; chunk error: seq + Status::EncodeTo (the shard could not
//     read a plain chunk); partials: n, n x (len, Aggregate::Encode bytes).
//
// Flow control: at most kMaxInFlightPerShard requests per shard, and at most plan.live_tokens
// chunks read but not yet delivered (so a slow chunk cannot make the others pile up).

#include "pipeline/executor_processes.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/input_stream.h"
#include "pipeline/run_interrupt.h"
#include "pipeline/wire_bytes.h"
#include "pipeline/work_item.h"

namespace logpipe {
namespace {

constexpr size_t kMaxInFlightPerShard = 2;
constexpr size_t kRecvBlock = size_t{256} << 10;
constexpr int kSocketBufferBytes = 4 << 20;
constexpr int kStopPollMillis = 100;  // how often a busy wait looks at StopRequested()
// A reply longer than this is garbage (a chunk's rendered output is a few times chunk_bytes).
constexpr uint64_t kMaxReplyBytes = uint64_t{1} << 40;

enum RequestType : uint64_t { kRequestChunk = 1, kRequestFinish = 2 };
enum ReplyType : uint64_t { kReplyBatch = 1, kReplyChunkError = 2, kReplyPartials = 3 };

constexpr size_t kRequestHeader = 24;  // type, meta_len, data_len
constexpr size_t kReplyHeader = 16;    // type, len

// ---- bytes

using wire::GetBytes;
using wire::GetU64;
using wire::PutBytes;
using wire::PutU64;

// Starts a reply frame in `out` (cleared); EndReply fills in its length.
void BeginReply(uint64_t type, std::string* out) {
  out->clear();
  PutU64(type, out);
  PutU64(0, out);
}

void EndReply(std::string* out) {
  uint64_t len = out->size() - kReplyHeader;
  std::memcpy(&(*out)[8], &len, 8);
}

// Received bytes not yet parsed, in one growable buffer (no zero-filling on growth, unlike
// std::string::resize, which would memset every receive block).
class RecvBuffer {
 public:
  // Room for at least `n` more bytes at the end.
  char* Space(size_t n) {
    if (cap_ - end_ < n && begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (cap_ - end_ < n) {
      size_t cap = std::max(2 * cap_, end_ + n);
      std::unique_ptr<char[]> bigger(new char[cap]);
      if (end_ > 0) std::memcpy(bigger.get(), buf_.get(), end_);
      buf_ = std::move(bigger);
      cap_ = cap;
    }
    return buf_.get() + end_;
  }
  void Commit(size_t n) { end_ += n; }
  std::string_view data() const { return std::string_view(buf_.get() + begin_, end_ - begin_); }
  void Consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void Clear() { begin_ = end_ = 0; }

 private:
  std::unique_ptr<char[]> buf_;
  size_t begin_ = 0, end_ = 0, cap_ = 0;
};

// ---- what the parent knows about inputs and chunks

struct InputInfo {
  bool plain = false;       // local regular uncompressed file: shards pread it themselves
  bool compressed = false;  // gzip or zstd magic (offsets are in the decompressed stream)
  dev_t dev = 0;            // identity of a plain file, checked by the shards
  ino_t ino = 0;
};

// Decides per input, before the shards start, how its chunks reach them. Anything that cannot
// be examined here is streamed: the InputStream will report the real error in order.
std::vector<InputInfo> ClassifyInputs(const std::vector<std::string>& inputs) {
  std::vector<InputInfo> infos(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string& path = inputs[i];
    if (path == "-") continue;
    struct stat st;
    // stat first: opening a FIFO would block, and reading it would consume it.
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    int fd;
    do {
      fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) continue;
    unsigned char m[4];
    size_t have = 0;
    while (have < sizeof m) {
      ssize_t n = pread(fd, m + have, sizeof m - have, static_cast<off_t>(have));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      have += static_cast<size_t>(n);
    }
    struct stat fst;
    if (fstat(fd, &fst) == 0 && S_ISREG(fst.st_mode)) {
      // The same rule as DecodeByMagic (io/byte_source.cc).
      const bool gzip = have >= 2 && m[0] == 0x1f && m[1] == 0x8b;
      const bool zstd = have >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd;
      infos[i].compressed = gzip || zstd;
      infos[i].plain = !infos[i].compressed;
      infos[i].dev = fst.st_dev;
      infos[i].ino = fst.st_ino;
    }
    close(fd);
  }
  return infos;
}

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
};

struct ChunkDesc {
  ChunkPlace place;
  bool last_in_source = false;
  std::vector<OversizedLine> oversized;
};

ChunkDesc DescOf(const Chunk& chunk) {
  ChunkDesc d;
  d.place = {chunk.seq,    chunk.source,     chunk.offset,
             chunk.size(), chunk.first_line, chunk.line_count,
             chunk.dropped_lines, chunk.truncated_events};
  d.last_in_source = chunk.last_in_source;
  d.oversized = chunk.oversized;
  return d;
}

void EncodeChunkMeta(const ChunkDesc& d, uint64_t attempt, bool has_data, std::string* out) {
  const ChunkPlace& p = d.place;
  for (uint64_t v :
       {p.seq, p.source, p.offset, p.size, p.first_line, p.line_count, p.dropped_lines,
        p.truncated_events, uint64_t{d.last_in_source},
        attempt, uint64_t{has_data}, uint64_t{d.oversized.size()}}) {
    PutU64(v, out);
  }
  for (const OversizedLine& line : d.oversized) {
    PutU64(line.line_number, out);
    PutU64(line.bytes, out);
    PutBytes(line.head, out);
  }
}

// ---- the shard (child process) side

struct KillSpec {
  bool enabled = false;
  uint64_t seq = 0;
  bool always = false;
};

KillSpec ParseKillSpec() {
  KillSpec spec;
  const char* env = std::getenv("LOGPIPE_TEST_KILL_SHARD");
  if (env == nullptr || *env == '\0') return spec;
  char* end = nullptr;
  errno = 0;
  unsigned long long seq = std::strtoull(env, &end, 10);
  if (errno != 0 || end == env) return spec;
  if (std::strcmp(end, ":always") == 0) {
    spec.always = true;
  } else if (*end != '\0') {
    return spec;
  }
  spec.enabled = true;
  spec.seq = seq;
  return spec;
}

// Everything a shard needs; it inherits it through fork.
struct ShardContext {
  const Plan* plan = nullptr;
  const std::vector<std::string>* inputs = nullptr;
  const BatchRenderer* renderer = nullptr;
  const std::vector<InputInfo>* infos = nullptr;
  KillSpec kill;
  RunTrace* trace = nullptr;  // the shard records its own track in its copy
};

bool ReadFull(int fd, char* buf, size_t n) {
  while (n > 0) {
    ssize_t got = read(fd, buf, n);
    if (got > 0) {
      buf += got;
      n -= static_cast<size_t>(got);
    } else if (got < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

bool WriteFull(int fd, const char* buf, size_t n) {
  while (n > 0) {
    ssize_t put = write(fd, buf, n);
    if (put > 0) {
      buf += put;
      n -= static_cast<size_t>(put);
    } else if (put < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

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

// Reads a plain chunk's bytes [offset, offset + size) from the shard's own fd of the input.
Status ReadPlainChunk(const ShardContext& ctx, const ChunkPlace& p, PlainFile* file, Chunk* chunk) {
  chunk->set_size(0);
  if (p.size == 0) return Status::Ok();  // a chunk with oversized lines only
  const std::string& path = (*ctx.inputs)[p.source];
  if (file->source != p.source) {
    if (file->fd >= 0) close(file->fd);
    file->fd = -1;
    file->source = UINT64_MAX;
    int fd;
    do {
      fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      return IoError(path + ": a worker process cannot open it: " + strerror(errno) +
                     "; was it removed or renamed during the run?");
    }
    const InputInfo& info = (*ctx.infos)[p.source];
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_dev != info.dev || st.st_ino != info.ino) {
      close(fd);
      return IoError(path +
                     ": the file was replaced during the run (a worker process found "
                     "another file under its name, e.g. after log rotation); run again "
                     "when it is stable, or read it with model serial");
    }
    file->fd = fd;
    file->source = p.source;
  }
  chunk->Reserve(p.size);
  char* buf = chunk->mutable_data();
  uint64_t done = 0;
  while (done < p.size) {
    ssize_t got = pread(file->fd, buf + done, p.size - done, static_cast<off_t>(p.offset + done));
    if (got > 0) {
      done += static_cast<uint64_t>(got);
    } else if (got < 0 && errno == EINTR) {
      continue;
    } else if (got == 0) {
      return IoError(path + ": the file shrank during the run: bytes " +
                     std::to_string(p.offset + done) + "-" + std::to_string(p.offset + p.size) +
                     " are gone (was it truncated?); run again when it is stable");
    } else {
      return IoError(path + ": read failed at byte " + std::to_string(p.offset + done) + ": " +
                     strerror(errno) + "; check the disk or device holding it");
    }
  }
  chunk->set_size(p.size);
  return Status::Ok();
}

// A shard's track travels after its partials: the sums per kind, CPU and run-queue time, then
// its spans.
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
    track->AppendSpan({static_cast<SpanKind>(kind), static_cast<int64_t>(start),
                       static_cast<int64_t>(end), seq});
  }
  return true;
}

// Serves requests until "finish" (or until the parent goes away); never returns.
[[noreturn]] void ShardLoop(const ShardContext& ctx, int fd) {
  const Plan& plan = *ctx.plan;
  const Segment& segment = plan.segments[0];
  WorkerState state = NewWorkerState(plan, segment);
  WorkItem item;
  PlainFile file;
  std::string meta, reply, bytes;
  RunTrace::Track* track = ctx.trace->NewTrack("shard", segment.label());
  for (;;) {
    uint64_t header[3];
    // EOF: the parent closed the socket because it is stopping; nothing to report.
    bool got_request;
    {
      ScopedSpan span(track, SpanKind::kWaitInput);
      got_request = ReadFull(fd, reinterpret_cast<char*>(header), sizeof header);
    }
    if (!got_request) _exit(0);
    if (header[0] == kRequestFinish) {
      BeginReply(kReplyPartials, &reply);
      PutU64(plan.aggregates.size(), &reply);
      for (size_t a = 0; a < plan.aggregates.size(); ++a) {
        bytes.clear();
        plan.aggregates[a]->Encode(*state.partials[a], &bytes);
        PutBytes(bytes, &reply);
      }
      EncodeTrack(*track, &reply);
      EndReply(&reply);
      // Skip every destructor: nothing of the parent's (temp output files) may be touched.
      _exit(WriteFull(fd, reply.data(), reply.size()) ? 0 : 1);
    }
    if (header[0] != kRequestChunk || header[1] > (uint64_t{1} << 32)) _exit(2);
    meta.resize(header[1]);
    if (!ReadFull(fd, meta.data(), meta.size())) _exit(1);

    std::string_view in = meta;
    Chunk& chunk = item.chunk;
    ChunkPlace p;
    uint64_t last = 0, attempt = 0, has_data = 0, n_oversized = 0;
    for (uint64_t* v : {&p.seq, &p.source, &p.offset, &p.size, &p.first_line, &p.line_count,
                        &p.dropped_lines, &p.truncated_events, &last,
                        &attempt, &has_data, &n_oversized}) {
      if (!GetU64(&in, v)) _exit(2);
    }
    if (p.source >= ctx.inputs->size() || n_oversized > in.size() / 24) _exit(2);
    chunk.oversized.resize(n_oversized);
    for (OversizedLine& line : chunk.oversized) {
      std::string_view head;
      if (!GetU64(&in, &line.line_number) || !GetU64(&in, &line.bytes) || !GetBytes(&in, &head)) {
        _exit(2);
      }
      line.head.assign(head);
    }
    if (ctx.kill.enabled && ctx.kill.seq == p.seq && (ctx.kill.always || attempt == 0)) {
      raise(SIGKILL);
    }

    Status read_status;
    {
      ScopedSpan span(track, SpanKind::kRead, p.seq);
      if (has_data != 0) {
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
      BeginReply(kReplyChunkError, &reply);
      PutU64(p.seq, &reply);
      read_status.EncodeTo(&reply);
      EndReply(&reply);
      if (!WriteFull(fd, reply.data(), reply.size())) _exit(1);
      continue;
    }
    chunk.seq = p.seq;
    chunk.source = static_cast<uint32_t>(p.source);
    chunk.offset = p.offset;
    chunk.first_line = p.first_line;
    chunk.line_count = p.line_count;
    chunk.dropped_lines = p.dropped_lines;
    chunk.truncated_events = p.truncated_events;
    chunk.last_in_source = last != 0;

    {
      ScopedSpan span(track, SpanKind::kWork, p.seq);
      item.batch.Reset(chunk, plan.schema.size(), plan.starts_event());
      RunSegmentStages(plan, segment, item, state);
      ctx.renderer->Render(item.batch, &item.output);
      BeginReply(kReplyBatch, &reply);
      item.output.EncodeTo(&reply);
      EndReply(&reply);
    }
    ScopedSpan span(track, SpanKind::kWaitOutput, p.seq);
    if (!WriteFull(fd, reply.data(), reply.size())) _exit(1);  // the parent is gone
  }
}

[[noreturn]] void ShardMain(const ShardContext& ctx, int fd) {
  try {
    ShardLoop(ctx, fd);
  } catch (...) {  // e.g. std::bad_alloc: die without unwinding into the parent's code
    ShardSay("logpipe: a worker process failed with an exception\n");
    _exit(3);
  }
}

// ---- the parent side

// How a shard process died ("was killed by signal 9 (Killed)") and on what (" while ...").
struct Death {
  pid_t pid = -1;
  std::string how;
  std::string where;
};

struct Shard {
  int id = 0;
  pid_t pid = -1;
  int fd = -1;
  int attempt = 0;  // 0: first process; 1: the replacement after a crash
  bool finish_sent = false;
  bool finished = false;              // its partials arrived
  bool streamed = false;              // it was sent chunks whose bytes are not kept: no retry
  std::vector<ChunkDesc> replayable;  // every plain chunk it was given, for a replacement
  std::deque<size_t> to_send;         // replayable[i] still to resend to the replacement
  std::deque<ChunkPlace> in_flight;   // sent, reply not yet received, in send order
  std::string out;                    // requests not yet written
  size_t out_pos = 0;
  RecvBuffer in;
  std::vector<std::unique_ptr<Partial>> partials;
  Death first_death;  // how its first process died, for the final message
};

// A received chunk result: its output, or the error a shard met reading it.
struct Pending {
  std::unique_ptr<BatchOutput> output;
  Status error;
};

std::string DescribeExit(bool reaped, int status) {
  if (!reaped) return "disappeared (its exit status is unknown)";
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = strsignal(sig);
    return "was killed by signal " + std::to_string(sig) + " (" + (name ? name : "unknown") + ")";
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "stopped (wait status " + std::to_string(status) + ")";
}

// Waits for `pid`; false if it cannot be waited for (e.g. SIGCHLD is ignored).
bool Reap(pid_t pid, int* status) {
  for (;;) {
    pid_t got = waitpid(pid, status, 0);
    if (got == pid) return true;
    if (got < 0 && errno == EINTR) continue;
    return false;
  }
}

class ProcessesRun {
 public:
  ProcessesRun(const Plan& plan, const std::vector<std::string>& inputs,
               const std::vector<InputRange>& ranges, const BatchRenderer& renderer,
               OrderedConsumer& consumer, RunResult* result)
      : plan_(plan), inputs_(inputs), ranges_(ranges), renderer_(renderer), consumer_(consumer),
        result_(result) {}
  ~ProcessesRun() { KillAll(); }
  ProcessesRun(const ProcessesRun&) = delete;
  ProcessesRun& operator=(const ProcessesRun&) = delete;

  Status Run() {
    const bool one_segment = plan_.segments.size() == 1 && plan_.segments[0].first_stage == 0 &&
                             plan_.segments[0].end_stage == plan_.config.stages.size();
    assert(one_segment);
    if (!one_segment) {
      return InternalError(
          "the processes executor runs every CPU stage in its shards, so the "
          "plan must have exactly one segment covering every stage");
    }
    result_->stats.counters.Clear(plan_.schema.size());
    window_ = std::max<uint64_t>(plan_.live_tokens, 1);
    infos_ = ClassifyInputs(inputs_);
    ctx_.plan = &plan_;
    ctx_.inputs = &inputs_;
    ctx_.renderer = &renderer_;
    ctx_.infos = &infos_;
    ctx_.kill = ParseKillSpec();
    ctx_.trace = &result_->trace;
    parent_ = result_->trace.NewTrack("parent", "read, dispatch, deliver");

    shards_.resize(static_cast<size_t>(std::max(1, plan_.segments[0].workers)));
    {
      ScopedSpan span(parent_, SpanKind::kSetup);
      for (size_t i = 0; i < shards_.size(); ++i) {
        shards_[i].id = static_cast<int>(i);
        LOGPIPE_RETURN_IF_ERROR(Spawn(shards_[i]));
      }
    }
    Status status = Loop();
    if (!status.ok()) {
      KillAll();
      return status;
    }
    ScopedSpan span(parent_, SpanKind::kMerge);
    MergePartialsInShardOrder();
    return Status::Ok();
  }

  const ProcessesExecutorStats& stats() const { return stats_; }

 private:
  std::string ShardName(const Shard& s, pid_t pid) const {
    return "worker process shard " + std::to_string(s.id) + " (pid " + std::to_string(pid) + ")";
  }

  Status Spawn(Shard& s) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return InternalError("cannot create a socket for worker process shard " +
                           std::to_string(s.id) + ": " + strerror(errno) +
                           "; use fewer workers, or model threads");
    }
    // Bigger socket buffers: a MiB-sized chunk or result goes in one or two sends instead of
    // ~200 KiB pieces, each a poll() wake-up on both sides (measured: on gzip input, system
    // time 0.35 s -> 0.08 s for 140 MB). The kernel caps them at net.core.wmem_max/rmem_max and
    // only allocates what is queued; failing to set them is harmless.
    for (int fd : sv) {
      int bytes = kSocketBufferBytes;
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }
    std::vector<int> others;  // other shards' parent ends: the child must not hold them open
    for (const Shard& o : shards_) {
      if (&o != &s && o.fd >= 0) others.push_back(o.fd);
    }
    const pid_t parent = getpid();
    const auto start = std::chrono::steady_clock::now();
    sigset_t old_mask;
    BlockRunSignals(&old_mask);  // a SIGTERM during fork is the parent's, not the child's
    const pid_t pid = fork();
    const int fork_errno = errno;
    if (pid == 0) {
      // The child: never returns and never runs the parent's destructors (see ShardMain).
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);  // the parent died before prctl took effect
      // Closes the --lock descriptor (a shard must never keep the run's lock) and leaves
      // SIGINT/SIGTERM to the parent, which stops the shards (pipeline/run_interrupt.h).
      InShardAfterFork(old_mask);
      close(sv[0]);
      for (int fd : others) close(fd);
      ShardMain(ctx_, sv[1]);
    }
    if (pid > 0) RegisterShard(pid);  // before a pending signal can run the forced stop
    RestoreSignalMask(old_mask);
    stats_.fork_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    close(sv[1]);
    if (pid < 0) {
      close(sv[0]);
      return InternalError("cannot fork worker process shard " + std::to_string(s.id) + ": " +
                           strerror(fork_errno) + "; use fewer workers, or model threads");
    }
    s.pid = pid;
    s.fd = sv[0];
    ++stats_.shards_started;
    return Status::Ok();
  }

  void KillAll() {
    for (Shard& s : shards_) {
      if (s.pid > 0) kill(s.pid, SIGKILL);
    }
    for (Shard& s : shards_) {
      if (s.fd >= 0) close(s.fd);
      s.fd = -1;
      int status = 0;
      if (s.pid > 0) {
        UnregisterShard(s.pid);
        Reap(s.pid, &status);
      }
      s.pid = -1;
    }
  }

  void AppendChunkRequest(Shard& s, const ChunkDesc& d, const char* data, bool has_data) {
    const size_t start = s.out.size();
    const uint64_t data_len = has_data ? d.place.size : 0;
    PutU64(kRequestChunk, &s.out);
    PutU64(0, &s.out);  // meta_len, filled in below
    PutU64(data_len, &s.out);
    EncodeChunkMeta(d, static_cast<uint64_t>(s.attempt), has_data, &s.out);
    const uint64_t meta_len = s.out.size() - start - kRequestHeader;
    std::memcpy(&s.out[start + 8], &meta_len, 8);
    if (has_data) s.out.append(data, data_len);
    stats_.request_bytes += s.out.size() - start;
    s.in_flight.push_back(d.place);
  }

  void AppendFinish(Shard& s) {
    for (uint64_t v : {uint64_t{kRequestFinish}, uint64_t{0}, uint64_t{0}}) PutU64(v, &s.out);
    stats_.request_bytes += kRequestHeader;
    s.finish_sent = true;
  }

  // Hands the chunk just read to shard `s`.
  void Assign(Shard& s, const Chunk& chunk) {
    ChunkDesc d = DescOf(chunk);
    if (infos_[chunk.source].plain) {
      AppendChunkRequest(s, d, nullptr, /*has_data=*/false);
      s.replayable.push_back(std::move(d));
      ++stats_.plain_chunks;
    } else {
      AppendChunkRequest(s, d, chunk.data(), /*has_data=*/true);
      s.streamed = true;
      ++stats_.streamed_chunks;
    }
  }

  // A live shard with room for a new chunk, the least busy first; null if none.
  Shard* PickShard() {
    Shard* best = nullptr;
    for (Shard& s : shards_) {
      if (s.fd < 0 || s.finish_sent || !s.to_send.empty() ||
          s.in_flight.size() >= kMaxInFlightPerShard) {
        continue;
      }
      if (best == nullptr || s.in_flight.size() < best->in_flight.size()) best = &s;
    }
    return best;
  }

  // Writes what the socket takes now. A shard that is gone shows up as EOF on the read side
  // (after any replies it sent before dying), so a failed send only drops the requests.
  void Flush(Shard& s) {
    while (s.out_pos < s.out.size()) {
      ssize_t n = send(s.fd, s.out.data() + s.out_pos, s.out.size() - s.out_pos,
                       MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        s.out_pos += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      } else {
        break;  // EPIPE, ECONNRESET: the shard died
      }
    }
    s.out.clear();
    s.out_pos = 0;
  }

  Status Receive(Shard& s) {
    for (;;) {
      char* space = s.in.Space(kRecvBlock);
      ssize_t n = recv(s.fd, space, kRecvBlock, MSG_DONTWAIT);
      if (n > 0) {
        s.in.Commit(static_cast<size_t>(n));
        LOGPIPE_RETURN_IF_ERROR(ParseReplies(s));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Status::Ok();
      return HandleExit(s);  // EOF or a socket error: the shard is gone
    }
  }

  Status ProtocolError(const Shard& s, const std::string& what) const {
    return InternalError(ShardName(s, s.pid) + " sent " + what +
                         "; this is a bug in logpipe, please report it (model serial or threads "
                         "runs the same job meanwhile)");
  }

  Status ParseReplies(Shard& s) {
    for (;;) {
      std::string_view d = s.in.data();
      if (d.size() < kReplyHeader) return Status::Ok();
      uint64_t type = 0, len = 0;
      std::memcpy(&type, d.data(), 8);
      std::memcpy(&len, d.data() + 8, 8);
      if (len > kMaxReplyBytes) return ProtocolError(s, "a malformed reply");
      if (d.size() - kReplyHeader < len) return Status::Ok();
      Status st = HandleReply(s, type, d.substr(kReplyHeader, len));
      s.in.Consume(kReplyHeader + len);
      LOGPIPE_RETURN_IF_ERROR(st);
    }
  }

  std::unique_ptr<BatchOutput> TakeOutput() {
    if (free_outputs_.empty()) return std::make_unique<BatchOutput>();
    std::unique_ptr<BatchOutput> out = std::move(free_outputs_.back());
    free_outputs_.pop_back();
    return out;
  }

  // Keeps a chunk's result for delivery in seq order, unless it is a duplicate (a replacement
  // shard redoing chunks whose results had already arrived).
  void Store(uint64_t seq, std::unique_ptr<BatchOutput> output, Status error) {
    if (seq < next_deliver_ || pending_.count(seq) != 0) {
      if (output) free_outputs_.push_back(std::move(output));
      return;
    }
    pending_[seq] = Pending{std::move(output), std::move(error)};
  }

  Status HandleReply(Shard& s, uint64_t type, std::string_view payload) {
    if (type == kReplyPartials) {
      if (!s.finish_sent || !s.in_flight.empty() || s.finished) {
        return ProtocolError(s, "partials before its last batch");
      }
      std::string_view in = payload;
      uint64_t n = 0;
      if (!GetU64(&in, &n) || n != plan_.aggregates.size()) {
        return ProtocolError(s, "the wrong number of aggregate partials");
      }
      for (size_t a = 0; a < plan_.aggregates.size(); ++a) {
        std::string_view bytes;
        if (!GetBytes(&in, &bytes)) return ProtocolError(s, "truncated aggregate partials");
        std::unique_ptr<Partial> p = plan_.aggregates[a]->NewPartial();
        Status st = plan_.aggregates[a]->Decode(bytes, p.get());
        if (!st.ok())
          return ProtocolError(s, "aggregate partials that do not decode: " + st.message());
        s.partials.push_back(std::move(p));
      }
      RunTrace::Track* track = result_->trace.NewTrack(
          "shard " + std::to_string(s.id + 1) + " (pid " + std::to_string(s.pid) + ")",
          plan_.segments[0].label());
      if (!DecodeTrack(&in, track)) return ProtocolError(s, "a truncated activity record");
      s.finished = true;
      stats_.partial_bytes += kReplyHeader + payload.size();
      return Status::Ok();
    }
    if (s.in_flight.empty()) return ProtocolError(s, "a reply nobody asked for");
    const uint64_t expected = s.in_flight.front().seq;
    if (type == kReplyBatch) {
      std::unique_ptr<BatchOutput> out = TakeOutput();
      Status st = BatchOutput::DecodeFrom(payload, out.get());
      if (!st.ok()) return ProtocolError(s, "a batch result that does not decode");
      if (out->seq != expected) return ProtocolError(s, "the result of another chunk");
      s.in_flight.pop_front();
      stats_.result_bytes += kReplyHeader + payload.size();
      Store(expected, std::move(out), Status::Ok());
      return Status::Ok();
    }
    if (type == kReplyChunkError) {
      std::string_view in = payload;
      uint64_t seq = 0;
      Status error;
      if (!GetU64(&in, &seq) || seq != expected || !Status::DecodeFrom(std::string(in), &error) ||
          error.ok()) {
        return ProtocolError(s, "a malformed chunk error");
      }
      s.in_flight.pop_front();
      Store(seq, nullptr, std::move(error));
      return Status::Ok();
    }
    return ProtocolError(s, "a reply of unknown type " + std::to_string(type));
  }

  std::string DescribeWork(const Shard& s) const {
    if (s.in_flight.empty()) {
      return s.finish_sent ? " while encoding its aggregate partials at the end of the run"
                           : " while idle between chunks";
    }
    const ChunkPlace& p = s.in_flight.front();  // a shard answers in order: this is its current one
    const std::string& path = inputs_[p.source];
    std::string out = " while processing chunk " + std::to_string(p.seq) + ": " +
                      (path == "-" ? std::string("standard input") : path) + " " +
                      (infos_[p.source].compressed ? "decompressed bytes " : "bytes ") +
                      std::to_string(p.offset) + "-" + std::to_string(p.offset + p.size);
    if (p.line_count > 0) {
      out += " (lines " + std::to_string(p.first_line) + "-" +
             std::to_string(p.first_line + p.line_count - 1) + ")";
    }
    return out;
  }

  // The shard's socket hit EOF or an error: reap it, then retry it once or fail the run.
  Status HandleExit(Shard& s) {
    close(s.fd);
    s.fd = -1;
    const pid_t pid = s.pid;
    int status = 0;
    UnregisterShard(pid);
    const bool reaped = Reap(pid, &status);
    s.pid = -1;
    if (s.finished) return Status::Ok();  // it exits right after sending its partials
    if (StopRequested()) return InterruptedStatus();  // no retry: the run is stopping
    const std::string how = DescribeExit(reaped, status);
    const std::string where = DescribeWork(s);
    if (s.attempt == 0 && !s.streamed) {
      s.first_death = {pid, how, where};
      s.attempt = 1;
      s.finish_sent = false;
      s.in_flight.clear();
      s.in.Clear();
      s.out.clear();
      s.out_pos = 0;
      s.to_send.clear();
      for (size_t i = 0; i < s.replayable.size(); ++i) s.to_send.push_back(i);
      ++stats_.shards_retried;
      return Spawn(s);
    }
    std::string message = ShardName(s, pid) + " " + how + where;
    if (s.attempt > 0) {
      const Death& first = s.first_death;
      message += "; it was already the retry: the shard's first process (pid " +
                 std::to_string(first.pid) + ") " +
                 (first.how == how && first.where == where ? "died the same way on the same chunk"
                                                           : first.how + first.where);
    } else {
      message +=
          "; it cannot be retried because it had been sent chunks of a compressed or "
          "streamed input, whose bytes are not kept";
    }
    message +=
        ". Run with model serial (e.g. --set stages.parse.exec.model=serial) to find the "
        "line that crashes it; if it was killed from outside (e.g. by the OOM killer), "
        "use fewer workers or a smaller read.chunk_bytes";
    return InternalError(message);
  }

  // Hands every result that is next in seq order to the consumer.
  Status Deliver() {
    for (;;) {
      auto it = pending_.find(next_deliver_);
      if (it == pending_.end()) return Status::Ok();
      if (!it->second.error.ok()) return it->second.error;
      std::unique_ptr<BatchOutput> output = std::move(it->second.output);
      pending_.erase(it);
      ++next_deliver_;
      Status st;
      {
        ScopedSpan span(parent_, SpanKind::kDeliver, output->seq);
        st = DeliverBatch(*output, consumer_, &result_->stats);
      }
      free_outputs_.push_back(std::move(output));
      LOGPIPE_RETURN_IF_ERROR(st);
    }
  }

  Status Loop() {
    // With ranges (incremental runs) the stream's chunks carry offsets and line numbers in
    // the whole input, so a shard's pread of [offset, offset + size) stays right.
    InputStream stream(inputs_, ranges_, plan_, &result_->stats.skipped_inputs,
                       &result_->trace);
    Chunk chunk;
    bool have_chunk = false;    // `chunk` was read and waits for a shard with room
    bool reading_done = false;  // the input is exhausted, or failed with read_status
    Status read_status;
    uint64_t chunks_read = 0;
    std::vector<pollfd> fds;
    std::vector<Shard*> polled;
    for (;;) {
      // First deliver (it opens the window), then read ahead while the window allows,
      // handing each chunk to a shard with room.
      LOGPIPE_RETURN_IF_ERROR(Deliver());
      while (!reading_done) {
        if (!have_chunk) {
          if (chunks_read - next_deliver_ >= window_) break;
          Result<bool> more = false;
          {
            ScopedSpan span(parent_, SpanKind::kRead);
            more = stream.Next(&chunk);
            span.set_seq(chunk.seq);
          }
          if (!more.ok()) {
            // Like serial: results of the chunks before it still come first (one of them may
            // carry an earlier error), then this error ends the run.
            read_status = more.status();
            reading_done = true;
            break;
          }
          if (!*more) {
            reading_done = true;
            break;
          }
          have_chunk = true;
          ++chunks_read;
        }
        Shard* s = PickShard();
        if (s == nullptr) break;
        Assign(*s, chunk);
        have_chunk = false;
      }
      // Replacement shards redo their predecessor's chunks; all shards finish after the input.
      for (Shard& s : shards_) {
        if (s.fd < 0) continue;
        while (!s.to_send.empty() && s.in_flight.size() < kMaxInFlightPerShard) {
          AppendChunkRequest(s, s.replayable[s.to_send.front()], nullptr, /*has_data=*/false);
          s.to_send.pop_front();
          ++stats_.chunks_resent;
        }
        if (reading_done && read_status.ok() && s.to_send.empty() && !s.finish_sent) {
          AppendFinish(s);
        }
      }
      if (reading_done && next_deliver_ == chunks_read) {
        if (!read_status.ok()) return read_status;
        bool all_done = true;
        for (const Shard& s : shards_) all_done = all_done && s.finished && s.pid < 0;
        if (all_done) return Status::Ok();
      }

      fds.clear();
      polled.clear();
      for (Shard& s : shards_) {
        if (s.fd < 0) continue;
        if (s.out_pos < s.out.size()) Flush(s);
        short events = POLLIN;
        if (s.out_pos < s.out.size()) events |= POLLOUT;
        fds.push_back({s.fd, events, 0});
        polled.push_back(&s);
      }
      if (fds.empty()) return InternalError("the processes executor has no worker process left");
      int ready;
      {
        ScopedSpan span(parent_, SpanKind::kWaitInput);
        // A timeout, so that a stop request is seen even while every shard is busy.
        ready = poll(fds.data(), fds.size(), kStopPollMillis);
      }
      if (StopRequested()) return InterruptedStatus();
      if (ready < 0) {
        if (errno == EINTR) continue;
        return InternalError(std::string("poll failed: ") + strerror(errno));
      }
      for (size_t i = 0; i < fds.size(); ++i) {
        Shard& s = *polled[i];
        if (fds[i].revents & POLLOUT) Flush(s);
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) LOGPIPE_RETURN_IF_ERROR(Receive(s));
      }
    }
  }

  void MergePartialsInShardOrder() {
    result_->partials.clear();
    for (size_t a = 0; a < plan_.aggregates.size(); ++a) {
      std::unique_ptr<Partial> into;
      for (Shard& s : shards_) {
        if (a >= s.partials.size() || !s.partials[a]) continue;
        if (!into) {
          into = std::move(s.partials[a]);
        } else {
          plan_.aggregates[a]->Merge(std::move(*s.partials[a]), *into);
          s.partials[a].reset();
        }
      }
      result_->partials.push_back(into ? std::move(into) : plan_.aggregates[a]->NewPartial());
    }
  }

  const Plan& plan_;
  const std::vector<std::string>& inputs_;
  const std::vector<InputRange>& ranges_;
  const BatchRenderer& renderer_;
  OrderedConsumer& consumer_;
  RunResult* result_;

  std::vector<InputInfo> infos_;
  ShardContext ctx_;
  RunTrace::Track* parent_ = nullptr;
  uint64_t window_ = 1;  // chunks read but not yet delivered, at most
  std::vector<Shard> shards_;
  uint64_t next_deliver_ = 0;
  std::map<uint64_t, Pending> pending_;
  std::vector<std::unique_ptr<BatchOutput>> free_outputs_;
  ProcessesExecutorStats stats_;
};

class ProcessesExecutor : public Executor {
 public:
  explicit ProcessesExecutor(ProcessesExecutorStats* stats) : stats_(stats) {}

  Status Run(const Plan& plan, const std::vector<std::string>& inputs,
             const std::vector<InputRange>& ranges, const BatchRenderer& renderer,
             OrderedConsumer& consumer, RunResult* result) override {
    ProcessesRun run(plan, inputs, ranges, renderer, consumer, result);
    Status status = run.Run();
    if (stats_ != nullptr) *stats_ = run.stats();
    return status;
  }

 private:
  ProcessesExecutorStats* stats_;
};

}  // namespace

std::unique_ptr<Executor> NewProcessesExecutor() {
  return std::make_unique<ProcessesExecutor>(nullptr);
}

std::unique_ptr<Executor> NewProcessesExecutorWithStats(ProcessesExecutorStats* stats) {
  return std::make_unique<ProcessesExecutor>(stats);
}

}  // namespace logpipe
