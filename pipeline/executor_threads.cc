// The threads executor: a reading thread, a fixed pool of std::threads per segment, and the
// calling thread putting batches back in input order for the consumer.
//
//   reader --q[0]--> segment 0 (W0 threads) --q[1]--> ... --done--> main: reorder, consume
//      ^                                                                   |
//      +------------------------------ free items <------------------------+
//
// A fixed pool of plan.live_tokens WorkItems circulates; the reader waits for a free one, so
// at most that many chunks are in memory (backpressure without a bound on any queue). A serial segment
// is one thread; it sees batches in arrival order, which is fine: stages are per batch, and
// aggregate partials merge in any order. Only the consumer needs input order.

#include <atomic>
#include <map>
#include <thread>

#include "pipeline/blocking_queue.h"
#include "pipeline/executor.h"
#include "pipeline/input_stream.h"
#include "pipeline/work_item.h"

namespace logpipe {
namespace {

class ThreadsExecutor : public Executor {
 public:
  Status Run(const Plan& plan, const std::vector<std::string>& inputs,
             const std::vector<InputRange>& ranges,
             const BatchRenderer& renderer, OrderedConsumer& consumer,
             RunResult* result) override {
    const size_t num_segments = plan.segments.size();
    const size_t pool_size = plan.live_tokens;

    std::vector<std::unique_ptr<WorkItem>> pool;
    BlockingQueue<WorkItem*> free_items;
    free_items.AddProducers(1);  // the main thread, recycling
    for (size_t i = 0; i < pool_size; ++i) {
      pool.push_back(std::make_unique<WorkItem>());
      free_items.Push(pool.back().get());
    }
    // queues[s] feeds segment s; queues[num_segments] feeds the main thread.
    std::vector<BlockingQueue<WorkItem*>> queues(num_segments + 1);
    queues[0].AddProducers(1);
    for (size_t s = 0; s < num_segments; ++s) queues[s + 1].AddProducers(plan.segments[s].workers);

    auto abort_all = [&] {
      free_items.Abort();
      for (auto& q : queues) q.Abort();
    };

    Status read_status;
    std::vector<std::thread> threads;
    RunTrace::Track* reader = result->trace.NewTrack("reader", "read");
    threads.emplace_back([&] {
      InputStream stream(inputs, ranges, plan, &result->stats.skipped_inputs, &result->trace);
      WorkItem* item = nullptr;
      while (true) {
        {
          ScopedSpan span(reader, SpanKind::kWaitOutput);  // for a free buffer
          if (!free_items.Pop(&item)) break;
        }
        Result<bool> more = false;
        {
          ScopedSpan span(reader, SpanKind::kRead);
          more = stream.Next(&item->chunk);
          span.set_seq(item->chunk.seq);
        }
        if (!more.ok()) {
          read_status = more.status();
          abort_all();
          break;
        }
        if (!*more) break;
        queues[0].Push(item);  // the first segment's workers split it into lines
      }
      queues[0].ProducerDone();
    });

    // states[s][w]: worker w of segment s. Built here, used only by that worker's thread.
    std::vector<std::vector<WorkerState>> states(num_segments);
    for (size_t s = 0; s < num_segments; ++s) {
      for (int w = 0; w < plan.segments[s].workers; ++w) {
        states[s].push_back(NewWorkerState(plan, plan.segments[s]));
      }
    }
    for (size_t s = 0; s < num_segments; ++s) {
      for (int w = 0; w < plan.segments[s].workers; ++w) {
        RunTrace::Track* track = result->trace.NewTrack(
            "segment " + std::to_string(s + 1) + " worker " + std::to_string(w + 1),
            plan.segments[s].label());
        threads.emplace_back([&, s, w, track] {
          WorkItem* item = nullptr;
          while (true) {
            {
              ScopedSpan span(track, SpanKind::kWaitInput);
              if (!queues[s].Pop(&item)) break;
            }
            {
              ScopedSpan span(track, SpanKind::kWork, item->chunk.seq);
              // Splitting into lines is work for the parallel workers, not the one reader.
              if (s == 0) item->batch.Reset(item->chunk, plan.schema.size(), plan.starts_event());
              RunSegmentStages(plan, plan.segments[s], *item, states[s][w]);
              if (s + 1 == num_segments) renderer.Render(item->batch, &item->output);
            }
            queues[s + 1].Push(item);
          }
          queues[s + 1].ProducerDone();
        });
      }
    }

    // Put batches back in seq order for the consumer, then recycle them.
    result->stats.counters.Clear(plan.schema.size());
    Status consume_status;
    std::map<uint64_t, WorkItem*> pending;
    uint64_t next_seq = 0;
    RunTrace::Track* writer = result->trace.NewTrack("writer", "deliver");
    WorkItem* item = nullptr;
    while (consume_status.ok()) {
      {
        ScopedSpan span(writer, SpanKind::kWaitInput);
        if (!queues[num_segments].Pop(&item)) break;
      }
      pending.emplace(item->chunk.seq, item);
      while (!pending.empty() && pending.begin()->first == next_seq) {
        WorkItem* ready = pending.begin()->second;
        pending.erase(pending.begin());
        {
          ScopedSpan span(writer, SpanKind::kDeliver, ready->chunk.seq);
          consume_status = DeliverBatch(ready->output, consumer, &result->stats);
        }
        ++next_seq;
        free_items.Push(ready);
        if (!consume_status.ok()) {
          abort_all();
          break;
        }
      }
    }
    free_items.ProducerDone();
    for (auto& t : threads) t.join();
    if (!read_status.ok()) return read_status;
    if (!consume_status.ok()) return consume_status;

    std::vector<WorkerState> all;
    for (auto& segment_states : states) {
      for (auto& state : segment_states) all.push_back(std::move(state));
    }
    ScopedSpan span(writer, SpanKind::kMerge);
    result->partials = MergePartials(plan, all);
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Executor> NewThreadsExecutor() { return std::make_unique<ThreadsExecutor>(); }

}  // namespace logpipe
