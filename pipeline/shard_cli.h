#pragma once
// The command lines of `logpipe plan`, `logpipe map` and `logpipe reduce`
// (pipeline/shard_job.h), with the same output discipline as the main command
// (pipeline/cli.h): stdout only for what was asked for, errors on stderr as
// "logpipe <command>: ...", a short summary on stderr unless --quiet. Returns
// the process exit code.

#include <string_view>

namespace logpipe {

// Whether `arg` (argv[1]) names one of these commands.
bool IsShardCommand(std::string_view arg);

// argv[1] is the command.
int RunShardCli(int argc, char** argv);

}  // namespace logpipe
