#pragma once
// Downloads of http(s) URLs with libcurl, streamed into StreamBuffers, robust against a bad
// network. FetchLoop is one event loop (a libcurl multi handle) driving any number of
// transfers; the fetch models are built from it (io/prefetcher.h): `serial` pumps one loop in
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
// - passes bytes on as they arrive and pauses (never buffers more) while its StreamBuffer is
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
#include "io/stream_buffer.h"

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

  // Starts downloading `url` into `buffer`; the buffer is closed when the transfer ends.
  void Add(const std::string& url, const UrlOptions& options,
           std::shared_ptr<StreamBuffer> buffer);
  // Waits up to `max_wait_ms` for network activity, a wakeup or a retry falling due, then
  // advances every transfer (resuming paused ones whose buffer has room).
  void Pump(int max_wait_ms);
  // Transfers not finished yet (running, paused, or waiting to retry).
  size_t active() const;
  std::shared_ptr<FetchWaker> waker() const;

 private:
  class Transfer;
  class Waker;
  void* multi_;  // CURLM*
  std::shared_ptr<Waker> waker_;
  std::vector<std::unique_ptr<Transfer>> transfers_;
};

// The serial model: a ByteSource that downloads `url` in the reading thread itself, holding
// at most `buffer_bytes` (the transfer pauses while the reader is busy). Raw bytes; wrap it
// in DecodeByMagic. Errors surface from Read().
std::unique_ptr<ByteSource> OpenUrl(const std::string& url, const UrlOptions& options,
                                    size_t buffer_bytes);

}  // namespace logpipe
