#pragma once
// How a run stops on SIGINT or SIGTERM (README "Running from cron"): exit 130 or 143 with one
// line on stderr, no output written (not even half of one), no temp file and no shard process
// left behind.
//
// InterruptGuard installs the handlers for one RunJob (cli.cc; not in --compare mode, whose
// children are separate processes). The handler is async-signal-safe: it records the first
// signal, and writes its number into a self-pipe that wakes a watcher thread. SA_RESETHAND: a
// second SIGINT/SIGTERM gets the default action and kills the process at once (temp files
// "<dir>/.<name>.tmp.<pid>.<n>" may then stay behind). SA_RESTART: no other code sees EINTR.
//
// The stop path has two steps:
//  1. cooperative: InputStream::Next() returns InterruptedStatus() before its next chunk, so
//     every executor stops through its read-error path (threads joined, shards killed and
//     reaped, see executor_processes.h), RunJob returns before it commits anything, and each
//     AtomicFile's destructor removes its temp file;
//  2. forced, when the run has not returned kGraceSeconds after the signal (a read blocked on
//     a FIFO, on stdin or on a download cannot see the flag): the watcher thread kills
//     (SIGKILL) and reaps the registered shards, removes the registered temp files, writes the
//     same line and _exit()s with the same code.
// Once RunJob has called BeginCommit() (outputs renamed into place, milliseconds), a signal no
// longer stops it: the commit finishes and the run exits as it would have without the signal.
//
// Thread-safety: every function may be called from any thread; InterruptGuard from the main
//   thread only, one at a time. Without a guard, StopRequested() is false and the registries
//   are kept but unused (executor tests, --compare).

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "io/status.h"

namespace logpipe {

constexpr double kGraceSeconds = 1.0;

class InterruptGuard {
 public:
  InterruptGuard();   // installs the handlers and starts the watcher thread
  ~InterruptGuard();  // stops the watcher and restores the previous handlers
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

// Whether SIGINT or SIGTERM arrived while a guard was installed (one relaxed atomic load).
bool StopRequested();
// kInterrupted (SIGINT, exit 130) or kTerminated (SIGTERM, exit 143):
// "interrupted by SIGTERM; no output was written".
Status InterruptedStatus();
// false when a signal arrived: the caller must not commit. After true, signals no longer stop
// the run (the forced path is off).
bool BeginCommit();

// What the forced path cleans up. Temp files: the current run's outputs' temp paths (replaces
// the previous list; empty to clear). Shards: register right after fork, unregister right
// before reaping (a registered pid is ours, alive or a zombie, so it cannot be reused).
void SetTempFiles(std::vector<std::string> paths);
void RegisterShard(pid_t pid);
void UnregisterShard(pid_t pid);

// A descriptor forked shards must not keep (the --lock file: a shard that outlived the run
// would keep the lock). -1 for none.
void SetFdToCloseInShards(int fd);

// Around fork() of a shard: BlockRunSignals in the parent before fork (a signal arriving
// during fork stays pending for the parent); in the child, InShardAfterFork closes the lock
// and self-pipe descriptors, ignores SIGINT (a terminal's Ctrl-C goes to the whole process
// group: the parent stops the shards), restores SIGTERM's default and the signal mask; in the
// parent, RestoreSignalMask.
// BlockRunSignals also takes the fork gate (below) until RestoreSignalMask.
void BlockRunSignals(sigset_t* old_mask);
void InShardAfterFork(const sigset_t& old_mask);
void RestoreSignalMask(const sigset_t& old_mask);

// The fork gate: a thread of the parent that allocates memory while shards may be forked (the
// progress meter) holds a ForkGuard meanwhile, and no shard is forked while one is held. A
// child forked while another thread is inside the memory allocator inherits the allocator's
// lock held and hangs at its first allocation that needs it: glibc locks its malloc around
// fork, but the sanitizers' allocators do not (a shard hung so in an ASan CI run). The
// signal watcher needs none: InterruptGuard returns once it is parked in read().
class ForkGuard {
 public:
  ForkGuard();
  ~ForkGuard();
  ForkGuard(const ForkGuard&) = delete;
  ForkGuard& operator=(const ForkGuard&) = delete;
};

}  // namespace logpipe
