#pragma once
// ByteSource: a stream of bytes from one input (a file, stdin, or a decompressor over another
// source). The chunker reads from it; nothing above io/ sees file descriptors.
//
// Thread-safety: none; one reader at a time.
// Cost: Read() is one read(2) (or one decompression step); no mmap, no whole-file buffering.
// Errors: Read() returns kIoError naming the input and the byte offset; a truncated or
//   corrupt compressed stream is kDataError ("a.log.gz: truncated gzip stream (ended at
//   compressed byte N); ..."), as are bytes after a gzip member that are not another member.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "io/status.h"

namespace logpipe {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `n` bytes into `buf`; returns how many, 0 only at end of input.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
  // The input's name for messages: its path, "-" (stdin) or its URL.
  virtual const std::string& name() const = 0;
};

enum class Compression { kNone, kGzip, kZstd };
const char* CompressionName(Compression c);

// Opens `path` for streaming ("-" is standard input) and, if its first bytes are a gzip
// (1f 8b) or zstd (28 b5 2f fd) magic number, wraps it in a decompressor: detection is by
// content, never by file name. Multi-member gzip and multi-frame zstd are read to the end.
// Errors: kNoInput for a missing or unreadable file or a directory, naming it and the OS
//   reason.
Result<std::unique_ptr<ByteSource>> OpenInput(const std::string& path);

// OpenInput, positioned: delivers the (decompressed) bytes [begin, end) of `path` (end
// UINT64_MAX: to the end of the input). A plain file is opened at `begin` (lseek, nothing
// before it is read); a compressed one is decompressed from its start and its first `begin`
// bytes discarded. Used by incremental runs (pipeline/incremental.h).
// Errors: as OpenInput; a stream that ends before `begin` is kDataError naming the input and
//   both sizes (the file changed since the state file was written). Reading stops quietly at
//   `end` or at the end of the input, whichever comes first.
Result<std::unique_ptr<ByteSource>> OpenInputRange(const std::string& path, uint64_t begin,
                                                   uint64_t end);

// Wraps an already open source the same way (used for stdin, tests, and later for URLs).
// `*detected` (optional) receives what was found.
Result<std::unique_ptr<ByteSource>> DecodeByMagic(std::unique_ptr<ByteSource> raw,
                                                  Compression* detected = nullptr);

// A source over bytes in memory, for tests and small inputs. Returns at most `max_read`
// bytes per Read() call so tests can exercise short reads.
std::unique_ptr<ByteSource> NewMemorySource(std::string name, std::string bytes,
                                            size_t max_read = SIZE_MAX);

}  // namespace logpipe
