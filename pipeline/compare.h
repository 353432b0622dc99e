#pragma once
// Comparison mode: runs one job under several execution-model variants and shows, measured,
// which wins and why. A variant is a config file (--compare a.yaml b.yaml) or one point of
// the cartesian product of --compare-set KEY=V1,V2,... lists applied to one config.
//
// Every run is a child process (this binary, re-executed) so its resources are measured
// cleanly: wall time around fork/exec/wait4, user and system CPU of the child and every
// process it waited for (forked shards included), peak RSS (the largest process of its tree,
// as the kernel accounts it). The child writes its outputs into a private directory (never
// the configured paths), its measurements (--stats-json) and, for one run per variant, its
// activity trace (--trace). Runs alternate (A B C A B C ...) after `warmup` unmeasured rounds,
// so drift on a shared machine hits every variant alike.
//
// Every run's outputs are digested; a variant whose outputs differ from the first variant's,
// or a run that fails, fails the comparison (exit 70): a faster wrong answer is not a win.
//
// Thread-safety: RunComparison runs children one at a time from the calling thread.
// Errors: kUsage for bad variant lists; kInternal (70) when outputs differ or a run fails, with
//   the result still filled in (and reported) as far as it got.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/status.h"

namespace logpipe {

struct CompareVariant {
  std::string name;               // "a" (config stem) or "model=threads workers=2"
  std::string config;             // the config file
  std::vector<std::string> sets;  // --set overrides for this variant (common ones first)
};

struct CompareOptions {
  std::vector<CompareVariant> variants;
  int repeat = 5;
  int warmup = 1;
  std::string out_dir;      // compare.json, compare.csv, compare.html, traces/; empty: none
  std::string self_binary;  // the logpipe binary to run (default /proc/self/exe)
  bool quiet = false;       // no progress lines on stderr
};

// One measured run of one variant.
struct CompareRun {
  int round = 0;  // 0-based counted round (warm-up runs are not kept)
  double wall_s = 0;
  double user_s = 0;  // the child and its waited-for descendants
  double sys_s = 0;
  double max_rss_mib = 0;  // the largest single process of the child's tree
  int exit_code = 0;
  uint64_t digest = 0;  // of every output file, names and bytes
};

// Where one role's workers spent the run (from the child's --stats-json, one run).
struct CompareStage {
  std::string role;   // "read", "parse -> aggregate", "deliver", ...
  int tracks = 0;     // threads or shards doing it
  double busy_s = 0;  // summed over its tracks
  double wait_input_s = 0;
  double blocked_output_s = 0;
  double cpu_s = 0;       // on a CPU while busy
  double runqueue_s = 0;  // runnable but waiting for a core (more threads than cores)
  double busy_share = 0;  // busy / (wall x tracks)
  // "CPU-bound", "CPU-bound (short of cores)", "I/O-bound", "starved (waits for input)",
  // "blocked (waits for downstream)" or "light".
  std::string bound;
};

// One worker's spans of one run, for the activity timeline.
struct TimelineSpan {
  std::string kind;  // "read", "work", "deliver", "wait for input", "blocked on output", ...
  double start_s = 0;
  double end_s = 0;
};
struct TimelineTrack {
  std::string name;
  std::vector<TimelineSpan> spans;
};

struct CompareVariantResult {
  CompareVariant variant;
  std::string model;  // of the CPU stages: "serial", "threads", "tbb", "processes"
  int workers = 1;    // of the CPU stages (largest segment)
  std::string fetch_model;
  int fetch_workers = 1;
  std::vector<CompareRun> runs;
  bool failed = false;           // a run exited non-zero
  bool output_differs = false;   // its outputs are not the first variant's
  std::string problem;           // why, for the report
  // Summary of the counted runs.
  double wall_median_s = 0, wall_min_s = 0, wall_max_s = 0;
  double user_median_s = 0, sys_median_s = 0;
  double cpu_utilisation = 0;  // (user + sys) / wall: cores kept busy
  double max_rss_mib = 0;
  double mb_per_s = 0, lines_per_s = 0;
  double speedup = 1;      // median over rounds of wall(first variant) / wall(this), paired
  double speedup_min = 1, speedup_max = 1;
  double efficiency = 1;   // speedup x workers(first) / workers(this)
  uint64_t bytes = 0, lines = 0;
  std::vector<CompareStage> stages;
  // Processes model only: the costs the seed articles warn about.
  bool has_processes = false;
  double fork_s = 0;
  uint64_t partial_bytes = 0, request_bytes = 0, result_bytes = 0;
  std::vector<TimelineTrack> timeline;  // one run's activity per worker
};

struct CompareResult {
  std::string job;
  std::string started;  // ISO 8601 local time
  int repeat = 0, warmup = 0;
  int cpus = 0;
  std::vector<double> load_before, load_after;  // 1/5/15-minute load averages
  std::vector<CompareVariantResult> variants;
  std::string advice;  // the advisor paragraph
  bool ok = true;      // every run succeeded and every output matched
};

// The variants of --compare-set lists over one config: the cartesian product, first list
// varying slowest. Each set is "KEY.PATH=V1,V2,...". kUsage for a malformed set.
Result<std::vector<CompareVariant>> VariantsFromSets(const std::string& config,
                                                     const std::vector<std::string>& common_sets,
                                                     const std::vector<std::string>& compare_sets);

// Runs everything and fills `*result` (also on error, as far as it got).
Status RunComparison(const CompareOptions& options, CompareResult* result);

// The summaries of a variant's runs against the first variant's (exposed for tests):
// medians, paired speedups, efficiency, throughput.
void Summarize(const CompareVariantResult& base, CompareVariantResult* v);

// The advisor paragraph, from the measurements; never recommends a failed or different variant.
std::string Advise(const CompareResult& result);

// Renderings. The terminal table (aligned, with units), JSON and CSV.
std::string FormatCompareTable(const CompareResult& result);
std::string FormatCompareJson(const CompareResult& result);
std::string FormatCompareCsv(const CompareResult& result);

}  // namespace logpipe
