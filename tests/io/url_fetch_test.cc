// URL downloads (io/url_fetch.h) against the loopback test server, one fault at a time: each
// test reads the whole body through OpenUrl + DecodeByMagic and checks it byte for byte
// against what was served (nothing lost, nothing delivered twice), or checks the error.
#include "io/url_fetch.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "io/byte_source.h"
#include "tests/support/compress.h"
#include "tests/support/http_test_server.h"
#include "tests/support/random_text.h"
#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

using ::logpipe::testing::Gzip;
using ::logpipe::testing::HttpResource;
using ::logpipe::testing::HttpTestServer;
using ::logpipe::testing::MakeTestCertificate;
using ::logpipe::testing::TempDir;
using ::logpipe::testing::TestCertificate;
using Clock = std::chrono::steady_clock;

std::string Body(size_t n, unsigned seed = 1) { return ::logpipe::testing::RandomText(n, seed); }

int64_t MillisSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Short delays so faults are quick to recover from.
UrlOptions FastOptions() {
  UrlOptions o;
  o.connect_timeout_ms = 5000;
  o.low_speed_time_ms = 1000;
  o.retries = 3;
  o.retry_delay_ms = 20;
  o.max_retry_delay_ms = 2000;
  return o;
}

// Downloads `url` with the serial model and decodes it; the bytes or the first error.
Result<std::string> Fetch(const std::string& url, const UrlOptions& options,
                          size_t buffer_bytes = size_t{4} << 20) {
  Result<std::unique_ptr<ByteSource>> source = DecodeByMagic(OpenUrl(url, options, buffer_bytes));
  if (!source.ok()) return source.status();
  EXPECT_EQ(source.value()->name(), url);
  std::string out;
  std::string buf(size_t{1} << 16, '\0');
  while (true) {
    Result<size_t> n = source.value()->Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) return out;
    out.append(buf.data(), *n);
  }
}

// A loopback port nothing listens on (bound, then closed).
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

class UrlFetchTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }
  HttpTestServer server_;
};

TEST(UrlFetchIsUrl, RecognizesHttpAndHttpsOnly) {
  EXPECT_TRUE(IsUrl("http://h/a"));
  EXPECT_TRUE(IsUrl("HTTPS://h/a"));
  EXPECT_FALSE(IsUrl("ftp://h/a"));
  EXPECT_FALSE(IsUrl("logs/http://x"));
  EXPECT_FALSE(IsUrl("http:/x"));
  EXPECT_FALSE(IsUrl(""));
}

// 3 MiB through a 64 KiB buffer: the transfer pauses and resumes many times.
TEST_F(UrlFetchTest, PlainBodyThroughASmallBufferArrivesWhole) {
  const std::string body = Body(3 << 20);
  server_.Serve("/a.log", body);
  Result<std::string> got = Fetch(server_.url("/a.log"), FastOptions(), 64 << 10);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->size(), body.size());
  EXPECT_TRUE(*got == body);
  EXPECT_EQ(server_.requests("/a.log"), 1);
}

TEST_F(UrlFetchTest, EmptyBodyIsAnEmptyInput) {
  server_.Serve("/empty.log", "");
  Result<std::string> got = Fetch(server_.url("/empty.log"), FastOptions());
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got, "");
}

TEST_F(UrlFetchTest, LatencyAndBandwidthCapAreWaitedOut) {
  const std::string body = Body(300'000, 2);
  HttpResource r;
  r.latency_ms = 200;
  r.bytes_per_second = 1'000'000;
  server_.Serve("/slow.log", body, r);
  const auto start = Clock::now();
  Result<std::string> got = Fetch(server_.url("/slow.log"), FastOptions(), 32 << 10);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(*got == body);
  EXPECT_GE(MillisSince(start), 200 + 200);  // latency + most of 300 ms of pacing
  EXPECT_EQ(server_.requests("/slow.log"), 1);
}

TEST_F(UrlFetchTest, TwoServerErrorsThenSuccessIsRetried) {
  const std::string body = Body(100'000, 3);
  HttpResource r;
  r.fail_first_n = 2;
  r.fail_status = 500;
  server_.Serve("/flaky.log", body, r);
  Result<std::string> got = Fetch(server_.url("/flaky.log"), FastOptions());
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(*got == body);  // the error pages' bodies are not part of the input
  ASSERT_EQ(server_.requests("/flaky.log"), 3);
  auto log = server_.log("/flaky.log");
  EXPECT_EQ(log[0].status, 500);
  EXPECT_EQ(log[1].status, 500);
  EXPECT_EQ(log[2].status, 200);
  EXPECT_EQ(log[2].range_start, -1);  // nothing was delivered, so no Range
}

TEST_F(UrlFetchTest, TooManyRequestsWaitsForRetryAfter) {
  const std::string body = Body(10'000, 4);
  HttpResource r;
  r.fail_first_n = 1;
  r.fail_status = 429;
  r.retry_after_seconds = 1;
  server_.Serve("/limited.log", body, r);
  const auto start = Clock::now();
  Result<std::string> got = Fetch(server_.url("/limited.log"), FastOptions());
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(*got == body);
  EXPECT_GE(MillisSince(start), 950);  // Retry-After: 1, though retry_delay is 20 ms
  EXPECT_EQ(server_.requests("/limited.log"), 2);
}

TEST_F(UrlFetchTest, RetryAfterLongerThanMaxRetryDelayFailsAtOnce) {
  HttpResource r;
  r.fail_first_n = 1;
  r.fail_status = 503;
  r.retry_after_seconds = 30;
  server_.Serve("/later.log", Body(1000), r);
  UrlOptions o = FastOptions();
  o.max_retry_delay_ms = 1000;
  const auto start = Clock::now();
  Result<std::string> got = Fetch(server_.url("/later.log"), o);
  ASSERT_FALSE(got.ok());
  EXPECT_LT(MillisSince(start), 10'000) << "it waited for Retry-After";
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(got.status().message().find(server_.url("/later.log")), std::string::npos);
  EXPECT_NE(got.status().message().find("max_retry_delay"), std::string::npos)
      << got.status().message();
  EXPECT_EQ(server_.requests("/later.log"), 1);
}

TEST_F(UrlFetchTest, NotFoundFailsAtOnceNamingUrlAndStatus) {
  Result<std::string> got = Fetch(server_.url("/missing.log"), FastOptions());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(got.status().exit_code(), 69);
  const std::string& m = got.status().message();
  EXPECT_NE(m.find(server_.url("/missing.log")), std::string::npos) << m;
  EXPECT_NE(m.find("404"), std::string::npos) << m;
  EXPECT_EQ(server_.requests("/missing.log"), 1);
}

TEST_F(UrlFetchTest, PersistentServiceUnavailableFailsAfterEveryAttempt) {
  HttpResource r;
  r.fail_first_n = 1000;
  r.fail_status = 503;
  server_.Serve("/down.log", Body(1000), r);
  UrlOptions o = FastOptions();
  o.retries = 2;
  Result<std::string> got = Fetch(server_.url("/down.log"), o);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  const std::string& m = got.status().message();
  EXPECT_NE(m.find(server_.url("/down.log")), std::string::npos) << m;
  EXPECT_NE(m.find("503"), std::string::npos) << m;
  EXPECT_NE(m.find("3 attempts"), std::string::npos) << m;
  EXPECT_EQ(server_.requests("/down.log"), 3);
}

TEST_F(UrlFetchTest, ConnectionRefusedIsRetriedThenFails) {
  const std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/a.log";
  UrlOptions o = FastOptions();
  o.retries = 2;
  const auto start = Clock::now();
  Result<std::string> got = Fetch(url, o);
  ASSERT_FALSE(got.ok());
  EXPECT_LT(MillisSince(start), 10'000);
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  const std::string& m = got.status().message();
  EXPECT_NE(m.find(url), std::string::npos) << m;
  EXPECT_NE(m.find("3 attempts"), std::string::npos) << m;
}

TEST_F(UrlFetchTest, CutBodyIsResumedWithARangeFromTheDeliveredOffset) {
  const std::string body = Body(1 << 20, 5);
  HttpResource r;
  r.drop_after_bytes = 300'000;
  r.drop_first_n = 1;
  server_.Serve("/cut.log", body, r);
  Result<std::string> got = Fetch(server_.url("/cut.log"), FastOptions());
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->size(), body.size());
  EXPECT_TRUE(*got == body);
  auto log = server_.log("/cut.log");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].range_start, -1);
  EXPECT_EQ(log[1].range_start, 300'000);
  EXPECT_FALSE(log[1].if_range.empty()) << "a resume must be conditional on the validator";
  EXPECT_EQ(log[1].status, 206);
}

TEST_F(UrlFetchTest, CutBodyIsResumedAcrossSeveralCuts) {
  const std::string body = Body(1 << 20, 6);
  HttpResource r;
  r.drop_after_bytes = 200'000;  // every attempt but the last delivers 200000 bytes
  r.drop_first_n = 3;
  server_.Serve("/cuts.log", body, r);
  Result<std::string> got = Fetch(server_.url("/cuts.log"), FastOptions());
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(*got == body);
  auto log = server_.log("/cuts.log");
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[1].range_start, 200'000);
  EXPECT_EQ(log[2].range_start, 400'000);
  EXPECT_EQ(log[3].range_start, 600'000);
}

TEST_F(UrlFetchTest, CutBodyWithoutRangesIsRestartedAndTheDeliveredPartSkipped) {
  const std::string body = Body(1 << 20, 7);
  HttpResource r;
  r.drop_after_bytes = 300'000;
  r.drop_first_n = 1;
  r.ranges = false;
  server_.Serve("/norange.log", body, r);
  Result<std::string> got = Fetch(server_.url("/norange.log"), FastOptions());
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->size(), body.size()) << "bytes lost or delivered twice";
  EXPECT_TRUE(*got == body);
  auto log = server_.log("/norange.log");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].range_start, -1);  // no Accept-Ranges: it starts over
  EXPECT_EQ(log[1].status, 200);
}

TEST_F(UrlFetchTest, BodyThatChangedDuringAResumedDownloadIsADataError) {
  HttpResource r;
  r.drop_after_bytes = 100'000;
  r.drop_first_n = 1;
  r.etag_changes = true;
  server_.Serve("/moving.log", Body(500'000, 8), r);
  Result<std::string> got = Fetch(server_.url("/moving.log"), FastOptions());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kDataError);
  EXPECT_EQ(got.status().exit_code(), 65);
  const std::string& m = got.status().message();
  EXPECT_NE(m.find(server_.url("/moving.log")), std::string::npos) << m;
  EXPECT_NE(m.find("changed"), std::string::npos) << m;
  EXPECT_EQ(server_.requests("/moving.log"), 2);
}

TEST_F(UrlFetchTest, StallLongerThanLowSpeedTimeIsRetriedAndResumed) {
  const std::string body = Body(400'000, 9);
  HttpResource r;
  r.stall_after_bytes = 100'000;
  r.stall_ms = 8000;
  r.stall_first_n = 1;
  server_.Serve("/stall.log", body, r);
  const auto start = Clock::now();
  Result<std::string> got = Fetch(server_.url("/stall.log"), FastOptions());
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(*got == body);
  EXPECT_GE(MillisSince(start), 900);  // low_speed_time 1 s
  EXPECT_LT(MillisSince(start), 7000) << "the stall was noticed late";
  auto log = server_.log("/stall.log");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].range_start, 100'000);
}

TEST_F(UrlFetchTest, StallWithoutRetriesFailsWithATimeout) {
  HttpResource r;
  r.stall_after_bytes = 10'000;
  r.stall_ms = 8000;
  server_.Serve("/stuck.log", Body(100'000, 10), r);
  UrlOptions o = FastOptions();
  o.retries = 0;
  Result<std::string> got = Fetch(server_.url("/stuck.log"), o);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  const std::string& m = got.status().message();
  EXPECT_NE(m.find(server_.url("/stuck.log")), std::string::npos) << m;
  EXPECT_NE(Lower(m).find("timeout"), std::string::npos) << m;
  EXPECT_NE(m.find("1 attempt"), std::string::npos) << m;
  EXPECT_EQ(server_.requests("/stuck.log"), 1);
}

// Below low_speed_limit (but not stopped) for low_speed_time: a timeout, promptly.
TEST_F(UrlFetchTest, SteadyTransferBelowLowSpeedLimitFails) {
  HttpResource r;
  r.bytes_per_second = 20'000;
  server_.Serve("/trickle.log", Body(200'000, 21), r);
  UrlOptions o = FastOptions();
  o.low_speed_bytes = 100'000;
  o.retries = 0;
  const auto start = Clock::now();
  Result<std::string> got = Fetch(server_.url("/trickle.log"), o);
  ASSERT_FALSE(got.ok());
  EXPECT_GE(MillisSince(start), 900);
  EXPECT_LT(MillisSince(start), 8000) << "the stall was noticed late";
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(got.status().message().find("low_speed"), std::string::npos) << got.status().message();
}

// Above low_speed_limit for longer than low_speed_time: not a stall.
TEST_F(UrlFetchTest, SteadyTransferAboveLowSpeedLimitSucceeds) {
  const std::string body = Body(500'000, 22);
  HttpResource r;
  r.bytes_per_second = 400'000;
  server_.Serve("/steady.log", body, r);
  UrlOptions o = FastOptions();
  o.low_speed_bytes = 100'000;
  o.retries = 0;
  Result<std::string> got = Fetch(server_.url("/steady.log"), o, 16 << 10);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(*got == body);
}

TEST_F(UrlFetchTest, WholeTransferTimeoutFailsTheAttempt) {
  HttpResource r;
  r.bytes_per_second = 20'000;
  server_.Serve("/crawl.log", Body(200'000, 11), r);  // 10 s at this pace
  UrlOptions o = FastOptions();
  o.timeout_ms = 500;
  o.retries = 1;
  Result<std::string> got = Fetch(server_.url("/crawl.log"), o);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(Lower(got.status().message()).find("timeout"), std::string::npos)
      << got.status().message();
  EXPECT_EQ(server_.requests("/crawl.log"), 2);
}

TEST_F(UrlFetchTest, GzipContentEncodingIsDecodedByTheReader) {
  const std::string body = Body(500'000, 12);
  HttpResource r;
  r.content_encoding_gzip = true;
  server_.Serve("/enc.log", body, r);
  Result<std::string> got = Fetch(server_.url("/enc.log"), FastOptions(), 16 << 10);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(*got == body);
}

TEST_F(UrlFetchTest, GzipFileBodyCutAndResumedIsDecodedWhole) {
  const std::string text = Body(2 << 20, 13);
  const std::string gz = Gzip(text);
  HttpResource r;
  r.drop_after_bytes = static_cast<int64_t>(gz.size() / 2);
  r.drop_first_n = 1;
  server_.Serve("/a.log.gz", gz, r);
  Result<std::string> got = Fetch(server_.url("/a.log.gz"), FastOptions(), 64 << 10);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(*got == text);
  auto log = server_.log("/a.log.gz");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].range_start, static_cast<int64_t>(gz.size() / 2));
}

TEST_F(UrlFetchTest, TruncatedGzipBodyIsADataErrorNamingTheUrl) {
  const std::string gz = Gzip(Body(200'000, 14));
  server_.Serve("/trunc.log.gz", gz.substr(0, gz.size() / 2));  // the server says it is whole
  Result<std::string> got = Fetch(server_.url("/trunc.log.gz"), FastOptions());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kDataError);
  EXPECT_NE(got.status().message().find(server_.url("/trunc.log.gz")), std::string::npos)
      << got.status().message();
  EXPECT_EQ(server_.requests("/trunc.log.gz"), 1);
}

TEST_F(UrlFetchTest, RedirectChainIsFollowed) {
  const std::string body = Body(50'000, 15);
  server_.Serve("/final.log", body);
  HttpResource to_final;
  to_final.redirect_to = "/final.log";
  to_final.redirect_status = 301;
  server_.Serve("/r2", "", to_final);
  HttpResource to_r2;
  to_r2.redirect_to = "/r2";
  to_r2.redirect_status = 307;
  server_.Serve("/r1", "", to_r2);
  Result<std::string> got = Fetch(server_.url("/r1"), FastOptions());
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(*got == body);
  EXPECT_EQ(server_.requests("/r1"), 1);
  EXPECT_EQ(server_.requests("/r2"), 1);
  EXPECT_EQ(server_.requests("/final.log"), 1);
}

TEST_F(UrlFetchTest, RedirectLoopFailsNamingMaxRedirects) {
  HttpResource loop;
  loop.redirect_to = "/loop";
  server_.Serve("/loop", "", loop);
  UrlOptions o = FastOptions();
  o.max_redirects = 3;
  Result<std::string> got = Fetch(server_.url("/loop"), o);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  const std::string& m = got.status().message();
  EXPECT_NE(m.find(server_.url("/loop")), std::string::npos) << m;
  EXPECT_NE(m.find("max_redirects"), std::string::npos) << m;
  EXPECT_EQ(server_.requests("/loop"), 4);  // the first request and 3 redirects, not retried
}

TEST_F(UrlFetchTest, LargeBodyThroughAOneMebibyteBufferIsIdentical) {
  static const std::string* body = new std::string(Body(size_t{64} << 20, 16));
  server_.Serve("/big.log", std::make_shared<const std::string>(*body));
  Result<std::string> got = Fetch(server_.url("/big.log"), FastOptions(), 1 << 20);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), body->size());
  EXPECT_EQ(std::hash<std::string>()(*got), std::hash<std::string>()(*body));
  EXPECT_TRUE(*got == *body);
  EXPECT_EQ(server_.requests("/big.log"), 1);
}

TEST_F(UrlFetchTest, CustomHeadersAreSentWithEveryRequest) {
  // The server logs If-Range, so a custom If-Range header shows that headers are passed on.
  HttpResource r;
  r.fail_first_n = 1;
  server_.Serve("/h.log", Body(1000, 17), r);
  UrlOptions o = FastOptions();
  o.headers = {"If-Range: \"custom\"", "X-Logpipe-Test: 1"};
  Result<std::string> got = Fetch(server_.url("/h.log"), o);
  ASSERT_TRUE(got.ok()) << got.status().message();
  auto log = server_.log("/h.log");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].if_range, "\"custom\"");
  EXPECT_EQ(log[1].if_range, "\"custom\"");  // the retry too
}

class UrlFetchTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = MakeTestCertificate(dir_.path());
    ASSERT_FALSE(cert_.ca_pem.empty());
    server_ = std::make_unique<HttpTestServer>(cert_);
    ASSERT_TRUE(server_->Start());
  }
  TempDir dir_;
  TestCertificate cert_;
  std::unique_ptr<HttpTestServer> server_;
};

TEST_F(UrlFetchTlsTest, HttpsWithTheCaFileIsVerifiedAndRead) {
  const std::string body = Body(300'000, 18);
  server_->Serve("/s.log", body);
  UrlOptions o = FastOptions();
  o.ca_file = cert_.ca_pem;
  const std::string url = server_->url("/s.log");
  ASSERT_EQ(url.rfind("https://", 0), 0u);
  Result<std::string> got = Fetch(url, o, 32 << 10);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(*got == body);
}

TEST_F(UrlFetchTlsTest, HttpsWithoutTheCaFileFailsPointingAtCaFile) {
  server_->Serve("/s.log", Body(1000, 19));
  const std::string url = server_->url("/s.log");
  Result<std::string> got = Fetch(url, FastOptions());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(got.status().message().find(url), std::string::npos) << got.status().message();
  EXPECT_NE(got.status().message().find("ca_file"), std::string::npos) << got.status().message();
}

TEST_F(UrlFetchTlsTest, HttpsWithTlsVerifyOffIsRead) {
  const std::string body = Body(1000, 20);
  server_->Serve("/s.log", body);
  UrlOptions o = FastOptions();
  o.tls_verify = false;
  Result<std::string> got = Fetch(server_->url("/s.log"), o);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got, body);
}

// FetchBuffer, the same-thread sink of the serial model: bounded, whole pieces or none.
TEST(FetchBufferTest, AcceptsWholePiecesUntilFullThenDrainsInOrder) {
  FetchBuffer buffer(4);
  EXPECT_TRUE(buffer.has_room());
  EXPECT_TRUE(buffer.TryWrite("abc", 3));
  EXPECT_TRUE(buffer.TryWrite("defgh", 5));  // below capacity: the whole piece goes in
  EXPECT_FALSE(buffer.has_room());
  EXPECT_FALSE(buffer.TryWrite("i", 1));  // full: the transfer pauses
  char buf[16];
  ASSERT_EQ(buffer.Take(buf, 2), 2u);
  EXPECT_EQ(std::string(buf, 2), "ab");
  EXPECT_FALSE(buffer.has_room());  // 6 held of 4
  ASSERT_EQ(buffer.Take(buf, 16), 6u);
  EXPECT_EQ(std::string(buf, 6), "cdefgh");
  EXPECT_TRUE(buffer.has_room());
  EXPECT_EQ(buffer.Take(buf, 16), 0u);
  EXPECT_FALSE(buffer.closed());
  buffer.Close(UnavailableError("http://h/x: HTTP 503"));
  buffer.Close(Status::Ok());  // only the first close counts
  EXPECT_TRUE(buffer.closed());
  EXPECT_EQ(buffer.status().code(), StatusCode::kUnavailable);
  FetchBuffer gone(4);
  gone.Cancel();
  EXPECT_TRUE(gone.cancelled());
  EXPECT_TRUE(gone.TryWrite("dropped", 7));  // accepted and dropped: the transfer aborts
  EXPECT_EQ(gone.size(), 0u);
}

// FetchLoop directly: several transfers on one loop, read in any order, each whole.
TEST_F(UrlFetchTest, OneLoopDrivesSeveralTransfersWithBackpressure) {
  std::vector<std::string> bodies;
  std::vector<std::shared_ptr<FetchBuffer>> buffers;
  FetchLoop loop;
  for (int i = 0; i < 5; ++i) {
    bodies.push_back(Body(200'000 + i * 1000, 30 + i));
    HttpResource r;
    r.latency_ms = (5 - i) * 20;
    if (i == 2) {
      r.drop_after_bytes = 50'000;
      r.drop_first_n = 1;
    }
    server_.Serve("/m" + std::to_string(i), bodies.back(), r);
    buffers.push_back(std::make_shared<FetchBuffer>(8 << 10));
    loop.Add(server_.url("/m" + std::to_string(i)), FastOptions(), buffers.back());
  }
  EXPECT_EQ(loop.active(), 5u);
  std::vector<std::string> got(5);
  std::vector<bool> done(5, false);
  char buf[4096];
  const auto start = Clock::now();
  while (std::count(done.begin(), done.end(), true) < 5 && MillisSince(start) < 20'000) {
    loop.Pump(50);
    for (int i = 4; i >= 0; --i) {  // the reader drains full buffers, in reverse order
      while (!done[i] && !buffers[i]->has_room()) {
        got[i].append(buf, buffers[i]->Take(buf, sizeof buf));
      }
    }
    if (loop.active() == 0) {
      for (int i = 0; i < 5; ++i) {
        while (buffers[i]->size() > 0) got[i].append(buf, buffers[i]->Take(buf, sizeof buf));
        ASSERT_TRUE(buffers[i]->closed()) << i;
        ASSERT_TRUE(buffers[i]->status().ok()) << buffers[i]->status().message();
        done[i] = true;
      }
    }
  }
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(done[i]) << i;
    EXPECT_TRUE(got[i] == bodies[i]) << "transfer " << i;
  }
  EXPECT_EQ(server_.requests("/m2"), 2);
}

// Dropping the reader of a paused download ends it promptly.
TEST_F(UrlFetchTest, DroppingTheReaderMidDownloadReturnsPromptly) {
  server_.Serve("/long.log", Body(8 << 20, 40));
  const auto start = Clock::now();
  {
    Result<std::unique_ptr<ByteSource>> source =
        DecodeByMagic(OpenUrl(server_.url("/long.log"), FastOptions(), 16 << 10));
    ASSERT_TRUE(source.ok());
    char buf[1000];
    Result<size_t> n = source.value()->Read(buf, sizeof buf);
    ASSERT_TRUE(n.ok());
    EXPECT_GT(*n, 0u);
  }
  EXPECT_LT(MillisSince(start), 10'000);
}

}  // namespace
}  // namespace logpipe

namespace logpipe {
namespace {

// Backpressure is not a stall: a reader that stops for longer than low_speed_time pauses the
// transfer, and the paused time does not count against the low-speed limit.
TEST_F(UrlFetchTest, PausedLongerThanLowSpeedTimeIsNotAStall) {
  const std::string body = Body(2 << 20, 50);
  server_.Serve("/paused.log", body);
  UrlOptions o = FastOptions();
  o.low_speed_bytes = 100'000;
  o.low_speed_time_ms = 1000;
  o.retries = 0;
  Result<std::unique_ptr<ByteSource>> source =
      DecodeByMagic(OpenUrl(server_.url("/paused.log"), o, 64 << 10));
  ASSERT_TRUE(source.ok());
  std::string got;
  std::string buf(size_t{1} << 16, '\0');
  bool slept = false;
  while (true) {
    Result<size_t> n = source.value()->Read(buf.data(), buf.size());
    ASSERT_TRUE(n.ok()) << n.status().message();
    if (*n == 0) break;
    got.append(buf.data(), *n);
    if (!slept && got.size() > 200'000) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1700));  // > low_speed_time
      slept = true;
    }
  }
  EXPECT_TRUE(got == body);
  EXPECT_EQ(server_.requests("/paused.log"), 1);
}

}  // namespace
}  // namespace logpipe
