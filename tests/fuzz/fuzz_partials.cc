// Fuzz target: decoding what process shards send the parent. The first byte picks the decoder:
// BatchOutput::DecodeFrom (a shard's per-batch result), or one aggregate's Decode (a shard's
// encoded Partial at the end of the run) for one of the fixture's aggregates (count, sum,
// distinct, top, pNN, min, max; grouped by a field and an hour bucket). Garbage must be
// rejected with a Status, never read out of bounds; what decodes must Merge and Finish.
// Also checked: a Partial that decoded re-encodes to bytes that decode again.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pipeline/batch_output.h"
#include "tests/fuzz/fuzz_fixture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static logpipe::fuzz::Fixture* fixture = logpipe::fuzz::MakeFixture();
  if (size < 1) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto& aggregates = fixture->plan.aggregates;
  const size_t which = data[0] % (aggregates.size() + 1);
  if (which == aggregates.size()) {
    logpipe::BatchOutput out;
    (void)logpipe::BatchOutput::DecodeFrom(bytes, &out);
    return 0;
  }
  const logpipe::Aggregate& aggregate = *aggregates[which];
  std::unique_ptr<logpipe::Partial> partial = aggregate.NewPartial();
  if (!aggregate.Decode(bytes, partial.get()).ok()) return 0;
  std::string encoded;
  aggregate.Encode(*partial, &encoded);
  std::unique_ptr<logpipe::Partial> again = aggregate.NewPartial();
  if (!aggregate.Decode(encoded, again.get()).ok()) __builtin_trap();
  std::unique_ptr<logpipe::Partial> all = aggregate.NewPartial();
  aggregate.Merge(std::move(*partial), *all);
  aggregate.Merge(std::move(*again), *all);
  (void)aggregate.Finish(std::move(*all));
  return 0;
}
