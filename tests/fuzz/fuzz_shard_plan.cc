// Fuzz target: the plan file of `logpipe plan / map / reduce` (pipeline/shard_plan.h). Every
// map task and the reduce read it, possibly after it was copied or edited by hand: arbitrary
// bytes through DecodeShardPlan must come back decoded or as kDataError naming the file, never
// crash; what decodes must encode and decode again to the same text.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pipeline/shard_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  logpipe::Result<logpipe::ShardPlan> plan = logpipe::DecodeShardPlan(bytes, "fuzz.plan");
  if (!plan.ok()) {
    if (plan.status().code() != logpipe::StatusCode::kDataError ||
        plan.status().message().find("fuzz.plan") == std::string::npos) {
      __builtin_trap();
    }
    return 0;
  }
  const std::string encoded = logpipe::EncodeShardPlan(*plan);
  logpipe::Result<logpipe::ShardPlan> again = logpipe::DecodeShardPlan(encoded, "fuzz.plan");
  if (!again.ok() || logpipe::EncodeShardPlan(*again) != encoded) __builtin_trap();
  return 0;
}
