#include "io/posix_io.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

namespace logpipe {

int OpenRetrying(const std::string& path, int flags, mode_t mode) {
  int fd;
  do {
    fd = open(path.c_str(), flags, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

Result<size_t> PreadSome(int fd, const std::string& name, uint64_t offset, char* buf, size_t n,
                         uint64_t gone_end) {
  for (;;) {
    const ssize_t got = pread(fd, buf, n, static_cast<off_t>(offset));
    if (got > 0) return static_cast<size_t>(got);
    if (got < 0 && errno == EINTR) continue;
    if (got == 0) {
      return IoError(name + ": the file shrank during the run: bytes " + std::to_string(offset) +
                     "-" + std::to_string(gone_end) +
                     " are gone (was it truncated?); run again when it is stable");
    }
    return IoError(name + ": read failed at byte " + std::to_string(offset) + ": " +
                   strerror(errno) + "; check the disk or device holding it");
  }
}

Status PreadFull(int fd, const std::string& name, uint64_t offset, char* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    Result<size_t> got = PreadSome(fd, name, offset + done, buf + done, n - done, offset + n);
    if (!got.ok()) return got.status();
    done += *got;
  }
  return Status::Ok();
}

}  // namespace logpipe
