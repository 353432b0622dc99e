// The processes executor (see executor_processes.h for the contract).
//
//   parent (this thread)                                  shard i (forked at the start of Run)
//   NextUnit -> range or chunk ---- request frame -->    range: LineRangeSource + Chunker,
//     range (plain input): descriptor only                  then per chunk as below, then
//     chunk (plain input): descriptor only                  a "range done" frame;
//     chunk (streamed input): descriptor + bytes            plain chunk: pread its bytes;
//                                                           streamed: bytes from the frame;
//                                                           RunSegmentStages + Render
//   reorder by unit, DeliverBatch <-- batch frame(s) --     BatchOutput::EncodeTo
//   ...
//   "finish" ------------------------------------------->   every aggregate's Encode()
//   Decode + Merge in shard order <-- partials frame --     _exit(0)
//   (partials only for Finish: EncodeHead() instead, then
//    CompleteHeads --------- query frames ------------->   AnswerQuery()
//                 <--------- answer frames ------------
//    close the socket ---------------------------------->  _exit(0))
//
// One socketpair per shard (SOCK_STREAM; the brief said two pipes: a socket is one fd per side
// and lets the parent send with MSG_NOSIGNAL, so a dead shard is an EPIPE, never a SIGPIPE that
// would kill the parent). The parent never blocks on a shard: requests go into a per-shard
// buffer written with MSG_DONTWAIT when poll() says there is room, and replies are read the
// same way. That matters: with blocking writes the parent could block sending a 4 MiB chunk to
// a shard that is itself blocked sending its 4 MiB result back. Each shard reads a request,
// answers it, and reads the next (blocking I/O is fine on its side). The frames are in
// pipeline/processes_wire.h, the shard's side in pipeline/processes_shard.cc; this file is the
// parent's.
//
// Flow control: at most kMaxInFlightPerShard chunk requests or one range per shard, at most
// plan.live_tokens units read but not yet delivered (so a slow chunk cannot make the others
// pile up), and results of later units held up to pending_limit_ bytes (Throttled).

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
#include <thread>
#include <utility>
#include <vector>

#include "io/chunker.h"
#include "io/line_range.h"
#include "io/posix_io.h"
#include "pipeline/input_stream.h"
#include "pipeline/processes_shard.h"
#include "pipeline/processes_wire.h"
#include "pipeline/progress.h"
#include "pipeline/run_interrupt.h"
#include "pipeline/wire_bytes.h"
#include "pipeline/work_item.h"

namespace logpipe {
namespace {

using processes::ChunkDesc;
using processes::ChunkPlace;
using processes::DecodeTrack;
using processes::EncodeChunkMeta;
using processes::InputInfo;
using processes::kReplyAnswer;
using processes::kReplyBatch;
using processes::kReplyChunkError;
using processes::kReplyHeader;
using processes::kReplyPartials;
using processes::kReplyRangeDone;
using processes::kRequestChunk;
using processes::kRequestFinish;
using processes::kRequestHeader;
using processes::kRequestQuery;
using processes::ParseKillSpec;
using processes::ShardContext;
using processes::ShardMain;

constexpr size_t kMaxInFlightPerShard = 2;
constexpr size_t kRecvBlock = size_t{256} << 10;
constexpr size_t kMaxRecvBlock = size_t{256} << 20;
constexpr int kSocketBufferBytes = 4 << 20;
constexpr int kStopPollMillis = 100;  // how often a busy wait looks at StopRequested()
// A reply longer than this is garbage (a chunk's rendered output is a few times chunk_bytes).
constexpr uint64_t kMaxReplyBytes = uint64_t{1} << 40;

// A plain input is cut into about this many ranges per worker (each at least chunk_bytes), so
// that the shards, which ask for their next range when done, finish close together.
constexpr uint64_t kRangesPerWorker = 32;

// ---- bytes

using wire::GetBytes;
using wire::GetU64;
using wire::PutBytes;
using wire::PutU64;

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
  // Hands over the storage, which data() views point into; the buffer is then empty.
  std::unique_ptr<char[]> Release() {
    begin_ = end_ = cap_ = 0;
    return std::move(buf_);
  }

 private:
  std::unique_ptr<char[]> buf_;
  size_t begin_ = 0, end_ = 0, cap_ = 0;
};

// ---- what the parent knows about inputs and chunks

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
    int fd = OpenRetrying(path, O_RDONLY | O_CLOEXEC);
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
      infos[i].size = static_cast<uint64_t>(fst.st_size);
    }
    close(fd);
  }
  return infos;
}

ChunkDesc DescOf(const Chunk& chunk) {
  ChunkDesc d;
  d.place.seq = chunk.seq;
  d.place.source = chunk.source;
  d.place.offset = chunk.offset;
  d.place.size = chunk.size();
  d.place.first_line = chunk.first_line;
  d.place.line_count = chunk.line_count;
  d.place.dropped_lines = chunk.dropped_lines;
  d.place.truncated_events = chunk.truncated_events;
  d.last_in_source = chunk.last_in_source;
  d.oversized = chunk.oversized;
  return d;
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
  bool finished = false;         // its partials (or heads) arrived
  bool awaiting_answer = false;  // heads: a query was sent, its answer not received yet
  std::string answer;
  bool streamed = false;              // it was sent chunks whose bytes are not kept: no retry
  std::vector<ChunkDesc> replayable;  // every plain chunk it was given, for a replacement
  std::deque<size_t> to_send;         // replayable[i] still to resend to the replacement
  std::deque<ChunkPlace> in_flight;   // sent, reply not yet received, in send order
  std::string out;                    // requests not yet written
  size_t out_pos = 0;
  RecvBuffer in;
  // Its partials as received, decoded at the end (DecodePartials): views into the receive
  // buffer's storage, which the shard hands over with its last reply.
  std::vector<std::string_view> partial_bytes;
  std::unique_ptr<char[]> partials_frame;
  pid_t partials_pid = -1;  // the process that sent them, for messages
  std::vector<std::unique_ptr<Partial>> partials;
  Death first_death;  // how its first process died, for the final message
};

// The results of one unit (a chunk, or a range that gives any number of chunks) not yet
// delivered: its outputs in order, then possibly the error a shard met reading it.
struct Pending {
  std::deque<std::unique_ptr<BatchOutput>> outputs;
  std::deque<uint64_t> output_bytes;  // encoded size of each, for the memory bound
  uint64_t received = 0;  // outputs accepted so far: a replacement's repeats are dropped
  bool done = false;      // every output (or the error) has arrived
  Status error;
};

// The next piece of work in input order: a chunk read by the parent, or a byte range of a
// plain input that the shard cuts itself.
struct Unit {
  uint64_t seq = 0;
  bool range = false;
  bool queueable = false;  // a range far enough from the end of its input to wait in a queue
  Chunk chunk;
  uint64_t source = 0;
  LineRange lines;
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

// Whether any aggregate's heads leave something out: otherwise shards send whole partials and
// exit at once (their exit then overlaps the decoding of the partials).
bool AnyHeadsNeedQueries(const Plan& plan) {
  for (const auto& aggregate : plan.aggregates) {
    if (aggregate->HeadsNeedQueries()) return true;
  }
  return false;
}

class ProcessesRun {
 public:
  ProcessesRun(const Plan& plan, const std::vector<std::string>& inputs,
               const std::vector<InputRange>& ranges, const BatchRenderer& renderer,
               OrderedConsumer& consumer, RunResult* result, bool heads)
      : plan_(plan),
        inputs_(inputs),
        input_ranges_(ranges),
        renderer_(renderer),
        consumer_(consumer),
        result_(result),
        heads_(heads && AnyHeadsNeedQueries(plan)) {}
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
    range_mode_ = ProcessesParentCutsReason(plan_).empty();
    if (range_mode_ && ProgressMeter::Active() != nullptr) {
      // Shards read the plain inputs, so the progress bar moves as their results arrive.
      progress_ = ProgressMeter::Active();
      std::vector<uint64_t> begins;
      for (size_t i = 0; i < inputs_.size(); ++i) begins.push_back(RangeOf(input_ranges_, i).begin);
      progress_->SetInputs(inputs_, std::move(begins));
    }
    pending_limit_ = window_ * std::max<uint64_t>(plan_.chunker.chunk_bytes, 1);
    ctx_.plan = &plan_;
    ctx_.inputs = &inputs_;
    ctx_.renderer = &renderer_;
    ctx_.infos = &infos_;
    ctx_.kill = ParseKillSpec();
    ctx_.trace = &result_->trace;
    ctx_.heads = heads_;
    parent_ = result_->trace.NewTrack("parent", "read, dispatch, deliver");

    shards_.resize(static_cast<size_t>(std::max(1, plan_.segments[0].workers)));
    {
      ScopedSpan span(parent_, SpanKind::kSetup);
      for (size_t i = 0; i < shards_.size(); ++i) {
        shards_[i].id = static_cast<int>(i);
        LOGPIPE_RETURN_IF_ERROR(Spawn(shards_[i]));
      }
    }
    for (;;) {
      Status status = Loop();
      if (status.ok()) {
        ScopedSpan span(parent_, SpanKind::kMerge);
        status = DecodePartials();
        if (status.ok() && heads_) status = CompleteHeads();
      }
      if (status.ok()) break;
      if (!shard_replaced_) {  // set only by a round that failed for that reason alone
        KillAll();
        return status;
      }
      // A shard died answering queries: its replacement redoes its work and sends new heads
      // (Loop), the others keep theirs, and the rounds start again (CompleteHeads may run
      // again on heads it completed).
      shard_replaced_ = false;
    }
    ScopedSpan span(parent_, SpanKind::kMerge);
    MergePartialsInShardOrder();
    ReapFinished();
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
    ctx_.shard = s.id;
    ctx_.attempt = s.attempt;
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

  // Waits for the shards that sent their partials: they exit right after them, or, with heads,
  // on the end of file of their socket (all closed first, so that they exit together).
  void ReapFinished() {
    for (Shard& s : shards_) {
      if (s.fd >= 0) close(s.fd);
      s.fd = -1;
    }
    for (Shard& s : shards_) {
      if (s.pid > 0) {
        UnregisterShard(s.pid);
        int status = 0;
        Reap(s.pid, &status);  // its status does not matter: its work has arrived
      }
      s.pid = -1;
    }
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

  // Hands the unit just read to shard `s`.
  void Assign(Shard& s, const Unit& unit) {
    if (unit.range) {
      ChunkDesc d;
      ChunkPlace& p = d.place;
      p.seq = unit.seq;
      p.source = unit.source;
      p.offset = unit.lines.begin;
      p.size = unit.lines.end - unit.lines.begin;
      p.first_line = unit.lines.first_line;
      p.range = true;
      p.limit = unit.lines.limit;
      p.line_start = unit.lines.begin_is_line_start;
      AppendChunkRequest(s, d, nullptr, /*has_data=*/false);
      s.replayable.push_back(std::move(d));
      ++stats_.plain_ranges;
      return;
    }
    const Chunk& chunk = unit.chunk;
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

  // A live shard with room for `unit`, the least busy first; null if none. A chunk may queue
  // behind another. A range goes to an idle shard, or queues behind one range when it is
  // queueable (far from the end of its input): then it is in the shard's socket when the shard
  // finishes the one before, with no round trip through the parent in between. Near the end
  // a range waits for an idle shard: queued behind another, it could leave the other shards
  // idle at the end of the run.
  Shard* PickShard(const Unit& unit) {
    Shard* best = nullptr;
    for (Shard& s : shards_) {
      if (s.fd < 0 || s.finish_sent || !s.to_send.empty()) continue;
      const bool room =
          unit.range ? s.in_flight.empty() ||
                           (unit.queueable && s.in_flight.size() == 1 && s.in_flight.back().range)
                     : s.in_flight.size() < kMaxInFlightPerShard &&
                           (s.in_flight.empty() || !s.in_flight.back().range);
      if (!room) continue;
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
      // Room for the rest of the frame being received when it is big (the partials at the
      // end: one allocation and straight copies instead of doubling the buffer).
      size_t block = kRecvBlock;
      const std::string_view d = s.in.data();
      if (d.size() >= kReplyHeader) {
        uint64_t len = 0;
        std::memcpy(&len, d.data() + 8, 8);
        if (len <= kMaxReplyBytes && kReplyHeader + len > d.size()) {
          block = static_cast<size_t>(
              std::clamp<uint64_t>(kReplyHeader + len - d.size(), kRecvBlock, kMaxRecvBlock));
        }
      }
      char* space = s.in.Space(block);
      ssize_t n = recv(s.fd, space, block, MSG_DONTWAIT);
      if (n > 0) {
        s.in.Commit(static_cast<size_t>(n));
        LOGPIPE_RETURN_IF_ERROR(ParseReplies(s));
        if (Throttled(s)) return Status::Ok();
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
      if (st.ok() && type == kReplyPartials) {
        // The last reply: its bytes stay where they are, for partial_bytes (tens of MiB, not
        // copied at the end of the run).
        s.partials_frame = s.in.Release();
        return st;
      }
      s.in.Consume(kReplyHeader + len);
      LOGPIPE_RETURN_IF_ERROR(st);
    }
  }

  // Whether to leave shard `s`'s replies in its socket for now: the results waiting for
  // delivery are over the memory bound and its current unit is not the next to deliver (that
  // one is always read, so the run never stalls; the shard blocks on its full socket).
  bool Throttled(const Shard& s) const {
    return pending_bytes_ > pending_limit_ && !s.in_flight.empty() &&
           s.in_flight.front().seq > next_deliver_;
  }

  std::unique_ptr<BatchOutput> TakeOutput() {
    if (free_outputs_.empty()) return std::make_unique<BatchOutput>();
    std::unique_ptr<BatchOutput> out = std::move(free_outputs_.back());
    free_outputs_.pop_back();
    return out;
  }

  // Keeps output `sub` of unit `seq` for delivery in order, unless it is a duplicate (a
  // replacement shard redoing units whose results had already arrived). `last`: the unit has
  // no more outputs (a chunk unit).
  void Store(uint64_t seq, uint64_t sub, std::unique_ptr<BatchOutput> output, uint64_t bytes,
             bool last) {
    if (seq < next_deliver_) {
      free_outputs_.push_back(std::move(output));
      return;
    }
    Pending& u = pending_[seq];
    if (u.done || sub != u.received) {  // sub < received: a repeat (cutting is deterministic)
      free_outputs_.push_back(std::move(output));
      return;
    }
    u.outputs.push_back(std::move(output));
    u.output_bytes.push_back(bytes);
    pending_bytes_ += bytes;
    ++u.received;
    u.done = last;
  }

  // Unit `seq` is complete: it ended with an error (not OK) or after its last output.
  void StoreDone(uint64_t seq, Status error) {
    if (seq < next_deliver_) return;
    Pending& u = pending_[seq];
    if (u.done) return;
    u.error = std::move(error);
    u.done = true;
  }

  Status HandleReply(Shard& s, uint64_t type, std::string_view payload) {
    if (type == kReplyAnswer) {
      if (!s.awaiting_answer) return ProtocolError(s, "an answer to no query");
      s.answer.assign(payload.data(), payload.size());
      s.awaiting_answer = false;
      stats_.answer_bytes += kReplyHeader + payload.size();
      return Status::Ok();
    }
    if (type == kReplyPartials) {
      if (!s.finish_sent || !s.in_flight.empty() || s.finished) {
        return ProtocolError(s, "partials before its last batch");
      }
      std::string_view in = payload;
      uint64_t n = 0;
      if (!GetU64(&in, &n) || n != plan_.aggregates.size()) {
        return ProtocolError(s, "the wrong number of aggregate partials");
      }
      // Kept as bytes: every shard's are decoded at once at the end, in parallel (the shards
      // finish together, so decoding one on arrival would only hold up the others').
      for (size_t a = 0; a < plan_.aggregates.size(); ++a) {
        std::string_view bytes;
        if (!GetBytes(&in, &bytes)) return ProtocolError(s, "truncated aggregate partials");
        s.partial_bytes.push_back(bytes);
      }
      s.partials_pid = s.pid;
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
    const bool range = s.in_flight.front().range;
    if (type == kReplyBatch) {
      std::string_view in = payload;
      uint64_t sub = 0;
      if (!GetU64(&in, &sub) || (!range && sub != 0)) {
        return ProtocolError(s, "a malformed batch result");
      }
      std::unique_ptr<BatchOutput> out = TakeOutput();
      Status st = BatchOutput::DecodeFrom(in, out.get());
      if (!st.ok()) return ProtocolError(s, "a batch result that does not decode");
      if (out->seq != expected) return ProtocolError(s, "the result of another chunk");
      if (!range) s.in_flight.pop_front();
      stats_.result_bytes += kReplyHeader + payload.size();
      Store(expected, sub, std::move(out), payload.size(), /*last=*/!range);
      return Status::Ok();
    }
    if (type == kReplyRangeDone) {
      std::string_view in = payload;
      uint64_t seq = 0, n = 0;
      if (!range || !GetU64(&in, &seq) || !GetU64(&in, &n) || seq != expected || !in.empty()) {
        return ProtocolError(s, "a malformed end of range");
      }
      s.in_flight.pop_front();
      StoreDone(seq, Status::Ok());
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
      StoreDone(seq, std::move(error));
      return Status::Ok();
    }
    return ProtocolError(s, "a reply of unknown type " + std::to_string(type));
  }

  std::string DescribeWork(const Shard& s) const {
    if (s.in_flight.empty()) {
      if (s.finished) {
        return answering_ ? " while answering the parent's queries about its aggregate heads"
                          : " after sending its aggregate heads, before the parent's queries";
      }
      return s.finish_sent ? " while encoding its aggregate partials at the end of the run"
                           : " while idle between chunks";
    }
    const ChunkPlace& p = s.in_flight.front();  // a shard answers in order: this is its current one
    const std::string& path = inputs_[p.source];
    if (p.range) {
      return " while processing range " + std::to_string(p.seq) + ": " + path + " lines starting at bytes " +
             std::to_string(p.offset) + "-" + std::to_string(p.offset + p.size);
    }
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
    if (s.finished && !heads_) return Status::Ok();   // it exits right after its partials
    if (StopRequested()) return InterruptedStatus();  // no retry: the run is stopping
    const std::string how = DescribeExit(reaped, status);
    const std::string where = DescribeWork(s);
    if (s.attempt == 0 && !s.streamed) {
      s.first_death = {pid, how, where};
      s.attempt = 1;
      s.finish_sent = false;
      const bool restart_rounds = answering_ && s.finished;
      s.finished = false;
      s.awaiting_answer = false;
      s.partial_bytes.clear();
      s.partials_frame.reset();
      s.partials.clear();
      s.in_flight.clear();
      s.in.Clear();
      s.out.clear();
      s.out_pos = 0;
      s.to_send.clear();
      for (size_t i = 0; i < s.replayable.size(); ++i) s.to_send.push_back(i);
      ++stats_.shards_retried;
      LOGPIPE_RETURN_IF_ERROR(Spawn(s));
      if (restart_rounds) shard_replaced_ = true;
      return Status::Ok();
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

  // Hands every result that is next in order to the consumer: the next unit's outputs as they
  // arrive, then its error if it has one, then the unit after it once it is complete.
  Status Deliver() {
    for (;;) {
      auto it = pending_.find(next_deliver_);
      if (it == pending_.end()) return Status::Ok();
      Pending& u = it->second;
      while (!u.outputs.empty()) {
        std::unique_ptr<BatchOutput> output = std::move(u.outputs.front());
        u.outputs.pop_front();
        pending_bytes_ -= u.output_bytes.front();
        u.output_bytes.pop_front();
        Status st;
        {
          ScopedSpan span(parent_, SpanKind::kDeliver, output->seq);
          st = DeliverBatch(*output, consumer_, &result_->stats);
        }
        if (progress_ != nullptr) {
          progress_->OnPosition(static_cast<uint32_t>(output->source), output->end_offset);
        }
        free_outputs_.push_back(std::move(output));
        LOGPIPE_RETURN_IF_ERROR(st);
      }
      if (!u.done) return Status::Ok();
      if (!u.error.ok()) return u.error;
      pending_.erase(it);
      ++next_deliver_;
    }
  }

  // The next unit of work in input order (see Unit); false after the last input. In range
  // mode a plain input becomes ranges without being read here, and the other inputs are read
  // by an InputStream over each run of consecutive such inputs; otherwise one InputStream
  // reads every input, as the other executors do.
  Result<bool> NextUnit(Unit* unit) {
    if (StopRequested()) return InterruptedStatus();
    for (;;) {
      if (range_pos_ < ranges_.size()) {
        unit->range = true;
        unit->source = range_input_;
        unit->lines = ranges_[range_pos_];
        // Queueable while the ranges after it hold enough bytes for every shard to take two
        // of its size: a shard that finds this one queued elsewhere still has work.
        const uint64_t size = unit->lines.end - unit->lines.begin;
        unit->queueable = range_tail_bytes_[range_pos_ + 1] >= 2 * shards_.size() * size;
        ++range_pos_;
        unit->seq = next_seq_++;
        return true;
      }
      if (stream_ != nullptr) {
        Result<bool> more = stream_->Next(&unit->chunk);
        if (!more.ok()) return more.status();
        if (*more) {
          unit->range = false;
          unit->chunk.source += static_cast<uint32_t>(stream_base_);
          unit->chunk.seq = unit->seq = next_seq_++;
          return true;
        }
        stream_.reset();
      }
      if (next_input_ == inputs_.size()) return false;
      if (range_mode_ && infos_[next_input_].plain) {
        const uint64_t size = infos_[next_input_].size;
        const uint64_t per_worker = static_cast<uint64_t>(shards_.size()) * kRangesPerWorker;
        const uint64_t range_bytes = std::max<uint64_t>(
            plan_.chunker.chunk_bytes, (size + per_worker - 1) / per_worker);
        const InputRange input = RangeOf(input_ranges_, next_input_);
        InputRegion region;
        region.begin = std::min(input.begin, size);
        region.end = std::min(input.end, size);
        region.first_line = input.first_line;
        // Tapered: the last ranges shrink to a chunk, so that the shards finish together
        // (with 16 MiB ranges, one shard was often still on its last one 15-30 ms after the
        // other had finished).
        ranges_ = SplitRegionTapered(region, range_bytes, plan_.chunker.chunk_bytes,
                                     2 * static_cast<uint64_t>(shards_.size()));
        range_tail_bytes_.assign(ranges_.size() + 1, 0);
        for (size_t i = ranges_.size(); i-- > 0;) {
          range_tail_bytes_[i] = range_tail_bytes_[i + 1] + (ranges_[i].end - ranges_[i].begin);
        }
        range_pos_ = 0;
        range_input_ = next_input_++;
        continue;
      }
      size_t end = next_input_ + 1;
      while (end < inputs_.size() && !(range_mode_ && infos_[end].plain)) ++end;
      std::vector<InputRange> stream_ranges;
      for (size_t i = next_input_; i < end; ++i) stream_ranges.push_back(RangeOf(input_ranges_, i));
      stream_ = std::make_unique<InputStream>(
          std::vector<std::string>(inputs_.begin() + static_cast<ptrdiff_t>(next_input_),
                                   inputs_.begin() + static_cast<ptrdiff_t>(end)),
          std::move(stream_ranges), plan_, &result_->stats.skipped_inputs, &result_->trace,
          /*report_progress=*/!range_mode_);  // range mode: Deliver() moves the progress bar
      stream_base_ = next_input_;
      next_input_ = end;
    }
  }

  Status Loop() {
    Unit unit;
    bool have_chunk = false;    // `unit` was read and waits for a shard with room
    bool reading_done = false;  // the input is exhausted, or failed with read_status
    Status read_status;
    uint64_t& chunks_read = units_read_;  // a member: Loop runs again after a late retry
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
            more = NextUnit(&unit);
            span.set_seq(unit.seq);
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
        Shard* s = PickShard(unit);
        if (s == nullptr) break;
        Assign(*s, unit);
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
        // Not waiting for the shards to exit: tearing down a shard's memory takes the kernel
        // milliseconds, which the decoding of the partials can overlap (ReapFinished). With
        // heads they stay until the rounds are done.
        for (const Shard& s : shards_) all_done = all_done && s.finished;
        if (all_done) return Status::Ok();
      }

      fds.clear();
      polled.clear();
      for (Shard& s : shards_) {
        if (s.fd < 0) continue;
        if (s.out_pos < s.out.size()) Flush(s);
        short events = Throttled(s) ? 0 : POLLIN;  // POLLHUP and POLLERR still show
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

  // Decodes every shard's partial bytes not decoded yet, one thread per shard after the first
  // (every shard has sent its partials by now and is idle, so no fork can copy these threads;
  // each decodes into its own Partials).
  Status DecodePartials() {
    std::vector<Status> errors(shards_.size());
    auto decode = [this, &errors](size_t i) {
      Shard& s = shards_[i];
      if (!s.partials.empty()) return;
      for (size_t a = 0; a < s.partial_bytes.size(); ++a) {
        std::unique_ptr<Partial> p = plan_.aggregates[a]->NewPartial();
        Status st = plan_.aggregates[a]->Decode(s.partial_bytes[a], p.get());
        if (!st.ok()) {
          errors[i] = st;
          return;
        }
        s.partials.push_back(std::move(p));
      }
      s.partial_bytes.clear();
      s.partials_frame.reset();
    };
    std::vector<std::thread> threads;
    for (size_t i = 1; i < shards_.size(); ++i) threads.emplace_back(decode, i);
    if (!shards_.empty()) decode(0);
    for (std::thread& t : threads) t.join();
    for (size_t i = 0; i < shards_.size(); ++i) {
      if (!errors[i].ok()) {
        return InternalError(ShardName(shards_[i], shards_[i].partials_pid) +
                             " sent aggregate partials that do not decode: " +
                             errors[i].message() +
                             "; this is a bug in logpipe, please report it (model serial or "
                             "threads runs the same job meanwhile)");
      }
    }
    return Status::Ok();
  }

  // Completes every aggregate's heads by asking the shards (Aggregate::CompleteHeads). Errors: a
  // shard's death (retried: then shard_replaced_ is set and Run starts the rounds again once
  // the replacement has sent its heads; or fatal) or answers that do not decode.
  Status CompleteHeads() {
    for (size_t a = 0; a < plan_.aggregates.size(); ++a) {
      std::vector<Partial*> heads;
      for (Shard& s : shards_) heads.push_back(s.partials[a].get());
      Status st = plan_.aggregates[a]->CompleteHeads(
          heads, [&](const std::vector<std::string>& queries, std::vector<std::string>* answers) {
            return AskShards(a, queries, answers);
          });
      if (st.ok() || shard_replaced_) {
        LOGPIPE_RETURN_IF_ERROR(st);
        continue;
      }
      if (st.code() != StatusCode::kDataError) return st;
      return InternalError("a worker process sent answers that do not decode: " + st.message() +
                           "; this is a bug in logpipe, please report it (model serial or "
                           "threads runs the same job meanwhile)");
    }
    return Status::Ok();
  }

  // Sends queries[i] about aggregate `a`'s heads to shard i and waits for every answer. A shard
  // that dies meanwhile is retried (then the others' answers are still awaited, so that none
  // arrives later, and the round fails with shard_replaced_ set) or fails the run (any other
  // error: shard_replaced_ is left false, so that Run does not retry it).
  Status AskShards(size_t a, const std::vector<std::string>& queries,
                   std::vector<std::string>* answers) {
    answering_ = true;
    shard_replaced_ = false;
    Status st = SendQueriesAndWait(a, queries);
    answering_ = false;
    if (!st.ok()) {
      shard_replaced_ = false;
      return st;
    }
    if (shard_replaced_) return InternalError("a worker process died answering queries");
    for (size_t i = 0; i < shards_.size(); ++i) (*answers)[i] = std::move(shards_[i].answer);
    return Status::Ok();
  }

  Status SendQueriesAndWait(size_t a, const std::vector<std::string>& queries) {
    for (size_t i = 0; i < shards_.size(); ++i) {
      Shard& s = shards_[i];
      PutU64(kRequestQuery, &s.out);
      PutU64(8 + queries[i].size(), &s.out);
      PutU64(0, &s.out);
      PutU64(a, &s.out);
      s.out += queries[i];
      stats_.request_bytes += kRequestHeader + 8 + queries[i].size();
      ++stats_.queries;
      s.awaiting_answer = true;
    }
    std::vector<pollfd> fds;
    std::vector<Shard*> polled;
    for (;;) {
      fds.clear();
      polled.clear();
      for (Shard& s : shards_) {
        if (s.fd < 0 || !s.awaiting_answer) continue;
        if (s.out_pos < s.out.size()) Flush(s);
        short events = POLLIN;
        if (s.out_pos < s.out.size()) events |= POLLOUT;
        fds.push_back({s.fd, events, 0});
        polled.push_back(&s);
      }
      if (fds.empty()) break;
      // Inside the merge span: waiting for answers is part of merging.
      const int ready = poll(fds.data(), fds.size(), kStopPollMillis);
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
    return Status::Ok();
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
  const std::vector<InputRange>& input_ranges_;  // per input (incremental runs); empty: whole
  const BatchRenderer& renderer_;
  OrderedConsumer& consumer_;
  RunResult* result_;
  const bool heads_;  // shards send heads and answer queries (partials_only_finished)

  std::vector<InputInfo> infos_;
  ShardContext ctx_;
  RunTrace::Track* parent_ = nullptr;
  uint64_t window_ = 1;  // chunks read but not yet delivered, at most
  std::vector<Shard> shards_;
  uint64_t next_deliver_ = 0;
  std::map<uint64_t, Pending> pending_;
  uint64_t pending_bytes_ = 0;  // encoded outputs in pending_
  uint64_t pending_limit_ = 0;  // above it, only the next unit's shard is read (Throttled)
  // Reading (NextUnit).
  bool range_mode_ = false;  // shards cut plain inputs' ranges (ProcessesParentCutsReason)
  ProgressMeter* progress_ = nullptr;  // range mode with a progress bar: moved by Deliver()
  uint64_t next_seq_ = 0;    // units handed out so far
  size_t next_input_ = 0;
  std::unique_ptr<InputStream> stream_;
  size_t stream_base_ = 0;  // index in inputs_ of stream_'s first input
  std::vector<LineRange> ranges_;
  std::vector<uint64_t> range_tail_bytes_;  // bytes of ranges_[i..]
  size_t range_pos_ = 0;
  uint64_t range_input_ = 0;
  std::vector<std::unique_ptr<BatchOutput>> free_outputs_;
  uint64_t units_read_ = 0;
  bool answering_ = false;       // in AskShards
  bool shard_replaced_ = false;  // AskShards: a shard died answering and was replaced
  ProcessesExecutorStats stats_;
};

class ProcessesExecutor : public Executor {
 public:
  ProcessesExecutor(ProcessesExecutorStats* stats, bool heads) : stats_(stats), heads_(heads) {}

  Status Run(const Plan& plan, const std::vector<std::string>& inputs,
             const std::vector<InputRange>& ranges, const BatchRenderer& renderer,
             OrderedConsumer& consumer, RunResult* result) override {
    ProcessesRun run(plan, inputs, ranges, renderer, consumer, result, heads_);
    Status status = run.Run();
    if (stats_ != nullptr) *stats_ = run.stats();
    return status;
  }

 private:
  ProcessesExecutorStats* stats_;
  bool heads_;
};

}  // namespace

std::string ProcessesParentCutsReason(const Plan& plan) {
  if (plan.starts_event() != nullptr) {
    return "multi-line events are on (an event may span two ranges)";
  }
  if (!plan.config.state.empty()) {
    return "state: records the line number each input ended at (incremental runs)";
  }
  return LineNumbersShowReason(plan);
}

std::unique_ptr<Executor> NewProcessesExecutor() {
  return std::make_unique<ProcessesExecutor>(nullptr, /*heads=*/false);
}

std::unique_ptr<Executor> NewProcessesExecutorWithStats(ProcessesExecutorStats* stats,
                                                        bool partials_only_finished) {
  return std::make_unique<ProcessesExecutor>(stats, partials_only_finished);
}

}  // namespace logpipe
