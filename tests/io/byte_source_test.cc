#include "io/byte_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdlib>
#include <random>
#include <string>

#include "tests/support/compress.h"
#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

using ::logpipe::testing::Gzip;
using ::logpipe::testing::TempDir;

// One gzip member holding `text`, made with zlib directly.
std::string Zstd(const std::string& text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// Text that compresses but not to nothing: numbered lines with pseudo-random words.
std::string SampleText(size_t lines) {
  std::mt19937 rng(42);
  std::string s;
  for (size_t i = 0; i < lines; ++i) {
    s += std::to_string(i) + " GET /item/" + std::to_string(rng() % 100000) + " " +
         std::to_string(rng()) + "\n";
  }
  return s;
}

// Reads `src` to the end with reads of `step` bytes; fails the test on error.
std::string ReadAll(ByteSource& src, size_t step = 65536) {
  std::string out;
  std::string buf(step, '\0');
  for (;;) {
    Result<size_t> got = src.Read(buf.data(), step);
    EXPECT_TRUE(got.ok()) << got.status().message();
    if (!got.ok() || *got == 0) break;
    EXPECT_LE(*got, step);
    out.append(buf.data(), *got);
  }
  return out;
}

// Reads until an error; returns it (or OK if the stream ended cleanly).
Status ReadUntilError(ByteSource& src) {
  char buf[4096];
  for (;;) {
    Result<size_t> got = src.Read(buf, sizeof buf);
    if (!got.ok()) return got.status();
    if (*got == 0) return Status::Ok();
  }
}

std::unique_ptr<ByteSource> Open(const std::string& path) {
  Result<std::unique_ptr<ByteSource>> src = OpenInput(path);
  EXPECT_TRUE(src.ok()) << src.status().message();
  return src.ok() ? std::move(src).value() : nullptr;
}

TEST(ByteSource, PlainFileIsReadByteForByteIncludingNulAndCr) {
  TempDir dir;
  std::string bytes("a\r\nb\0c\r\n\xff\xfe last", 16);
  std::string path = dir.Write("plain.log", bytes);
  auto src = Open(path);
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(src->name(), path);
  EXPECT_EQ(ReadAll(*src, 3), bytes);
}

TEST(ByteSource, DashReadsStandardInputAndDetectsCompression) {
  TempDir dir;
  std::string text = "from stdin\n";
  std::string path = dir.Write("stdin.gz", Gzip(text));
  int saved = dup(STDIN_FILENO);
  int fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(dup2(fd, STDIN_FILENO), STDIN_FILENO);
  close(fd);
  std::string got;
  {
    auto src = Open("-");
    if (src != nullptr) {
      EXPECT_EQ(src->name(), "-");
      got = ReadAll(*src);
    }
  }
  dup2(saved, STDIN_FILENO);
  close(saved);
  EXPECT_EQ(got, text);
}

TEST(ByteSource, EmptyFileReadsNothing) {
  TempDir dir;
  auto src = Open(dir.Write("empty.log", ""));
  ASSERT_NE(src, nullptr);
  char c;
  Result<size_t> got = src->Read(&c, 1);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, 0u);
}

TEST(ByteSource, MissingFileIsNoInputNamingPathAndReason) {
  TempDir dir;
  std::string path = dir.path() + "/nope.log";
  Result<std::unique_ptr<ByteSource>> src = OpenInput(path);
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().code(), StatusCode::kNoInput);
  EXPECT_NE(src.status().message().find(path), std::string::npos) << src.status().message();
  EXPECT_NE(src.status().message().find("No such file"), std::string::npos);
  EXPECT_NE(src.status().message().find("check"), std::string::npos);
}

TEST(ByteSource, DirectoryIsNoInputSayingItIsADirectory) {
  TempDir dir;
  Result<std::unique_ptr<ByteSource>> src = OpenInput(dir.path());
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().code(), StatusCode::kNoInput);
  EXPECT_NE(src.status().message().find(dir.path()), std::string::npos);
  EXPECT_NE(src.status().message().find("directory"), std::string::npos) << src.status().message();
}

TEST(ByteSource, UnreadableFileIsNoInput) {
  if (geteuid() == 0) GTEST_SKIP() << "running as root: chmod 000 does not block reading";
  TempDir dir;
  std::string path = dir.Write("secret.log", "x\n");
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  Result<std::unique_ptr<ByteSource>> src = OpenInput(path);
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().code(), StatusCode::kNoInput);
  EXPECT_NE(src.status().message().find(path), std::string::npos);
  EXPECT_NE(src.status().message().find("Permission denied"), std::string::npos);
}

TEST(ByteSource, GzipIsDetectedByContentUnderAPlainName) {
  TempDir dir;
  std::string text = SampleText(100);
  auto src = Open(dir.Write("access.log", Gzip(text)));
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(ReadAll(*src), text);
}

TEST(ByteSource, GzNameWithPlainContentIsReadAsIs) {
  TempDir dir;
  std::string text = "not compressed\nat all\n";
  auto src = Open(dir.Write("access.log.gz", text));
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(ReadAll(*src), text);
}

TEST(ByteSource, DecodeByMagicReportsWhatItFound) {
  Compression c = Compression::kZstd;
  auto plain = DecodeByMagic(NewMemorySource("m", "hello\n"), &c);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(c, Compression::kNone);
  EXPECT_EQ(ReadAll(**plain), "hello\n");

  auto gz = DecodeByMagic(NewMemorySource("m", Gzip("x\n")), &c);
  ASSERT_TRUE(gz.ok());
  EXPECT_EQ(c, Compression::kGzip);

  auto zs = DecodeByMagic(NewMemorySource("m", Zstd("x\n")), &c);
  ASSERT_TRUE(zs.ok());
  EXPECT_EQ(c, Compression::kZstd);
}

TEST(ByteSource, InputsShorterThanAMagicNumberAreText) {
  for (std::string bytes : {std::string(""), std::string("\x1f"), std::string("\x28\xb5\x2f")}) {
    Compression c = Compression::kGzip;
    auto src = DecodeByMagic(NewMemorySource("m", bytes, 1), &c);
    ASSERT_TRUE(src.ok());
    EXPECT_EQ(c, Compression::kNone);
    EXPECT_EQ(ReadAll(**src), bytes);
  }
}

TEST(ByteSource, CompressionNames) {
  EXPECT_STREQ(CompressionName(Compression::kNone), "none");
  EXPECT_STREQ(CompressionName(Compression::kGzip), "gzip");
  EXPECT_STREQ(CompressionName(Compression::kZstd), "zstd");
}

TEST(ByteSource, GzipMultiMemberIsReadToTheEnd) {
  TempDir dir;
  std::string a = "first member\n", b = SampleText(50), c = "third, no newline";
  auto src = Open(dir.Write("multi.gz", Gzip(a) + Gzip(b) + Gzip(c)));
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(ReadAll(*src), a + b + c);
}

TEST(ByteSource, GzipMultiMemberFromGzipCommandLine) {
  TempDir dir;
  std::string p1 = dir.Write("p1", "one\ntwo\n"), p2 = dir.Write("p2", "three\n");
  std::string out = dir.path() + "/cat.gz";
  std::string cmd = "gzip -c " + p1 + " > " + out + " && gzip -c " + p2 + " >> " + out;
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "gzip command not available";
  auto src = Open(out);
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(ReadAll(*src), "one\ntwo\nthree\n");
}

TEST(ByteSource, GzipEmptyMemberBetweenOthersIsFine) {
  auto src = DecodeByMagic(NewMemorySource("m", Gzip("a\n") + Gzip("") + Gzip("b\n")));
  ASSERT_TRUE(src.ok());
  EXPECT_EQ(ReadAll(**src), "a\nb\n");
}

TEST(ByteSource, LargeGzipSpanningManyInputBlocks) {
  std::string text = SampleText(200000);  // several MiB, compressed > 256 KiB
  std::string gz = Gzip(text);
  ASSERT_GT(gz.size(), size_t{256} << 10);
  auto src = DecodeByMagic(NewMemorySource("big.gz", gz));
  ASSERT_TRUE(src.ok());
  EXPECT_EQ(ReadAll(**src, 1 << 20), text);
}

TEST(ByteSource, ShortReadsFromSourceAndTinyOutputBuffers) {
  std::string text = SampleText(300);
  for (const std::string& bytes : {text, Gzip(text) + Gzip(text), Zstd(text) + Zstd(text)}) {
    auto src = DecodeByMagic(NewMemorySource("m", bytes, /*max_read=*/1));
    ASSERT_TRUE(src.ok());
    std::string expected = bytes == text ? text : text + text;
    EXPECT_EQ(ReadAll(**src, 1), expected);
  }
}

TEST(ByteSource, MemorySourceHonoursMaxRead) {
  auto src = NewMemorySource("mem", "abcdefg", 3);
  EXPECT_EQ(src->name(), "mem");
  char buf[16];
  Result<size_t> got = src->Read(buf, sizeof buf);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, 3u);
  EXPECT_EQ(std::string(buf, 3), "abc");
  EXPECT_EQ(ReadAll(*src), "defg");
}

TEST(ByteSource, TruncatedGzipIsDataErrorNamingTheFile) {
  TempDir dir;
  std::string gz = Gzip(SampleText(2000));
  std::string path = dir.Write("a.log.gz", gz.substr(0, gz.size() / 2));
  auto src = Open(path);
  ASSERT_NE(src, nullptr);
  Status st = ReadUntilError(*src);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kDataError);
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("truncated gzip"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(std::to_string(gz.size() / 2)), std::string::npos) << st.message();
}

TEST(ByteSource, GzipCutAnywhereIsAnErrorNeverSilentlyShort) {
  std::string text = "line one\nline two\n";
  std::string gz = Gzip(text);
  for (size_t cut = 2; cut < gz.size(); ++cut) {
    auto src = DecodeByMagic(NewMemorySource("cut.gz", gz.substr(0, cut)));
    ASSERT_TRUE(src.ok());
    Status st = ReadUntilError(**src);
    EXPECT_EQ(st.code(), StatusCode::kDataError) << "cut at " << cut;
  }
}

TEST(ByteSource, SecondGzipMemberTruncatedIsAnError) {
  std::string second = Gzip("second member\n");
  auto src = DecodeByMagic(
      NewMemorySource("two.gz", Gzip("first\n") + second.substr(0, second.size() - 3)));
  ASSERT_TRUE(src.ok());
  Status st = ReadUntilError(**src);
  EXPECT_EQ(st.code(), StatusCode::kDataError);
  EXPECT_NE(st.message().find("truncated gzip"), std::string::npos);
}

TEST(ByteSource, CorruptGzipIsDataError) {
  std::string gz = Gzip(SampleText(100));
  gz[12] ^= 0x55;  // inside the deflate data
  gz[13] ^= 0xaa;
  auto src = DecodeByMagic(NewMemorySource("bad.gz", gz));
  ASSERT_TRUE(src.ok());
  Status st = ReadUntilError(**src);
  EXPECT_EQ(st.code(), StatusCode::kDataError);
  EXPECT_NE(st.message().find("bad.gz"), std::string::npos) << st.message();
}

TEST(ByteSource, GarbageAfterGzipMemberIsDataError) {
  auto src = DecodeByMagic(NewMemorySource("junk.gz", Gzip("ok\n") + "not gzip"));
  ASSERT_TRUE(src.ok());
  Status st = ReadUntilError(**src);
  EXPECT_EQ(st.code(), StatusCode::kDataError);
}

TEST(ByteSource, ZstdMultiFrameIsReadToTheEnd) {
  TempDir dir;
  std::string a = SampleText(1000), b = "tail without newline";
  auto src = Open(dir.Write("x.zst", Zstd(a) + Zstd(b)));
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(ReadAll(*src), a + b);
}

TEST(ByteSource, ZstdFromCommandLine) {
  TempDir dir;
  std::string in = dir.Write("in.log", "alpha\nbeta\n");
  std::string out = dir.path() + "/in.log.zst";
  std::string cmd = "zstd -q -c " + in + " > " + out + " 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "zstd command not available";
  auto src = Open(out);
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(ReadAll(*src), "alpha\nbeta\n");
}

TEST(ByteSource, TruncatedZstdIsDataErrorNamingTheFile) {
  std::string zs = Zstd(SampleText(2000));
  for (size_t cut : {size_t{4}, size_t{10}, zs.size() / 2, zs.size() - 1}) {
    auto src = DecodeByMagic(NewMemorySource("b.log.zst", zs.substr(0, cut)));
    ASSERT_TRUE(src.ok());
    Status st = ReadUntilError(**src);
    ASSERT_EQ(st.code(), StatusCode::kDataError) << "cut at " << cut;
    EXPECT_NE(st.message().find("b.log.zst: truncated zstd"), std::string::npos) << st.message();
  }
}

TEST(ByteSource, CorruptZstdIsDataError) {
  std::string zs = Zstd(SampleText(100));
  for (size_t i = 6; i < zs.size(); i += 7) zs[i] ^= 0x5a;
  auto src = DecodeByMagic(NewMemorySource("c.zst", zs));
  ASSERT_TRUE(src.ok());
  EXPECT_EQ(ReadUntilError(**src).code(), StatusCode::kDataError);
}

TEST(ByteSource, ReadAfterEndKeepsReturningZero) {
  auto src = DecodeByMagic(NewMemorySource("m", Gzip("a\n")));
  ASSERT_TRUE(src.ok());
  EXPECT_EQ(ReadAll(**src), "a\n");
  char c;
  Result<size_t> got = (*src)->Read(&c, 1);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, 0u);
}

}  // namespace
}  // namespace logpipe
