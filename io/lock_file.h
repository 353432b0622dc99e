#pragma once
// LockFile: `--lock FILE`, so that two runs of the same cron job never overlap. Acquire() opens
// FILE (creating it, never deleting it: deleting a lock file lets a third run lock a new file
// while the second still holds the old one) and takes an exclusive flock(2) without waiting.
// Once it holds the lock it replaces the file's content with "<pid>\n", which is informational
// only (the flock is the lock): a run that finds the lock held names that pid.
//
// The lock belongs to the open file description: it is released when the last descriptor for
// it is closed, i.e. when the holder exits, however it exits. The descriptor is O_CLOEXEC, but a
// child forked without exec (a process shard) inherits it and would keep the lock if it outlived
// the run: such children must close fd() (pipeline/run_interrupt.h does it for shards).
//
// Thread-safety: none; hold it on the main thread for the whole run.
// Errors: kTempFail (exit 75) when another process holds the lock, naming FILE and, if it wrote
//   one, its pid; kCantCreate (exit 73) when FILE cannot be opened (missing directory,
//   permission) or locked, naming FILE and the OS reason.

#include <string>

#include "io/status.h"

namespace logpipe {

class LockFile {
 public:
  static Result<LockFile> Acquire(const std::string& path);

  LockFile(LockFile&& other) noexcept;
  LockFile& operator=(LockFile&& other) noexcept;
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;
  ~LockFile();  // closes the descriptor, which releases the lock; the file stays

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  LockFile() = default;

  std::string path_;
  int fd_ = -1;
};

}  // namespace logpipe
