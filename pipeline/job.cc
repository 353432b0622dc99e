#include "pipeline/job.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include "io/byte_source.h"
#include "io/url_fetch.h"
#include "pipeline/executor_processes.h"
#include "pipeline/incremental.h"
#include "pipeline/job_outputs.h"
#include "pipeline/metrics_file.h"
#include "pipeline/output_target.h"
#include "pipeline/run_interrupt.h"
#include "pipeline/run_stats_json.h"

namespace logpipe {
namespace {

// Appends each batch's rendered records and rejects as batches arrive in input order, and
// stops the run at the first batch that carries an error (on_mismatch: fail).
class JobConsumer : public OrderedConsumer {
 public:
  explicit JobConsumer(const Plan& plan) : plan_(plan) {}

  // Incremental runs: record where each of `inputs` inputs ended.
  void TrackEnds(size_t inputs) { ends_.resize(inputs); }
  const std::vector<InputEnd>& ends() const { return ends_; }

  Status Open() { return outputs_.Open(plan_); }

  Status Consume(const BatchOutput& output) override {
    if (!output.error.ok()) return output.error;
    if (output.source < ends_.size()) {
      InputEnd& end = ends_[output.source];
      end.seen = true;
      end.offset = output.end_offset;
      end.next_line = output.end_line;
    }
    if (!output.rejects.empty()) LOGPIPE_RETURN_IF_ERROR(outputs_.AppendRejects(output.rejects));
    for (size_t i = 0; i < outputs_.records_outputs(); ++i) {
      LOGPIPE_RETURN_IF_ERROR(outputs_.AppendRecords(i, output.records[i]));
    }
    return Status::Ok();
  }

  RecordOutputs& outputs() { return outputs_; }

 private:
  const Plan& plan_;
  RecordOutputs outputs_;
  std::vector<InputEnd> ends_;
};

}  // namespace

std::vector<std::pair<std::string, uint64_t>> ReportTotals(const Plan& plan,
                                                           const std::vector<std::string>& inputs,
                                                           const RunStats& stats) {
  const BatchCounters& c = stats.counters;
  std::vector<std::pair<std::string, uint64_t>> totals = {
      {"inputs", inputs.size()},
      {"bytes", c.bytes},
      {"lines", c.lines + stats.oversized_lines + c.dropped_lines},
  };
  if (plan.chunker.multiline.enabled()) {
    totals.push_back({"events", c.events});
    totals.push_back({"truncated_events", c.truncated_events});
    totals.push_back({"dropped_lines", c.dropped_lines});
  }
  totals.push_back({"matched", c.matched});
  totals.push_back({"unparsed", c.mismatched});
  totals.push_back({"oversized", stats.oversized_lines});
  if (plan.fetch.on_error == OnFetchError::kSkip) {
    totals.push_back({"skipped_inputs", stats.skipped_inputs.size()});
  }
  if (plan.config.stages[0].encoding == "utf8") totals.push_back({"invalid_utf8", c.invalid_utf8});
  if (plan.transforms.size() > 1) {
    totals.push_back({"filtered_out", c.filtered_out});
    totals.push_back({"selected", c.matched - c.filtered_out});
  }
  for (size_t f = 0; f < plan.schema.size(); ++f) {
    if (plan.schema.field(f).type == FieldType::kString) continue;
    if (plan.event_start != nullptr && plan.schema.field(f).name == kEventLinesField) continue;
    uint64_t errors = f < c.conversion_errors.size() ? c.conversion_errors[f] : 0;
    totals.push_back({"conversion_errors." + plan.schema.field(f).name, errors});
  }
  return totals;
}

Result<JobResult> RunJob(const Plan& plan, const RunOptions& options, JobProgress* progress) {
  const auto start = std::chrono::steady_clock::now();
  JobProgress unused;
  if (progress == nullptr) progress = &unused;
  JobResult result;
  Result<std::vector<std::string>> inputs = plan.ExpandInputs();
  if (!inputs.ok()) return inputs.status();
  result.inputs = std::move(inputs.value());
  progress->inputs = result.inputs.size();

  // Incremental runs: what each input continues, from the state file.
  std::optional<IncrementalRun> incremental;
  if (!plan.config.state.empty()) {
    Result<IncrementalRun> prepared = PrepareIncremental(plan, result.inputs);
    if (!prepared.ok()) return prepared.status();
    incremental.emplace(std::move(prepared.value()));
    result.warnings = incremental->warnings;
  }

  // Open every output first: a run that cannot write fails before it reads a byte.
  JobConsumer consumer(plan);
  LOGPIPE_RETURN_IF_ERROR(consumer.Open());
  if (incremental) consumer.TrackEnds(result.inputs.size());
  std::optional<AtomicFile> state_file;
  if (incremental) {
    Result<AtomicFile> file = AtomicFile::Create(incremental->state_path);
    if (!file.ok()) return file.status();
    state_file.emplace(std::move(file.value()));
  }
  ReportOutputs reports;
  LOGPIPE_RETURN_IF_ERROR(reports.Open(plan));
  std::vector<std::pair<OutputTarget, bool>> extras;  // (target, is the trace)
  for (const auto& [path, is_trace] : {std::pair<std::string, bool>{options.trace_path, true},
                                       std::pair<std::string, bool>{options.stats_path, false}}) {
    if (path.empty()) continue;
    Result<OutputTarget> target = OutputTarget::Open(path, /*streaming=*/false);
    if (!target.ok()) return target.status();
    extras.emplace_back(std::move(target.value()), is_trace);
  }
  // What a forced stop on SIGINT/SIGTERM removes (pipeline/run_interrupt.h); destructors
  // remove them on every other path.
  std::vector<std::string> temp_paths;
  consumer.outputs().AppendTempPaths(&temp_paths);
  reports.AppendTempPaths(&temp_paths);
  for (const auto& extra : extras) temp_paths.push_back(extra.first.temp_path());
  if (state_file) temp_paths.push_back(state_file->temp_path());
  SetTempFiles(std::move(temp_paths));  // stale after return: harmless (unique, our pid)

  RunResult run;
  run.trace.set_keep_spans(!options.trace_path.empty());
  BatchRenderer renderer(plan, result.inputs);
  ProcessesExecutorStats processes;
  const bool uses_processes =
      plan.segments.size() == 1 && plan.segments[0].model == ExecModel::kProcesses;
  std::unique_ptr<Executor> executor =
      uses_processes ? NewProcessesExecutorWithStats(&processes, plan.partials_only_finished())
                     : NewExecutor(plan);
  static const std::vector<InputRange> kWholeInputs;
  LOGPIPE_RETURN_IF_ERROR(executor->Run(plan, result.inputs,
                                        incremental ? incremental->ranges : kWholeInputs,
                                        renderer, consumer, &run));
  result.stats = run.stats;
  progress->read_all = true;
  progress->stats = run.stats;
  progress->stage_busy_seconds = StageBusySeconds(run.trace);
  if (Status ratio = CheckRejectRatio(plan, run.stats); !ratio.ok()) {
    // The rejects are the evidence of what failed the run: keep them. Records and reports
    // are not committed.
    if (Status rejects = consumer.outputs().CommitRejects(); !rejects.ok()) {
      return DataError(ratio.message() + " (and the rejects file could not be written: " +
                       rejects.message() + ")");
    }
    return ratio;
  }

  result.report.job_name = plan.config.name;
  result.report.totals = ReportTotals(plan, result.inputs, run.stats);
  result.report.skipped_inputs = run.stats.skipped_inputs;
  std::string state_bytes;
  if (incremental) {
    result.report.totals.push_back({"restarted_inputs", incremental->restarted});
    std::vector<std::string> encoded;
    if (plan.config.accumulate) {
      // The report covers every run so far: stored partials and totals merged with this run's.
      // new_lines / new_bytes say what this run added (not summed).
      std::vector<std::pair<std::string, uint64_t>> added;
      for (const auto& [name, value] : result.report.totals) {
        if (name == "lines" || name == "bytes") added.push_back({"new_" + name, value});
      }
      LOGPIPE_RETURN_IF_ERROR(
          AccumulateInto(plan, *incremental, &run.partials, &result.report.totals));
      result.report.totals.insert(result.report.totals.end(), added.begin(), added.end());
      for (size_t a = 0; a < plan.aggregates.size(); ++a) {
        encoded.emplace_back();
        plan.aggregates[a]->Encode(*run.partials[a], &encoded.back());
      }
    }
    state_bytes = EncodeStateFile(NextState(*incremental, result.inputs, consumer.ends(),
                                            plan.config.accumulate, result.report.totals,
                                            std::move(encoded)));
  }
  for (size_t a = 0; a < plan.aggregates.size(); ++a) {
    result.report.tables.push_back(
        {plan.aggregate_names[a], plan.aggregates[a]->Finish(std::move(*run.partials[a]))});
  }

  LOGPIPE_RETURN_IF_ERROR(reports.Write(plan, result.report));
  // From here on a signal no longer stops the run: outputs are renamed into place.
  if (!BeginCommit()) return InterruptedStatus();
  // Records and rejects first, reports next: a report on disk implies its records are too.
  // The state file last: it advances only once every output is in place (a crash before
  // its rename makes the next run read the same lines again, README "Incremental runs").
  MaybeCrashAt("before-outputs");
  LOGPIPE_RETURN_IF_ERROR(consumer.outputs().Commit());
  LOGPIPE_RETURN_IF_ERROR(reports.Commit());
  if (state_file) {
    MaybeCrashAt("after-outputs");
    LOGPIPE_RETURN_IF_ERROR(state_file->Append(state_bytes));
    MaybeCrashAt("after-state-temp");
    LOGPIPE_RETURN_IF_ERROR(state_file->Commit());
    MaybeCrashAt("after-state");
  }
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string bytes;
  for (auto& [target, is_trace] : extras) {
    bytes.clear();
    if (is_trace) {
      run.trace.AppendChromeJson(plan.config.name, &bytes);
    } else {
      AppendRunStatsJson(plan, result, run.trace, uses_processes ? &processes : nullptr, &bytes);
    }
    LOGPIPE_RETURN_IF_ERROR(target.Append(bytes));
    LOGPIPE_RETURN_IF_ERROR(target.Commit());
  }
  return result;
}

Result<std::string> DescribeIncremental(const Plan& plan) {
  Result<std::vector<std::string>> inputs = plan.ExpandInputs();
  if (!inputs.ok()) return inputs.status();
  Result<IncrementalRun> run = PrepareIncremental(plan, *inputs);
  if (!run.ok()) return run.status();
  std::string out = "incremental run, state " + plan.config.state + " (" +
                    (run->previous ? "run " + std::to_string(run->previous->runs + 1)
                                   : std::string("none yet: the first run reads everything")) +
                    (plan.config.accumulate ? "; reports accumulate every run so far" : "") +
                    "):\n";
  for (size_t i = 0; i < inputs->size(); ++i) {
    out += "  " + DescribeMatch((*inputs)[i], run->ids[i], run->matches[i]) + "\n";
  }
  if (run->previous) {
    for (const StateEntry& e : run->previous->entries) {
      bool kept = false;
      for (const InputMatch& m : run->matches) {
        kept = kept || (m.fate != InputFate::kNew && m.fate != InputFate::kRestarted &&
                        m.from_path == e.path);
      }
      if (!kept) out += "  (" + e.path + ": no longer among the inputs; dropped from the state)\n";
    }
  }
  return out;
}

Result<std::string> DryRun(const Plan& plan) {
  Result<std::vector<std::string>> inputs = plan.ExpandInputs();
  if (!inputs.ok()) return inputs.status();
  std::string out = "config " + plan.config.file + " is valid; " +
                    std::to_string(inputs->size()) + " input" +
                    (inputs->size() == 1 ? "" : "s") + ":\n";
  for (const auto& path : *inputs) {
    if (path == "-") {  // reading stdin would consume it
      out += "  - (standard input, not opened by --dry-run)\n";
      continue;
    }
    if (IsUrl(path)) {  // a download is the run's work, not a check's
      out += "  " + path + " (URL, not fetched by --dry-run)\n";
      continue;
    }
    Result<std::unique_ptr<ByteSource>> raw = OpenInput(path);
    if (!raw.ok()) return raw.status();
    char probe[1];
    Result<size_t> n = raw.value()->Read(probe, 1);
    if (!n.ok()) return n.status();
    out += "  " + path + (*n == 0 ? " (empty)" : "") + "\n";
  }
  if (!plan.config.state.empty()) {
    Result<std::string> incremental = DescribeIncremental(plan);
    if (!incremental.ok()) return incremental.status();
    out += *incremental;
  }
  return out;
}

}  // namespace logpipe
