#pragma once
// --metrics-file: one run's metrics in the Prometheus text exposition format, for
// node_exporter's textfile collector (which reads every *.prom file of its directory). Written
// at the end of every run, failed ones too, so monitoring sees a failure and can alert on
// `time() - logpipe_last_success_timestamp_seconds`.
//
// Every sample has the label job="<config name>". The counts are those of the last run (the
// file is replaced each run), so they are typed `gauge`, not `counter`: compare them between
// runs, do not rate() them.
//   logpipe_lines_total, _bytes_total, _matched_total, _unparsed_total, _rejected_total,
//   _oversized_total, _skipped_inputs, logpipe_stage_busy_seconds{stage="<role>"}
//       only when the run read all of its inputs (has_counts); a run that stopped part way
//       (on_mismatch: fail, a read error) omits them rather than report partial counts.
//   logpipe_inputs                       when the inputs were expanded
//   logpipe_run_duration_seconds, logpipe_last_run_success (0/1), logpipe_last_run_exit_code,
//   logpipe_last_run_timestamp_seconds   always
//   logpipe_last_success_timestamp_seconds  this run's timestamp on success; on failure the
//       value of the file being replaced (same job), or no sample when it has none.
//
// Thread-safety: plain functions and values; call from the main thread.
// Cost: a few hundred bytes of text; reading the previous file once.
// Errors: kCantCreate (from AtomicFile) naming the path when the file cannot be written.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/atomic_file.h"
#include "io/status.h"
#include "pipeline/run_trace.h"

namespace logpipe {

struct RunMetrics {
  std::string job;  // the config's name
  int exit_code = 0;
  double duration_seconds = 0;
  int64_t timestamp_seconds = 0;  // when the run ended, Unix time
  // On failure: the previous file's logpipe_last_success_timestamp_seconds sample value, as
  // written there (empty: none). Ignored on success.
  std::string previous_last_success;
  std::optional<uint64_t> inputs;
  bool has_counts = false;  // the fields below are complete (the run read all its inputs)
  uint64_t lines = 0;
  uint64_t bytes = 0;
  uint64_t matched = 0;
  uint64_t unparsed = 0;
  uint64_t rejected = 0;  // written to the rejects file (on_mismatch: reject)
  uint64_t oversized = 0;
  uint64_t skipped_inputs = 0;
  std::vector<std::pair<std::string, double>> stage_busy_seconds;  // role -> seconds
};

// The text exposition format of `m`: `# HELP` and `# TYPE` once per metric, then its samples.
std::string FormatMetrics(const RunMetrics& m);

// `value` escaped as a label value: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);

// The value of logpipe_last_success_timestamp_seconds{job="<job>"} in `text` (a file this
// writer made), or empty when there is none or it is not a number.
std::string FindLastSuccess(std::string_view text, const std::string& job);

// Busy seconds (read, work, deliver, merge, setup spans) summed per track role, as
// --stats-json counts them, in the order roles first appear.
std::vector<std::pair<std::string, double>> StageBusySeconds(const RunTrace& trace);

// The metrics file of one run: Open() creates its temp file before the run (so an unwritable
// path fails before any work), Commit() writes and renames it into place at the end.
class MetricsFile {
 public:
  static Result<MetricsFile> Open(const std::string& path);
  // Fills m.previous_last_success from the file being replaced when the run failed, then
  // writes FormatMetrics(m) and commits. At most once.
  Status Commit(RunMetrics m);

 private:
  explicit MetricsFile(AtomicFile file) : file_(std::move(file)) {}
  AtomicFile file_;
};

}  // namespace logpipe
