#include "pipeline/work_item.h"

namespace logpipe {

WorkerState NewWorkerState(const Plan& plan, const Segment& segment) {
  WorkerState state;
  for (size_t i = segment.first_stage; i < segment.end_stage; ++i) {
    if (plan.is_aggregate_stage(i)) {
      state.partial = plan.aggregate->NewPartial();
    } else {
      state.scratches.push_back(plan.transforms[i]->NewScratch());
    }
  }
  return state;
}

void RunSegmentStages(const Plan& plan, const Segment& segment, WorkItem& item,
                      WorkerState& state) {
  size_t scratch = 0;
  for (size_t i = segment.first_stage; i < segment.end_stage; ++i) {
    if (plan.is_aggregate_stage(i)) {
      plan.aggregate->Add(item.batch, *state.partial);
    } else {
      plan.transforms[i]->Process(item.batch, *state.scratches[scratch++]);
    }
  }
}

std::unique_ptr<Partial> MergePartials(const Plan& plan, std::vector<WorkerState>& states) {
  if (!plan.aggregate) return nullptr;
  std::unique_ptr<Partial> all = plan.aggregate->NewPartial();
  for (auto& state : states) {
    if (state.partial) plan.aggregate->Merge(std::move(*state.partial), *all);
  }
  return all;
}

}  // namespace logpipe
