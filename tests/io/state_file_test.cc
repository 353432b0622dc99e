#include "io/state_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <random>
#include <string>

#include "io/byte_source.h"
#include "tests/support/compress.h"
#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

using ::logpipe::testing::Gzip;
using ::logpipe::testing::ReadFile;
using ::logpipe::testing::TempDir;

TEST(Fnv1a64, KnownVectors) {
  // The published FNV-1a 64-bit test vectors.
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
}

StateFile SampleState() {
  StateFile s;
  s.config_hash = "0123456789abcdef";
  s.runs = 7;
  StateEntry a;
  a.path = "/var/log/access.log";
  a.dev = 2049;
  a.ino = 123456789012ull;
  a.fingerprint = 0xfedcba9876543210ull;
  a.fingerprint_bytes = 1024;
  a.offset = 1ull << 40;
  a.lines = 12345;
  a.size = (1ull << 40) + 17;
  a.mtime_ns = 1700000000123456789;
  s.entries.push_back(a);
  StateEntry b = a;
  b.path = "access.log.1.gz";
  b.compressed = true;
  b.fingerprint_bytes = 3;
  b.mtime_ns = -5;  // before 1970: still a valid time
  s.entries.push_back(b);
  s.has_accumulated = true;
  s.totals = {{"inputs", 2}, {"lines", 99}};
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte += static_cast<char>(c);
  s.partials = {every_byte, "", "x", "xy", std::string("\0\0\0", 3)};
  return s;
}

TEST(StateFile, EncodeThenDecodeGivesTheSameState) {
  const StateFile s = SampleState();
  Result<StateFile> back = DecodeStateFile(EncodeStateFile(s), "st");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->config_hash, s.config_hash);
  EXPECT_EQ(back->runs, 7u);
  ASSERT_EQ(back->entries.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const StateEntry& x = back->entries[i];
    const StateEntry& y = s.entries[i];
    EXPECT_EQ(x.path, y.path);
    EXPECT_EQ(x.dev, y.dev);
    EXPECT_EQ(x.ino, y.ino);
    EXPECT_EQ(x.fingerprint, y.fingerprint);
    EXPECT_EQ(x.fingerprint_bytes, y.fingerprint_bytes);
    EXPECT_EQ(x.offset, y.offset);
    EXPECT_EQ(x.lines, y.lines);
    EXPECT_EQ(x.size, y.size);
    EXPECT_EQ(x.mtime_ns, y.mtime_ns);
    EXPECT_EQ(x.compressed, y.compressed);
  }
  EXPECT_TRUE(back->has_accumulated);
  EXPECT_EQ(back->totals, s.totals);
  EXPECT_EQ(back->partials, s.partials);
}

TEST(StateFile, WithoutAccumulateHasNoPartials) {
  StateFile s = SampleState();
  s.has_accumulated = false;
  Result<StateFile> back = DecodeStateFile(EncodeStateFile(s), "st");
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->has_accumulated);
  EXPECT_TRUE(back->partials.empty());
}

// Every kind of damage is a kDataError naming the file, never a crash or a silent default.
TEST(StateFile, CorruptBytesAreDataErrorsNamingTheFile) {
  const std::string good = EncodeStateFile(SampleState());
  std::vector<std::string> bad = {
      "",
      "{",
      "[]",
      "null",
      good.substr(0, good.size() / 2),
      R"({"format":"other","version":1})",
      R"({"format":"logpipe-state","version":1,"config_hash":"x","runs":1})",
      R"({"format":"logpipe-state","version":1,"config_hash":"x","runs":-1,"inputs":[]})",
      R"({"format":"logpipe-state","version":1,"config_hash":"x","runs":1,"inputs":[1]})",
      R"({"format":"logpipe-state","version":1,"config_hash":"x","runs":1,"inputs":[
          {"path":"a","dev":1,"ino":2,"fingerprint":"zz","fingerprint_bytes":1,"offset":1,
           "lines":1,"size":1,"mtime_ns":1,"compressed":false}]})",
      R"({"format":"logpipe-state","version":1,"config_hash":"x","runs":1,"inputs":[
          {"path":"a","dev":1,"ino":2,"fingerprint":"0000000000000000","fingerprint_bytes":1,
           "offset":1,"lines":2,"size":1,"mtime_ns":1,"compressed":false}]})",
      R"({"format":"logpipe-state","version":1,"config_hash":"x","runs":1,"inputs":[
          {"path":"a","dev":1,"ino":2,"fingerprint":"0000000000000000","fingerprint_bytes":5000,
           "offset":1,"lines":0,"size":1,"mtime_ns":1,"compressed":false}]})",
      R"({"format":"logpipe-state","version":1,"config_hash":"x","runs":1,"inputs":[],
          "accumulate":{"totals":[],"partials":["abc"]}})",
      R"({"format":"logpipe-state","version":1,"config_hash":"x","runs":1,"inputs":[],
          "accumulate":{"totals":[["a",-1]],"partials":[]}})",
      R"({"format":"logpipe-state","version":1,"config_hash":"x","runs":1,"inputs":[],
          "accumulate":{"totals":[],"partials":["ab=c"]}})",
  };
  for (const std::string& bytes : bad) {
    Result<StateFile> got = DecodeStateFile(bytes, "/x/my.state");
    ASSERT_FALSE(got.ok()) << bytes;
    EXPECT_EQ(got.status().code(), StatusCode::kDataError) << bytes;
    EXPECT_NE(got.status().message().find("/x/my.state"), std::string::npos)
        << got.status().message();
  }
}

// Damaged copies of a real state file (bytes flipped, cut, duplicated): decoding returns a
// state or a kDataError, never anything else (a small version of the fuzz target).
TEST(StateFile, MutatedBytesDecodeOrFailCleanly) {
  const std::string good = EncodeStateFile(SampleState());
  std::mt19937 rng(7);
  int failed = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bytes = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      const size_t at = rng() % bytes.size();
      switch (rng() % 3) {
        case 0:
          bytes[at] = static_cast<char>(rng() % 256);
          break;
        case 1:
          bytes.erase(at, 1 + rng() % 16);
          break;
        default:
          bytes.insert(at, bytes.substr(at, 1 + rng() % 16));
          break;
      }
    }
    Result<StateFile> got = DecodeStateFile(bytes, "m.state");
    if (!got.ok()) {
      ++failed;
      EXPECT_EQ(got.status().code(), StatusCode::kDataError);
    }
  }
  EXPECT_GT(failed, 0);  // the mutations did damage something
}

TEST(StateFile, AnotherVersionSaysSo) {
  Result<StateFile> got = DecodeStateFile(R"({"format":"logpipe-state","version":2})", "s");
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("version 2"), std::string::npos);
}

TEST(StateFile, ReadMissingIsNoneAndWriteReadRoundTrips) {
  TempDir dir;
  const std::string path = dir.path() + "/sub/run.state";
  Result<std::optional<StateFile>> none = ReadStateFile(path);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(WriteStateFile(path, SampleState()).ok());
  Result<std::optional<StateFile>> back = ReadStateFile(path);
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ((*back)->entries.size(), 2u);
  dir.Write("bad.state", "not json");
  Result<std::optional<StateFile>> bad = ReadStateFile(dir.path() + "/bad.state");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kDataError);
}

TEST(IdentifyFile, PlainAndGzipGiveTheSameHead) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 200; ++i) text += "line " + std::to_string(i) + "\n";
  const std::string plain = dir.Write("a.log", text);
  const std::string gz = dir.Write("a.log.1.gz", Gzip(text));
  Result<FileIdentity> p = IdentifyFile(plain);
  Result<FileIdentity> g = IdentifyFile(gz);
  ASSERT_TRUE(p.ok() && g.ok());
  EXPECT_FALSE(p->compressed);
  EXPECT_TRUE(g->compressed);
  EXPECT_TRUE(p->regular);
  EXPECT_EQ(p->head, text.substr(0, kFingerprintBytes));
  EXPECT_EQ(g->head, p->head);
  EXPECT_EQ(p->size, text.size());
  struct stat st;
  ASSERT_EQ(stat(plain.c_str(), &st), 0);
  EXPECT_EQ(p->ino, static_cast<uint64_t>(st.st_ino));
  EXPECT_NE(p->ino, g->ino);

  const std::string small = dir.Write("s.log", "ab\n");
  Result<FileIdentity> s = IdentifyFile(small);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->head, "ab\n");
  EXPECT_FALSE(IdentifyFile(dir.path() + "/missing").ok());
}

TEST(FingerprintMatches, ComparesOnlyTheBytesTheEntryWasTakenOver) {
  StateEntry e;
  e.fingerprint = Fnv1a64("abc");
  e.fingerprint_bytes = 3;
  EXPECT_TRUE(FingerprintMatches(e, "abcdef"));  // grown since: still the same start
  EXPECT_TRUE(FingerprintMatches(e, "abc"));
  EXPECT_FALSE(FingerprintMatches(e, "ab"));  // shorter than what was fingerprinted
  EXPECT_FALSE(FingerprintMatches(e, "abX"));
}

TEST(EndOfLastLine, StopsAfterTheLastNewline) {
  TempDir dir;
  const std::string path = dir.Write("a.log", "one\ntwo\nthr");
  EXPECT_EQ(*EndOfLastLine(path, 0, 11), 8u);
  EXPECT_EQ(*EndOfLastLine(path, 8, 11), 8u);  // only a partial line past the offset
  EXPECT_EQ(*EndOfLastLine(path, 0, 8), 8u);
  EXPECT_EQ(*EndOfLastLine(path, 0, 3), 0u);  // "one" without its '\n' yet
  EXPECT_EQ(*EndOfLastLine(path, 4, 4), 4u);
  // Longer than one 64 KiB block, newline far back.
  std::string big = "x\n" + std::string(200000, 'y');
  const std::string big_path = dir.Write("b.log", big);
  EXPECT_EQ(*EndOfLastLine(big_path, 0, big.size()), 2u);
  EXPECT_EQ(*EndOfLastLine(big_path, 2, big.size()), 2u);
}

std::string ReadAll(ByteSource& src) {
  std::string out;
  char buf[7];  // small reads exercise the range's bookkeeping
  while (true) {
    Result<size_t> n = src.Read(buf, sizeof buf);
    EXPECT_TRUE(n.ok()) << n.status().message();
    if (!n.ok() || *n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

TEST(OpenInputRange, PlainAndCompressedReadTheSameBytes) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "line " + std::to_string(i) + "\n";
  const std::string plain = dir.Write("a.log", text);
  const std::string gz = dir.Write("a.log.gz", Gzip(text));
  for (const std::string& path : {plain, gz}) {
    for (auto [begin, end] :
         std::vector<std::pair<uint64_t, uint64_t>>{{0, UINT64_MAX},
                                                    {7, UINT64_MAX},
                                                    {7, 100},
                                                    {1000, 1000},
                                                    {0, 5},
                                                    {text.size(), UINT64_MAX}}) {
      Result<std::unique_ptr<ByteSource>> src = OpenInputRange(path, begin, end);
      ASSERT_TRUE(src.ok()) << src.status().message();
      const uint64_t stop = std::min<uint64_t>(end, text.size());
      EXPECT_EQ(ReadAll(**src), text.substr(begin, stop - begin)) << path << " " << begin;
    }
  }
  // Past the end of a compressed stream: the file is not what the state says.
  Result<std::unique_ptr<ByteSource>> past = OpenInputRange(gz, text.size() + 10, UINT64_MAX);
  ASSERT_TRUE(past.ok());
  char c;
  Result<size_t> n = (*past)->Read(&c, 1);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), StatusCode::kDataError);
}

}  // namespace
}  // namespace logpipe
