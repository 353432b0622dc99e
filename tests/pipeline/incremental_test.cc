#include "pipeline/incremental.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace logpipe {
namespace {

FileIdentity Id(uint64_t ino, const std::string& head, uint64_t size, bool compressed = false,
                int64_t mtime = 100) {
  FileIdentity id;
  id.dev = 1;
  id.ino = ino;
  id.head = head;
  id.size = size;
  id.mtime_ns = mtime;
  id.regular = true;
  id.compressed = compressed;
  return id;
}

StateEntry Entry(const std::string& path, uint64_t ino, const std::string& head, uint64_t offset,
                 uint64_t lines, uint64_t size, bool compressed = false, int64_t mtime = 100) {
  StateEntry e;
  e.path = path;
  e.dev = 1;
  e.ino = ino;
  e.fingerprint = Fnv1a64(head);
  e.fingerprint_bytes = head.size();
  e.offset = offset;
  e.lines = lines;
  e.size = size;
  e.mtime_ns = mtime;
  e.compressed = compressed;
  return e;
}

TEST(MatchInputs, NoStateMeansEveryInputIsNewFromTheStart) {
  auto m = MatchInputs({Id(5, "abc", 3)}, {});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].fate, InputFate::kNew);
  EXPECT_EQ(m[0].range.begin, 0u);
  EXPECT_EQ(m[0].range.first_line, 1u);
}

TEST(MatchInputs, SameFileGrownContinuesAtItsOffset) {
  auto m = MatchInputs({Id(5, "first line\nsecond", 40, false, 200)},
                       {Entry("a.log", 5, "first line\n", 11, 1, 11)});
  EXPECT_EQ(m[0].fate, InputFate::kContinued);
  EXPECT_EQ(m[0].range.begin, 11u);
  EXPECT_EQ(m[0].range.first_line, 2u);
  EXPECT_FALSE(m[0].final_partial_line);  // size and mtime changed
}

TEST(MatchInputs, UnchangedFileReadsItsPartialLineAsFinal) {
  auto m = MatchInputs({Id(5, "a\nbc", 4)}, {Entry("a.log", 5, "a\nbc", 2, 1, 4)});
  EXPECT_EQ(m[0].fate, InputFate::kContinued);
  EXPECT_TRUE(m[0].final_partial_line);
}

TEST(MatchInputs, RenameRotationKeepsTheOffsetAndTheNewFileStartsOver) {
  // access.log (ino 5) was renamed to access.log.1; a new access.log (ino 9) was created.
  auto m = MatchInputs({Id(9, "new\n", 4), Id(5, "old line\n", 30)},
                       {Entry("access.log", 5, "old line\n", 9, 1, 9)});
  EXPECT_EQ(m[0].fate, InputFate::kNew);
  EXPECT_EQ(m[1].fate, InputFate::kContinued);
  EXPECT_EQ(m[1].from_path, "access.log");
  EXPECT_EQ(m[1].range.begin, 9u);
}

TEST(MatchInputs, CompressedRotatedCopyIsFoundByFingerprint) {
  auto m = MatchInputs({Id(12, "old line\nmore\n", 60, /*compressed=*/true)},
                       {Entry("access.log.1", 5, "old line\n", 9, 1, 9)});
  EXPECT_EQ(m[0].fate, InputFate::kRotated);
  EXPECT_EQ(m[0].from_path, "access.log.1");
  EXPECT_EQ(m[0].range.begin, 9u);
  EXPECT_EQ(m[0].range.first_line, 2u);
}

TEST(MatchInputs, UnchangedCompressedFileReadsNothing) {
  auto m = MatchInputs({Id(12, "x\n", 30, true)}, {Entry("a.gz", 12, "x\n", 2, 1, 30, true)});
  EXPECT_EQ(m[0].fate, InputFate::kUnchanged);
  EXPECT_EQ(m[0].range.begin, m[0].range.end);
}

TEST(MatchInputs, CopytruncateContinuesInTheCopyAndRestartsTheOriginal) {
  // access.log (ino 5) was copied to access.log.1 (ino 8) and truncated; new lines followed.
  auto m = MatchInputs({Id(5, "fresh\n", 6), Id(8, "old line\nmore\n", 14)},
                       {Entry("access.log", 5, "old line\n", 9, 1, 9)});
  EXPECT_EQ(m[0].fate, InputFate::kNew);  // its old content is in the copy: nothing lost
  EXPECT_EQ(m[0].range.begin, 0u);
  EXPECT_EQ(m[0].range.first_line, 1u);
  EXPECT_EQ(m[1].fate, InputFate::kRotated);
  EXPECT_EQ(m[1].range.begin, 9u);
}

TEST(MatchInputs, InodeReusedAfterCompressionIsANewFile) {
  // access.log.1 (ino 5) was compressed to access.log.1.gz (ino 12) and removed; the new
  // access.log got inode 5 again.
  auto m = MatchInputs({Id(5, "brand new\n", 10), Id(12, "old\nmore\n", 40, true)},
                       {Entry("access.log.1", 5, "old\n", 4, 1, 4)});
  EXPECT_EQ(m[0].fate, InputFate::kNew);
  EXPECT_EQ(m[1].fate, InputFate::kRotated);
}

TEST(MatchInputs, TruncationStartsOver) {
  // Same inode, same first bytes, but smaller than the offset: truncated and rewritten.
  auto m = MatchInputs({Id(5, "abc\n", 4)}, {Entry("a.log", 5, "abc\n", 100, 10, 100)});
  EXPECT_EQ(m[0].fate, InputFate::kRestarted);
  EXPECT_EQ(m[0].range.begin, 0u);
  // Same inode, other first bytes.
  m = MatchInputs({Id(5, "xyz\nmore\n", 500)}, {Entry("a.log", 5, "abc\n", 100, 10, 100)});
  EXPECT_EQ(m[0].fate, InputFate::kRestarted);
}

TEST(MatchInputs, AnEntryIsTakenOnceAndTheLongestFingerprintWins) {
  const std::string head = "same start of two files\n";
  auto m = MatchInputs(
      {Id(20, head + "a", 100), Id(21, head + "a", 100)},
      {Entry("short", 7, head.substr(0, 4), 4, 0, 4), Entry("long", 8, head, 24, 1, 24)});
  EXPECT_EQ(m[0].fate, InputFate::kRotated);
  EXPECT_EQ(m[0].from_path, "long");
  EXPECT_EQ(m[1].fate, InputFate::kRotated);
  EXPECT_EQ(m[1].from_path, "short");
}

TEST(MatchInputs, EmptyFingerprintNeverMatchesAnotherFile) {
  auto m = MatchInputs({Id(30, "anything\n", 9)}, {Entry("empty.log", 7, "", 0, 0, 0)});
  EXPECT_EQ(m[0].fate, InputFate::kNew);
}

Config BaseConfig() {
  Config c;
  StageSpec parse;
  parse.type = "parse";
  parse.pattern = "combined";
  c.stages.push_back(parse);
  StageSpec agg;
  agg.type = "aggregate";
  agg.group_by = {"status"};
  agg.metrics = {{"hits", "count"}};
  c.stages.push_back(agg);
  return c;
}

TEST(StateConfigHash, ChangesWithWhatDecidesResultsOnly) {
  const std::string base = StateConfigHash(BaseConfig());
  EXPECT_EQ(base.size(), 16u);
  Config exec = BaseConfig();
  exec.stages[0].exec.model = ExecModel::kProcesses;
  exec.stages[0].exec.workers = 4;
  exec.read.chunk_bytes = 1;
  exec.outputs.push_back({});
  exec.inputs.push_back({});
  EXPECT_EQ(StateConfigHash(exec), base);
  Config pattern = BaseConfig();
  pattern.stages[0].pattern = "common";
  EXPECT_NE(StateConfigHash(pattern), base);
  Config metric = BaseConfig();
  metric.stages[1].metrics.push_back({"b", "sum(bytes)"});
  EXPECT_NE(StateConfigHash(metric), base);
  Config acc = BaseConfig();
  acc.accumulate = true;
  EXPECT_NE(StateConfigHash(acc), base);
}

}  // namespace
}  // namespace logpipe
