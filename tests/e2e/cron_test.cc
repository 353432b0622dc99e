// End-to-end: cron-grade runs. --lock (one run at a time, exit 75 while another holds it) and
// SIGINT / SIGTERM mid-run (exit 130 / 143, one line, no output, no temp file, no process left).
// The runs read FIFOs the test feeds, so "mid-run" is a fact (the run holds the lock, or has
// consumed megabytes and is still reading), not a sleep. Time limits are only "did not hang".

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace logpipe::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kHangSeconds = 60;  // generous: sanitizer builds on a busy 2-core VM

const char kLine200[] =
    "1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET /a HTTP/1.1\" 200 100 \"-\" \"ua\"\n";
const char kLine404[] =
    "5.6.7.8 - - [17/May/2015:10:05:04 +0000] \"GET /b HTTP/1.1\" 404 7 \"-\" \"ua\"\n";

// Polls `done` every 5 ms until it holds or `limit` seconds pass.
bool WaitUntil(const std::function<bool()>& done, double limit = kHangSeconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(limit);
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// logpipe in the background: stdin /dev/null, stdout and stderr into files.
pid_t StartLogpipe(const std::vector<std::string>& args, const std::string& out_path,
                   const std::string& err_path) {
  std::vector<std::string> argv = {LOGPIPE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t pid = fork();
  if (pid == 0) {
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  return pid;
}

// SIGKILLs and reaps a background run that a failed ASSERT left behind.
struct ReapOnExit {
  pid_t pid;
  ~ReapOnExit() {
    if (pid > 0 && kill(pid, SIGKILL) == 0) waitpid(pid, nullptr, 0);
  }
};

// The exit code (128 + signal if killed); SIGKILLs it and returns -1 if it hangs.
int WaitExit(pid_t pid, double limit = kHangSeconds) {
  int status = 0;
  const bool exited = WaitUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, limit);
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
      pids.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return pids;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Processes whose parent is `parent` (field 4 of /proc/PID/stat).
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> children;
  for (pid_t pid : AllPids()) {
    const std::string stat = Slurp("/proc/" + std::to_string(pid) + "/stat");
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(paren + 1));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) children.push_back(pid);
  }
  return children;
}

// Processes whose command line has `arg` (shards are forked without exec: they keep the run's
// command line, and so its unique config path, whoever their parent is now).
std::vector<pid_t> ProcessesWithArg(const std::string& arg) {
  std::vector<pid_t> found;
  for (pid_t pid : AllPids()) {
    std::string cmdline = Slurp("/proc/" + std::to_string(pid) + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', '\n');
    if (("\n" + cmdline).find("\n" + arg + "\n") != std::string::npos) found.push_back(pid);
  }
  return found;
}

// Whether process `pid` has `path` open.
bool HasOpen(pid_t pid, const std::string& path) {
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator(
           "/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code ec2;
    if (std::filesystem::read_symlink(fd.path(), ec2).string() == path) return true;
  }
  return false;
}

// Temp files an AtomicFile would leave: "<dir>/.<name>.tmp.<pid>.<n>".
std::vector<std::string> TempFilesIn(const std::string& dir) {
  std::vector<std::string> temps;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name[0] == '.' && name.find(".tmp.") != std::string::npos) temps.push_back(name);
  }
  return temps;
}

// Writes to a FIFO from a thread: `lines` lines, then closes it (the run sees its end); or, with
// lines < 0, without end until the reader goes away (EPIPE) or Stop().
class FifoFeeder {
 public:
  FifoFeeder(std::string path, long lines) : path_(std::move(path)), lines_(lines) {
    thread_ = std::thread([this] { Run(); });
  }
  ~FifoFeeder() {
    Stop();
    thread_.join();
  }
  void Stop() { stop_ = true; }
  uint64_t written() const { return written_; }
  bool finished() const { return finished_; }

 private:
  void Run() {
    int fd = -1;
    while (!stop_) {  // non-blocking open: fails with ENXIO until the run opens the FIFO
      fd = open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (fd < 0) return;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    std::string block;
    for (int i = 0; i < 1000; ++i) block += (i % 4 == 3) ? kLine404 : kLine200;  // 1000 lines
    for (long sent = 0; !stop_ && (lines_ < 0 || sent < lines_); sent += 1000) {
      if (write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) break;
      written_ += block.size();
    }
    close(fd);
    finished_ = true;
  }

  std::string path_;
  long lines_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> written_{0};
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

std::string CountJobYaml(const std::string& input, const std::string& out_dir,
                         const std::string& model, int workers) {
  return "version: 1\nname: cron\ninputs: [\"" + input +
         "\"]\nstages:\n  - type: parse\n    pattern: combined\n    fields: {status: int}\n"
         "    exec: {model: " + model + ", workers: " + std::to_string(workers) +
         "}\n  - type: aggregate\n    metrics: {n: count}\n"
         "outputs:\n  - {path: \"" + out_dir + "/report.json\"}\n"
         "  - {kind: records, path: \"" + out_dir + "/records.jsonl\", fields: [status]}\n";
}

class CronTest : public ::testing::Test {
 protected:
  void SetUp() override { signal(SIGPIPE, SIG_IGN); }
};

TEST_F(CronTest, SecondRunExits75WhileTheFirstHoldsTheLockThenAThirdRunSucceeds) {
  TempDir dir;
  const std::string fifo = dir.path() + "/in.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string lock = dir.path() + "/job.lock";
  const std::string config = dir.Write("first.yaml", CountJobYaml(fifo, dir.path() + "/out",
                                                                   "processes", 2));
  const pid_t first = StartLogpipe({"--config", config, "--lock", lock}, dir.path() + "/1.out",
                                   dir.path() + "/1.err");
  ReapOnExit reap_first{first};
  // The first run has the lock once it wrote its pid; it then waits for the FIFO's writer.
  ASSERT_TRUE(WaitUntil([&] { return Slurp(lock) == std::to_string(first) + "\n"; }))
      << Slurp(dir.path() + "/1.err");

  CommandResult second = RunLogpipe({"--config", config, "--lock", lock});
  EXPECT_EQ(second.exit_code, 75) << second.err;
  EXPECT_EQ(std::count(second.err.begin(), second.err.end(), '\n'), 1) << second.err;
  EXPECT_NE(second.err.find(lock), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("(pid " + std::to_string(first) + ")"), std::string::npos)
      << second.err;

  // Its shards (forked without exec) do not keep the lock file open: one that outlived the
  // run would keep the lock. A shard inherits the descriptor at fork and closes it first
  // thing, so it may still be open in the instant after ChildrenOf sees the shard.
  std::vector<pid_t> shards;
  ASSERT_TRUE(WaitUntil([&] { return (shards = ChildrenOf(first)).size() == 2; }));
  for (pid_t shard : shards) {
    EXPECT_TRUE(WaitUntil([&] { return !HasOpen(shard, lock); })) << "shard " << shard;
  }
  EXPECT_TRUE(HasOpen(first, lock));

  {
    FifoFeeder feeder(fifo, 3000);  // 3000 lines, then the end
    EXPECT_EQ(WaitExit(first), 0) << Slurp(dir.path() + "/1.err");
    reap_first.pid = -1;
  }
  nlohmann::json report = ReadJson(dir.path() + "/out/report.json");
  EXPECT_EQ(report["totals"]["lines"], 3000);
  EXPECT_EQ(report["tables"]["aggregate"]["rows"][0]["n"], 3000);
  EXPECT_TRUE(std::filesystem::exists(lock));  // never deleted

  const std::string input = dir.Write("in.log", std::string(kLine200) + kLine404);
  CommandResult third = RunLogpipe(
      {"--config", dir.Write("third.yaml", CountJobYaml(input, dir.path() + "/out3", "serial",
                                                        1)),
       "--lock", lock});
  EXPECT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(ReadJson(dir.path() + "/out3/report.json")["tables"]["aggregate"]["rows"][0]["n"], 2);
}

TEST_F(CronTest, LockInAMissingDirectoryExits73NamingIt) {
  TempDir dir;
  const std::string input = dir.Write("in.log", kLine200);
  const std::string lock = dir.path() + "/no/such/dir/job.lock";
  CommandResult r = RunLogpipe(
      {"--config", dir.Write("run.yaml", CountJobYaml(input, dir.path() + "/out", "serial", 1)),
       "--lock", lock});
  EXPECT_EQ(r.exit_code, 73) << r.err;
  EXPECT_NE(r.err.find(lock), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/out/report.json"));
}

TEST_F(CronTest, LockIsNotForCompareMode) {
  CommandResult r = RunLogpipe({"--compare", "a.yaml", "b.yaml", "--lock", "/tmp/x.lock"});
  EXPECT_EQ(r.exit_code, 64) << r.err;
}

struct SignalCase {
  const char* model;
  int workers;
  int signal;
  bool outputs_existed;  // the configured outputs exist before the run: they must stay as-is
  bool feed;             // feed the FIFO without end (the run is busy) or not at all (blocked)
};

class CronSignalTest : public CronTest, public ::testing::WithParamInterface<SignalCase> {};

TEST_P(CronSignalTest, StopsWithItsExitCodeAndLeavesNothingBehind) {
  const SignalCase& c = GetParam();
  TempDir dir;
  const std::string fifo = dir.path() + "/in.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string out = dir.path() + "/out";
  std::filesystem::create_directories(out);
  if (c.outputs_existed) {
    dir.Write("out/report.json", "previous report\n");
    dir.Write("out/records.jsonl", "previous records\n");
  }
  const std::string config =
      dir.Write("signal-run.yaml", CountJobYaml(fifo, out, c.model, c.workers));
  std::unique_ptr<FifoFeeder> feeder;  // destroyed after reap_run: its write() ends with EPIPE
  const pid_t run = StartLogpipe({"--config", config, "--stats-json", out + "/stats.json"},
                                 dir.path() + "/run.out", dir.path() + "/run.err");
  ReapOnExit reap_run{run};
  if (c.feed) {
    feeder = std::make_unique<FifoFeeder>(fifo, -1);
    // Mid-run: it has read megabytes (the FIFO holds 64 KiB) and is still reading.
    ASSERT_TRUE(WaitUntil([&] { return feeder->written() > (8u << 20); }))
        << Slurp(dir.path() + "/run.err");
  } else {
    // Blocked opening the FIFO: its outputs' temp files exist (outputs open first).
    ASSERT_TRUE(WaitUntil([&] { return TempFilesIn(out).size() == 3; }))
        << Slurp(dir.path() + "/run.err");
  }
  if (std::string(c.model) == "processes") {
    ASSERT_TRUE(WaitUntil([&] { return ChildrenOf(run).size() == size_t(c.workers); }));
  }
  ASSERT_EQ(kill(run, c.signal), 0);
  const int code = WaitExit(run);
  reap_run.pid = -1;
  if (feeder) feeder->Stop();

  EXPECT_EQ(code, 128 + c.signal);
  const std::string err = Slurp(dir.path() + "/run.err");
  const std::string name = c.signal == SIGINT ? "SIGINT" : "SIGTERM";
  EXPECT_EQ(err, "logpipe: interrupted by " + name + "; no output was written\n");
  EXPECT_EQ(TempFilesIn(out), std::vector<std::string>());
  EXPECT_FALSE(std::filesystem::exists(out + "/stats.json"));
  if (c.outputs_existed) {
    EXPECT_EQ(Slurp(out + "/report.json"), "previous report\n");
    EXPECT_EQ(Slurp(out + "/records.jsonl"), "previous records\n");
  } else {
    EXPECT_FALSE(std::filesystem::exists(out + "/report.json"));
    EXPECT_FALSE(std::filesystem::exists(out + "/records.jsonl"));
  }
  // No shard outlived it: shards keep the run's command line (fork without exec), and the run
  // reaps them before it exits, so none exists now, not even as an orphan or a zombie.
  EXPECT_EQ(ProcessesWithArg(config), std::vector<pid_t>());
}

INSTANTIATE_TEST_SUITE_P(
    Cron, CronSignalTest,
    ::testing::Values(SignalCase{"processes", 2, SIGTERM, false, true},
                      SignalCase{"processes", 2, SIGTERM, true, true},
                      SignalCase{"threads", 2, SIGINT, false, true},
                      SignalCase{"threads", 2, SIGINT, true, true},
                      SignalCase{"tbb", 2, SIGTERM, false, true},
                      SignalCase{"serial", 1, SIGINT, true, true},
                      // Blocked in open/read of the FIFO: the forced stop after the grace.
                      SignalCase{"processes", 2, SIGTERM, true, false},
                      SignalCase{"threads", 2, SIGINT, false, false}),
    [](const ::testing::TestParamInfo<SignalCase>& info) {
      const SignalCase& c = info.param;
      return std::string(c.model) + (c.signal == SIGINT ? "Sigint" : "Sigterm") +
             (c.outputs_existed ? "OutputsExisted" : "NoOutputs") +
             (c.feed ? "Busy" : "Blocked");
    });

}  // namespace
}  // namespace logpipe::testing
