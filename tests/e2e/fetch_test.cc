// End-to-end: the fetch stage. The sample log is split into parts (some gzip) served by the
// loopback test server; the real binary reads them as URL inputs under each fetch model and
// its answers must equal the independent reference job's, byte-identical across models,
// faults included. Also the failure modes (exit codes, skip), urls_from, --dry-run, --explain
// and config errors.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/e2e_util.h"
#include "tests/support/compress.h"
#include "tests/support/http_test_server.h"
#include "tests/support/reference_job.h"

namespace logpipe::testing {
namespace {

using nlohmann::json;

// The sample split at line boundaries into `n` parts of unequal size.
std::vector<std::string> SplitSample(size_t n) {
  const std::string all = ReadFile(SourcePath("data/sample/apache_combined.log"));
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t end = all.size();
    if (i + 1 < n) {
      // Parts grow: 1/10, 2/10, 3/10, 4/10 of the bytes for n = 4.
      size_t target = all.size() * (i + 1) * (i + 2) / (n * (n + 1));
      end = all.find('\n', std::max(target, start)) + 1;
    }
    parts.push_back(all.substr(start, end - start));
    start = end;
  }
  return parts;
}

std::string Concat(const std::vector<std::string>& parts) {
  std::string all;
  for (const auto& p : parts) all += p;
  return all;
}

// The reference job with a records output too: by_status, top_paths, records of 404s.
std::string JobYaml(const std::string& fetch_stage, const std::string& inputs,
                    const std::string& dir) {
  return "version: 1\nname: fetch-job\ninputs:\n" + inputs + "stages:\n" + fetch_stage +
         "  - type: parse\n    pattern: combined\n    fields: {status: int, bytes: int}\n"
         "  - type: aggregate\n    name: by_status\n    group_by: [status]\n"
         "    metrics: {hits: count, bytes: sum(bytes)}\n"
         "  - type: aggregate\n    name: top_paths\n    metrics: {top: 'top(path, 10)'}\n"
         "outputs:\n  - {path: \"" + dir + "/report.json\", format: json}\n"
         "  - {kind: records, path: \"" + dir + "/records.jsonl\", fields: [ip, path, status], "
         "line_numbers: true}\n";
}

std::string FetchStage(const std::string& model, int workers, const std::string& extra = "") {
  std::string exec = model == "serial" ? "{model: serial}"
                                       : "{model: " + model + ", workers: " + std::to_string(workers) + "}";
  return "  - type: fetch\n    exec: " + exec + "\n    buffer_bytes: 64KiB\n"
         "    retry_delay: 20ms\n    max_retry_delay: 1s\n    low_speed_time: 1s\n" + extra;
}

std::string UrlInputs(const std::vector<std::string>& urls) {
  std::string out;
  for (const auto& u : urls) out += "  - url: \"" + u + "\"\n";
  return out;
}

void ExpectReportEqualsReference(const json& report, const ReferenceResult& ref) {
  EXPECT_EQ(report["totals"]["lines"], ref.lines);
  EXPECT_EQ(report["totals"]["matched"], ref.matched);
  EXPECT_EQ(report["totals"]["unparsed"], ref.unparsed);
  const json& rows = report["tables"]["by_status"]["rows"];
  ASSERT_EQ(rows.size(), ref.status.size());
  size_t i = 0;
  for (const auto& [status, count_bytes] : ref.status) {
    EXPECT_EQ(rows[i]["status"], status);
    EXPECT_EQ(rows[i]["hits"], count_bytes.first) << "status " << status;
    EXPECT_EQ(rows[i]["bytes"], count_bytes.second) << "status " << status;
    ++i;
  }
  auto top = ref.TopPaths(10);
  const json& got_top = report["tables"]["top_paths"]["rows"][0]["top"];
  ASSERT_EQ(got_top.size(), top.size());
  for (size_t k = 0; k < top.size(); ++k) {
    EXPECT_EQ(got_top[k]["value"], top[k].first);
    EXPECT_EQ(got_top[k]["count"], top[k].second);
  }
}

class FetchE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start());
    parts_ = SplitSample(4);
    for (size_t i = 0; i < parts_.size(); ++i) {
      const bool gz = i % 2 == 1;
      const std::string path = "/logs/part" + std::to_string(i) + (gz ? ".log.gz" : ".log");
      HttpResource r;
      r.latency_ms = static_cast<int>(parts_.size() - i) * 40;  // later parts answer first
      server_.Serve(path, gz ? Gzip(parts_[i]) : parts_[i], r);
      paths_.push_back(path);
      urls_.push_back(server_.url(path));
    }
  }

  // The parts as local files (plain text), as `inputs:` entries.
  std::string LocalInputs(const TempDir& dir) const {
    std::string inputs;
    for (size_t i = 0; i < parts_.size(); ++i) {
      inputs += "  - path: \"" + dir.Write("part" + std::to_string(i) + ".log", parts_[i]) + "\"\n";
    }
    return inputs;
  }

  int TotalRequests() const {
    int n = 0;
    for (const auto& p : paths_) n += server_.requests(p);
    return n;
  }

  // Runs the job on `urls` with a fetch stage; returns {report, records}, or fails the test.
  std::pair<std::string, std::string> Run(const std::string& fetch_stage,
                                          const std::string& inputs) {
    TempDir dir;
    CommandResult r = RunConfig(dir, JobYaml(fetch_stage, inputs, dir.path()));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (r.exit_code != 0) return {};
    return {ReadFile(dir.path() + "/report.json"), ReadFile(dir.path() + "/records.jsonl")};
  }

  HttpTestServer server_;
  std::vector<std::string> parts_;
  std::vector<std::string> paths_;
  std::vector<std::string> urls_;
};

TEST_F(FetchE2eTest, EveryModelAndWorkerCountGivesTheReferenceAnswersByteIdentically) {
  // The same job on local copies of the parts: the answers URL inputs must reproduce.
  TempDir local;
  const auto [local_report, local_records] = Run("", LocalInputs(local));
  ASSERT_FALSE(local_report.empty());
  ExpectReportEqualsReference(json::parse(local_report), RunReferenceJob(Concat(parts_)));

  const std::vector<std::pair<std::string, int>> models = {
      {"serial", 1}, {"threads", 1}, {"threads", 3}, {"async", 1}, {"async", 2}, {"async", 8}};
  for (const auto& [model, workers] : models) {
    SCOPED_TRACE(model + " " + std::to_string(workers));
    const auto [report, records] = Run(FetchStage(model, workers), UrlInputs(urls_));
    EXPECT_EQ(report, local_report);
    EXPECT_TRUE(records == local_records) << "records differ from the local run's";
    EXPECT_EQ(std::count(records.begin(), records.end(), '\n'), 10000 - 1);  // one unparsed
  }
  for (const auto& p : paths_) EXPECT_EQ(server_.requests(p), 6) << p;  // once per run
}

TEST_F(FetchE2eTest, DefaultFetchStageAndPathUrlsWork) {
  // No fetch stage: URL inputs get the default (async) model; `path:` may be a URL too.
  std::string inputs = "  - path: \"" + urls_[0] + "\"\n  - \"" + urls_[1] + "\"\n" +
                       UrlInputs({urls_[2], urls_[3]});
  const auto [report, records] = Run("", inputs);
  ASSERT_FALSE(report.empty());
  ExpectReportEqualsReference(json::parse(report), RunReferenceJob(Concat(parts_)));
}

// Cut bodies (with and without ranges), a 503, a stall: nothing lost or counted twice.
TEST_F(FetchE2eTest, FaultsAreRecoveredWithoutLosingOrDoublingLines) {
  const std::string expected_report = [&] {
    TempDir local;
    return Run("", LocalInputs(local)).first;
  }();
  ASSERT_FALSE(expected_report.empty());
  for (const std::string model : {"serial", "threads", "async"}) {
    SCOPED_TRACE(model);
    std::vector<std::string> urls;
    for (size_t i = 0; i < parts_.size(); ++i) {
      const std::string path = "/faulty/" + model + std::to_string(i) + ".log";
      HttpResource r;
      if (i == 0) {  // cut mid-body, resumed with a Range
        r.drop_after_bytes = static_cast<int64_t>(parts_[i].size() / 3);
        r.drop_first_n = 2;
      } else if (i == 1) {  // cut mid-body, no ranges: restarted and the start skipped
        r.drop_after_bytes = static_cast<int64_t>(parts_[i].size() / 2);
        r.drop_first_n = 1;
        r.ranges = false;
      } else if (i == 2) {
        r.fail_first_n = 2;
        r.fail_status = 503;
      } else {  // stalled past low_speed_time
        r.stall_after_bytes = 100'000;
        r.stall_ms = 5000;
        r.stall_first_n = 1;
      }
      server_.Serve(path, parts_[i], r);
      urls.push_back(server_.url(path));
    }
    const auto [report, records] = Run(FetchStage(model, 4), UrlInputs(urls));
    EXPECT_EQ(report, expected_report);
    EXPECT_EQ(server_.requests("/faulty/" + model + "0.log"), 3);
    EXPECT_EQ(server_.requests("/faulty/" + model + "2.log"), 3);
  }
}

TEST_F(FetchE2eTest, FailedDownloadExits69NamingTheUrlAndWritesNoOutput) {
  for (const std::string model : {"serial", "threads", "async"}) {
    SCOPED_TRACE(model);
    TempDir dir;
    std::vector<std::string> urls = urls_;
    urls.insert(urls.begin() + 2, server_.url("/logs/missing.log"));
    CommandResult r = RunConfig(dir, JobYaml(FetchStage(model, 3), UrlInputs(urls), dir.path()));
    EXPECT_EQ(r.exit_code, 69) << r.err;
    EXPECT_NE(r.err.find(server_.url("/logs/missing.log")), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("404"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/report.json"));
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/records.jsonl"));
  }
}

TEST_F(FetchE2eTest, ChangedBodyDuringResumeExits65) {
  HttpResource r;
  r.drop_after_bytes = 10'000;
  r.drop_first_n = 1;
  r.etag_changes = true;
  server_.Serve("/moving.log", parts_[0], r);
  TempDir dir;
  CommandResult res = RunConfig(
      dir, JobYaml(FetchStage("async", 4), UrlInputs({urls_[1], server_.url("/moving.log")}),
                   dir.path()));
  EXPECT_EQ(res.exit_code, 65) << res.err;
  EXPECT_NE(res.err.find(server_.url("/moving.log")), std::string::npos) << res.err;
  EXPECT_NE(res.err.find("changed"), std::string::npos) << res.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/report.json"));
}

TEST_F(FetchE2eTest, SkippedDownloadIsReportedAndTheRestCounted) {
  const std::string missing = server_.url("/logs/missing.log");
  for (const std::string model : {"serial", "threads", "async"}) {
    SCOPED_TRACE(model);
    TempDir dir;
    std::vector<std::string> urls = urls_;
    urls.insert(urls.begin() + 1, missing);
    CommandResult r = RunConfig(
        dir, JobYaml(FetchStage(model, 3, "    on_fetch_error: skip\n"), UrlInputs(urls),
                     dir.path()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("skipped"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
    json report = ReadJson(dir.path() + "/report.json");
    EXPECT_EQ(report["totals"]["skipped_inputs"], 1);
    ASSERT_EQ(report["skipped_inputs"].size(), 1u) << report.dump();
    EXPECT_EQ(report["skipped_inputs"][0]["input"], missing);
    EXPECT_NE(report["skipped_inputs"][0]["error"].get<std::string>().find("404"),
              std::string::npos);
    ExpectReportEqualsReference(report, RunReferenceJob(Concat(parts_)));
  }
}

// A download that keeps being cut mid-body after retries is skipped too; every model gives
// the same report (what part of the cut input counts must not depend on the model).
TEST_F(FetchE2eTest, DownloadCutOnEveryAttemptIsSkippedTheSameWayByEveryModel) {
  HttpResource r;
  r.drop_after_bytes = static_cast<int64_t>(parts_[2].size() / 3);  // every request, resumed too
  server_.Serve("/cut.log", parts_[2], r);
  const std::string cut = server_.url("/cut.log");
  std::string first_report;
  for (const std::string model : {"serial", "threads", "async"}) {
    SCOPED_TRACE(model);
    TempDir dir;
    CommandResult res = RunConfig(
        dir, JobYaml(FetchStage(model, 3, "    on_fetch_error: skip\n    retries: 1\n"),
                     UrlInputs({urls_[0], urls_[1], cut, urls_[3]}), dir.path()));
    ASSERT_EQ(res.exit_code, 0) << res.err;
    EXPECT_NE(res.err.find("skipped " + cut), std::string::npos) << res.err;
    const std::string report = ReadFile(dir.path() + "/report.json");
    json j = json::parse(report);
    EXPECT_EQ(j["totals"]["skipped_inputs"], 1);
    EXPECT_EQ(j["skipped_inputs"][0]["input"], cut);
    // Inputs 0, 1 and 3 are counted whole.
    EXPECT_GE(j["totals"]["lines"].get<uint64_t>(),
              RunReferenceJob(parts_[0] + parts_[1] + parts_[3]).lines);
    if (first_report.empty()) first_report = report;
    EXPECT_EQ(report, first_report);
  }
  EXPECT_EQ(server_.requests("/cut.log"), 6);  // 2 attempts per run (resumed once)
}

TEST_F(FetchE2eTest, UrlsFromFileWithCommentsAndBlankLines) {
  TempDir dir;
  std::string list = "# parts of the sample\n\n";
  for (size_t i = 0; i < urls_.size(); ++i) {
    list += (i == 2 ? "   " : "") + urls_[i] + (i == 1 ? "  \n\n# gzip next\n" : "\n");
  }
  const std::string list_path = dir.Write("urls.txt", list);
  CommandResult r = RunConfig(
      dir, JobYaml(FetchStage("threads", 2), "  - urls_from: \"" + list_path + "\"\n", dir.path()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectReportEqualsReference(ReadJson(dir.path() + "/report.json"),
                              RunReferenceJob(Concat(parts_)));
}

TEST_F(FetchE2eTest, UrlsFromLineThatIsNotAUrlIsAConfigErrorNamingFileAndLine) {
  TempDir dir;
  const std::string list_path =
      dir.Write("urls.txt", "# comment\n" + urls_[0] + "\n\nlogs/part1.log\n");
  CommandResult r = RunConfig(
      dir, JobYaml(FetchStage("async", 2), "  - urls_from: \"" + list_path + "\"\n", dir.path()));
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_NE(r.err.find(list_path + ":4"), std::string::npos) << r.err;
  EXPECT_EQ(TotalRequests(), 0);
}

TEST_F(FetchE2eTest, DryRunDoesNotFetch) {
  TempDir dir;
  const std::string config = dir.Write("run.yaml", JobYaml(FetchStage("async", 4), UrlInputs(urls_), dir.path()));
  CommandResult r = RunLogpipe({"--config", config, "--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("not fetched"), std::string::npos) << r.err;
  EXPECT_EQ(TotalRequests(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/report.json"));
}

TEST_F(FetchE2eTest, ExplainShowsTheFetchLine) {
  TempDir dir;
  CommandResult r = RunConfig(
      dir, JobYaml(FetchStage("async", 4, "    on_fetch_error: skip\n"), UrlInputs(urls_),
                   dir.path()),
      {"--explain"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("fetch: async, 4 transfers in flight"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("skipped"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(urls_[0]), std::string::npos) << r.out;
  r = RunConfig(dir, JobYaml(FetchStage("threads", 3), UrlInputs(urls_), dir.path()),
                {"--explain"});
  EXPECT_NE(r.out.find("fetch: threads, 3 I/O threads"), std::string::npos) << r.out;
  EXPECT_EQ(TotalRequests(), 0);
}

TEST_F(FetchE2eTest, BadFetchConfigIsExit78) {
  TempDir dir;
  CommandResult r = RunConfig(dir, JobYaml(FetchStage("tbb", 2), UrlInputs(urls_), dir.path()));
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_NE(r.err.find("serial, threads or async"), std::string::npos) << r.err;

  r = RunConfig(dir, JobYaml(FetchStage("async", 2, "    retires: 3\n"), UrlInputs(urls_),
                             dir.path()));
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_NE(r.err.find("retires"), std::string::npos) << r.err;

  r = RunConfig(dir, JobYaml(FetchStage("async", 2, "    on_fetch_error: ignore\n"),
                             UrlInputs(urls_), dir.path()));
  EXPECT_EQ(r.exit_code, 78) << r.err;

  r = RunConfig(dir, JobYaml(FetchStage("async", 2), "  - url: \"ftp://example.com/a.log\"\n",
                             dir.path()));
  EXPECT_EQ(r.exit_code, 78) << r.err;

  r = RunConfig(dir, JobYaml(FetchStage("async", 2),
                             "  - path: \"/tmp/x.log\"\n    retries: 2\n", dir.path()));
  EXPECT_EQ(r.exit_code, 78) << r.err;  // URL keys do not apply to a path
  EXPECT_EQ(TotalRequests(), 0);
}

// Per-input URL keys override the fetch stage's: here one input may retry, the other not.
TEST_F(FetchE2eTest, PerInputUrlKeysOverrideTheFetchStage) {
  HttpResource r;
  r.fail_first_n = 1;
  r.fail_status = 503;
  server_.Serve("/flaky.log", parts_[0], r);
  TempDir dir;
  std::string inputs = "  - url: \"" + server_.url("/flaky.log") + "\"\n    retries: 2\n" +
                       UrlInputs({urls_[1], urls_[2], urls_[3]});
  CommandResult res =
      RunConfig(dir, JobYaml(FetchStage("async", 4, "    retries: 0\n"), inputs, dir.path()));
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_EQ(server_.requests("/flaky.log"), 2);
  ExpectReportEqualsReference(ReadJson(dir.path() + "/report.json"),
                              RunReferenceJob(Concat(parts_)));
}

// --trace shows the fetch stage: one "fetch" span per downloaded input, on I/O-thread tracks
// (threads) or transfer-slot tracks (async), besides the reading thread's waits.
TEST_F(FetchE2eTest, TraceHasOneFetchSpanPerInputOnFetchTracks) {
  for (const auto& [model, prefix] : {std::pair<std::string, std::string>{"threads", "fetch thread "},
                                      {"async", "fetch slot "}}) {
    SCOPED_TRACE(model);
    TempDir dir;
    const std::string trace = dir.path() + "/trace.json";
    const std::string stats = dir.path() + "/stats.json";
    CommandResult r = RunConfig(dir, JobYaml(FetchStage(model, 3), UrlInputs(urls_), dir.path()),
                                {"--trace", trace, "--stats-json", stats});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json t = ReadJson(trace);
    std::map<int, std::string> names;
    for (const auto& e : t["traceEvents"]) {
      if (e["ph"] == "M" && e["name"] == "thread_name") names[e["tid"]] = e["args"]["name"];
    }
    std::multiset<uint64_t> fetched;
    for (const auto& e : t["traceEvents"]) {
      if (e["ph"] != "X" || e["cat"] != "fetch") continue;
      EXPECT_EQ(names[e["tid"]].rfind(prefix, 0), 0u) << names[e["tid"]];
      EXPECT_GT(e["dur"].get<double>(), 0);
      fetched.insert(e["args"]["input"].get<uint64_t>());
    }
    EXPECT_EQ(fetched, (std::multiset<uint64_t>{0, 1, 2, 3}));
    bool fetch_role = false;
    const json s = ReadJson(stats);
    for (const auto& track : s["tracks"]) {
      if (track["role"] == "fetch" && track["fetch_s"].get<double>() > 0) fetch_role = true;
    }
    EXPECT_TRUE(fetch_role);
  }
}

}  // namespace
}  // namespace logpipe::testing
