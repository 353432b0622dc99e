// The threads executor: a fixed pool of std::threads per segment, and the calling thread
// putting batches back in input order for the consumer.
//
//   read (serial, by a free worker of segment 0) -> segment 0 (W0 threads) --q[1]--> ...
//      ^                                              --done--> main: reorder, consume
//      +------------------------------ free items <------------------------+
//
// Reading is serial but has no thread of its own: a worker of the first segment that needs
// work takes the read lock, waits for a free WorkItem, reads the next chunk into it, lets go
// of the lock and runs the segment on that chunk, whose bytes are still in its core's cache
// (as oneTBB runs a serial input filter). A separate reading thread, one more runnable thread
// than cores, cost the reference job with 2 workers on a 2-core VM 1.63 s of CPU against
// tbb's 1.26 (cache-cold chunks, ~1,000 context switches per GiB); reading this way, 1.47.
//
// A fixed pool of plan.live_tokens WorkItems circulates; reading waits for a free one, so
// at most that many chunks are in memory (backpressure without a bound on any queue). A serial segment
// is one thread; it sees batches in arrival order, which is fine: stages are per batch, and
// aggregate partials merge in any order. Only the consumer needs input order.
#include <atomic>
#include <map>
#include <mutex>
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
    // queues[s] feeds segment s > 0 (segment 0 reads); queues[num_segments] feeds the main
    // thread.
    std::vector<BlockingQueue<WorkItem*>> queues(num_segments + 1);
    for (size_t s = 0; s < num_segments; ++s) queues[s + 1].AddProducers(plan.segments[s].workers);
    auto abort_all = [&] {
      free_items.Abort();
      for (auto& q : queues) q.Abort();
    };
    // The reading, shared by the first segment's workers under read_mu. Each records it on
    // its own track: waiting for the lock (another worker is reading) as waiting for input,
    // waiting for a free buffer as blocked on output, then the read.
    std::mutex read_mu;
    bool input_done = false;  // guarded by read_mu
    Status read_status;       // guarded by read_mu until the threads are joined
    InputStream stream(inputs, ranges, plan, &result->stats.skipped_inputs, &result->trace);
    auto read_next = [&](RunTrace::Track* track, WorkItem** item) {
      std::unique_lock<std::mutex> lock(read_mu, std::defer_lock);
      {
        ScopedSpan span(track, SpanKind::kWaitInput);
        lock.lock();
      }
      if (input_done) return false;
      {
        ScopedSpan span(track, SpanKind::kWaitOutput);
        if (!free_items.Pop(item)) {
          input_done = true;
          return false;
        }
      }
      Result<bool> more = false;
      {
        ScopedSpan span(track, SpanKind::kRead);
        more = stream.Next(&(*item)->chunk);
        span.set_seq((*item)->chunk.seq);
      }
      if (more.ok() && *more) return true;
      input_done = true;
      if (!more.ok()) {
        read_status = more.status();
        abort_all();
      }
      return false;
    };
    std::vector<std::thread> threads;
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
            bool got = false;
            if (s == 0) {
              got = read_next(track, &item);
            } else {
              ScopedSpan span(track, SpanKind::kWaitInput);
              got = queues[s].Pop(&item);
            }
            if (!got) break;
            {
              ScopedSpan span(track, SpanKind::kWork, item->chunk.seq);
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
