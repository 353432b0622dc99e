#include "pipeline/run_interrupt.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

namespace logpipe {
namespace {

// Read by the handler: lock-free atomics only.
std::atomic<int> g_signal{0};
std::atomic<int> g_pipe_write{-1};
std::atomic<int> g_lock_fd{-1};
// Set by the watcher once it is running, just before it blocks in read() (see InterruptGuard).
std::atomic<bool> g_watcher_ready{false};
int g_pipe_read = -1;

std::mutex g_fork_mu;  // the fork gate (ForkGuard, BlockRunSignals .. RestoreSignalMask)

std::mutex g_mu;  // guards what follows
std::condition_variable g_cv;
std::vector<std::string> g_temp_files;
std::vector<pid_t> g_shards;
bool g_committing = false;
bool g_done = false;  // the guard is being destroyed: the run returned
std::thread g_watcher;
struct sigaction g_old_int, g_old_term;

static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free ints");

extern "C" void OnStopSignal(int sig) {
  const int saved_errno = errno;
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);
  const char byte = static_cast<char>(sig);
  const int fd = g_pipe_write.load();
  if (fd >= 0) {
    ssize_t n = write(fd, &byte, 1);
    (void)n;  // the pipe is non-blocking; a full one already holds a wake-up
  }
  errno = saved_errno;
}

std::string InterruptedLine(int sig) {
  return std::string("interrupted by ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
         "; no output was written";
}

// The watcher thread: waits for a signal, gives the cooperative path kGraceSeconds, then
// forces the stop (see the header).
void Watch(int read_fd) {
  char byte = 0;
  g_watcher_ready.store(true, std::memory_order_release);
  for (;;) {
    const ssize_t n = read(read_fd, &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || byte == 0) return;  // the guard is going away
    break;
  }
  const int sig = g_signal.load() != 0 ? g_signal.load() : byte;
  std::unique_lock<std::mutex> lock(g_mu);
  const auto grace = std::chrono::duration<double>(kGraceSeconds);
  if (g_cv.wait_for(lock, grace, [] { return g_done || g_committing; })) return;
  // Forced. We hold g_mu, so no shard is registered or reaped and no commit starts meanwhile.
  for (pid_t pid : g_shards) kill(pid, SIGKILL);
  for (pid_t pid : g_shards) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  for (const std::string& path : g_temp_files) unlink(path.c_str());
  const std::string line = "logpipe: " + InterruptedLine(sig) + "\n";
  ssize_t n = write(STDERR_FILENO, line.data(), line.size());
  (void)n;
  _exit(128 + sig);
}

}  // namespace

InterruptGuard::InterruptGuard() {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_signal = 0;
    g_committing = false;
    g_done = false;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return;  // no watcher: defaults stay
  // The watcher blocks on read; only the write end (the handler's) is non-blocking.
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) & ~O_NONBLOCK);
  g_pipe_read = fds[0];
  g_pipe_write = fds[1];
  // The watcher runs with every signal blocked, so the handler runs on another thread.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  g_watcher_ready = false;
  g_watcher = std::thread(Watch, fds[0]);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // Wait until the watcher is parked in read(): the processes executor forks shards right
  // after, and a thread still starting up may hold a lock of the memory allocator; a child
  // forked then inherits it locked and hangs at its first allocation that needs it. glibc's
  // malloc is locked around fork, but sanitizer allocators are not (a shard hung this way in
  // an ASan CI run). Parked, the watcher allocates nothing until a signal arrives.
  while (!g_watcher_ready.load(std::memory_order_acquire)) std::this_thread::yield();

  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART | SA_RESETHAND;
  sigaction(SIGINT, &action, &g_old_int);
  sigaction(SIGTERM, &action, &g_old_term);
}

InterruptGuard::~InterruptGuard() {
  if (!g_watcher.joinable()) return;
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_done = true;
  }
  g_cv.notify_all();
  const char quit = 0;
  ssize_t n = write(g_pipe_write.load(), &quit, 1);
  (void)n;
  g_watcher.join();
  close(g_pipe_write.exchange(-1));
  close(g_pipe_read);
  g_pipe_read = -1;
  std::lock_guard<std::mutex> lock(g_mu);
  g_temp_files.clear();
}

bool StopRequested() { return g_signal.load(std::memory_order_relaxed) != 0; }

Status InterruptedStatus() {
  const int sig = g_signal.load();
  if (sig == 0) return InternalError("InterruptedStatus() without a signal");
  return Status(sig == SIGINT ? StatusCode::kInterrupted : StatusCode::kTerminated,
                InterruptedLine(sig));
}

bool BeginCommit() {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (g_signal.load() != 0) return false;
    g_committing = true;
  }
  g_cv.notify_all();
  return true;
}

void SetTempFiles(std::vector<std::string> paths) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_temp_files = std::move(paths);
}

void RegisterShard(pid_t pid) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_shards.push_back(pid);
}

void UnregisterShard(pid_t pid) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (size_t i = 0; i < g_shards.size(); ++i) {
    if (g_shards[i] == pid) {
      g_shards.erase(g_shards.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
  }
}

void SetFdToCloseInShards(int fd) { g_lock_fd = fd; }

void BlockRunSignals(sigset_t* old_mask) {
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, old_mask);
  g_fork_mu.lock();  // released by RestoreSignalMask; the child never uses the gate
}

void InShardAfterFork(const sigset_t& old_mask) {
  // Only async-signal-safe calls: the child of a multi-threaded process.
  const int lock_fd = g_lock_fd.load();
  if (lock_fd >= 0) close(lock_fd);
  const int write_fd = g_pipe_write.exchange(-1);
  if (write_fd >= 0) close(write_fd);
  if (g_pipe_read >= 0) close(g_pipe_read);
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  sigemptyset(&action.sa_mask);
  action.sa_handler = SIG_IGN;
  sigaction(SIGINT, &action, nullptr);
  action.sa_handler = SIG_DFL;
  sigaction(SIGTERM, &action, nullptr);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
}

void RestoreSignalMask(const sigset_t& old_mask) {
  g_fork_mu.unlock();
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
}

ForkGuard::ForkGuard() { g_fork_mu.lock(); }
ForkGuard::~ForkGuard() { g_fork_mu.unlock(); }

}  // namespace logpipe
