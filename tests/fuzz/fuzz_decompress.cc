// Fuzz target: the decompressors. Arbitrary bytes through DecodeByMagic (gzip, also several
// members; zstd, also several frames; anything else passed through), read in pieces of 1..256
// bytes (the first byte chooses). A corrupt or truncated stream must come back as kDataError
// naming the input; plain bytes must come back unchanged. Output is capped at 8 MiB per input
// so a small bomb does not exhaust the fuzzer's memory.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "io/byte_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t piece = 1 + data[0];
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  logpipe::Compression detected = logpipe::Compression::kNone;
  logpipe::Result<std::unique_ptr<logpipe::ByteSource>> source =
      logpipe::DecodeByMagic(logpipe::NewMemorySource("fuzz.bin", input, 1 + data[0] % 13),
                             &detected);
  if (!source.ok()) return 0;
  std::string out;
  std::string buf(piece, '\0');
  constexpr size_t kCap = size_t{8} << 20;
  while (out.size() < kCap) {
    logpipe::Result<size_t> n = source.value()->Read(buf.data(), buf.size());
    if (!n.ok()) {
      if (n.status().message().find("fuzz.bin") == std::string::npos) __builtin_trap();
      return 0;
    }
    if (*n == 0) break;
    if (*n > buf.size()) __builtin_trap();
    out.append(buf.data(), *n);
  }
  if (detected == logpipe::Compression::kNone && out != input) __builtin_trap();
  return 0;
}
