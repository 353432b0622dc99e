// End-to-end tests of `logpipe plan / map / reduce` (pipeline/shard_job.h): the
// real binary on real configs and bundled data. The reference answer is the
// same config run on one machine
// (`logpipe --config`), whose own answers the other e2e tests check
// independently; here every output file must be byte-identical to it, for every
// shard count and execution model. Then each way reduce must refuse parts and
// inputs.

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace logpipe::testing {
namespace {

namespace fs = std::filesystem;

// Every regular file under `dir/out`, by name, with its bytes.
std::map<std::string, std::string> Outputs(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir + "/out")) {
    if (e.is_regular_file()) out[e.path().filename().string()] = ReadFile(e.path().string());
  }
  return out;
}

CommandResult Logpipe(const std::vector<std::string>& args, const std::string& cwd) {
  std::vector<std::string> argv = {LOGPIPE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, "", cwd);
}

// A job directory: run.yaml and the inputs in it, outputs into out/ (relative
// paths: plan records its directory, map and reduce run there).
class Job {
 public:
  explicit Job(const std::string& yaml) { config_ = dir_.Write("run.yaml", yaml); }
  const TempDir& dir() const { return dir_; }
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }

  // The single-machine outputs.
  std::map<std::string, std::string> RunSingle(const std::vector<std::string>& sets = {}) {
    fs::remove_all(path("out"));
    fs::create_directories(path("out"));
    std::vector<std::string> args = {"--config", "run.yaml"};
    for (const auto& s : sets) args.insert(args.end(), {"--set", s});
    CommandResult r = Logpipe(args, dir_.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Outputs(dir_.path());
  }

  CommandResult Plan(size_t shards, const std::vector<std::string>& sets = {},
                     const std::string& plan = "plan.json") {
    std::vector<std::string> args = {
        "plan", "--config", "run.yaml", "--shards", std::to_string(shards), "-o", plan};
    for (const auto& s : sets) args.insert(args.end(), {"--set", s});
    return Logpipe(args, dir_.path());
  }

  // map from another working directory (the source tree), with absolute paths.
  CommandResult Map(size_t shard, const std::string& plan = "plan.json",
                    const std::string& part_prefix = "part-") {
    return RunLogpipe({"map", "--plan", path(plan), "--shard", std::to_string(shard), "-o",
                       path(part_prefix + std::to_string(shard) + ".lpp")});
  }

  CommandResult Reduce(const std::vector<std::string>& parts,
                       const std::string& plan = "plan.json") {
    std::vector<std::string> args = {"reduce", "--plan", path(plan)};
    for (const auto& p : parts) args.push_back(path(p));
    return RunLogpipe(args);
  }

  static std::vector<std::string> Parts(size_t shards) {
    std::vector<std::string> parts;
    for (size_t s = 0; s < shards; ++s) parts.push_back("part-" + std::to_string(s) + ".lpp");
    return parts;
  }

  // plan -> every map -> reduce; returns the outputs (empty on failure).
  std::map<std::string, std::string> RunSharded(size_t shards,
                                                const std::vector<std::string>& sets = {}) {
    fs::remove_all(path("out"));
    fs::create_directories(path("out"));
    CommandResult plan = Plan(shards, sets);
    EXPECT_EQ(plan.exit_code, 0) << plan.err;
    for (size_t s = 0; s < shards; ++s) {
      CommandResult map = Map(s);
      EXPECT_EQ(map.exit_code, 0) << "shard " << s << ": " << map.err;
    }
    CommandResult reduce = Reduce(Parts(shards));
    EXPECT_EQ(reduce.exit_code, 0) << reduce.err;
    return Outputs(dir_.path());
  }

 private:
  TempDir dir_;
  std::string config_;
};

std::string Sample(const std::string& name) { return SourcePath("data/sample/" + name); }

// The Apache sample cut into three files (cut mid-file, the last without a
// final newline), one of them also gzipped, and an empty file: plain,
// compressed and empty inputs in one job.
void WriteApacheInputs(const Job& job) {
  const std::string all = ReadFile(Sample("apache_combined.log"));
  const size_t a = all.find('\n', all.size() / 3) + 1;
  const size_t b = all.find('\n', 2 * all.size() / 3) + 1;
  job.dir().Write("logs/a.log", all.substr(0, a));
  job.dir().Write("logs/b.log", all.substr(a, b - a));
  job.dir().Write("logs/c.log", all.substr(b, all.size() - b - 1));  // no final '\n'
  job.dir().Write("logs/d.log", "");
  job.dir().Write("logs/e.log", all.substr(a, b - a));
  ASSERT_EQ(std::system(("gzip -n " + job.path("logs/e.log")).c_str()), 0);
}

// Every metric kind, a filter, records in JSON lines and CSV, a JSON and a CSV
// report.
const char kApacheJob[] = R"(version: 1
name: sharded
inputs:
  - path: logs
stages:
  - type: parse
    pattern: combined
    fields: {status: int, bytes: int}
  - type: filter
    where: method != "POST"
  - type: aggregate
    name: by_status
    group_by: [status]
    metrics:
      hits: count
      bytes: sum(bytes)
      biggest: max(bytes)
      smallest: min(bytes)
      mean: avg(bytes)
      clients: distinct(ip)
      clients_approx: distinct_approx(ip)
      top_paths: top(path, 3)
      p50: p50(bytes)
      p99_approx: p99_approx(bytes)
  - type: aggregate
    name: overall
    metrics: {hits: count, paths: distinct(path)}
outputs:
  - {path: out/report.json, format: json}
  - {path: out/report.csv, format: csv, table: by_status}
  - {kind: records, path: out/records.jsonl, fields: [ip, path, status]}
  - {kind: records, path: out/records.csv, format: csv, fields: [status, bytes]}
)";

TEST(Shard, OutputsAreIdenticalToOneMachineForEveryShardCountAndModel) {
  Job job(kApacheJob);
  WriteApacheInputs(job);
  const auto single = job.RunSingle();
  ASSERT_EQ(single.size(), 4u);
  ASSERT_NE(single.at("records.jsonl").size(), 0u);
  for (const std::string model : {"serial", "threads", "processes"}) {
    const std::vector<std::string> sets = {
        "stages.parse.exec.model=" + model,
        "stages.parse.exec.workers=" + std::string(model == "serial" ? "1" : "2")};
    for (size_t shards : {1, 2, 3, 7, 40}) {  // 40: more shards than some files have cuts
      SCOPED_TRACE(model + " x " + std::to_string(shards) + " shards");
      EXPECT_EQ(job.RunSharded(shards, sets), single);
    }
  }
}

// Line numbers shown (records _line, a rejects file): plan counts each cut
// file's lines.
TEST(Shard, LineNumbersAndRejectsAreThoseOfOneMachine) {
  Job job(R"(version: 1
name: numbered
inputs:
  - path: logs
read: {chunk_bytes: 4KiB}
stages:
  - type: parse
    pattern: combined
    fields: {status: int}
    on_mismatch: reject
    rejects: out/rejects.txt
outputs:
  - {path: out/report.json, format: json}
  - {kind: records, path: out/records.jsonl, fields: [status], line_numbers: true}
)");
  WriteApacheInputs(job);
  // Lines that do not parse, spread through a file, so every shard has some
  // rejects.
  std::string bad;
  for (int i = 0; i < 300; ++i) bad += i % 3 == 0 ? "not an access log line\n" : "x - - [\n";
  job.dir().Write("logs/f.log", bad);
  const auto single = job.RunSingle();
  ASSERT_NE(single.at("rejects.txt").size(), 0u);
  for (size_t shards : {2, 5, 11}) {
    SCOPED_TRACE(std::to_string(shards) + " shards");
    EXPECT_EQ(job.RunSharded(shards), single);
  }
  const std::string plan = ReadFile(job.path("plan.json"));
  EXPECT_NE(plan.find("\"line_numbers\": true"), std::string::npos);
}

// Multi-line events: cuts only before a line that starts an event, so no event
// is split.
TEST(Shard, MultiLineEventsAreNeverSplit) {
  const std::string yaml = R"(version: 1
name: laravel
inputs:
  - path: laravel.log
stages:
  - type: parse
    regex: '\[(?P<ts>[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8})\] (?P<env>[^ .]+)\.(?P<level>[A-Z]+): (?P<message>[^\n{]*)(?s:.*?)(?:\{"exception":"\[object\] \((?P<exception>[^(]+)\(code: (?P<code>-?[0-9]+)\)(?s:.*))?'
    fields: {code: int}
    multiline:
      start: '^\[[0-9]{4}-[0-9]{2}-[0-9]{2} '
      max_lines: 50
  - type: aggregate
    group_by: [level, exception]
    metrics: {events: count, lines: sum(event_lines)}
outputs:
  - {path: out/report.json, format: json}
  - {kind: records, path: out/events.jsonl, fields: [level, exception, event_lines]}
)";
  Job job(yaml);
  job.dir().Write("laravel.log", ReadFile(Sample("laravel.log")));
  const auto single = job.RunSingle();
  for (size_t shards : {2, 4, 9, 25}) {
    SCOPED_TRACE(std::to_string(shards) + " shards");
    EXPECT_EQ(job.RunSharded(shards), single);
  }
}

class ShardRefusals : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteApacheInputs(job_);
    fs::create_directories(job_.path("out"));
    ASSERT_EQ(job_.Plan(3).exit_code, 0);
    for (size_t s = 0; s < 3; ++s) ASSERT_EQ(job_.Map(s).exit_code, 0);
  }
  // A refused reduce writes nothing.
  void ExpectRefused(const CommandResult& r, const std::string& message, int exit_code = 65) {
    EXPECT_EQ(r.exit_code, exit_code) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_TRUE(fs::is_empty(job_.path("out"))) << "a refused reduce wrote an output";
  }
  Job job_{kApacheJob};
};

TEST_F(ShardRefusals, MissingPart) {
  ExpectRefused(job_.Reduce({"part-0.lpp", "part-2.lpp"}), "missing the part of shard 1 of 3");
}

TEST_F(ShardRefusals, DuplicatePart) {
  fs::copy_file(job_.path("part-1.lpp"), job_.path("copy.lpp"));
  ExpectRefused(job_.Reduce({"part-0.lpp", "part-1.lpp", "copy.lpp", "part-2.lpp"}),
                "are both shard 1");
}

TEST_F(ShardRefusals, PartOfAnotherPlan) {
  ASSERT_EQ(job_.Plan(3, {"stages.filter.where=method == \"GET\""}, "other.json").exit_code, 0);
  ASSERT_EQ(job_.Map(1, "other.json", "other-").exit_code, 0);
  ExpectRefused(job_.Reduce({"part-0.lpp", "other-1.lpp", "part-2.lpp"}), "a part of another plan");
}

TEST_F(ShardRefusals, CorruptFrameByte) {
  std::string bytes = ReadFile(job_.path("part-1.lpp"));
  bytes[bytes.size() / 2] ^= 0x20;
  job_.dir().Write("part-1.lpp", bytes);
  ExpectRefused(job_.Reduce(Job::Parts(3)), "checksum mismatch");
}

TEST_F(ShardRefusals, TruncatedPart) {
  std::string bytes = ReadFile(job_.path("part-2.lpp"));
  job_.dir().Write("part-2.lpp", bytes.substr(0, bytes.size() - 100));
  ExpectRefused(job_.Reduce(Job::Parts(3)), "part-2.lpp: not a usable logpipe part file");
}

TEST_F(ShardRefusals, NotAPart) {
  job_.dir().Write("part-0.lpp", "hello\n");
  ExpectRefused(job_.Reduce(Job::Parts(3)), "part-0.lpp: not a usable logpipe part file");
}

TEST_F(ShardRefusals, InputChangedSincePlanning) {
  std::ofstream(job_.path("logs/b.log"), std::ios::app) << "1.2.3.4 - - appended\n";
  ExpectRefused(job_.Reduce(Job::Parts(3)), "logs/b.log: changed since it was planned");
  CommandResult map = job_.Map(1);
  EXPECT_EQ(map.exit_code, 65);
  EXPECT_NE(map.err.find("run logpipe plan again"), std::string::npos) << map.err;
}

TEST_F(ShardRefusals, ConfigChangedSincePlanning) {
  std::ofstream(job_.path("run.yaml"), std::ios::app) << "# edited\n";
  ExpectRefused(job_.Reduce(Job::Parts(3)), "run.yaml: changed since");
}

TEST_F(ShardRefusals, KilledMapLeavesNoPartAndARerunCompletesTheJob) {
  fs::remove(job_.path("part-1.lpp"));
  CommandResult killed =
      RunCommand({"/usr/bin/env", "LOGPIPE_TEST_CRASH_AT=map-before-commit", LOGPIPE_BINARY, "map",
                  "--plan", job_.path("plan.json"), "--shard", "1", "-o", job_.path("part-1.lpp")});
  EXPECT_EQ(killed.exit_code, 128 + SIGKILL);
  EXPECT_FALSE(fs::exists(job_.path("part-1.lpp")));
  ExpectRefused(job_.Reduce(Job::Parts(3)), "part-1.lpp: cannot open part file", 66);
  ASSERT_EQ(job_.Map(1).exit_code, 0);
  EXPECT_EQ(job_.Reduce(Job::Parts(3)).exit_code, 0);
  // No temp file of the killed task is left beside the part... except the
  // killed one's own, which SIGKILL gives no chance to remove: it is hidden (a
  // dot file) and never a part.
  for (const auto& e : fs::directory_iterator(job_.dir().path())) {
    const std::string name = e.path().filename().string();
    if (name.size() > 4 && name.substr(name.size() - 4) == ".lpp") {
      EXPECT_NE(name.find("part-"), std::string::npos) << name;
    }
  }
}

TEST(ShardUsage, BadCommandLines) {
  Job job(kApacheJob);
  WriteApacheInputs(job);
  CommandResult no_shards =
      Logpipe({"plan", "--config", "run.yaml", "-o", "p.json"}, job.dir().path());
  EXPECT_EQ(no_shards.exit_code, 64);
  EXPECT_NE(no_shards.err.find("missing --shards N"), std::string::npos) << no_shards.err;
  ASSERT_EQ(job.Plan(2).exit_code, 0);
  CommandResult bad_shard = job.Map(2);
  EXPECT_EQ(bad_shard.exit_code, 64);
  EXPECT_NE(bad_shard.err.find("has shards 0..1"), std::string::npos) << bad_shard.err;
  job.dir().Write("stdin.yaml",
                  std::string(kApacheJob)
                      .replace(std::string(kApacheJob).find("path: logs"), 10, "path: \"-\""));
  CommandResult stdin_plan = Logpipe(
      {"plan", "--config", "stdin.yaml", "--shards", "2", "-o", "p.json"}, job.dir().path());
  EXPECT_EQ(stdin_plan.exit_code, 64) << stdin_plan.err;
  EXPECT_NE(stdin_plan.err.find("cannot shard standard input"), std::string::npos)
      << stdin_plan.err;
  CommandResult help = RunLogpipe({"reduce", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Usage: logpipe reduce"), std::string::npos);
}

}  // namespace
}  // namespace logpipe::testing
