// The serial executor: one thread reads a chunk, runs every stage on it, hands it to the
// consumer, and reuses the same WorkItem and worker states for the next one. It is the
// baseline every other model is compared with, and the reference for their results.

#include <memory>
#include <vector>

#include "pipeline/executor.h"
#include "pipeline/input_stream.h"
#include "pipeline/work_item.h"

namespace logpipe {
namespace {

class SerialExecutor : public Executor {
 public:
  Status Run(const Plan& plan, const std::vector<std::string>& inputs,
             const BatchRenderer& renderer, OrderedConsumer& consumer,
             RunResult* result) override {
    std::vector<WorkerState> states;
    for (const auto& segment : plan.segments) states.push_back(NewWorkerState(plan, segment));
    result->stats.counters.Clear(plan.schema.size());

    InputStream stream(inputs, plan, &result->stats.skipped_inputs);
    WorkItem item;
    while (true) {
      Result<bool> more = stream.Next(&item.chunk);
      if (!more.ok()) return more.status();
      if (!*more) break;
      item.batch.Reset(item.chunk, plan.schema.size(), plan.starts_event());
      for (size_t s = 0; s < plan.segments.size(); ++s) {
        RunSegmentStages(plan, plan.segments[s], item, states[s]);
      }
      renderer.Render(item.batch, &item.output);
      LOGPIPE_RETURN_IF_ERROR(DeliverBatch(item.output, consumer, &result->stats));
    }
    result->partials = MergePartials(plan, states);
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Executor> NewSerialExecutor() { return std::make_unique<SerialExecutor>(); }

}  // namespace logpipe
