// RunTrace: spans add up per kind, CPU time is attributed, and the Chrome trace-event JSON is
// valid and names every track.

#include "pipeline/run_trace.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <thread>

namespace logpipe {
namespace {

TEST(RunTrace, SumsSpansPerKindAndKeepsThemOnlyWhenAsked) {
  RunTrace trace(/*keep_spans=*/false);
  RunTrace::Track* t = trace.NewTrack("worker 1", "parse -> aggregate");
  t->Add(SpanKind::kWork, 100, 400, 0, 250);
  t->Add(SpanKind::kWork, 500, 600, 1, 100);
  t->Add(SpanKind::kWaitInput, 400, 500);
  EXPECT_EQ(t->total_ns(SpanKind::kWork), 400);
  EXPECT_EQ(t->total_ns(SpanKind::kWaitInput), 100);
  EXPECT_EQ(t->total_ns(SpanKind::kRead), 0);
  EXPECT_EQ(t->cpu_ns(), 350);
  EXPECT_TRUE(t->spans().empty());
  EXPECT_EQ(t->first_ns(), 100);
  EXPECT_EQ(t->last_ns(), 500);  // the last span added ended at 500

  trace.set_keep_spans(true);
  t->Add(SpanKind::kDeliver, 700, 750, 2);
  ASSERT_EQ(t->spans().size(), 1u);
  EXPECT_EQ(t->spans()[0].seq, 2u);
}

TEST(RunTrace, ScopedSpanMeasuresWallAndThreadCpu) {
  RunTrace trace(/*keep_spans=*/true);
  RunTrace::Track* busy = trace.NewTrack("spinning", "work");
  RunTrace::Track* idle = trace.NewTrack("sleeping", "read");
  {
    ScopedSpan span(busy, SpanKind::kWork, 7);
    volatile uint64_t x = 0;
    for (int i = 0; i < 20'000'000; ++i) x = x + static_cast<uint64_t>(i);
  }
  {
    ScopedSpan span(idle, SpanKind::kWaitInput);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  ASSERT_EQ(busy->spans().size(), 1u);
  EXPECT_EQ(busy->spans()[0].seq, 7u);
  EXPECT_GE(idle->total_ns(SpanKind::kWaitInput), 30'000'000);
  // CPU time, unlike wall time, does not depend on how loaded the machine is: spinning 20M
  // iterations costs milliseconds of it, sleeping next to none. A thread cannot use more CPU
  // than wall time (plus clock granularity).
  EXPECT_GT(busy->cpu_ns(), 1'000'000);
  EXPECT_LT(idle->cpu_ns(), busy->cpu_ns() / 4);
  EXPECT_LE(busy->cpu_ns(), busy->total_ns(SpanKind::kWork) + 10'000'000);
  EXPECT_GE(busy->runq_ns(), 0);
  ScopedSpan none(nullptr, SpanKind::kWork);  // a null track records nothing
}

TEST(RunTrace, ChromeJsonIsValidWithOneNamedThreadPerTrack) {
  RunTrace trace(/*keep_spans=*/true);
  RunTrace::Track* a = trace.NewTrack("reader", "read");
  RunTrace::Track* b = trace.NewTrack("segment 1 worker \"1\"", "parse -> aggregate");
  a->Add(SpanKind::kRead, 0, 1500, 0);
  b->Add(SpanKind::kWork, 1500, 4000, 0);
  b->Add(SpanKind::kMerge, 4000, 4100);
  std::string json;
  trace.AppendChromeJson("job \"x\"", &json);
  nlohmann::json j = nlohmann::json::parse(json);  // throws (fails the test) if invalid
  std::map<int, std::string> names;
  int complete = 0;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name") names[e["tid"]] = e["args"]["name"];
    if (e["ph"] == "X") {
      ++complete;
      if (e["name"] == "parse -> aggregate") {
        EXPECT_DOUBLE_EQ(e["ts"].get<double>(), 1.5);  // microseconds
        EXPECT_DOUBLE_EQ(e["dur"].get<double>(), 2.5);
        EXPECT_EQ(e["args"]["chunk"], 0);
      }
    }
  }
  EXPECT_EQ(complete, 3);
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[1], "reader");
  EXPECT_EQ(names[2], "segment 1 worker \"1\"");
}

}  // namespace
}  // namespace logpipe
