#pragma once
// AtomicFile writes an output so that readers see either the old file or the complete new
// one, never half of it: bytes go to a temp file beside the target, which Commit() fsyncs,
// renames over the target and makes durable (fsync of the directory).
//
// Thread-safety: none.
// Lifetime: destroying an AtomicFile that was not committed removes its temp file.
// Errors: kCantCreate naming the target path and the OS reason (missing directory,
//   permission, disk full) and saying what to check. After a failed write, Commit() fails and
//   publishes nothing. Append() or Commit() after Commit()/Abort() is kInternal (a bug).

#include <string>
#include <string_view>

#include "io/status.h"

namespace logpipe {

class AtomicFile {
 public:
  // Creates the temp file "<dir>/.<name>.tmp.<pid>.<n>". Creates missing parent directories.
  static Result<AtomicFile> Create(const std::string& path);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  // Buffered; large appends go straight to write(2).
  Status Append(std::string_view bytes);
  // Flushes, fsyncs, renames into place, fsyncs the directory. At most once.
  Status Commit();
  // Removes the temp file; the target is left as it was.
  void Abort();

  const std::string& path() const { return path_; }
  // The temp file ("" once committed or aborted), for a signal path that must remove it
  // without running destructors (pipeline/run_interrupt.h).
  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicFile() = default;
  Status Flush();

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  std::string buffer_;
  bool failed_ = false;  // a write failed; Commit() must not publish a partial file
};

}  // namespace logpipe
