#include "pipeline/run_trace.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>

#include "io/text_escape.h"

namespace logpipe {
namespace {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void AppendMicros(int64_t ns, std::string* out) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns) / 1000.0);
  out->append(buf);
}

// The calling thread's /proc/thread-self/schedstat, kept open (a pread is a couple of
// microseconds) and closed when the thread ends. Reopened in a forked child, whose thread is
// another one than the descriptor was opened for.
class SchedstatFile {
 public:
  ~SchedstatFile() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() {
    const pid_t tid = gettid();
    if (tid != tid_) {
      if (fd_ >= 0) close(fd_);
      fd_ = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
      tid_ = tid;
    }
    return fd_;
  }

 private:
  int fd_ = -1;
  pid_t tid_ = -1;
};

}  // namespace

// CPU time comes from CLOCK_THREAD_CPUTIME_ID, which brings the running thread's count up to
// date; schedstat's first field is only updated at scheduler ticks and switches, so a span that
// follows a busy one would be charged up to a tick of its CPU. schedstat gives the run-queue
// wait, which no clock has.
ThreadTimes CurrentThreadTimes() {
  thread_local SchedstatFile schedstat;
  ThreadTimes t;
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) {
    t.cpu_ns = static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  }
  const int fd = schedstat.fd();
  if (fd >= 0) {
    char buf[96];
    const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
      buf[n] = '\0';
      long long cpu = 0, runq = 0;
      if (std::sscanf(buf, "%lld %lld", &cpu, &runq) == 2) t.runq_ns = runq;
    }
  }
  return t;
}

const char* SpanKindName(SpanKind kind) {
  switch (kind) {
    case SpanKind::kRead: return "read";
    case SpanKind::kWork: return "work";
    case SpanKind::kDeliver: return "deliver";
    case SpanKind::kWaitInput: return "wait for input";
    case SpanKind::kWaitOutput: return "blocked on output";
    case SpanKind::kMerge: return "merge";
    case SpanKind::kSetup: return "setup";
    case SpanKind::kFetch: return "fetch";
  }
  return "?";
}

RunTrace::Track::Track(std::string name, std::string role, const RunTrace* trace)
    : name_(std::move(name)), role_(std::move(role)), trace_(trace) {}

int64_t RunTrace::Track::Now() const { return trace_->Now(); }

void RunTrace::Track::Add(SpanKind kind, int64_t start_ns, int64_t end_ns, uint64_t seq,
                          int64_t cpu_ns, int64_t runq_ns) {
  totals_[static_cast<int>(kind)] += end_ns - start_ns;
  cpu_ns_ += cpu_ns;
  runq_ns_ += runq_ns;
  if (first_ns_ < 0) first_ns_ = start_ns;
  last_ns_ = end_ns;
  if (trace_->keep_spans() && spans_.size() < kMaxSpansPerTrack) {
    spans_.push_back({kind, start_ns, end_ns, seq});
  }
}

int64_t RunTrace::Track::busy_ns() const {
  int64_t busy = 0;
  for (int k = 0; k < kSpanKinds; ++k) {
    const auto kind = static_cast<SpanKind>(k);
    if (kind != SpanKind::kWaitInput && kind != SpanKind::kWaitOutput) busy += totals_[k];
  }
  return busy;
}

void RunTrace::Track::AppendSpan(const Span& span) {
  if (first_ns_ < 0 || span.start_ns < first_ns_) first_ns_ = span.start_ns;
  last_ns_ = std::max(last_ns_, span.end_ns);
  if (trace_->keep_spans() && spans_.size() < kMaxSpansPerTrack) spans_.push_back(span);
}

void RunTrace::Track::AddTotals(const int64_t (&totals)[kSpanKinds], int64_t cpu_ns,
                               int64_t runq_ns) {
  for (int k = 0; k < kSpanKinds; ++k) totals_[k] += totals[k];
  cpu_ns_ += cpu_ns;
  runq_ns_ += runq_ns;
}

RunTrace::RunTrace(bool keep_spans) : keep_spans_(keep_spans), origin_ns_(SteadyNs()) {}

int64_t RunTrace::Now() const { return SteadyNs() - origin_ns_; }

RunTrace::Track* RunTrace::NewTrack(std::string name, std::string role) {
  std::lock_guard<std::mutex> lock(mu_);
  tracks_.emplace_back(std::move(name), std::move(role), this);
  return &tracks_.back();
}

void RunTrace::AppendChromeJson(const std::string& job_name, std::string* out) const {
  out->append("{\"displayTimeUnit\": \"ms\", \"otherData\": {\"job\": ");
  AppendJsonString(job_name, out);
  out->append("},\n\"traceEvents\": [\n");
  out->append("{\"ph\": \"M\", \"name\": \"process_name\", \"pid\": 1, \"tid\": 0, "
              "\"args\": {\"name\": ");
  AppendJsonString("logpipe " + job_name, out);
  out->append("}}");
  int tid = 0;
  for (const Track& track : tracks_) {
    ++tid;
    out->append(",\n{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": 1, \"tid\": ");
    out->append(std::to_string(tid));
    out->append(", \"args\": {\"name\": ");
    AppendJsonString(track.name(), out);
    out->append("}}");
    out->append(",\n{\"ph\": \"M\", \"name\": \"thread_sort_index\", \"pid\": 1, \"tid\": ");
    out->append(std::to_string(tid) + ", \"args\": {\"sort_index\": " + std::to_string(tid) + "}}");
    for (const Span& span : track.spans()) {
      out->append(",\n{\"ph\": \"X\", \"pid\": 1, \"tid\": ");
      out->append(std::to_string(tid));
      out->append(", \"name\": ");
      AppendJsonString(span.kind == SpanKind::kWork ? track.role() : SpanKindName(span.kind),
                       out);
      out->append(", \"cat\": ");
      AppendJsonString(SpanKindName(span.kind), out);
      out->append(", \"ts\": ");
      AppendMicros(span.start_ns, out);
      out->append(", \"dur\": ");
      AppendMicros(span.end_ns - span.start_ns, out);
      if (span.seq != UINT64_MAX) {
        out->append(span.kind == SpanKind::kFetch ? ", \"args\": {\"input\": "
                                                  : ", \"args\": {\"chunk\": ");
        out->append(std::to_string(span.seq) + "}");
      }
      out->push_back('}');
    }
  }
  out->append("\n]}\n");
}

}  // namespace logpipe
