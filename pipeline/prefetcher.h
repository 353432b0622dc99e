#pragma once
// Prefetcher: the fetch stage's `threads` and `async` models. It reads a run's inputs (URLs
// and local files) ahead of the reader, several at once, each into its own bounded
// StreamBuffer, while the reader takes them strictly in input order, so results never depend
// on which transfer finishes first.
//
// - `threads`: `workers` I/O threads; each takes the next input and reads it to the end: a
//   URL through its own FetchLoop with one transfer (a blocking download), a local file with
//   read(2) (decompressing it there, so several .gz inputs decompress in parallel).
// - `async`: one event-loop thread drives up to `workers` URL transfers at once (libcurl
//   multi). Local files and stdin are left to the reader, which opens them in turn.
// The window: at most `workers` inputs are transferring at once, and an input is started only
// when it is fewer than 2 x `workers` inputs ahead of the one being read (so finished inputs
// waiting for the reader do not stop new transfers). At most 2 x `workers` x `buffer_bytes`
// are held, whatever the input sizes.
//
// Thread-safety: Open() from the one reading thread, in order 0, 1, 2, ...
// Lifetime: the destructor cancels what is still running and joins its threads.
// Errors: a failed input's source returns its error from Read(): kNoInput for a missing file,
//   kUnavailable for a failed download (see io/url_fetch.h).

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "io/byte_source.h"
#include "io/status.h"
#include "io/url_fetch.h"
#include "pipeline/run_trace.h"
#include "pipeline/stream_buffer.h"

namespace logpipe {

enum class FetchModel { kSerial, kThreads, kAsync };
const char* FetchModelName(FetchModel model);

struct FetchInput {
  std::string name;     // a path, "-" or a URL
  UrlOptions url;       // used when `name` is a URL
  // A local file: read only its (decompressed) bytes [begin, end) (pipeline/input_range.h).
  uint64_t begin = 0;
  uint64_t end = UINT64_MAX;
};

class Prefetcher {
 public:
  // `model` is kThreads or kAsync; `workers` >= 1. With a `trace`, each I/O thread (threads)
  // or transfer slot (async) gets a track with one kFetch span per input it fetched.
  Prefetcher(std::vector<FetchInput> inputs, FetchModel model, int workers, size_t buffer_bytes,
             RunTrace* trace = nullptr);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // The bytes of input `index`, decoded (gzip/zstd by magic bytes). Call in order.
  Result<std::unique_ptr<ByteSource>> Open(size_t index);

 private:
  // Whether a worker (not the reader) reads input `index`.
  bool Prefetched(size_t index) const;
  // The next input a worker may start, waiting for the window to allow one; SIZE_MAX when
  // there is none left or the Prefetcher stops. `wait`: block, else return SIZE_MAX at once.
  size_t Claim(bool wait);
  std::shared_ptr<StreamBuffer> BufferFor(size_t index);  // created on first use; holds mu_
  bool Stopping();
  void RunThread(RunTrace::Track* track);
  void RunLoop();
  void ReadFile(const FetchInput& input, StreamBuffer& buffer);

  const std::vector<FetchInput> inputs_;
  const FetchModel model_;
  const size_t workers_;
  const size_t buffer_bytes_;
  RunTrace* const trace_;

  std::mutex mu_;
  std::condition_variable cv_;
  size_t reading_ = 0;     // the input the reader is on
  size_t next_claim_ = 0;  // the next input to start
  bool stop_ = false;
  std::vector<std::shared_ptr<StreamBuffer>> buffers_;  // released once the reader has one
  std::shared_ptr<FetchWaker> loop_waker_;              // async: wakes the loop thread
  std::vector<std::thread> threads_;
};

}  // namespace logpipe
