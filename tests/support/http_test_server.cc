#include "tests/support/compress.h"
#include "tests/support/http_test_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string_view>

#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

namespace logpipe::testing {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kPieceBytes = 64 * 1024;  // largest write per provider call

std::string StrongEtag(std::string_view bytes) {
  char buf[32];
  snprintf(buf, sizeof buf, "\"%016zx\"", std::hash<std::string_view>{}(bytes));
  return buf;
}

std::string NormalizePath(const std::string& path) {
  return !path.empty() && path[0] == '/' ? path : "/" + path;
}

// Parses a single range "bytes=A-B", "bytes=A-" or "bytes=-S" into first and last
// (inclusive, last = -1 for open-ended, first = -1 for a suffix of S bytes). Multiple ranges
// and anything else give false (the server then ignores the header, as RFC 9110 allows).
bool ParseRange(const std::string& header, int64_t* first, int64_t* last) {
  const std::string prefix = "bytes=";
  if (header.compare(0, prefix.size(), prefix) != 0) return false;
  std::string spec = header.substr(prefix.size());
  size_t dash = spec.find('-');
  if (dash == std::string::npos || spec.find(',') != std::string::npos) return false;
  auto number = [](const std::string& s, int64_t* v) {
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    *v = std::stoll(s);
    return true;
  };
  std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  *first = -1;
  *last = -1;
  if (a.empty()) return number(b, last);  // suffix: `last` holds the length
  if (!number(a, first)) return false;
  if (!b.empty() && (!number(b, last) || *last < *first)) return false;
  return true;
}

// A short text body that httplib will not compress even if the client accepts gzip or br
// (it compresses set_content() bodies of text types, never length-known providers).
void SetTextBody(httplib::Response& res, std::string text) {
  auto s = std::make_shared<const std::string>(std::move(text));
  res.set_content_provider(s->size(), "text/plain",
                           [s](size_t offset, size_t length, httplib::DataSink& sink) {
                             return sink.write(s->data() + offset, length);
                           });
}

}  // namespace

struct HttpTestServer::Resource {
  std::shared_ptr<const std::string> bytes;  // as sent (gzip-compressed if asked)
  std::string etag;
  HttpResource options;
};

// One response body in flight: [start, end) of the resource's bytes.
struct HttpTestServer::Transfer {
  std::shared_ptr<const Resource> resource;
  size_t start = 0;
  int64_t drop_after = -1;
  int64_t stall_after = -1;
  bool stalled = false;
  Clock::time_point began;
};

HttpTestServer::HttpTestServer() : server_(std::make_unique<httplib::Server>()) {}

HttpTestServer::HttpTestServer(const TestCertificate& tls)
    : server_(std::make_unique<httplib::SSLServer>(tls.cert_pem.c_str(), tls.key_pem.c_str())),
      tls_(true) {}

HttpTestServer::~HttpTestServer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stopping_cv_.notify_all();
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

bool HttpTestServer::Start() {
  if (!server_->is_valid()) {
    ADD_FAILURE() << "HttpTestServer: invalid server (bad TLS certificate or key?)";
    return false;
  }
  // Short keep-alive so that stopping does not wait long for idle client connections.
  server_->set_keep_alive_timeout(1);
  server_->set_keep_alive_max_count(100);
  server_->Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
    Handle(req, res);
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) {
    ADD_FAILURE() << "HttpTestServer: cannot bind 127.0.0.1";
    return false;
  }
  // The socket already listens (connections queue in the backlog); wait for the accept loop
  // so that stop() in the destructor cannot come before it.
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!server_->is_running()) {
    if (Clock::now() > deadline) {
      ADD_FAILURE() << "HttpTestServer: accept loop did not start";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

std::string HttpTestServer::url(const std::string& path) const {
  return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_) +
         NormalizePath(path);
}

void HttpTestServer::Serve(const std::string& path, std::string body,
                           const HttpResource& options) {
  Serve(path, std::make_shared<const std::string>(std::move(body)), options);
}

void HttpTestServer::Serve(const std::string& path, std::shared_ptr<const std::string> body,
                           const HttpResource& options) {
  auto r = std::make_shared<Resource>();
  r->bytes = options.content_encoding_gzip ? std::make_shared<const std::string>(Gzip(*body))
                                           : std::move(body);
  r->etag = StrongEtag(*r->bytes);
  r->options = options;
  std::lock_guard<std::mutex> lock(mu_);
  resources_[NormalizePath(path)] = std::move(r);
}

void HttpTestServer::ServeDirectory(const std::string& url_prefix, const std::string& dir,
                                    const HttpResource& options) {
  namespace fs = std::filesystem;
  std::string prefix = NormalizePath(url_prefix);
  if (prefix.back() != '/') prefix += '/';
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    Serve(prefix + fs::relative(entry.path(), dir).generic_string(), ReadFile(entry.path()),
          options);
  }
}

int HttpTestServer::requests(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = log_.find(NormalizePath(path));
  return it == log_.end() ? 0 : static_cast<int>(it->second.size());
}

std::vector<HttpRequestRecord> HttpTestServer::log(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = log_.find(NormalizePath(path));
  return it == log_.end() ? std::vector<HttpRequestRecord>{} : it->second;
}

bool HttpTestServer::SleepUntil(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return !stopping_cv_.wait_until(lock, deadline, [this] { return stopping_; });
}

void HttpTestServer::Handle(const httplib::Request& req, httplib::Response& res) {
  // httplib applies req.ranges to the body by itself; the request object is ours (not const
  // in httplib), so we keep there exactly the range we decide to honour, or none.
  httplib::Ranges& ranges = const_cast<httplib::Request&>(req).ranges;
  ranges.clear();

  HttpRequestRecord record;
  record.method = req.method;
  record.path = req.path;
  record.range = req.get_header_value("Range");
  record.if_range = req.get_header_value("If-Range");
  int64_t first = -1, last = -1;
  const bool range_ok = ParseRange(record.range, &first, &last);
  if (range_ok) record.range_start = first;

  std::shared_ptr<const Resource> r;
  size_t n;  // this request's number for its path
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = resources_.find(req.path);
    if (it != resources_.end()) r = it->second;
    n = log_[req.path].size() + 1;
  }
  const size_t size = r ? r->bytes->size() : 0;
  enum class Kind { kNotFound, kFail, kRedirect, kBody } kind;
  std::string etag;
  size_t start = 0, end = size;  // a body is bytes [start, end)
  int status = 200;
  if (!r) {
    kind = Kind::kNotFound;
    status = 404;
  } else if (n <= static_cast<size_t>(std::max(r->options.fail_first_n, 0))) {
    kind = Kind::kFail;
    status = r->options.fail_status;
  } else if (!r->options.redirect_to.empty()) {
    kind = Kind::kRedirect;
    status = r->options.redirect_status;
  } else {
    kind = Kind::kBody;
    if (r->options.ranges) {
      etag = r->options.etag_changes
                 ? r->etag.substr(0, r->etag.size() - 1) + "-" + std::to_string(n) + "\""
                 : r->etag;
      if (range_ok && (record.if_range.empty() || record.if_range == etag)) {
        if (first < 0) {  // suffix range
          start = size - std::min<size_t>(size, static_cast<size_t>(last));
        } else {
          start = static_cast<size_t>(first);
          if (last >= 0) end = std::min<size_t>(size, static_cast<size_t>(last) + 1);
        }
        status = start < end ? 206 : 416;
      }
    }
  }
  record.status = status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    log_[req.path].push_back(record);
  }

  if (r && r->options.latency_ms > 0 &&
      !SleepUntil(Clock::now() + std::chrono::milliseconds(r->options.latency_ms))) {
    kind = Kind::kFail;  // stopping
    status = 503;
  }
  res.status = status;
  switch (kind) {
    case Kind::kNotFound:
      SetTextBody(res, "not found\n");
      return;
    case Kind::kRedirect:
      res.set_redirect(url(r->options.redirect_to), status);
      return;
    case Kind::kFail:
      if (r->options.retry_after_seconds >= 0) {
        res.set_header("Retry-After", std::to_string(r->options.retry_after_seconds));
      }
      SetTextBody(res, "injected failure " + std::to_string(status) + "\n");
      return;
    case Kind::kBody:
      break;
  }

  if (r->options.ranges) {
    res.set_header("Accept-Ranges", "bytes");
    res.set_header("ETag", etag);
  }
  if (r->options.content_encoding_gzip) res.set_header("Content-Encoding", "gzip");
  if (status == 416) {
    res.set_header("Content-Range", "bytes */" + std::to_string(size));
    return;
  }
  if (status == 206) {  // httplib adds Content-Range and sends [start, end) of the provider
    ranges.emplace_back(static_cast<ssize_t>(start), static_cast<ssize_t>(end - 1));
  }
  if (size == 0) {
    res.set_content("", "application/octet-stream");
    return;
  }
  auto t = std::make_shared<Transfer>();
  t->resource = r;
  t->start = start;
  if (n <= static_cast<size_t>(std::max(r->options.drop_first_n, 0))) {
    t->drop_after = r->options.drop_after_bytes;
  }
  if (n <= static_cast<size_t>(std::max(r->options.stall_first_n, 0))) {
    t->stall_after = r->options.stall_after_bytes;
  }
  t->began = Clock::now();
  res.set_content_provider(
      size, "application/octet-stream",
      [this, t](size_t offset, size_t length, httplib::DataSink& sink) {
        return WriteBody(*t, offset, length, sink);
      });
}

// Writes the next piece of the body at `offset` (an offset into the resource's bytes);
// returning false makes httplib close the connection.
bool HttpTestServer::WriteBody(Transfer& t, size_t offset, size_t length,
                               httplib::DataSink& sink) {
  const HttpResource& o = t.resource->options;
  const int64_t sent = static_cast<int64_t>(offset - t.start);  // body bytes already sent
  int64_t n = static_cast<int64_t>(std::min(length, kPieceBytes));
  if (o.bytes_per_second > 0) {
    n = std::min(n, std::max<int64_t>(1, o.bytes_per_second / 50));  // ~20 ms pieces
  }
  if (t.drop_after >= 0) {
    if (sent >= t.drop_after) return false;
    n = std::min(n, t.drop_after - sent);
  }
  if (t.stall_after >= 0 && !t.stalled) {
    if (sent >= t.stall_after) {
      t.stalled = true;
      if (!SleepUntil(Clock::now() + std::chrono::milliseconds(o.stall_ms))) return false;
      if (o.stall_then_close) return false;
    } else {
      n = std::min(n, t.stall_after - sent);
    }
  }
  if (o.bytes_per_second > 0) {  // byte `sent` is due at began + sent / rate
    auto due = t.began + std::chrono::microseconds(sent * 1000000 / o.bytes_per_second);
    if (!SleepUntil(due)) return false;
  }
  return sink.write(t.resource->bytes->data() + offset, static_cast<size_t>(n));
}

TestCertificate MakeTestCertificate(const std::string& dir) {
  const std::string openssl = "/usr/bin/openssl";
  TestCertificate c{dir + "/ca.pem", dir + "/cert.pem", dir + "/key.pem"};
  const std::string ca_key = dir + "/ca.key", csr = dir + "/server.csr", ext = dir + "/ext.cnf";
  {
    FILE* f = fopen(ext.c_str(), "w");
    if (f == nullptr) {
      ADD_FAILURE() << "cannot write " << ext;
      return {};
    }
    fputs("subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
          "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
          f);
    fclose(f);
  }
  const std::vector<std::vector<std::string>> steps = {
      {openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", ca_key, "-out", c.ca_pem, "-days", "2", "-subj",
       "/CN=logpipe test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
       "keyUsage=critical,keyCertSign,cRLSign"},
      {openssl, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", c.key_pem, "-out", csr, "-subj", "/CN=127.0.0.1"},
      {openssl, "x509", "-req", "-in", csr, "-CA", c.ca_pem, "-CAkey", ca_key,
       "-CAcreateserial", "-out", c.cert_pem, "-days", "2", "-extfile", ext},
  };
  for (const auto& argv : steps) {
    CommandResult r = RunCommand(argv);
    if (r.exit_code != 0) {
      ADD_FAILURE() << "openssl " << argv[1] << " failed (" << r.exit_code << "): " << r.err;
      return {};
    }
  }
  return c;
}

}  // namespace logpipe::testing
