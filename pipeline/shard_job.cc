#include "pipeline/shard_job.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "io/atomic_file.h"
#include "pipeline/config_yaml.h"
#include "pipeline/incremental.h"
#include "pipeline/job.h"
#include "pipeline/job_outputs.h"
#include "pipeline/part_file.h"
#include "pipeline/plan.h"
#include "pipeline/run_interrupt.h"
#include "pipeline/shard_plan.h"
#include "pipeline/version.h"

namespace logpipe {
namespace {

Result<std::string> ReadWholeFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return NoInputError(path + ": cannot read " + what + ": " + std::strerror(errno) +
                        "; check the path");
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) return IoError(path + ": read failed: " + std::strerror(errno));
  return bytes.str();
}

std::string Absolute(const std::string& path) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

// A plan file read back, with its hash (what parts are tied to).
struct LoadedPlan {
  ShardPlan shards;
  std::string hash;
  Plan plan;
};

// Reads the plan file, enters the directory plan ran in, and loads and checks
// the config. Paths the caller holds must be made absolute before (the working
// directory changes).
Result<LoadedPlan> LoadPlanFile(const std::string& plan_path) {
  Result<std::string> bytes = ReadWholeFile(plan_path, "the plan");
  if (!bytes.ok()) return bytes.status();
  Result<ShardPlan> shards = DecodeShardPlan(*bytes, plan_path);
  if (!shards.ok()) return shards.status();
  if (shards->logpipe_version != Version()) {
    return DataError(plan_path + ": written by logpipe " + shards->logpipe_version +
                     ", this is logpipe " + Version() +
                     "; plan, map and reduce must run the same version: plan again with it");
  }
  if (chdir(shards->directory.c_str()) != 0) {
    return NoInputError(plan_path + ": cannot enter the directory the plan was made in, " +
                        shards->directory + ": " + std::strerror(errno) +
                        "; map and reduce run there (a filesystem shared by every node)");
  }
  Result<std::string> config_bytes = ReadWholeFile(shards->config_path, "the planned config");
  if (!config_bytes.ok()) return config_bytes.status();
  if (ContentHash(*config_bytes) != shards->config_hash) {
    return DataError(shards->config_path + ": changed since " + plan_path +
                     " was made; run logpipe plan again, then map and reduce "
                     "with the new plan");
  }
  Result<Config> config = LoadConfigFile(shards->config_path, shards->overrides);
  if (!config.ok()) return config.status();
  Result<Plan> plan = BuildPlan(std::move(config.value()));
  if (!plan.ok()) return plan.status();
  LoadedPlan loaded{std::move(shards.value()), ContentHash(*bytes), std::move(plan.value())};
  return loaded;
}

// map's consumer: each batch's records and rejects become frames of the part,
// in input order.
class PartConsumer : public OrderedConsumer {
 public:
  explicit PartConsumer(PartWriter* part) : part_(part) {}

  Status Consume(const BatchOutput& output) override {
    if (!output.error.ok()) return output.error;
    if (!output.rejects.empty()) {
      LOGPIPE_RETURN_IF_ERROR(part_->AddFrame(FrameKind::kRejects, 0, output.rejects));
    }
    for (size_t i = 0; i < output.records.size(); ++i) {
      if (output.records[i].empty()) continue;
      LOGPIPE_RETURN_IF_ERROR(
          part_->AddFrame(FrameKind::kRecords, static_cast<uint32_t>(i), output.records[i]));
    }
    return Status::Ok();
  }

 private:
  PartWriter* part_;
};

void AddStats(const RunStats& from, RunStats* into) {
  into->counters.Merge(from.counters);
  into->oversized_lines += from.oversized_lines;
  into->chunks += from.chunks;
  into->skipped_inputs.insert(into->skipped_inputs.end(), from.skipped_inputs.begin(),
                              from.skipped_inputs.end());
}

// Reads every part's trailer and orders them by shard: refuses foreign,
// duplicate and missing parts before anything is written.
Result<std::vector<std::pair<std::string, PartTrailer>>> CheckParts(
    const std::string& plan_path, const LoadedPlan& loaded, const std::vector<std::string>& parts) {
  const size_t shards = loaded.shards.shards.size();
  std::vector<std::pair<std::string, PartTrailer>> by_shard(shards);
  for (const std::string& path : parts) {
    Result<PartTrailer> trailer = ReadPartTrailer(path);
    if (!trailer.ok()) return trailer.status();
    if (trailer->plan_hash != loaded.hash || trailer->shards != shards) {
      return DataError(path + ": a part of another plan (plan hash " + trailer->plan_hash + ", " +
                       std::to_string(trailer->shards) + " shards; " + plan_path + " is " +
                       loaded.hash + ", " + std::to_string(shards) +
                       " shards); give the parts that logpipe map wrote with this plan");
    }
    if (trailer->logpipe_version != Version()) {
      return DataError(path + ": written by logpipe " + trailer->logpipe_version + ", this is " +
                       Version() + "; run map and reduce with the same logpipe");
    }
    if (trailer->shard >= shards) {
      return DataError(path + ": names shard " + std::to_string(trailer->shard) + " of " +
                       std::to_string(shards) + "; run its logpipe map task again");
    }
    auto& slot = by_shard[trailer->shard];
    if (!slot.first.empty()) {
      return DataError(path + " and " + slot.first + " are both shard " +
                       std::to_string(trailer->shard) + "; give each shard's part once");
    }
    slot = {path, std::move(trailer.value())};
  }
  std::string missing;
  size_t missing_count = 0;
  for (size_t s = 0; s < shards; ++s) {
    if (!by_shard[s].first.empty()) continue;
    if (++missing_count <= 10) missing += (missing.empty() ? "" : ", ") + std::to_string(s);
  }
  if (missing_count > 0) {
    if (missing_count > 10) missing += ", ...";
    return DataError("missing the part" + std::string(missing_count == 1 ? "" : "s") + " of shard" +
                     (missing_count == 1 ? " " : "s ") + missing + " of " + std::to_string(shards) +
                     " (" + plan_path + "); run logpipe map --plan " + plan_path +
                     " --shard N -o part-N.lpp for each, then reduce with every part");
  }
  return by_shard;
}

}  // namespace

Result<PlanSummary> RunPlan(const PlanCommand& command) {
  Result<std::string> config_bytes = ReadWholeFile(command.config, "the config");
  if (!config_bytes.ok()) return config_bytes.status();
  Result<Config> config = LoadConfigFile(command.config, command.overrides);
  if (!config.ok()) return config.status();
  Result<Plan> plan = BuildPlan(std::move(config.value()));
  if (!plan.ok()) return plan.status();
  Result<std::vector<std::string>> inputs = plan->ExpandInputs();
  if (!inputs.ok()) return inputs.status();
  Result<ShardPlan> shards = MakeShardPlan(*plan, *inputs, command.shards, command.config,
                                           command.overrides, *config_bytes);
  if (!shards.ok()) return shards.status();
  Result<AtomicFile> out = AtomicFile::Create(command.out);
  if (!out.ok()) return out.status();
  LOGPIPE_RETURN_IF_ERROR(out->Append(EncodeShardPlan(*shards)));
  LOGPIPE_RETURN_IF_ERROR(out->Commit());
  PlanSummary summary;
  summary.inputs = shards->inputs.size();
  summary.shards = shards->shards.size();
  summary.counted_lines = shards->line_numbers;
  std::vector<size_t> pieces(shards->inputs.size());
  for (const auto& list : shards->shards) {
    for (const ShardPiece& p : list) ++pieces[p.input];
  }
  summary.cut_files = static_cast<size_t>(
      std::count_if(pieces.begin(), pieces.end(), [](size_t n) { return n > 1; }));
  return summary;
}

Result<RunStats> RunMap(const std::string& plan_path_arg, size_t shard,
                        const std::string& out_arg) {
  const std::string plan_path = Absolute(plan_path_arg);
  const std::string out = Absolute(out_arg);
  Result<LoadedPlan> loaded = LoadPlanFile(plan_path);
  if (!loaded.ok()) return loaded.status();
  const ShardPlan& shards = loaded->shards;
  const Plan& plan = loaded->plan;
  if (shard >= shards.shards.size()) {
    return UsageError("--shard " + std::to_string(shard) + ": " + plan_path + " has shards 0.." +
                      std::to_string(shards.shards.size() - 1));
  }
  std::vector<std::string> names;
  std::vector<InputRange> ranges;
  std::vector<size_t> which;
  for (const ShardPiece& piece : shards.shards[shard]) {
    names.push_back(shards.inputs[piece.input].path);
    ranges.push_back(piece.range);
    which.push_back(piece.input);
  }
  LOGPIPE_RETURN_IF_ERROR(CheckInputsUnchanged(shards, which));

  Result<PartWriter> part = PartWriter::Create(out);
  if (!part.ok()) return part.status();
  SetTempFiles({part->temp_path()});
  PartConsumer consumer(&part.value());
  RunResult run;
  if (names.empty()) {  // an empty shard: its part still says "nothing here"
    for (const auto& aggregate : plan.aggregates) run.partials.push_back(aggregate->NewPartial());
    run.stats.counters.Clear(plan.schema.size());
  } else {
    BatchRenderer renderer(plan, names);
    std::unique_ptr<Executor> executor = NewExecutor(plan);
    LOGPIPE_RETURN_IF_ERROR(executor->Run(plan, names, ranges, renderer, consumer, &run));
  }
  MaybeCrashAt("map-before-commit");
  std::string bytes;
  for (size_t a = 0; a < plan.aggregates.size(); ++a) {
    bytes.clear();
    plan.aggregates[a]->Encode(*run.partials[a], &bytes);
    LOGPIPE_RETURN_IF_ERROR(part->AddFrame(FrameKind::kPartial, static_cast<uint32_t>(a), bytes));
  }
  if (!BeginCommit()) return InterruptedStatus();
  PartTrailer trailer;
  trailer.logpipe_version = Version();
  trailer.plan_hash = loaded->hash;
  trailer.shard = shard;
  trailer.shards = shards.shards.size();
  trailer.stats = run.stats;
  LOGPIPE_RETURN_IF_ERROR(part->Finish(std::move(trailer)));
  return run.stats;
}

Result<ReduceSummary> RunReduce(const std::string& plan_path_arg,
                                const std::vector<std::string>& part_args) {
  const std::string plan_path = Absolute(plan_path_arg);
  std::vector<std::string> part_paths;
  for (const std::string& p : part_args) part_paths.push_back(Absolute(p));
  Result<LoadedPlan> loaded = LoadPlanFile(plan_path);
  if (!loaded.ok()) return loaded.status();
  const ShardPlan& shards = loaded->shards;
  const Plan& plan = loaded->plan;
  Result<std::vector<std::pair<std::string, PartTrailer>>> parts =
      CheckParts(plan_path, *loaded, part_paths);
  if (!parts.ok()) return parts.status();
  std::vector<size_t> all(shards.inputs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  LOGPIPE_RETURN_IF_ERROR(CheckInputsUnchanged(shards, all));

  RecordOutputs records;
  LOGPIPE_RETURN_IF_ERROR(records.Open(plan));
  ReportOutputs reports;
  LOGPIPE_RETURN_IF_ERROR(reports.Open(plan));
  std::vector<std::string> temp_paths;
  records.AppendTempPaths(&temp_paths);
  reports.AppendTempPaths(&temp_paths);
  SetTempFiles(std::move(temp_paths));

  ReduceSummary summary;
  summary.job = plan.config.name;
  summary.inputs = shards.inputs.size();
  summary.parts = parts->size();
  summary.stats.counters.Clear(plan.schema.size());
  std::vector<std::unique_ptr<Partial>> merged;
  for (const auto& aggregate : plan.aggregates) merged.push_back(aggregate->NewPartial());
  std::string bytes;
  for (const auto& [path, trailer] : *parts) {
    if (StopRequested()) return InterruptedStatus();
    Result<PartReader> reader = PartReader::Open(path, trailer);
    if (!reader.ok()) return reader.status();
    FrameKind kind;
    uint32_t index = 0;
    for (;;) {
      Result<bool> more = reader->Next(&kind, &index, &bytes);
      if (!more.ok()) return more.status();
      if (!*more) break;
      const bool known = (kind == FrameKind::kRecords && index < records.records_outputs()) ||
                         (kind == FrameKind::kRejects && index == 0) ||
                         (kind == FrameKind::kPartial && index < plan.aggregates.size());
      if (!known) {
        return DataError(path +
                         ": a frame for an output or aggregate this config does not "
                         "have; run its logpipe map task again");
      }
      if (kind == FrameKind::kRecords) {
        LOGPIPE_RETURN_IF_ERROR(records.AppendRecords(index, bytes));
      } else if (kind == FrameKind::kRejects) {
        LOGPIPE_RETURN_IF_ERROR(records.AppendRejects(bytes));
      } else {
        std::unique_ptr<Partial> partial = plan.aggregates[index]->NewPartial();
        Status decoded = plan.aggregates[index]->Decode(bytes, partial.get());
        if (!decoded.ok()) {
          return DataError(path + ": aggregate " + plan.aggregate_names[index] +
                           " does not decode (" + decoded.message() +
                           "); run its logpipe map task again");
        }
        plan.aggregates[index]->Merge(std::move(*partial), *merged[index]);
      }
    }
    AddStats(trailer.stats, &summary.stats);
  }
  if (Status ratio = CheckRejectRatio(plan, summary.stats); !ratio.ok()) {
    if (Status kept = records.CommitRejects(); !kept.ok()) return kept;
    return ratio;
  }
  std::vector<std::string> names;
  for (const PlannedInput& in : shards.inputs) names.push_back(in.path);
  Report report;
  report.job_name = plan.config.name;
  report.totals = ReportTotals(plan, names, summary.stats);
  report.skipped_inputs = summary.stats.skipped_inputs;
  for (size_t a = 0; a < plan.aggregates.size(); ++a) {
    report.tables.push_back(
        {plan.aggregate_names[a], plan.aggregates[a]->Finish(std::move(*merged[a]))});
  }
  LOGPIPE_RETURN_IF_ERROR(reports.Write(plan, report));
  if (!BeginCommit()) return InterruptedStatus();
  LOGPIPE_RETURN_IF_ERROR(records.Commit());
  LOGPIPE_RETURN_IF_ERROR(reports.Commit());
  return summary;
}

}  // namespace logpipe
