// End-to-end: logpipe's answers on real and nasty inputs equal answers computed independently
// (tests/support/reference_job.h, or by hand).

#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"
#include "tests/support/compress.h"
#include "tests/support/reference_job.h"

namespace logpipe::testing {
namespace {

using nlohmann::json;

// Checks a status-job JSON report against the reference result.
void ExpectStatusReportEquals(const json& report, const ReferenceResult& ref) {
  EXPECT_EQ(report["totals"]["lines"], ref.lines);
  EXPECT_EQ(report["totals"]["matched"], ref.matched);
  EXPECT_EQ(report["totals"]["unparsed"], ref.unparsed);
  ASSERT_EQ(report["tables"]["aggregate"]["rows"].size(), ref.status.size());
  size_t i = 0;
  for (const auto& [status, count_bytes] : ref.status) {  // std::map: ascending, as logpipe sorts
    const json& row = report["tables"]["aggregate"]["rows"][i++];
    EXPECT_EQ(row["status"], status);
    EXPECT_EQ(row["hits"], count_bytes.first) << "status " << status;
    EXPECT_EQ(row["bytes"], count_bytes.second) << "status " << status;
  }
}

TEST(JobAnswers, ApacheSampleMatchesReference) {
  TempDir dir;
  const std::string input = SourcePath("data/sample/apache_combined.log");
  CommandResult r = RunConfig(dir, StatusJobYaml(input, dir.path() + "/report.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ReferenceResult ref = RunReferenceJob(ReadFile(input));
  EXPECT_EQ(ref.lines, 10000u);
  EXPECT_EQ(ref.unparsed, 1u);  // shared/data/real/README.md: line 8899 lost its closing quote
  ExpectStatusReportEquals(ReadJson(dir.path() + "/report.json"), ref);
}

TEST(JobAnswers, TopPathsAndDistinctMatchReference) {
  TempDir dir;
  const std::string input = SourcePath("data/sample/apache_combined.log");
  std::string yaml = "inputs: [\"" + input +
                     "\"]\nstages:\n  - {type: parse, pattern: combined}\n"
                     "  - type: aggregate\n    metrics: {n: count, ips: distinct(ip), top: "
                     "'top(path, 10)'}\noutputs:\n  - {path: \"" + dir.path() + "/r.json\"}\n";
  CommandResult r = RunConfig(dir, yaml);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ReferenceResult ref = RunReferenceJob(ReadFile(input));
  json report = ReadJson(dir.path() + "/r.json");
  ASSERT_EQ(report["tables"]["aggregate"]["rows"].size(), 1u);
  const json& row = report["tables"]["aggregate"]["rows"][0];
  EXPECT_EQ(row["n"], ref.matched);
  EXPECT_EQ(row["ips"], ref.ip_counts.size());
  auto top = ref.TopPaths(10);
  ASSERT_EQ(row["top"].size(), top.size());
  for (size_t i = 0; i < top.size(); ++i) {
    EXPECT_EQ(row["top"][i]["value"], top[i].first);
    EXPECT_EQ(row["top"][i]["count"], top[i].second);
  }
}

// The same lines with CRLF endings and no final newline give the same answers.
TEST(JobAnswers, CrlfAndNoFinalNewlineGiveSameAnswers) {
  TempDir dir;
  std::string lf = ReadFile(SourcePath("data/sample/apache_combined.log"));
  std::string crlf;
  for (char c : lf) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  crlf.resize(crlf.size() - 2);  // drop the final "\r\n"
  const std::string input = dir.Write("crlf.log", crlf);
  CommandResult r = RunConfig(dir, StatusJobYaml(input, dir.path() + "/report.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectStatusReportEquals(ReadJson(dir.path() + "/report.json"), RunReferenceJob(lf));
}

const char kGood[] =
    "1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET /a HTTP/1.1\" 200 100 \"-\" \"ua\"\n";
const char kGood404[] =
    "5.6.7.8 - - [17/May/2015:10:05:04 +0000] \"GET /b HTTP/1.1\" 404 - \"-\" \"ua\"\n";

TEST(JobAnswers, NulBytesAndInvalidUtf8AreBytesInLatin1Mode) {
  TempDir dir;
  std::string data = std::string(kGood) + std::string("\0\0\0garbage\n", 11) +
                     "9.9.9.9 - - [17/May/2015:10:05:05 +0000] \"GET /\xff\xfe HTTP/1.1\" 200 5 "
                     "\"-\" \"bad \xc0\x80 utf8\"\n" +
                     kGood404;
  const std::string input = dir.Write("nasty.log", data);
  CommandResult r = RunConfig(dir, StatusJobYaml(input, dir.path() + "/report.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = ReadJson(dir.path() + "/report.json");
  // By hand: 4 lines; the NUL line does not match; the invalid-UTF-8 line matches on bytes.
  EXPECT_EQ(report["totals"]["lines"], 4);
  EXPECT_EQ(report["totals"]["matched"], 3);
  EXPECT_EQ(report["totals"]["unparsed"], 1);
  EXPECT_EQ(report["tables"]["aggregate"]["rows"][0]["status"], 200);
  EXPECT_EQ(report["tables"]["aggregate"]["rows"][0]["hits"], 2);
  EXPECT_EQ(report["tables"]["aggregate"]["rows"][0]["bytes"], 105);
  EXPECT_EQ(report["tables"]["aggregate"]["rows"][1]["status"], 404);
  EXPECT_EQ(report["tables"]["aggregate"]["rows"][1]["bytes"], 0);  // "-" is absent, so it adds nothing
}

TEST(JobAnswers, Utf8ModeCountsInvalidLines) {
  TempDir dir;
  std::string data = std::string(kGood) +
                     "9.9.9.9 - - [17/May/2015:10:05:05 +0000] \"GET /x HTTP/1.1\" 200 5 \"-\" "
                     "\"\xed\xa0\x80 surrogate\"\n";
  const std::string input = dir.Write("u.log", data);
  CommandResult r = RunConfig(
      dir, StatusJobYaml(input, dir.path() + "/report.json", "    encoding: utf8\n"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = ReadJson(dir.path() + "/report.json");
  EXPECT_EQ(report["totals"]["lines"], 2);
  EXPECT_EQ(report["totals"]["matched"], 1);
  EXPECT_EQ(report["totals"]["invalid_utf8"], 1);
}

TEST(JobAnswers, EmptyFileGivesZeroTotals) {
  TempDir dir;
  const std::string input = dir.Write("empty.log", "");
  CommandResult r = RunConfig(dir, StatusJobYaml(input, dir.path() + "/report.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = ReadJson(dir.path() + "/report.json");
  EXPECT_EQ(report["totals"]["lines"], 0);
  EXPECT_EQ(report["tables"]["aggregate"]["rows"].size(), 0u);
}

TEST(JobAnswers, SixMebibyteLineIsParsedOrReportedOversized) {
  TempDir dir;
  std::string huge = "1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET /" +
                     std::string(6 << 20, 'x') + " HTTP/1.1\" 200 7 \"-\" \"ua\"\n";
  const std::string input = dir.Write("huge.log", std::string(kGood) + huge + kGood404);
  // Default max_line_bytes (16 MiB): the line is parsed like any other.
  CommandResult r = RunConfig(dir, StatusJobYaml(input, dir.path() + "/report.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = ReadJson(dir.path() + "/report.json");
  EXPECT_EQ(report["totals"]["lines"], 3);
  EXPECT_EQ(report["totals"]["matched"], 3);
  EXPECT_EQ(report["tables"]["aggregate"]["rows"][0]["bytes"], 107);
  // With a 1 MiB limit it is counted as oversized, and the lines around it still parse.
  r = RunConfig(dir, StatusJobYaml(input, dir.path() + "/report.json"),
                {"--set", "read.max_line_bytes=1MiB"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  report = ReadJson(dir.path() + "/report.json");
  EXPECT_EQ(report["totals"]["lines"], 3);
  EXPECT_EQ(report["totals"]["oversized"], 1);
  EXPECT_EQ(report["totals"]["matched"], 2);
}

TEST(JobAnswers, MultiMemberGzipDetectedByContentEqualsPlain) {
  TempDir dir;
  std::string plain = ReadFile(SourcePath("data/sample/apache_combined.log"));
  size_t half = plain.find('\n', plain.size() / 2) + 1;
  // Two gzip members, like `cat a.gz b.gz`, in a file whose name says nothing.
  const std::string input =
      dir.Write("access.data", Gzip(plain.substr(0, half)) + Gzip(plain.substr(half)));
  CommandResult r = RunConfig(dir, StatusJobYaml(input, dir.path() + "/report.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectStatusReportEquals(ReadJson(dir.path() + "/report.json"), RunReferenceJob(plain));
}

TEST(JobAnswers, GlobAndDirectoryInputsReadEveryFileOnce) {
  TempDir dir;
  dir.Write("logs/a.log", std::string(kGood) + kGood);
  dir.Write("logs/b.log", kGood404);
  dir.Write("logs/sub/c.log", kGood);
  std::string yaml = "inputs:\n  - path: \"" + dir.path() + "/logs/*.log\"\n  - path: \"" +
                     dir.path() + "/logs\"\nstages:\n  - {type: parse, pattern: combined}\n"
                     "  - {type: aggregate, metrics: {n: count}}\noutputs:\n  - {path: \"" +
                     dir.path() + "/r.json\"}\n";
  CommandResult r = RunConfig(dir, yaml);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = ReadJson(dir.path() + "/r.json");
  EXPECT_EQ(report["totals"]["inputs"], 3);  // a.log and b.log once, plus sub/c.log
  EXPECT_EQ(report["tables"]["aggregate"]["rows"][0]["n"], 4);
}

TEST(JobAnswers, StdinInput) {
  TempDir dir;
  std::string yaml = "inputs: ['-']\nstages:\n  - {type: parse, pattern: combined}\n"
                     "  - {type: aggregate, metrics: {n: count}}\noutputs:\n  - {path: \"" +
                     dir.path() + "/r.json\"}\n";
  std::string config = dir.Write("run.yaml", yaml);
  CommandResult r = RunLogpipe({"--config", config}, std::string(kGood) + kGood404 + "junk\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = ReadJson(dir.path() + "/r.json");
  EXPECT_EQ(report["totals"]["lines"], 3);
  EXPECT_EQ(report["tables"]["aggregate"]["rows"][0]["n"], 2);
}

TEST(JobAnswers, FilterAndRecordsKeepInputOrder) {
  TempDir dir;
  std::string data;
  for (int i = 0; i < 50; ++i) {
    data += "10.0.0." + std::to_string(i) + " - - [17/May/2015:10:05:03 +0000] \"GET /p" +
            std::to_string(i) + " HTTP/1.1\" " + (i % 3 == 0 ? "500" : "200") + " " +
            std::to_string(i) + " \"-\" \"ua\"\n";
  }
  const std::string input = dir.Write("in.log", data);
  std::string yaml = "inputs: [\"" + input +
                     "\"]\nread: {chunk_bytes: 200}\nstages:\n"
                     "  - {type: parse, pattern: combined, fields: {status: int, bytes: int}}\n"
                     "  - {type: filter, where: 'status >= 500 and bytes > 10'}\n"
                     "outputs:\n  - {kind: records, path: \"" + dir.path() +
                     "/r.csv\", fields: [path, bytes]}\n  - {path: \"" + dir.path() + "/t.json\"}\n";
  CommandResult r = RunConfig(dir, yaml);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string expected = "path,bytes\n";
  for (int i = 0; i < 50; ++i) {
    if (i % 3 == 0 && i > 10) expected += "/p" + std::to_string(i) + "," + std::to_string(i) + "\n";
  }
  EXPECT_EQ(ReadFile(dir.path() + "/r.csv"), expected);
  json report = ReadJson(dir.path() + "/t.json");
  EXPECT_EQ(report["totals"]["selected"], 13);  // 12, 15, ..., 48
}

}  // namespace
}  // namespace logpipe::testing
