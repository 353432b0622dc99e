#pragma once
// Runs the real logpipe binary (or any program) for end-to-end tests and captures its exit
// code, stdout and stderr. Optional stdin bytes.

#include <string>
#include <vector>

namespace logpipe::testing {

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_bytes = "",
                         const std::string& cwd = "");

// RunCommand({LOGPIPE_BINARY, args...}) with the source tree as working directory.
CommandResult RunLogpipe(const std::vector<std::string>& args, const std::string& stdin_bytes = "");

}  // namespace logpipe::testing
