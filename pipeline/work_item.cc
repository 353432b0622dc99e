#include "pipeline/work_item.h"

namespace logpipe {

WorkerState NewWorkerState(const Plan& plan, const Segment& segment) {
  WorkerState state;
  state.partials.resize(plan.aggregates.size());
  for (size_t i = segment.first_stage; i < segment.end_stage; ++i) {
    if (plan.is_aggregate_stage(i)) {
      const size_t a = plan.aggregate_index(i);
      state.partials[a] = plan.aggregates[a]->NewPartial();
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
      const size_t a = plan.aggregate_index(i);
      plan.aggregates[a]->Add(item.batch, *state.partials[a]);
    } else {
      plan.transforms[i]->Process(item.batch, *state.scratches[scratch++]);
    }
  }
}

std::vector<std::unique_ptr<Partial>> MergePartials(const Plan& plan,
                                                    std::vector<WorkerState>& states) {
  std::vector<std::unique_ptr<Partial>> all;
  for (size_t a = 0; a < plan.aggregates.size(); ++a) {
    // Merge into the first worker's partial rather than a fresh one: one table fewer at the
    // memory peak. Each merged-from partial is freed right away.
    std::unique_ptr<Partial> into;
    for (auto& state : states) {
      if (!state.partials[a]) continue;
      if (!into) {
        into = std::move(state.partials[a]);
      } else {
        plan.aggregates[a]->Merge(std::move(*state.partials[a]), *into);
        state.partials[a].reset();
      }
    }
    all.push_back(into ? std::move(into) : plan.aggregates[a]->NewPartial());
  }
  return all;
}

}  // namespace logpipe
