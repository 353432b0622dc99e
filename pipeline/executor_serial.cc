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
             const std::vector<InputRange>& ranges,
             const BatchRenderer& renderer, OrderedConsumer& consumer,
             RunResult* result) override {
    std::vector<WorkerState> states;
    for (const auto& segment : plan.segments) states.push_back(NewWorkerState(plan, segment));
    result->stats.counters.Clear(plan.schema.size());

    std::string label;
    for (const auto& segment : plan.segments) label += (label.empty() ? "" : " -> ") + segment.label();
    RunTrace::Track* track = result->trace.NewTrack("serial", label);

    InputStream stream(inputs, ranges, plan, &result->stats.skipped_inputs, &result->trace);
    WorkItem item;
    while (true) {
      Result<bool> more = false;
      {
        ScopedSpan span(track, SpanKind::kRead);
        more = stream.Next(&item.chunk);
        span.set_seq(item.chunk.seq);
      }
      if (!more.ok()) return more.status();
      if (!*more) break;
      {
        ScopedSpan span(track, SpanKind::kWork, item.chunk.seq);
        item.batch.Reset(item.chunk, plan.schema.size(), plan.starts_event());
        for (size_t s = 0; s < plan.segments.size(); ++s) {
          RunSegmentStages(plan, plan.segments[s], item, states[s]);
        }
        renderer.Render(item.batch, &item.output);
      }
      ScopedSpan span(track, SpanKind::kDeliver, item.chunk.seq);
      LOGPIPE_RETURN_IF_ERROR(DeliverBatch(item.output, consumer, &result->stats));
    }
    ScopedSpan span(track, SpanKind::kMerge);
    result->partials = MergePartials(plan, states);
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Executor> NewSerialExecutor() { return std::make_unique<SerialExecutor>(); }

}  // namespace logpipe
