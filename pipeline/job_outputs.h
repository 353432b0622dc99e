#pragma once
// The outputs a run writes from its config, shared by a whole run (RunJob,
// pipeline/job.h) and by `logpipe reduce` (pipeline/shard_job.h): records and
// rejects files (streamed as batches arrive, in input order), report files
// (written once the aggregate is finished), and the checks and rules between
// them: max_reject_ratio, and the commit order (records and rejects first, then
// reports: a report on disk implies its records are too).
//
// Every output is opened before any work (an unwritable path fails the run at
// once) and written through an OutputTarget (temp file, fsync, rename on
// commit; "-" is stdout). Thread-safety: none; the run's consumer thread owns
// them. Errors: kCantCreate / kIoError from the targets, naming the path.

#include <string>
#include <string_view>
#include <vector>

#include "io/status.h"
#include "pipeline/executor.h"
#include "pipeline/output_target.h"
#include "pipeline/plan.h"
#include "stages/table.h"

namespace logpipe {

// The records outputs (one per plan.record_outputs, each with its header) and
// the rejects file.
class RecordOutputs {
 public:
  Status Open(const Plan& plan);
  Status AppendRecords(size_t output, std::string_view bytes) {
    return records_[output].Append(bytes);
  }
  Status AppendRejects(std::string_view bytes) {
    return rejects_.empty() ? Status::Ok() : rejects_[0].Append(bytes);
  }
  size_t records_outputs() const { return records_.size(); }
  void AppendTempPaths(std::vector<std::string>* paths) const;
  Status Commit();         // records, then rejects
  Status CommitRejects();  // only the rejects (a run failed by max_reject_ratio
                           // keeps them)

 private:
  std::vector<OutputTarget> records_;
  std::vector<OutputTarget> rejects_;  // none or one
};

// The report outputs (plan.report_outputs, in their formats).
class ReportOutputs {
 public:
  Status Open(const Plan& plan);
  Status Write(const Plan& plan,
               const Report& report);  // each in its format, not committed
  void AppendTempPaths(std::vector<std::string>* paths) const;
  Status Commit();

 private:
  std::vector<OutputTarget> reports_;
};

// max_reject_ratio: the lines the parse stage did not accept (unparsed, invalid
// UTF-8, oversized) over all it saw. Over the limit: kDataError naming the
// ratio, the limit, the count and where the rejects are.
Status CheckRejectRatio(const Plan& plan, const RunStats& stats);

}  // namespace logpipe
