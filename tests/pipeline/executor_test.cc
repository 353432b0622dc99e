// The contract every executor keeps with its consumer (pipeline/executor.h): batches arrive in
// input order, one Consume call at a time (threads and tbb make it from whichever worker
// finished the next batch), and a consumer's error ends the run with that error, with no call
// after it. Under ThreadSanitizer (scripts/test.sh) the tbb cases are skipped, as in
// exec_matrix_test.cc: Debian's libtbb is not built with TSan, which then cannot see TBB's own
// synchronisation and reports the state its serial filters hand over as races.

#include "pipeline/executor.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/config_yaml.h"
#include "pipeline/plan.h"
#include "tests/pipeline/plan_from_yaml.h"
#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

using logpipe::testing::PlanFromYaml;
using logpipe::testing::SourcePath;
using logpipe::testing::TempDir;

// Keeps each batch's seq and the records it renders, in delivery order; fails the `fail_at`-th
// call (1-based; 0: never). Each call lingers a little so that two overlapping calls would be
// seen.
class CheckingConsumer : public OrderedConsumer {
 public:
  explicit CheckingConsumer(size_t fail_at) : fail_at_(fail_at) {}

  Status Consume(const BatchOutput& output) override {
    if (inside_.fetch_add(1) != 0) overlapped_ = true;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    seqs.push_back(output.seq);
    records += output.records.at(0);
    inside_.fetch_sub(1);
    if (seqs.size() == fail_at_) return IoError("out.jsonl: no space left on device (test)");
    return Status::Ok();
  }

  bool overlapped() const { return overlapped_; }
  std::vector<uint64_t> seqs;  // per call
  std::string records;         // every call's records, concatenated

 private:
  const size_t fail_at_;
  std::atomic<int> inside_{0};
  std::atomic<bool> overlapped_{false};
};

// The sample access log in chunks of 4 KiB (about 580 batches), every line rendered as a record
// so that each batch has bytes of its own, on `model` with `workers`.
Plan MakePlan(const TempDir& dir, ExecModel model, int workers) {
  const std::string yaml =
      "inputs: [{path: unused.log}]\n"
      "read: {chunk_bytes: 4096}\n"
      "stages:\n"
      "  - type: parse\n"
      "    pattern: combined\n"
      "    fields: {status: int}\n"
      "  - type: aggregate\n"
      "    group_by: [status]\n"
      "    metrics: {hits: count}\n"
      "outputs:\n"
      "  - {kind: records, path: " +
      dir.path() + "/records.jsonl, fields: [ip, status, path]}\n";
  Plan plan = PlanFromYaml(yaml, "consumer.yaml");
  EXPECT_EQ(plan.segments.size(), 1u);
  plan.segments[0].model = model;
  plan.segments[0].workers = workers;
  plan.live_tokens = model == ExecModel::kSerial ? 1 : 2 * static_cast<size_t>(workers);
  return plan;
}

struct Outcome {
  Status status;
  std::vector<uint64_t> seqs;
  std::string records;
  bool overlapped = false;
};

Outcome RunModel(const TempDir& dir, ExecModel model, int workers, size_t fail_at) {
  const Plan plan = MakePlan(dir, model, workers);
  const std::vector<std::string> inputs = {SourcePath("data/sample/apache_combined.log")};
  BatchRenderer renderer(plan, inputs);
  CheckingConsumer consumer(fail_at);
  RunResult result;
  std::unique_ptr<Executor> executor = NewExecutor(plan);
  Outcome out;
  out.status = executor->Run(plan, inputs, {}, renderer, consumer, &result);
  out.seqs = std::move(consumer.seqs);
  out.records = std::move(consumer.records);
  out.overlapped = consumer.overlapped();
  return out;
}

struct ModelCase {
  const char* name;
  ExecModel model;
  int workers;
};

#if defined(__SANITIZE_THREAD__)
constexpr bool kUnderTsan = true;
#else
constexpr bool kUnderTsan = false;
#endif

const ModelCase kParallel[] = {{"threads x2", ExecModel::kThreads, 2},
                               {"threads x3", ExecModel::kThreads, 3},
                               {"tbb x2", ExecModel::kTbb, 2},
                               {"processes x2", ExecModel::kProcesses, 2}};

// Processes shards cut byte ranges into chunks of their own, so batch boundaries may differ
// from serial's; the records, concatenated, may not, and seqs never go back.
TEST(ExecutorConsumer, BatchesComeInInputOrderOneCallAtATime) {
  TempDir dir;
  const Outcome want = RunModel(dir, ExecModel::kSerial, 1, 0);
  ASSERT_TRUE(want.status.ok()) << want.status.message();
  ASSERT_GT(want.seqs.size(), 100u);
  ASSERT_GT(want.records.size(), 500000u);
  for (const ModelCase& c : kParallel) {
    if (kUnderTsan && c.model == ExecModel::kTbb) continue;
    SCOPED_TRACE(c.name);
    const Outcome got = RunModel(dir, c.model, c.workers, 0);
    ASSERT_TRUE(got.status.ok()) << got.status.message();
    EXPECT_FALSE(got.overlapped) << "two Consume calls overlapped";
    EXPECT_TRUE(std::is_sorted(got.seqs.begin(), got.seqs.end()));
    EXPECT_TRUE(got.records == want.records) << "records differ from serial's";
  }
}

TEST(ExecutorConsumer, ConsumerErrorEndsTheRunWithNoCallAfterIt) {
  TempDir dir;
  const Outcome all = RunModel(dir, ExecModel::kSerial, 1, 0);
  ASSERT_TRUE(all.status.ok()) << all.status.message();
  for (size_t fail_at : {size_t{1}, size_t{40}}) {
    for (const ModelCase& c : kParallel) {
      if (kUnderTsan && c.model == ExecModel::kTbb) continue;
      SCOPED_TRACE(std::string(c.name) + ", failing call " + std::to_string(fail_at));
      const Outcome got = RunModel(dir, c.model, c.workers, fail_at);
      EXPECT_EQ(got.status.code(), StatusCode::kIoError);
      EXPECT_EQ(got.status.message(), "out.jsonl: no space left on device (test)");
      EXPECT_EQ(got.seqs.size(), fail_at) << "Consume was called after it failed";
      EXPECT_TRUE(all.records.compare(0, got.records.size(), got.records) == 0)
          << "the records before the error are not serial's first ones";
      EXPECT_FALSE(got.overlapped);
      // No shard is left behind (a zombie would still be waitable).
      int status = 0;
      errno = 0;
      EXPECT_EQ(waitpid(-1, &status, WNOHANG), -1);
      EXPECT_EQ(errno, ECHILD);
    }
  }
}

}  // namespace
}  // namespace logpipe
