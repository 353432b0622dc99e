#include "pipeline/executor.h"

#include "pipeline/executor_processes.h"

namespace logpipe {

Status DeliverBatch(const BatchOutput& output, OrderedConsumer& consumer, RunStats* stats) {
  stats->counters.Merge(output.counters);
  stats->oversized_lines += output.oversized_lines;
  ++stats->chunks;
  return consumer.Consume(output);
}

std::unique_ptr<Executor> NewExecutor(const Plan& plan) {
  // BuildPlan allows threads or tbb (each mixed with serial segments), not both; processes
  // only as the one segment.
  for (const auto& segment : plan.segments) {
    if (segment.model == ExecModel::kProcesses) return NewProcessesExecutor();
    if (segment.model == ExecModel::kThreads) return NewThreadsExecutor();
    if (segment.model == ExecModel::kTbb) return NewTbbExecutor();
  }
  return NewSerialExecutor();
}

}  // namespace logpipe
