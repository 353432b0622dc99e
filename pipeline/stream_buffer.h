#pragma once
// StreamBuffer: a bounded byte pipe from one producer (a download on an I/O thread or event
// loop, or a file-reading I/O thread) to one consumer (the chunker, through a ByteSource), for
// the fetch stage's threads and async models (pipeline/prefetcher.h). It is how fetched bytes reach
// the CPU stages while the transfer is still running, and where backpressure happens: a full
// buffer makes the producer pause instead of buffering without limit.
//
// Thread-safety: every method may be called from any thread; one producer, one consumer.
// Memory: at most `capacity` bytes plus one write (TryWrite accepts a whole piece whenever
//   the buffer is below capacity, because libcurl cannot take back part of a piece).
// Errors: the producer ends the stream with Close(status); the consumer's Read() returns the
//   buffered bytes first, then that status (or 0 bytes at a clean end).

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "io/byte_source.h"
#include "io/status.h"
#include "io/url_fetch.h"

namespace logpipe {

class StreamBuffer : public FetchSink {
 public:
  explicit StreamBuffer(size_t capacity);

  // Producer. Accepts all `n` bytes if the buffer holds less than its capacity, else none;
  // returns whether it accepted. After Cancel() it accepts (and drops) everything.
  bool TryWrite(const char* data, size_t n) override;
  // Producer. Waits for room, then appends; false if the consumer cancelled.
  bool Write(const char* data, size_t n);
  // Producer: the stream ends, cleanly (Ok) or with an error for the consumer.
  void Close(Status status) override;

  // Consumer. Waits for bytes or the end; returns up to `n` bytes, 0 at a clean end.
  Result<size_t> Read(char* buf, size_t n);
  // Consumer: stop; the producer's writes return at once from now on.
  void Cancel();

  // Called (outside the lock) whenever the consumer frees room, so a paused producer can
  // resume (an event loop wakes up).
  void set_on_room(std::function<void()> on_room) override;

  bool cancelled() const override;
  bool has_room() const override;

 private:
  size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> pieces_;  // appended whole; the first is consumed from `head_`
  size_t head_ = 0;
  size_t size_ = 0;  // bytes held
  bool closed_ = false;
  bool cancelled_ = false;
  Status status_;
  std::function<void()> on_room_;
};

// A ByteSource named `name` reading from `buffer` (sharing it with the producer). Dropping
// the source cancels the buffer, so a producer never waits for a reader that is gone.
std::unique_ptr<ByteSource> NewStreamBufferSource(std::string name,
                                                  std::shared_ptr<StreamBuffer> buffer);

}  // namespace logpipe
