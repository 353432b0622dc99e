// End-to-end: on generated access logs, logpipe's answers equal the generator's truth file
// (computed from what it generated, not by parsing), under every execution model.

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/e2e/e2e_util.h"

namespace logpipe::testing {
namespace {

using nlohmann::json;

std::string GeneratorPath() {
  return (std::filesystem::path(LOGPIPE_BINARY).parent_path() / "logpipe-gen").string();
}

class GeneratedData : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    CommandResult gen = RunCommand({GeneratorPath(), "--size", "3M", "--seed", "7",
                                    "--malformed-rate", "0.01", "-o", dir_->path() + "/a.log"});
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    truth_ = json::parse(ReadFile(dir_->path() + "/a.log.truth.json"));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static TempDir* dir_;
  static json truth_;
};
TempDir* GeneratedData::dir_ = nullptr;
json GeneratedData::truth_;

TEST_P(GeneratedData, StatusCountsBytesAndTopPathsEqualTruth) {
  const std::string exec = GetParam();
  const std::string input = dir_->path() + "/a.log";
  // configs/reference_job.yaml, the benchmark's job: two tables from one pass.
  TempDir work;
  const std::string report_path = work.path() + "/report.json";
  CommandResult r = RunLogpipe({"--config", "configs/reference_job.yaml", "--set",
                                "inputs.0.path=" + input, "--set", "read.chunk_bytes=64KiB",
                                "--set", "stages.parse.exec=" + exec, "--set",
                                "outputs.0.path=" + report_path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = ReadJson(report_path);
  EXPECT_EQ(report["totals"]["lines"], truth_["lines"]);
  EXPECT_EQ(report["totals"]["matched"], truth_["matched"]);
  EXPECT_EQ(report["totals"]["unparsed"], truth_["unparsed"]);
  const json& rows = report["tables"]["by_status"]["rows"];
  ASSERT_EQ(rows.size(), truth_["status"].size());
  for (const json& row : rows) {
    char code[8];
    std::snprintf(code, sizeof code, "%03d", row["status"].get<int>());
    ASSERT_TRUE(truth_["status"].contains(code)) << code;
    EXPECT_EQ(row["hits"], truth_["status"][code]["count"]) << code;
    EXPECT_EQ(row["bytes"], truth_["status"][code]["bytes"]) << code;
  }
  const json& top = report["tables"]["top_paths"]["rows"][0]["top"];
  const json& expected = truth_["top_paths"];
  ASSERT_EQ(top.size(), expected.size());
  for (size_t i = 0; i < top.size(); ++i) {
    EXPECT_EQ(top[i]["value"], expected[i]["path"]) << i;
    EXPECT_EQ(top[i]["count"], expected[i]["count"]) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, GeneratedData,
                         ::testing::Values("{model: serial}", "{model: threads, workers: 1}",
                                           "{model: threads, workers: 3}"));

}  // namespace
}  // namespace logpipe::testing
