#pragma once
// Downloads of http(s) URLs with libcurl, streamed into FetchSinks, robust against a bad
// network. FetchLoop is one event loop (a libcurl multi handle) driving any number of
// transfers; the fetch models are built from it (pipeline/prefetcher.h): `serial` pumps one loop in
// the reader's own thread, `threads` runs one loop per I/O thread with one transfer each,
// `async` runs one loop thread with many transfers in flight.
//
// Each transfer:
// - retries connection errors, timeouts, cut bodies, HTTP 408, 429, 500, 502, 503 and 504,
//   up to `retries` times, after an exponential backoff with jitter; a Retry-After header
//   (seconds or a date) lengthens the wait, and one longer than `max_retry_delay_ms` fails
//   the transfer at once instead of sleeping;
// - resumes a cut body with `Range: bytes=N-` when the server advertised `Accept-Ranges:
//   bytes` and a validator, sent as `If-Range`. If the server sends the whole body instead, the
//   N bytes already delivered are skipped; if its ETag changed, the transfer fails ("changed
//   during download"). So no byte is delivered twice and none is lost;
// - follows at most `max_redirects` redirects, http and https only;
// - passes bytes on as they arrive and pauses (never buffers more) while its FetchSink is
//   full: backpressure from the CPU stages reaches the server through TCP.
// Bytes are passed on raw: a gzip or zstd body (also one sent with Content-Encoding: gzip,
// which logpipe never asks for) is decoded by the reader (DecodeByMagic), so resume offsets
// are always offsets in what the server sent.
//
// Thread-safety: a FetchLoop is used by one thread at a time, except Wakeup(), which any
//   thread may call (through the waker passed to buffers).
// Errors: a failed transfer closes its buffer with kUnavailable (exit 69) naming the URL, the
//   HTTP status or curl error, the attempts made and what to try; a body that changed during
//   a resumed download is kDataError.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/byte_source.h"
#include "io/status.h"

namespace logpipe {

// Settings of one URL's download. Durations in milliseconds; 0 disables a timeout.
struct UrlOptions {
  int64_t connect_timeout_ms = 10'000;
  int64_t timeout_ms = 0;  // per attempt, whole transfer (time paused by backpressure counts)
  // An attempt slower than low_speed_bytes per second for low_speed_time_ms fails (and is
  // retried). Time paused by backpressure does not count.
  int64_t low_speed_bytes = 1;
  int64_t low_speed_time_ms = 30'000;
  int retries = 3;  // attempts after the first
  int64_t retry_delay_ms = 500;       // the first backoff; doubled each retry, with jitter
  int64_t max_retry_delay_ms = 60'000;
  int max_redirects = 5;
  std::vector<std::string> headers;  // "Name: value", sent with every request
  std::string ca_file;               // PEM bundle to verify servers with (default: system's)
  bool tls_verify = true;
};

// True for "http://..." and "https://..." (scheme case-insensitive).
bool IsUrl(std::string_view input);

// Where a transfer's body goes. The FetchLoop calls these from the thread that pumps it; an
// implementation read by another thread synchronises itself (pipeline/stream_buffer.h).
class FetchSink {
 public:
  virtual ~FetchSink() = default;
  // Accepts all `n` bytes or none (then the transfer pauses until has_room()).
  virtual bool TryWrite(const char* data, size_t n) = 0;
  // The download ended: Ok, or its error for the reader.
  virtual void Close(Status status) = 0;
  // The reader is gone: the transfer is aborted.
  virtual bool cancelled() const = 0;
  virtual bool has_room() const = 0;
  // Given by the loop when the transfer starts: call it (from any thread) when room appears,
  // so a loop waiting in another thread resumes the paused transfer.
  virtual void set_on_room(std::function<void()> wake) = 0;
};

// A FetchSink for a reader in the loop's own thread (the serial model, tests): a bounded byte
// queue without locks.
class FetchBuffer : public FetchSink {
 public:
  explicit FetchBuffer(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  bool TryWrite(const char* data, size_t n) override;
  void Close(Status status) override;
  bool cancelled() const override { return cancelled_; }
  bool has_room() const override { return cancelled_ || bytes_.size() - head_ < capacity_; }
  void set_on_room(std::function<void()>) override {}  // the reader pumps the loop itself

  // Reader: moves up to `n` buffered bytes into `buf`; 0 when none is buffered (see closed()).
  size_t Take(char* buf, size_t n);
  void Cancel();
  bool closed() const { return closed_; }
  const Status& status() const { return status_; }  // once closed and drained
  size_t size() const { return bytes_.size() - head_; }

 private:
  size_t capacity_;
  std::string bytes_;  // bytes_[head_..] are buffered
  size_t head_ = 0;
  bool closed_ = false;
  bool cancelled_ = false;
  Status status_;
};

// Wakes a FetchLoop from any thread, also after the loop is gone (then it does nothing).
class FetchWaker {
 public:
  virtual ~FetchWaker() = default;
  virtual void Wakeup() = 0;
};

class FetchLoop {
 public:
  FetchLoop();
  ~FetchLoop();  // ends every transfer still running (its buffer is closed as cancelled)
  FetchLoop(const FetchLoop&) = delete;
  FetchLoop& operator=(const FetchLoop&) = delete;

  // Starts downloading `url` into `sink`; the sink is closed when the transfer ends.
  void Add(const std::string& url, const UrlOptions& options, std::shared_ptr<FetchSink> sink);
  // Waits up to `max_wait_ms` for network activity, a wakeup or a retry falling due, then
  // advances every transfer (resuming paused ones whose buffer has room).
  void Pump(int max_wait_ms);
  // Transfers not finished yet (running, paused, or waiting to retry).
  size_t active() const;
  std::shared_ptr<FetchWaker> waker() const;

 private:
  class Transfer;
  class Waker;
  struct Multi;                  // the CURLM handle, shared with the wakers
  std::shared_ptr<Multi> multi_;
  std::shared_ptr<Waker> waker_;
  std::vector<std::unique_ptr<Transfer>> transfers_;
};

// The serial model: a ByteSource that downloads `url` in the reading thread itself, holding
// at most `buffer_bytes` (the transfer pauses while the reader is busy). Raw bytes; wrap it
// in DecodeByMagic. Errors surface from Read().
std::unique_ptr<ByteSource> OpenUrl(const std::string& url, const UrlOptions& options,
                                    size_t buffer_bytes);

}  // namespace logpipe
