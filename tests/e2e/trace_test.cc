// End-to-end: --trace writes a valid Chrome trace with one named track per worker (shards
// included), and --stats-json the run's measurements, under every execution model.

#include <gtest/gtest.h>

#include <set>

#include "tests/e2e/e2e_util.h"

namespace logpipe::testing {
namespace {

struct ModelCase {
  const char* model;
  int workers;
  std::vector<std::string> expected_tracks;  // name prefixes that must appear
};

TEST(TraceAndStats, EveryModelWritesTracksThatAddUp) {
  TempDir dir;
  const std::string input = SourcePath("data/sample/apache_combined.log");
  const std::vector<ModelCase> cases = {
      {"serial", 1, {"serial"}},
      // threads: no reading thread; the first segment's workers read in turn.
      {"threads", 2, {"segment 1 worker 1", "segment 1 worker 2", "writer"}},
      {"tbb", 2, {"reader", "writer", "segment 1 thread"}},
      {"processes", 2, {"parent", "shard 1", "shard 2"}},
  };
  for (const ModelCase& c : cases) {
    SCOPED_TRACE(c.model);
    const std::string trace = dir.path() + "/" + c.model + ".trace.json";
    const std::string stats = dir.path() + "/" + c.model + ".stats.json";
    CommandResult r = RunConfig(
        dir, StatusJobYaml(input, dir.path() + "/report.json"),
        {"--set", std::string("stages.parse.exec.model=") + c.model, "--set",
         "stages.parse.exec.workers=" + std::to_string(c.workers), "--set",
         "read.chunk_bytes=64KiB", "--trace", trace, "--stats-json", stats});
    ASSERT_EQ(r.exit_code, 0) << r.err;

    nlohmann::json s = ReadJson(stats);
    EXPECT_EQ(s["logpipe_stats"], 1);
    EXPECT_EQ(s["bytes"], 2370789);  // data/sample/apache_combined.log, as README says
    EXPECT_EQ(s["lines"], 10000);
    EXPECT_EQ(s["segments"][0]["model"], c.model);
    const double wall = s["wall_seconds"];
    EXPECT_GT(wall, 0);
    double work = 0;
    std::set<std::string> names;
    for (const auto& t : s["tracks"]) {
      names.insert(t["name"].get<std::string>());
      const double busy = t["busy_s"], wait = t["wait_input_s"], blocked = t["blocked_output_s"];
      // A track's busy, idle and blocked time happen one after another within the run.
      EXPECT_LE(busy + wait + blocked, wall * 1.05 + 0.01) << t["name"];
      EXPECT_GE(t["cpu_s"].get<double>(), 0);
      work += t["work_s"].get<double>();
    }
    EXPECT_GT(work, 0) << "somebody parsed the chunks";
    for (const std::string& prefix : c.expected_tracks) {
      bool found = false;
      for (const auto& n : names) found = found || n.rfind(prefix, 0) == 0;
      EXPECT_TRUE(found) << "no track named " << prefix << "...";
    }
    if (std::string(c.model) == "processes") {
      ASSERT_TRUE(s.contains("processes"));
      EXPECT_EQ(s["processes"]["shards_started"], 2);
      EXPECT_GT(s["processes"]["partial_bytes"].get<uint64_t>(), 0u);
      // A plain file and no line numbers shown: the shards cut byte ranges, the parent none.
      EXPECT_GT(s["processes"]["plain_ranges"].get<uint64_t>(), 0u);
      EXPECT_EQ(s["processes"]["plain_chunks"], 0);
      EXPECT_EQ(s["processes"]["streamed_chunks"], 0);
    } else {
      EXPECT_FALSE(s.contains("processes"));
    }

    // The trace: valid JSON, a thread_name per track, and one "work" span per chunk (with
    // processes' byte ranges, a span's "chunk" is its range, shared by the range's chunks).
    nlohmann::json t = ReadJson(trace);
    std::set<std::string> thread_names;
    std::set<uint64_t> worked_chunks;
    uint64_t work_spans = 0;
    for (const auto& e : t["traceEvents"]) {
      if (e["ph"] == "M" && e["name"] == "thread_name") thread_names.insert(e["args"]["name"]);
      if (e["ph"] == "X" && e["cat"] == "work") {
        worked_chunks.insert(e["args"]["chunk"].get<uint64_t>());
        ++work_spans;
      }
    }
    EXPECT_EQ(thread_names, names);
    EXPECT_EQ(work_spans, s["chunks"].get<uint64_t>());
    if (std::string(c.model) != "processes") {
      EXPECT_EQ(worked_chunks.size(), s["chunks"].get<uint64_t>());
    }
    EXPECT_GT(worked_chunks.size(), 30u);  // 2.3 MB in 64 KiB chunks
  }
}

TEST(TraceAndStats, UnwritableTraceFailsBeforeReading) {
  TempDir dir;
  CommandResult r = RunConfig(
      dir, StatusJobYaml(SourcePath("data/sample/apache_combined.log"), dir.path() + "/r.json"),
      {"--trace", dir.Write("a_file", "x") + "/t.json"});  // a path under a file
  EXPECT_EQ(r.exit_code, 73) << r.err;
  EXPECT_NE(r.err.find("t.json"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace logpipe::testing
