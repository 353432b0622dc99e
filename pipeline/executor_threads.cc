// The threads executor: a fixed pool of std::threads per segment; whichever worker of the last
// segment finishes the next batch in input order hands it to the consumer.
//
//   read (serial, by a free worker of segment 0) -> segment 0 (W0 threads) --q[1]--> ...
//      ^                                      --> last segment: reorder, consume (one at a time)
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
// at most that many chunks are in memory (backpressure without a bound on any queue). A serial
// segment is one thread; it sees batches in arrival order, which is fine: stages are per batch, and
// aggregate partials merge in any order. Only the consumer needs input order.
//
// Delivery has no thread of its own either (as oneTBB runs a serial output filter on whichever
// thread brings its next item): a worker that finishes a batch files it under its seq, and if
// nobody is delivering, delivers every batch that is next in order, then goes back to work. A
// calling thread woken once per batch to do that cost the reference job with 2 workers ~1,000
// context switches per GiB and preempted a worker each time.
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
    BlockingQueue<WorkItem*> free_items(QueueOrder::kLifo);  // reuse the warmest item first
    free_items.AddProducers(1);  // closed once the workers (which recycle items) are joined
    for (size_t i = 0; i < pool_size; ++i) {
      pool.push_back(std::make_unique<WorkItem>());
      free_items.Push(pool.back().get());
    }
    // queues[s] feeds segment s > 0 (segment 0 reads; the last segment delivers).
    std::vector<BlockingQueue<WorkItem*>> queues(num_segments);
    for (size_t s = 0; s + 1 < num_segments; ++s) {
      queues[s + 1].AddProducers(plan.segments[s].workers);
    }
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
    // Delivery in input order, by the last segment's workers, one at a time (`delivering`).
    std::mutex deliver_mu;
    std::map<uint64_t, WorkItem*> pending;  // finished, waiting for an earlier seq
    uint64_t next_seq = 0;
    bool delivering = false;
    Status consume_status;  // guarded by deliver_mu until the threads are joined
    result->stats.counters.Clear(plan.schema.size());
    RunTrace::Track* writer = result->trace.NewTrack("writer", "deliver");  // the deliverer's
    auto deliver = [&](WorkItem* item) {
      std::unique_lock<std::mutex> lock(deliver_mu);
      pending.emplace(item->chunk.seq, item);
      if (delivering) return;  // the worker delivering will find it
      delivering = true;
      while (consume_status.ok() && !pending.empty() && pending.begin()->first == next_seq) {
        WorkItem* ready = pending.begin()->second;
        pending.erase(pending.begin());
        lock.unlock();  // others file their batches meanwhile
        Status st;
        {
          ScopedSpan span(writer, SpanKind::kDeliver, ready->chunk.seq);
          st = DeliverBatch(ready->output, consumer, &result->stats);
        }
        free_items.Push(ready);
        lock.lock();
        ++next_seq;
        if (!st.ok()) {
          consume_status = st;
          abort_all();
        }
      }
      delivering = false;
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
            if (s + 1 == num_segments) {
              deliver(item);
            } else {
              queues[s + 1].Push(item);
            }
          }
          if (s + 1 < num_segments) queues[s + 1].ProducerDone();
        });
      }
    }

    for (auto& t : threads) t.join();
    free_items.ProducerDone();
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
