#include "io/byte_source.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "io/posix_io.h"

namespace logpipe {
namespace {

// Largest request passed to read(2) or a decompressor in one step (fits uInt and ssize_t).
constexpr size_t kMaxStep = size_t{1} << 30;
// Compressed input is read in blocks of this size.
constexpr size_t kCompressedBlock = size_t{256} << 10;

std::string ErrnoText(int err) { return std::strerror(err); }

// Reads from a file descriptor. Owns it unless it is standard input.
class FdSource : public ByteSource {
 public:
  FdSource(std::string name, int fd, bool owned, uint64_t offset = 0)
      : name_(std::move(name)), fd_(fd), owned_(owned), offset_(offset) {}
  ~FdSource() override {
    if (owned_ && fd_ >= 0) close(fd_);
  }

  Result<size_t> Read(char* buf, size_t n) override {
    n = std::min(n, kMaxStep);
    if (n == 0) return size_t{0};
    for (;;) {
      ssize_t got = read(fd_, buf, n);
      if (got >= 0) {
        offset_ += static_cast<uint64_t>(got);
        return static_cast<size_t>(got);
      }
      if (errno == EINTR) continue;
      int err = errno;
      return IoError(name_ + ": read failed at byte " + std::to_string(offset_) + ": " +
                     ErrnoText(err) +
                     (err == EISDIR ? "; this is a directory, name the files inside it instead"
                                    : "; check the disk or device holding it"));
    }
  }

  const std::string& name() const override { return name_; }

 private:
  std::string name_;
  int fd_;
  bool owned_;
  uint64_t offset_ = 0;
};

class MemorySource : public ByteSource {
 public:
  MemorySource(std::string name, std::string bytes, size_t max_read)
      : name_(std::move(name)),
        bytes_(std::move(bytes)),
        max_read_(std::max<size_t>(max_read, 1)) {}

  Result<size_t> Read(char* buf, size_t n) override {
    size_t k = std::min({n, max_read_, bytes_.size() - pos_});
    if (k > 0) std::memcpy(buf, bytes_.data() + pos_, k);
    pos_ += k;
    return k;
  }

  const std::string& name() const override { return name_; }

 private:
  std::string name_;
  std::string bytes_;
  size_t max_read_;
  size_t pos_ = 0;
};

// Returns `prefix` (bytes already read from `raw` to sniff the magic number) before the rest
// of `raw`.
class PrefixedSource : public ByteSource {
 public:
  PrefixedSource(std::string prefix, std::unique_ptr<ByteSource> raw)
      : prefix_(std::move(prefix)), raw_(std::move(raw)) {}

  Result<size_t> Read(char* buf, size_t n) override {
    if (pos_ < prefix_.size()) {
      size_t k = std::min(n, prefix_.size() - pos_);
      std::memcpy(buf, prefix_.data() + pos_, k);
      pos_ += k;
      return k;
    }
    return raw_->Read(buf, n);
  }

  const std::string& name() const override { return raw_->name(); }

 private:
  std::string prefix_;
  size_t pos_ = 0;
  std::unique_ptr<ByteSource> raw_;
};

// The bytes [skip, skip + limit) of `inner`: discards the first `skip` bytes on the first
// Read, then stops after `limit` bytes.
class RangeSource : public ByteSource {
 public:
  RangeSource(std::unique_ptr<ByteSource> inner, uint64_t skip, uint64_t limit)
      : inner_(std::move(inner)), skip_(skip), limit_(limit) {}

  Result<size_t> Read(char* buf, size_t n) override {
    if (done_ >= limit_) return size_t{0};  // an empty range decompresses nothing
    while (skipped_ < skip_) {
      char scratch[1 << 16];
      size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof scratch, skip_ - skipped_));
      Result<size_t> got = inner_->Read(scratch, want);
      if (!got.ok()) return got.status();
      if (*got == 0) {
        return DataError(name() + ": has only " + std::to_string(skipped_) +
                         " bytes (decompressed) but the state file says " +
                         std::to_string(skip_) +
                         " were already read; the file changed in an unexpected way: move "
                         "the state file away to read every input from the start");
      }
      skipped_ += *got;
    }
    if (done_ >= limit_) return size_t{0};
    n = static_cast<size_t>(std::min<uint64_t>(n, limit_ - done_));
    Result<size_t> got = inner_->Read(buf, n);
    if (got.ok()) done_ += *got;
    return got;
  }

  const std::string& name() const override { return inner_->name(); }

 private:
  std::unique_ptr<ByteSource> inner_;
  uint64_t skip_;
  uint64_t limit_;
  uint64_t skipped_ = 0;
  uint64_t done_ = 0;
};

// Shared input handling for the decompressors: a block of compressed bytes, starting with the
// sniffed prefix, and the count of compressed bytes consumed so far (for messages).
class CompressedInput {
 public:
  CompressedInput(std::string prefix, std::unique_ptr<ByteSource> raw)
      : raw_(std::move(raw)), buf_(new char[kCompressedBlock]) {
    // The prefix is at most a few bytes, far below the block size.
    std::memcpy(buf_.get(), prefix.data(), prefix.size());
    len_ = prefix.size();
    read_total_ = prefix.size();
  }

  // Refills the block when it is used up. Sets eof() when the source is exhausted.
  Status Refill() {
    if (pos_ < len_ || eof_) return Status::Ok();
    Result<size_t> got = raw_->Read(buf_.get(), kCompressedBlock);
    if (!got.ok()) return got.status();
    pos_ = 0;
    len_ = *got;
    read_total_ += *got;
    if (*got == 0) eof_ = true;
    return Status::Ok();
  }

  const char* data() const { return buf_.get() + pos_; }
  size_t available() const { return len_ - pos_; }
  void Consume(size_t n) { pos_ += n; }
  bool eof() const { return eof_; }
  // Offset, in the compressed stream, of the next unconsumed byte.
  uint64_t position() const { return read_total_ - available(); }
  const std::string& name() const { return raw_->name(); }

 private:
  std::unique_ptr<ByteSource> raw_;
  std::unique_ptr<char[]> buf_;
  size_t pos_ = 0;
  size_t len_ = 0;
  uint64_t read_total_ = 0;
  bool eof_ = false;
};

Status TruncatedError(const std::string& name, const char* format, uint64_t at) {
  return DataError(name + ": truncated " + format + " stream (ended at compressed byte " +
                   std::to_string(at) + "); the file may still be being written or was cut short");
}

Status CorruptError(const std::string& name, const char* format, uint64_t at,
                    const std::string& why) {
  return DataError(name + ": corrupt " + format + " stream at compressed byte " +
                   std::to_string(at) + ": " + why +
                   "; check that the file was copied completely and is really " + format);
}

class GzipSource : public ByteSource {
 public:
  explicit GzipSource(CompressedInput in) : in_(std::move(in)) {}
  ~GzipSource() override {
    if (initialized_) inflateEnd(&zs_);
  }

  Status Init() {
    std::memset(&zs_, 0, sizeof zs_);
    // 15 + 16: maximum window, gzip wrapper only.
    if (inflateInit2(&zs_, 15 + 16) != Z_OK) {
      return InternalError(in_.name() + ": cannot start gzip decoder (out of memory?)");
    }
    initialized_ = true;
    return Status::Ok();
  }

  Result<size_t> Read(char* buf, size_t n) override {
    n = std::min(n, kMaxStep);
    if (done_ || n == 0) return size_t{0};
    zs_.next_out = reinterpret_cast<Bytef*>(buf);
    zs_.avail_out = static_cast<uInt>(n);
    while (zs_.avail_out == n) {  // until something is produced
      LOGPIPE_RETURN_IF_ERROR(in_.Refill());
      if (in_.available() == 0) {
        if (in_member_) return TruncatedError(in_.name(), "gzip", in_.position());
        done_ = true;
        return size_t{0};
      }
      in_member_ = true;
      size_t offered = std::min(in_.available(), kMaxStep);
      zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in_.data()));
      zs_.avail_in = static_cast<uInt>(offered);
      int rc = inflate(&zs_, Z_NO_FLUSH);
      in_.Consume(offered - zs_.avail_in);
      if (rc == Z_STREAM_END) {
        // One member done; another may follow (concatenated .gz files).
        in_member_ = false;
        inflateReset(&zs_);
      } else if (rc == Z_BUF_ERROR) {
        // No progress possible without more input: loop and refill.
      } else if (rc != Z_OK) {
        std::string why = zs_.msg ? zs_.msg : "zlib error " + std::to_string(rc);
        return CorruptError(in_.name(), "gzip", in_.position(), why);
      }
    }
    return n - zs_.avail_out;
  }

  const std::string& name() const override { return in_.name(); }

 private:
  CompressedInput in_;
  z_stream zs_;
  bool initialized_ = false;
  bool in_member_ = false;  // bytes of a member were consumed but its end not yet seen
  bool done_ = false;
};

class ZstdSource : public ByteSource {
 public:
  explicit ZstdSource(CompressedInput in) : in_(std::move(in)) {}
  ~ZstdSource() override { ZSTD_freeDCtx(dctx_); }

  Status Init() {
    dctx_ = ZSTD_createDCtx();
    if (dctx_ == nullptr) {
      return InternalError(in_.name() + ": cannot start zstd decoder (out of memory?)");
    }
    return Status::Ok();
  }

  Result<size_t> Read(char* buf, size_t n) override {
    n = std::min(n, kMaxStep);
    if (done_ || n == 0) return size_t{0};
    ZSTD_outBuffer out = {buf, n, 0};
    for (;;) {
      LOGPIPE_RETURN_IF_ERROR(in_.Refill());
      if (in_.available() == 0 && in_.eof() && !may_hold_output_) {
        if (frame_open_) return TruncatedError(in_.name(), "zstd", in_.position());
        done_ = true;
        return size_t{0};
      }
      ZSTD_inBuffer in = {in_.data(), in_.available(), 0};
      size_t ret = ZSTD_decompressStream(dctx_, &out, &in);
      in_.Consume(in.pos);
      if (ZSTD_isError(ret)) {
        return CorruptError(in_.name(), "zstd", in_.position(), ZSTD_getErrorName(ret));
      }
      // 0 means a frame is complete and flushed; another frame may follow. A call that did
      // nothing says nothing new.
      if (in.pos > 0 || out.pos > 0) frame_open_ = ret != 0;
      // A full output buffer may leave decoded bytes inside the decoder.
      may_hold_output_ = out.pos == out.size;
      if (out.pos > 0) return out.pos;
    }
  }

  const std::string& name() const override { return in_.name(); }

 private:
  CompressedInput in_;
  ZSTD_DCtx* dctx_ = nullptr;
  bool frame_open_ = true;  // the magic number has been seen, so a frame has begun
  bool may_hold_output_ = false;
  bool done_ = false;
};

}  // namespace

const char* CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
  }
  return "unknown";
}

Result<std::unique_ptr<ByteSource>> OpenInput(const std::string& path) {
  if (path == "-") {
    return DecodeByMagic(std::make_unique<FdSource>("-", STDIN_FILENO, /*owned=*/false));
  }
  int fd = OpenRetrying(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string hint;
    if (err == ENOENT || err == ENOTDIR) {
      hint = "check the path";
      char cwd[4096];
      if (!path.empty() && path[0] != '/' && getcwd(cwd, sizeof cwd) != nullptr) {
        hint += std::string(" (relative paths start from the working directory ") + cwd + ")";
      }
    } else if (err == EACCES || err == EPERM) {
      hint = "check the file's permissions and those of its directories";
    } else {
      hint = "check that the file exists and is readable";
    }
    return NoInputError(path + ": cannot open input: " + ErrnoText(err) + "; " + hint);
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    return NoInputError(path +
                        ": is a directory, not a file; name the files inside it or use a glob "
                        "such as " +
                        path + "/*.log");
  }
  return DecodeByMagic(std::make_unique<FdSource>(path, fd, /*owned=*/true));
}

Result<std::unique_ptr<ByteSource>> OpenInputRange(const std::string& path, uint64_t begin,
                                                   uint64_t end) {
  if (begin == 0 && end == UINT64_MAX) return OpenInput(path);
  const uint64_t limit = end >= begin ? end - begin : 0;
  Result<std::unique_ptr<ByteSource>> whole = OpenInput(path);  // its errors, its checks
  if (!whole.ok()) return whole.status();
  int fd = OpenRetrying(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return NoInputError(path + ": cannot open input: " + ErrnoText(errno) +
                        "; check that the file exists and is readable");
  }
  unsigned char m[4] = {0, 0, 0, 0};
  ssize_t have = pread(fd, m, sizeof m, 0);
  const bool compressed = (have >= 2 && m[0] == 0x1f && m[1] == 0x8b) ||
                          (have >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f &&
                           m[3] == 0xfd);
  if (compressed) {
    close(fd);
    return std::unique_ptr<ByteSource>(
        std::make_unique<RangeSource>(std::move(whole.value()), begin, limit));
  }
  whole.value().reset();
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) < begin) {
    close(fd);
    return DataError(path + ": has only " + std::to_string(st.st_size) +
                     " bytes but the state file says " + std::to_string(begin) +
                     " were already read; it was truncated during the run: run again");
  }
  if (lseek(fd, static_cast<off_t>(begin), SEEK_SET) < 0) {
    int err = errno;
    close(fd);
    return IoError(path + ": cannot seek to byte " + std::to_string(begin) + ": " +
                   ErrnoText(err) + "; check the disk or device holding it");
  }
  return std::unique_ptr<ByteSource>(std::make_unique<RangeSource>(
      std::make_unique<FdSource>(path, fd, /*owned=*/true, begin), 0, limit));
}

Result<std::unique_ptr<ByteSource>> DecodeByMagic(std::unique_ptr<ByteSource> raw,
                                                  Compression* detected) {
  // Sniff up to 4 bytes, tolerating short reads.
  char magic[4];
  size_t have = 0;
  while (have < sizeof magic) {
    Result<size_t> got = raw->Read(magic + have, sizeof magic - have);
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    have += *got;
  }
  std::string prefix(magic, have);
  const unsigned char* m = reinterpret_cast<const unsigned char*>(magic);
  Compression kind = Compression::kNone;
  if (have >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
    kind = Compression::kGzip;
  } else if (have >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) {
    kind = Compression::kZstd;
  }
  if (detected != nullptr) *detected = kind;
  switch (kind) {
    case Compression::kGzip: {
      auto src = std::make_unique<GzipSource>(CompressedInput(std::move(prefix), std::move(raw)));
      LOGPIPE_RETURN_IF_ERROR(src->Init());
      return std::unique_ptr<ByteSource>(std::move(src));
    }
    case Compression::kZstd: {
      auto src = std::make_unique<ZstdSource>(CompressedInput(std::move(prefix), std::move(raw)));
      LOGPIPE_RETURN_IF_ERROR(src->Init());
      return std::unique_ptr<ByteSource>(std::move(src));
    }
    case Compression::kNone:
      break;
  }
  if (have == 0) return raw;
  return std::unique_ptr<ByteSource>(
      std::make_unique<PrefixedSource>(std::move(prefix), std::move(raw)));
}

std::unique_ptr<ByteSource> NewMemorySource(std::string name, std::string bytes, size_t max_read) {
  return std::make_unique<MemorySource>(std::move(name), std::move(bytes), max_read);
}

}  // namespace logpipe
