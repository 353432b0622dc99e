#include "stages/record_batch.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "io/chunk.h"
#include "io/chunker.h"
#include "tests/support/alloc_counter.h"

namespace logpipe {
namespace {

Chunk MakeChunk(const std::string& bytes, uint64_t first_line = 1) {
  Chunk chunk;
  chunk.Reserve(bytes.size() + 1);
  if (!bytes.empty()) std::memcpy(chunk.mutable_data(), bytes.data(), bytes.size());
  chunk.set_size(bytes.size());
  chunk.first_line = first_line;
  return chunk;
}

// Lines whose first byte is '[' start events.
const StartsEventFn kBracket = [](std::string_view line) {
  return !line.empty() && line[0] == '[';
};

std::vector<std::string> Rows(const RecordBatch& batch) {
  std::vector<std::string> rows;
  for (uint32_t r = 0; r < batch.size(); ++r) rows.emplace_back(batch.line(r));
  return rows;
}

TEST(RecordBatch, WithoutMultilineEachLineIsARowOfOneLine) {
  Chunk chunk = MakeChunk("a\r\nb\n[c\nd", 7);
  RecordBatch batch;
  batch.Reset(chunk, 0);
  EXPECT_EQ(Rows(batch), (std::vector<std::string>{"a", "b", "[c", "d"}));
  EXPECT_EQ(batch.line_number(3), 10u);
  EXPECT_EQ(batch.event_lines(2), 1u);
  EXPECT_EQ(batch.counters.lines, 4u);
  EXPECT_EQ(batch.counters.events, 4u);
  const StartsEventFn empty;
  batch.Reset(chunk, 0, &empty);  // an empty function: lines too
  EXPECT_EQ(batch.size(), 4u);
}

TEST(RecordBatch, MultilineGroupsLinesIntoEventsJoinedByNewline) {
  Chunk chunk = MakeChunk("lead\nin\n[1] a\n\tat x\n\tat y\n[2] b\n[3] c\ntail", 100);
  chunk.truncated_events = 2;
  chunk.dropped_lines = 9;
  RecordBatch batch;
  batch.Reset(chunk, 1, &kBracket);
  // The chunk's first line starts an event even though it does not match.
  EXPECT_EQ(Rows(batch), (std::vector<std::string>{"lead\nin", "[1] a\n\tat x\n\tat y", "[2] b",
                                                   "[3] c\ntail"}));
  EXPECT_EQ(batch.line_number(0), 100u);
  EXPECT_EQ(batch.line_number(1), 102u);
  EXPECT_EQ(batch.line_number(2), 105u);
  EXPECT_EQ(batch.line_number(3), 106u);
  EXPECT_EQ(batch.event_lines(0), 2u);
  EXPECT_EQ(batch.event_lines(1), 3u);
  EXPECT_EQ(batch.event_lines(2), 1u);
  EXPECT_EQ(batch.event_lines(3), 2u);
  EXPECT_EQ(batch.selected, (std::vector<uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(batch.counters.lines, 8u);
  EXPECT_EQ(batch.counters.events, 4u);
  EXPECT_EQ(batch.counters.truncated_events, 2u);
  EXPECT_EQ(batch.counters.dropped_lines, 9u);
}

TEST(RecordBatch, MultilineCrlfEventsAreRejoinedWithoutCarriageReturns) {
  std::string bytes;
  std::vector<std::string> want;
  for (int i = 0; i < 50; ++i) {  // many rejoined events: earlier views must stay valid
    std::string n = std::to_string(i);
    bytes += "[" + n + "] x\r\n\tat " + n + "\r\n\r\n";
    want.push_back("[" + n + "] x\n\tat " + n + "\n");
    bytes += "[single " + n + "]\r\n";
    want.push_back("[single " + n + "]");
    bytes += "[lf " + n + "]\nnext\r\n";  // only the last line ends in "\r\n": a plain view
    want.push_back("[lf " + n + "]\nnext");
  }
  bytes += "[last]\r\nno final newline\r";
  want.push_back("[last]\nno final newline");
  Chunk chunk = MakeChunk(bytes);
  RecordBatch batch;
  batch.Reset(chunk, 0, &kBracket);
  EXPECT_EQ(Rows(batch), want);
  EXPECT_EQ(batch.event_lines(0), 3u);
  // An event whose lines end in '\n' only is a view into the chunk, not a copy.
  EXPECT_GE(batch.line(2).data(), chunk.data());
  EXPECT_LT(batch.line(2).data(), chunk.data() + chunk.size());
}

TEST(RecordBatch, MultilineResetAllocatesNothingForASecondChunkOfTheSameShape) {
  Chunk chunk = MakeChunk("[a]\r\n1\r\n2\n[b]\nc\n[c]\r\n");
  RecordBatch batch;
  batch.Reset(chunk, 2, &kBracket);
  ASSERT_EQ(batch.size(), 3u);
  const uint64_t before = testing::AllocationCount();
  batch.Reset(chunk, 2, &kBracket);
  EXPECT_EQ(testing::AllocationCount() - before, 0u);
  EXPECT_EQ(Rows(batch), (std::vector<std::string>{"[a]\n1\n2", "[b]\nc", "[c]"}));
}

TEST(RecordBatch, EmptyChunkHasNoEvents) {
  Chunk chunk = MakeChunk("");
  RecordBatch batch;
  batch.Reset(chunk, 0, &kBracket);
  EXPECT_EQ(batch.size(), 0u);
  EXPECT_EQ(batch.counters.lines, 0u);
}

}  // namespace
}  // namespace logpipe
