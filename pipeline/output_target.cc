#include "pipeline/output_target.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace logpipe {

Result<OutputTarget> OutputTarget::Open(const std::string& path, bool streaming) {
  OutputTarget target(path);
  target.streaming_ = streaming;
  if (path != "-") {
    Result<AtomicFile> file = AtomicFile::Create(path);
    if (!file.ok()) return file.status();
    target.file_.emplace(std::move(file.value()));
  }
  return target;
}

Status OutputTarget::Append(std::string_view bytes) {
  if (file_) return file_->Append(bytes);
  stdout_buffer_.append(bytes);
  if (streaming_ && stdout_buffer_.size() >= (size_t{1} << 20)) return WriteStdout();
  return Status::Ok();
}

Status OutputTarget::WriteStdout() {
  size_t done = 0;
  while (done < stdout_buffer_.size()) {
    ssize_t n = write(STDOUT_FILENO, stdout_buffer_.data() + done, stdout_buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return IoError(std::string("standard output: write failed: ") + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  stdout_buffer_.clear();
  return Status::Ok();
}

Status OutputTarget::Commit() {
  if (file_) return file_->Commit();
  return WriteStdout();
}

}  // namespace logpipe
