#include "pipeline/config_yaml.h"

#include <gtest/gtest.h>

namespace logpipe {
namespace {

const char kMinimal[] = R"(version: 1
name: t
inputs:
  - path: a.log
stages:
  - type: parse
    pattern: combined
  - type: aggregate
    group_by: [status]
    metrics: {hits: count, bytes: sum(bytes)}
)";

TEST(ConfigYaml, LoadsMinimalConfigWithDefaults) {
  Result<Config> config = LoadConfigString(kMinimal, "t.yaml", {});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->name, "t");
  ASSERT_EQ(config->inputs.size(), 1u);
  EXPECT_EQ(config->inputs[0].path, "a.log");
  EXPECT_EQ(config->read.chunk_bytes, 1u << 20);
  ASSERT_EQ(config->stages.size(), 2u);
  EXPECT_EQ(config->stages[0].pattern, "combined");
  EXPECT_EQ(config->stages[0].on_mismatch, OnMismatch::kCount);
  ASSERT_EQ(config->stages[1].metrics.size(), 2u);
  EXPECT_EQ(config->stages[1].metrics[0].first, "hits");  // config order is kept
  EXPECT_EQ(config->stages[1].metrics[1].second, "sum(bytes)");
  EXPECT_TRUE(config->outputs.empty());
}

TEST(ConfigYaml, UnknownKeyNamesLineColumnAndSuggestion) {
  const char yaml[] = R"(version: 1
inputs: [a.log]
stages:
  - type: parse
    pattern: combined
    exec: {model: serial, wokers: 2}
)";
  Result<Config> config = LoadConfigString(yaml, "run.yaml", {});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kConfig);
  const std::string& m = config.status().message();
  EXPECT_NE(m.find("run.yaml:6:27: unknown key 'wokers' in exec"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'workers'?"), std::string::npos) << m;
}

TEST(ConfigYaml, SyntaxErrorNamesLineAndColumn) {
  Result<Config> config = LoadConfigString("inputs: [a\nstages: x\n", "bad.yaml", {});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kConfig);
  EXPECT_EQ(config.status().message().rfind("bad.yaml:", 0), 0u) << config.status().message();
  EXPECT_NE(config.status().message().find("YAML syntax error"), std::string::npos);
}

TEST(ConfigYaml, MissingFileIsNoInput) {
  Result<Config> config = LoadConfigFile("/nonexistent/run.yaml", {});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kNoInput);
  EXPECT_NE(config.status().message().find("/nonexistent/run.yaml"), std::string::npos);
}

TEST(ConfigYaml, OverridesByIndexAndByStageType) {
  Result<Config> config = LoadConfigString(
      kMinimal, "t.yaml",
      {"stages.0.on_mismatch=fail", "stages.aggregate.exec.workers=1", "read.chunk_bytes=64KiB",
       "name=renamed"});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->stages[0].on_mismatch, OnMismatch::kFail);
  EXPECT_TRUE(config->stages[1].has_exec);
  EXPECT_EQ(config->stages[1].exec.workers, 1);
  EXPECT_EQ(config->read.chunk_bytes, 64u << 10);
  EXPECT_EQ(config->name, "renamed");
}

TEST(ConfigYaml, OverrideErrorsAreUsageErrors) {
  for (const char* bad : {"nokey", "stages.9.type=parse", "stages.filter.where=x", "=v"}) {
    Result<Config> config = LoadConfigString(kMinimal, "t.yaml", {bad});
    ASSERT_FALSE(config.ok()) << bad;
    EXPECT_EQ(config.status().code(), StatusCode::kUsage) << bad;
    EXPECT_NE(config.status().message().find("--set"), std::string::npos) << bad;
  }
}

TEST(ConfigYaml, OverriddenValueIsStillChecked) {
  Result<Config> config = LoadConfigString(kMinimal, "t.yaml", {"stages.0.on_mismatch=explode"});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kConfig);
  EXPECT_NE(config.status().message().find("value set by --set"), std::string::npos)
      << config.status().message();
}

TEST(ConfigYaml, RejectModeNeedsRejectsFile) {
  Result<Config> config = LoadConfigString(kMinimal, "t.yaml", {"stages.parse.on_mismatch=reject"});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("rejects"), std::string::npos);
}

TEST(ConfigYaml, OutputFormatFollowsExtension) {
  std::string yaml = std::string(kMinimal) +
                     "outputs:\n  - {path: out/r.json}\n  - {path: out/r.csv}\n"
                     "  - {kind: records, path: out/x.jsonl}\n  - {path: '-'}\n";
  Result<Config> config = LoadConfigString(yaml, "t.yaml", {});
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_EQ(config->outputs.size(), 4u);
  EXPECT_EQ(config->outputs[0].format, "json");
  EXPECT_EQ(config->outputs[1].format, "csv");
  EXPECT_EQ(config->outputs[2].format, "jsonl");
  EXPECT_EQ(config->outputs[3].format, "table");
}

TEST(ConfigYaml, ParseByteSizeUnits) {
  uint64_t n = 0;
  EXPECT_TRUE(ParseByteSize("4MiB", &n));
  EXPECT_EQ(n, 4u << 20);
  EXPECT_TRUE(ParseByteSize("512K", &n));
  EXPECT_EQ(n, 512u << 10);
  EXPECT_TRUE(ParseByteSize("100", &n));
  EXPECT_EQ(n, 100u);
  EXPECT_FALSE(ParseByteSize("4 parsecs", &n));
  EXPECT_FALSE(ParseByteSize("MiB", &n));
  EXPECT_FALSE(ParseByteSize("99999999999999999999G", &n));
}

TEST(ConfigYaml, DemoConfigLoads) {
  Result<Config> config = LoadConfigFile("configs/run.yaml", {});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->name, "apache-status");
}

TEST(ConfigYaml, MultilineTakesStartOrContinueAndBounds) {
  const std::string head = "inputs: [a.log]\nstages:\n  - type: parse\n    pattern: kafka\n";
  Result<Config> config = LoadConfigString(
      head + "    multiline: {start: '^\\[', max_lines: 20, max_bytes: 64KiB}\n", "m.yaml", {});
  ASSERT_TRUE(config.ok()) << config.status().message();
  const MultilineSpec& m = config->stages[0].multiline;
  EXPECT_TRUE(m.declared);
  EXPECT_EQ(m.start, "^\\[");
  EXPECT_EQ(m.max_lines, 20u);
  EXPECT_EQ(m.max_bytes, 64u << 10);

  config = LoadConfigString(head + "    multiline: {continue: '^\\s'}\n", "m.yaml", {});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->stages[0].multiline.continue_regex, "^\\s");
  EXPECT_EQ(config->stages[0].multiline.max_lines, 500u);
  EXPECT_EQ(config->stages[0].multiline.max_bytes, 1u << 20);

  Result<Config> none = LoadConfigString(kMinimal, "t.yaml", {});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->stages[0].multiline.declared);
}

TEST(ConfigYaml, MultilineErrorsNameThePlace) {
  const std::string head = "inputs: [a.log]\nstages:\n  - type: parse\n    pattern: kafka\n";
  struct Case {
    std::string yaml;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"    multiline: {start: a, continue: b}\n", "m.yaml:5:16: multiline needs exactly one"},
           {"    multiline: {max_lines: 3}\n", "multiline needs exactly one"},
           {"    multiline: {start: a, max_lines: 0}\n", "'max_lines' to be at least 1"},
           {"    multiline: {start: a, max_bytes: lots}\n", "'max_bytes' to be a size"},
           {"    multiline: {start: a, max_line: 3}\n", "did you mean 'max_lines'?"},
           {"    multiline: '^\\['\n", "expected multiline to be a mapping"},
       }) {
    Result<Config> config = LoadConfigString(head + c.yaml, "m.yaml", {});
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_NE(config.status().message().find(c.want), std::string::npos)
        << config.status().message();
  }
}

TEST(ConfigYaml, MaxRejectRatioIsReadAndBadValuesNameThePlace) {
  const std::string head =
      "inputs: [a.log]\nstages:\n  - type: parse\n    pattern: combined\n    max_reject_ratio: ";
  Result<Config> good = LoadConfigString(head + "0.01\n", "run.yaml", {});
  ASSERT_TRUE(good.ok()) << good.status().message();
  ASSERT_TRUE(good->stages[0].max_reject_ratio.has_value());
  EXPECT_DOUBLE_EQ(*good->stages[0].max_reject_ratio, 0.01);
  for (const char* bad : {"1.5", "-0.1", "abc", "nan", "0.5x", "[0.1]", "\"\""}) {
    Result<Config> config = LoadConfigString(head + bad + "\n", "run.yaml", {});
    ASSERT_FALSE(config.ok()) << bad;
    EXPECT_EQ(config.status().code(), StatusCode::kConfig) << bad;
    EXPECT_NE(config.status().message().find("run.yaml:5:23: expected 'max_reject_ratio'"),
              std::string::npos)
        << config.status().message();
  }
}

}  // namespace
}  // namespace logpipe

namespace logpipe {
namespace {

TEST(ConfigYaml, StateAndAccumulateAreTopLevelKeys) {
  Result<Config> none = LoadConfigString(kMinimal, "t.yaml", {});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->state, "");
  EXPECT_FALSE(none->accumulate);

  Result<Config> set = LoadConfigString(std::string(kMinimal) + "state: /x/a.state\naccumulate: true\n",
                                        "t.yaml", {});
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->state, "/x/a.state");
  EXPECT_TRUE(set->accumulate);
  EXPECT_EQ(set->state_where, "t.yaml:11:8");

  Result<Config> by_set =
      LoadConfigString(kMinimal, "t.yaml", {"state=/y.state", "accumulate=true"});
  ASSERT_TRUE(by_set.ok()) << by_set.status().message();
  EXPECT_EQ(by_set->state, "/y.state");
  EXPECT_TRUE(by_set->accumulate);

  Result<Config> typo = LoadConfigString(std::string(kMinimal) + "stat: /x\n", "t.yaml", {});
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("did you mean 'state'?"), std::string::npos)
      << typo.status().message();

  Result<Config> alone = LoadConfigString(std::string(kMinimal) + "accumulate: true\n", "t.yaml", {});
  ASSERT_FALSE(alone.ok());
  EXPECT_EQ(alone.status().code(), StatusCode::kConfig);
  EXPECT_NE(alone.status().message().find("t.yaml:11:13: 'accumulate: true' needs 'state: FILE'"),
            std::string::npos)
      << alone.status().message();
}

}  // namespace
}  // namespace logpipe
