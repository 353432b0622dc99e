#pragma once
// WorkItem: one Chunk and the RecordBatch over it, the unit that parallel executors pass
// between their threads. Executors allocate a fixed number of WorkItems up front and recycle
// them, which bounds memory (items x chunk size) and reuses chunk buffers (fresh multi-MiB
// buffers cost page faults on these machines, see BASELINES.md).
//
// Also: WorkerState, the per-worker mutable state of one segment (Scratches, the aggregate
// Partial), and RunSegmentStages, which runs a segment's stages on one item.
// Thread-safety: a WorkItem has one owner at a time; a WorkerState belongs to one worker.

#include <memory>
#include <vector>

#include "io/chunk.h"
#include "pipeline/batch_output.h"
#include "pipeline/plan.h"
#include "stages/record_batch.h"
#include "stages/stage.h"

namespace logpipe {

struct WorkItem {
  Chunk chunk;
  RecordBatch batch;
  BatchOutput output;  // the batch rendered for the ordered outputs, by the last segment
};

struct WorkerState {
  std::vector<std::unique_ptr<Scratch>> scratches;  // one per transform of the segment
  // One per aggregate of the plan; null for aggregates outside this segment.
  std::vector<std::unique_ptr<Partial>> partials;
};

// Scratches (and the Partial) that one worker of `segment` needs.
WorkerState NewWorkerState(const Plan& plan, const Segment& segment);

// Runs the stages [segment.first_stage, segment.end_stage) on `item`.
void RunSegmentStages(const Plan& plan, const Segment& segment, WorkItem& item,
                      WorkerState& state);

// Merges every worker's Partials into one per aggregate of the plan.
std::vector<std::unique_ptr<Partial>> MergePartials(const Plan& plan,
                                                    std::vector<WorkerState>& states);

}  // namespace logpipe
