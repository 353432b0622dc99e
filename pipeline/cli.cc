#include "pipeline/cli.h"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "pipeline/config_yaml.h"
#include "pipeline/job.h"
#include "pipeline/plan.h"
#include "pipeline/version.h"
#include "stages/pattern_library.h"

namespace logpipe {
namespace {

namespace po = boost::program_options;

struct CliOptions {
  std::string config;
  std::vector<std::string> overrides;
  bool dry_run = false;
  bool explain = false;
  bool patterns = false;
  bool quiet = false;
  bool version = false;
  bool help = false;
  RunOptions run;
};

po::options_description Describe() {
  po::options_description desc(
      "Usage: logpipe --config run.yaml [options]\n\n"
      "Runs the log job a YAML config describes: read inputs, parse each line, filter,\n"
      "aggregate, write reports and records. See README.md for the config reference.\n\n"
      "Options");
  desc.add_options()
      ("config,c", po::value<std::string>(), "the job's YAML config file")
      ("set", po::value<std::vector<std::string>>()->composing(),
       "override a config key: KEY.PATH=VALUE, e.g. --set stages.parse.on_mismatch=fail "
       "(repeatable; lists by 0-based index or stage type)")
      ("dry-run", "check the config and that every input opens; run nothing")
      ("explain", "print the physical plan (segments, captures, regex engine, outputs) and exit")
      ("patterns", "list the built-in parse patterns and their fields")
      ("quiet,q", "print nothing but errors (the default when stderr is not a terminal)")
      ("trace", po::value<std::string>(),
       "FILE: write the run's activity per worker as Chrome trace-event JSON (open it in "
       "Perfetto or chrome://tracing)")
      ("stats-json", po::value<std::string>(),
       "FILE: write the run's measurements (time busy, waiting and blocked per worker, CPU "
       "time, bytes) as JSON")
      ("version", "print the version")
      ("help,h", "print this help");
  return desc;
}

Status ParseArgs(int argc, char** argv, CliOptions* options) {
  po::positional_options_description positional;
  positional.add("config", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(Describe()).positional(positional).run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return UsageError(std::string(e.what()) + " (see logpipe --help)");
  }
  if (vm.count("config")) options->config = vm["config"].as<std::string>();
  if (vm.count("set")) options->overrides = vm["set"].as<std::vector<std::string>>();
  options->dry_run = vm.count("dry-run") > 0;
  options->explain = vm.count("explain") > 0;
  options->patterns = vm.count("patterns") > 0;
  options->quiet = vm.count("quiet") > 0;
  options->version = vm.count("version") > 0;
  options->help = vm.count("help") > 0;
  if (vm.count("trace")) options->run.trace_path = vm["trace"].as<std::string>();
  if (vm.count("stats-json")) options->run.stats_path = vm["stats-json"].as<std::string>();
  return Status::Ok();
}

void PrintPatterns() {
  for (const auto& p : BuiltinPatterns()) {
    std::cout << p.name << ": " << p.description << "\n  fields:";
    Result<std::vector<std::string>> groups = NamedGroups(p.regex);
    if (groups.ok()) {
      for (const auto& g : *groups) {
        std::cout << ' ' << g;
        for (const auto& t : p.default_types) {
          if (t.name == g) std::cout << ':' << FieldTypeName(t.type);
        }
      }
    }
    std::cout << "\n  example: " << p.example << "\n";
  }
}

int Fail(const Status& status) {
  std::cerr << "logpipe: " << status.message() << "\n";
  return status.exit_code();
}

}  // namespace

int RunCli(int argc, char** argv) {
  CliOptions options;
  Status parsed = ParseArgs(argc, argv, &options);
  if (!parsed.ok()) return Fail(parsed);
  if (options.help) {
    std::cout << Describe() << "\nExit codes: 0 ok, 64 usage, 65 bad input data, 66 missing "
                               "input, 69 download failed, 70 internal error, 73 cannot write output, 74 I/O "
                               "error, "
                               "78 bad config.\n";
    return 0;
  }
  if (options.version) {
    std::cout << "logpipe " << Version() << "\n";
    return 0;
  }
  if (options.patterns) {
    PrintPatterns();
    return 0;
  }
  if (options.config.empty()) {
    return Fail(UsageError("no config given; run logpipe --config run.yaml (see --help)"));
  }
  Result<Config> config = LoadConfigFile(options.config, options.overrides);
  if (!config.ok()) return Fail(config.status());
  Result<Plan> plan = BuildPlan(std::move(config.value()));
  if (!plan.ok()) return Fail(plan.status());
  if (options.explain) {
    std::cout << plan->Explain();
    return 0;
  }
  if (options.dry_run) {
    Result<std::string> summary = DryRun(*plan);
    if (!summary.ok()) return Fail(summary.status());
    if (!options.quiet) std::cerr << *summary;
    return 0;
  }
  Result<JobResult> result = RunJob(*plan, options.run);
  if (!result.ok()) return Fail(result.status());
  // A skipped input is something wrong even in a successful run: always say so (cron mails it).
  for (const SkippedInput& skipped : result->stats.skipped_inputs) {
    std::fprintf(stderr, "logpipe: skipped %s: %s\n", skipped.input.c_str(),
                 skipped.error.c_str());
  }
  if (!options.quiet && isatty(STDERR_FILENO)) {
    const BatchCounters& c = result->stats.counters;
    std::fprintf(stderr,
                 "logpipe: %s: %llu lines (%.1f MB) from %zu input%s in %.2f s: %llu matched, "
                 "%llu unparsed\n",
                 plan->config.name.c_str(), static_cast<unsigned long long>(c.lines),
                 c.bytes / 1e6, result->inputs.size(), result->inputs.size() == 1 ? "" : "s",
                 result->wall_seconds, static_cast<unsigned long long>(c.matched),
                 static_cast<unsigned long long>(c.mismatched));
  }
  return 0;
}

}  // namespace logpipe
