#pragma once
// HttpTestServer: a loopback HTTP(S) server for tests of URL inputs, with per-path fault
// injection (latency, bandwidth cap, failing statuses, cut and stalled transfers, ranges,
// changing ETags, gzip Content-Encoding, redirects) and a log of the requests it received.
//
// Contract: listens on 127.0.0.1 only, on an ephemeral port, from Start() (which returns once
//   connections are accepted) until destruction (which stops it, cutting transfers that are
//   sleeping in a fault, and joins its threads). Bodies are served from one shared copy, never
//   copied per request. Requests to a path are numbered 1, 2, ... in arrival order; the
//   *_first_n options count those numbers. GET and HEAD only; unknown paths get 404 (and
//   are logged too).
// Thread-safety: every method may be called from any thread, also while requests are served.
// Note: the server never sleeps except where an option asks it to.

#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
class DataSink;
}  // namespace httplib

namespace logpipe::testing {

// How one path is served. Everything is off by default: a 200 with the body (as
// application/octet-stream), `Accept-Ranges: bytes` and a strong ETag; one range (bytes=A-B,
// A- or -S) gets a 206, one starting past the end a 416; several ranges, or an If-Range that
// is not the current ETag, get the 200. (A Range httplib cannot parse gets httplib's own 416,
// which is not logged.) Faults are checked in this order: fail, redirect, then the body.
struct HttpResource {
  int latency_ms = 0;             // sleep before sending the response headers
  int64_t bytes_per_second = 0;   // > 0: pace the body in small pieces at this rate
  int fail_first_n = 0;           // requests 1..N get `fail_status` and a short body
  int fail_status = 503;
  int retry_after_seconds = -1;   // >= 0: failing responses carry `Retry-After: <n>`
  int64_t drop_after_bytes = -1;  // >= 0: close the connection after this many body bytes
  int drop_first_n = INT_MAX;     //   ... in requests 1..N (headers promise the full length)
  int64_t stall_after_bytes = -1;  // >= 0: after this many body bytes sleep `stall_ms`,
  int stall_ms = 0;               //   then continue, or close if `stall_then_close`
  bool stall_then_close = false;
  int stall_first_n = INT_MAX;    //   ... in requests 1..N
  bool ranges = true;   // false: ignore Range, always 200, no Accept-Ranges and no ETag
  bool etag_changes = false;  // every response has a new ETag (so If-Range never matches)
  bool content_encoding_gzip = false;  // serve gzip(body) with `Content-Encoding: gzip`
                                       // (lengths, ranges and ETag are of the gzip bytes)
  std::string redirect_to;   // non-empty: redirect to url(redirect_to) (may be this path)
  int redirect_status = 302;  // 301, 302, 307 or 308
};

// One request as the server saw it (empty strings for absent headers).
struct HttpRequestRecord {
  std::string method;  // "GET" or "HEAD"
  std::string path;
  std::string range;     // the Range header, e.g. "bytes=100-"
  std::string if_range;  // the If-Range header
  int64_t range_start = -1;  // N of a `Range: bytes=N-...` header, else -1
  int status = 0;            // the status the server chose
};

// Files for a TLS server: a self-signed CA and a server certificate for IP 127.0.0.1 signed
// by it (made with the openssl CLI). Paths inside the directory given to MakeTestCertificate.
struct TestCertificate {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};
// Writes ca.pem, cert.pem and key.pem into `dir`; fails the test (and returns empty paths)
// when openssl fails.
TestCertificate MakeTestCertificate(const std::string& dir);

class HttpTestServer {
 public:
  HttpTestServer();                                     // plain HTTP
  explicit HttpTestServer(const TestCertificate& tls);  // HTTPS with that certificate
  ~HttpTestServer();
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  // Binds and starts serving; returns false (after failing the test) if it cannot.
  bool Start();
  int port() const { return port_; }
  // "http://127.0.0.1:PORT/path" (https for a TLS server); `path` may omit the leading '/'.
  std::string url(const std::string& path) const;

  // Serves `body` at `path`, replacing what was there (the log is kept).
  void Serve(const std::string& path, std::string body, const HttpResource& options = {});
  void Serve(const std::string& path, std::shared_ptr<const std::string> body,
             const HttpResource& options = {});
  // Serves each regular file under `dir` at `url_prefix`/<relative path>, read now.
  void ServeDirectory(const std::string& url_prefix, const std::string& dir,
                      const HttpResource& options = {});

  // Number of requests received for `path` (any status, including 404).
  int requests(const std::string& path) const;
  // The requests received for `path`, in arrival order.
  std::vector<HttpRequestRecord> log(const std::string& path) const;

 private:
  struct Resource;
  struct Transfer;
  void Handle(const httplib::Request& req, httplib::Response& res);
  bool WriteBody(Transfer& t, size_t offset, size_t length, httplib::DataSink& sink);
  // Sleeps until `deadline` unless the server is stopping; returns false if it is.
  bool SleepUntil(std::chrono::steady_clock::time_point deadline);

  std::unique_ptr<httplib::Server> server_;
  bool tls_ = false;
  int port_ = 0;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable stopping_cv_;
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<const Resource>> resources_;
  std::map<std::string, std::vector<HttpRequestRecord>> log_;
};

}  // namespace logpipe::testing
