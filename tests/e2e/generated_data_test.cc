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
  const std::string yaml =
      "inputs: [\"" + input + "\"]\nread: {chunk_bytes: 64KiB}\nstages:\n"
      "  - {type: parse, pattern: combined, fields: {status: int, bytes: int}, exec: " + exec + "}\n"
      "  - type: aggregate\n    group_by: [status]\n    metrics: {hits: count, bytes: sum(bytes)}\n"
      "outputs:\n  - {path: \"" + dir_->path() + "/status-" + std::to_string(getpid()) + ".json\"}\n";
  TempDir work;
  CommandResult r = RunConfig(work, yaml);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = ReadJson(dir_->path() + "/status-" + std::to_string(getpid()) + ".json");
  EXPECT_EQ(report["totals"]["lines"], truth_["lines"]);
  EXPECT_EQ(report["totals"]["matched"], truth_["matched"]);
  EXPECT_EQ(report["totals"]["unparsed"], truth_["unparsed"]);
  ASSERT_EQ(report["rows"].size(), truth_["status"].size());
  for (const json& row : report["rows"]) {
    char code[8];
    std::snprintf(code, sizeof code, "%03d", row["status"].get<int>());
    ASSERT_TRUE(truth_["status"].contains(code)) << code;
    EXPECT_EQ(row["hits"], truth_["status"][code]["count"]) << code;
    EXPECT_EQ(row["bytes"], truth_["status"][code]["bytes"]) << code;
  }

  const std::string top_yaml =
      "inputs: [\"" + input + "\"]\nread: {chunk_bytes: 64KiB}\nstages:\n"
      "  - {type: parse, pattern: combined, exec: " + exec + "}\n"
      "  - {type: aggregate, metrics: {top: 'top(path, 10)'}}\n"
      "outputs:\n  - {path: \"" + work.path() + "/top.json\"}\n";
  r = RunConfig(work, top_yaml);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json top = ReadJson(work.path() + "/top.json")["rows"][0]["top"];
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
