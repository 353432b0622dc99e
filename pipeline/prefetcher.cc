#include "pipeline/prefetcher.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>

namespace logpipe {

const char* FetchModelName(FetchModel model) {
  switch (model) {
    case FetchModel::kSerial:
      return "serial";
    case FetchModel::kThreads:
      return "threads";
    case FetchModel::kAsync:
      return "async";
  }
  return "?";
}

Prefetcher::Prefetcher(std::vector<FetchInput> inputs, FetchModel model, int workers,
                       size_t buffer_bytes, RunTrace* trace)
    : inputs_(std::move(inputs)),
      model_(model),
      workers_(static_cast<size_t>(std::max(workers, 1))),
      buffer_bytes_(buffer_bytes),
      trace_(trace),
      buffers_(inputs_.size()) {
  size_t prefetched = 0;
  for (size_t i = 0; i < inputs_.size(); ++i) prefetched += Prefetched(i) ? 1 : 0;
  if (prefetched == 0) return;
  if (model_ == FetchModel::kAsync) {
    threads_.emplace_back([this] { RunLoop(); });
  } else {
    for (size_t t = 0; t < std::min(workers_, prefetched); ++t) {
      RunTrace::Track* track =
          trace_ ? trace_->NewTrack("fetch thread " + std::to_string(t + 1), "fetch") : nullptr;
      threads_.emplace_back([this, track] { RunThread(track); });
    }
  }
}

Prefetcher::~Prefetcher() {
  std::shared_ptr<FetchWaker> waker;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    for (auto& buffer : buffers_) {
      if (buffer) buffer->Cancel();
    }
    waker = loop_waker_;
    cv_.notify_all();
  }
  if (waker) waker->Wakeup();
  for (auto& thread : threads_) thread.join();
}

bool Prefetcher::Prefetched(size_t index) const {
  const std::string& name = inputs_[index].name;
  if (IsUrl(name)) return true;
  return model_ == FetchModel::kThreads && name != "-";
}

std::shared_ptr<StreamBuffer> Prefetcher::BufferFor(size_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!buffers_[index]) {
    buffers_[index] = std::make_shared<StreamBuffer>(buffer_bytes_);
    // A worker that claimed `index` just before the destructor ran creates the buffer after
    // the destructor cancelled the others: cancel it too, or its Write() waits forever.
    if (stop_) buffers_[index]->Cancel();
  }
  return buffers_[index];
}

size_t Prefetcher::Claim(bool wait) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    while (next_claim_ < inputs_.size() && !Prefetched(next_claim_)) ++next_claim_;
    if (stop_ || next_claim_ >= inputs_.size()) return SIZE_MAX;
    if (next_claim_ < reading_ + 2 * workers_) return next_claim_++;
    if (!wait) return SIZE_MAX;
    cv_.wait(lock);
  }
}

Result<std::unique_ptr<ByteSource>> Prefetcher::Open(size_t index) {
  std::shared_ptr<FetchWaker> waker;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reading_ = index;
    for (size_t j = 0; j < index; ++j) buffers_[j].reset();  // their sources own them now
    waker = loop_waker_;
    cv_.notify_all();
  }
  if (waker) waker->Wakeup();  // the window moved: the loop may start another transfer
  const FetchInput& input = inputs_[index];
  if (!Prefetched(index)) return OpenInputRange(input.name, input.begin, input.end);
  std::unique_ptr<ByteSource> source = NewStreamBufferSource(input.name, BufferFor(index));
  if (IsUrl(input.name)) return DecodeByMagic(std::move(source));
  return source;  // a local file: decoded by the I/O thread
}

bool Prefetcher::Stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

void Prefetcher::RunThread(RunTrace::Track* track) {
  while (true) {
    size_t i;
    {
      ScopedSpan span(track, SpanKind::kWaitOutput);  // the window is full: parsing lags
      i = Claim(/*wait=*/true);
    }
    if (i == SIZE_MAX) break;
    ScopedSpan span(track, SpanKind::kFetch, i);
    std::shared_ptr<StreamBuffer> buffer = BufferFor(i);
    if (IsUrl(inputs_[i].name)) {
      FetchLoop loop;  // one blocking transfer: this thread waits for it
      loop.Add(inputs_[i].name, inputs_[i].url, std::move(buffer));
      while (loop.active() > 0 && !Stopping()) loop.Pump(/*max_wait_ms=*/500);
    } else {
      ReadFile(inputs_[i], *buffer);
    }
  }
}

namespace {

// The async model's trace: each transfer runs on a "slot" (a track) free when it starts, and
// its span ends when the loop closes its sink. Only the loop thread touches the slots.
class SlotTracer {
 public:
  explicit SlotTracer(RunTrace* trace) : trace_(trace) {}

  // Wraps `buffer` so that closing it records the transfer of input `index`.
  std::shared_ptr<FetchSink> Wrap(std::shared_ptr<StreamBuffer> buffer, size_t index) {
    if (trace_ == nullptr) return buffer;
    size_t slot = 0;
    while (slot < busy_.size() && busy_[slot]) ++slot;
    if (slot == busy_.size()) {
      busy_.push_back(false);
      tracks_.push_back(trace_->NewTrack("fetch slot " + std::to_string(slot + 1), "fetch"));
    }
    busy_[slot] = true;
    return std::make_shared<Sink>(std::move(buffer), this, slot, index, trace_->Now());
  }

 private:
  class Sink : public FetchSink {
   public:
    Sink(std::shared_ptr<StreamBuffer> inner, SlotTracer* tracer, size_t slot, size_t index,
         int64_t start)
        : inner_(std::move(inner)), tracer_(tracer), slot_(slot), index_(index), start_(start) {}
    bool TryWrite(const char* data, size_t n) override { return inner_->TryWrite(data, n); }
    void Close(Status status) override {
      if (!closed_) {
        closed_ = true;
        RunTrace::Track* track = tracer_->tracks_[slot_];
        track->Add(SpanKind::kFetch, start_, track->Now(), index_);
        tracer_->busy_[slot_] = false;
      }
      inner_->Close(std::move(status));
    }
    bool cancelled() const override { return inner_->cancelled(); }
    bool has_room() const override { return inner_->has_room(); }
    void set_on_room(std::function<void()> wake) override { inner_->set_on_room(std::move(wake)); }

   private:
    std::shared_ptr<StreamBuffer> inner_;
    SlotTracer* tracer_;
    size_t slot_, index_;
    int64_t start_;
    bool closed_ = false;
  };

  RunTrace* trace_;
  std::vector<bool> busy_;
  std::vector<RunTrace::Track*> tracks_;
};

}  // namespace

void Prefetcher::RunLoop() {
  SlotTracer tracer(trace_);  // outlives the loop, whose destructor closes the sinks
  FetchLoop loop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    loop_waker_ = loop.waker();
  }
  while (true) {
    while (loop.active() < workers_) {
      const size_t i = Claim(/*wait=*/false);
      if (i == SIZE_MAX) break;
      loop.Add(inputs_[i].name, inputs_[i].url, tracer.Wrap(BufferFor(i), i));
    }
    if (loop.active() > 0 && !Stopping()) {
      loop.Pump(/*max_wait_ms=*/500);
      continue;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_ || next_claim_ >= inputs_.size()) break;
    // Nothing running: wait for the reader to move the window.
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  std::lock_guard<std::mutex> lock(mu_);
  loop_waker_.reset();
}

void Prefetcher::ReadFile(const FetchInput& input, StreamBuffer& buffer) {
  Result<std::unique_ptr<ByteSource>> source = OpenInputRange(input.name, input.begin, input.end);
  if (!source.ok()) {
    buffer.Close(source.status());
    return;
  }
  constexpr size_t kPiece = size_t{1} << 20;
  std::unique_ptr<char[]> piece(new char[kPiece]);
  while (true) {
    Result<size_t> n = source.value()->Read(piece.get(), kPiece);
    if (!n.ok()) {
      buffer.Close(n.status());
      return;
    }
    if (*n == 0) {
      buffer.Close(Status::Ok());
      return;
    }
    if (!buffer.Write(piece.get(), *n)) return;  // the reader is gone
  }
}

}  // namespace logpipe
