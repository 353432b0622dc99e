#pragma once
// The progress bar on stderr (README "Progress"): bytes read of the total, percent, throughput,
// time left, and with several inputs which one is being read:
//   12.3 MiB / 1.0 GiB  1%  95.0 MiB/s  ETA 0:10  input 2/5 access.log
//
// Who does what: the run's reading thread (InputStream::Next, the same for every executor, the
// processes executor's parent included) calls OnChunk() once per chunk: two relaxed atomic
// stores, nothing per line. A reporter thread owned by the ProgressMeter wakes every 250 ms and
// draws from those counters: on a terminal (kRedraw) it redraws one line in place ('\r', erase
// to end of line) and erases it when the meter is destroyed, so later messages start on a clean
// line; elsewhere (kLines, --progress to a file or pipe) it prints a plain line every 5 s and a
// last one when the meter is destroyed. It writes with write(2) (no stdio lock, safe around the
// processes executor's fork) and nothing at all after SIGINT/SIGTERM (it erases its line at
// once so the stop message is clean).
//
// What counts: bytes the chunker delivered, that is the position reached in each input's
// decompressed stream. The total is the sum of the inputs' sizes when every input is a local
// regular file that is not compressed (found by the reporter thread, off the reading path, with
// stat and, for regular files only, a 4-byte magic probe: a FIFO is never opened); when any
// input is compressed, a URL, stdin or a pipe the total is unknown and the line shows bytes, rate and input k/N without percent or ETA.
//
// Hook: a process-wide pointer. A ProgressMeter installs itself as Active() for its lifetime
// (one at a time; cli.cc creates one around RunJob when the bar is on); InputStream reads
// Active() once when constructed. No meter (--quiet, not a terminal without --progress, tests,
// --compare): one null check per chunk.
// Thread-safety: SetInputs and OnChunk from one reading thread at a time; the rest from the
//   thread that created the meter.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "io/chunk.h"

namespace logpipe {

// What one progress line shows.
struct ProgressState {
  uint64_t bytes_done = 0;
  std::optional<uint64_t> bytes_total;  // unknown: no percent, no ETA
  double seconds = 0;                   // since the run started
  size_t input = 0;                     // 1-based index of the input being read; 0: none yet
  size_t inputs = 0;                    // inputs in the run
  std::string input_name;
  bool finished = false;                // the last line: "done" instead of the ETA
};

// "0 B", "512 B", "12.3 KiB", "1.0 GiB" (binary units, one decimal from KiB on).
std::string FormatProgressBytes(uint64_t bytes);
// "0:07", "12:34", "1:02:03" (rounded up to whole seconds).
std::string FormatProgressDuration(double seconds);
// The line for `state`, at most `width` characters: the input's name is shortened from the
// left ("...ss.log") to fit, or left out when even that does not fit. The rate is shown from
// 0.5 s on (on the last line always), the ETA when the total and a rate are known; "input k/N" only with several inputs.
std::string FormatProgress(const ProgressState& state, size_t width = 100);

class ProgressMeter {
 public:
  enum class Mode { kRedraw, kLines };

  // Starts the reporter thread drawing on `fd` and installs this meter as Active().
  ProgressMeter(int fd, Mode mode);
  // Stops the thread and uninstalls; kRedraw erases the line, kLines prints the final state
  // ("done in ...") if set_succeeded() was called (a failed run's error message follows instead).
  ~ProgressMeter();
  ProgressMeter(const ProgressMeter&) = delete;
  ProgressMeter& operator=(const ProgressMeter&) = delete;

  // The run read every input and wrote its outputs (call before the destructor).
  void set_succeeded() { succeeded_ = true; }

  // The installed meter, or nullptr.
  static ProgressMeter* Active();

  // The run's expanded inputs (reading thread, once, before the first chunk). `begins`
  // (optional, one per input): the byte offset each input is read from (an incremental run
  // reads only what was added); those bytes count neither as done nor in the total.
  void SetInputs(const std::vector<std::string>& inputs, std::vector<uint64_t> begins = {});

  // A chunk the reading thread is about to hand out (reading thread only).
  void OnChunk(const Chunk& chunk) {
    if (chunk.size() > 0) {
      OnPosition(chunk.source, chunk.offset + chunk.size());
    } else {
      OnPosition(chunk.source, std::nullopt);
    }
  }
  // Input `source` has been done up to stream offset `end` (none: no new bytes); inputs are
  // done in order (the reading thread, or the processes executor's parent as it delivers).
  void OnPosition(uint32_t source, std::optional<uint64_t> end) {
    if (source != source_) {
      done_before_ += source_end_;
      source_ = source;
      source_end_ = 0;
    }
    if (end) {
      const uint64_t begin = source < begins_.size() ? begins_[source] : 0;
      source_end_ = *end > begin ? *end - begin : 0;
    }
    bytes_done_.store(done_before_ + source_end_, std::memory_order_relaxed);
    input_.store(source + 1, std::memory_order_relaxed);
  }

 private:
  void Run();
  ProgressState Snapshot(bool finished);
  void Draw(const ProgressState& state);
  void Erase();

  const int fd_;
  const Mode mode_;
  const std::chrono::steady_clock::time_point start_;
  // Reading thread only.
  uint32_t source_ = 0;
  uint64_t done_before_ = 0;  // bytes of the inputs before source_
  uint64_t source_end_ = 0;   // bytes of source_ read (stream position reached - its begin)
  std::vector<uint64_t> begins_;
  // Reading thread -> reporter.
  std::atomic<uint64_t> bytes_done_{0};
  std::atomic<size_t> input_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> inputs_;  // guarded by mu_
  std::vector<uint64_t> inputs_begins_;  // guarded by mu_
  bool inputs_changed_ = false;      // guarded by mu_
  bool stop_ = false;                // guarded by mu_
  // Reporter thread only (and the destructor after join).
  std::vector<std::string> names_;
  std::optional<uint64_t> total_;
  bool drawn_ = false;  // kRedraw: a line is on the terminal
  bool silenced_ = false;  // a stop signal arrived: draw nothing more
  bool succeeded_ = false;  // creating thread only
  std::thread thread_;
};

}  // namespace logpipe
