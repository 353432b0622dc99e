#include "io/line_range.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

using logpipe::testing::TempDir;

// The bytes a LineRangeSource gives for `range` of the file at `path`, read `read_size` bytes
// at a time; `start` receives the first line start it found.
std::string ReadRange(const std::string& path, const LineRange& range, size_t read_size,
                      uint64_t* start = nullptr) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  LineRangeSource source(path, fd, range);
  Status st = source.Start();
  EXPECT_TRUE(st.ok()) << st.message();
  if (start != nullptr) *start = source.start();
  std::string out;
  std::vector<char> buf(read_size);
  for (int guard = 0; guard < 1000000; ++guard) {
    Result<size_t> got = source.Read(buf.data(), buf.size());
    EXPECT_TRUE(got.ok()) << got.status().message();
    if (!got.ok() || *got == 0) break;
    out.append(buf.data(), *got);
  }
  close(fd);
  return out;
}

// The lines of `text` (each with its '\n', the last one perhaps without), computed directly.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl + 1;
    out.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

TEST(SplitRegion, CoversTheRegionInOrder) {
  InputRegion region;
  region.begin = 10;
  region.end = 35;
  region.first_line = 7;
  std::vector<LineRange> ranges = SplitRegion(region, 10);
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[0].begin, 10u);
  EXPECT_EQ(ranges[0].end, 20u);
  EXPECT_TRUE(ranges[0].begin_is_line_start);
  EXPECT_EQ(ranges[0].first_line, 7u);
  EXPECT_EQ(ranges[1].begin, 20u);
  EXPECT_FALSE(ranges[1].begin_is_line_start);
  EXPECT_EQ(ranges[1].first_line, 0u);
  EXPECT_EQ(ranges[2].end, 35u);
  for (const LineRange& r : ranges) EXPECT_EQ(r.limit, 35u);
  EXPECT_TRUE(SplitRegion({5, 5, 1}, 10).empty());
  EXPECT_EQ(SplitRegion({0, 3, 1}, 0).size(), 3u);  // 0 is taken as 1
}

// Tapered ranges tile the region in order, never grow, stay within [min, max] (the last one
// may be shorter), and shrink to the minimum once a range would be more than 1/taper of what
// is left. Checked against the rule computed by hand for one region.
TEST(SplitRegionTapered, ShrinksTowardsTheEndAndTilesTheRegion) {
  // 100 bytes, ranges of at most 16 and at least 4, taper 4; left/4 with what is left:
  // 100/4 -> 16, 84/4 -> 16, 68/4 -> 16, 52/4 = 13, 39/4 = 9, 30/4 = 7, 23/4 = 5, 18/4 = 4,
  // then the minimum 4 (14, 10 and 6 left), and the last 2 bytes.
  std::vector<LineRange> ranges = SplitRegionTapered({0, 100, 1}, 16, 4, 4);
  std::vector<uint64_t> sizes;
  for (const LineRange& r : ranges) sizes.push_back(r.end - r.begin);
  EXPECT_EQ(sizes, (std::vector<uint64_t>{16, 16, 16, 13, 9, 7, 5, 4, 4, 4, 4, 2}));
  for (uint64_t begin : {0, 3, 977}) {
    for (uint64_t len : {0, 1, 5, 64, 1000, 4097}) {
      for (uint64_t taper : {0, 1, 2, 4, 64}) {
        const InputRegion region{begin, begin + len, 9};
        std::vector<LineRange> got = SplitRegionTapered(region, 64, 8, taper);
        uint64_t at = region.begin;
        for (size_t i = 0; i < got.size(); ++i) {
          const uint64_t size = got[i].end - got[i].begin;
          EXPECT_EQ(got[i].begin, at);
          EXPECT_EQ(got[i].limit, region.end);
          EXPECT_EQ(got[i].begin_is_line_start, i == 0);
          EXPECT_EQ(got[i].first_line, i == 0 ? 9u : 0u);
          EXPECT_LE(size, 64u);
          if (i + 1 < got.size()) {
            EXPECT_GE(size, 8u);
          }
          if (i > 0) {
            EXPECT_LE(size, got[i - 1].end - got[i - 1].begin);
          }
          at = got[i].end;
        }
        EXPECT_EQ(at, region.end) << "begin " << begin << " len " << len << " taper " << taper;
        if (taper == 0) {
          EXPECT_EQ(got.size(), SplitRegion(region, 64).size());
        }
      }
    }
  }
}

// Every way of cutting a file into ranges gives each line to exactly one range, whole, in
// order: lines straddling boundaries, boundaries exactly after a '\n', a line longer than
// several ranges, CRLF, NUL bytes, empty lines, and a last line without '\n'.
TEST(LineRangeSource, EveryCutGivesEveryLineExactlyOnce) {
  TempDir dir;
  std::string text = "first line\r\nsecond\n\n";
  text += std::string("nul\0byte", 8) + "\n";
  text += std::string(300, 'L') + "\n";  // longer than most ranges below
  text += "x\ny\r\n";
  text += "no final newline";
  const std::vector<std::string> want = Lines(text);
  const std::string path = dir.Write("a.log", text);
  for (uint64_t range_bytes = 1; range_bytes <= text.size() + 1; ++range_bytes) {
    for (size_t read_size : {size_t{1}, size_t{7}, size_t{4096}}) {
      std::vector<std::string> got;
      for (const LineRange& r : SplitRegion({0, text.size(), 1}, range_bytes)) {
        uint64_t start = 0;
        const std::string bytes = ReadRange(path, r, read_size, &start);
        // A range's bytes are whole lines starting in it, beginning at a line start.
        if (!bytes.empty()) {
          EXPECT_GE(start, r.begin);
          EXPECT_LT(start, r.end);
          EXPECT_TRUE(start == 0 || text[start - 1] == '\n');
          EXPECT_EQ(text.substr(start, bytes.size()), bytes);
        }
        for (const std::string& line : Lines(bytes)) got.push_back(line);
      }
      EXPECT_EQ(got, want) << "range_bytes " << range_bytes << ", reads of " << read_size;
    }
  }
}

TEST(LineRangeSource, RegionStartingMidFileAndEmptyFile) {
  TempDir dir;
  const std::string text = "aaa\nbbb\nccc\nddd";
  const std::string path = dir.Write("a.log", text);
  // An incremental run's region starts at a saved line start (byte 4); nothing at or past its
  // end (byte 10, inside "ccc") is read, even to finish a line.
  std::string all;
  for (const LineRange& r : SplitRegion({4, 10, 2}, 3)) all += ReadRange(path, r, 4096);
  EXPECT_EQ(all, "bbb\ncc");
  // The range starting exactly at byte 8 (after '\n') owns "ccc\n" even without
  // begin_is_line_start.
  LineRange r;
  r.begin = 8;
  r.end = 9;
  r.limit = text.size();
  EXPECT_EQ(ReadRange(path, r, 4096), "ccc\n");
  // A range inside one line owns nothing.
  r.begin = 9;
  r.end = 11;
  EXPECT_EQ(ReadRange(path, r, 4096), "");
  const std::string empty = dir.Write("empty.log", "");
  EXPECT_TRUE(SplitRegion({0, 0, 1}, 4096).empty());
  r.begin = 0;
  r.end = 0;
  r.limit = 0;
  EXPECT_EQ(ReadRange(empty, r, 4096), "");
}

TEST(LineRangeSource, FileThatShrankIsAnErrorNamingIt) {
  TempDir dir;
  const std::string path = dir.Write("a.log", "abc\n");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  LineRange r;
  r.begin = 0;
  r.end = 8;
  r.limit = 8;  // the parent saw 8 bytes; 4 are left
  LineRangeSource source(path, fd, r);
  ASSERT_TRUE(source.Start().ok());
  char buf[64];
  Result<size_t> got = source.Read(buf, sizeof buf);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, 4u);
  got = source.Read(buf, sizeof buf);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kIoError);
  EXPECT_NE(got.status().message().find(path + ": the file shrank"), std::string::npos)
      << got.status().message();
  close(fd);
}

}  // namespace
}  // namespace logpipe
