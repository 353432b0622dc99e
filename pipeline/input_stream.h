#pragma once
// InputStream: every input of a run, one after another, as one sequence of Chunks numbered
// by `seq`. This is where the fetch stage runs: with fetch model `serial` each input is opened
// only when the previous one is exhausted (a URL is downloaded by this thread as it reads);
// with `threads` or `async` a Prefetcher (pipeline/prefetcher.h) reads and downloads inputs ahead,
// and this stream still takes them strictly in input order, so results never depend on the
// order transfers finish in.
//
// Thread-safety: none; one reader at a time calls Next() (serial: the one thread; threads: the
//   first segment's workers in turn, under a lock; tbb: its serial input filter).
// Cost: one Chunker's buffers, plus the prefetcher's bounded buffers.
// Errors: the first open or read failure, naming the input (kNoInput, kIoError, kDataError,
//   kUnavailable for a failed download). With on_fetch_error: skip, a URL input that fails is
//   left out instead and listed in `skipped` (lines it delivered before failing still count).
//   After SIGINT/SIGTERM (pipeline/run_interrupt.h), Next() returns InterruptedStatus().

#include <memory>
#include <string>
#include <vector>

#include "io/chunker.h"
#include "pipeline/input_range.h"
#include "pipeline/prefetcher.h"
#include "io/status.h"
#include "pipeline/plan.h"
#include "pipeline/run_trace.h"
#include "stages/table.h"

namespace logpipe {

class ProgressMeter;

class InputStream {
 public:
  // `plan` must outlive the stream. `ranges`: which part of each input to read
  // (pipeline/input_range.h; empty: all of every input). `skipped` (optional) receives skipped
  // inputs; `trace` (optional) gets the fetch stage's tracks. The stream moves the progress
  // bar (pipeline/progress.h) unless `report_progress` is false (a caller that reads only some
  // of the run's inputs through it reports progress itself).
  InputStream(std::vector<std::string> inputs, std::vector<InputRange> ranges, const Plan& plan,
              std::vector<SkippedInput>* skipped = nullptr, RunTrace* trace = nullptr,
              bool report_progress = true);

  // Fills `chunk` with the next chunk of the run; false after the last input is exhausted.
  Result<bool> Next(Chunk* chunk);

  const std::vector<std::string>& inputs() const { return inputs_; }

 private:
  Result<std::unique_ptr<ByteSource>> Open(size_t index);
  // Whether the failure of the current input is skipped (and recorded) rather than fatal.
  bool Skip(const Status& status);

  std::vector<std::string> inputs_;
  std::vector<InputRange> ranges_;
  const Plan& plan_;
  std::vector<SkippedInput>* skipped_;
  std::unique_ptr<Prefetcher> prefetcher_;
  size_t next_input_ = 0;
  std::unique_ptr<Chunker> current_;
  uint64_t next_seq_ = 0;
  ProgressMeter* progress_;  // the progress bar's counters (pipeline/progress.h), or nullptr
};

}  // namespace logpipe
