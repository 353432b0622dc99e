#include "pipeline/shard_cli.h"

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "pipeline/run_interrupt.h"
#include "pipeline/shard_job.h"

namespace logpipe {
namespace {

namespace po = boost::program_options;

constexpr char kExitCodes[] =
    "\nExit codes as logpipe's (see logpipe --help); a changed input or "
    "config, and a "
    "foreign, duplicate, missing or corrupt part, are 65.\n";

po::options_description Describe(const std::string& command) {
  if (command == "plan") {
    po::options_description desc(
        "Usage: logpipe plan --config run.yaml --shards N -o plan.json [--set "
        "K=V ...]\n\n"
        "Cuts the job's inputs into N shards for `logpipe map` tasks (one per "
        "shard, run by any\n"
        "scheduler) and `logpipe reduce`. Plain files are cut at line starts; "
        "a compressed file\n"
        "or URL goes whole to one shard. Writes the plan atomically; runs "
        "nothing.\n\nOptions");
    desc.add_options()("config,c", po::value<std::string>(), "the job's YAML config file")(
        "set", po::value<std::vector<std::string>>()->composing(),
        "override a config key, as for a normal run (map and reduce apply it "
        "too)")("shards,n", po::value<size_t>(), "how many shards (map tasks)")(
        "out,o", po::value<std::string>(), "the plan file to write")(
        "quiet,q", "print nothing but errors")("help,h", "print this help");
    return desc;
  }
  if (command == "map") {
    po::options_description desc(
        "Usage: logpipe map --plan plan.json --shard I -o part-I.lpp\n\n"
        "Runs shard I (0-based) of a plan with the config's execution models "
        "and writes its\n"
        "records, rejects, partial aggregates and counts to a part file, "
        "atomically. Runs in the\n"
        "directory plan ran in (a shared filesystem).\n\nOptions");
    desc.add_options()("plan,p", po::value<std::string>(), "the plan file (from logpipe plan)")(
        "shard,s", po::value<size_t>(), "the shard to run, 0 .. N-1")(
        "out,o", po::value<std::string>(), "the part file to write")(
        "quiet,q", "print nothing but errors")("help,h", "print this help");
    return desc;
  }
  po::options_description desc(
      "Usage: logpipe reduce --plan plan.json part-0.lpp part-1.lpp ...\n\n"
      "Checks that every shard's part is there once and intact and that no "
      "input changed, then\n"
      "merges them and writes the config's outputs, identical to a run of\n"
      "logpipe --config run.yaml on one machine.\n\nOptions");
  desc.add_options()("plan,p", po::value<std::string>(), "the plan file (from logpipe plan)")(
      "parts", po::value<std::vector<std::string>>()->composing(), "the part files")(
      "quiet,q", "print nothing but errors")("help,h", "print this help");
  return desc;
}

int Fail(const std::string& command, const Status& status) {
  std::cerr << "logpipe " << command << ": " << status.message() << "\n";
  return status.exit_code();
}

template <typename T>
bool Get(const po::variables_map& vm, const char* name, T* out) {
  if (!vm.count(name)) return false;
  *out = vm[name].as<T>();
  return true;
}

}  // namespace

bool IsShardCommand(std::string_view arg) {
  return arg == "plan" || arg == "map" || arg == "reduce";
}

int RunShardCli(int argc, char** argv) {
  const std::string command = argv[1];
  po::options_description desc = Describe(command);
  po::positional_options_description positional;
  if (command == "reduce") positional.add("parts", -1);
  po::variables_map vm;
  try {
    po::store(
        po::command_line_parser(argc - 1, argv + 1).options(desc).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return Fail(command,
                UsageError(std::string(e.what()) + " (see logpipe " + command + " --help)"));
  }
  if (vm.count("help")) {
    std::cout << desc << kExitCodes;
    return 0;
  }
  const bool quiet = vm.count("quiet") > 0;
  auto missing = [&](const char* what) {
    return Fail(command, UsageError(std::string("missing ") + what + " (see logpipe " + command +
                                    " --help)"));
  };
  InterruptGuard stop_on_signals;  // SIGINT/SIGTERM: exit 130/143, nothing written
  if (command == "plan") {
    PlanCommand plan;
    if (!Get(vm, "config", &plan.config)) return missing("--config run.yaml");
    if (!Get(vm, "shards", &plan.shards)) return missing("--shards N");
    if (!Get(vm, "out", &plan.out)) return missing("-o plan.json");
    Get(vm, "set", &plan.overrides);
    Result<PlanSummary> summary = RunPlan(plan);
    if (!summary.ok()) return Fail(command, summary.status());
    if (!quiet) {
      std::fprintf(stderr, "logpipe plan: %s: %zu input%s in %zu shards (%zu file%s cut)%s\n",
                   plan.out.c_str(), summary->inputs, summary->inputs == 1 ? "" : "s",
                   summary->shards, summary->cut_files, summary->cut_files == 1 ? "" : "s",
                   summary->counted_lines ? "; lines counted for line numbers" : "");
    }
    return 0;
  }
  std::string plan_path;
  if (!Get(vm, "plan", &plan_path)) return missing("--plan plan.json");
  if (command == "map") {
    size_t shard = 0;
    std::string out;
    if (!Get(vm, "shard", &shard)) return missing("--shard I");
    if (!Get(vm, "out", &out)) return missing("-o part-I.lpp");
    Result<RunStats> stats = RunMap(plan_path, shard, out);
    if (!stats.ok()) return Fail(command, stats.status());
    if (!quiet) {
      std::fprintf(stderr, "logpipe map: shard %zu: %llu lines (%.1f MB) -> %s\n", shard,
                   static_cast<unsigned long long>(stats->counters.lines),
                   stats->counters.bytes / 1e6, out.c_str());
    }
    return 0;
  }
  std::vector<std::string> parts;
  if (!Get(vm, "parts", &parts)) return missing("the part files");
  Result<ReduceSummary> summary = RunReduce(plan_path, parts);
  if (!summary.ok()) return Fail(command, summary.status());
  // A skipped input is something wrong even in a successful run: always say so.
  for (const SkippedInput& skipped : summary->stats.skipped_inputs) {
    std::fprintf(stderr, "logpipe: skipped %s: %s\n", skipped.input.c_str(), skipped.error.c_str());
  }
  if (!quiet) {
    const BatchCounters& c = summary->stats.counters;
    std::fprintf(stderr,
                 "logpipe reduce: %s: %zu parts, %llu lines (%.1f MB) from %zu "
                 "input%s: %llu "
                 "matched, %llu unparsed\n",
                 summary->job.c_str(), summary->parts, static_cast<unsigned long long>(c.lines),
                 c.bytes / 1e6, summary->inputs, summary->inputs == 1 ? "" : "s",
                 static_cast<unsigned long long>(c.matched),
                 static_cast<unsigned long long>(c.mismatched));
  }
  return 0;
}

}  // namespace logpipe
