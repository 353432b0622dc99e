// The processes executor's frames: a shard's track survives the trip to the parent, and
// truncated or malformed track bytes are refused, never overrun; a chunk request's meta has the
// field order the shard reads (documented in processes_wire.h).

#include "pipeline/processes_wire.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>

namespace logpipe::processes {
namespace {

TEST(ProcessesWire, TrackRoundTripsTotalsCpuAndSpans) {
  RunTrace shard(/*keep_spans=*/true);
  RunTrace::Track* t = shard.NewTrack("shard", "parse -> aggregate");
  t->Add(SpanKind::kRead, 10, 30, 0, 15, 2);
  t->Add(SpanKind::kWork, 30, 130, 0, 90, 5);
  t->Add(SpanKind::kMerge, 130, 140);
  std::string bytes;
  EncodeTrack(*t, &bytes);

  RunTrace parent(/*keep_spans=*/true);
  RunTrace::Track* copy = parent.NewTrack("shard 1", "parse -> aggregate");
  std::string_view in = bytes;
  ASSERT_TRUE(DecodeTrack(&in, copy));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(copy->total_ns(SpanKind::kRead), 20);
  EXPECT_EQ(copy->total_ns(SpanKind::kWork), 100);
  EXPECT_EQ(copy->total_ns(SpanKind::kMerge), 10);
  EXPECT_EQ(copy->cpu_ns(), 105);
  EXPECT_EQ(copy->runq_ns(), 7);
  ASSERT_EQ(copy->spans().size(), 3u);
  EXPECT_EQ(copy->spans()[1].kind, SpanKind::kWork);
  EXPECT_EQ(copy->spans()[1].start_ns, 30);
  EXPECT_EQ(copy->spans()[1].end_ns, 130);
  EXPECT_EQ(copy->spans()[1].seq, 0u);
  EXPECT_EQ(copy->spans()[2].seq, UINT64_MAX);
}

TEST(ProcessesWire, TruncatedOrForeignTrackBytesAreRefused) {
  RunTrace shard(/*keep_spans=*/true);
  RunTrace::Track* t = shard.NewTrack("shard", "parse");
  t->Add(SpanKind::kWork, 0, 50, 3);
  std::string bytes;
  EncodeTrack(*t, &bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    RunTrace parent(/*keep_spans=*/true);
    std::string_view in(bytes.data(), n);
    EXPECT_FALSE(DecodeTrack(&in, parent.NewTrack("shard 1", "parse"))) << n << " bytes";
  }
  // A span kind past the last one.
  std::string bad = bytes;
  const uint64_t kind = kSpanKinds;
  std::memcpy(&bad[bad.size() - 32], &kind, 8);
  RunTrace parent(/*keep_spans=*/true);
  std::string_view in = bad;
  EXPECT_FALSE(DecodeTrack(&in, parent.NewTrack("shard 1", "parse")));
}

TEST(ProcessesWire, ChunkMetaIsTheDocumentedFieldsInOrder) {
  ChunkDesc d;
  d.place = {/*seq=*/7,         /*source=*/1,        /*offset=*/4096,        /*size=*/100,
             /*first_line=*/33,
             /*line_count=*/4,  /*dropped_lines=*/0, /*truncated_events=*/0, /*range=*/true,
             /*limit=*/9000,    /*line_start=*/true};
  d.last_in_source = true;
  d.oversized.push_back({/*line_number=*/35, /*bytes=*/123456, /*head=*/"GET /"});
  std::string meta;
  EncodeChunkMeta(d, /*attempt=*/1, /*has_data=*/false, &meta);
  std::string_view in = meta;
  const uint64_t want[] = {7, 1, 4096, 100, 33, 4, 0, 0, 1, 1, 0, 1, 9000, 1, 1, 35, 123456};
  for (uint64_t w : want) {
    uint64_t v = 0;
    ASSERT_TRUE(wire::GetU64(&in, &v));
    EXPECT_EQ(v, w);
  }
  std::string_view head;
  ASSERT_TRUE(wire::GetBytes(&in, &head));
  EXPECT_EQ(head, "GET /");
  EXPECT_TRUE(in.empty());
}

}  // namespace
}  // namespace logpipe::processes
