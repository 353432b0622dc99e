// End-to-end: the progress bar (pipeline/progress.h). Under a pseudo-terminal (forkpty), a run
// that reads a slow input draws a progress line on stderr with '\r' and erases it at the end,
// and stdout (redirected to a file) never gets it; --quiet turns it off. On a pipe nothing is
// drawn by default (cron mails what is printed), and --progress prints plain lines instead.
// The slow input is a FIFO the test feeds in two halves with a pause between them, so "the run
// was still reading when the reporter woke" is a fact, not a race.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace logpipe::testing {
namespace {

const char kLine[] =
    "1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET /a HTTP/1.1\" 200 100 \"-\" \"ua\"\n";

std::string Lines(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) text += kLine;
  return text;
}

// A job over a small regular file and then `second` (a FIFO or a file): two inputs.
std::string TwoInputJob(const std::string& first, const std::string& second,
                        const std::string& report) {
  return "version: 1\nname: slowjob\ninputs:\n  - path: \"" + first + "\"\n  - path: \"" + second +
         "\"\nstages:\n  - type: parse\n    pattern: combined\n    fields: {status: int}\n"
         "  - type: aggregate\n    group_by: [status]\n    metrics: {hits: count}\n"
         "outputs:\n  - {path: \"" + report + "\", format: json}\n";
}

struct PtyRun {
  int exit_code = -1;
  std::string terminal;  // everything written to the terminal (stderr; stdin unused)
  std::string out;       // stdout, redirected to a file
};

// Runs logpipe with stderr on a pseudo-terminal and stdout into a file, while `feed` runs
// in this process (it may block on the FIFO until logpipe opens it).
PtyRun RunOnPty(const TempDir& dir, const std::vector<std::string>& args,
                const std::function<void()>& feed) {
  PtyRun result;
  const std::string out_path = dir.path() + "/stdout.txt";
  std::vector<std::string> argv = {LOGPIPE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  struct winsize ws = {};
  ws.ws_row = 24;
  ws.ws_col = 120;
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
  if (pid < 0) {
    ADD_FAILURE() << "forkpty: " << std::strerror(errno);
    return result;
  }
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) _exit(127);
    dup2(out, 1);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  // Drain the terminal while feeding, so logpipe never blocks writing to it.
  std::thread reader([&] {
    char buf[4096];
    while (true) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // EIO once the child and its terminal are gone
      result.terminal.append(buf, static_cast<size_t>(n));
    }
  });
  feed();
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (waitpid(pid, &status, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "logpipe hung";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  reader.join();
  close(master);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(out_path);
  return result;
}

// Writes `first`, waits `pause`, writes `second` into the FIFO at `path`, closes it.
std::function<void()> FeedFifo(const std::string& path, std::string first, std::string second,
                               std::chrono::milliseconds pause) {
  return [=] {
    int fd = open(path.c_str(), O_WRONLY);  // blocks until logpipe opens it
    if (fd < 0) {
      ADD_FAILURE() << "open fifo: " << std::strerror(errno);
      return;
    }
    EXPECT_EQ(write(fd, first.data(), first.size()), static_cast<ssize_t>(first.size()));
    std::this_thread::sleep_for(pause);
    EXPECT_EQ(write(fd, second.data(), second.size()), static_cast<ssize_t>(second.size()));
    close(fd);
  };
}

TEST(Progress, DrawnOnATerminalAndErasedNeverOnStdout) {
  TempDir dir;
  const std::string first = dir.Write("first.log", Lines(10));
  const std::string fifo = dir.path() + "/slow.log";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string report = dir.path() + "/report.json";
  const std::string config = dir.Write("run.yaml", TwoInputJob(first, fifo, report));
  PtyRun run = RunOnPty(dir, {"--config", config},
                        FeedFifo(fifo, Lines(100), Lines(50), std::chrono::milliseconds(1500)));
  ASSERT_EQ(run.exit_code, 0) << run.terminal;
  // The line while the FIFO was paused: a redraw ('\r'), bytes, a rate (after 0.5 s), which
  // of the two inputs (the chunker may still be filling its chunk from the FIFO, so 1 or 2)
  // and its name; no percent (a FIFO has no size).
  EXPECT_NE(run.terminal.find("\r"), std::string::npos) << run.terminal;
  const bool on_first = run.terminal.find("B/s  input 1/2 " + first) != std::string::npos;
  const bool on_second = run.terminal.find("B/s  input 2/2 " + fifo) != std::string::npos;
  EXPECT_TRUE(on_first || on_second) << run.terminal;
  EXPECT_EQ(run.terminal.find("%"), std::string::npos) << run.terminal;
  // Erased at the end, before the summary line that a terminal gets.
  const size_t erase = run.terminal.rfind("\r\x1b[K");
  const size_t summary = run.terminal.find("logpipe: slowjob: 160 lines");
  ASSERT_NE(erase, std::string::npos) << run.terminal;
  ASSERT_NE(summary, std::string::npos) << run.terminal;
  EXPECT_LT(erase, summary);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(ReadJson(report)["tables"]["aggregate"]["rows"][0]["hits"], 160);
}

TEST(Progress, QuietDrawsNothingOnATerminal) {
  TempDir dir;
  const std::string first = dir.Write("first.log", Lines(10));
  const std::string fifo = dir.path() + "/slow.log";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string report = dir.path() + "/report.json";
  const std::string config = dir.Write("run.yaml", TwoInputJob(first, fifo, report));
  PtyRun run = RunOnPty(dir, {"--config", config, "--quiet"},
                        FeedFifo(fifo, Lines(100), Lines(50), std::chrono::milliseconds(800)));
  ASSERT_EQ(run.exit_code, 0) << run.terminal;
  EXPECT_EQ(run.terminal, "");
  EXPECT_EQ(run.out, "");
}

TEST(Progress, NothingOnAPipeByDefault) {
  TempDir dir;
  const std::string a = dir.Write("a.log", Lines(10));
  const std::string b = dir.Write("b.log", Lines(30));
  const std::string report = dir.path() + "/report.json";
  CommandResult r = RunConfig(dir, TwoInputJob(a, b, report));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "");
}

TEST(Progress, ForcedOnAPipePrintsPlainLinesWithTheTotal) {
  TempDir dir;
  const std::string a = dir.Write("a.log", Lines(10));
  const std::string b = dir.Write("b.log", Lines(30));
  const std::string report = dir.path() + "/report.json";
  CommandResult r = RunConfig(dir, TwoInputJob(a, b, report), {"--progress"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Two plain files of 40 lines: the total is known; the last line says the run is done.
  const uint64_t total = 40 * (sizeof kLine - 1);
  const uint64_t tenths = (total * 10 + 512) / 1024;  // KiB, rounded to one decimal
  const std::string both = std::to_string(tenths / 10) + "." + std::to_string(tenths % 10);
  ASSERT_GE(total, 1024u);
  EXPECT_NE(r.err.find("logpipe: progress: " + both + " KiB / " + both + " KiB  100%"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("done in"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("input 2/2 " + b + "\n"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;  // no redrawing on a pipe
  EXPECT_EQ(r.out, "");
}

// Regression: the meter once opened every input to probe its magic number, a FIFO too. That
// open met the FIFO's writer in the run's place, and when the probe closed it the writer got
// EPIPE (SIGPIPE) before the run ever opened the FIFO: its lines were lost.
TEST(Progress, NeverOpensAFifoInput) {
  TempDir dir;
  const std::string first = dir.Write("first.log", Lines(40000));  // ~3 MB: read before the FIFO
  const std::string fifo = dir.path() + "/slow.log";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string report = dir.path() + "/report.json";
  signal(SIGPIPE, SIG_IGN);  // a lost reader shows as EPIPE below, not a dead test
  ssize_t written = -1;
  const std::string text = Lines(2000);  // more than a pipe holds: the write waits for a reader
  std::thread feeder([&] {
    int fd = open(fifo.c_str(), O_WRONLY);
    if (fd < 0) return;
    written = write(fd, text.data(), text.size());
    close(fd);
    // Lost the reader: open again and close, so the run's own open gets end of input and the
    // test fails on the counts instead of hanging.
    if (written != static_cast<ssize_t>(text.size())) close(open(fifo.c_str(), O_WRONLY));
  });
  CommandResult r = RunConfig(dir, TwoInputJob(first, fifo, report), {"--progress"});
  feeder.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(written, static_cast<ssize_t>(text.size()));
  EXPECT_EQ(ReadJson(report)["tables"]["aggregate"]["rows"][0]["hits"], 42000);
}

TEST(Progress, QuietWinsOverProgress) {
  TempDir dir;
  const std::string a = dir.Write("a.log", Lines(10));
  const std::string b = dir.Write("b.log", Lines(30));
  const std::string report = dir.path() + "/report.json";
  CommandResult r = RunConfig(dir, TwoInputJob(a, b, report), {"--progress", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

TEST(Progress, AFailedRunPrintsNoDoneLine) {
  TempDir dir;
  const std::string a = dir.Write("a.log", Lines(10));
  const std::string b = dir.Write("b.log", "not a log line\n");
  const std::string report = dir.path() + "/report.json";
  std::string yaml = TwoInputJob(a, b, report);
  yaml.replace(yaml.find("fields: {status: int}"), 21, "fields: {status: int}\n    on_mismatch: fail");
  CommandResult r = RunConfig(dir, yaml, {"--progress"});
  ASSERT_EQ(r.exit_code, 65) << r.err;
  EXPECT_EQ(r.err.find("done in"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("b.log"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace logpipe::testing
