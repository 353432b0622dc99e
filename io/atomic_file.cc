#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

namespace logpipe {
namespace {

// Appends smaller than this are buffered; the buffer is written when it would overflow.
constexpr size_t kBufferBytes = size_t{1} << 20;

std::atomic<uint64_t> g_temp_counter{0};

std::string Hint(int err) {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return "check free space and quota on that disk";
    case EACCES:
    case EPERM:
    case EROFS:
      return "check that the directory is writable (permissions, read-only mount)";
    case ENOENT:
      return "check that the directory path exists";
    case ENOTDIR:
      return "a part of the path is a file, not a directory; check the output path";
    case EISDIR:
      return "the output path names a directory; give a file name";
    default:
      return "check the output path and the disk";
  }
}

Status OsError(const std::string& path, const std::string& what, int err) {
  return CantCreateError(path + ": " + what + ": " + std::strerror(err) + "; " + Hint(err));
}

// Splits `path` into its directory ("." when none) and file name.
void SplitPath(const std::string& path, std::string* dir, std::string* name) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    *dir = ".";
    *name = path;
  } else {
    *dir = slash == 0 ? "/" : path.substr(0, slash);
    *name = path.substr(slash + 1);
  }
}

Status WriteAll(int fd, const char* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      int err = errno;
      if (err == EINTR) continue;
      return OsError(path, "write failed", err);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

}  // namespace

Result<AtomicFile> AtomicFile::Create(const std::string& path) {
  std::string dir, name;
  SplitPath(path, &dir, &name);
  if (name.empty() || name == "." || name == "..") {
    return CantCreateError(path + ": not a file name; give a path such as out/result.json");
  }
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return OsError(path, "cannot replace", EISDIR);
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return CantCreateError(path + ": cannot create directory " + dir + ": " + ec.message() + "; " +
                           Hint(ec.value()));
  }
  AtomicFile file;
  file.path_ = path;
  for (int attempt = 0;; ++attempt) {
    std::string temp = dir + "/." + name + ".tmp." + std::to_string(getpid()) + "." +
                       std::to_string(g_temp_counter.fetch_add(1));
    int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      file.fd_ = fd;
      file.temp_path_ = std::move(temp);
      break;
    }
    int err = errno;
    if (err == EINTR || (err == EEXIST && attempt < 100)) continue;
    return OsError(path, "cannot create temporary file " + temp, err);
  }
  return file;
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(other.fd_),
      buffer_(std::move(other.buffer_)),
      failed_(other.failed_) {
  other.fd_ = -1;
  other.temp_path_.clear();
}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    Abort();
    path_ = std::move(other.path_);
    temp_path_ = std::move(other.temp_path_);
    fd_ = other.fd_;
    buffer_ = std::move(other.buffer_);
    failed_ = other.failed_;
    other.fd_ = -1;
    other.temp_path_.clear();
  }
  return *this;
}

AtomicFile::~AtomicFile() { Abort(); }

Status AtomicFile::Append(std::string_view bytes) {
  if (fd_ < 0) return InternalError(path_ + ": Append after Commit or Abort");
  if (failed_) return CantCreateError(path_ + ": an earlier write failed");
  if (buffer_.size() + bytes.size() <= kBufferBytes) {
    if (buffer_.capacity() < kBufferBytes) buffer_.reserve(kBufferBytes);
    buffer_.append(bytes.data(), bytes.size());
    return Status::Ok();
  }
  LOGPIPE_RETURN_IF_ERROR(Flush());
  if (bytes.size() >= kBufferBytes) {
    Status st = WriteAll(fd_, bytes.data(), bytes.size(), path_);
    if (!st.ok()) failed_ = true;
    return st;
  }
  buffer_.append(bytes.data(), bytes.size());
  return Status::Ok();
}

Status AtomicFile::Flush() {
  if (buffer_.empty()) return Status::Ok();
  Status st = WriteAll(fd_, buffer_.data(), buffer_.size(), path_);
  buffer_.clear();
  if (!st.ok()) failed_ = true;
  return st;
}

Status AtomicFile::Commit() {
  if (fd_ < 0) return InternalError(path_ + ": Commit after Commit or Abort");
  if (failed_) {
    Abort();
    return CantCreateError(path_ + ": an earlier write failed; nothing was written");
  }
  Status st = Flush();
  if (st.ok() && fsync(fd_) != 0) {
    int err = errno;
    st = OsError(path_, "fsync failed", err);
  }
  if (st.ok()) {
    int rc = close(fd_);
    int err = errno;
    fd_ = -1;
    if (rc != 0) st = OsError(path_, "close failed", err);
  }
  if (st.ok() && rename(temp_path_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    st = OsError(path_, "cannot rename " + temp_path_ + " into place", err);
  }
  if (!st.ok()) {
    Abort();
    return st;
  }
  temp_path_.clear();
  // Make the rename durable. Failure here leaves a complete file, so it is not an error.
  std::string dir, name;
  SplitPath(path_, &dir, &name);
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return Status::Ok();
}

void AtomicFile::Abort() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    unlink(temp_path_.c_str());
    temp_path_.clear();
  }
  buffer_.clear();
}

}  // namespace logpipe
