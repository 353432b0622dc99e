#include "pipeline/part_file.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

using testing::ReadFile;
using testing::TempDir;

struct Frame {
  FrameKind kind;
  uint32_t index;
  std::string bytes;
  bool operator==(const Frame& o) const {
    return kind == o.kind && index == o.index && bytes == o.bytes;
  }
};

PartTrailer Trailer() {
  PartTrailer t;
  t.logpipe_version = "9.9";
  t.plan_hash = "0123456789abcdef";
  t.shard = 2;
  t.shards = 5;
  t.stats.counters.lines = 10;
  t.stats.counters.matched = 7;
  t.stats.counters.conversion_errors = {0, 3};
  t.stats.oversized_lines = 1;
  t.stats.skipped_inputs.push_back({"http://x/y", "404"});
  return t;
}

std::string WritePart(const TempDir& dir, const std::vector<Frame>& frames) {
  const std::string path = dir.path() + "/part.lpp";
  Result<PartWriter> w = PartWriter::Create(path);
  EXPECT_TRUE(w.ok());
  for (const Frame& f : frames) EXPECT_TRUE(w->AddFrame(f.kind, f.index, f.bytes).ok());
  EXPECT_TRUE(w->Finish(Trailer()).ok());
  return path;
}

// Reads all frames; the status of the first failure, if any.
Status ReadAll(const std::string& path, std::vector<Frame>* frames) {
  Result<PartTrailer> t = ReadPartTrailer(path);
  if (!t.ok()) return t.status();
  Result<PartReader> r = PartReader::Open(path, *t);
  if (!r.ok()) return r.status();
  Frame f;
  for (;;) {
    Result<bool> more = r->Next(&f.kind, &f.index, &f.bytes);
    if (!more.ok()) return more.status();
    if (!*more) return Status::Ok();
    frames->push_back(f);
  }
}

const std::vector<Frame> kFrames = {{FrameKind::kRecords, 0, "{\"a\":1}\n"},
                                    {FrameKind::kRejects, 0, "x.log:3: bad\n"},
                                    {FrameKind::kRecords, 1, ""},
                                    {FrameKind::kPartial, 1, std::string("\0\x01\xff", 3)}};

TEST(PartFile, RoundTripsFramesAndTrailer) {
  TempDir dir;
  const std::string path = WritePart(dir, kFrames);
  Result<PartTrailer> t = ReadPartTrailer(path);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->plan_hash, "0123456789abcdef");
  EXPECT_EQ(t->shard, 2u);
  EXPECT_EQ(t->shards, 5u);
  EXPECT_EQ(t->stats.counters.lines, 10u);
  EXPECT_EQ(t->stats.counters.conversion_errors, (std::vector<uint64_t>{0, 3}));
  EXPECT_EQ(t->stats.oversized_lines, 1u);
  ASSERT_EQ(t->stats.skipped_inputs.size(), 1u);
  EXPECT_EQ(t->stats.skipped_inputs[0].error, "404");
  std::vector<Frame> frames;
  ASSERT_TRUE(ReadAll(path, &frames).ok());
  EXPECT_EQ(frames, kFrames);
}

// Any single flipped byte is caught: by the framing, the trailer's checksum or
// the frames'.
TEST(PartFile, EveryFlippedByteIsDetected) {
  TempDir dir;
  const std::string path = WritePart(dir, kFrames);
  const std::string good = ReadFile(path);
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x04;
    dir.Write("part.lpp", bad);
    std::vector<Frame> frames;
    Status s = ReadAll(path, &frames);
    EXPECT_EQ(s.code(), StatusCode::kDataError) << "byte " << i << " of " << good.size();
    EXPECT_NE(s.message().find("part.lpp"), std::string::npos) << s.message();
  }
  for (size_t len : {size_t{0}, size_t{7}, good.size() / 2, good.size() - 1}) {
    dir.Write("part.lpp", good.substr(0, len));
    std::vector<Frame> frames;
    EXPECT_EQ(ReadAll(path, &frames).code(), StatusCode::kDataError) << "cut at " << len;
  }
}

TEST(PartFile, AnUnfinishedWriterLeavesNoFile) {
  TempDir dir;
  const std::string path = dir.path() + "/part.lpp";
  {
    Result<PartWriter> w = PartWriter::Create(path);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->AddFrame(FrameKind::kRecords, 0, "x\n").ok());
  }
  std::vector<Frame> frames;
  EXPECT_EQ(ReadAll(path, &frames).code(), StatusCode::kNoInput);
}

}  // namespace
}  // namespace logpipe
