// End-to-end: the comparison mode runs real children, counts the CPU time of forked shards,
// reports speedups that are the ratios of its own measured times, flags a variant whose output
// differs and one that fails, and writes valid JSON, CSV, HTML and trace files.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "tests/e2e/e2e_util.h"

namespace logpipe::testing {
namespace {

namespace fs = std::filesystem;

double MedianOf(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  const size_t n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

std::string Job(const TempDir& dir, const std::string& name, const std::string& filter = "") {
  return dir.Write(name + ".yaml",
                   "version: 1\nname: cmp\ninputs:\n  - path: \"" +
                       SourcePath("data/sample/apache_combined.log") +
                       "\"\nread: {chunk_bytes: 256KiB}\nstages:\n  - type: parse\n"
                       "    pattern: combined\n    fields: {status: int, bytes: int}\n" + filter +
                       "  - type: aggregate\n    group_by: [status]\n"
                       "    metrics:\n      hits: count\n      bytes: sum(bytes)\n"
                       "      top: top(path, 5)\n"
                       "outputs:\n  - {path: \"" + dir.path() + "/configured/report.json\", "
                       "format: json}\n"
                       "  - {path: \"-\", format: table}\n");
}

TEST(CompareMode, MeasuresEveryVariantAndSpeedupsAreTheirOwnRatios) {
  TempDir dir;
  const std::string out = dir.path() + "/cmp";
  CommandResult r = RunLogpipe({"--config", Job(dir, "job"), "--compare-set",
                                "stages.parse.exec.model=serial,threads,processes",
                                "--compare-set", "stages.parse.exec.workers=1,2", "--repeat", "3",
                                "--warmup", "0", "--compare-out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  // serial x2 cannot run: left out with a note; the other five ran.
  EXPECT_NE(r.err.find("leaving out 'model=serial workers=2'"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("model=processes workers=2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Fastest: "), std::string::npos) << r.out;
  // The configured outputs were never written: the children wrote into private directories.
  EXPECT_FALSE(fs::exists(dir.path() + "/configured/report.json"));

  nlohmann::json j = ReadJson(out + "/compare.json");
  ASSERT_EQ(j["variants"].size(), 5u);
  EXPECT_TRUE(j["ok"].get<bool>());
  const auto& base = j["variants"][0];
  for (const auto& v : j["variants"]) {
    SCOPED_TRACE(v["name"].get<std::string>());
    ASSERT_EQ(v["runs"].size(), 3u);
    std::vector<double> walls, ratios;
    for (size_t i = 0; i < 3; ++i) {
      const double wall = v["runs"][i]["wall_s"];
      walls.push_back(wall);
      ratios.push_back(base["runs"][i]["wall_s"].get<double>() / wall);
      EXPECT_EQ(v["runs"][i]["digest"], base["runs"][0]["digest"]);  // same outputs
    }
    EXPECT_NEAR(v["wall_median_s"].get<double>(), MedianOf(walls), 1e-9);
    EXPECT_NEAR(v["speedup"].get<double>(), MedianOf(ratios), 1e-9);
    EXPECT_NEAR(v["efficiency"].get<double>(),
                v["speedup"].get<double>() * base["workers"].get<int>() / v["workers"].get<int>(),
                1e-9);
    EXPECT_EQ(v["bytes"], 2370789);
    EXPECT_EQ(v["lines"], 10000);
  }

  // Shards' CPU time is counted in the variant's CPU time: the parent reaps them, and wait4
  // reports the child with its reaped descendants.
  const auto& procs = j["variants"][4];
  ASSERT_EQ(procs["model"], "processes");
  ASSERT_TRUE(procs.contains("processes"));
  EXPECT_GT(procs["processes"]["partial_bytes"].get<double>(), 0);
  double shard_cpu = 0;
  for (const auto& st : procs["stages"]) {
    if (st["role"].get<std::string>().find("parse") != std::string::npos) {
      EXPECT_EQ(st["tracks"], 2);
      shard_cpu = st["cpu_s"];
    }
  }
  const auto& last = procs["runs"][2];
  EXPECT_GT(shard_cpu, 0);
  EXPECT_GE(last["user_s"].get<double>() + last["sys_s"].get<double>() + 0.02, shard_cpu);

  // CSV: a header and one row per variant. HTML and one valid trace per variant.
  const std::string csv = ReadFile(out + "/compare.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 6);
  const std::string html = ReadFile(out + "/compare.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  int traces = 0;
  for (const auto& entry : fs::directory_iterator(out + "/traces")) {
    nlohmann::json t = ReadJson(entry.path().string());
    EXPECT_GT(t["traceEvents"].size(), 3u) << entry.path();
    ++traces;
  }
  EXPECT_EQ(traces, 5);
}

TEST(CompareMode, AVariantWithADifferentOutputFailsTheComparison) {
  TempDir dir;
  CommandResult r = RunLogpipe(
      {"--compare", Job(dir, "all"),
       Job(dir, "only_get", "  - type: filter\n    where: method == \"GET\"\n"), "--repeat", "1",
       "--warmup", "0", "--compare-out", dir.path() + "/cmp"});
  EXPECT_EQ(r.exit_code, 70) << r.err;
  EXPECT_NE(r.err.find("only_get: output differs from all's: report-1.json"), std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("OUTPUT DIFFERS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("only_get (output differs)"), std::string::npos) << r.out;
  nlohmann::json j = ReadJson(dir.path() + "/cmp/compare.json");
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_TRUE(j["variants"][1]["output_differs"].get<bool>());
}

TEST(CompareMode, AFailingVariantIsReportedAndNeverRecommended) {
  TempDir dir;
  const std::string job = Job(dir, "job");
  // Make every shard that gets chunk 0 die: the processes variant fails, serial does not.
  setenv("LOGPIPE_TEST_KILL_SHARD", "0:always", 1);
  CommandResult r = RunLogpipe({"--config", job, "--compare-set",
                                "stages.parse.exec.model=serial,processes", "--repeat", "1",
                                "--warmup", "0"});
  unsetenv("LOGPIPE_TEST_KILL_SHARD");
  EXPECT_EQ(r.exit_code, 70) << r.err;
  EXPECT_NE(r.out.find("FAILED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model=processes (failed)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("model=processes: exit 70"), std::string::npos) << r.err;
}

TEST(CompareMode, UsageErrors) {
  TempDir dir;
  CommandResult r = RunLogpipe({"--compare-set", "stages.parse.exec.model=serial,threads"});
  EXPECT_EQ(r.exit_code, 64) << r.err;
  EXPECT_NE(r.err.find("needs --config"), std::string::npos) << r.err;
  r = RunLogpipe({"--config", Job(dir, "job"), "--compare-set", "stages.parse.exec.model"});
  EXPECT_EQ(r.exit_code, 64) << r.err;
  r = RunLogpipe({"--config", Job(dir, "job"), "--compare-set",
                  "stages.parse.exec.model=serial,gpu"});
  EXPECT_EQ(r.exit_code, 78) << r.err;  // no variant can run: the config error, named
  EXPECT_NE(r.err.find("gpu"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace logpipe::testing
