#pragma once
// RunJob: one whole run of a Plan. Expands the inputs, opens every output (so an unwritable
// output fails before any work), runs the executor, writes records and rejects in input order,
// finishes the aggregate into a Report, writes every report, and commits all outputs only when
// everything succeeded (each output atomically: temp file, fsync, rename).
//
// Thread-safety: call from the main thread; the executor owns any other threads.
// Errors: the first failure, with the Status code that becomes the exit code: kNoInput (66)
//   missing input, kDataError (65) bad data with on_mismatch: fail or a corrupt compressed
//   input, kCantCreate (73) unwritable output, kIoError (74), kInterrupted (130) / kTerminated
//   (143) after SIGINT / SIGTERM under an InterruptGuard (pipeline/run_interrupt.h). Nothing is
//   committed on error.

#include <cstdint>
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
};

// What a run writes besides the config's outputs (committed with them, atomically).
struct RunOptions {
  std::string trace_path;  // --trace: Chrome trace-event JSON, one track per worker
  std::string stats_path;  // --stats-json: the run's measurements (pipeline/run_stats_json.h)
};

Result<JobResult> RunJob(const Plan& plan, const RunOptions& options = {});

// --dry-run: expands the inputs and opens each one (detecting its compression), runs nothing,
// writes nothing. Returns a short description of what a run would read.
Result<std::string> DryRun(const Plan& plan);

// The totals a report carries, in display order (shared by RunJob and tests).
std::vector<std::pair<std::string, uint64_t>> ReportTotals(const Plan& plan,
                                                           const std::vector<std::string>& inputs,
                                                           const RunStats& stats);

}  // namespace logpipe
