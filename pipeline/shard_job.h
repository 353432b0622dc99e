#pragma once
// `logpipe plan / map / reduce`: one job run as N shards by an outside
// scheduler (Slurm job arrays, GNU parallel, Kubernetes Indexed Jobs; README
// "Beyond one machine"), with outputs byte-identical to `logpipe --config
// run.yaml` on one machine.
//
//   plan:   expands the inputs, cuts them into shards (pipeline/shard_plan.h),
//   writes the plan
//           JSON atomically. Runs nothing.
//   map:    runs one shard's pieces with the config's own execution models and
//   writes its
//           records, rejects, partials and counters to a part file
//           (pipeline/part_file.h), atomically: a failed or killed map task
//           leaves no part.
//   reduce: checks every part (plan hash, shard ids: none missing, none twice;
//   checksums) and
//           that the inputs did not change since planning, then streams the
//           records and rejects in shard order, merges the partials in shard
//           order, and writes and commits the config's outputs as a
//           single-machine run does (pipeline/job_outputs.h).
// map and reduce run from the directory plan ran in (recorded in the plan; a
// shared filesystem), load the config from the same path with the same --set
// overrides, and refuse a config whose bytes changed since planning, a plan
// written by another logpipe version, and inputs that changed (size, mtime,
// first KiB; URLs are not checked).
//
// Thread-safety: call from the main thread (map's executor owns any other
// threads). Errors: exit-code statuses as RunJob's (pipeline/job.h); a foreign,
// duplicate, missing or
//   corrupt part and a changed input or config are kDataError (65) naming the
//   file and saying what to run again.

#include <cstddef>
#include <string>
#include <vector>

#include "io/status.h"
#include "pipeline/executor.h"

namespace logpipe {

struct PlanCommand {
  std::string config;
  std::vector<std::string> overrides;
  size_t shards = 0;
  std::string out;  // the plan file
};

struct PlanSummary {
  size_t inputs = 0;
  size_t shards = 0;
  size_t cut_files = 0;  // plain files cut into more than one piece
  bool counted_lines = false;
};

Result<PlanSummary> RunPlan(const PlanCommand& command);

// Test-only: with env LOGPIPE_TEST_CRASH_AT=map-before-commit, map SIGKILLs
// itself after its shard is processed, before its part file is committed.
Result<RunStats> RunMap(const std::string& plan_path, size_t shard, const std::string& out);

struct ReduceSummary {
  std::string job;
  size_t inputs = 0;
  size_t parts = 0;
  RunStats stats;
};

Result<ReduceSummary> RunReduce(const std::string& plan_path,
                                const std::vector<std::string>& parts);

}  // namespace logpipe
