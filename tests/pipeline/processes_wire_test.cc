// The processes executor's frames: a shard's track survives the trip to the parent, and
// truncated or malformed track bytes are refused, never overrun; a chunk request's meta has the
// documented field order (processes_wire.h) and reads back as it was written, and short or
// overlong meta is refused.

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

TEST(ProcessesWire, ChunkMetaReadsBackAndRefusesShortOrOverlongBytes) {
  ChunkDesc d;
  d.place = {/*seq=*/9,        /*source=*/2,        /*offset=*/100,         /*size=*/50,
             /*first_line=*/0,
             /*line_count=*/0, /*dropped_lines=*/3, /*truncated_events=*/1, /*range=*/false,
             /*limit=*/0,      /*line_start=*/false};
  d.oversized.push_back({12, 99999, "x"});
  d.oversized.push_back({13, 88888, ""});
  std::string meta;
  EncodeChunkMeta(d, /*attempt=*/0, /*has_data=*/true, &meta);

  ChunkDesc back;
  back.oversized.resize(5);  // a previous request's lines: replaced
  uint64_t attempt = 7;
  bool has_data = false;
  ASSERT_TRUE(DecodeChunkMeta(meta, &back, &attempt, &has_data));
  EXPECT_EQ(attempt, 0u);
  EXPECT_TRUE(has_data);
  EXPECT_EQ(back.place.seq, 9u);
  EXPECT_EQ(back.place.source, 2u);
  EXPECT_EQ(back.place.offset, 100u);
  EXPECT_EQ(back.place.size, 50u);
  EXPECT_EQ(back.place.dropped_lines, 3u);
  EXPECT_EQ(back.place.truncated_events, 1u);
  EXPECT_FALSE(back.place.range);
  EXPECT_FALSE(back.last_in_source);
  ASSERT_EQ(back.oversized.size(), 2u);
  EXPECT_EQ(back.oversized[0].line_number, 12u);
  EXPECT_EQ(back.oversized[0].bytes, 99999u);
  EXPECT_EQ(back.oversized[0].head, "x");
  EXPECT_EQ(back.oversized[1].head, "");

  for (size_t n = 0; n < meta.size(); ++n) {
    EXPECT_FALSE(DecodeChunkMeta(std::string_view(meta.data(), n), &back, &attempt, &has_data))
        << n << " bytes";
  }
  EXPECT_FALSE(DecodeChunkMeta(meta + "z", &back, &attempt, &has_data));
}

}  // namespace
}  // namespace logpipe::processes
