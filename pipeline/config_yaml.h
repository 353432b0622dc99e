#pragma once
// The YAML adapter: reads a job config file (YAML v1), applies --set overrides, and returns a
// Config. The only file that sees yaml-cpp; nothing it calls throws past it.
//
// Errors (kConfig, exit 78) name the file, line and column and say what was expected:
//   run.yaml:14:7: unknown key 'wokers' in exec (did you mean 'workers'? expected one of:
//   model, workers). Unknown keys are always errors. A missing config file is kNoInput (66).
// Overrides: "KEY.PATH=VALUE" where KEY.PATH walks maps by key and lists by 0-based index or,
// for `stages`, by stage type (stages.parse.exec.model=serial picks the first parse stage).
// VALUE is read as YAML (so 4, true, [a, b] keep their types). Missing map keys are created.
// Thread-safety: no shared state.

#include <string>
#include <vector>

#include "io/status.h"
#include "pipeline/config.h"

namespace logpipe {

Result<Config> LoadConfigFile(const std::string& path, const std::vector<std::string>& overrides);
// For tests: `name` is used in messages as the file name.
Result<Config> LoadConfigString(const std::string& yaml, const std::string& name,
                                const std::vector<std::string>& overrides);

// "4MiB", "512KiB", "1M", "1G", "65536" -> bytes. False if not a size.
bool ParseByteSize(const std::string& text, uint64_t* bytes);

}  // namespace logpipe
