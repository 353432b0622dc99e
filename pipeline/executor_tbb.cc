// The tbb executor: one oneTBB parallel_pipeline. A serial in-order filter reads chunks, one
// filter per segment runs its stages (parallel for tbb segments, serial for serial ones), and a
// serial in-order filter hands batch outputs to the consumer in input order. The pipeline's
// token limit is the number of WorkItems, so memory is bounded by live tokens x chunk size;
// TBB's work stealing balances chunks of unequal cost. Per-worker Scratches and Partials live
// in enumerable_thread_specific and are merged at the end.

#include <tbb/concurrent_queue.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <atomic>

#include "pipeline/executor.h"
#include "pipeline/input_stream.h"
#include "pipeline/work_item.h"

namespace logpipe {
namespace {

using WorkerStates = tbb::enumerable_thread_specific<WorkerState>;

class TbbExecutor : public Executor {
 public:
  Status Run(const Plan& plan, const std::vector<std::string>& inputs,
             const std::vector<InputRange>& ranges,
             const BatchRenderer& renderer, OrderedConsumer& consumer,
             RunResult* result) override {
    const size_t num_segments = plan.segments.size();
    const size_t tokens = plan.live_tokens;
    std::vector<std::unique_ptr<WorkItem>> pool;
    tbb::concurrent_queue<WorkItem*> free_items;
    for (size_t i = 0; i < tokens; ++i) {
      pool.push_back(std::make_unique<WorkItem>());
      free_items.push(pool.back().get());
    }
    std::vector<std::unique_ptr<WorkerStates>> states;
    for (const auto& segment : plan.segments) {
      states.push_back(std::make_unique<WorkerStates>(
          [&plan, &segment] { return NewWorkerState(plan, segment); }));
    }

    int arena_threads = 1;
    for (const auto& segment : plan.segments) arena_threads = std::max(arena_threads, segment.workers);
    // Tracks: the serial reading and writing filters (whichever thread runs them) and, per
    // segment, one per arena thread index, made the first time that thread works on it.
    RunTrace::Track* reader = result->trace.NewTrack("reader", "read");
    RunTrace::Track* writer = result->trace.NewTrack("writer", "deliver");
    std::vector<std::vector<RunTrace::Track*>> worker_tracks(
        num_segments, std::vector<RunTrace::Track*>(static_cast<size_t>(arena_threads), nullptr));
    auto WorkerTrack = [&](size_t s) {
      const int index = tbb::this_task_arena::current_thread_index();
      if (index < 0 || index >= arena_threads) return static_cast<RunTrace::Track*>(nullptr);
      RunTrace::Track*& track = worker_tracks[s][static_cast<size_t>(index)];
      if (track == nullptr) {
        track = result->trace.NewTrack(
            "segment " + std::to_string(s + 1) + " thread " + std::to_string(index + 1),
            plan.segments[s].label());
      }
      return track;
    };

    InputStream stream(inputs, ranges, plan, &result->stats.skipped_inputs, &result->trace);
    Status read_status;
    Status consume_status;
    std::atomic<bool> stop{false};
    result->stats.counters.Clear(plan.schema.size());

    auto read = tbb::make_filter<void, WorkItem*>(
        tbb::filter_mode::serial_in_order, [&](tbb::flow_control& fc) -> WorkItem* {
          WorkItem* item = nullptr;
          if (stop.load(std::memory_order_relaxed) || !free_items.try_pop(item)) {
            fc.stop();  // a free item always exists while tokens == pool size
            return nullptr;
          }
          Result<bool> more = false;
          {
            ScopedSpan span(reader, SpanKind::kRead);
            more = stream.Next(&item->chunk);
            span.set_seq(item->chunk.seq);
          }
          if (!more.ok() || !*more) {
            if (!more.ok()) read_status = more.status();
            free_items.push(item);
            fc.stop();
            return nullptr;
          }
          item->batch.Reset(item->chunk, plan.schema.size(), plan.starts_event());
          return item;
        });
    auto segment_filter = [&](size_t s) {
      const Segment& segment = plan.segments[s];
      const bool last = s + 1 == num_segments;
      return tbb::make_filter<WorkItem*, WorkItem*>(
          segment.model == ExecModel::kTbb ? tbb::filter_mode::parallel
                                           : tbb::filter_mode::serial_out_of_order,
          [&, s, last](WorkItem* item) -> WorkItem* {
            if (stop.load(std::memory_order_relaxed)) return item;  // drain quickly
            ScopedSpan span(WorkerTrack(s), SpanKind::kWork, item->chunk.seq);
            RunSegmentStages(plan, plan.segments[s], *item, states[s]->local());
            if (last) renderer.Render(item->batch, &item->output);
            return item;
          });
    };
    auto deliver = tbb::make_filter<WorkItem*, void>(
        tbb::filter_mode::serial_in_order, [&](WorkItem* item) {
          if (!stop.load(std::memory_order_relaxed)) {
            ScopedSpan span(writer, SpanKind::kDeliver, item->chunk.seq);
            consume_status = DeliverBatch(item->output, consumer, &result->stats);
            if (!consume_status.ok()) stop = true;
          }
          free_items.push(item);
        });

    tbb::filter<WorkItem*, WorkItem*> middle = segment_filter(0);
    for (size_t s = 1; s < num_segments; ++s) middle = middle & segment_filter(s);

    tbb::task_arena arena(arena_threads);
    arena.execute([&] { tbb::parallel_pipeline(tokens, read & middle & deliver); });

    if (!read_status.ok()) return read_status;
    if (!consume_status.ok()) return consume_status;
    std::vector<WorkerState> all;
    for (auto& segment_states : states) {
      for (auto& state : *segment_states) all.push_back(std::move(state));
    }
    ScopedSpan span(writer, SpanKind::kMerge);
    result->partials = MergePartials(plan, all);
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Executor> NewTbbExecutor() { return std::make_unique<TbbExecutor>(); }

}  // namespace logpipe
