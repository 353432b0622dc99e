#include "pipeline/job_outputs.h"

#include <cstdio>

#include "stages/report_format.h"

namespace logpipe {

Status RecordOutputs::Open(const Plan& plan) {
  for (const auto& out : plan.record_outputs) {
    Result<OutputTarget> target = OutputTarget::Open(out.spec.path, /*streaming=*/true);
    if (!target.ok()) return target.status();
    LOGPIPE_RETURN_IF_ERROR(target->Append(out.formatter->Header()));
    records_.push_back(std::move(target.value()));
  }
  if (!plan.rejects_path.empty()) {
    Result<OutputTarget> target = OutputTarget::Open(plan.rejects_path, /*streaming=*/true);
    if (!target.ok()) return target.status();
    rejects_.push_back(std::move(target.value()));
  }
  return Status::Ok();
}

void RecordOutputs::AppendTempPaths(std::vector<std::string>* paths) const {
  for (const auto& target : records_) paths->push_back(target.temp_path());
  for (const auto& target : rejects_) paths->push_back(target.temp_path());
}

Status RecordOutputs::Commit() {
  for (auto& target : records_) LOGPIPE_RETURN_IF_ERROR(target.Commit());
  return CommitRejects();
}

Status RecordOutputs::CommitRejects() {
  for (auto& target : rejects_) LOGPIPE_RETURN_IF_ERROR(target.Commit());
  return Status::Ok();
}

Status ReportOutputs::Open(const Plan& plan) {
  for (const auto& out : plan.report_outputs) {
    Result<OutputTarget> target = OutputTarget::Open(out.path, /*streaming=*/false);
    if (!target.ok()) return target.status();
    reports_.push_back(std::move(target.value()));
  }
  return Status::Ok();
}

Status ReportOutputs::Write(const Plan& plan, const Report& report) {
  std::string bytes;
  for (size_t i = 0; i < reports_.size(); ++i) {
    bytes.clear();
    const std::string& format = plan.report_outputs[i].format;
    if (format == "json") {
      FormatReportJson(report, &bytes);
    } else if (format == "csv") {
      FormatReportCsv(report, plan.report_csv_tables[i], &bytes);
    } else {
      FormatReportText(report, &bytes);
    }
    LOGPIPE_RETURN_IF_ERROR(reports_[i].Append(bytes));
  }
  return Status::Ok();
}

void ReportOutputs::AppendTempPaths(std::vector<std::string>* paths) const {
  for (const auto& target : reports_) paths->push_back(target.temp_path());
}

Status ReportOutputs::Commit() {
  for (auto& target : reports_) LOGPIPE_RETURN_IF_ERROR(target.Commit());
  return Status::Ok();
}

Status CheckRejectRatio(const Plan& plan, const RunStats& stats) {
  if (!plan.max_reject_ratio) return Status::Ok();
  const BatchCounters& c = stats.counters;
  const uint64_t bad = c.mismatched + c.invalid_utf8 + stats.oversized_lines;
  const uint64_t total = c.matched + bad;
  if (total == 0) return Status::Ok();
  const double ratio = static_cast<double>(bad) / static_cast<double>(total);
  if (ratio <= *plan.max_reject_ratio) return Status::Ok();
  const char* unit = plan.chunker.multiline.enabled() ? "events" : "lines";
  char text[160];
  std::snprintf(text, sizeof text,
                "%llu of %llu %s did not parse: ratio %.6g is over "
                "max_reject_ratio %g",
                static_cast<unsigned long long>(bad), static_cast<unsigned long long>(total), unit,
                ratio, *plan.max_reject_ratio);
  std::string message = plan.max_reject_ratio_place + ": " + text;
  if (plan.on_mismatch == OnMismatch::kReject && !plan.rejects_path.empty()) {
    message += "; the rejected lines are in " + plan.rejects_path;
  } else {
    message += "; use on_mismatch: reject with rejects: PATH to see them";
  }
  return DataError(message + "; no report or records were written");
}

}  // namespace logpipe
