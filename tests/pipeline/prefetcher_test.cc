// Prefetcher (pipeline/prefetcher.h): inputs read ahead by the `threads` and `async` fetch models
// are handed out strictly in input order, each whole, whatever order transfers finish in.
// PrefetcherFiles.* use local files only (no HTTP server, no libcurl transfer), so they can
// run under ThreadSanitizer.
#include "pipeline/prefetcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/compress.h"
#include "tests/support/http_test_server.h"
#include "tests/support/random_text.h"
#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

using ::logpipe::testing::Gzip;
using ::logpipe::testing::HttpResource;
using ::logpipe::testing::HttpTestServer;
using ::logpipe::testing::TempDir;
using Clock = std::chrono::steady_clock;

std::string Body(size_t n, unsigned seed = 1) { return ::logpipe::testing::RandomText(n, seed); }

int64_t MillisSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

UrlOptions FastOptions() {
  UrlOptions o;
  o.connect_timeout_ms = 5000;
  o.low_speed_time_ms = 1000;
  o.retries = 2;
  o.retry_delay_ms = 20;
  o.max_retry_delay_ms = 1000;
  return o;
}

Result<std::string> ReadAll(ByteSource& source) {
  std::string out;
  std::string buf(size_t{1} << 15, '\0');
  while (true) {
    Result<size_t> n = source.Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) return out;
    out.append(buf.data(), *n);
  }
}

// Open(i) and read input i to the end: its bytes, or the error from Open or Read.
Result<std::string> OpenAndRead(Prefetcher& p, size_t i) {
  Result<std::unique_ptr<ByteSource>> source = p.Open(i);
  if (!source.ok()) return source.status();
  return ReadAll(*source.value());
}

std::vector<FetchInput> Inputs(const std::vector<std::string>& names) {
  std::vector<FetchInput> out;
  for (const auto& name : names) out.push_back({name, FastOptions()});
  return out;
}

struct ModelCase {
  FetchModel model;
  int workers;
};

std::string CaseName(const ::testing::TestParamInfo<ModelCase>& info) {
  return std::string(FetchModelName(info.param.model)) + std::to_string(info.param.workers);
}

class PrefetcherTest : public ::testing::TestWithParam<ModelCase> {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }
  HttpTestServer server_;
};

// 20 URLs whose later inputs answer first: each Open(i) still gets input i, whole.
TEST_P(PrefetcherTest, UrlsFinishingOutOfOrderAreHandedOutInInputOrder) {
  std::vector<std::string> bodies, urls;
  for (int i = 0; i < 20; ++i) {
    bodies.push_back(Body(10'000 + static_cast<size_t>(i) * 9'000, 100 + i));
    HttpResource r;
    r.latency_ms = (20 - i) * 10;
    if (i % 5 == 3) r.bytes_per_second = 2'000'000;
    const std::string path = "/u" + std::to_string(i) + ".log";
    server_.Serve(path, bodies.back(), r);
    urls.push_back(server_.url(path));
  }
  Prefetcher p(Inputs(urls), GetParam().model, GetParam().workers, 16 << 10);
  for (size_t i = 0; i < urls.size(); ++i) {
    Result<std::string> got = OpenAndRead(p, i);
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().message();
    EXPECT_EQ(got->size(), bodies[i].size()) << i;
    EXPECT_TRUE(*got == bodies[i]) << "input " << i;
  }
  for (int i = 0; i < 20; ++i) EXPECT_EQ(server_.requests("/u" + std::to_string(i) + ".log"), 1);
}

// Faults on some inputs while others are in flight: still every byte once, in order.
TEST_P(PrefetcherTest, FaultsOnSomeInputsLoseAndRepeatNothing) {
  std::vector<std::string> bodies, urls;
  for (int i = 0; i < 6; ++i) {
    bodies.push_back(Body(300'000, 200 + i));
    HttpResource r;
    if (i == 1) r.fail_first_n = 1;
    if (i == 2 || i == 4) {
      r.drop_after_bytes = 70'000;
      r.drop_first_n = 1;
      r.ranges = i == 2;
    }
    if (i == 5) {
      r.stall_after_bytes = 1000;
      r.stall_ms = 5000;
      r.stall_first_n = 1;
    }
    const std::string path = "/f" + std::to_string(i) + ".log";
    server_.Serve(path, bodies.back(), r);
    urls.push_back(server_.url(path));
  }
  Prefetcher p(Inputs(urls), GetParam().model, GetParam().workers, 32 << 10);
  for (size_t i = 0; i < urls.size(); ++i) {
    Result<std::string> got = OpenAndRead(p, i);
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().message();
    EXPECT_TRUE(*got == bodies[i]) << "input " << i;
  }
}

TEST_P(PrefetcherTest, UrlsLocalFilesAndGzipMixInOrder) {
  TempDir dir;
  std::vector<std::string> names, expected;
  for (int i = 0; i < 8; ++i) {
    expected.push_back(Body(100'000 + i * 7000, 300 + i));
    if (i % 3 == 0) {
      names.push_back(dir.Write("f" + std::to_string(i) + ".log", expected.back()));
    } else if (i % 3 == 1) {
      const std::string path = "/m" + std::to_string(i) + ".log";
      HttpResource r;
      r.latency_ms = (8 - i) * 15;
      server_.Serve(path, expected.back(), r);
      names.push_back(server_.url(path));
    } else if (i == 2) {
      names.push_back(dir.Write("f2.log.gz", Gzip(expected.back())));
    } else {
      const std::string path = "/m" + std::to_string(i) + ".log.gz";
      server_.Serve(path, Gzip(expected.back()));
      names.push_back(server_.url(path));
    }
  }
  Prefetcher p(Inputs(names), GetParam().model, GetParam().workers, 16 << 10);
  for (size_t i = 0; i < names.size(); ++i) {
    Result<std::string> got = OpenAndRead(p, i);
    ASSERT_TRUE(got.ok()) << names[i] << ": " << got.status().message();
    EXPECT_TRUE(*got == expected[i]) << names[i];
  }
}

// A failed input reports at its own index; inputs before it are intact and (as with
// on_fetch_error: skip) inputs after it are still read.
TEST_P(PrefetcherTest, FailingUrlInTheMiddleFailsAtItsOwnIndex) {
  std::vector<std::string> bodies(5), urls;
  for (int i = 0; i < 5; ++i) {
    const std::string path = "/e" + std::to_string(i) + ".log";
    if (i != 2) {
      bodies[i] = Body(50'000, 400 + i);
      HttpResource r;
      r.latency_ms = 100;  // the failure (no latency) is known before these finish
      server_.Serve(path, bodies[i], r);
    }
    urls.push_back(server_.url(path));  // /e2.log is not served: 404
  }
  Prefetcher p(Inputs(urls), GetParam().model, GetParam().workers, 16 << 10);
  for (size_t i = 0; i < urls.size(); ++i) {
    Result<std::string> got = OpenAndRead(p, i);
    if (i == 2) {
      ASSERT_FALSE(got.ok());
      EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
      EXPECT_NE(got.status().message().find(urls[2]), std::string::npos)
          << got.status().message();
      EXPECT_NE(got.status().message().find("404"), std::string::npos);
      continue;
    }
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().message();
    EXPECT_TRUE(*got == bodies[i]) << "input " << i;
  }
  EXPECT_EQ(server_.requests("/e2.log"), 1);
}

// Transfers in flight and paused on full buffers, the reader holding one source half read:
// destroying the Prefetcher ends them all promptly.
TEST_P(PrefetcherTest, DestroyedWhileTransfersAreInFlightOrPausedReturnsPromptly) {
  std::vector<std::string> urls;
  for (int i = 0; i < 10; ++i) {
    const std::string path = "/big" + std::to_string(i) + ".log";
    HttpResource r;
    if (i == 3) {  // one stuck in a long stall
      r.stall_after_bytes = 1000;
      r.stall_ms = 30'000;
    }
    if (i == 4) r.latency_ms = 30'000;  // one not answering at all
    server_.Serve(path, Body(4 << 20, 500 + i), r);
    urls.push_back(server_.url(path));
  }
  const auto start = Clock::now();
  {
    Prefetcher p(Inputs(urls), GetParam().model, GetParam().workers, 16 << 10);
    Result<std::unique_ptr<ByteSource>> first = p.Open(0);
    ASSERT_TRUE(first.ok());
    char buf[100];
    ASSERT_TRUE(first.value()->Read(buf, sizeof buf).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the buffers fill
  }
  EXPECT_LT(MillisSince(start), 10'000);
  {
    Prefetcher p(Inputs(urls), GetParam().model, GetParam().workers, 16 << 10);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // nothing opened
  }
  {
    Prefetcher p(Inputs(urls), GetParam().model, GetParam().workers, 16 << 10);  // at once
  }
  EXPECT_LT(MillisSince(start), 20'000);
}

// The reader drops input 0 half read and goes on: the next inputs are still whole.
TEST_P(PrefetcherTest, ReaderAbandoningAnInputDoesNotDisturbTheNext) {
  std::vector<std::string> bodies, urls;
  for (int i = 0; i < 4; ++i) {
    bodies.push_back(Body(500'000, 600 + i));
    const std::string path = "/h" + std::to_string(i) + ".log";
    server_.Serve(path, bodies.back());
    urls.push_back(server_.url(path));
  }
  Prefetcher p(Inputs(urls), GetParam().model, GetParam().workers, 16 << 10);
  {
    Result<std::unique_ptr<ByteSource>> first = p.Open(0);
    ASSERT_TRUE(first.ok());
    char buf[1000];
    ASSERT_TRUE(first.value()->Read(buf, sizeof buf).ok());
  }
  for (size_t i = 1; i < urls.size(); ++i) {
    Result<std::string> got = OpenAndRead(p, i);
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().message();
    EXPECT_TRUE(*got == bodies[i]) << "input " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, PrefetcherTest,
                         ::testing::Values(ModelCase{FetchModel::kThreads, 1},
                                           ModelCase{FetchModel::kThreads, 4},
                                           ModelCase{FetchModel::kAsync, 1},
                                           ModelCase{FetchModel::kAsync, 8}),
                         CaseName);

// ---- local files only (ThreadSanitizer-safe: no HTTP server, no libcurl transfers)

class PrefetcherFiles : public ::testing::TestWithParam<ModelCase> {};

TEST_P(PrefetcherFiles, FilesAndGzipAreReadWholeInOrder) {
  TempDir dir;
  std::vector<std::string> names, expected;
  for (int i = 0; i < 12; ++i) {
    expected.push_back(Body(static_cast<size_t>(i % 4) * 150'000 + (i == 5 ? 0 : 1), 700 + i));
    const std::string name = "in" + std::to_string(i) + (i % 3 == 1 ? ".log.gz" : ".log");
    names.push_back(dir.Write(name, i % 3 == 1 ? Gzip(expected.back()) : expected.back()));
  }
  Prefetcher p(Inputs(names), GetParam().model, GetParam().workers, 8 << 10);
  for (size_t i = 0; i < names.size(); ++i) {
    Result<std::string> got = OpenAndRead(p, i);
    ASSERT_TRUE(got.ok()) << names[i] << ": " << got.status().message();
    EXPECT_EQ(got->size(), expected[i].size()) << names[i];
    EXPECT_TRUE(*got == expected[i]) << names[i];
  }
}

TEST_P(PrefetcherFiles, MissingAndCorruptFilesFailAtTheirOwnIndex) {
  TempDir dir;
  const std::string a = Body(100'000, 800), c = Body(100'000, 802);
  const std::string gz = Gzip(Body(300'000, 803));
  std::vector<std::string> names = {dir.Write("a.log", a), dir.path() + "/missing.log",
                                    dir.Write("c.log", c),
                                    dir.Write("cut.log.gz", gz.substr(0, gz.size() / 2))};
  Prefetcher p(Inputs(names), GetParam().model, GetParam().workers, 8 << 10);
  Result<std::string> got = OpenAndRead(p, 0);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(*got == a);
  got = OpenAndRead(p, 1);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNoInput);
  EXPECT_NE(got.status().message().find("missing.log"), std::string::npos);
  got = OpenAndRead(p, 2);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(*got == c);
  got = OpenAndRead(p, 3);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kDataError);
  EXPECT_NE(got.status().message().find("cut.log.gz"), std::string::npos)
      << got.status().message();
}

// I/O threads blocked on full buffers (and some not started) end when the Prefetcher goes.
TEST_P(PrefetcherFiles, DestroyedWithWritersBlockedOnFullBuffersReturnsPromptly) {
  TempDir dir;
  std::vector<std::string> names;
  for (int i = 0; i < 8; ++i) {
    names.push_back(dir.Write("big" + std::to_string(i) + ".log", Body(2 << 20, 900 + i)));
  }
  const auto start = Clock::now();
  {
    Prefetcher p(Inputs(names), GetParam().model, GetParam().workers, 4 << 10);
    Result<std::unique_ptr<ByteSource>> first = p.Open(0);
    ASSERT_TRUE(first.ok());
    char buf[100];
    ASSERT_TRUE(first.value()->Read(buf, sizeof buf).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_LT(MillisSince(start), 10'000);
  // Destroyed at once, many times: an I/O thread that claimed an input just before the
  // destructor ran must not be left waiting on a buffer nobody cancels. The files are just
  // over one StreamBuffer write (256 KiB), so a writer blocks, yet rounds stay cheap under
  // sanitizers. A round that hangs aborts the test binary rather than blocking the suite.
  std::vector<std::string> small;
  for (int i = 0; i < 8; ++i) {
    small.push_back(dir.Write("small" + std::to_string(i) + ".log", Body(300 << 10, 950 + i)));
  }
  std::atomic<int> round{0};
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    int seen = -1;
    auto progress = Clock::now();
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (round != seen) {
        seen = round;
        progress = Clock::now();
      } else if (MillisSince(progress) > 20'000) {
        std::fprintf(stderr, "PrefetcherFiles: ~Prefetcher hung in round %d\n", seen);
        std::abort();
      }
    }
  });
  for (; round < 1000; ++round) {
    Prefetcher p(Inputs(small), GetParam().model, GetParam().workers, 4 << 10);
  }
  done = true;
  watchdog.join();
}

TEST_P(PrefetcherFiles, NoInputsAndEmptyFilesWork) {
  { Prefetcher p({}, GetParam().model, GetParam().workers, 1024); }
  TempDir dir;
  std::vector<std::string> names = {dir.Write("e1.log", ""), dir.Write("e2.log", "x"),
                                    dir.Write("e3.log", "")};
  Prefetcher p(Inputs(names), GetParam().model, GetParam().workers, 1);
  EXPECT_EQ(*OpenAndRead(p, 0), "");
  EXPECT_EQ(*OpenAndRead(p, 1), "x");
  EXPECT_EQ(*OpenAndRead(p, 2), "");
}

INSTANTIATE_TEST_SUITE_P(Models, PrefetcherFiles,
                         ::testing::Values(ModelCase{FetchModel::kThreads, 1},
                                           ModelCase{FetchModel::kThreads, 3},
                                           ModelCase{FetchModel::kAsync, 4}),
                         CaseName);

}  // namespace
}  // namespace logpipe

namespace logpipe {
namespace {

// Backpressure is not a stall: I/O threads and the event loop keep running while the reader
// is away for longer than low_speed_time; the paused transfers must not time out.
TEST_P(PrefetcherTest, ReaderAwayLongerThanLowSpeedTimeIsNotAStall) {
  std::vector<std::string> bodies, urls;
  for (int i = 0; i < 3; ++i) {
    bodies.push_back(Body(2 << 20, 650 + i));
    const std::string path = "/p" + std::to_string(i) + ".log";
    server_.Serve(path, bodies.back());
    urls.push_back(server_.url(path));
  }
  std::vector<FetchInput> inputs = Inputs(urls);
  for (auto& in : inputs) {
    in.url.low_speed_bytes = 100'000;
    in.url.low_speed_time_ms = 1000;
    in.url.retries = 0;
  }
  Prefetcher p(std::move(inputs), GetParam().model, GetParam().workers, 64 << 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(1700));  // buffers fill; > 1 s
  for (size_t i = 0; i < urls.size(); ++i) {
    Result<std::string> got = OpenAndRead(p, i);
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().message();
    EXPECT_TRUE(*got == bodies[i]) << "input " << i;
    EXPECT_EQ(server_.requests("/p" + std::to_string(i) + ".log"), 1);
  }
}

}  // namespace
}  // namespace logpipe
