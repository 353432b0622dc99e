#pragma once
// A Plan built once from a fixed job (combined access log, typed fields, one aggregate of every
// metric kind), shared by the fuzz targets that need a schema or aggregate objects, and a chunk
// of a few access-log lines. Built at first use; aborts if the fixed config stops loading (a
// bug in the fixture, not a finding).

#include <cstdlib>
#include <cstring>
#include <string>

#include "io/chunk.h"
#include "pipeline/config_yaml.h"
#include "pipeline/plan.h"

namespace logpipe::fuzz {

struct Fixture {
  Plan plan;
  Chunk chunk;  // kFixtureLines
};

inline const char kFixtureLines[] =
    "1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET /a HTTP/1.1\" 200 100 \"-\" \"ua\"\n"
    "5.6.7.8 - - [17/May/2015:10:05:04 +0000] \"POST /b?x=1 HTTP/1.1\" 404 7 \"-\" \"curl\" 0.25\n"
    "9.9.9.9 - bob [17/May/2015:11:00:00 +0000] \"HEAD / HTTP/1.0\" 503 - \"ref\" \"-\"\n"
    "not an access log line at all\n";

// A chunk holding `lines` (complete lines, each ending in '\n').
inline Chunk ChunkOf(const std::string& lines) {
  Chunk chunk;
  chunk.Reserve(lines.size());
  std::memcpy(chunk.mutable_data(), lines.data(), lines.size());
  chunk.set_size(lines.size());
  return chunk;
}

inline Fixture* MakeFixture() {
  const std::string yaml =
      "version: 1\ninputs: [x.log]\nstages:\n"
      "  - type: parse\n    pattern: combined\n"
      "  - type: aggregate\n    group_by: [status, hour(ts)]\n"
      "    metrics:\n      hits: count\n      b: sum(bytes)\n      ips: distinct(ip)\n"
      "      tp: top(path, 2)\n      p: p50(bytes)\n      lo: min(bytes)\n"
      "      hi: max(request_time)\n      t: p99(ts)\n";
  Result<Config> config = LoadConfigString(yaml, "fixture.yaml", {});
  if (!config.ok()) std::abort();
  Result<Plan> plan = BuildPlan(std::move(config.value()));
  if (!plan.ok()) std::abort();
  return new Fixture{std::move(plan.value()), ChunkOf(kFixtureLines)};
}

}  // namespace logpipe::fuzz
