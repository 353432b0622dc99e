// Fuzz target: the heads protocol process shards end a run with (stages/stage.h, AggregateStage
// in stages/aggregate_wire.cc): the messages each side reads from the other. The first byte
// picks the side, the rest is the message:
//   even: a shard's AnswerQuery, the rest standing for the parent's query, against a holder's
//         partial (after EncodeHead, as in a shard);
//   odd:  the parent's CompleteHeads over two holders' heads (encoded and decoded, as the
//         parent gets them), the rest standing for holder 0's answers: its first byte is the
//         length of the round-1 answer, which follows; what remains is the round-2 answer.
//         Holder 1 answers honestly.
// The holders share one group whose top(path, 2) needs both rounds (a value in neither head
// passes the threshold at holder 0; round 2 asks holder 1 for it). Garbage must be rejected
// with a Status, never read out of bounds or trip an assert (fuzz builds keep asserts); heads
// completed from whatever was accepted must still Merge and Finish, and when holder 0's answers
// were the honest ones, Finish must equal that of the whole partials merged.
// Seeds (tests/fuzz/corpus/heads): the honest query of round 1 and both honest answers.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/chunk.h"
#include "stages/record_batch.h"
#include "stages/report_format.h"
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

// Heads: holder 0 /a 5 and /b 4, holder 1 /c 5 and /e 4, so T = 5. Round 1: holder 0 sends
// every count c with 2c >= 5 (/a, /b and /g 3), holder 1 /c and /e; round 2 asks holder 1 for
// /g (1). The top 2: /a 5 and /c 5.
std::vector<std::string> HolderLines() {
  return {Lines({{"/a", 5}, {"/b", 4}, {"/g", 3}}), Lines({{"/c", 5}, {"/e", 4}, {"/g", 1}})};
}

std::string FinishText(const Aggregate& aggregate, std::vector<std::unique_ptr<Partial>> parts) {
  std::unique_ptr<Partial> all = aggregate.NewPartial();
  for (auto& p : parts) aggregate.Merge(std::move(*p), *all);
  std::string text;
  logpipe::AppendTableJson(aggregate.Finish(std::move(*all)), &text);
  return text;
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

  // Holder 0's answers: [length of round 1's][round 1's][round 2's].
  std::string_view rest = message;
  size_t first = 0;
  if (!rest.empty()) {
    first = std::min<size_t>(static_cast<uint8_t>(rest[0]), rest.size() - 1);
    rest.remove_prefix(1);
  }
  const std::string answers_of_holder0[2] = {std::string(rest.substr(0, first)),
                                             std::string(rest.substr(first))};
  std::vector<std::unique_ptr<Partial>> heads;
  std::vector<Partial*> head_ptrs;
  for (size_t i = 0; i < 2; ++i) {
    heads.push_back(aggregate.NewPartial());
    if (!aggregate.Decode(head_bytes[i], heads[i].get()).ok()) __builtin_trap();
    head_ptrs.push_back(heads[i].get());
  }
  size_t round = 0;
  bool honest = true;  // holder 0 said what AnswerQuery says
  const Status st = aggregate.CompleteHeads(
      head_ptrs, [&](const std::vector<std::string>& queries, std::vector<std::string>* answers) {
        if (queries.size() != 2 || answers->size() != 2 || round == 2) __builtin_trap();
        std::string truth;
        if (!aggregate.AnswerQuery(*holders[0], queries[0], &truth).ok()) __builtin_trap();
        (*answers)[0] = answers_of_holder0[round++];
        honest = honest && (*answers)[0] == truth;
        return aggregate.AnswerQuery(*holders[1], queries[1], &(*answers)[1]);
      });
  if (!st.ok()) {
    if (st.message().empty() || honest) __builtin_trap();
    return 0;
  }
  const std::string completed = FinishText(aggregate, std::move(heads));
  if (honest) {
    std::vector<std::unique_ptr<Partial>> whole;
    for (const std::string& l : lines) whole.push_back(PartialOf(*fixture, l));
    if (round != 2 || completed != FinishText(aggregate, std::move(whole))) __builtin_trap();
  }
  return 0;
}
