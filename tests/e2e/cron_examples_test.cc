// End-to-end: the shipped cron examples (README "Running from cron") work as shipped:
//   configs/cron/access_incremental.yaml   loads, dry-runs, and counts each line once over
//                                          three runs (paths redirected into a temp dir);
//   scripts/systemd/logpipe-access.*       pass `systemd-analyze verify` and use only options
//                                          the binary accepts;
//   scripts/cron/logpipe-access.cron       is a well-formed /etc/cron.d line using them too;
//   scripts/cron/logrotate-nginx           parses without an error in `logrotate -d`.
// The config uses `state:` (incremental runs). Until that key exists in this build the config
// tests stop with a skip that says so, rather than pass.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace logpipe::testing {
namespace {

const char kConfig[] = "configs/cron/access_incremental.yaml";

std::string Line(const std::string& status) {
  return "1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET /a HTTP/1.1\" " + status +
         " 100 \"-\" \"ua\"\n";
}

// The shipped config with every path moved into `dir`.
std::vector<std::string> Redirected(const TempDir& dir) {
  return {"--config", SourcePath(kConfig),
          "--set", "inputs.0.path=" + dir.path() + "/log/access.log*",
          "--set", "state=" + dir.path() + "/access.state",
          "--set", "stages.parse.rejects=" + dir.path() + "/rejects.txt",
          "--set", "outputs.0.path=" + dir.path() + "/access.json"};
}

bool StateKeyMissing(const CommandResult& r) {
  return r.exit_code == 78 && r.err.find("'state'") != std::string::npos;
}

// status -> hits of the report's by_status table.
std::map<std::string, int> HitsByStatus(const std::string& report) {
  std::map<std::string, int> hits;
  const nlohmann::json json = ReadJson(report);  // lives through the loop (a temporary would not)
  for (const auto& row : json["tables"]["by_status"]["rows"]) {
    hits[row["status"].dump()] = row["hits"].get<int>();
  }
  return hits;
}

TEST(CronExamples, ConfigDryRuns) {
  TempDir dir;
  dir.Write("log/access.log", Line("200"));
  std::vector<std::string> args = Redirected(dir);
  args.push_back("--dry-run");
  CommandResult r = RunLogpipe(args);
  if (StateKeyMissing(r)) GTEST_SKIP() << "`state:` is not in this build yet: " << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(CronExamples, ConfigCountsEveryLineOnceOverRuns) {
  TempDir dir;
  const std::string log = dir.Write("log/access.log", Line("200") + Line("200") + Line("404"));
  const std::string report = dir.path() + "/access.json";
  CommandResult first = RunLogpipe(Redirected(dir));
  if (StateKeyMissing(first)) GTEST_SKIP() << "`state:` is not in this build yet: " << first.err;
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.err, "");  // cron mails nothing
  EXPECT_EQ(HitsByStatus(report), (std::map<std::string, int>{{"200", 2}, {"404", 1}}))
      << ReadFile(report);

  CommandResult second = RunLogpipe(Redirected(dir));  // nothing new
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(HitsByStatus(report), (std::map<std::string, int>{}));

  std::ofstream(log, std::ios::app) << Line("500") << Line("500");
  CommandResult third = RunLogpipe(Redirected(dir));
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(HitsByStatus(report), (std::map<std::string, int>{{"500", 2}}));
}

// The ExecStart/ExecStartPre lines' and the cron line's logpipe options, each checked against
// `logpipe --help`.
void ExpectKnownOptions(const std::string& command) {
  static const std::string help = RunLogpipe({"--help"}).out;
  std::istringstream words(command);
  std::string word;
  int options = 0;
  while (words >> word) {
    if (word.rfind("--", 0) != 0) continue;
    EXPECT_NE(help.find(" " + word + " "), std::string::npos) << word << " in: " << command;
    ++options;
  }
  EXPECT_GE(options, 2) << command;
}

TEST(CronExamples, SystemdUnitsVerify) {
  TempDir dir;
  // The units name /usr/local/bin/logpipe; verify them against this build's binary.
  std::vector<std::string> units;
  for (const std::string name : {"logpipe-access.service", "logpipe-access.timer"}) {
    std::string text = ReadFile(SourcePath("scripts/systemd/" + name));
    for (size_t at; (at = text.find("/usr/local/bin/logpipe")) != std::string::npos;) {
      text.replace(at, 22, LOGPIPE_BINARY);
    }
    units.push_back(dir.Write(name, text));
  }
  CommandResult r = RunCommand({"/usr/bin/systemd-analyze", "verify", units[0], units[1]});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // warnings (an ignored setting, a typo) fail the test too

  const std::string service = ReadFile(SourcePath("scripts/systemd/logpipe-access.service"));
  for (const std::string key : {"Type=oneshot\n", "SuccessExitStatus=75\n",
                                "ProtectSystem=strict\n", "ReadWritePaths=/var/lib/logpipe "}) {
    EXPECT_NE(service.find(key), std::string::npos) << key;
  }
  EXPECT_NE(ReadFile(units[1]).find("Persistent=true\n"), std::string::npos);
  std::istringstream lines(service);
  int commands = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("ExecStart", 0) != 0) continue;
    ExpectKnownOptions(line);
    EXPECT_NE(line.find("/etc/logpipe/access_incremental.yaml"), std::string::npos) << line;
    ++commands;
  }
  EXPECT_EQ(commands, 2);
}

TEST(CronExamples, CronLineIsWellFormed) {
  std::istringstream lines(ReadFile(SourcePath("scripts/cron/logpipe-access.cron")));
  // /etc/cron.d: five time fields, a user, the command.
  const std::regex entry(R"(^([0-9*/,-]+\s+){5}[a-z_][a-z0-9_-]*\s+\S.*$)");
  int entries = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#' || line.find('=') < line.find(' ')) continue;
    EXPECT_TRUE(std::regex_match(line, entry)) << line;
    for (const std::string option : {"--quiet", "--lock ", "--metrics-file "}) {
      EXPECT_NE(line.find(option), std::string::npos) << option << " in: " << line;
    }
    ExpectKnownOptions(line);
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(CronExamples, LogrotateSnippetParses) {
  TempDir dir;
  dir.Write("log/access.log", Line("200"));
  std::string text = ReadFile(SourcePath("scripts/cron/logrotate-nginx"));
  // Into the temp dir, and without the owner (www-data may not exist here).
  text.replace(text.find("/var/log/nginx"), 14, dir.path() + "/log");
  text.replace(text.find("create 0640 www-data adm"), 24, "create 0640");
  const std::string conf = dir.Write("logrotate.conf", text);
  // -d: parse and say what would be done, change nothing. Unknown directives are reported as
  // "error:" lines (with exit 0), so the output is checked too.
  CommandResult r =
      RunCommand({"/usr/sbin/logrotate", "-d", "-s", dir.path() + "/logrotate.state", conf});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("rror:"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("rror:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rotating pattern: " + dir.path() + "/log/*.log"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace logpipe::testing
