#pragma once
// Part files (.lpp): what `logpipe map` writes for one shard and `logpipe
// reduce` merges (README "Beyond one machine"): the shard's records and rejects
// as rendered, its aggregate partials (Aggregate::Encode) and its run counters,
// tied to one plan by the plan's hash.
//
// Layout (integers little-endian):
//   "LPPART1\n"
//   frames, each: u8 kind (1 records, 2 rejects, 3 partial) | u32 index
//   (records output or
//                 aggregate) | u64 length | bytes; records and rejects in input
//                 order
//   trailer: JSON {"format": "logpipe-part", "version": 1, "logpipe_version",
//   "plan_hash",
//                  "shard", "shards", "frames_bytes", "frames_crc32", "stats":
//                  {...}}
//   u32 CRC-32 of the trailer | u64 trailer length | "LPPEND1\n"
// The trailer is at the end so map writes the frames as batches arrive (memory
// stays bounded by one batch); reduce reads every trailer first (foreign,
// duplicate, missing or truncated parts are refused before any output is
// opened) and checks the frames' CRC-32 (zlib) as it streams them into the
// outputs' temp files, so a corrupt part commits nothing. A part is written
// through an AtomicFile: a killed map task leaves no part, never half of one.
//
// Thread-safety: none; one writer or reader per object.
// Errors: kCantCreate / kIoError naming the part file; kDataError naming the
// part file and
//   what is wrong with it (not a part, truncated, checksum mismatch), saying to
//   run its map task again.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "io/atomic_file.h"
#include "io/status.h"
#include "pipeline/executor.h"

namespace logpipe {

constexpr int kPartFileVersion = 1;

enum class FrameKind : uint8_t { kRecords = 1, kRejects = 2, kPartial = 3 };

struct PartTrailer {
  std::string logpipe_version;
  std::string plan_hash;
  uint64_t shard = 0;
  uint64_t shards = 0;
  uint64_t frames_bytes = 0;
  uint32_t frames_crc32 = 0;
  RunStats stats;  // the shard's counters, oversized lines and skipped inputs
};

class PartWriter {
 public:
  static Result<PartWriter> Create(const std::string& path);

  Status AddFrame(FrameKind kind, uint32_t index, std::string_view bytes);
  // Writes the trailer (frames_bytes and frames_crc32 filled in here) and
  // commits the file.
  Status Finish(PartTrailer trailer);

  const std::string& temp_path() const { return file_.temp_path(); }

 private:
  explicit PartWriter(AtomicFile file) : file_(std::move(file)) {}

  AtomicFile file_;
  uint64_t frames_bytes_ = 0;
  uint32_t crc_ = 0;
};

// Reads and checks `path`'s framing and trailer (not the frames' checksum:
// PartReader does).
Result<PartTrailer> ReadPartTrailer(const std::string& path);

// Streams the frames of a part whose trailer was read; the last Next() checks
// their CRC-32.
class PartReader {
 public:
  static Result<PartReader> Open(const std::string& path, const PartTrailer& trailer);
  PartReader(PartReader&& other) noexcept;
  PartReader(const PartReader&) = delete;
  PartReader& operator=(const PartReader&) = delete;
  ~PartReader();

  // The next frame into *kind, *index, *bytes; false after the last one (its
  // CRC checked).
  Result<bool> Next(FrameKind* kind, uint32_t* index, std::string* bytes);

 private:
  PartReader(std::string path, int fd, uint64_t frames_bytes, uint32_t crc)
      : path_(std::move(path)), fd_(fd), frames_bytes_(frames_bytes), expected_crc_(crc) {}
  Status ReadExact(char* buf, size_t n);

  std::string path_;
  int fd_ = -1;
  uint64_t frames_bytes_ = 0;
  uint64_t pos_ = 0;  // offset in the frames
  uint32_t expected_crc_ = 0;
  uint32_t crc_ = 0;
};

}  // namespace logpipe
