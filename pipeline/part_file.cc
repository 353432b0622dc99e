#include "pipeline/part_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "pipeline/json_get.h"

namespace logpipe {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kBeginMagic[] = "LPPART1\n";  // 8 bytes, as is kEndMagic
constexpr char kEndMagic[] = "LPPEND1\n";
constexpr size_t kMagicBytes = 8;
constexpr size_t kFrameHeaderBytes = 1 + 4 + 8;
constexpr size_t kTailBytes = 4 + 8 + kMagicBytes;  // crc, trailer length, end magic
constexpr char kFormatName[] = "logpipe-part";

void PutLe(uint64_t v, size_t bytes, std::string* out) {
  for (size_t i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetLe(const char* p, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v |= uint64_t(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

uint32_t Crc32(uint32_t crc, std::string_view bytes) {
  return static_cast<uint32_t>(
      crc32_z(crc, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

Status Corrupt(const std::string& path, const std::string& why) {
  return DataError(path + ": not a usable logpipe part file (" + why +
                   "); run its logpipe map task again");
}

Json StatsToJson(const RunStats& s) {
  const BatchCounters& c = s.counters;
  Json j;
  j["lines"] = c.lines;
  j["events"] = c.events;
  j["truncated_events"] = c.truncated_events;
  j["dropped_lines"] = c.dropped_lines;
  j["bytes"] = c.bytes;
  j["matched"] = c.matched;
  j["mismatched"] = c.mismatched;
  j["invalid_utf8"] = c.invalid_utf8;
  j["filtered_out"] = c.filtered_out;
  j["conversion_errors"] = c.conversion_errors;
  j["oversized_lines"] = s.oversized_lines;
  j["chunks"] = s.chunks;
  Json skipped = Json::array();
  for (const SkippedInput& in : s.skipped_inputs) skipped.push_back({in.input, in.error});
  j["skipped_inputs"] = std::move(skipped);
  return j;
}

RunStats StatsFromJson(const Json& j) {  // throws Json::exception when malformed
  RunStats s;
  BatchCounters& c = s.counters;
  c.lines = json_get::U64(j, "lines");
  c.events = json_get::U64(j, "events");
  c.truncated_events = json_get::U64(j, "truncated_events");
  c.dropped_lines = json_get::U64(j, "dropped_lines");
  c.bytes = json_get::U64(j, "bytes");
  c.matched = json_get::U64(j, "matched");
  c.mismatched = json_get::U64(j, "mismatched");
  c.invalid_utf8 = json_get::U64(j, "invalid_utf8");
  c.filtered_out = json_get::U64(j, "filtered_out");
  for (const Json& e : j.at("conversion_errors")) {
    if (!e.is_number_unsigned()) throw std::invalid_argument("bad conversion_errors");
    c.conversion_errors.push_back(e.get<uint64_t>());
  }
  s.oversized_lines = json_get::U64(j, "oversized_lines");
  s.chunks = json_get::U64(j, "chunks");
  for (const Json& e : j.at("skipped_inputs")) {
    s.skipped_inputs.push_back({e.at(0).get<std::string>(), e.at(1).get<std::string>()});
  }
  return s;
}

// Fills buf with n bytes at `offset` of fd; false on a short read (errno 0) or
// an error.
bool PreadExact(int fd, uint64_t offset, char* buf, size_t n) {
  size_t have = 0;
  while (have < n) {
    ssize_t got = pread(fd, buf + have, n - have, static_cast<off_t>(offset + have));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      if (got == 0) errno = 0;
      return false;
    }
    have += static_cast<size_t>(got);
  }
  return true;
}

std::string ReadError(const std::string& path) {
  return errno == 0 ? std::string("it is shorter than its trailer says")
                    : std::string("read failed: ") + std::strerror(errno);
}

}  // namespace

Result<PartWriter> PartWriter::Create(const std::string& path) {
  Result<AtomicFile> file = AtomicFile::Create(path);
  if (!file.ok()) return file.status();
  PartWriter writer(std::move(file.value()));
  LOGPIPE_RETURN_IF_ERROR(writer.file_.Append(std::string_view(kBeginMagic, kMagicBytes)));
  return writer;
}

Status PartWriter::AddFrame(FrameKind kind, uint32_t index, std::string_view bytes) {
  std::string header;
  header.push_back(static_cast<char>(kind));
  PutLe(index, 4, &header);
  PutLe(bytes.size(), 8, &header);
  crc_ = Crc32(Crc32(crc_, header), bytes);
  frames_bytes_ += header.size() + bytes.size();
  LOGPIPE_RETURN_IF_ERROR(file_.Append(header));
  return file_.Append(bytes);
}

Status PartWriter::Finish(PartTrailer trailer) {
  Json j;
  j["format"] = kFormatName;
  j["version"] = kPartFileVersion;
  j["logpipe_version"] = trailer.logpipe_version;
  j["plan_hash"] = trailer.plan_hash;
  j["shard"] = trailer.shard;
  j["shards"] = trailer.shards;
  j["frames_bytes"] = frames_bytes_;
  j["frames_crc32"] = crc_;
  j["stats"] = StatsToJson(trailer.stats);
  std::string text = j.dump();
  std::string tail;
  PutLe(Crc32(0, text), 4, &tail);
  PutLe(text.size(), 8, &tail);
  tail.append(kEndMagic, kMagicBytes);
  LOGPIPE_RETURN_IF_ERROR(file_.Append(text));
  LOGPIPE_RETURN_IF_ERROR(file_.Append(tail));
  return file_.Commit();
}

Result<PartTrailer> ReadPartTrailer(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return NoInputError(path + ": cannot open part file: " + std::strerror(errno) +
                        "; check the path, or run its logpipe map task");
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { close(fd); }
  } closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0)
    return IoError(path + ": cannot stat part file: " + std::strerror(errno));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < kMagicBytes + kTailBytes) return Corrupt(path, "too short");
  char begin[kMagicBytes];
  char tail[kTailBytes];
  if (!PreadExact(fd, 0, begin, kMagicBytes) ||
      !PreadExact(fd, size - kTailBytes, tail, kTailBytes)) {
    return Corrupt(path, ReadError(path));
  }
  if (std::memcmp(begin, kBeginMagic, kMagicBytes) != 0) return Corrupt(path, "no part header");
  if (std::memcmp(tail + 12, kEndMagic, kMagicBytes) != 0) {
    return Corrupt(path, "no end marker: truncated");
  }
  const uint32_t trailer_crc = static_cast<uint32_t>(GetLe(tail, 4));
  const uint64_t trailer_bytes = GetLe(tail + 4, 8);
  if (trailer_bytes > size - kMagicBytes - kTailBytes) return Corrupt(path, "bad trailer length");
  std::string text(trailer_bytes, '\0');
  if (!PreadExact(fd, size - kTailBytes - trailer_bytes, text.data(), text.size())) {
    return Corrupt(path, ReadError(path));
  }
  if (Crc32(0, text) != trailer_crc) return Corrupt(path, "trailer checksum mismatch");
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !json_get::IsFormat(j, kFormatName)) {
    return Corrupt(path, "no part trailer");
  }
  PartTrailer t;
  try {
    if (!j.at("version").is_number_integer() ||
        j.at("version").get<int64_t>() != kPartFileVersion) {
      return Corrupt(path, "format version " + j.at("version").dump() + ", this logpipe reads " +
                               std::to_string(kPartFileVersion));
    }
    t.logpipe_version = j.at("logpipe_version").get<std::string>();
    t.plan_hash = j.at("plan_hash").get<std::string>();
    t.shard = json_get::U64(j, "shard");
    t.shards = json_get::U64(j, "shards");
    t.frames_bytes = json_get::U64(j, "frames_bytes");
    t.frames_crc32 = static_cast<uint32_t>(json_get::U64(j, "frames_crc32", UINT32_MAX));
    t.stats = StatsFromJson(j.at("stats"));
  } catch (const std::exception& e) {  // Json::exception or std::invalid_argument (json_get.h)
    return Corrupt(path, std::string("trailer field missing or of the wrong type: ") + e.what());
  }
  if (t.frames_bytes != size - kMagicBytes - kTailBytes - trailer_bytes) {
    return Corrupt(path, "its size does not match its trailer: truncated or appended to");
  }
  return t;
}

Result<PartReader> PartReader::Open(const std::string& path, const PartTrailer& trailer) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NoInputError(path + ": cannot open part file: " + std::strerror(errno));
  return PartReader(path, fd, trailer.frames_bytes, trailer.frames_crc32);
}

PartReader::PartReader(PartReader&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(other.fd_),
      frames_bytes_(other.frames_bytes_),
      pos_(other.pos_),
      expected_crc_(other.expected_crc_),
      crc_(other.crc_) {
  other.fd_ = -1;
}

PartReader::~PartReader() {
  if (fd_ >= 0) close(fd_);
}

Status PartReader::ReadExact(char* buf, size_t n) {
  if (!PreadExact(fd_, kMagicBytes + pos_, buf, n)) return Corrupt(path_, ReadError(path_));
  pos_ += n;
  return Status::Ok();
}

Result<bool> PartReader::Next(FrameKind* kind, uint32_t* index, std::string* bytes) {
  if (pos_ == frames_bytes_) {
    if (crc_ != expected_crc_)
      return Corrupt(path_, "checksum mismatch in its records or partials");
    return false;
  }
  if (frames_bytes_ - pos_ < kFrameHeaderBytes) return Corrupt(path_, "a truncated frame");
  char header[kFrameHeaderBytes];
  LOGPIPE_RETURN_IF_ERROR(ReadExact(header, kFrameHeaderBytes));
  crc_ = Crc32(crc_, std::string_view(header, kFrameHeaderBytes));
  const uint8_t k = static_cast<uint8_t>(header[0]);
  const uint64_t length = GetLe(header + 5, 8);
  if (k < 1 || k > 3) return Corrupt(path_, "an unknown frame kind " + std::to_string(k));
  if (length > frames_bytes_ - pos_) return Corrupt(path_, "a frame longer than the file");
  *kind = static_cast<FrameKind>(k);
  *index = static_cast<uint32_t>(GetLe(header + 1, 4));
  bytes->resize(length);
  LOGPIPE_RETURN_IF_ERROR(ReadExact(bytes->data(), length));
  crc_ = Crc32(crc_, *bytes);
  return true;
}

}  // namespace logpipe
