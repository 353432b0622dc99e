#pragma once
// Executor: runs a Plan's CPU stages over all inputs. Executors alone own concurrency (threads,
// TBB, forked shards); every executor runs the same stage objects and must produce the same
// results: batches reach the OrderedConsumer in input order, and aggregate partials merge to
// the same table whatever the model, worker count or chunk size.
//
// Thread-safety: Run() is called once per run, from the main thread.
// Errors: the first input error (named by the input stream) or the consumer's error stops the
//   run; nothing is committed by the executor itself.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/status.h"
#include "pipeline/batch_output.h"
#include "pipeline/input_range.h"
#include "pipeline/plan.h"
#include "pipeline/run_trace.h"
#include "stages/record_batch.h"
#include "stages/stage.h"
#include "stages/table.h"

namespace logpipe {

// Receives each processed batch's output, on one thread, in input order (by chunk seq):
// appends its records and rejects and stops the run at its error, if any.
class OrderedConsumer {
 public:
  virtual ~OrderedConsumer() = default;
  virtual Status Consume(const BatchOutput& output) = 0;
};

struct RunStats {
  BatchCounters counters;         // summed over all batches
  uint64_t oversized_lines = 0;   // lines over max_line_bytes, never parsed
  uint64_t chunks = 0;
  std::vector<SkippedInput> skipped_inputs;  // on_fetch_error: skip
};

struct RunResult {
  RunStats stats;
  RunTrace trace;  // per worker: spans and busy / waiting / blocked sums
  std::vector<std::unique_ptr<Partial>> partials;  // merged, one per plan.aggregates
};

class Executor {
 public:
  virtual ~Executor() = default;
  // `renderer` turns each processed batch into its BatchOutput (in any worker). `ranges`:
  // which part of each input to read (pipeline/input_range.h); empty: every input whole.
  virtual Status Run(const Plan& plan, const std::vector<std::string>& inputs,
                     const std::vector<InputRange>& ranges, const BatchRenderer& renderer, OrderedConsumer& consumer,
                     RunResult* result) = 0;
};

// Hands one batch's output to the consumer and adds its counters to `stats`. Every executor
// calls it for each chunk, in seq order, one call at a time (threads and tbb: from whichever
// worker has the next batch, so a consumer must not rely on one thread, only on the order).
Status DeliverBatch(const BatchOutput& output, OrderedConsumer& consumer, RunStats* stats);

// The executor for the plan's execution model (pipeline/executor.cc).
std::unique_ptr<Executor> NewExecutor(const Plan& plan);
// One constructor per model, each in its own executor_<model>.cc.
std::unique_ptr<Executor> NewSerialExecutor();
std::unique_ptr<Executor> NewThreadsExecutor();
std::unique_ptr<Executor> NewTbbExecutor();

}  // namespace logpipe
