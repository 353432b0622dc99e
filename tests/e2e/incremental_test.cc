// End-to-end: incremental runs (`state:`). Each test writes log files the way a web server and
// logrotate would (appends, partial last lines, rename / compress / copytruncate rotation,
// truncation), runs the real binary, and checks the report against counts the test keeps
// itself of the lines it wrote (status -> hits, sum of bytes), never against logpipe's output.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/e2e/e2e_util.h"
#include "tests/support/compress.h"

namespace logpipe::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// One combined-format line; `n` is its unique path number and its byte count.
std::string Line(int n, int status) {
  return "10.0.0." + std::to_string(n % 250) + " - - [17/May/2015:10:05:03 +0000] \"GET /p" +
         std::to_string(n) + " HTTP/1.1\" " + std::to_string(status) + " " + std::to_string(n) +
         " \"-\" \"ua\"\n";
}

// What the test wrote, counted independently: status -> (hits, bytes).
struct Expected {
  std::map<int, std::pair<uint64_t, uint64_t>> by_status;
  uint64_t lines = 0;
  void Add(int n, int status) {
    auto& [hits, bytes] = by_status[status];
    ++hits;
    bytes += static_cast<uint64_t>(n);
    ++lines;
  }
};

int StatusOf(int n) {
  static const int kStatuses[] = {200, 200, 200, 404, 500, 301};
  return kStatuses[n % 6];
}

// A log directory and a writer: lines numbered 1, 2, ... in writing order.
class Logs {
 public:
  explicit Logs(const TempDir& dir) : dir_(dir.path() + "/logs") { fs::create_directories(dir_); }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Appends `count` whole lines to `name`, counted in `expected`.
  void Append(const std::string& name, int count, Expected* expected) {
    std::string text;
    for (int i = 0; i < count; ++i) {
      const int n = ++next_;
      text += Line(n, StatusOf(n));
      expected->Add(n, StatusOf(n));
    }
    AppendRaw(name, text);
  }
  // Starts a line without its '\n'; FinishPartial completes it (then it counts).
  void StartPartial(const std::string& name) {
    partial_n_ = ++next_;
    const std::string line = Line(partial_n_, StatusOf(partial_n_));
    AppendRaw(name, line.substr(0, 20));
  }
  void FinishPartial(const std::string& name, Expected* expected, bool newline = true) {
    std::string line = Line(partial_n_, StatusOf(partial_n_));
    if (!newline) line.pop_back();
    AppendRaw(name, line.substr(20));
    expected->Add(partial_n_, StatusOf(partial_n_));
  }
  void AppendRaw(const std::string& name, const std::string& text) {
    std::ofstream(Path(name), std::ios::app | std::ios::binary) << text;
  }
  void Rename(const std::string& from, const std::string& to) { fs::rename(Path(from), Path(to)); }
  // gzip FILE: FILE.gz (a new inode), FILE removed.
  void Gzip(const std::string& name) {
    std::ofstream(Path(name + ".gz"), std::ios::binary) << testing::Gzip(ReadFile(Path(name)));
    fs::remove(Path(name));
  }
  // logrotate copytruncate: copy to `to`, then truncate the original in place.
  void CopyTruncate(const std::string& name, const std::string& to) {
    fs::copy_file(Path(name), Path(to));
    fs::resize_file(Path(name), 0);
  }

 private:
  std::string dir_;
  int next_ = 0;
  int partial_n_ = 0;
};

struct Job {
  explicit Job(std::string state_path = "", bool accumulate_all = true)
      : state(std::move(state_path)), accumulate(accumulate_all) {}
  std::string state;
  bool accumulate = true;
  std::string model = "serial";
  std::string fetch = "serial";
  int workers = 2;
  std::string records;  // a records output (jsonl with _line), if set
  std::string metrics = "{hits: count, bytes: sum(bytes)}";
};

std::string JobYaml(const TempDir& dir, const Job& job) {
  std::string y = "version: 1\nname: inc\ninputs:\n  - path: \"" + dir.path() +
                  "/logs/access.log*\"\nstages:\n";
  if (job.fetch != "serial")
    y += "  - {type: fetch, exec: {model: " + job.fetch + ", workers: 2}}\n";
  y += "  - type: parse\n    pattern: combined\n    fields: {status: int, bytes: int}\n"
       "    exec: {model: " +
       job.model + (job.model == "serial" ? "" : ", workers: " + std::to_string(job.workers)) +
       "}\n"
       "  - type: aggregate\n    group_by: [status]\n    metrics: " +
       job.metrics +
       "\n"
       "outputs:\n  - {path: \"" +
       dir.path() + "/report.json\", format: json}\n";
  if (!job.records.empty()) {
    y += "  - {kind: records, path: \"" + job.records + "\", fields: [path], line_numbers: true}\n";
  }
  if (!job.state.empty()) y += "state: \"" + job.state + "\"\n";
  if (job.accumulate) y += "accumulate: true\n";
  return y;
}

CommandResult RunInc(const TempDir& dir, const Job& job, std::vector<std::string> extra = {}) {
  return RunConfig(dir, JobYaml(dir, job), extra);
}

void ExpectReport(const json& report, const Expected& expected, const std::string& what) {
  EXPECT_EQ(report["totals"]["lines"], expected.lines) << what;
  EXPECT_EQ(report["totals"]["matched"], expected.lines) << what;
  const json& rows = report["tables"]["aggregate"]["rows"];
  ASSERT_EQ(rows.size(), expected.by_status.size()) << what << "\n" << report.dump();
  size_t i = 0;
  for (const auto& [status, hits_bytes] : expected.by_status) {
    EXPECT_EQ(rows[i]["status"], status) << what;
    EXPECT_EQ(rows[i]["hits"], hits_bytes.first) << what << " status " << status;
    EXPECT_EQ(rows[i]["bytes"], hits_bytes.second) << what << " status " << status;
    ++i;
  }
}

// Runs and checks the report against `expected`.
void RunAndExpect(const TempDir& dir, const Job& job, const Expected& expected,
                  const std::string& what) {
  CommandResult r = RunInc(dir, job);
  ASSERT_EQ(r.exit_code, 0) << what << ": " << r.err;
  ExpectReport(ReadJson(dir.path() + "/report.json"), expected, what);
}

std::vector<int> LineNumbers(const std::string& records_path) {
  std::vector<int> out;
  std::ifstream in(records_path);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line)["_line"]);
  return out;
}

TEST(Incremental, AppendsAndAPartialLastLineAreReadOnceEach) {
  TempDir dir;
  Logs logs(dir);
  Job job{dir.path() + "/st.state", /*accumulate=*/false};
  job.records = dir.path() + "/rec.jsonl";
  Expected run1;
  logs.Append("access.log", 3, &run1);
  logs.StartPartial("access.log");
  RunAndExpect(dir, job, run1, "first run: 3 whole lines, the partial one waits");
  EXPECT_EQ(LineNumbers(job.records), (std::vector<int>{1, 2, 3}));

  Expected run2;
  logs.FinishPartial("access.log", &run2);
  logs.Append("access.log", 2, &run2);
  RunAndExpect(dir, job, run2, "second run: the completed line and 2 more");
  EXPECT_EQ(LineNumbers(job.records), (std::vector<int>{4, 5, 6}));  // numbering continues

  RunAndExpect(dir, job, Expected(), "nothing new");

  // A last line without '\n': it waits while the file changes, and is read as final once a
  // run finds the file unchanged since the previous run.
  Expected run4;
  logs.StartPartial("access.log");
  RunAndExpect(dir, job, Expected(), "partial line waits");
  logs.FinishPartial("access.log", &run4, /*newline=*/false);
  RunAndExpect(dir, job, Expected(), "still changing: waits");
  RunAndExpect(dir, job, run4, "unchanged since the previous run: read as final");
  EXPECT_EQ(LineNumbers(job.records), (std::vector<int>{7}));
  RunAndExpect(dir, job, Expected(), "and not read again");
}

TEST(Incremental, RenameRotationIsFollowed) {
  TempDir dir;
  Logs logs(dir);
  Job job{dir.path() + "/st.state"};
  Expected all;
  logs.Append("access.log", 5, &all);
  RunAndExpect(dir, job, all, "run 1");
  logs.Append("access.log", 3, &all);  // written before the rotation, not yet read
  logs.Rename("access.log", "access.log.1");
  logs.Append("access.log", 4, &all);
  RunAndExpect(dir, job, all, "after rename rotation");
  RunAndExpect(dir, job, all, "nothing new");
}

TEST(Incremental, RotationWithCompressionReadsOnlyTheUnreadTail) {
  TempDir dir;
  Logs logs(dir);
  Job job{dir.path() + "/st.state"};
  job.records = dir.path() + "/rec.jsonl";
  Expected all;
  logs.Append("access.log", 5, &all);
  RunAndExpect(dir, job, all, "run 1");
  logs.Append("access.log", 2, &all);
  logs.Rename("access.log", "access.log.1");
  logs.Gzip("access.log.1");
  logs.Append("access.log", 3, &all);
  RunAndExpect(dir, job, all, "after rotation + gzip");
  // Only the 2 unread lines of the compressed file (lines 6, 7) and the 3 new ones.
  EXPECT_EQ(LineNumbers(job.records), (std::vector<int>{1, 2, 3, 6, 7}));
  RunAndExpect(dir, job, all, "nothing new");
}

TEST(Incremental, DelaycompressRotationIsFollowed) {
  TempDir dir;
  Logs logs(dir);
  Job job{dir.path() + "/st.state"};
  Expected all;
  logs.Append("access.log", 4, &all);
  RunAndExpect(dir, job, all, "run 1");
  logs.Append("access.log", 1, &all);
  logs.Rename("access.log", "access.log.1");  // first rotation: .1 stays plain
  logs.Append("access.log", 2, &all);
  RunAndExpect(dir, job, all, "run 2");
  logs.Append("access.log", 3, &all);
  logs.Rename("access.log.1", "access.log.2");  // second rotation: .1 -> .2.gz, log -> .1
  logs.Gzip("access.log.2");
  logs.Rename("access.log", "access.log.1");
  logs.Append("access.log", 2, &all);
  RunAndExpect(dir, job, all, "run 3");
  RunAndExpect(dir, job, all, "nothing new");
}

TEST(Incremental, CopytruncateContinuesInTheCopyAndRestartsTheOriginal) {
  TempDir dir;
  Logs logs(dir);
  Job job{dir.path() + "/st.state"};
  Expected all;
  logs.Append("access.log", 5, &all);
  RunAndExpect(dir, job, all, "run 1");
  logs.Append("access.log", 2, &all);
  logs.CopyTruncate("access.log", "access.log.1");
  logs.Append("access.log", 3, &all);
  CommandResult r = RunInc(dir, job);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectReport(ReadJson(dir.path() + "/report.json"), all, "after copytruncate");
  // The old content is in the copy: nothing was lost, so no warning and no restart.
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(ReadJson(dir.path() + "/report.json")["totals"]["restarted_inputs"], 0);
  // Without the copy among the inputs, the truncation is a restart, warned about.
  logs.Append("access.log", 2, &all);
  fs::remove(logs.Path("access.log.1"));
  logs.CopyTruncate("access.log", "elsewhere.log");
  fs::rename(logs.Path("elsewhere.log"), dir.path() + "/elsewhere.log");
  Expected after = all;
  logs.Append("access.log", 1, &after);
  r = RunInc(dir, job);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("access.log: truncated or rewritten"), std::string::npos) << r.err;
  json report = ReadJson(dir.path() + "/report.json");
  EXPECT_EQ(report["totals"]["restarted_inputs"], 1);
  // The 2 lines appended before the truncation were never read: lost with the copy that is
  // not an input. The report has everything read: `all` minus those 2, plus the new line.
  EXPECT_EQ(report["totals"]["lines"], after.lines - 2);
  // --quiet silences the warning.
  r = RunInc(dir, job, {"--quiet"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
}

TEST(Incremental, TruncationStartsOver) {
  TempDir dir;
  Logs logs(dir);
  Job job{dir.path() + "/st.state", /*accumulate=*/false};
  Expected first;
  logs.Append("access.log", 6, &first);
  RunAndExpect(dir, job, first, "run 1");
  fs::resize_file(logs.Path("access.log"), 0);
  Expected after;
  logs.Append("access.log", 2, &after);  // shorter than the offset read before
  CommandResult r = RunInc(dir, job);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectReport(ReadJson(dir.path() + "/report.json"), after, "after truncation");
  EXPECT_NE(r.err.find("reading it again from the start"), std::string::npos) << r.err;
}

TEST(Incremental, DeletedFilesLeaveTheState) {
  TempDir dir;
  Logs logs(dir);
  Job job{dir.path() + "/st.state"};
  Expected all;
  logs.Append("access.log", 2, &all);
  logs.Append("access.log.1", 2, &all);
  RunAndExpect(dir, job, all, "run 1");
  EXPECT_EQ(ReadJson(job.state)["inputs"].size(), 2u);
  fs::remove(logs.Path("access.log.1"));
  RunAndExpect(dir, job, all, "accumulated totals keep what was read");
  json state = ReadJson(job.state);
  ASSERT_EQ(state["inputs"].size(), 1u);
  EXPECT_EQ(state["inputs"][0]["path"], logs.Path("access.log"));
  EXPECT_EQ(state["runs"], 2);
}

// The sequence of writes and rotations every model must see alike.
std::string AccumulatedReportAfterScenario(const std::string& model, const std::string& fetch,
                                           Expected* expected_out) {
  TempDir dir;
  Logs logs(dir);
  Job job{dir.path() + "/st.state"};
  job.model = model;
  job.fetch = fetch;
  Expected all;
  logs.Append("access.log", 300, &all);
  logs.StartPartial("access.log");
  EXPECT_EQ(RunInc(dir, job, {"--set", "read.chunk_bytes=1"}).exit_code, 0);
  logs.FinishPartial("access.log", &all);
  logs.Append("access.log", 200, &all);
  logs.Rename("access.log", "access.log.1");
  logs.Gzip("access.log.1");
  logs.Append("access.log", 100, &all);
  EXPECT_EQ(RunInc(dir, job).exit_code, 0);
  logs.Append("access.log", 50, &all);
  EXPECT_EQ(RunInc(dir, job, {"--set", "read.chunk_bytes=1"}).exit_code, 0);
  if (expected_out != nullptr) *expected_out = all;
  return ReadFile(dir.path() + "/report.json");
}

TEST(Incremental, EveryExecModelGivesTheSameAccumulatedReport) {
  Expected all;
  const std::string reference = AccumulatedReportAfterScenario("serial", "serial", &all);
  ExpectReport(json::parse(reference), all, "serial");
  for (const auto& [model, fetch] :
       std::vector<std::pair<std::string, std::string>>{{"threads", "serial"},
                                                        {"tbb", "threads"},
                                                        {"processes", "serial"},
                                                        {"processes", "threads"},
                                                        {"serial", "async"}}) {
    EXPECT_EQ(AccumulatedReportAfterScenario(model, fetch, nullptr), reference)
        << model << " with fetch " << fetch;
  }
}

// Accumulated state must hold whole partials: under model processes a report-only run finishes
// top(f, k) from the shards' heads and a few queries (the values that cannot win are never
// sent), which a state file must not do: a path too rare to matter in the first run wins after
// the second. Counted by hand: /rare 1 + 10 = 11 hits, /hot 5.
TEST(Incremental, AccumulatedTopUnderProcessesKeepsValuesThatCouldNotWinYet) {
  TempDir dir;
  Logs logs(dir);
  auto lines = [](const std::string& path, int times) {
    std::string text;
    for (int i = 0; i < times; ++i) {
      text += "10.0.0.1 - - [17/May/2015:10:05:03 +0000] \"GET " + path +
              " HTTP/1.1\" 200 10 \"-\" \"ua\"\n";
    }
    return text;
  };
  Job job{dir.path() + "/st.state"};
  job.model = "processes";
  job.metrics = "{hits: count, top: 'top(path, 1)'}";
  logs.AppendRaw("access.log", lines("/hot", 5) + lines("/rare", 1));
  CommandResult r = RunInc(dir, job);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadJson(dir.path() + "/report.json")["tables"]["aggregate"]["rows"][0]["top"],
            json::parse(R"([{"value": "/hot", "count": 5}])"));
  logs.AppendRaw("access.log", lines("/rare", 10));
  r = RunInc(dir, job);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = ReadJson(dir.path() + "/report.json");
  EXPECT_EQ(report["tables"]["aggregate"]["rows"][0]["hits"], 16);
  EXPECT_EQ(report["tables"]["aggregate"]["rows"][0]["top"],
            json::parse(R"([{"value": "/rare", "count": 11}])"))
      << report.dump();
}

TEST(Incremental, AccumulatedReportEqualsOneFullRunOverTheSameLines) {
  TempDir dir;
  Logs logs(dir);
  Job job{dir.path() + "/st.state"};
  Expected all;
  for (int run = 0; run < 4; ++run) {
    logs.Append("access.log", 25 + run, &all);
    ASSERT_EQ(RunInc(dir, job).exit_code, 0);
  }
  json accumulated = ReadJson(dir.path() + "/report.json");
  ExpectReport(accumulated, all, "accumulated");
  EXPECT_EQ(accumulated["totals"]["new_lines"], 25 + 3);  // the last run's appended lines
  Job full;                                               // no state: the whole file once
  full.accumulate = false;
  ASSERT_EQ(RunInc(dir, full).exit_code, 0);
  json whole = ReadJson(dir.path() + "/report.json");
  EXPECT_EQ(accumulated["tables"], whole["tables"]);
  EXPECT_EQ(accumulated["totals"]["bytes"], whole["totals"]["bytes"]);
}

// kill -9 at each commit step, then a rerun: every line counted exactly once (accumulate).
TEST(Incremental, CrashAtEveryCommitStepThenRerunCountsEveryLineOnce) {
  for (const char* step : {"before-outputs", "after-outputs", "after-state-temp", "after-state"}) {
    SCOPED_TRACE(step);
    TempDir dir;
    Logs logs(dir);
    Job job{dir.path() + "/st.state"};
    Expected all;
    logs.Append("access.log", 10, &all);
    RunAndExpect(dir, job, all, "run 1");
    logs.Append("access.log", 7, &all);
    logs.Rename("access.log", "access.log.1");
    logs.Append("access.log", 4, &all);
    setenv("LOGPIPE_TEST_CRASH_AT", step, 1);
    CommandResult crashed = RunInc(dir, job);
    unsetenv("LOGPIPE_TEST_CRASH_AT");
    EXPECT_EQ(crashed.exit_code, 128 + SIGKILL) << crashed.err;
    RunAndExpect(dir, job, all, "rerun after the crash");
    RunAndExpect(dir, job, all, "and once more: nothing new");
  }
}

// Without accumulate, a crash between outputs and state makes the rerun's report cover the
// same new lines again (replacing the report that already covered them).
TEST(Incremental, CrashAfterOutputsWithoutAccumulateRereadsTheSameLines) {
  TempDir dir;
  Logs logs(dir);
  Job job{dir.path() + "/st.state", /*accumulate=*/false};
  Expected first;
  logs.Append("access.log", 5, &first);
  RunAndExpect(dir, job, first, "run 1");
  Expected second;
  logs.Append("access.log", 3, &second);
  setenv("LOGPIPE_TEST_CRASH_AT", "after-outputs", 1);
  CommandResult crashed = RunInc(dir, job);
  unsetenv("LOGPIPE_TEST_CRASH_AT");
  EXPECT_EQ(crashed.exit_code, 128 + SIGKILL);
  ExpectReport(ReadJson(dir.path() + "/report.json"), second, "the crashed run's report");
  RunAndExpect(dir, job, second, "rerun: the same 3 lines");
  RunAndExpect(dir, job, Expected(), "then nothing new");
}

TEST(Incremental, SigtermDuringAProcessesRunLeavesTheStateUntouched) {
  TempDir dir;
  Logs logs(dir);
  Job job{dir.path() + "/st.state"};
  job.model = "processes";
  Expected all;
  logs.Append("access.log", 10, &all);
  RunAndExpect(dir, job, all, "run 1");
  const std::string before = ReadFile(job.state);
  // Enough new lines that the run is still reading when it is stopped.
  std::string big;
  for (int i = 0; i < 400000; ++i) big += Line(1000 + i, 200);
  logs.AppendRaw("access.log", big);
  const std::string config = dir.Write("run.yaml", JobYaml(dir, job));
  const pid_t pid = fork();
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, STDERR_FILENO);  // its one "interrupted" line
    execl(LOGPIPE_BINARY, LOGPIPE_BINARY, "--config", config.c_str(), "--quiet",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Stop it once its shards exist (the run is then past planning and reading).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool shards = false;
  while (!shards && std::chrono::steady_clock::now() < deadline) {
    std::ifstream children("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) +
                           "/children");
    std::string text;
    std::getline(children, text);
    shards = !text.empty();
    if (!shards) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_TRUE(shards) << "the run never started its shards";
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  if (WEXITSTATUS(status) == 0) GTEST_SKIP() << "the run finished before SIGTERM arrived";
  EXPECT_EQ(WEXITSTATUS(status), 143);
  EXPECT_EQ(ReadFile(job.state), before);
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
  }
  // The stopped run's lines are all read by the next one.
  for (int i = 0; i < 400000; ++i) all.Add(1000 + i, 200);
  RunAndExpect(dir, job, all, "the rerun");
}

TEST(Incremental, ConfigErrorsSayWhatToDo) {
  TempDir dir;
  Logs logs(dir);
  Expected unused;
  logs.Append("access.log", 2, &unused);
  Job no_state;
  no_state.accumulate = true;  // accumulate without state
  CommandResult r = RunInc(dir, no_state);
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.err.find("needs 'state: FILE'"), std::string::npos) << r.err;

  const std::string url_yaml =
      "version: 1\ninputs:\n  - url: http://127.0.0.1:9/x.log\n"
      "stages:\n  - {type: parse, pattern: combined}\nstate: " +
      dir.path() + "/s.state\n";
  r = RunConfig(dir, url_yaml);
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.err.find("cannot be read incrementally"), std::string::npos) << r.err;

  // A state written by another config: named, with what to do.
  Job job{dir.path() + "/st.state"};
  ASSERT_EQ(RunInc(dir, job).exit_code, 0);
  r = RunInc(dir, job, {"--set", "stages.parse.pattern=common"});
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.err.find("written by a run of another config"), std::string::npos) << r.err;
  // The exec model does not matter.
  EXPECT_EQ(RunInc(dir, job, {"--set", "stages.parse.exec.model=threads"}).exit_code, 0);

  // A corrupt state file is never ignored.
  dir.Write("st.state", "{\"format\": \"logpipe-state\", \"vers");
  r = RunInc(dir, job);
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("st.state: not a valid logpipe state file"), std::string::npos) << r.err;
}

// Comparison mode runs each variant on a fresh state of its own: every run reads the inputs
// whole (so all variants agree) and the job's state file is left alone.
TEST(Incremental, CompareModeNeitherUsesNorTouchesTheJobsState) {
  TempDir dir;
  Logs logs(dir);
  Job job(dir.path() + "/st.state");
  Expected all;
  logs.Append("access.log", 20, &all);
  ASSERT_EQ(RunInc(dir, job).exit_code, 0);
  const std::string state = ReadFile(job.state);
  logs.Append("access.log", 5, &all);
  const std::string config = dir.Write("run.yaml", JobYaml(dir, job));
  CommandResult r =
      RunLogpipe({"--config", config, "--compare-set", "stages.parse.exec.model=serial,processes",
                  "--repeat", "2", "--warmup", "0", "--compare-out", dir.path() + "/cmp"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(job.state), state);
  RunAndExpect(dir, job, all, "the job itself still reads the 5 new lines");
  EXPECT_EQ(ReadJson(dir.path() + "/report.json")["totals"]["new_lines"], 5);
}

TEST(Incremental, DryRunAndExplainSayWhatEachInputWouldRead) {
  TempDir dir;
  Logs logs(dir);
  Job job{dir.path() + "/st.state"};
  Expected all;
  logs.Append("access.log", 3, &all);
  ASSERT_EQ(RunInc(dir, job).exit_code, 0);
  const std::string state_before = ReadFile(job.state);
  logs.Rename("access.log", "access.log.1");
  logs.Gzip("access.log.1");
  logs.Append("access.log", 1, &all);
  CommandResult dry = RunInc(dir, job, {"--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.err.find("access.log.1.gz: rotated from " + logs.Path("access.log")),
            std::string::npos)
      << dry.err;
  EXPECT_NE(dry.err.find("access.log: new: from the start"), std::string::npos) << dry.err;
  EXPECT_EQ(dry.err.find("truncated"), std::string::npos) << dry.err;  // an inode reused is new
  CommandResult explain = RunInc(dir, job, {"--explain"});
  ASSERT_EQ(explain.exit_code, 0) << explain.err;
  EXPECT_NE(explain.out.find("rotated from"), std::string::npos) << explain.out;
  EXPECT_EQ(ReadFile(job.state), state_before);  // neither writes the state
}

}  // namespace
}  // namespace logpipe::testing
