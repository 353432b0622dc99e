// Fuzz target: the chunker. The first 3 bytes choose chunk_bytes (1..256), max_line_bytes
// (1..256) and the source's largest read (1..64, so short reads happen everywhere); the rest is
// the input. Checks the chunker's contract against a line split done here independently:
//   - the chunks' bytes, concatenated, are the input minus every oversized line (and its '\n');
//   - each chunk holds whole lines: it ends in '\n' unless it ends the input;
//   - line numbers: first_line, line_count and the oversized lines' numbers tile 1..N exactly;
//   - offset is the stream offset of the chunk's first byte; last_in_source only on the last.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/byte_source.h"
#include "io/chunk.h"
#include "io/chunker.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  logpipe::ChunkerOptions options;
  options.chunk_bytes = 1 + data[0];
  options.max_line_bytes = 1 + data[1];
  const size_t max_read = 1 + data[2] % 64;
  const std::string input(reinterpret_cast<const char*>(data) + 3, size - 3);

  // The reference: split at '\n'; a last line without '\n' counts; a line longer than
  // max_line_bytes (not counting its '\n') is dropped whole.
  std::string kept;
  struct Oversized {
    uint64_t number;
    uint64_t len;  // without '\n', with any '\r'
    bool cr;       // ends in '\r' (which `bytes` may or may not count)
  };
  std::vector<Oversized> oversized;
  std::vector<uint64_t> line_offsets;  // stream offset of each kept line, in order
  uint64_t lines = 0;
  for (size_t pos = 0; pos < input.size();) {
    size_t end = input.find('\n', pos);
    const size_t len = (end == std::string::npos ? input.size() : end) - pos;
    const size_t with_newline = end == std::string::npos ? len : len + 1;
    ++lines;
    if (len > options.max_line_bytes) {
      oversized.push_back({lines, len, len > 0 && input[pos + len - 1] == '\r'});
    } else {
      line_offsets.push_back(pos);
      kept.append(input, pos, with_newline);
    }
    pos += with_newline;
  }

  logpipe::Chunker chunker(logpipe::NewMemorySource("fuzz", input, max_read), 7, options);
  std::string got;
  size_t oversized_seen = 0;
  uint64_t next_line = 1;
  size_t kept_lines_seen = 0;
  bool saw_last = false;
  while (true) {
    logpipe::Chunk chunk;
    logpipe::Result<bool> more = chunker.Next(&chunk);
    Check(more.ok());  // a memory source never fails
    if (!*more) break;
    Check(!saw_last);
    saw_last = chunk.last_in_source;
    Check(chunk.source == 7);
    for (const auto& o : chunk.oversized) {
      Check(oversized_seen < oversized.size());
      const Oversized& want = oversized[oversized_seen++];
      Check(o.line_number == next_line && o.line_number == want.number);
      Check(o.bytes == want.len || (want.cr && o.bytes == want.len - 1));
      ++next_line;
    }
    if (chunk.size() == 0) {
      Check(chunk.line_count == 0);
      continue;
    }
    Check(chunk.first_line == next_line);
    Check(kept_lines_seen < line_offsets.size());
    Check(chunk.offset == line_offsets[kept_lines_seen]);
    const std::string_view bytes = chunk.bytes();
    uint64_t newlines = 0;
    for (char c : bytes) newlines += c == '\n';
    const bool ends_line = bytes.back() == '\n';
    Check(chunk.line_count == newlines + (ends_line ? 0 : 1));
    if (!ends_line) Check(chunk.offset + bytes.size() == input.size());
    got.append(bytes);
    next_line += chunk.line_count;
    kept_lines_seen += chunk.line_count;
  }
  Check(got == kept);
  Check(oversized_seen == oversized.size());
  Check(next_line == lines + 1);
  Check(kept_lines_seen == line_offsets.size());
  return 0;
}
