// End-to-end: the command line's exit codes (sysexits), messages and failure guarantees.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/e2e/e2e_util.h"

namespace logpipe::testing {
namespace {

const char kLine[] =
    "1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET /a HTTP/1.1\" 200 100 \"-\" \"ua\"\n";

TEST(Cli, VersionAndHelp) {
  CommandResult r = RunLogpipe({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("logpipe ", 0), 0u);
  r = RunLogpipe({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--config"), std::string::npos);
  EXPECT_NE(r.out.find("Exit codes"), std::string::npos);
}

TEST(Cli, UnknownOptionIsUsageError) {
  CommandResult r = RunLogpipe({"--frobnicate"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("frobnicate"), std::string::npos);
  r = RunLogpipe({});
  EXPECT_EQ(r.exit_code, 64);
}

TEST(Cli, DemoRunsAndPrintsATable) {
  CommandResult r = RunLogpipe({"--config", "configs/run.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("hits"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("top_paths"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;  // quiet when stderr is not a terminal (cron)
}

TEST(Cli, EveryShippedConfigPassesDryRun) {
  int checked = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(SourcePath("configs"))) {
    if (entry.path().extension() != ".yaml") continue;
    // configs/cron/ names system paths (/var/log/nginx): tests/e2e/cron_examples_test.cc
    // dry-runs it with its paths redirected.
    if (entry.path().parent_path().filename() == "cron") continue;
    CommandResult r = RunLogpipe({"--config", entry.path().string(), "--dry-run"});
    EXPECT_EQ(r.exit_code, 0) << entry.path() << ": " << r.err;
    ++checked;
  }
  EXPECT_GE(checked, 1);
}

TEST(Cli, ExplainShowsCapturePushdown) {
  CommandResult r = RunLogpipe({"--config", "configs/run.yaml", "--explain"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The demo reads method, status, bytes, ip and path: 5 of the combined pattern's groups.
  EXPECT_NE(r.out.find("captured 5 of"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("serial"), std::string::npos);
}

TEST(Cli, BadConfigIsExit78WithPlace) {
  TempDir dir;
  CommandResult r = RunConfig(dir, "inputs: [a.log]\nstages:\n  - type: parse\n    patern: x\n");
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.err.find("run.yaml:4:5: unknown key 'patern'"), std::string::npos) << r.err;
}

TEST(Cli, BadRegexQuotesPatternAndRe2Message) {
  TempDir dir;
  CommandResult r = RunConfig(dir, "inputs: [a.log]\nstages:\n  - type: parse\n"
                                   "    regex: '(?P<x>[a-'\n");
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.err.find("(?P<x>[a-"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("missing ]"), std::string::npos) << r.err;
}

TEST(Cli, UnknownFieldListsThePatternsFields) {
  TempDir dir;
  CommandResult r = RunConfig(dir, "inputs: [a.log]\nstages:\n  - {type: parse, pattern: combined}\n"
                                   "  - {type: filter, where: 'stauts == 200'}\n");
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.err.find("run.yaml:4:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stauts"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("status"), std::string::npos) << r.err;
}

TEST(Cli, MissingInputIsExit66NamingIt) {
  TempDir dir;
  CommandResult r = RunConfig(dir, StatusJobYaml(dir.path() + "/nope.log", dir.path() + "/r.json"));
  EXPECT_EQ(r.exit_code, 66);
  EXPECT_NE(r.err.find("nope.log"), std::string::npos) << r.err;
  r = RunConfig(dir, StatusJobYaml(dir.path() + "/*.nothing", dir.path() + "/r.json"));
  EXPECT_EQ(r.exit_code, 66);
  EXPECT_NE(r.err.find("*.nothing"), std::string::npos) << r.err;
}

TEST(Cli, UnwritableOutputIsExit73BeforeReading) {
  TempDir dir;
  const std::string input = dir.Write("a.log", kLine);
  // A path below a regular file can never be created, even by root.
  CommandResult r = RunConfig(dir, StatusJobYaml(input, input + "/report.json"));
  EXPECT_EQ(r.exit_code, 73);
  EXPECT_NE(r.err.find(input + "/report.json"), std::string::npos) << r.err;
}

TEST(Cli, TruncatedGzipIsExit65AndKeepsTheOldReport) {
  TempDir dir;
  CommandResult gz = RunCommand({"/bin/sh", "-c",
                                 "for i in $(seq 2000); do printf '" + std::string(kLine, sizeof kLine - 2) +
                                     "\\n'; done | gzip -c > " + dir.path() + "/a.log.gz"});
  ASSERT_EQ(gz.exit_code, 0) << gz.err;
  std::string full = ReadFile(dir.path() + "/a.log.gz");
  const std::string input = dir.Write("cut.log.gz", full.substr(0, full.size() / 2));
  const std::string report = dir.Write("report.json", "previous report\n");
  CommandResult r = RunConfig(dir, StatusJobYaml(input, report));
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("cut.log.gz"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(report), "previous report\n");  // nothing half-written
  // No temp file is left behind either.
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

TEST(Cli, OnMismatchFailIsExit65NamingFirstBadLine) {
  TempDir dir;
  const std::string input = dir.Write("a.log", std::string(kLine) + kLine + "bad line\n" + kLine);
  CommandResult r =
      RunConfig(dir, StatusJobYaml(input, dir.path() + "/r.json", "    on_mismatch: fail\n"));
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find(input + ":3:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad line"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/r.json"));
}

TEST(Cli, OnMismatchRejectWritesSourceLineAndEscapedBytes) {
  TempDir dir;
  const std::string input =
      dir.Write("a.log", std::string(kLine) + std::string("bad\0\x01\xff\tline\r\n", 13) + kLine);
  const std::string rejects = dir.path() + "/rejects.txt";
  CommandResult r = RunConfig(
      dir, StatusJobYaml(input, dir.path() + "/r.json",
                         "    on_mismatch: reject\n    rejects: \"" + rejects + "\"\n"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(rejects), input + ":2\tno match\tbad\\x00\\x01\\xFF\\tline\n");
}

TEST(Cli, SetOverridesAKey) {
  TempDir dir;
  const std::string input = dir.Write("a.log", std::string(kLine) + "bad\n");
  CommandResult r = RunConfig(dir, StatusJobYaml(input, dir.path() + "/r.json"),
                              {"--set", "stages.parse.on_mismatch=fail"});
  EXPECT_EQ(r.exit_code, 65);
  r = RunConfig(dir, StatusJobYaml(input, dir.path() + "/r.json"), {"--set", "bogus"});
  EXPECT_EQ(r.exit_code, 64);
}

TEST(Cli, ReportToStdoutAsJsonIsValid) {
  TempDir dir;
  const std::string input = dir.Write("a.log", std::string(kLine) + "bad \xff\n");
  CommandResult r = RunConfig(dir, StatusJobYaml(input, "-"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["totals"]["unparsed"], 1);
}

}  // namespace
}  // namespace logpipe::testing
