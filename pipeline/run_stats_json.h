#pragma once
// The measurements of one run as JSON (--stats-json FILE): what was read, how long it took,
// how the stages ran (models, workers) and, per worker track, the time spent busy, waiting
// for input and blocked on output, with the CPU time of that track. The comparison mode
// (pipeline/compare.h) runs each variant as a child process with --stats-json and reads this.
//
// Format (version 1): {"logpipe_stats": 1, "job", "wall_seconds", "inputs", "bytes", "lines",
//   "matched", "fetch": {"model", "workers"}, "segments": [{"stages", "model", "workers"}],
//   "tracks": [{"name", "role", "busy_s", "read_s", "work_s", "deliver_s", "merge_s",
//   "setup_s", "fetch_s", "wait_input_s", "blocked_output_s", "cpu_s", "runqueue_s"}] (cpu_s: time its
//   thread ran on a CPU while busy; runqueue_s: time it was runnable but waiting for a core),
//   "processes": {...} (model processes only: shards_started, shards_retried, fork_seconds,
//   request_bytes, result_bytes, partial_bytes)}. Seconds as decimals, counts as integers.
// Thread-safety: plain function.

#include <string>

#include "pipeline/executor_processes.h"
#include "pipeline/job.h"
#include "pipeline/plan.h"
#include "pipeline/run_trace.h"

namespace logpipe {

// `processes` is null unless the run used model processes.
void AppendRunStatsJson(const Plan& plan, const JobResult& result, const RunTrace& trace,
                        const ProcessesExecutorStats* processes, std::string* out);

}  // namespace logpipe
