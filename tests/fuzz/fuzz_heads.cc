// Fuzz target: the heads protocol process shards end a run with (stages/stage.h, AggregateStage
// in stages/aggregate_wire.cc): the messages each side reads from the other. The first byte
// picks the side, the rest is the message:
//   even: a shard's AnswerQuery, the rest standing for the parent's query, against a holder's
//         partial (after EncodeHead, as in a shard);
//   odd:  the parent's CompleteHeads over two holders' heads (encoded and decoded, as the
//         parent gets them), the rest standing for holder 0's answer in every round; holder 1
//         answers honestly.
// The holders share a group whose top(path, 2) needs a threshold round. Garbage must be
// rejected with a Status, never read out of bounds or trip an assert; heads completed from
// whatever was accepted must still Merge and Finish.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/chunk.h"
#include "stages/record_batch.h"
#include "tests/fuzz/fuzz_fixture.h"

namespace {

using logpipe::Aggregate;
using logpipe::Partial;
using logpipe::Status;

// Access-log lines of status 200 in one hour, `n` requests of each path.
std::string Lines(const std::vector<std::pair<const char*, int>>& paths) {
  std::string out;
  for (const auto& [path, n] : paths) {
    for (int i = 0; i < n; ++i) {
      out += "1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET ";
      out += path;
      out += " HTTP/1.1\" 200 100 \"-\" \"ua\"\n";
    }
  }
  return out;
}

std::unique_ptr<Partial> PartialOf(const logpipe::fuzz::Fixture& f, const std::string& lines) {
  const logpipe::Chunk chunk = logpipe::fuzz::ChunkOf(lines);
  logpipe::RecordBatch batch;
  batch.Reset(chunk, f.plan.schema.size());
  const logpipe::Transform& parse = *f.plan.transforms[0];
  std::unique_ptr<logpipe::Scratch> scratch = parse.NewScratch();
  parse.Process(batch, *scratch);
  const Aggregate& aggregate = *f.plan.aggregates[0];
  std::unique_ptr<Partial> p = aggregate.NewPartial();
  aggregate.Add(batch, *p);
  return p;
}

// Holder 0 shows /a and /b in its head, holder 1 /c and /e: /c (1 + 4) can only be found by
// the threshold round.
std::vector<std::string> HolderLines() {
  return {Lines({{"/a", 5}, {"/b", 3}, {"/c", 1}, {"/d", 1}}),
          Lines({{"/c", 4}, {"/e", 2}, {"/a", 1}, {"/f", 1}})};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static logpipe::fuzz::Fixture* fixture = logpipe::fuzz::MakeFixture();
  if (size < 1) return 0;
  const std::string message(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Aggregate& aggregate = *fixture->plan.aggregates[0];
  if (!aggregate.HeadsNeedQueries()) __builtin_trap();  // the fixture's top(path, 2)
  const std::vector<std::string> lines = HolderLines();
  std::vector<std::unique_ptr<Partial>> holders;
  std::string head_bytes[2];
  for (size_t i = 0; i < 2; ++i) {
    holders.push_back(PartialOf(*fixture, lines[i]));
    aggregate.EncodeHead(*holders[i], &head_bytes[i]);
  }

  if ((data[0] & 1) == 0) {
    std::string answer;
    const Status st = aggregate.AnswerQuery(*holders[0], message, &answer);
    if (!st.ok() && st.message().empty()) __builtin_trap();
    return 0;
  }

  std::vector<std::unique_ptr<Partial>> heads;
  std::vector<Partial*> head_ptrs;
  for (size_t i = 0; i < 2; ++i) {
    heads.push_back(aggregate.NewPartial());
    if (!aggregate.Decode(head_bytes[i], heads[i].get()).ok()) __builtin_trap();
    head_ptrs.push_back(heads[i].get());
  }
  const Status st = aggregate.CompleteHeads(
      head_ptrs, [&](const std::vector<std::string>& queries, std::vector<std::string>* answers) {
        if (queries.size() != 2 || answers->size() != 2) __builtin_trap();
        (*answers)[0] = message;
        return aggregate.AnswerQuery(*holders[1], queries[1], &(*answers)[1]);
      });
  if (!st.ok()) {
    if (st.message().empty()) __builtin_trap();
    return 0;
  }
  std::unique_ptr<Partial> all = aggregate.NewPartial();
  for (auto& h : heads) aggregate.Merge(std::move(*h), *all);
  (void)aggregate.Finish(std::move(*all));
  return 0;
}
