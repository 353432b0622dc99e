#pragma once
// PlanFromYaml: the Plan of a config given as YAML text, for the pipeline tests that build a plan
// and then adjust it (model, workers). A config or plan error fails the test and ends it with an
// exception (gtest reports it), since nothing after it can run without the plan.

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "pipeline/config_yaml.h"
#include "pipeline/plan.h"

namespace logpipe::testing {

inline Plan PlanFromYaml(const std::string& yaml, const std::string& name = "test.yaml") {
  Result<Config> config = LoadConfigString(yaml, name, {});
  if (!config.ok()) {
    ADD_FAILURE() << config.status().message();
    throw std::runtime_error("the test's config does not load");
  }
  Result<Plan> plan = BuildPlan(std::move(config.value()));
  if (!plan.ok()) {
    ADD_FAILURE() << plan.status().message();
    throw std::runtime_error("the test's config does not plan");
  }
  return std::move(plan.value());
}

}  // namespace logpipe::testing
