#pragma once
// Plan: a Config made runnable. BuildPlan resolves the parse pattern, works out which fields
// later stages read (only those are captured: capture pushdown), types them, compiles every
// regex and filter, builds the aggregate and record formatters, and fuses consecutive stages
// with the same execution model into segments. Explain() prints all of that for --explain.
//
// The job shape is: one parse stage first, then any number of filters, then any number of
// aggregates (each a table of the report). Records outputs see the rows that survive the
// filters.
// Thread-safety: immutable after BuildPlan; executors share one Plan across workers.
// Errors: kConfig naming the config place ("run.yaml:12:14: ...") and what was expected.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/chunker.h"
#include "io/status.h"
#include "pipeline/config.h"
#include "pipeline/prefetcher.h"
#include "stages/event_start.h"
#include "stages/parse_stage.h"
#include "stages/schema.h"
#include "stages/stage.h"

namespace logpipe {

// Consecutive stages that run on the same execution model, with no queue between them.
struct Segment {
  ExecModel model = ExecModel::kSerial;
  int workers = 1;
  int max_live_tokens = 0;  // as configured (0: default)
  size_t first_stage = 0;  // stages [first_stage, end_stage) of the config, in order
  size_t end_stage = 0;
  std::vector<std::string> stage_names;  // "parse", "filter", "aggregate"
  std::string label() const;             // "parse -> filter -> aggregate"
};

// The fetch stage as it runs. Without a fetch stage (or its exec): `async` with 8 transfers
// when any input is a URL, else `serial` (the reading thread reads each file in turn).
struct FetchPlan {
  FetchModel model = FetchModel::kSerial;
  int workers = 1;
  size_t buffer_bytes = size_t{4} << 20;  // per input in flight
  OnFetchError on_error = OnFetchError::kFail;
};

// One `inputs` entry made concrete: a path (expanded when the run starts: globs, directories)
// or URLs (one for `url`, the listed ones for `urls_from`, read by BuildPlan).
struct PlanInput {
  std::string path;
  std::vector<std::string> urls;
  UrlOptions url_options;
};

struct RecordOutputPlan {
  OutputSpec spec;
  std::unique_ptr<RecordFormatter> formatter;
};

class Plan {
 public:
  Config config;
  Schema schema;
  // Every named group of the parse pattern, then kEventLinesField with multi-line events.
  std::vector<std::string> pattern_groups;
  std::string pattern_label;                      // "combined" or "regex"
  const ParseStage* parse = nullptr;              // == transforms[0]
  std::vector<std::unique_ptr<Transform>> transforms;  // parse, then filters, in order
  // One per aggregate stage, in config order (the stages after the last filter).
  std::vector<std::unique_ptr<Aggregate>> aggregates;
  std::vector<std::string> aggregate_names;       // report table names, unique
  OnMismatch on_mismatch = OnMismatch::kCount;
  std::string rejects_path;                       // empty: no rejects file
  std::optional<double> max_reject_ratio;         // the parse stage's limit (none: no limit)
  std::string max_reject_ratio_place;             // where it was set, for the error message
  std::vector<RecordOutputPlan> record_outputs;
  std::vector<OutputSpec> report_outputs;         // never empty: default is a table on stdout
  std::vector<size_t> report_csv_tables;          // per report output: the table a csv writes
  ChunkerOptions chunker;  // with multi-line events, chunker.multiline.starts_event calls:
  std::unique_ptr<EventStart> event_start;         // null without multi-line events
  // What RecordBatch::Reset needs to group a chunk's lines into events (null: lines).
  const StartsEventFn* starts_event() const {
    return chunker.multiline.enabled() ? &chunker.multiline.starts_event : nullptr;
  }
  std::vector<PlanInput> inputs;
  FetchPlan fetch;
  std::vector<Segment> segments;
  size_t live_tokens = 1;  // WorkItems (chunks) in flight at most; bounds memory

  // Stage i of the config is transforms[i] when i < transforms.size(), else
  // aggregates[i - transforms.size()].
  // Whether the run's aggregate partials go to Finish only: not stored in the state file
  // (accumulate), so process shards may send heads (Aggregate::EncodeHead) instead of them.
  bool partials_only_finished() const { return !config.accumulate; }

  bool is_aggregate_stage(size_t i) const { return i >= transforms.size(); }
  size_t aggregate_index(size_t stage) const { return stage - transforms.size(); }

  // The run's inputs in order: paths expanded (io/input_paths.h), URLs as listed, each input
  // once (first place wins). Errors: kNoInput naming the entry.
  Result<std::vector<std::string>> ExpandInputs() const;
  // The download settings of `url`: those of the first entry that lists it.
  const UrlOptions& UrlOptionsFor(const std::string& url) const;

  // Human-readable physical plan: inputs, read settings, segments, captures and engine,
  // filters, aggregate, outputs, and the memory bound.
  std::string Explain() const;
};

Result<Plan> BuildPlan(Config config);

// Why the job's outputs show line numbers (on_mismatch: fail names the first bad line, a
// rejects file, records with line_numbers: true), or "" when nothing shows them: then a
// reader that starts inside a file need not know which line it starts at.
std::string LineNumbersShowReason(const Plan& plan);

// Workers when `exec.workers` is not given for a parallel model: one per core.
int DefaultWorkers();

}  // namespace logpipe
