#include "io/chunker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "io/byte_source.h"
#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

// What one Next() produced, copied out of the reused Chunk.
struct Got {
  std::string data;
  uint64_t offset;
  uint64_t first_line;
  uint64_t line_count;
  bool last;
  std::vector<OversizedLine> oversized;
};

// Runs a Chunker to the end, reusing one Chunk as the pipeline's pools do.
std::vector<Got> ChunkAll(std::unique_ptr<ByteSource> src, ChunkerOptions opts,
                          uint32_t index = 0) {
  Chunker chunker(std::move(src), index, opts);
  Chunk chunk;
  std::vector<Got> out;
  for (int guard = 0; guard < 10000000; ++guard) {
    Result<bool> more = chunker.Next(&chunk);
    EXPECT_TRUE(more.ok()) << more.status().message();
    if (!more.ok()) break;
    if (!*more) {
      EXPECT_EQ(chunk.size(), 0u);
      EXPECT_TRUE(chunk.oversized.empty());
      // Exhausted stays exhausted.
      Result<bool> again = chunker.Next(&chunk);
      EXPECT_TRUE(again.ok() && !*again);
      break;
    }
    EXPECT_EQ(chunk.source, index);
    out.push_back({std::string(chunk.bytes()), chunk.offset, chunk.first_line, chunk.line_count,
                   chunk.last_in_source, chunk.oversized});
  }
  return out;
}

std::vector<Got> ChunkString(const std::string& input, ChunkerOptions opts,
                             size_t max_read = SIZE_MAX) {
  return ChunkAll(NewMemorySource("mem", input, max_read), opts);
}

// Reference split, written independently of the chunker: lines end at '\n'; a last line
// without '\n' counts; an empty input has no lines.
struct RefLine {
  std::string text;  // without '\n'
  uint64_t offset;
  bool terminated;
};
std::vector<RefLine> SplitLines(const std::string& s) {
  std::vector<RefLine> lines;
  std::string cur;
  uint64_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n') {
      lines.push_back({cur, start, true});
      cur.clear();
      start = i + 1;
    } else {
      cur += s[i];
    }
  }
  if (start < s.size()) lines.push_back({cur, start, false});
  return lines;
}

uint64_t CountLinesByHand(const std::string& s) {
  uint64_t n = 0;
  for (char c : s) n += c == '\n';
  if (!s.empty() && s.back() != '\n') ++n;
  return n;
}

// Checks every invariant of a chunking of `input` with lines over `max_line` dropped.
void CheckChunking(const std::string& input, const std::vector<Got>& chunks, size_t max_line) {
  std::vector<RefLine> ref = SplitLines(input);
  // Expected: kept lines' bytes, and the numbers of the dropped ones.
  std::string kept;
  std::vector<uint64_t> dropped;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (ref[i].text.size() > max_line) {
      dropped.push_back(i + 1);
    } else {
      kept += ref[i].text + (ref[i].terminated ? "\n" : "");
    }
  }
  std::string concat;
  std::vector<uint64_t> got_dropped;
  uint64_t next_line = 1;
  for (size_t c = 0; c < chunks.size(); ++c) {
    const Got& g = chunks[c];
    SCOPED_TRACE("chunk " + std::to_string(c));
    EXPECT_EQ(g.last, c + 1 == chunks.size());
    EXPECT_TRUE(!g.data.empty() || !g.oversized.empty()) << "a chunk with nothing in it";
    // Oversized lines come just before the chunk's data, in order.
    for (size_t k = 0; k < g.oversized.size(); ++k) {
      const OversizedLine& o = g.oversized[k];
      EXPECT_EQ(o.line_number, next_line);
      ASSERT_GE(o.line_number, 1u);
      ASSERT_LE(o.line_number, ref.size());
      const RefLine& r = ref[o.line_number - 1];
      EXPECT_EQ(o.bytes, r.text.size());
      EXPECT_EQ(o.head, r.text.substr(0, 256));
      got_dropped.push_back(o.line_number);
      ++next_line;
    }
    if (!g.data.empty()) {
      EXPECT_EQ(g.first_line, next_line);
      ASSERT_LE(g.first_line, ref.size());
      EXPECT_EQ(g.offset, ref[g.first_line - 1].offset);
      // Whole lines only: ends in '\n' unless it holds the input's last line.
      if (g.data.back() != '\n') {
        EXPECT_EQ(g.offset + g.data.size(), input.size());
      }
      EXPECT_EQ(g.line_count, CountLinesByHand(g.data));
      EXPECT_EQ(input.compare(g.offset, g.data.size(), g.data), 0);
    } else {
      EXPECT_EQ(g.line_count, 0u);
    }
    next_line += g.line_count;
    concat += g.data;
  }
  EXPECT_EQ(next_line, ref.size() + 1);
  EXPECT_EQ(concat, kept);
  EXPECT_EQ(got_dropped, dropped);
}

TEST(Chunker, EmptyInputYieldsNoChunk) { EXPECT_TRUE(ChunkString("", {}).empty()); }

TEST(Chunker, LastLineWithoutNewlineCounts) {
  std::vector<Got> c = ChunkString("a\nbc", {});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].data, "a\nbc");
  EXPECT_EQ(c[0].line_count, 2u);
  EXPECT_EQ(c[0].first_line, 1u);
  EXPECT_EQ(c[0].offset, 0u);
  EXPECT_TRUE(c[0].last);
}

TEST(Chunker, CrlfBytesAreKeptAndLinesEndAtNewline) {
  std::string in = "GET /a\r\nGET /b\r\nlast\r";
  std::vector<Got> c = ChunkString(in, {});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].data, in);
  EXPECT_EQ(c[0].line_count, 3u);
}

TEST(Chunker, NulBytesAreOrdinary) {
  std::string in("a\0b\n\0\n\0", 7);
  std::vector<Got> c = ChunkString(in, {});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].data, in);
  EXPECT_EQ(c[0].line_count, 3u);
}

TEST(Chunker, EmptyLinesCount) {
  std::vector<Got> c = ChunkString("\n\n\n", {});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].line_count, 3u);
}

TEST(Chunker, ChunksHoldWholeLinesNearTheTargetSize) {
  // 1000 lines of 10 bytes; chunk_bytes 4096 cuts after line 409 (4090 bytes).
  std::string in;
  for (int i = 0; i < 1000; ++i) in += "line-" + std::string(4, 'a' + i % 26) + "\n";
  ChunkerOptions opts;
  opts.chunk_bytes = 4096;
  std::vector<Got> c = ChunkString(in, opts);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].data.size(), 4090u);
  EXPECT_EQ(c[0].line_count, 409u);
  EXPECT_EQ(c[1].offset, 4090u);
  EXPECT_EQ(c[1].first_line, 410u);
  EXPECT_EQ(c[2].first_line, 819u);
  EXPECT_EQ(c[2].line_count, 182u);
  CheckChunking(in, c, opts.max_line_bytes);
}

TEST(Chunker, LastInSourceIsExactWhenInputEndsAtTheTarget) {
  std::string in;
  for (int i = 0; i < 512; ++i) in += "1234567\n";  // exactly 4096 bytes
  ChunkerOptions opts;
  opts.chunk_bytes = 4096;
  std::vector<Got> c = ChunkString(in, opts);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c[0].last);
  EXPECT_EQ(c[0].line_count, 512u);
}

TEST(Chunker, SixMiBLineWithDefaultOptionsGrowsOneChunk) {
  std::string big(6 << 20, 'y');
  std::string in = "first\n" + big + "\nafter\n";
  std::vector<Got> c = ChunkString(in, {});
  CheckChunking(in, c, ChunkerOptions().max_line_bytes);
  bool found = false;
  for (const Got& g : c) {
    EXPECT_TRUE(g.oversized.empty());
    if (g.data.find(big + "\n") != std::string::npos) found = true;
  }
  EXPECT_TRUE(found) << "the 6 MiB line must sit whole in one chunk";
}

TEST(Chunker, LineOverMaxLineBytesIsCountedAsOversized) {
  ChunkerOptions opts;
  opts.chunk_bytes = 64;
  opts.max_line_bytes = 10;
  std::string in = "short\n" + std::string(20, 'L') + "\nafter1\nafter2";
  std::vector<Got> c = ChunkString(in, opts);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].data, "short\n");
  EXPECT_TRUE(c[0].oversized.empty());
  ASSERT_EQ(c[1].oversized.size(), 1u);
  EXPECT_EQ(c[1].oversized[0].line_number, 2u);
  EXPECT_EQ(c[1].oversized[0].bytes, 20u);
  EXPECT_EQ(c[1].oversized[0].head, std::string(20, 'L'));
  EXPECT_EQ(c[1].data, "after1\nafter2");
  EXPECT_EQ(c[1].first_line, 3u);
  EXPECT_EQ(c[1].offset, 27u);  // 6 + 20 + 1
  EXPECT_EQ(c[1].line_count, 2u);
  CheckChunking(in, c, opts.max_line_bytes);
}

TEST(Chunker, LineOfExactlyMaxLineBytesIsKept) {
  ChunkerOptions opts;
  opts.chunk_bytes = 4;
  opts.max_line_bytes = 10;
  std::string in = std::string(10, 'k') + "\n" + std::string(10, 'j');
  std::vector<Got> c = ChunkString(in, opts);
  CheckChunking(in, c, 10);
  for (const Got& g : c) EXPECT_TRUE(g.oversized.empty());
}

TEST(Chunker, OversizedHeadKeepsFirst256Bytes) {
  ChunkerOptions opts;
  opts.max_line_bytes = 100;
  std::string line;
  for (int i = 0; i < 1000; ++i) line += static_cast<char>('a' + i % 26);
  std::string in = line + "\nok\n";
  std::vector<Got> c = ChunkString(in, opts);
  ASSERT_EQ(c.size(), 1u);
  ASSERT_EQ(c[0].oversized.size(), 1u);
  EXPECT_EQ(c[0].oversized[0].line_number, 1u);
  EXPECT_EQ(c[0].oversized[0].bytes, 1000u);
  EXPECT_EQ(c[0].oversized[0].head, line.substr(0, 256));
  EXPECT_EQ(c[0].data, "ok\n");
  EXPECT_EQ(c[0].first_line, 2u);
  EXPECT_EQ(c[0].offset, 1001u);
}

TEST(Chunker, OversizedLastLineIsDeliveredInAnEmptyLastChunk) {
  ChunkerOptions opts;
  opts.chunk_bytes = 8;
  opts.max_line_bytes = 8;
  std::string in = "a\nb\n" + std::string(50, 'z');  // last line has no '\n'
  std::vector<Got> c = ChunkString(in, opts);
  ASSERT_FALSE(c.empty());
  const Got& last = c.back();
  EXPECT_TRUE(last.last);
  EXPECT_TRUE(last.data.empty());
  ASSERT_EQ(last.oversized.size(), 1u);
  EXPECT_EQ(last.oversized[0].line_number, 3u);
  EXPECT_EQ(last.oversized[0].bytes, 50u);
  CheckChunking(in, c, 8);
}

TEST(Chunker, OversizedLinesFarLargerThanChunkAreSkippedWithBoundedMemory) {
  ChunkerOptions opts;
  opts.chunk_bytes = 4096;
  opts.max_line_bytes = 1000;
  std::string in =
      "x\n" + std::string(3 << 20, 'Q') + "\n" + std::string(3 << 20, 'R') + "\nlast\n";
  Chunker chunker(NewMemorySource("m", in), 0, opts);
  Chunk chunk;
  std::vector<Got> got;
  for (;;) {
    Result<bool> more = chunker.Next(&chunk);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    EXPECT_LE(chunk.capacity(), size_t{64} << 10) << "buffer grew for a line it drops";
    got.push_back({std::string(chunk.bytes()), chunk.offset, chunk.first_line, chunk.line_count,
                   chunk.last_in_source, chunk.oversized});
  }
  CheckChunking(in, got, 1000);
}

TEST(Chunker, ShortReadsGiveTheSameChunks) {
  std::string in = "alpha\r\nbeta\n\ngamma\n" + std::string(300, 'd') + "\nend";
  std::vector<Got> whole = ChunkString(in, {});
  std::vector<Got> bytewise = ChunkString(in, {}, /*max_read=*/1);
  ASSERT_EQ(whole.size(), 1u);
  ASSERT_EQ(bytewise.size(), 1u);
  EXPECT_EQ(bytewise[0].data, in);
  EXPECT_EQ(bytewise[0].line_count, 6u);
}

TEST(Chunker, TinyChunkSizesReproduceTheInputExactly) {
  std::mt19937 rng(7);
  for (int round = 0; round < 30; ++round) {
    // Lines of 0..40 bytes, some CRLF, some NUL; sometimes no final newline.
    std::string in;
    int lines = static_cast<int>(rng() % 60);
    for (int i = 0; i < lines; ++i) {
      int len = static_cast<int>(rng() % 41);
      for (int k = 0; k < len; ++k) in += static_cast<char>(rng() % 5 == 0 ? '\0' : 'a' + k % 26);
      if (rng() % 4 == 0) in += '\r';
      in += '\n';
    }
    if (rng() % 2 == 0) in += "tail" + std::to_string(round);
    for (size_t chunk_bytes = 1; chunk_bytes <= 64; ++chunk_bytes) {
      for (size_t max_read : {size_t{1}, size_t{3}, SIZE_MAX}) {
        SCOPED_TRACE("round " + std::to_string(round) + " chunk_bytes " +
                     std::to_string(chunk_bytes) + " max_read " + std::to_string(max_read));
        ChunkerOptions opts;
        opts.chunk_bytes = chunk_bytes;
        std::vector<Got> c = ChunkString(in, opts, max_read);
        CheckChunking(in, c, opts.max_line_bytes);
        if (HasFailure()) return;
      }
    }
  }
}

TEST(Chunker, TinyChunkSizesWithOversizedLinesKeepExactNumbers) {
  std::mt19937 rng(11);
  for (int round = 0; round < 30; ++round) {
    std::string in;
    int lines = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < lines; ++i) {
      int len = static_cast<int>(rng() % 3 == 0 ? rng() % 300 : rng() % 12);
      for (int k = 0; k < len; ++k) in += static_cast<char>('A' + (i + k) % 26);
      if (i + 1 < lines || rng() % 2 == 0) in += '\n';
    }
    for (size_t chunk_bytes :
         {size_t{1}, size_t{2}, size_t{5}, size_t{16}, size_t{64}, size_t{5000}}) {
      for (size_t max_line : {size_t{0}, size_t{1}, size_t{10}, size_t{100}}) {
        for (size_t max_read : {size_t{1}, size_t{7}, SIZE_MAX}) {
          SCOPED_TRACE("round " + std::to_string(round) + " chunk_bytes " +
                       std::to_string(chunk_bytes) + " max_line " + std::to_string(max_line) +
                       " max_read " + std::to_string(max_read));
          ChunkerOptions opts;
          opts.chunk_bytes = chunk_bytes;
          opts.max_line_bytes = max_line;
          CheckChunking(in, ChunkString(in, opts, max_read), max_line);
          if (HasFailure()) return;
        }
      }
    }
  }
}

TEST(Chunker, ChunkBufferIsReusedAcrossNextCalls) {
  std::string in;
  for (int i = 0; i < 20000; ++i) in += "some log line " + std::to_string(i) + "\n";
  ChunkerOptions opts;
  opts.chunk_bytes = 16 << 10;
  Chunker chunker(NewMemorySource("m", in), 0, opts);
  Chunk chunk;
  Result<bool> more = chunker.Next(&chunk);
  ASSERT_TRUE(more.ok() && *more);
  const char* buffer = chunk.data();
  int chunks = 1;
  while (true) {
    more = chunker.Next(&chunk);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    EXPECT_EQ(chunk.data(), buffer);
    ++chunks;
  }
  EXPECT_GT(chunks, 10);
}

TEST(Chunker, SetsSourceIndex) {
  std::vector<Got> c = ChunkAll(NewMemorySource("m", "x\n"), {}, /*index=*/5);
  ASSERT_EQ(c.size(), 1u);  // ChunkAll checks chunk.source == 5
}

// A source that returns some bytes, then fails.
class FailingSource : public ByteSource {
 public:
  Result<size_t> Read(char* buf, size_t n) override {
    if (calls_++ == 0) {
      buf[0] = 'a';
      buf[1] = '\n';
      return size_t{2};
    }
    return IoError("broken.log: read failed at byte 2: Input/output error");
  }
  const std::string& name() const override { return name_; }

 private:
  int calls_ = 0;
  std::string name_ = "broken.log";
};

TEST(Chunker, ReadErrorIsReturnedWithTheSourcesMessage) {
  Chunker chunker(std::make_unique<FailingSource>(), 0, {});
  EXPECT_EQ(chunker.name(), "broken.log");
  Chunk chunk;
  Result<bool> r = chunker.Next(&chunk);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("broken.log"), std::string::npos);
}

TEST(Chunker, SampleFilesChunkToTheirExactBytesAndLineCounts) {
  for (const char* name : {"data/sample/apache_combined.log", "data/sample/auth.log",
                           "data/sample/kafka_server.log", "data/sample/nginx_shop_access.log"}) {
    std::string path = ::logpipe::testing::SourcePath(name);
    std::string bytes = ::logpipe::testing::ReadFile(path);
    if (bytes.empty()) continue;
    Result<std::unique_ptr<ByteSource>> src = OpenInput(path);
    ASSERT_TRUE(src.ok()) << src.status().message();
    ChunkerOptions opts;
    opts.chunk_bytes = 64 << 10;
    std::vector<Got> c = ChunkAll(std::move(src).value(), opts);
    CheckChunking(bytes, c, opts.max_line_bytes);
  }
}

// ---- Multi-line events

namespace multiline {

// Lines starting with 'S' start events (after one trailing '\r' is stripped, which the
// predicate never sees).
bool StartsWithS(std::string_view line) { return !line.empty() && line[0] == 'S'; }

std::string StripCr(std::string s) {
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

struct Event {
  uint64_t first_line;
  std::string text;  // lines without '\r', joined by '\n'
  uint64_t lines;
  bool operator==(const Event& o) const {
    return first_line == o.first_line && text == o.text && lines == o.lines;
  }
};
std::ostream& operator<<(std::ostream& os, const Event& e) {
  return os << "{line " << e.first_line << ", " << e.lines << " lines, '" << e.text << "'}";
}

struct Expected {
  std::vector<Event> events;
  std::vector<uint64_t> oversized;
  uint64_t truncated = 0;
  uint64_t dropped = 0;
};

// The rules of io/chunker.h, written out line by line over the whole input, independently of
// any chunking.
Expected ReferenceEvents(const std::string& input, size_t max_lines, size_t max_bytes,
                         size_t max_line_bytes) {
  Expected out;
  bool open = false;
  bool dropping = false;
  std::vector<RefLine> lines = SplitLines(input);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& raw = lines[i].text;
    if (raw.size() > max_line_bytes) {
      out.oversized.push_back(i + 1);
      open = false;
      continue;
    }
    const std::string text = StripCr(raw);
    if (!open || StartsWithS(text)) {
      out.events.push_back({i + 1, text, 1});
      open = true;
      dropping = false;
      continue;
    }
    if (dropping) {
      ++out.dropped;
      continue;
    }
    Event& e = out.events.back();
    if (e.lines + 1 > max_lines || e.text.size() + 1 + text.size() > max_bytes) {
      ++out.truncated;
      ++out.dropped;
      dropping = true;
      continue;
    }
    e.text += "\n" + text;
    ++e.lines;
  }
  return out;
}

struct GotEvents {
  Expected got;
  size_t chunks = 0;
};

// Chunks `input` with multi-line events and regroups each chunk's lines by the predicate
// (its first line always starting an event), as RecordBatch does.
GotEvents ChunkEvents(const std::string& input, ChunkerOptions opts, size_t max_read) {
  opts.multiline.starts_event = StartsWithS;
  std::vector<Got> chunks;
  Chunker chunker(NewMemorySource("mem", input, max_read), 0, opts);
  Chunk chunk;
  GotEvents out;
  uint64_t next_line = 1;
  for (int guard = 0; guard < 1000000; ++guard) {
    Result<bool> more = chunker.Next(&chunk);
    EXPECT_TRUE(more.ok()) << more.status().message();
    if (!more.ok() || !*more) {
      EXPECT_EQ(chunk.size(), 0u);
      break;
    }
    ++out.chunks;
    EXPECT_TRUE(chunk.size() > 0 || !chunk.oversized.empty() || chunk.dropped_lines > 0)
        << "a chunk with nothing in it";
    // Dropped lines, then oversized lines, come just before the data.
    next_line += chunk.dropped_lines;
    for (const OversizedLine& o : chunk.oversized) {
      EXPECT_EQ(o.line_number, next_line);
      out.got.oversized.push_back(o.line_number);
      ++next_line;
    }
    out.got.dropped += chunk.dropped_lines;
    out.got.truncated += chunk.truncated_events;
    if (chunk.size() > 0) {
      EXPECT_EQ(chunk.first_line, next_line);
      // The data is a contiguous range of the input (a process shard preads it).
      EXPECT_EQ(input.compare(chunk.offset, chunk.size(), std::string(chunk.bytes())), 0)
          << "offset " << chunk.offset;
    }
    EXPECT_EQ(chunk.line_count, CountLinesByHand(std::string(chunk.bytes())));
    std::vector<RefLine> lines = SplitLines(std::string(chunk.bytes()));
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string text = StripCr(lines[i].text);
      if (i == 0 || StartsWithS(text)) {
        out.got.events.push_back({chunk.first_line + i, text, 1});
      } else {
        out.got.events.back().text += "\n" + text;
        ++out.got.events.back().lines;
      }
    }
    next_line += chunk.line_count;
    if (chunk.last_in_source) {
      Result<bool> again = chunker.Next(&chunk);
      EXPECT_TRUE(again.ok() && !*again) << "last_in_source, yet another chunk";
      break;
    }
  }
  EXPECT_EQ(next_line, SplitLines(input).size() + 1);
  return out;
}

void CheckEvents(const std::string& input, ChunkerOptions opts, size_t max_read = SIZE_MAX) {
  Expected want = ReferenceEvents(input, opts.multiline.max_lines, opts.multiline.max_bytes,
                                  opts.max_line_bytes);
  GotEvents got = ChunkEvents(input, opts, max_read);
  EXPECT_EQ(got.got.events, want.events);
  EXPECT_EQ(got.got.oversized, want.oversized);
  EXPECT_EQ(got.got.truncated, want.truncated);
  EXPECT_EQ(got.got.dropped, want.dropped);
}

}  // namespace multiline

TEST(ChunkerMultiline, EventsStraddlingEveryTinyChunkSizeStayWhole) {
  const std::string in =
      "c before the first start\r\nc and another\n"
      "S1 one\nc1 a\r\nc1 b\n"
      "S2 alone\n"
      "S3\r\n\r\n\tat x\n"
      "S4 last, no final newline\nc4 end";
  multiline::Expected want = multiline::ReferenceEvents(in, 500, 1 << 20, 1 << 20);
  ASSERT_EQ(want.events.size(), 5u);  // the lines before the first start line are one event
  EXPECT_EQ(want.events[0].text, "c before the first start\nc and another");
  EXPECT_EQ(want.events[4].text, "S4 last, no final newline\nc4 end");
  for (size_t chunk_bytes = 1; chunk_bytes <= in.size() + 2; ++chunk_bytes) {
    for (size_t max_read : {size_t{1}, size_t{5}, SIZE_MAX}) {
      SCOPED_TRACE("chunk_bytes " + std::to_string(chunk_bytes) + " max_read " +
                   std::to_string(max_read));
      ChunkerOptions opts;
      opts.chunk_bytes = chunk_bytes;
      multiline::CheckEvents(in, opts, max_read);
      if (HasFailure()) return;
    }
  }
}

TEST(ChunkerMultiline, OneByteChunksHoldOneEventEach) {
  ChunkerOptions opts;
  opts.chunk_bytes = 1;
  multiline::GotEvents got =
      multiline::ChunkEvents("S a\nc\nc\nS b\nS c\nc\n", opts, SIZE_MAX);
  EXPECT_EQ(got.chunks, 3u);
  EXPECT_EQ(got.got.events.size(), 3u);
}

TEST(ChunkerMultiline, EventOverMaxLinesIsCutAndItsRestDroppedAtEveryChunkSize) {
  std::string in = "S head\n";
  for (int i = 0; i < 10; ++i) in += "\tat frame " + std::to_string(i) + "\n";
  in += "S next\nc of next\n";
  multiline::Expected want = multiline::ReferenceEvents(in, 3, 1 << 20, 1 << 20);
  ASSERT_EQ(want.events.size(), 2u);
  EXPECT_EQ(want.events[0].lines, 3u);
  EXPECT_EQ(want.truncated, 1u);
  EXPECT_EQ(want.dropped, 8u);
  for (size_t chunk_bytes = 1; chunk_bytes <= in.size() + 2; ++chunk_bytes) {
    SCOPED_TRACE("chunk_bytes " + std::to_string(chunk_bytes));
    ChunkerOptions opts;
    opts.chunk_bytes = chunk_bytes;
    opts.multiline.max_lines = 3;
    multiline::CheckEvents(in, opts);
    if (HasFailure()) return;
  }
}

TEST(ChunkerMultiline, EventOverMaxBytesIsCutAtTheLineThatCrossesIt) {
  // "S 12345" (7) + "\nc 1234" (7) = 14 bytes; the next line would make 21.
  const std::string in = "S 12345\r\nc 1234\r\nc 5678\r\nc 9\nS 2\nc ok";
  multiline::Expected want = multiline::ReferenceEvents(in, 500, 14, 1 << 20);
  ASSERT_EQ(want.events.size(), 2u);
  EXPECT_EQ(want.events[0].text, "S 12345\nc 1234");
  EXPECT_EQ(want.truncated, 1u);
  EXPECT_EQ(want.dropped, 2u);
  for (size_t chunk_bytes = 1; chunk_bytes <= in.size() + 2; ++chunk_bytes) {
    SCOPED_TRACE("chunk_bytes " + std::to_string(chunk_bytes));
    ChunkerOptions opts;
    opts.chunk_bytes = chunk_bytes;
    opts.multiline.max_bytes = 14;
    multiline::CheckEvents(in, opts, 3);
    if (HasFailure()) return;
  }
}

TEST(ChunkerMultiline, FirstLineOverMaxBytesIsKeptAlone) {
  const std::string in = "S " + std::string(100, 'x') + "\nc dropped\nS b\n";
  ChunkerOptions opts;
  opts.multiline.max_bytes = 10;
  multiline::CheckEvents(in, opts);
  multiline::GotEvents got = multiline::ChunkEvents(in, opts, SIZE_MAX);
  ASSERT_EQ(got.got.events.size(), 2u);
  EXPECT_EQ(got.got.truncated, 1u);
  EXPECT_EQ(got.got.dropped, 1u);
}

TEST(ChunkerMultiline, TruncatedEventAtTheEndLeavesAnEmptyLastChunkCountingTheDrops) {
  ChunkerOptions opts;
  opts.multiline.max_lines = 1;
  multiline::GotEvents got = multiline::ChunkEvents("S a\nc\nc", opts, SIZE_MAX);
  ASSERT_EQ(got.got.events.size(), 1u);
  EXPECT_EQ(got.got.truncated, 1u);
  EXPECT_EQ(got.got.dropped, 2u);
  EXPECT_EQ(got.chunks, 2u);
}

TEST(ChunkerMultiline, OversizedLineEndsTheEventBeforeIt) {
  const std::string in = "S a\nc 1\n" + std::string(50, 'c') + "\nc 2\nc 3\nS b\n";
  multiline::Expected want = multiline::ReferenceEvents(in, 500, 1 << 20, 20);
  ASSERT_EQ(want.events.size(), 3u);  // S a + c 1 | c 2 + c 3 | S b
  for (size_t chunk_bytes : {size_t{1}, size_t{7}, size_t{4096}}) {
    SCOPED_TRACE("chunk_bytes " + std::to_string(chunk_bytes));
    ChunkerOptions opts;
    opts.chunk_bytes = chunk_bytes;
    opts.max_line_bytes = 20;
    multiline::CheckEvents(in, opts, 2);
  }
}

TEST(ChunkerMultiline, RandomInputsMatchTheReferenceAtEveryChunkSize) {
  std::mt19937 rng(2024);
  for (int round = 0; round < 60; ++round) {
    std::string in;
    const int lines = static_cast<int>(rng() % 50);
    for (int i = 0; i < lines; ++i) {
      in += rng() % 3 == 0 ? 'S' : (rng() % 2 ? 'c' : '\t');
      const int len = static_cast<int>(rng() % (rng() % 8 == 0 ? 60 : 12));
      for (int k = 0; k < len; ++k) in += static_cast<char>('a' + rng() % 26);
      if (rng() % 4 == 0) in += '\r';
      in += '\n';
    }
    if (rng() % 2 == 0) in += rng() % 2 ? "S tail" : "c tail";
    ChunkerOptions opts;
    opts.multiline.max_lines = 1 + rng() % 6;
    opts.multiline.max_bytes = 5 + rng() % 80;
    opts.max_line_bytes = rng() % 3 == 0 ? 40 : size_t{1} << 20;
    for (size_t chunk_bytes = 1; chunk_bytes <= 96; chunk_bytes += 1 + chunk_bytes / 8) {
      for (size_t max_read : {size_t{1}, size_t{3}, SIZE_MAX}) {
        SCOPED_TRACE("round " + std::to_string(round) + " chunk_bytes " +
                     std::to_string(chunk_bytes) + " max_read " + std::to_string(max_read));
        opts.chunk_bytes = chunk_bytes;
        multiline::CheckEvents(in, opts, max_read);
        if (HasFailure()) return;
      }
    }
  }
}

}  // namespace
}  // namespace logpipe

namespace logpipe {
namespace {

// Incremental runs start a source partway: offsets and line numbers continue from there.
TEST(Chunker, FirstOffsetAndFirstLineContinueNumbering) {
  for (size_t chunk_bytes : {size_t{1}, size_t{1} << 20}) {
    ChunkerOptions opts;
    opts.chunk_bytes = chunk_bytes;
    Chunker chunker(NewMemorySource("in", "c\ndd\n"), 0, opts, /*first_offset=*/4,
                    /*first_line=*/3);
    Chunk chunk;
    uint64_t first_offset = 0, first_line = 0, end_offset = 0, end_line = 0, chunks = 0;
    while (true) {
      Result<bool> more = chunker.Next(&chunk);
      ASSERT_TRUE(more.ok());
      if (!*more) break;
      if (chunks++ == 0) {
        first_offset = chunk.offset;
        first_line = chunk.first_line;
      }
      end_offset = chunk.offset + chunk.size();
      end_line = chunk.first_line + chunk.line_count;
    }
    EXPECT_EQ(first_offset, 4u);
    EXPECT_EQ(first_line, 3u);
    EXPECT_EQ(end_offset, 9u);  // 4 + "c\ndd\n"
    EXPECT_EQ(end_line, 5u);    // lines 3 and 4 were read
  }
}

}  // namespace
}  // namespace logpipe
