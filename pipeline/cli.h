#pragma once
// The command line: parses arguments (Boost.Program_options, caught here), loads the config,
// builds the plan and runs, explains or dry-runs it. Returns the process exit code.
//
// Output discipline for cron: stdout carries only what the user asked for (a report to "-",
// --explain, --help); stderr carries errors, one line each ("logpipe: run.yaml:3:5: ..."),
// and a progress bar and a one-line run summary only when stderr is a terminal and --quiet is
// not given (--progress forces the progress lines onto a non-terminal; pipeline/progress.h).

namespace logpipe {

int RunCli(int argc, char** argv);

}  // namespace logpipe
