// Fuzz target: the incremental runs' state file (io/state_file.h). Arbitrary bytes through
// DecodeStateFile must come back decoded or as kDataError naming the file, never crash; what
// decodes must encode and decode again to the same state (so a state logpipe wrote itself is
// always read back as written).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "io/state_file.h"

namespace {

bool SameEntries(const logpipe::StateFile& a, const logpipe::StateFile& b) {
  if (a.entries.size() != b.entries.size()) return false;
  for (size_t i = 0; i < a.entries.size(); ++i) {
    const logpipe::StateEntry& x = a.entries[i];
    const logpipe::StateEntry& y = b.entries[i];
    if (x.path != y.path || x.dev != y.dev || x.ino != y.ino || x.fingerprint != y.fingerprint ||
        x.fingerprint_bytes != y.fingerprint_bytes || x.offset != y.offset || x.lines != y.lines ||
        x.size != y.size || x.mtime_ns != y.mtime_ns || x.compressed != y.compressed) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  logpipe::Result<logpipe::StateFile> state = logpipe::DecodeStateFile(bytes, "fuzz.state");
  if (!state.ok()) {
    if (state.status().message().find("fuzz.state") == std::string::npos) __builtin_trap();
    return 0;
  }
  const std::string encoded = logpipe::EncodeStateFile(*state);
  logpipe::Result<logpipe::StateFile> again = logpipe::DecodeStateFile(encoded, "fuzz.state");
  if (!again.ok()) __builtin_trap();
  if (again->config_hash != state->config_hash || again->runs != state->runs ||
      !SameEntries(*state, *again) || again->has_accumulated != state->has_accumulated ||
      again->totals != state->totals || again->partials != state->partials) {
    __builtin_trap();
  }
  return 0;
}
