#pragma once
// State file of incremental runs (config key `state:`): what earlier runs read of each input,
// so the next run reads only new whole lines. This file is the pure format and the file
// identity helpers; matching this run's inputs to entries and the commit are in
// pipeline/incremental.h.
//
// Format: one JSON object (nlohmann-json), written atomically (temp, fsync, rename, fsync dir):
//   {"format": "logpipe-state", "version": 1, "config_hash": "<16 hex>", "runs": N,
//    "inputs": [{"path", "dev", "ino", "fingerprint": "<16 hex>", "fingerprint_bytes",
//                "offset", "lines", "size", "mtime_ns", "compressed"}...],
//    "accumulate": {"totals": [[name, count]...], "partials": ["<base64>"...]}   (optional)}
// An input's identity is (dev, ino) plus a fingerprint: FNV-1a 64 of its first
// fingerprint_bytes = min(size, kFingerprintBytes) *decompressed* bytes. `offset` is in the
// decompressed stream and always at a line start; `lines` is the number of lines before it.
//
// Thread-safety: plain functions and values.
// Cost: IdentifyFile reads (and decompresses) at most a few KiB of the file's start.
// Errors: DecodeStateFile returns kDataError naming the file and what is wrong, for any
//   bytes that are not a state file of this version (never crashes; fuzzed). IdentifyFile
//   returns kNoInput (cannot open or stat), kDataError (corrupt compressed start).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/status.h"

namespace logpipe {

constexpr int kStateFileVersion = 1;
constexpr size_t kFingerprintBytes = 1024;

uint64_t Fnv1a64(std::string_view bytes);
// `v` as 16 lower-case hex digits (how the state file writes fingerprints and hashes).
std::string Hex64(uint64_t v);

// What a run knows of one local input file when it starts.
struct FileIdentity {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t size = 0;  // on disk (compressed size for a compressed file)
  int64_t mtime_ns = 0;
  bool regular = false;     // a regular file (not a FIFO, device, ...)
  bool compressed = false;  // gzip or zstd by magic bytes
  std::string head;         // its first min(size, kFingerprintBytes) decompressed bytes
};

// Stats and fingerprints `path`. A non-regular file is returned with regular = false and
// nothing read (reading a FIFO would consume it).
Result<FileIdentity> IdentifyFile(const std::string& path);

// The offset just past the last '\n' in the plain file's bytes [begin, size), or `begin` when
// there is none: where a run stops reading so that a trailing partial line waits. Reads the
// file backwards from `size` in 64 KiB blocks. Errors: kNoInput / kIoError naming the file.
Result<uint64_t> EndOfLastLine(const std::string& path, uint64_t begin, uint64_t size);

struct StateEntry {
  std::string path;  // where it was last seen (for messages only; matching ignores it)
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t fingerprint = 0;
  uint64_t fingerprint_bytes = 0;
  uint64_t offset = 0;  // decompressed bytes done (a line start)
  uint64_t lines = 0;   // lines before `offset`
  uint64_t size = 0;    // size and mtime at the end of the last run that saw it
  int64_t mtime_ns = 0;
  bool compressed = false;
};

// Whether `head` (a file's first bytes, as in FileIdentity) starts with the bytes the entry
// was fingerprinted over.
bool FingerprintMatches(const StateEntry& entry, std::string_view head);

struct StateFile {
  std::string config_hash;  // of the config parts that decide results (pipeline/incremental.h)
  uint64_t runs = 0;        // runs committed so far
  std::vector<StateEntry> entries;
  // accumulate: true only: the report totals so far and every aggregate's partial
  // (Aggregate::Encode bytes), in plan order.
  bool has_accumulated = false;
  std::vector<std::pair<std::string, uint64_t>> totals;
  std::vector<std::string> partials;
};

std::string EncodeStateFile(const StateFile& state);
// Pure: `path` only names the file in messages. A fuzz target calls it with any bytes.
Result<StateFile> DecodeStateFile(std::string_view bytes, const std::string& path);

// Reads and decodes `path`; nullopt when it does not exist (the first run).
// Errors: kNoInput when it exists but cannot be read, kDataError when corrupt.
Result<std::optional<StateFile>> ReadStateFile(const std::string& path);

// Writes `state` to `path` atomically (io/atomic_file.h). Errors: kCantCreate.
Status WriteStateFile(const std::string& path, const StateFile& state);

}  // namespace logpipe
