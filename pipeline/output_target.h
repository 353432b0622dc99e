#pragma once
// OutputTarget: where one output's bytes go. A file path is written through an AtomicFile
// (temp file, fsync, rename on Commit), so a failed run never leaves half an output; "-" is
// standard output. A report to stdout is printed on Commit only, so a failed run prints no
// partial report; a records stream to stdout (`streaming`) is flushed each MiB, so memory
// stays bounded when records are piped into another program.
//
// Thread-safety: none; the job's consumer thread owns its targets.
// Errors: kCantCreate naming the path (from AtomicFile), kIoError for stdout write failures.

#include <optional>
#include <string>
#include <string_view>

#include "io/atomic_file.h"
#include "io/status.h"

namespace logpipe {

class OutputTarget {
 public:
  static Result<OutputTarget> Open(const std::string& path, bool streaming);

  Status Append(std::string_view bytes);
  Status Commit();

  const std::string& path() const { return path_; }
  // The AtomicFile's temp file; "" for standard output.
  std::string temp_path() const { return file_ ? file_->temp_path() : std::string(); }

 private:
  explicit OutputTarget(std::string path) : path_(std::move(path)) {}
  Status WriteStdout();

  std::string path_;
  std::optional<AtomicFile> file_;
  bool streaming_ = false;
  std::string stdout_buffer_;
};

}  // namespace logpipe
