#include "pipeline/job.h"

#include <chrono>
#include <memory>
#include <optional>

#include "io/byte_source.h"
#include "io/input_paths.h"
#include "io/text_escape.h"
#include "pipeline/output_target.h"
#include "stages/report_format.h"

namespace logpipe {
namespace {

// Writes records and rejects as batches arrive in order, and applies on_mismatch: fail.
class JobConsumer : public OrderedConsumer {
 public:
  JobConsumer(const Plan& plan, const std::vector<std::string>& inputs) : plan_(plan), inputs_(inputs) {}

  Status Open() {
    for (const auto& out : plan_.record_outputs) {
      Result<OutputTarget> target = OutputTarget::Open(out.spec.path, /*streaming=*/true);
      if (!target.ok()) return target.status();
      LOGPIPE_RETURN_IF_ERROR(target->Append(out.formatter->Header()));
      records_.push_back(std::move(target.value()));
    }
    if (!plan_.rejects_path.empty()) {
      Result<OutputTarget> target = OutputTarget::Open(plan_.rejects_path, /*streaming=*/true);
      if (!target.ok()) return target.status();
      rejects_.emplace(std::move(target.value()));
    }
    return Status::Ok();
  }

  Status Consume(const RecordBatch& batch) override {
    const Chunk& chunk = batch.chunk();
    const std::string& source = inputs_[chunk.source];
    for (const OversizedLine& line : chunk.oversized) {
      std::string reason = "line of " + std::to_string(line.bytes) +
                           " bytes is over read.max_line_bytes (" +
                           std::to_string(plan_.chunker.max_line_bytes) + ")";
      LOGPIPE_RETURN_IF_ERROR(Reject(source, line.line_number, reason, line.head));
    }
    for (const RejectedRow& reject : batch.rejects) {
      LOGPIPE_RETURN_IF_ERROR(Reject(source, batch.line_number(reject.row),
                                     RejectReasonName(reject.reason), batch.line(reject.row)));
    }
    for (size_t i = 0; i < records_.size(); ++i) {
      buffer_.clear();
      plan_.record_outputs[i].formatter->Format(batch, &buffer_);
      LOGPIPE_RETURN_IF_ERROR(records_[i].Append(buffer_));
    }
    return Status::Ok();
  }

  Status Commit() {
    for (auto& target : records_) LOGPIPE_RETURN_IF_ERROR(target.Commit());
    if (rejects_) LOGPIPE_RETURN_IF_ERROR(rejects_->Commit());
    return Status::Ok();
  }

 private:
  Status Reject(const std::string& source, uint64_t line_number, const std::string& reason,
                std::string_view line) {
    if (plan_.on_mismatch == OnMismatch::kFail) {
      std::string shown;
      AppendEscapedLine(line.substr(0, 200), &shown);
      return DataError(source + ":" + std::to_string(line_number) + ": " + reason +
                       " (on_mismatch: fail stops at the first bad line; use count or reject to "
                       "keep going): " + shown);
    }
    if (!rejects_) return Status::Ok();
    buffer_.clear();
    buffer_ += source;
    buffer_ += ':';
    buffer_ += std::to_string(line_number);
    buffer_ += '\t';
    buffer_ += reason;
    buffer_ += '\t';
    AppendEscapedLine(line, &buffer_);
    buffer_ += '\n';
    return rejects_->Append(buffer_);
  }

  const Plan& plan_;
  const std::vector<std::string>& inputs_;
  std::vector<OutputTarget> records_;
  std::optional<OutputTarget> rejects_;
  std::string buffer_;
};

Result<std::vector<std::string>> ExpandInputs(const Plan& plan) {
  std::vector<std::string> entries;
  for (const auto& input : plan.config.inputs) entries.push_back(input.path);
  return ExpandInputPaths(entries);
}

}  // namespace

std::vector<std::pair<std::string, uint64_t>> ReportTotals(const Plan& plan,
                                                           const std::vector<std::string>& inputs,
                                                           const RunStats& stats) {
  const BatchCounters& c = stats.counters;
  std::vector<std::pair<std::string, uint64_t>> totals = {
      {"inputs", inputs.size()},
      {"bytes", c.bytes},
      {"lines", c.lines + stats.oversized_lines},
      {"matched", c.matched},
      {"unparsed", c.mismatched},
      {"oversized", stats.oversized_lines},
  };
  if (plan.config.stages[0].encoding == "utf8") totals.push_back({"invalid_utf8", c.invalid_utf8});
  if (plan.transforms.size() > 1) {
    totals.push_back({"filtered_out", c.filtered_out});
    totals.push_back({"selected", c.matched - c.filtered_out});
  }
  for (size_t f = 0; f < plan.schema.size(); ++f) {
    if (plan.schema.field(f).type == FieldType::kString) continue;
    uint64_t errors = f < c.conversion_errors.size() ? c.conversion_errors[f] : 0;
    totals.push_back({"conversion_errors." + plan.schema.field(f).name, errors});
  }
  return totals;
}

Result<JobResult> RunJob(const Plan& plan) {
  const auto start = std::chrono::steady_clock::now();
  JobResult result;
  Result<std::vector<std::string>> inputs = ExpandInputs(plan);
  if (!inputs.ok()) return inputs.status();
  result.inputs = std::move(inputs.value());

  // Open every output first: a run that cannot write fails before it reads a byte.
  JobConsumer consumer(plan, result.inputs);
  LOGPIPE_RETURN_IF_ERROR(consumer.Open());
  std::vector<OutputTarget> reports;
  for (const auto& out : plan.report_outputs) {
    Result<OutputTarget> target = OutputTarget::Open(out.path, /*streaming=*/false);
    if (!target.ok()) return target.status();
    reports.push_back(std::move(target.value()));
  }

  RunResult run;
  std::unique_ptr<Executor> executor = NewExecutor(plan);
  LOGPIPE_RETURN_IF_ERROR(executor->Run(plan, result.inputs, consumer, &run));
  result.stats = run.stats;

  result.report.job_name = plan.config.name;
  result.report.totals = ReportTotals(plan, result.inputs, run.stats);
  if (plan.aggregate) {
    result.report.has_table = true;
    result.report.table = plan.aggregate->Finish(std::move(*run.partial));
  }

  std::string bytes;
  for (size_t i = 0; i < reports.size(); ++i) {
    bytes.clear();
    const std::string& format = plan.report_outputs[i].format;
    if (format == "json") {
      FormatReportJson(result.report, &bytes);
    } else if (format == "csv") {
      FormatReportCsv(result.report, &bytes);
    } else {
      FormatReportText(result.report, &bytes);
    }
    LOGPIPE_RETURN_IF_ERROR(reports[i].Append(bytes));
  }
  // Records and rejects first, reports last: a report on disk implies its records are too.
  LOGPIPE_RETURN_IF_ERROR(consumer.Commit());
  for (auto& report : reports) LOGPIPE_RETURN_IF_ERROR(report.Commit());
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

Result<std::string> DryRun(const Plan& plan) {
  Result<std::vector<std::string>> inputs = ExpandInputs(plan);
  if (!inputs.ok()) return inputs.status();
  std::string out = "config " + plan.config.file + " is valid; " +
                    std::to_string(inputs->size()) + " input" +
                    (inputs->size() == 1 ? "" : "s") + ":\n";
  for (const auto& path : *inputs) {
    if (path == "-") {  // reading stdin would consume it
      out += "  - (standard input, not opened by --dry-run)\n";
      continue;
    }
    Result<std::unique_ptr<ByteSource>> raw = OpenInput(path);
    if (!raw.ok()) return raw.status();
    char probe[1];
    Result<size_t> n = raw.value()->Read(probe, 1);
    if (!n.ok()) return n.status();
    out += "  " + path + (*n == 0 ? " (empty)" : "") + "\n";
  }
  return out;
}

}  // namespace logpipe
