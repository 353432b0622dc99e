// Fuzz target: the config loader. Arbitrary text as a job's YAML -> LoadConfigString -> BuildPlan
// -> Explain. Bad text must come back as a Status (kConfig, with file:line:column), never crash,
// hang or throw past the adapter.

#include <cstddef>
#include <cstdint>
#include <string>

#include "pipeline/config_yaml.h"
#include "pipeline/plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  logpipe::Result<logpipe::Config> config = logpipe::LoadConfigString(yaml, "fuzz.yaml", {});
  if (!config.ok()) {
    if (config.status().message().empty()) __builtin_trap();  // every error says something
    return 0;
  }
  logpipe::Result<logpipe::Plan> plan = logpipe::BuildPlan(std::move(config.value()));
  if (!plan.ok()) {
    if (plan.status().message().empty()) __builtin_trap();
    return 0;
  }
  (void)plan->Explain();
  return 0;
}
