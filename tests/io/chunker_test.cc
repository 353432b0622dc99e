#include "io/chunker.h"

#include <gtest/gtest.h>

#include <algorithm>
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

}  // namespace
}  // namespace logpipe
