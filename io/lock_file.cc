#include "io/lock_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>

#include "io/posix_io.h"

namespace logpipe {
namespace {

// The pid the holder wrote into the lock file, or "" if there is none (yet).
std::string HolderPid(int fd) {
  char buf[32];
  ssize_t n;
  do {
    n = pread(fd, buf, sizeof buf - 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return "";
  std::string pid;
  for (ssize_t i = 0; i < n && std::isdigit(static_cast<unsigned char>(buf[i])); ++i) {
    pid += buf[i];
  }
  return pid;
}

}  // namespace

Result<LockFile> LockFile::Acquire(const std::string& path) {
  int fd = OpenRetrying(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) {
    return CantCreateError("cannot open lock file " + path + ": " + std::strerror(errno) +
                           "; check that its directory exists and is writable");
  }
  LockFile lock;
  lock.path_ = path;
  lock.fd_ = fd;
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EWOULDBLOCK) {
      const std::string pid = HolderPid(fd);
      return Status(StatusCode::kTempFail,
                    "another run holds " + path + (pid.empty() ? "" : " (pid " + pid + ")") +
                        "; exiting (75) \xE2\x80\x94 cron will try again");
    }
    return CantCreateError("cannot lock " + path + ": " + std::strerror(errno) +
                           "; put the lock file on a local file system");
  }
  // Informational only: a failure to write the pid does not make the lock less held.
  const std::string content = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) == 0) {
    ssize_t n;
    do {
      n = pwrite(fd, content.data(), content.size(), 0);
    } while (n < 0 && errno == EINTR);
  }
  return lock;
}

LockFile::LockFile(LockFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

LockFile& LockFile::operator=(LockFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

LockFile::~LockFile() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace logpipe
