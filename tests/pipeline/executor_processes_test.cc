#include "pipeline/executor_processes.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <string>
#include <vector>

#include "io/line_range.h"
#include "pipeline/config_yaml.h"
#include "pipeline/plan.h"
#include "stages/report_format.h"
#include "tests/pipeline/plan_from_yaml.h"
#include "tests/support/compress.h"
#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

using logpipe::testing::Gzip;
using logpipe::testing::PlanFromYaml;
using logpipe::testing::ReadFile;
using logpipe::testing::SourcePath;
using logpipe::testing::TempDir;

// Keeps every batch it is given; with `stop_on_error`, stops the run at a batch's error like
// the job's consumer does (on_mismatch: fail).
class RecordingConsumer : public OrderedConsumer {
 public:
  Status Consume(const BatchOutput& output) override {
    std::string bytes;
    output.EncodeTo(&bytes);
    batches.push_back(std::move(bytes));
    if (!output.error.ok()) return output.error;
    return Status::Ok();
  }

  std::vector<std::string> batches;  // each BatchOutput, encoded, in delivery order
};

struct Outcome {
  Status status;
  std::vector<std::string> batches;
  RunStats stats;
  std::string tables;  // every aggregate's Finish() table, as report JSON
};

Outcome RunWith(Executor& executor, const Plan& plan, const std::vector<std::string>& inputs) {
  BatchRenderer renderer(plan, inputs);
  RecordingConsumer consumer;
  RunResult result;
  Outcome out;
  out.status = executor.Run(plan, inputs, {}, renderer, consumer, &result);
  out.batches = std::move(consumer.batches);
  out.stats = result.stats;
  if (out.status.ok()) {
    Report report;
    for (size_t a = 0; a < plan.aggregates.size(); ++a) {
      report.tables.push_back(
          {plan.aggregate_names[a], plan.aggregates[a]->Finish(std::move(*result.partials[a]))});
    }
    FormatReportJson(report, &out.tables);
  }
  return out;
}

Outcome RunSerial(const Plan& plan, const std::vector<std::string>& inputs) {
  std::unique_ptr<Executor> serial = NewSerialExecutor();
  return RunWith(*serial, plan, inputs);
}

void ExpectSame(const Outcome& want, const Outcome& got, const std::string& label) {
  EXPECT_EQ(got.status.code(), want.status.code()) << label << ": " << got.status.message();
  EXPECT_EQ(got.status.message(), want.status.message()) << label;
  ASSERT_EQ(got.batches.size(), want.batches.size()) << label;
  for (size_t i = 0; i < want.batches.size(); ++i) {
    if (got.batches[i] != want.batches[i]) {
      ADD_FAILURE() << label << ": batch " << i << " differs from serial";
      break;
    }
  }
  EXPECT_EQ(got.tables, want.tables) << label;
  EXPECT_EQ(got.stats.chunks, want.stats.chunks) << label;
  EXPECT_EQ(got.stats.oversized_lines, want.stats.oversized_lines) << label;
  const BatchCounters& w = want.stats.counters;
  const BatchCounters& g = got.stats.counters;
  EXPECT_EQ(g.lines, w.lines) << label;
  EXPECT_EQ(g.events, w.events) << label;
  EXPECT_EQ(g.truncated_events, w.truncated_events) << label;
  EXPECT_EQ(g.dropped_lines, w.dropped_lines) << label;
  EXPECT_EQ(g.bytes, w.bytes) << label;
  EXPECT_EQ(g.matched, w.matched) << label;
  EXPECT_EQ(g.mismatched, w.mismatched) << label;
  EXPECT_EQ(g.filtered_out, w.filtered_out) << label;
  EXPECT_EQ(g.conversion_errors, w.conversion_errors) << label;
}

// No child process is left: every shard was reaped (a zombie would still be waitable).
void ExpectNoChildren() {
  int status = 0;
  errno = 0;
  EXPECT_EQ(waitpid(-1, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// The first 4000 lines of the sample access log made nasty: lines that do not match, CRLF
// endings, a line over max_line_bytes (4096 in these tests) and a last line without '\n'.
std::string MessyLog() {
  const std::string log = ReadFile(SourcePath("data/sample/apache_combined.log"));
  std::string out;
  size_t pos = 0, line = 0;
  while (pos < log.size() && line < 4000) {
    size_t nl = log.find('\n', pos);
    if (nl == std::string::npos) nl = log.size();
    ++line;
    if (line % 997 == 0) out += "this is not an access log line\n";
    if (line == 1501) out += std::string(5000, 'x') + "\n";
    out.append(log, pos, nl - pos);
    out += line % 101 == 0 ? "\r\n" : "\n";
    pos = nl + 1;
  }
  out += "no final newline";
  return out;
}

// Builds the test job's plan (BuildPlan does not take model processes yet: the plan is built
// serial, then given `workers` shards).
Plan MakePlan(const TempDir& dir, uint64_t chunk_bytes, int workers,
              const std::string& on_mismatch = "reject") {
  std::string yaml =
      "inputs: [{path: unused.log}]\n"
      "read: {chunk_bytes: " +
      std::to_string(chunk_bytes) +
      ", max_line_bytes: 4096}\n"
      "stages:\n"
      "  - type: parse\n"
      "    pattern: combined\n"
      "    fields: {status: int, bytes: int}\n"
      "    on_mismatch: " +
      on_mismatch + "\n" +
      (on_mismatch == "reject" ? "    rejects: " + dir.path() + "/rejects.txt\n" : "") +
      "  - type: filter\n"
      "    where: status < 400 and method in [\"GET\", \"HEAD\"]\n"
      "  - type: aggregate\n"
      "    group_by: [status]\n"
      "    metrics: {hits: count, bytes: sum(bytes), clients: distinct(ip), "
      "top_paths: 'top(path, 3)'}\n"
      "  - type: aggregate\n"
      "    name: by_method\n"
      "    group_by: [method]\n"
      "    metrics: {n: count, biggest: max(bytes)}\n"
      "outputs:\n"
      "  - {kind: records, path: " +
      dir.path() +
      "/records.jsonl, fields: [ip, status, path], "
      "line_numbers: true}\n";
  Plan plan = PlanFromYaml(yaml, "proc.yaml");
  EXPECT_EQ(plan.segments.size(), 1u);
  plan.segments[0].model = ExecModel::kProcesses;
  plan.segments[0].workers = workers;
  plan.live_tokens = 2 * static_cast<size_t>(workers);
  return plan;
}

// Sets LOGPIPE_TEST_KILL_SHARD for one scope.
class KillShardEnv {
 public:
  explicit KillShardEnv(const char* value) { setenv("LOGPIPE_TEST_KILL_SHARD", value, 1); }
  ~KillShardEnv() { unsetenv("LOGPIPE_TEST_KILL_SHARD"); }
};

void ExpectSameAsSerialForAllShapes(const std::vector<std::string>& inputs, bool streamed) {
  TempDir dir;
  for (uint64_t chunk_bytes : {uint64_t{200}, uint64_t{64} << 10}) {
    Plan plan = MakePlan(dir, chunk_bytes, 1);
    const Outcome want = RunSerial(plan, inputs);
    ASSERT_TRUE(want.status.ok()) << want.status.message();
    // The job exercises records, rejects, oversized lines and both aggregates.
    EXPECT_GT(want.stats.counters.mismatched, 0u);
    EXPECT_GT(want.stats.oversized_lines, 0u);
    EXPECT_GT(want.stats.counters.filtered_out, 0u);
    for (const auto& [workers, heads] : std::vector<std::pair<int, bool>>{
             {1, false}, {2, false}, {4, false}, {1, true}, {2, true}, {4, true}}) {
      plan.segments[0].workers = workers;
      plan.live_tokens = 2 * static_cast<size_t>(workers);
      const std::string label = "chunk_bytes " + std::to_string(chunk_bytes) + ", workers " +
                                std::to_string(workers) + (heads ? ", heads" : "");
      ProcessesExecutorStats stats;
      std::unique_ptr<Executor> executor = NewProcessesExecutorWithStats(&stats, heads);
      ExpectSame(want, RunWith(*executor, plan, inputs), label);
      // top(path, 3) reads a field nothing else does: heads leave most paths out and the
      // shards are asked for the rest.
      EXPECT_EQ(stats.queries > 0, heads) << label;
      EXPECT_EQ(stats.shards_started, workers) << label;
      EXPECT_EQ(stats.shards_retried, 0) << label;
      EXPECT_EQ(stats.plain_chunks + stats.streamed_chunks, want.stats.chunks) << label;
      EXPECT_EQ(stats.streamed_chunks > 0, streamed) << label;
      EXPECT_GT(stats.partial_bytes, 0u) << label;
      ExpectNoChildren();
    }
  }
}

TEST(ProcessesExecutor, SameOutputsAsSerialOnLocalFiles) {
  TempDir dir;
  const std::string messy = dir.Write("messy.log", MessyLog());
  ExpectSameAsSerialForAllShapes({SourcePath("data/sample/apache_combined.log"), messy},
                                 /*streamed=*/false);
}

TEST(ProcessesExecutor, SameOutputsAsSerialOnGzipAndMixedInputs) {
  TempDir dir;
  const std::string log = MessyLog();
  const std::string gz = dir.Write("messy.log.gz", Gzip(log));
  const std::string plain = dir.Write("messy.log", log);
  ExpectSameAsSerialForAllShapes({gz, plain}, /*streamed=*/true);
}

TEST(ProcessesExecutor, EmptyInputsAndMoreShardsThanChunks) {
  TempDir dir;
  const std::vector<std::string> inputs = {dir.Write("empty.log", ""),
                                           dir.Write("one.log", "not a log line\n")};
  Plan plan = MakePlan(dir, 1 << 20, 4);
  const Outcome want = RunSerial(plan, inputs);
  ASSERT_TRUE(want.status.ok()) << want.status.message();
  std::unique_ptr<Executor> executor = NewProcessesExecutor();
  ExpectSame(want, RunWith(*executor, plan, inputs), "tiny inputs");
  ExpectNoChildren();
}

TEST(ProcessesExecutor, KilledShardIsRetriedOnceWithTheSameResults) {
  TempDir dir;
  const std::vector<std::string> inputs = {dir.Write("messy.log", MessyLog())};
  Plan plan = MakePlan(dir, 4096, 2);
  const Outcome want = RunSerial(plan, inputs);
  ASSERT_TRUE(want.status.ok()) << want.status.message();
  ASSERT_GT(want.stats.chunks, 100u);
  for (const std::string& seq :
       {std::string("0"), std::string("57"), std::to_string(want.stats.chunks - 1)}) {
    KillShardEnv kill(seq.c_str());
    ProcessesExecutorStats stats;
    std::unique_ptr<Executor> executor = NewProcessesExecutorWithStats(&stats);
    ExpectSame(want, RunWith(*executor, plan, inputs), "kill at chunk " + seq);
    EXPECT_EQ(stats.shards_retried, 1) << seq;
    EXPECT_EQ(stats.shards_started, 3) << seq;
    EXPECT_GT(stats.chunks_resent, 0u) << seq;
    ExpectNoChildren();
  }
}

// A shard that dies answering the parent's queries about its heads (after its last chunk) is
// replaced: the replacement redoes the dead one's ranges, sends new heads and the rounds start
// again; the other shard keeps its heads. Dying twice fails the run, naming what it was doing.
TEST(ProcessesExecutor, ShardKilledAnsweringQueriesIsRetriedThenFailsTheRun) {
  TempDir dir;
  const std::vector<std::string> inputs = {dir.Write("messy.log", MessyLog())};
  Plan plan = MakePlan(dir, 4096, 2);
  const Outcome want = RunSerial(plan, inputs);
  ASSERT_TRUE(want.status.ok()) << want.status.message();
  {
    KillShardEnv kill("query");
    ProcessesExecutorStats stats;
    std::unique_ptr<Executor> executor =
        NewProcessesExecutorWithStats(&stats, /*partials_only_finished=*/true);
    ExpectSame(want, RunWith(*executor, plan, inputs), "killed answering a query");
    EXPECT_EQ(stats.shards_retried, 1);
    EXPECT_EQ(stats.shards_started, 3);
    EXPECT_GT(stats.chunks_resent, 0u);
    // The first round's queries to both shards, then every round again.
    EXPECT_GT(stats.queries, 2u);
    ExpectNoChildren();
  }
  KillShardEnv kill("query:always");
  ProcessesExecutorStats stats;
  std::unique_ptr<Executor> executor =
      NewProcessesExecutorWithStats(&stats, /*partials_only_finished=*/true);
  const Outcome got = RunWith(*executor, plan, inputs);
  ASSERT_FALSE(got.status.ok());
  EXPECT_EQ(got.status.code(), StatusCode::kInternal);
  const std::string& m = got.status.message();
  for (const char* part :
       {"worker process shard ", "killed by signal 9", "while answering the parent's queries",
        "already the retry", "died the same way"}) {
    EXPECT_NE(m.find(part), std::string::npos) << "'" << part << "' not in: " << m;
  }
  EXPECT_EQ(stats.shards_retried, 1);
  ExpectNoChildren();
}

// A shard that had streamed chunks cannot be replaced when it dies answering either: the run
// fails at once, saying so (and does not wait for it).
TEST(ProcessesExecutor, ShardWithStreamedChunksKilledAnsweringFailsTheRun) {
  TempDir dir;
  const std::string gz = dir.Write("messy.log.gz", Gzip(MessyLog()));
  Plan plan = MakePlan(dir, 4096, 2);
  KillShardEnv kill("query");
  std::unique_ptr<Executor> executor =
      NewProcessesExecutorWithStats(nullptr, /*partials_only_finished=*/true);
  const Outcome got = RunWith(*executor, plan, {gz});
  ASSERT_FALSE(got.status.ok());
  EXPECT_EQ(got.status.code(), StatusCode::kInternal);
  const std::string& m = got.status.message();
  EXPECT_NE(m.find("while answering the parent's queries"), std::string::npos) << m;
  EXPECT_NE(m.find("cannot be retried"), std::string::npos) << m;
  ExpectNoChildren();
}

TEST(ProcessesExecutor, ShardThatDiesAgainFailsNamingShardAndBytes) {
  TempDir dir;
  const std::string path = dir.Write("messy.log", MessyLog());
  Plan plan = MakePlan(dir, 4096, 2);
  KillShardEnv kill("57:always");
  ProcessesExecutorStats stats;
  std::unique_ptr<Executor> executor = NewProcessesExecutorWithStats(&stats);
  const Outcome got = RunWith(*executor, plan, {path});
  ASSERT_FALSE(got.status.ok());
  EXPECT_EQ(got.status.code(), StatusCode::kInternal);
  EXPECT_EQ(got.status.exit_code(), 70);
  const std::string& m = got.status.message();
  for (const char* part : {"worker process shard ", "(pid ", "killed by signal 9",
                           "while processing chunk 57: ", "bytes ", "(lines ", "already the retry",
                           "same chunk", "model serial"}) {
    EXPECT_NE(m.find(part), std::string::npos) << "'" << part << "' not in: " << m;
  }
  EXPECT_NE(m.find(path + " bytes "), std::string::npos) << m;
  EXPECT_EQ(stats.shards_retried, 1);
  // Only the chunks before 57 can have been delivered.
  EXPECT_LE(got.batches.size(), 57u);
  ExpectNoChildren();
}

TEST(ProcessesExecutor, ShardWithStreamedChunksIsNotRetried) {
  TempDir dir;
  const std::string gz = dir.Write("messy.log.gz", Gzip(MessyLog()));
  Plan plan = MakePlan(dir, 4096, 2);
  KillShardEnv kill("9");
  std::unique_ptr<Executor> executor = NewProcessesExecutor();
  const Outcome got = RunWith(*executor, plan, {gz});
  ASSERT_FALSE(got.status.ok());
  EXPECT_EQ(got.status.code(), StatusCode::kInternal);
  const std::string& m = got.status.message();
  EXPECT_NE(m.find("cannot be retried"), std::string::npos) << m;
  EXPECT_NE(m.find(gz + " decompressed bytes "), std::string::npos) << m;
  ExpectNoChildren();
}

TEST(ProcessesExecutor, OnMismatchFailStopsEveryShard) {
  TempDir dir;
  const std::vector<std::string> inputs = {dir.Write("messy.log", MessyLog())};
  for (uint64_t chunk_bytes : {uint64_t{200}, uint64_t{4096}}) {
    Plan plan = MakePlan(dir, chunk_bytes, 4, "fail");
    const Outcome want = RunSerial(plan, inputs);
    ASSERT_EQ(want.status.code(), StatusCode::kDataError) << want.status.message();
    ASSERT_GT(want.batches.size(), 10u);  // the first bad line is in the middle
    std::unique_ptr<Executor> executor = NewProcessesExecutor();
    ExpectSame(want, RunWith(*executor, plan, inputs), "on_mismatch: fail");
    ExpectNoChildren();
  }
}

TEST(ProcessesExecutor, ReadErrorsComeInTheSameOrderAsSerial) {
  TempDir dir;
  const std::string log = MessyLog();
  const std::string gz = Gzip(log);
  const std::string truncated = dir.Write("truncated.log.gz", gz.substr(0, gz.size() / 2));
  const std::string plain = dir.Write("messy.log", log);
  const std::vector<std::vector<std::string>> cases = {
      {plain, truncated},
      {plain, dir.path() + "/missing.log"},
  };
  for (const auto& inputs : cases) {
    for (const char* on_mismatch : {"reject", "fail"}) {
      Plan plan = MakePlan(dir, 4096, 2, on_mismatch);
      const Outcome want = RunSerial(plan, inputs);
      ASSERT_FALSE(want.status.ok());
      std::unique_ptr<Executor> executor = NewProcessesExecutor();
      ExpectSame(want, RunWith(*executor, plan, inputs), inputs[1] + ", " + on_mismatch);
      ExpectNoChildren();
    }
  }
}

// Multi-line events: the shards pread the parent's event-aligned chunks and regroup them;
// truncated events, dropped lines and oversized lines (the controller log's TRACE lines over
// 4 KiB) travel in the chunk descriptors, also to a replacement shard.
Plan MakeMultilinePlan(const TempDir& dir, uint64_t chunk_bytes, int workers) {
  std::string yaml =
      "inputs: [{path: unused.log}]\n"
      "read: {chunk_bytes: " + std::to_string(chunk_bytes) + ", max_line_bytes: 4096}\n"
      "stages:\n"
      "  - type: parse\n"
      "    pattern: kafka\n"
      "    multiline: {start: '^\\[[0-9]{4}-', max_lines: 6, max_bytes: 700}\n"
      "    on_mismatch: reject\n"
      "    rejects: " + dir.path() + "/rejects.txt\n"
      "  - type: aggregate\n"
      "    group_by: [level]\n"
      "    metrics: {n: count, lines: sum(event_lines), longest: max(event_lines)}\n"
      "outputs:\n"
      "  - {kind: records, path: " + dir.path() + "/records.jsonl, line_numbers: true}\n";
  Result<Config> config = LoadConfigString(yaml, "proc.yaml", {});
  EXPECT_TRUE(config.ok()) << config.status().message();
  Result<Plan> built = BuildPlan(std::move(config.value()));
  EXPECT_TRUE(built.ok()) << built.status().message();
  Plan plan = std::move(built.value());
  plan.segments[0].model = ExecModel::kProcesses;
  plan.segments[0].workers = workers;
  plan.live_tokens = 2 * static_cast<size_t>(workers);
  return plan;
}

TEST(ProcessesExecutor, MultilineEventsSameAsSerialWithRetriesAndStreamedInputs) {
  TempDir dir;
  const std::string log = ReadFile(SourcePath("data/sample/kafka_controller.log"));
  const std::vector<std::string> inputs = {dir.Write("controller.log", log),
                                           dir.Write("controller.log.gz", Gzip(log))};
  for (uint64_t chunk_bytes : {uint64_t{1}, uint64_t{3000}, uint64_t{1} << 20}) {
    Plan plan = MakeMultilinePlan(dir, chunk_bytes, 2);
    const Outcome want = RunSerial(plan, inputs);
    ASSERT_TRUE(want.status.ok()) << want.status.message();
    EXPECT_GT(want.stats.counters.truncated_events, 0u);
    EXPECT_GT(want.stats.counters.dropped_lines, 0u);
    EXPECT_GT(want.stats.oversized_lines, 0u);
    EXPECT_EQ(want.stats.counters.lines + want.stats.counters.dropped_lines +
                  want.stats.oversized_lines,
              2u * 1032u);
    for (int workers : {1, 3}) {
      plan.segments[0].workers = workers;
      plan.live_tokens = 2 * static_cast<size_t>(workers);
      const std::string label =
          "chunk_bytes " + std::to_string(chunk_bytes) + ", workers " + std::to_string(workers);
      std::unique_ptr<Executor> executor = NewProcessesExecutor();
      ExpectSame(want, RunWith(*executor, plan, inputs), label);
      ExpectNoChildren();
    }
    // A shard killed on a chunk of the plain input is replaced and the chunk resent.
    KillShardEnv kill("0");
    plan.segments[0].workers = 2;
    plan.live_tokens = 4;
    const std::vector<std::string> plain = {inputs[0]};
    const Outcome want_plain = RunSerial(plan, plain);
    ProcessesExecutorStats stats;
    std::unique_ptr<Executor> executor = NewProcessesExecutorWithStats(&stats);
    ExpectSame(want_plain, RunWith(*executor, plan, plain), "killed shard");
    EXPECT_EQ(stats.shards_retried, 1);
    ExpectNoChildren();
  }
}

// ---- range mode: plans that render no line numbers; the shards cut plain files themselves.

// A job like MakePlan's without line numbers (records without _line, on_mismatch: count, no
// rejects file), so the parent hands out byte ranges of plain inputs.
Plan MakeRangePlan(const TempDir& dir, uint64_t chunk_bytes, int workers) {
  std::string yaml =
      "inputs: [{path: unused.log}]\n"
      "read: {chunk_bytes: " + std::to_string(chunk_bytes) + ", max_line_bytes: 4096}\n"
      "stages:\n"
      "  - type: parse\n"
      "    pattern: combined\n"
      "    fields: {status: int, bytes: int}\n"
      "  - type: filter\n"
      "    where: status < 400 and method in [\"GET\", \"HEAD\"]\n"
      "  - type: aggregate\n"
      "    group_by: [status]\n"
      "    metrics: {hits: count, bytes: sum(bytes), clients: distinct(ip), "
      "top_paths: 'top(path, 3)'}\n"
      "outputs:\n"
      "  - {kind: records, path: " + dir.path() + "/records.jsonl, fields: [ip, status, path]}\n"
      "  - {kind: records, path: " + dir.path() + "/records.csv, format: csv, fields: [path]}\n";
  Result<Config> config = LoadConfigString(yaml, "ranges.yaml", {});
  EXPECT_TRUE(config.ok()) << config.status().message();
  Result<Plan> built = BuildPlan(std::move(config.value()));
  EXPECT_TRUE(built.ok()) << built.status().message();
  Plan plan = std::move(built.value());
  plan.segments[0].model = ExecModel::kProcesses;
  plan.segments[0].workers = workers;
  plan.live_tokens = 2 * static_cast<size_t>(workers);
  EXPECT_EQ(ProcessesParentCutsReason(plan), "");
  return plan;
}

// What a run delivered, independent of how it was cut into chunks.
struct Joined {
  Status status;
  std::vector<std::string> records;  // per records output, every batch's bytes in order
  std::string rejects;
  std::string tables;
  RunStats stats;
};

Joined Join(const Outcome& o) {
  Joined j;
  j.status = o.status;
  j.tables = o.tables;
  j.stats = o.stats;
  for (const std::string& bytes : o.batches) {
    BatchOutput out;
    EXPECT_TRUE(BatchOutput::DecodeFrom(bytes, &out).ok());
    j.records.resize(std::max(j.records.size(), out.records.size()));
    for (size_t i = 0; i < out.records.size(); ++i) j.records[i] += out.records[i];
    j.rejects += out.rejects;
  }
  return j;
}

void ExpectSameResults(const Outcome& want_outcome, const Outcome& got_outcome,
                       const std::string& label) {
  const Joined want = Join(want_outcome), got = Join(got_outcome);
  EXPECT_EQ(got.status.code(), want.status.code()) << label << ": " << got.status.message();
  EXPECT_EQ(got.status.message(), want.status.message()) << label;
  EXPECT_TRUE(got.records == want.records) << label << ": records differ";
  EXPECT_EQ(got.rejects, want.rejects) << label;
  EXPECT_EQ(got.tables, want.tables) << label;
  EXPECT_EQ(got.stats.oversized_lines, want.stats.oversized_lines) << label;
  const BatchCounters& w = want.stats.counters;
  const BatchCounters& g = got.stats.counters;
  EXPECT_EQ(g.lines, w.lines) << label;
  EXPECT_EQ(g.events, w.events) << label;
  EXPECT_EQ(g.bytes, w.bytes) << label;
  EXPECT_EQ(g.matched, w.matched) << label;
  EXPECT_EQ(g.mismatched, w.mismatched) << label;
  EXPECT_EQ(g.invalid_utf8, w.invalid_utf8) << label;
  EXPECT_EQ(g.filtered_out, w.filtered_out) << label;
  EXPECT_EQ(g.conversion_errors, w.conversion_errors) << label;
}

// MessyLog with many lines over max_line_bytes (4096), so that some straddle range boundaries
// whatever the range size, a few NUL bytes, and empty lines.
std::string ManyLongLines() {
  std::string out;
  const std::string log = MessyLog();
  size_t pos = 0, line = 0;
  while (pos < log.size()) {
    size_t nl = log.find('\n', pos);
    if (nl == std::string::npos) nl = log.size() - 1;
    ++line;
    if (line % 150 == 0) out += std::string(4000 + line, 'y') + "\n";
    if (line % 333 == 0) out += std::string("nul\0here", 8) + "\n\n";
    out.append(log, pos, nl + 1 - pos);
    pos = nl + 1;
  }
  return out;
}

void ExpectRangesSameAsSerial(const std::vector<std::string>& inputs, bool streamed,
                              const std::vector<uint64_t>& chunk_sizes) {
  TempDir dir;
  for (uint64_t chunk_bytes : chunk_sizes) {
    Plan plan = MakeRangePlan(dir, chunk_bytes, 1);
    const Outcome want = RunSerial(plan, inputs);
    ASSERT_TRUE(want.status.ok()) << want.status.message();
    EXPECT_GT(want.stats.oversized_lines, 0u);  // every input set holds one
    EXPECT_GT(want.stats.counters.mismatched, 0u);
    EXPECT_GT(want.stats.counters.filtered_out, 0u);
    for (int workers : {1, 2, 4}) {
      plan.segments[0].workers = workers;
      plan.live_tokens = 2 * static_cast<size_t>(workers);
      const std::string label =
          "ranges, chunk_bytes " + std::to_string(chunk_bytes) + ", workers " +
          std::to_string(workers);
      ProcessesExecutorStats stats;
      std::unique_ptr<Executor> executor = NewProcessesExecutorWithStats(&stats);
      ExpectSameResults(want, RunWith(*executor, plan, inputs), label);
      EXPECT_GT(stats.plain_ranges, 0u) << label;
      EXPECT_EQ(stats.plain_chunks, 0u) << label;  // the parent read no plain byte
      EXPECT_EQ(stats.streamed_chunks > 0, streamed) << label;
      EXPECT_EQ(stats.shards_retried, 0) << label;
      ExpectNoChildren();
    }
  }
}

TEST(ProcessesExecutorRanges, SameResultsAsSerialOnLinesStraddlingRanges) {
  TempDir dir;
  const std::string messy = dir.Write("messy.log", MessyLog());
  const std::string longs = dir.Write("long.log", ManyLongLines());
  // chunk_bytes 1 and 200: ranges of size/(workers x 32) bytes, a few KiB, so lines (and the
  // lines over max_line_bytes) straddle range boundaries everywhere; 64 KiB: one chunk per range.
  ExpectRangesSameAsSerial({messy, longs}, /*streamed=*/false,
                           {uint64_t{1}, uint64_t{200}, uint64_t{64} << 10});
}

TEST(ProcessesExecutorRanges, ManySmallFilesEmptyFilesAndStreamedInputsInBetween) {
  TempDir dir;
  const std::string log = MessyLog();
  std::vector<std::string> inputs;
  inputs.push_back(dir.Write("empty.log", ""));
  for (int i = 0; i < 12; ++i) {
    // Files smaller than one range, some ending without '\n' or in CRLF, one only "\n".
    std::string small = log.substr(static_cast<size_t>(i) * 997, 500 + static_cast<size_t>(i) * 37);
    if (i == 3) small = "\n";
    if (i == 5) small += "\r\n";
    inputs.push_back(dir.Write("small" + std::to_string(i) + ".log", small));
    if (i == 6) inputs.push_back(dir.Write("mid.log.gz", Gzip(log)));  // streamed, in between
  }
  inputs.push_back(dir.Write("empty2.log", ""));
  inputs.push_back(dir.Write("big.log", log));
  ExpectRangesSameAsSerial(inputs, /*streamed=*/true, {uint64_t{1}, uint64_t{4096}});
}

// How many ranges the executor cuts a whole plain file of `size` bytes into: about
// size / (workers x 32), at least chunk_bytes, tapered down to chunk_bytes at the end
// (executor_processes.cc; the taper itself is tested in tests/io/line_range_test.cc).
uint64_t PlannedRanges(uint64_t size, uint64_t chunk_bytes, int workers) {
  const uint64_t per_worker = static_cast<uint64_t>(workers) * 32;
  const uint64_t range_bytes = std::max(chunk_bytes, (size + per_worker - 1) / per_worker);
  return SplitRegionTapered({0, size, 1}, range_bytes, chunk_bytes, 2 * uint64_t(workers)).size();
}

TEST(ProcessesExecutorRanges, RangeBoundaryExactlyAtNewline) {
  // 64 lines of exactly 64 bytes: with 2 workers, chunk_bytes 1 and a 4096-byte file, ranges
  // are 4096 / 64 = 64 bytes, so every boundary but the tapered last ones (the last 256 bytes)
  // falls just after a '\n'; with 3 workers (ranges of 43 bytes) none does.
  TempDir dir;
  std::string text;
  for (int i = 0; i < 64; ++i) {
    std::string line = "10.0.0." + std::to_string(i) +
                       " - - [10/Oct/2000:13:55:36 -0700] \"GET /a HTTP/1.0\" 200 1";
    line.resize(63, ' ');
    text += line + "\n";
  }
  ASSERT_EQ(text.size(), 4096u);
  const std::vector<std::string> inputs = {dir.Write("aligned.log", text)};
  Plan plan = MakeRangePlan(dir, 1, 2);
  const Outcome want = RunSerial(plan, inputs);
  ASSERT_TRUE(want.status.ok());
  EXPECT_EQ(want.stats.counters.lines, 64u);
  for (int workers : {2, 3}) {
    plan.segments[0].workers = workers;
    ProcessesExecutorStats stats;
    std::unique_ptr<Executor> executor = NewProcessesExecutorWithStats(&stats);
    ExpectSameResults(want, RunWith(*executor, plan, inputs), "workers " + std::to_string(workers));
    EXPECT_EQ(stats.plain_ranges, PlannedRanges(text.size(), 1, workers));
    EXPECT_GT(stats.plain_ranges, workers == 2 ? 64u : 96u);  // 4096 / 64, 4096 / 43, + taper
    ExpectNoChildren();
  }
}

TEST(ProcessesExecutorRanges, KilledShardRedoesItsRangesWithTheSameResults) {
  TempDir dir;
  const std::vector<std::string> inputs = {dir.Write("long.log", ManyLongLines())};
  Plan plan = MakeRangePlan(dir, 200, 2);
  const Outcome want = RunSerial(plan, inputs);
  ASSERT_TRUE(want.status.ok()) << want.status.message();
  // About 2 workers x 32 ranges, then the taper; kill on the first, one in the middle and
  // the last.
  const uint64_t ranges = PlannedRanges(ManyLongLines().size(), 200, 2);
  ASSERT_GT(ranges, 64u);
  for (const std::string& seq :
       {std::string("0"), std::to_string(ranges / 2), std::to_string(ranges - 1)}) {
    KillShardEnv kill(seq.c_str());
    ProcessesExecutorStats stats;
    std::unique_ptr<Executor> executor = NewProcessesExecutorWithStats(&stats);
    ExpectSameResults(want, RunWith(*executor, plan, inputs), std::string("kill at range ") + seq);
    EXPECT_EQ(stats.plain_ranges, ranges) << seq;
    EXPECT_EQ(stats.shards_retried, 1) << seq;
    EXPECT_EQ(stats.shards_started, 3) << seq;
    EXPECT_GT(stats.chunks_resent, 0u) << seq;
    ExpectNoChildren();
  }
  KillShardEnv kill("20:always");
  std::unique_ptr<Executor> executor = NewProcessesExecutor();
  const Outcome got = RunWith(*executor, plan, inputs);
  ASSERT_EQ(got.status.code(), StatusCode::kInternal);
  EXPECT_NE(got.status.message().find("while processing range 20: " + inputs[0] +
                                      " lines starting at bytes "),
            std::string::npos)
      << got.status.message();
  ExpectNoChildren();
}

TEST(ProcessesExecutorRanges, SmallResultWindowStillDeliversEverythingInOrder) {
  // 1-byte chunks: the parent's bound on waiting results (live_tokens x chunk_bytes = 4 bytes)
  // is exceeded at once, so only the shard of the range to deliver next is read (the others
  // block on their sockets) and the run still completes.
  TempDir dir;
  const std::vector<std::string> inputs = {dir.Write("messy.log", MessyLog())};
  Plan plan = MakeRangePlan(dir, 1, 4);
  const Outcome want = RunSerial(plan, inputs);
  plan.live_tokens = 4;
  std::unique_ptr<Executor> executor = NewProcessesExecutor();
  ExpectSameResults(want, RunWith(*executor, plan, inputs), "4-byte result bound");
  ExpectNoChildren();
}

TEST(ProcessesExecutorRanges, PlansThatRenderLineNumbersKeepParentSideCutting) {
  TempDir dir;
  EXPECT_EQ(ProcessesParentCutsReason(MakePlan(dir, 4096, 2)),
            "the rejects file names line numbers");
  EXPECT_EQ(ProcessesParentCutsReason(MakePlan(dir, 4096, 2, "fail")),
            "on_mismatch: fail names the line number of the first bad line");
  EXPECT_NE(ProcessesParentCutsReason(MakeMultilinePlan(dir, 4096, 2)).find("multi-line"),
            std::string::npos);
  Plan plan = MakePlan(dir, 4096, 2, "count");  // records with line_numbers: true
  EXPECT_NE(ProcessesParentCutsReason(plan).find("line_numbers: true"), std::string::npos);
  EXPECT_NE(plan.Explain().find("the parent reads them and cuts the chunks, because records"),
            std::string::npos)
      << plan.Explain();
  EXPECT_NE(MakeRangePlan(dir, 4096, 2).Explain().find("each shard reads byte ranges"),
            std::string::npos);
  const std::vector<std::string> inputs = {dir.Write("messy.log", MessyLog())};
  ProcessesExecutorStats stats;
  std::unique_ptr<Executor> executor = NewProcessesExecutorWithStats(&stats);
  const Outcome got = RunWith(*executor, plan, inputs);
  ASSERT_TRUE(got.status.ok());
  EXPECT_EQ(stats.plain_ranges, 0u);
  EXPECT_GT(stats.plain_chunks, 0u);
  ExpectNoChildren();
}

}  // namespace
}  // namespace logpipe
