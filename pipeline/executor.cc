#include "pipeline/executor.h"

namespace logpipe {

Status DeliverBatch(const RecordBatch& batch, OrderedConsumer& consumer, RunStats* stats) {
  stats->counters.Merge(batch.counters);
  stats->oversized_lines += batch.chunk().oversized.size();
  ++stats->chunks;
  return consumer.Consume(batch);
}

std::unique_ptr<Executor> NewExecutor(const Plan& plan) {
  for (const auto& segment : plan.segments) {
    if (segment.model == ExecModel::kThreads) return NewThreadsExecutor();
  }
  return NewSerialExecutor();
}

}  // namespace logpipe
