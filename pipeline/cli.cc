#include "pipeline/cli.h"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "io/lock_file.h"
#include "pipeline/compare.h"
#include "pipeline/config_yaml.h"
#include "pipeline/job.h"
#include "pipeline/metrics_file.h"
#include "pipeline/plan.h"
#include "pipeline/progress.h"
#include "pipeline/run_interrupt.h"
#include "pipeline/shard_cli.h"
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
  bool progress = false;
  bool version = false;
  bool help = false;
  RunOptions run;
  std::string metrics_path;      // --metrics-file
  std::string lock;              // --lock FILE
  std::string redirect_outputs;  // write every output into this directory instead
  // Comparison mode.
  std::vector<std::string> compare;       // config files, one variant each
  std::vector<std::string> compare_sets;  // KEY=V1,V2,... lists (cartesian product)
  int repeat = 5;
  int warmup = 1;
  std::string compare_out;
};

po::options_description Describe() {
  po::options_description desc(
      "Usage: logpipe --config run.yaml [options]\n"
      "       logpipe plan|map|reduce ... (one job as shards on a cluster; logpipe plan --help)\n\n"
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
      ("progress",
       "show the progress bar on stderr even when it is not a terminal (then a plain line "
       "every 5 s and one at the end); on a terminal it is shown anyway. --quiet wins")
      ("trace", po::value<std::string>(),
       "FILE: write the run's activity per worker as Chrome trace-event JSON (open it in "
       "Perfetto or chrome://tracing)")
      ("stats-json", po::value<std::string>(),
       "FILE: write the run's measurements (time busy, waiting and blocked per worker, CPU "
       "time, bytes) as JSON")
      ("metrics-file", po::value<std::string>(),
       "FILE.prom: write the run's metrics (counts, duration, success, exit code, last "
       "success time) in Prometheus text format, atomically, also when the run fails (for "
       "node_exporter's textfile collector)")
      ("lock", po::value<std::string>(),
       "FILE: take an exclusive lock on FILE (created if missing, never deleted) before the "
       "config is read, for the whole run; if another run holds it, exit 75 at once (for "
       "cron). Not with --compare")
      ("redirect-outputs", po::value<std::string>(),
       "DIR: write every output (reports, records, rejects, stdout ones too) into DIR instead "
       "of its configured path (the comparison mode runs its children so)")
      ("compare", po::value<std::vector<std::string>>()->multitoken()->composing(),
       "A.yaml B.yaml ...: comparison mode: run each config as a variant, alternating and "
       "repeated, check their outputs agree, and show which is fastest and why")
      ("compare-set", po::value<std::vector<std::string>>()->composing(),
       "KEY.PATH=V1,V2,...: comparison mode over --config: one variant per value (several "
       "--compare-set: their cartesian product), e.g. stages.parse.exec.model=serial,threads")
      ("repeat", po::value<int>(), "comparison mode: measured runs per variant (default 5)")
      ("warmup", po::value<int>(), "comparison mode: unmeasured rounds first (default 1)")
      ("compare-out", po::value<std::string>(),
       "DIR: comparison mode: also write compare.json, compare.csv, compare.html (charts) and "
       "one activity trace per variant (traces/) into DIR")
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
  options->progress = vm.count("progress") > 0;
  options->version = vm.count("version") > 0;
  options->help = vm.count("help") > 0;
  if (vm.count("trace")) options->run.trace_path = vm["trace"].as<std::string>();
  if (vm.count("stats-json")) options->run.stats_path = vm["stats-json"].as<std::string>();
  if (vm.count("metrics-file")) options->metrics_path = vm["metrics-file"].as<std::string>();
  if (vm.count("lock")) options->lock = vm["lock"].as<std::string>();
  if (vm.count("redirect-outputs")) {
    options->redirect_outputs = vm["redirect-outputs"].as<std::string>();
  }
  if (vm.count("compare")) options->compare = vm["compare"].as<std::vector<std::string>>();
  if (vm.count("compare-set")) {
    options->compare_sets = vm["compare-set"].as<std::vector<std::string>>();
  }
  if (vm.count("repeat")) options->repeat = vm["repeat"].as<int>();
  if (vm.count("warmup")) options->warmup = vm["warmup"].as<int>();
  if (vm.count("compare-out")) options->compare_out = vm["compare-out"].as<std::string>();
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

// --redirect-outputs: every output into `dir`, named by kind and position, so a run can be
// compared with another without touching the configured files.
void RedirectOutputs(const std::string& dir, Plan* plan) {
  for (size_t i = 0; i < plan->report_outputs.size(); ++i) {
    plan->report_outputs[i].path = dir + "/report-" + std::to_string(i + 1) + "." +
                                   plan->report_outputs[i].format;
  }
  for (size_t i = 0; i < plan->record_outputs.size(); ++i) {
    plan->record_outputs[i].spec.path = dir + "/records-" + std::to_string(i + 1) + "." +
                                        plan->record_outputs[i].spec.format;
  }
  if (!plan->rejects_path.empty()) plan->rejects_path = dir + "/rejects.txt";
  // An incremental job: a fresh state beside `dir` (not in it: it is not an output to compare),
  // so each compared run reads its inputs whole and the job's own state is never touched.
  if (!plan->config.state.empty()) plan->config.state = dir + ".state";
}

// Comparison mode: variants from --compare files and/or --compare-set lists.
int RunCompareMode(const CliOptions& options) {
  std::vector<std::string> configs = options.compare;
  if (configs.empty()) {
    if (options.config.empty()) {
      return Fail(UsageError("--compare-set needs --config run.yaml (the job to vary)"));
    }
    configs.push_back(options.config);
  } else if (!options.config.empty()) {
    return Fail(UsageError("give either --compare A.yaml B.yaml ... or --config with "
                           "--compare-set, not --config with --compare"));
  }
  CompareOptions compare;
  Status first_error;
  for (const auto& config : configs) {
    Result<std::vector<CompareVariant>> variants =
        VariantsFromSets(config, options.overrides, options.compare_sets);
    if (!variants.ok()) return Fail(variants.status());
    for (auto& v : *variants) {
      if (configs.size() > 1) {
        const std::string stem = std::filesystem::path(config).stem().string();
        v.name = options.compare_sets.empty() ? stem : stem + " " + v.name;
      }
      // Check each variant's config now: a typo fails before minutes of runs. A combination
      // that cannot run (model serial with workers 2) is left out, with a note.
      Result<Config> loaded = LoadConfigFile(v.config, v.sets);
      if (!loaded.ok()) return Fail(loaded.status());
      Result<Plan> plan = BuildPlan(std::move(loaded.value()));
      if (!plan.ok()) {
        if (first_error.ok()) first_error = plan.status();
        std::cerr << "logpipe: compare: leaving out '" << v.name
                  << "': " << plan.status().message() << "\n";
        continue;
      }
      compare.variants.push_back(std::move(v));
    }
  }
  if (compare.variants.empty()) return Fail(first_error);
  compare.repeat = options.repeat;
  compare.warmup = options.warmup;
  compare.out_dir = options.compare_out;
  compare.quiet = options.quiet;
  CompareResult result;
  Status status = RunComparison(compare, &result);
  if (!result.variants.empty()) std::cout << FormatCompareTable(result) << std::flush;
  if (!status.ok()) return Fail(status);
  if (!options.compare_out.empty() && !options.quiet) {
    std::cerr << "logpipe: wrote " << options.compare_out << "/compare.{json,csv,html} and "
              << options.compare_out << "/traces/\n";
  }
  return 0;
}

// The run's metrics from how far it got. `exit_code` 0 is success.
RunMetrics MetricsOf(const std::string& job, int exit_code, const JobProgress& progress,
                     const Plan* plan, std::chrono::steady_clock::time_point start) {
  RunMetrics m;
  m.job = job;
  m.exit_code = exit_code;
  m.duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m.timestamp_seconds = static_cast<int64_t>(std::time(nullptr));
  m.inputs = progress.inputs;
  m.has_counts = progress.read_all && plan != nullptr;
  if (m.has_counts) {
    const RunStats& s = progress.stats;
    const BatchCounters& c = s.counters;
    m.lines = c.lines + s.oversized_lines + c.dropped_lines;  // as the report's `lines`
    m.bytes = c.bytes;
    m.matched = c.matched;
    m.unparsed = c.mismatched;
    m.oversized = s.oversized_lines;
    if (plan->on_mismatch == OnMismatch::kReject && !plan->rejects_path.empty()) {
      m.rejected = c.mismatched + c.invalid_utf8 + s.oversized_lines;  // BatchRenderer::Reject
    }
    m.skipped_inputs = s.skipped_inputs.size();
    m.stage_busy_seconds = progress.stage_busy_seconds;
  }
  return m;
}

// Ends a run that writes --metrics-file: commits the metrics whatever `status` is, and
// returns the exit code. A metrics file that cannot be written fails an otherwise successful
// run with 73 (its outputs are in place); a failed run keeps its own exit code and only warns.
int FinishWithMetrics(MetricsFile* metrics, const std::string& job, const Status& status,
                      const JobProgress& progress, const Plan* plan,
                      std::chrono::steady_clock::time_point start) {
  if (!status.ok()) std::cerr << "logpipe: " << status.message() << "\n";
  if (metrics == nullptr) return status.exit_code();
  Status written = metrics->Commit(MetricsOf(job, status.exit_code(), progress, plan, start));
  if (written.ok()) return status.exit_code();
  if (status.ok()) {
    std::cerr << "logpipe: the run succeeded and wrote its outputs, but not its metrics file: "
              << written.message() << "\n";
    return written.exit_code();
  }
  std::cerr << "logpipe: warning: could not write the metrics file either: " << written.message()
            << "\n";
  return status.exit_code();
}

}  // namespace

int RunCli(int argc, char** argv) {
  if (argc >= 2 && IsShardCommand(argv[1])) return RunShardCli(argc, argv);
  const auto start = std::chrono::steady_clock::now();
  CliOptions options;
  Status parsed = ParseArgs(argc, argv, &options);
  if (!parsed.ok()) return Fail(parsed);
  if (options.help) {
    std::cout << Describe()
              << "\nExit codes: 0 ok, 64 usage, 65 bad input data, 66 missing input, 69 download "
                 "failed, 70 internal error, 73 cannot write output, 74 I/O error, 75 --lock held "
                 "by another run (try again later), 78 bad config, 130 interrupted (SIGINT), 143 "
                 "terminated (SIGTERM); 130 and 143 write no output.\n";
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
  const bool compare_mode = !options.compare.empty() || !options.compare_sets.empty();
  if (compare_mode && !options.lock.empty()) {
    return Fail(UsageError("--lock applies to a normal run, not to --compare"));
  }
  if (compare_mode && !options.metrics_path.empty()) {
    return Fail(UsageError("--metrics-file is for a single run, not comparison mode"));
  }
  if (compare_mode) return RunCompareMode(options);
  if (options.config.empty()) {
    return Fail(UsageError("no config given; run logpipe --config run.yaml (see --help)"));
  }
  // --lock: before anything is read, held until RunCli returns (the process exits).
  std::optional<LockFile> lock;
  if (!options.lock.empty()) {
    Result<LockFile> acquired = LockFile::Acquire(options.lock);
    if (!acquired.ok()) return Fail(acquired.status());
    lock.emplace(std::move(acquired.value()));
    SetFdToCloseInShards(lock->fd());  // a forked shard must not keep the lock
  }
  Result<Config> config = LoadConfigFile(options.config, options.overrides);
  // Without a config there is no job name to label metrics with: no metrics file.
  if (!config.ok()) return Fail(config.status());
  const std::string job = config->name;
  // --metrics-file: opened before any work (an unwritable path fails now, with 73) and
  // committed at the end of the run, whatever its outcome. --dry-run and --explain run nothing
  // and write no metrics.
  std::optional<MetricsFile> metrics;
  if (!options.metrics_path.empty() && !options.dry_run && !options.explain) {
    Result<MetricsFile> opened = MetricsFile::Open(options.metrics_path);
    if (!opened.ok()) return Fail(opened.status());
    metrics.emplace(std::move(opened.value()));
  }
  MetricsFile* metrics_ptr = metrics ? &*metrics : nullptr;
  JobProgress progress;
  Result<Plan> plan = BuildPlan(std::move(config.value()));
  if (!plan.ok()) {
    return FinishWithMetrics(metrics_ptr, job, plan.status(), progress, nullptr, start);
  }
  if (options.explain) {
    std::cout << plan->Explain();
    if (!plan->config.state.empty()) {  // what each input would read (pipeline/incremental.h)
      Result<std::string> incremental = DescribeIncremental(*plan);
      if (!incremental.ok()) return Fail(incremental.status());
      std::cout << *incremental;
    }
    return 0;
  }
  if (!options.redirect_outputs.empty()) RedirectOutputs(options.redirect_outputs, &plan.value());
  if (options.dry_run) {
    Result<std::string> summary = DryRun(*plan);
    if (!summary.ok()) return Fail(summary.status());
    if (!options.quiet) std::cerr << *summary;
    return 0;
  }
  Result<JobResult> result = [&] {
    InterruptGuard stop_on_signals;  // SIGINT/SIGTERM: exit 130/143, nothing written
    // The progress bar: on a terminal unless --quiet, or forced by --progress. Gone (its line
    // erased) before anything below prints.
    const bool tty = isatty(STDERR_FILENO) != 0;
    std::optional<ProgressMeter> meter;
    if (!options.quiet && (tty || options.progress)) {
      meter.emplace(STDERR_FILENO,
                    tty ? ProgressMeter::Mode::kRedraw : ProgressMeter::Mode::kLines);
    }
    Result<JobResult> run = RunJob(*plan, options.run, &progress);
    if (meter && run.ok()) meter->set_succeeded();
    return run;
  }();
  if (!result.ok()) {
    return FinishWithMetrics(metrics_ptr, job, result.status(), progress, &*plan, start);
  }
  if (!options.quiet) {
    for (const std::string& warning : result->warnings) {
      std::fprintf(stderr, "logpipe: warning: %s\n", warning.c_str());
    }
  }
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
  return FinishWithMetrics(metrics_ptr, job, Status::Ok(), progress, &*plan, start);
}

}  // namespace logpipe
