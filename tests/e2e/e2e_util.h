#pragma once
// Helpers shared by the end-to-end tests: write a config into a TempDir, run logpipe on it, and
// read the JSON report it wrote.

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

namespace logpipe::testing {

// Writes `yaml` as dir/run.yaml and runs `logpipe --config dir/run.yaml extra...`.
inline CommandResult RunConfig(const TempDir& dir, const std::string& yaml,
                               const std::vector<std::string>& extra = {}) {
  std::string config = dir.Write("run.yaml", yaml);
  std::vector<std::string> args = {"--config", config};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunLogpipe(args);
}

inline nlohmann::json ReadJson(const std::string& path) {
  return nlohmann::json::parse(ReadFile(path));
}

// The reference job's config: per status count and byte sum, top 10 paths; JSON report.
inline std::string StatusJobYaml(const std::string& input, const std::string& report,
                                 const std::string& extra_parse = "") {
  return "version: 1\nname: status\ninputs:\n  - path: \"" + input +
         "\"\nstages:\n  - type: parse\n    pattern: combined\n    fields: {status: int, bytes: int}\n" +
         extra_parse +
         "  - type: aggregate\n    group_by: [status]\n    metrics: {hits: count, bytes: sum(bytes)}\n"
         "outputs:\n  - {path: \"" + report + "\", format: json}\n";
}

}  // namespace logpipe::testing
