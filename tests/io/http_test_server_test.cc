// Checks the tests' loopback HTTP server (tests/support/http_test_server.h) with
// cpp-httplib's client, one fault at a time.
#include "tests/support/http_test_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <zlib.h>

#include <chrono>
#include <string>

#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

using ::logpipe::testing::HttpResource;
using ::logpipe::testing::HttpTestServer;
using ::logpipe::testing::TempDir;
using Clock = std::chrono::steady_clock;

std::string Body(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

int64_t MillisSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

std::string Gunzip(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[65536];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END);
  inflateEnd(&zs);
  return out;
}

class HttpTestServerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }
  httplib::Client Client() { return httplib::Client("127.0.0.1", server_.port()); }

  HttpTestServer server_;
};

TEST_F(HttpTestServerTest, ServesBodyWithValidatorsAndCountsRequests) {
  const std::string body = Body(1000);
  server_.Serve("/a.log", body);
  httplib::Client cli = Client();
  auto res = cli.Get("/a.log");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, body);
  EXPECT_EQ(res->get_header_value("Accept-Ranges"), "bytes");
  EXPECT_EQ(res->get_header_value("ETag").front(), '"');
  EXPECT_EQ(res->get_header_value("Content-Length"), "1000");
  ASSERT_TRUE(cli.Get("/a.log"));
  auto missing = cli.Get("/missing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(server_.requests("/a.log"), 2);
  EXPECT_EQ(server_.requests("a.log"), 2);
  EXPECT_EQ(server_.requests("/missing"), 1);
  EXPECT_EQ(server_.requests("/never"), 0);
  EXPECT_EQ(server_.url("x/y"), "http://127.0.0.1:" + std::to_string(server_.port()) + "/x/y");
}

TEST_F(HttpTestServerTest, LatencyDelaysTheResponse) {
  HttpResource o;
  o.latency_ms = 150;
  server_.Serve("/slow", "x", o);
  httplib::Client cli = Client();
  const auto t = Clock::now();
  auto res = cli.Get("/slow");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "x");
  EXPECT_GE(MillisSince(t), 150);
}

TEST_F(HttpTestServerTest, BandwidthCapPacesTheBody) {
  const std::string body = Body(50000);
  HttpResource o;
  o.bytes_per_second = 250000;  // the last piece is due after ~180 ms
  server_.Serve("/paced", body, o);
  httplib::Client cli = Client();
  const auto t = Clock::now();
  auto res = cli.Get("/paced");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, body);
  EXPECT_GE(MillisSince(t), 150);
}

TEST_F(HttpTestServerTest, FailsFirstRequestsThenServes) {
  HttpResource o;
  o.fail_first_n = 2;
  o.fail_status = 500;
  server_.Serve("/flaky", "ok", o);
  httplib::Client cli = Client();
  for (int i = 0; i < 2; ++i) {
    auto res = cli.Get("/flaky");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 500);
    EXPECT_FALSE(res->has_header("Retry-After"));
  }
  auto res = cli.Get("/flaky");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok");
  EXPECT_EQ(server_.requests("/flaky"), 3);
  auto log = server_.log("/flaky");
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].status, 500);
  EXPECT_EQ(log[2].status, 200);
}

TEST_F(HttpTestServerTest, TooManyRequestsCarriesRetryAfter) {
  HttpResource o;
  o.fail_first_n = 1;
  o.fail_status = 429;
  o.retry_after_seconds = 7;
  server_.Serve("/limited", "ok", o);
  httplib::Client cli = Client();
  auto res = cli.Get("/limited");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->get_header_value("Retry-After"), "7");
  res = cli.Get("/limited");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(HttpTestServerTest, DropCutsTheFirstTransfersAfterSomeBytes) {
  const std::string body = Body(200000);
  HttpResource o;
  o.drop_after_bytes = 1000;
  o.drop_first_n = 1;
  server_.Serve("/cut", body, o);
  httplib::Client cli = Client();
  std::string got;
  auto res = cli.Get("/cut", [&](const char* d, size_t n) {
    got.append(d, n);
    return true;
  });
  EXPECT_FALSE(res);  // Content-Length promised 200000
  EXPECT_EQ(got, body.substr(0, 1000));
  auto again = cli.Get("/cut");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, body);
  EXPECT_EQ(server_.requests("/cut"), 2);
}

TEST_F(HttpTestServerTest, StallThenContinue) {
  const std::string body = Body(5000);
  HttpResource o;
  o.stall_after_bytes = 100;
  o.stall_ms = 200;
  server_.Serve("/stall", body, o);
  httplib::Client cli = Client();
  const auto t = Clock::now();
  auto res = cli.Get("/stall");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, body);
  EXPECT_GE(MillisSince(t), 200);
}

TEST_F(HttpTestServerTest, StallExceedsClientTimeoutAndCloses) {
  const std::string body = Body(5000);
  HttpResource o;
  o.stall_after_bytes = 100;
  o.stall_ms = 60000;  // cut short when the server is destroyed
  o.stall_then_close = true;
  o.stall_first_n = 1;
  server_.Serve("/stall", body, o);
  httplib::Client cli = Client();
  cli.set_read_timeout(std::chrono::milliseconds(200));
  std::string got;
  auto res = cli.Get("/stall", [&](const char* d, size_t n) {
    got.append(d, n);
    return true;
  });
  EXPECT_FALSE(res);
  EXPECT_EQ(got, body.substr(0, 100));
  httplib::Client cli2 = Client();
  auto again = cli2.Get("/stall");  // a new connection; the second request does not stall
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, body);
}

TEST_F(HttpTestServerTest, RangeGives206WithTheRequestedBytes) {
  const std::string body = Body(1000);
  server_.Serve("/r", body);
  httplib::Client cli = Client();
  auto res = cli.Get("/r", {{"Range", "bytes=100-"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 206);
  EXPECT_EQ(res->body, body.substr(100));
  EXPECT_EQ(res->get_header_value("Content-Range"), "bytes 100-999/1000");
  res = cli.Get("/r", {{"Range", "bytes=10-19"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 206);
  EXPECT_EQ(res->body, body.substr(10, 10));
  res = cli.Get("/r", {{"Range", "bytes=1000-"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 416);
  EXPECT_EQ(res->get_header_value("Content-Range"), "bytes */1000");
  auto log = server_.log("/r");
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].range, "bytes=100-");
  EXPECT_EQ(log[0].range_start, 100);
  EXPECT_EQ(log[1].range_start, 10);
}

TEST_F(HttpTestServerTest, IfRangeMismatchGivesTheFullBody) {
  const std::string body = Body(1000);
  server_.Serve("/r", body);
  httplib::Client cli = Client();
  auto first = cli.Get("/r");
  ASSERT_TRUE(first);
  const std::string etag = first->get_header_value("ETag");
  auto res = cli.Get("/r", {{"Range", "bytes=500-"}, {"If-Range", etag}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 206);
  EXPECT_EQ(res->body, body.substr(500));
  res = cli.Get("/r", {{"Range", "bytes=500-"}, {"If-Range", "\"other\""}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, body);
  EXPECT_EQ(server_.log("/r")[2].if_range, "\"other\"");
}

TEST_F(HttpTestServerTest, ChangingEtagDefeatsIfRange) {
  const std::string body = Body(1000);
  HttpResource o;
  o.etag_changes = true;
  server_.Serve("/r", body, o);
  httplib::Client cli = Client();
  auto first = cli.Get("/r");
  ASSERT_TRUE(first);
  const std::string etag = first->get_header_value("ETag");
  auto res = cli.Get("/r", {{"Range", "bytes=500-"}, {"If-Range", etag}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, body);
  EXPECT_NE(res->get_header_value("ETag"), etag);
}

TEST_F(HttpTestServerTest, WithoutRangesIgnoresRange) {
  const std::string body = Body(1000);
  HttpResource o;
  o.ranges = false;
  server_.Serve("/r", body, o);
  httplib::Client cli = Client();
  auto res = cli.Get("/r", {{"Range", "bytes=100-"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, body);
  EXPECT_FALSE(res->has_header("Accept-Ranges"));
  EXPECT_FALSE(res->has_header("ETag"));
}

TEST_F(HttpTestServerTest, GzipContentEncodingDecompressesToTheBody) {
  const std::string body = Body(100000);
  HttpResource o;
  o.content_encoding_gzip = true;
  server_.Serve("/z", body, o);
  httplib::Client cli = Client();
  cli.set_decompress(false);
  auto res = cli.Get("/z");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->get_header_value("Content-Encoding"), "gzip");
  EXPECT_LT(res->body.size(), body.size());
  EXPECT_EQ(Gunzip(res->body), body);
}

TEST_F(HttpTestServerTest, RedirectChainAndLoop) {
  HttpResource to_b, to_c, loop;
  to_b.redirect_to = "/b";
  to_b.redirect_status = 301;
  to_c.redirect_to = "/c";
  to_c.redirect_status = 307;
  loop.redirect_to = "/loop";
  server_.Serve("/a", "", to_b);
  server_.Serve("/b", "", to_c);
  server_.Serve("/c", "end");
  server_.Serve("/loop", "", loop);
  httplib::Client cli = Client();
  auto hop = cli.Get("/a");
  ASSERT_TRUE(hop);
  EXPECT_EQ(hop->status, 301);
  EXPECT_EQ(hop->get_header_value("Location"), server_.url("/b"));
  cli.set_follow_location(true);
  auto res = cli.Get("/a");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "end");
  EXPECT_EQ(server_.requests("/a"), 2);
  EXPECT_EQ(server_.requests("/b"), 1);
  EXPECT_EQ(server_.requests("/c"), 1);
  auto looped = cli.Get("/loop");
  EXPECT_FALSE(looped);
  EXPECT_GT(server_.requests("/loop"), 2);
}

TEST_F(HttpTestServerTest, SharedBodyAndDirectory) {
  auto big = std::make_shared<const std::string>(Body(4 << 20));
  server_.Serve("/big1", big);
  server_.Serve("/big2", big);
  TempDir dir;
  dir.Write("d/x.log", "x\n");
  dir.Write("y.log", "y\n");
  server_.ServeDirectory("/files", dir.path());
  httplib::Client cli = Client();
  auto res = cli.Get("/big2", {{"Range", "bytes=4000000-"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, big->substr(4000000));
  res = cli.Get("/files/d/x.log");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "x\n");
  res = cli.Get("/files/y.log");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "y\n");
}

TEST(HttpTestServer, TlsHandshakeNeedsTheTestCa) {
  TempDir dir;
  testing::TestCertificate cert = testing::MakeTestCertificate(dir.path());
  ASSERT_FALSE(cert.ca_pem.empty());
  HttpTestServer server(cert);
  server.Serve("/s", "secret");  // before Start() works too
  ASSERT_TRUE(server.Start());
  EXPECT_EQ(server.url("/s").rfind("https://127.0.0.1:", 0), 0u);
  {
    httplib::SSLClient cli("127.0.0.1", server.port());
    cli.set_ca_cert_path(cert.ca_pem.c_str());
    cli.enable_server_certificate_verification(true);
    auto res = cli.Get("/s");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->body, "secret");
  }
  {
    httplib::SSLClient cli("127.0.0.1", server.port());
    cli.enable_server_certificate_verification(true);  // system CAs only: not trusted
    auto res = cli.Get("/s");
    EXPECT_FALSE(res);
    EXPECT_EQ(res.error(), httplib::Error::SSLServerVerification);
  }
  EXPECT_EQ(server.requests("/s"), 1);
}

}  // namespace
}  // namespace logpipe
