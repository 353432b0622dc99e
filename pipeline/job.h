#pragma once
// RunJob: one whole run of a Plan. Expands the inputs, opens every output (so an unwritable
// output fails before any work), runs the executor, writes records and rejects in input order,
// finishes the aggregate into a Report, writes every report, and commits all outputs only when
// everything succeeded (each output atomically: temp file, fsync, rename).
// With `state:` (incremental runs, pipeline/incremental.h) it reads only each input's new whole
// lines and commits the state file last: records and rejects, then reports, then the state.
//
// Thread-safety: call from the main thread; the executor owns any other threads.
// Errors: the first failure, with the Status code that becomes the exit code: kNoInput (66)
//   missing input, kDataError (65) bad data with on_mismatch: fail or a corrupt compressed
//   input or more unparsed lines than the parse stage's max_reject_ratio, kCantCreate (73)
//   unwritable output, kIoError (74), kInterrupted (130) / kTerminated (143) after SIGINT /
//   SIGTERM under an InterruptGuard (pipeline/run_interrupt.h). Nothing is committed on error,
//   except the rejects file when max_reject_ratio fails the run (the lines that failed it, for
//   the operator to read).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/status.h"
#include "pipeline/executor.h"
#include "pipeline/plan.h"
#include "stages/table.h"

namespace logpipe {

struct JobResult {
  std::vector<std::string> inputs;  // the expanded input list
  RunStats stats;
  Report report;
  double wall_seconds = 0;
  // Incremental runs: inputs truncated or rewritten since the previous run (printed on stderr
  // unless --quiet).
  std::vector<std::string> warnings;
};

// What a run writes besides the config's outputs (committed with them, atomically).
struct RunOptions {
  std::string trace_path;  // --trace: Chrome trace-event JSON, one track per worker
  std::string stats_path;  // --stats-json: the run's measurements (pipeline/run_stats_json.h)
};

// How far a run got, filled as it goes, failed runs too (for --metrics-file).
struct JobProgress {
  std::optional<size_t> inputs;  // set once the inputs are expanded
  bool read_all = false;         // the executor finished: `stats` and `stage_busy_seconds` are
                                 // complete (a run can still fail after, e.g. max_reject_ratio)
  RunStats stats;
  std::vector<std::pair<std::string, double>> stage_busy_seconds;  // per track role
};

Result<JobResult> RunJob(const Plan& plan, const RunOptions& options = {},
                         JobProgress* progress = nullptr);

// With `state:` (pipeline/incremental.h): one line per input saying what a run would read
// ("from byte N", "rotated from X", "truncated: from the start"). Reads the state file and
// each input's first KiB; writes nothing. For --dry-run and --explain.
Result<std::string> DescribeIncremental(const Plan& plan);

// --dry-run: expands the inputs and opens each one (detecting its compression), runs nothing,
// writes nothing. Returns a short description of what a run would read.
Result<std::string> DryRun(const Plan& plan);

// The totals a report carries, in display order (shared by RunJob and tests).
std::vector<std::pair<std::string, uint64_t>> ReportTotals(const Plan& plan,
                                                           const std::vector<std::string>& inputs,
                                                           const RunStats& stats);

}  // namespace logpipe
