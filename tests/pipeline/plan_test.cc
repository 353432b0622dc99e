#include "pipeline/plan.h"

#include <gtest/gtest.h>

#include "pipeline/config_yaml.h"

namespace logpipe {
namespace {

Result<Plan> PlanFrom(const std::string& stages_yaml, const std::string& extra = "") {
  Result<Config> config =
      LoadConfigString("inputs: [a.log]\nstages:\n" + stages_yaml + extra, "p.yaml", {});
  if (!config.ok()) return config.status();
  return BuildPlan(std::move(config.value()));
}

TEST(Plan, CapturesOnlyFieldsLaterStagesRead) {
  Result<Plan> plan = PlanFrom(
      "  - {type: parse, pattern: combined}\n"
      "  - {type: filter, where: 'status >= 500'}\n"
      "  - {type: aggregate, group_by: [method], metrics: {n: count, b: sum(bytes)}}\n");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  std::vector<std::string> captured;
  for (const auto& f : plan->schema.fields()) captured.push_back(f.name);
  // Pattern order, not order of use.
  EXPECT_EQ(captured, (std::vector<std::string>{"method", "status", "bytes"}));
  EXPECT_EQ(plan->parse->capture_count(), 3);
  EXPECT_GT(plan->pattern_groups.size(), 3u);
}

TEST(Plan, RecordsWithoutFieldsCaptureEveryGroup) {
  Result<Plan> plan = PlanFrom("  - {type: parse, regex: '(?P<a>x)(?P<b>y)(z)'}\n",
                               "outputs:\n  - {kind: records, path: r.jsonl}\n");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->schema.size(), 2u);
  EXPECT_EQ(plan->parse->capture_count(), 2);  // the unnamed (z) no longer captures
}

TEST(Plan, DefaultReportIsATableOnStdout) {
  Result<Plan> plan = PlanFrom("  - {type: parse, pattern: combined}\n");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->report_outputs.size(), 1u);
  EXPECT_EQ(plan->report_outputs[0].path, "-");
  EXPECT_EQ(plan->report_outputs[0].format, "table");
  EXPECT_TRUE(plan->aggregates.empty());
}

TEST(Plan, ShapeErrors) {
  struct Case {
    const char* stages;
    const char* expect;
  } cases[] = {
      {"  - {type: filter, where: 'a == 1'}\n", "first stage must be 'type: parse'"},
      {"  - {type: parse, pattern: combined}\n  - {type: aggregate, metrics: {n: count}}\n"
       "  - {type: filter, where: 'status == 1'}\n",
       "a filter cannot follow an aggregate"},
      {"  - {type: parse, pattern: combined}\n  - {type: parse, pattern: combined}\n",
       "only one parse stage"},
      {"  - {type: parse, pattern: nosuch}\n", "unknown pattern 'nosuch'"},
      {"  - {type: parse, regex: 'abc'}\n", "no named groups"},
      {"  - {type: parse, pattern: combined, fields: {nosuch: int}}\n", "unknown field 'nosuch'"},
      {"  - {type: parse, pattern: combined, fields: {status: integer}}\n", "unknown type"},
      {"  - {type: parse, pattern: combined}\n  - {type: aggregate, metrics: {n: sum(nosuch)}}\n",
       "unknown field 'nosuch'"},
  };
  for (const auto& c : cases) {
    Result<Plan> plan = PlanFrom(c.stages);
    ASSERT_FALSE(plan.ok()) << c.stages;
    EXPECT_EQ(plan.status().code(), StatusCode::kConfig) << c.stages;
    EXPECT_NE(plan.status().message().find(c.expect), std::string::npos)
        << plan.status().message();
    EXPECT_EQ(plan.status().message().rfind("p.yaml:", 0), 0u) << plan.status().message();
  }
}

TEST(Plan, TwoOutputsToOnePathIsAnError) {
  Result<Plan> plan = PlanFrom("  - {type: parse, pattern: combined}\n",
                               "outputs:\n  - {path: r.json}\n  - {path: r.json}\n");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("written by two outputs"), std::string::npos);
}

TEST(Plan, ConsecutiveStagesWithTheSameModelFuseIntoOneSegment) {
  Result<Plan> plan = PlanFrom(
      "  - {type: parse, pattern: combined, exec: {model: serial, workers: 1}}\n"
      "  - {type: filter, where: 'status == 200'}\n"
      "  - {type: aggregate, metrics: {n: count}}\n");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->segments.size(), 1u);
  EXPECT_EQ(plan->segments[0].stage_names,
            (std::vector<std::string>{"parse", "filter", "aggregate"}));
  std::string explain = plan->Explain();
  EXPECT_NE(explain.find("1. serial, 1 worker: parse -> filter -> aggregate"), std::string::npos)
      << explain;
}

// --explain says how process shards end a run: heads and threshold queries for a field only
// top reads, whole partials when accumulate stores them, nothing when no such field exists.
TEST(Plan, ExplainSaysHowProcessShardsSendTheirAggregates) {
  const std::string stages =
      "  - {type: parse, pattern: combined, exec: {model: processes, workers: 2}}\n";
  Result<Plan> top = PlanFrom(stages + "  - {type: aggregate, metrics: {t: 'top(path, 3)'}}\n");
  ASSERT_TRUE(top.ok()) << top.status().message();
  EXPECT_TRUE(top->partials_only_finished());
  EXPECT_NE(top->Explain().find("end of run: for fields only top(f, k) reads, shards send each "
                                "group's k largest counts"),
            std::string::npos)
      << top->Explain();
  Result<Plan> stored = PlanFrom(stages + "  - {type: aggregate, metrics: {t: 'top(path, 3)'}}\n",
                                 "state: s.state\naccumulate: true\n");
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_FALSE(stored->partials_only_finished());
  EXPECT_NE(stored->Explain().find("end of run: shards send whole partials (accumulate"),
            std::string::npos)
      << stored->Explain();
  Result<Plan> shared = PlanFrom(
      stages + "  - {type: aggregate, metrics: {t: 'top(path, 3)', d: 'distinct(path)'}}\n");
  ASSERT_TRUE(shared.ok()) << shared.status().message();
  EXPECT_EQ(shared->Explain().find("end of run"), std::string::npos) << shared->Explain();
}

TEST(Plan, MultilineAddsTheEventLinesFieldAndTheChunkerPredicate) {
  Result<Plan> plan = PlanFrom(
      "  - type: parse\n"
      "    regex: '(?P<level>[A-Z]+)(?s:.*)'\n"
      "    multiline: {start: '^[A-Z]', max_lines: 7, max_bytes: 1KiB}\n"
      "  - {type: filter, where: 'event_lines > 1'}\n",
      "outputs:\n  - {kind: records, path: r.jsonl}\n");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->pattern_groups, (std::vector<std::string>{"level", "event_lines"}));
  ASSERT_TRUE(plan->schema.Find("event_lines").has_value());
  EXPECT_EQ(plan->schema.field(*plan->schema.Find("event_lines")).type, FieldType::kInt);
  EXPECT_EQ(plan->parse->capture_count(), 1);
  ASSERT_TRUE(plan->chunker.multiline.enabled());
  EXPECT_EQ(plan->chunker.multiline.max_lines, 7u);
  EXPECT_EQ(plan->chunker.multiline.max_bytes, 1024u);
  EXPECT_TRUE(plan->chunker.multiline.starts_event("ERROR x"));
  EXPECT_FALSE(plan->chunker.multiline.starts_event("\tat y"));
  ASSERT_NE(plan->starts_event(), nullptr);
  EXPECT_NE(plan->Explain().find("multi-line events: a line matching '^[A-Z]'"),
            std::string::npos)
      << plan->Explain();

  // A moved plan keeps a working predicate (it points at the plan's EventStart).
  Plan moved = std::move(plan.value());
  EXPECT_TRUE(moved.chunker.multiline.starts_event("WARN"));
}

TEST(Plan, EventLinesNeedsMultilineAndMayNotBeAGroup) {
  Result<Plan> plan = PlanFrom(
      "  - {type: parse, regex: '(?P<level>[A-Z]+)'}\n"
      "  - {type: filter, where: 'event_lines > 1'}\n");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("unknown field 'event_lines'"), std::string::npos)
      << plan.status().message();
  plan = PlanFrom(
      "  - type: parse\n"
      "    regex: '(?P<event_lines>[0-9]+)'\n"
      "    multiline: {start: x}\n");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("rename the pattern's group"), std::string::npos)
      << plan.status().message();
  plan = PlanFrom(
      "  - type: parse\n"
      "    regex: '(?P<a>x)'\n"
      "    multiline: {continue: '^(a'}\n");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("p.yaml:5:16: continue: invalid regex '^(a'"),
            std::string::npos)
      << plan.status().message();
}

}  // namespace
}  // namespace logpipe
