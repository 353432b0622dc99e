#include "pipeline/shard_plan.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "pipeline/config_yaml.h"
#include "tests/pipeline/plan_from_yaml.h"
#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

using testing::PlanFromYaml;
using testing::TempDir;

Plan MakePlan(const std::string& extra_outputs = "", const std::string& multiline = "") {
  const std::string yaml =
      "version: 1\nname: t\ninputs:\n  - path: x\nstages:\n  - type: parse\n"
      "    regex: '(?P<w>[a-z]+)'\n" +
      multiline +
      "  - type: aggregate\n    metrics: {n: count}\noutputs:\n  - {path: "
      "out.json, format: json}\n" +
      extra_outputs;
  return PlanFromYaml(yaml, "t.yaml");
}

// Random lines of 0..max_len letters; `start_every`: one line in that many
// starts with "S" (the multi-line test's event starts), the others with "c".
std::string RandomLines(std::mt19937* rng, size_t lines, size_t max_len, int start_every = 1) {
  std::string out;
  for (size_t i = 0; i < lines; ++i) {
    out += ((*rng)() % start_every == 0) ? 'S' : 'c';
    const size_t len = (*rng)() % (max_len + 1);
    for (size_t k = 0; k < len; ++k) out += static_cast<char>('a' + (*rng)() % 26);
    if (i + 1 < lines || (*rng)() % 2 == 0) out += (*rng)() % 5 == 0 ? "\r\n" : "\n";
  }
  return out;
}

// The shard plan's invariants, checked against the files' bytes:
//  - every input is covered exactly once, in order: shard by shard, piece by
//  piece, the pieces
//    go through (input, begin) in increasing order without gaps or overlap;
//  - a cut is at a line start (and, with `starts`, before a line that starts an
//  event);
//  - with line numbers, first_line is 1 + the '\n' before begin.
void CheckPlan(const ShardPlan& sp, const std::vector<std::string>& contents, bool starts,
               bool numbered) {
  size_t input = 0;
  uint64_t next = 0;
  for (const auto& pieces : sp.shards) {
    for (const ShardPiece& p : pieces) {
      if (p.input != input) {  // the previous input must have been finished
        ASSERT_EQ(p.input, input + 1);
        ASSERT_EQ(next, contents[input].size());
        input = p.input;
        next = 0;
      }
      ASSERT_EQ(p.range.begin, next) << "input " << p.input;
      ASSERT_LE(p.range.begin, p.range.end);
      const std::string& c = contents[p.input];
      if (p.range.begin > 0) {
        EXPECT_EQ(c[p.range.begin - 1], '\n') << "a cut not at a line start";
        if (starts) {
          EXPECT_EQ(c[p.range.begin], 'S') << "a cut inside an event";
        }
        if (numbered) {
          const uint64_t lines = std::count(c.begin(), c.begin() + p.range.begin, '\n');
          EXPECT_EQ(p.range.first_line, lines + 1);
        }
      } else {
        EXPECT_EQ(p.range.first_line, 1u);
      }
      next = p.range.end;
    }
  }
  EXPECT_EQ(input, contents.size() - 1);
  EXPECT_EQ(next, contents.back().size());
}

TEST(MakeShardPlan, RandomFilesAreCutAtLineStartsIntoContiguousShards) {
  TempDir dir;
  std::mt19937 rng(7);
  for (int round = 0; round < 30; ++round) {
    std::vector<std::string> names, contents;
    const size_t files = 1 + rng() % 4;
    for (size_t f = 0; f < files; ++f) {
      contents.push_back(RandomLines(&rng, rng() % 200, round % 3 == 0 ? 400 : 30));
      names.push_back(
          dir.Write("r" + std::to_string(round) + "-" + std::to_string(f), contents.back()));
    }
    const bool numbered = round % 2 == 1;
    Plan plan =
        MakePlan(numbered ? "  - {kind: records, path: r.jsonl, line_numbers: true}\n" : "");
    for (size_t shards : {1, 2, 3, 8, 50}) {
      SCOPED_TRACE("round " + std::to_string(round) + ", " + std::to_string(shards) + " shards");
      Result<ShardPlan> sp = MakeShardPlan(plan, names, shards, "t.yaml", {}, "config");
      ASSERT_TRUE(sp.ok()) << sp.status().message();
      ASSERT_EQ(sp->shards.size(), shards);
      EXPECT_EQ(sp->line_numbers, numbered);
      CheckPlan(*sp, contents, /*starts=*/false, numbered);
    }
  }
}

TEST(MakeShardPlan, MultiLineInputsAreCutOnlyBeforeAnEventStart) {
  TempDir dir;
  std::mt19937 rng(11);
  Plan plan = MakePlan("", "    multiline: {start: '^S'}\n");
  for (int round = 0; round < 20; ++round) {
    std::string content = "S" + RandomLines(&rng, 300, 40, /*start_every=*/7);
    std::string name = dir.Write("m" + std::to_string(round), content);
    for (size_t shards : {2, 5, 17}) {
      Result<ShardPlan> sp = MakeShardPlan(plan, {name}, shards, "t.yaml", {}, "config");
      ASSERT_TRUE(sp.ok()) << sp.status().message();
      CheckPlan(*sp, {content}, /*starts=*/true, /*numbered=*/false);
    }
  }
}

TEST(MakeShardPlan, SpreadsBytesEvenlyOverShards) {
  TempDir dir;
  std::string content;
  for (int i = 0; i < 10000; ++i) content += "line number " + std::to_string(i) + "\n";
  std::string name = dir.Write("even", content);
  Result<ShardPlan> sp = MakeShardPlan(MakePlan(), {name}, 4, "t.yaml", {}, "config");
  ASSERT_TRUE(sp.ok());
  for (const auto& pieces : sp->shards) {
    ASSERT_EQ(pieces.size(), 1u);
    const double share = double(pieces[0].range.end - pieces[0].range.begin) / content.size();
    EXPECT_NEAR(share, 0.25, 0.01);
  }
}

TEST(MakeShardPlan, CompressedFilesAndUrlsAreNeverCut) {
  TempDir dir;
  std::string big = dir.Write("g.log", std::string(5000, 'b') + "\n" + std::string(5000, 'c'));
  ASSERT_EQ(std::system(("gzip -n " + big).c_str()), 0);
  Result<ShardPlan> sp = MakeShardPlan(MakePlan(), {big + ".gz", "http://127.0.0.1:1/x.log"}, 4,
                                       "t.yaml", {}, "config");
  ASSERT_TRUE(sp.ok()) << sp.status().message();
  std::vector<size_t> pieces_of(2);
  for (const auto& pieces : sp->shards) {
    for (const ShardPiece& p : pieces) {
      ++pieces_of[p.input];
      EXPECT_TRUE(p.range.whole());
    }
  }
  EXPECT_EQ(pieces_of, (std::vector<size_t>{1, 1}));
  EXPECT_TRUE(sp->inputs[0].compressed);
  EXPECT_TRUE(sp->inputs[1].url);
}

TEST(MakeShardPlan, RefusesStdinAndIncrementalJobs) {
  Result<ShardPlan> sp = MakeShardPlan(MakePlan(), {"-"}, 2, "t.yaml", {}, "config");
  EXPECT_EQ(sp.status().code(), StatusCode::kUsage);
  Plan incremental = MakePlan();
  incremental.config.state = "s.json";
  sp = MakeShardPlan(incremental, {}, 2, "t.yaml", {}, "config");
  EXPECT_EQ(sp.status().code(), StatusCode::kConfig);
  EXPECT_NE(sp.status().message().find("state:"), std::string::npos);
}

TEST(ShardPlanFile, RoundTripsAndRefusesGarbageNamingTheFile) {
  TempDir dir;
  std::string content = "one\ntwo\nthree\nfour\n";
  std::string name = dir.Write("f.log", content);
  Result<ShardPlan> sp =
      MakeShardPlan(MakePlan("  - {kind: records, path: r.jsonl, line_numbers: true}\n"),
                    {name, "https://h/x"}, 3, "t.yaml", {"a.b=c"}, "config bytes");
  ASSERT_TRUE(sp.ok());
  const std::string text = EncodeShardPlan(*sp);
  Result<ShardPlan> back = DecodeShardPlan(text, "plan.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(EncodeShardPlan(*back), text);
  EXPECT_EQ(back->overrides, std::vector<std::string>{"a.b=c"});
  EXPECT_EQ(back->config_hash, ContentHash("config bytes"));
  for (const std::string& bad :
       std::vector<std::string>{"", "{}", "[1]", "{\"format\": \"logpipe-shard-plan\"}",
                                text.substr(0, text.size() / 2)}) {
    Result<ShardPlan> r = DecodeShardPlan(bad, "plan.json");
    EXPECT_EQ(r.status().code(), StatusCode::kDataError) << bad;
    EXPECT_NE(r.status().message().find("plan.json"), std::string::npos);
  }
  std::string wrong_input = text;
  wrong_input.replace(wrong_input.find("\"input\": 0"), 10, "\"input\": 9");
  EXPECT_FALSE(DecodeShardPlan(wrong_input, "plan.json").ok());
}

}  // namespace
}  // namespace logpipe
