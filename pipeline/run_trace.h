#pragma once
// RunTrace: where the time of one run went, per worker. Each thread (or shard process) that
// takes part in a run owns a Track: the reading thread, every worker of every segment, the
// thread that writes batches back in order. A track records spans (what it did, to which
// chunk, from when to when) and sums them per kind, with the CPU time its thread spent in
// them, so that busy time can be told apart from time blocked in I/O.
//
// --trace FILE writes the spans as Chrome trace-event JSON (Perfetto, chrome://tracing);
// --stats-json FILE writes the per-track sums (pipeline/run_stats_json.h), which the comparison
// mode reads to say whether a stage was CPU-bound or I/O-bound and how long it waited.
//
// Thread-safety: NewTrack() may be called from any thread; a Track is written by one thread
//   at a time (its owner). Reading (the writers) happens after the run, when no thread writes.
// Cost: four clock reads, two small reads of /proc/thread-self/schedstat and one vector append
//   per span, a few per chunk; spans are kept only when asked
//   (keep_spans), at most kMaxSpansPerTrack per track (the sums stay exact beyond that).

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace logpipe {

enum class SpanKind : uint8_t {
  kRead,        // reading, decompressing or downloading the next chunk (the input's wait too)
  kWork,        // running a segment's stages on a chunk (and rendering its records)
  kDeliver,     // handing a batch to the outputs, in input order
  kWaitInput,   // idle: waiting for a chunk to work on
  kWaitOutput,  // blocked: waiting for room downstream (a free buffer, a queue slot)
  kMerge,       // merging workers' aggregate partials at the end
  kSetup,       // starting workers (forking shards)
  kFetch,       // downloading or reading one input ahead of the reader (the fetch stage)
};
constexpr int kSpanKinds = 8;
const char* SpanKindName(SpanKind kind);

struct Span {
  SpanKind kind;
  int64_t start_ns;  // since the run started
  int64_t end_ns;
  uint64_t seq;      // the chunk's seq (kFetch: the input's index), or UINT64_MAX if none
};

class RunTrace {
 public:
  static constexpr size_t kMaxSpansPerTrack = 1 << 20;

  class Track {
   public:
    // `role` groups tracks doing the same work: "read", a segment's stages ("parse ->
    // aggregate"), "deliver".
    Track(std::string name, std::string role, const RunTrace* trace);

    int64_t Now() const;
    // `cpu_ns`: CPU time the thread spent in the span; `runq_ns`: time it was runnable but
    // waiting for a core (both ThreadTimes() differences).
    void Add(SpanKind kind, int64_t start_ns, int64_t end_ns, uint64_t seq = UINT64_MAX,
             int64_t cpu_ns = 0, int64_t runq_ns = 0);
    // For a track measured in another process (a shard): its sums, as that process saw them,
    // and its spans (AppendSpan does not add to the sums).
    void AddTotals(const int64_t (&totals)[kSpanKinds], int64_t cpu_ns, int64_t runq_ns);
    void AppendSpan(const Span& span);

    const std::string& name() const { return name_; }
    const std::string& role() const { return role_; }
    int64_t total_ns(SpanKind kind) const { return totals_[static_cast<int>(kind)]; }
    // Time doing something: every kind but waiting for input and blocked on output.
    int64_t busy_ns() const;
    int64_t cpu_ns() const { return cpu_ns_; }
    int64_t runq_ns() const { return runq_ns_; }
    const std::vector<Span>& spans() const { return spans_; }
    int64_t first_ns() const { return first_ns_; }  // start of its first span (-1: none)
    int64_t last_ns() const { return last_ns_; }    // end of its last span

   private:
    std::string name_;
    std::string role_;
    const RunTrace* trace_;
    int64_t totals_[kSpanKinds] = {};
    int64_t cpu_ns_ = 0;
    int64_t runq_ns_ = 0;
    int64_t first_ns_ = -1;
    int64_t last_ns_ = 0;
    std::vector<Span> spans_;
  };

  explicit RunTrace(bool keep_spans = false);

  void set_keep_spans(bool keep) { keep_spans_ = keep; }
  bool keep_spans() const { return keep_spans_; }
  // Nanoseconds since this RunTrace was made (steady clock; the same clock in forked shards).
  int64_t Now() const;
  int64_t origin_ns() const { return origin_ns_; }

  // A new track; the pointer stays valid for the RunTrace's life.
  Track* NewTrack(std::string name, std::string role);
  const std::deque<Track>& tracks() const { return tracks_; }

  // Chrome trace-event JSON ({"traceEvents": [...]}): one thread per track, named, and one
  // complete event ("ph": "X") per span, in microseconds since the run started.
  void AppendChromeJson(const std::string& job_name, std::string* out) const;

 private:
  bool keep_spans_;
  int64_t origin_ns_;
  std::mutex mu_;
  std::deque<Track> tracks_;
};

// The calling thread's time so far on a CPU (the thread CPU clock) and runnable but waiting for
// one (Linux /proc/thread-self/schedstat; 0 without it).
struct ThreadTimes {
  int64_t cpu_ns = 0;
  int64_t runq_ns = 0;
};
ThreadTimes CurrentThreadTimes();

// A span of `kind` on `track` from construction to destruction (no-op when track is null).
class ScopedSpan {
 public:
  ScopedSpan(RunTrace::Track* track, SpanKind kind, uint64_t seq = UINT64_MAX)
      : track_(track),
        kind_(kind),
        seq_(seq),
        start_(track ? track->Now() : 0),
        times_(track ? CurrentThreadTimes() : ThreadTimes()) {}
  ~ScopedSpan() {
    if (track_ == nullptr) return;
    const ThreadTimes now = CurrentThreadTimes();
    track_->Add(kind_, start_, track_->Now(), seq_, now.cpu_ns - times_.cpu_ns,
                now.runq_ns - times_.runq_ns);
  }
  void set_seq(uint64_t seq) { seq_ = seq; }
  ScopedSpan(const ScopedSpan&) = delete;
  ScopedSpan& operator=(const ScopedSpan&) = delete;

 private:
  RunTrace::Track* track_;
  SpanKind kind_;
  uint64_t seq_;
  int64_t start_;
  ThreadTimes times_;
};

}  // namespace logpipe
