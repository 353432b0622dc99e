// End-to-end: --metrics-file (Prometheus textfile metrics, failed runs too) and the parse
// stage's max_reject_ratio.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "tests/e2e/e2e_util.h"

namespace logpipe::testing {
namespace {

namespace fs = std::filesystem;

const char kGood[] =
    "1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET /a HTTP/1.1\" 200 100 \"-\" \"ua\"\n";
const char kBad[] = "this is not an access log line\n";

// Samples of a metrics file: "name{labels}" -> value text. Fails the test on a line that is
// neither a comment nor `name{labels} value`, or a metric without exactly one HELP and TYPE.
std::map<std::string, std::string> Samples(const std::string& text) {
  std::map<std::string, std::string> samples;
  std::map<std::string, int> help, type;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      ++help[line.substr(7, line.find(' ', 7) - 7)];
    } else if (line.rfind("# TYPE ", 0) == 0) {
      ++type[line.substr(7, line.find(' ', 7) - 7)];
    } else {
      const size_t space = line.rfind(' ');
      EXPECT_NE(space, std::string::npos) << line;
      EXPECT_NE(line.find('{'), std::string::npos) << line;
      if (space == std::string::npos) continue;
      samples[line.substr(0, space)] = line.substr(space + 1);
      const std::string name = line.substr(0, line.find('{'));
      EXPECT_EQ(help[name], 1) << name;
      EXPECT_EQ(type[name], 1) << name;
    }
  }
  return samples;
}

std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(Metrics, SuccessfulRunWritesTotalsAndLastSuccess) {
  TempDir dir;
  const std::string input = SourcePath("data/sample/apache_combined.log");
  const std::string prom = dir.path() + "/textfile/logpipe_status.prom";
  CommandResult r =
      RunConfig(dir, StatusJobYaml(input, dir.path() + "/report.json"), {"--metrics-file", prom});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  std::map<std::string, std::string> s = Samples(ReadFile(prom));
  // README: combined matches 9,999 of the 10,000 lines of apache_combined.log.
  EXPECT_EQ(s["logpipe_lines_total{job=\"status\"}"], "10000");
  EXPECT_EQ(s["logpipe_matched_total{job=\"status\"}"], "9999");
  EXPECT_EQ(s["logpipe_unparsed_total{job=\"status\"}"], "1");
  EXPECT_EQ(s["logpipe_rejected_total{job=\"status\"}"], "0");  // on_mismatch: count
  EXPECT_EQ(s["logpipe_oversized_total{job=\"status\"}"], "0");
  EXPECT_EQ(s["logpipe_bytes_total{job=\"status\"}"], std::to_string(fs::file_size(input)));
  EXPECT_EQ(s["logpipe_inputs{job=\"status\"}"], "1");
  EXPECT_EQ(s["logpipe_skipped_inputs{job=\"status\"}"], "0");
  EXPECT_EQ(s["logpipe_last_run_success{job=\"status\"}"], "1");
  EXPECT_EQ(s["logpipe_last_run_exit_code{job=\"status\"}"], "0");
  const std::string ts = s["logpipe_last_run_timestamp_seconds{job=\"status\"}"];
  EXPECT_FALSE(ts.empty());
  EXPECT_EQ(s["logpipe_last_success_timestamp_seconds{job=\"status\"}"], ts);
  EXPECT_GT(std::stod(s["logpipe_run_duration_seconds{job=\"status\"}"]), 0.0);
  bool busy = false;
  for (const auto& [key, value] : s) {
    if (key.rfind("logpipe_stage_busy_seconds{job=\"status\",stage=\"", 0) == 0) busy = true;
  }
  EXPECT_TRUE(busy) << ReadFile(prom);
  EXPECT_EQ(Listing(dir.path() + "/textfile"), std::vector<std::string>{"logpipe_status.prom"});
}

TEST(Metrics, FailedRunWritesFailureAndKeepsThePreviousLastSuccess) {
  TempDir dir;
  const std::string input = dir.Write("in.log", std::string(kGood) + kBad + kGood);
  const std::string prom =
      dir.Write("textfile/job.prom",
                "# HELP logpipe_last_success_timestamp_seconds x\n"
                "# TYPE logpipe_last_success_timestamp_seconds gauge\n"
                "logpipe_last_success_timestamp_seconds{job=\"status\"} 1234567890\n");
  CommandResult r =
      RunConfig(dir, StatusJobYaml(input, dir.path() + "/report.json", "    on_mismatch: fail\n"),
                {"--metrics-file", prom});
  ASSERT_EQ(r.exit_code, 65) << r.err;
  EXPECT_NE(r.err.find("in.log:2"), std::string::npos) << r.err;
  std::map<std::string, std::string> s = Samples(ReadFile(prom));
  EXPECT_EQ(s["logpipe_last_run_success{job=\"status\"}"], "0");
  EXPECT_EQ(s["logpipe_last_run_exit_code{job=\"status\"}"], "65");
  EXPECT_EQ(s["logpipe_last_success_timestamp_seconds{job=\"status\"}"], "1234567890");
  EXPECT_FALSE(s["logpipe_last_run_timestamp_seconds{job=\"status\"}"].empty());
  // The run stopped at the bad line: no partial counts.
  EXPECT_EQ(s.count("logpipe_lines_total{job=\"status\"}"), 0u);
  EXPECT_EQ(s["logpipe_inputs{job=\"status\"}"], "1");
  EXPECT_FALSE(fs::exists(dir.path() + "/report.json"));
  EXPECT_EQ(Listing(dir.path() + "/textfile"), std::vector<std::string>{"job.prom"});

  // A second failure still carries it; a success then moves it.
  r = RunConfig(dir, StatusJobYaml(input, dir.path() + "/report.json", "    on_mismatch: fail\n"),
                {"--metrics-file", prom});
  ASSERT_EQ(r.exit_code, 65);
  s = Samples(ReadFile(prom));
  EXPECT_EQ(s["logpipe_last_success_timestamp_seconds{job=\"status\"}"], "1234567890");
  r = RunConfig(dir, StatusJobYaml(input, dir.path() + "/report.json"), {"--metrics-file", prom});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  s = Samples(ReadFile(prom));
  EXPECT_EQ(s["logpipe_last_run_success{job=\"status\"}"], "1");
  EXPECT_EQ(s["logpipe_lines_total{job=\"status\"}"], "3");
  EXPECT_EQ(s["logpipe_unparsed_total{job=\"status\"}"], "1");
  EXPECT_EQ(s["logpipe_last_success_timestamp_seconds{job=\"status\"}"],
            s["logpipe_last_run_timestamp_seconds{job=\"status\"}"]);
  EXPECT_EQ(Listing(dir.path() + "/textfile"), std::vector<std::string>{"job.prom"});
}

TEST(Metrics, FailedRunWithoutPreviousFileHasNoLastSuccess) {
  TempDir dir;
  const std::string prom = dir.path() + "/job.prom";
  CommandResult r =
      RunConfig(dir, StatusJobYaml(dir.path() + "/missing.log", "-"), {"--metrics-file", prom});
  ASSERT_EQ(r.exit_code, 66) << r.err;
  std::map<std::string, std::string> s = Samples(ReadFile(prom));
  EXPECT_EQ(s["logpipe_last_run_exit_code{job=\"status\"}"], "66");
  EXPECT_EQ(s["logpipe_last_run_success{job=\"status\"}"], "0");
  EXPECT_EQ(s.count("logpipe_last_success_timestamp_seconds{job=\"status\"}"), 0u);
}

TEST(Metrics, UnwritableMetricsFileIsExit73BeforeReading) {
  TempDir dir;
  const std::string file = dir.Write("a-file", "x");
  CommandResult r = RunConfig(
      dir,
      StatusJobYaml(SourcePath("data/sample/apache_combined.log"), dir.path() + "/report.json"),
      {"--metrics-file", file + "/job.prom"});
  EXPECT_EQ(r.exit_code, 73) << r.err;
  EXPECT_NE(r.err.find("a-file/job.prom"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() + "/report.json"));
}

TEST(Metrics, DryRunAndBadConfigWriteNoMetrics) {
  TempDir dir;
  const std::string prom = dir.path() + "/job.prom";
  CommandResult r =
      RunConfig(dir, StatusJobYaml(SourcePath("data/sample/apache_combined.log"), "-"),
                {"--metrics-file", prom, "--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(prom));
  r = RunConfig(dir, "inputs: [a.log]\nstages: 7\n", {"--metrics-file", prom});
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_FALSE(fs::exists(prom));  // no config, no job name to label it with
}

TEST(Metrics, ConfigThatLoadsButDoesNotBuildWritesFailureMetrics) {
  TempDir dir;
  const std::string prom = dir.path() + "/job.prom";
  CommandResult r = RunConfig(dir,
                              "name: badre\ninputs: [a.log]\nstages:\n  - type: parse\n"
                              "    regex: '(?P<x>[a-'\n",
                              {"--metrics-file", prom});
  ASSERT_EQ(r.exit_code, 78) << r.err;
  std::map<std::string, std::string> s = Samples(ReadFile(prom));
  EXPECT_EQ(s["logpipe_last_run_exit_code{job=\"badre\"}"], "78");
  EXPECT_EQ(s["logpipe_last_run_success{job=\"badre\"}"], "0");
  EXPECT_EQ(s.count("logpipe_inputs{job=\"badre\"}"), 0u);
}

TEST(Metrics, ComparisonModeRefusesMetricsFile) {
  CommandResult r = RunLogpipe({"--config", "configs/run.yaml", "--compare-set",
                                "stages.parse.exec.model=serial,threads", "--metrics-file",
                                "/tmp/never-written.prom"});
  EXPECT_EQ(r.exit_code, 64) << r.err;
  EXPECT_NE(r.err.find("--metrics-file"), std::string::npos) << r.err;
}

// 20 lines, 3 of them bad: an unparsed fraction of 0.15.
std::string TwentyLinesThreeBad() {
  std::string text;
  for (int i = 0; i < 20; ++i) text += (i == 4 || i == 9 || i == 17) ? kBad : kGood;
  return text;
}

std::string RatioJob(const TempDir& dir, const std::string& input, const std::string& mode,
                     const std::string& ratio) {
  return "version: 1\nname: ratio\ninputs:\n  - path: \"" + input +
         "\"\nstages:\n  - type: parse\n    pattern: combined\n    on_mismatch: " + mode +
         "\n    rejects: \"" + dir.path() + "/rejects.txt\"\n    max_reject_ratio: " + ratio +
         "\n  - type: aggregate\n    metrics: {hits: count}\noutputs:\n"
         "  - {path: \"" +
         dir.path() +
         "/report.json\", format: json}\n"
         "  - {kind: records, path: \"" +
         dir.path() + "/records.jsonl\", format: jsonl}\n";
}

TEST(MaxRejectRatio, JustAboveTheUnparsedFractionPasses) {
  TempDir dir;
  const std::string input = dir.Write("in.log", TwentyLinesThreeBad());
  for (const char* ratio : {"0.16", "0.15"}) {  // not over the limit: passes
    CommandResult r = RunConfig(dir, RatioJob(dir, input, "reject", ratio));
    ASSERT_EQ(r.exit_code, 0) << ratio << ": " << r.err;
    EXPECT_TRUE(fs::exists(dir.path() + "/report.json"));
    fs::remove(dir.path() + "/report.json");
  }
}

TEST(MaxRejectRatio, JustBelowTheUnparsedFractionFailsWith65AndWritesNoOutput) {
  TempDir dir;
  const std::string input = dir.Write("in.log", TwentyLinesThreeBad());
  const std::string prom = dir.path() + "/job.prom";
  CommandResult r =
      RunConfig(dir, RatioJob(dir, input, "reject", "0.14"), {"--metrics-file", prom});
  ASSERT_EQ(r.exit_code, 65) << r.err;
  EXPECT_NE(r.err.find("run.yaml:10:23: 3 of 20 lines did not parse: ratio 0.15 is over "
                       "max_reject_ratio 0.14"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("the rejected lines are in " + dir.path() + "/rejects.txt"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir.path() + "/report.json"));
  EXPECT_FALSE(fs::exists(dir.path() + "/records.jsonl"));
  // The rejects are kept: they are what the operator needs to look at.
  const std::string rejects = ReadFile(dir.path() + "/rejects.txt");
  EXPECT_EQ(std::count(rejects.begin(), rejects.end(), '\n'), 3) << rejects;
  EXPECT_NE(rejects.find("in.log:5\t"), std::string::npos) << rejects;
  // The run read everything: its metrics carry the complete counts.
  std::map<std::string, std::string> s = Samples(ReadFile(prom));
  EXPECT_EQ(s["logpipe_last_run_exit_code{job=\"ratio\"}"], "65");
  EXPECT_EQ(s["logpipe_lines_total{job=\"ratio\"}"], "20");
  EXPECT_EQ(s["logpipe_unparsed_total{job=\"ratio\"}"], "3");
  EXPECT_EQ(s["logpipe_rejected_total{job=\"ratio\"}"], "3");
  // Only the rejects file and our own files remain: no temp files.
  EXPECT_EQ(Listing(dir.path()),
            (std::vector<std::string>{"in.log", "job.prom", "rejects.txt", "run.yaml"}));
}

TEST(MaxRejectRatio, AppliesWithOnMismatchCount) {
  TempDir dir;
  const std::string input = dir.Write("in.log", TwentyLinesThreeBad());
  std::string yaml = RatioJob(dir, input, "count", "0.1");
  CommandResult r = RunConfig(dir, yaml);
  ASSERT_EQ(r.exit_code, 65) << r.err;
  EXPECT_NE(r.err.find("3 of 20 lines did not parse"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("on_mismatch: reject"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() + "/report.json"));
  r = RunConfig(dir, yaml, {"--set", "stages.parse.max_reject_ratio=0.2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir.path() + "/report.json"));
}

TEST(MaxRejectRatio, BadValuesAreExit78NamingThePlace) {
  TempDir dir;
  const std::string input = dir.Write("in.log", TwentyLinesThreeBad());
  for (const char* bad : {"1.01", "-1", "0,5", "lots"}) {
    CommandResult r = RunConfig(dir, RatioJob(dir, input, "count", bad));
    EXPECT_EQ(r.exit_code, 78) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("run.yaml:10:23: expected 'max_reject_ratio'"), std::string::npos)
        << r.err;
  }
  CommandResult r = RunConfig(dir, RatioJob(dir, input, "count", "0.1"),
                              {"--set", "stages.parse.max_reject_ratio=2"});
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_NE(r.err.find("max_reject_ratio"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace logpipe::testing
