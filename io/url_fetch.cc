#include "io/url_fetch.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <random>
#include <utility>

namespace logpipe {
namespace {

using Clock = std::chrono::steady_clock;

void GlobalInitOnce() {
  // A function-local static is initialised once, thread-safely.
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)init;
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ' ||
                        s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Failures worth another attempt: the network or the server may do better next time.
bool IsTransient(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool IsTransientStatus(long code) {
  return code == 408 || code == 429 || code == 500 || code == 502 || code == 503 || code == 504;
}

std::string Plural(long n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

bool IsUrl(std::string_view input) {
  return StartsWithNoCase(input, "http://") || StartsWithNoCase(input, "https://");
}

// ---- waking a loop from other threads

// The multi handle lives as long as the loop or any waker: waking a loop that is gone pokes an
// idle handle, which is harmless (curl_multi_wakeup may be called from any thread).
struct FetchLoop::Multi {
  Multi() : handle(curl_multi_init()) {}
  ~Multi() { curl_multi_cleanup(handle); }
  CURLM* handle;
};

class FetchLoop::Waker : public FetchWaker {
 public:
  explicit Waker(std::shared_ptr<Multi> multi) : multi_(std::move(multi)) {}
  void Wakeup() override { curl_multi_wakeup(multi_->handle); }

 private:
  std::shared_ptr<Multi> multi_;
};

// ---- one URL's download, over as many attempts as it takes

class FetchLoop::Transfer {
 public:
  enum class Outcome { kDone, kRetry };

  Transfer(std::string url, UrlOptions options, std::shared_ptr<FetchSink> buffer)
      : url_(std::move(url)),
        options_(std::move(options)),
        buffer_(std::move(buffer)),
        easy_(curl_easy_init()),
        rng_(std::random_device{}()) {
    curl_easy_setopt(easy_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(easy_, CURLOPT_PRIVATE, this);
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_USERAGENT, "logpipe");
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, errbuf_);
    curl_easy_setopt(easy_, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy_, CURLOPT_MAXREDIRS, static_cast<long>(options_.max_redirects));
    curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy_, CURLOPT_BUFFERSIZE, 256L << 10);
    curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
    curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_ms));
    // The low-speed limit is checked by the loop (CheckSpeed), not with CURLOPT_LOW_SPEED_*:
    // libcurl averages the speed over the last ~5 s, so it noticed a stall only about 5 s
    // after low_speed_time, and it cannot leave out the time a serial reader spends away.
    curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYPEER, options_.tls_verify ? 1L : 0L);
    curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYHOST, options_.tls_verify ? 2L : 0L);
    if (!options_.ca_file.empty()) curl_easy_setopt(easy_, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
    curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &Transfer::OnBody);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
  }

  ~Transfer() {
    curl_easy_cleanup(easy_);
    curl_slist_free_all(headers_);
  }

  CURL* easy() const { return easy_; }
  FetchSink& buffer() { return *buffer_; }

  // Sets up the next attempt: a Range request when part of the body is already delivered
  // and the server said it can resume it safely.
  void StartAttempt() {
    ++attempts_;
    body_started_ = false;
    skip_ = 0;
    paused = false;
    ResetSpeedWindow();
    errbuf_[0] = '\0';
    response_ = {};
    curl_slist_free_all(headers_);
    headers_ = nullptr;
    for (const auto& header : options_.headers) headers_ = curl_slist_append(headers_, header.c_str());
    std::string validator = etag_.rfind("W/", 0) == 0 ? last_modified_ : etag_;
    if (validator.empty()) validator = last_modified_;
    ranged_ = delivered_ > 0 && accept_ranges_ && !validator.empty();
    if (ranged_) {
      const std::string range = std::to_string(delivered_) + "-";
      curl_easy_setopt(easy_, CURLOPT_RANGE, range.c_str());  // curl copies the string
      headers_ = curl_slist_append(headers_, ("If-Range: " + validator).c_str());
    } else {
      curl_easy_setopt(easy_, CURLOPT_RANGE, nullptr);
    }
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
  }

  // Decides what an ended attempt means. On kDone the buffer is closed (or was cancelled).
  Outcome Finish(CURLcode rc) {
    if (buffer_->cancelled()) return Outcome::kDone;
    if (!failure_.ok()) {
      buffer_->Close(failure_);
      return Outcome::kDone;
    }
    long code = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK && code >= 200 && code < 300) {
      if (skip_ > 0) {
        buffer_->Close(DataError(url_ + ": the body sent on attempt " +
                                 std::to_string(attempts_) + " is shorter than the " +
                                 std::to_string(delivered_) +
                                 " bytes already read: it changed during the download; run "
                                 "again"));
      } else {
        buffer_->Close(Status::Ok());
      }
      return Outcome::kDone;
    }
    std::string reason;
    bool transient;
    if (rc != CURLE_OK) {
      reason = curl_easy_strerror(rc);
      if (errbuf_[0] != '\0') reason += std::string(" (") + errbuf_ + ")";
      transient = IsTransient(rc);
    } else {
      reason = "HTTP " + std::to_string(code);
      if (!response_.reason.empty()) reason += " " + response_.reason;
      transient = IsTransientStatus(code);
    }
    if (transient && attempts_ <= options_.retries) {
      int64_t delay = Backoff();
      if (response_.retry_after_ms >= 0) {
        if (response_.retry_after_ms > options_.max_retry_delay_ms) {
          buffer_->Close(UnavailableError(
              url_ + ": " + reason + ", and the server asks to retry after " +
              std::to_string(response_.retry_after_ms / 1000) + " s, longer than max_retry_delay (" +
              std::to_string(options_.max_retry_delay_ms / 1000) +
              " s); try later or raise max_retry_delay"));
          return Outcome::kDone;
        }
        delay = std::max(delay, response_.retry_after_ms);
      }
      retry_at = Clock::now() + std::chrono::milliseconds(delay);
      return Outcome::kRetry;
    }
    std::string hint;
    if (transient) {
      hint = "the server or the network kept failing: try again later, raise 'retries', or "
             "set on_fetch_error: skip";
    } else if (rc == CURLE_OK) {
      hint = "check the URL and the request headers (HTTP " + std::to_string(code) +
             " is not retried)";
    } else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
               rc == CURLE_SSL_CERTPROBLEM) {
      hint = "the server's TLS certificate could not be verified: set ca_file to the CA that "
             "signed it";
    } else if (rc == CURLE_TOO_MANY_REDIRECTS) {
      hint = "fix the redirect loop or raise max_redirects (" +
             std::to_string(options_.max_redirects) + ")";
    } else if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
      hint = "only http and https URLs (and redirects) are followed";
    } else {
      hint = "check the URL";
    }
    buffer_->Close(UnavailableError(url_ + ": " + reason + ", after " +
                                    Plural(attempts_, "attempt") + "; " + hint));
    return Outcome::kDone;
  }

  // The low-speed check. The loop calls it after each poll with the time it spent driving
  // this transfer while not paused; true when a full window of low_speed_time received
  // less than low_speed_bytes per second (the attempt then ends as a timeout). A window
  // that already holds a whole window's worth of bytes starts over, so a stall is noticed
  // low_speed_time after the bytes stopped, not up to twice that.
  bool TooSlow(Clock::duration driven) {
    if (options_.low_speed_time_ms <= 0) return false;
    if (static_cast<int64_t>(speed_bytes_) * 1000 >=
        options_.low_speed_bytes * options_.low_speed_time_ms) {
      ResetSpeedWindow();
      return false;
    }
    speed_window_ += driven;
    const int64_t window_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(speed_window_).count();
    if (window_ms < options_.low_speed_time_ms) return false;
    const bool slow = static_cast<int64_t>(speed_bytes_) * 1000 <
                      options_.low_speed_bytes * window_ms;
    if (slow) {
      std::snprintf(errbuf_, sizeof errbuf_,
                    "less than %lld bytes/s for %lld ms: low_speed_limit, low_speed_time",
                    static_cast<long long>(options_.low_speed_bytes),
                    static_cast<long long>(window_ms));
    }
    ResetSpeedWindow();
    return slow;
  }
  // Time until the current low-speed window is complete (for the loop's poll timeout).
  Clock::duration SpeedWindowLeft() const {
    if (options_.low_speed_time_ms <= 0) return Clock::duration::max();
    return std::max<Clock::duration>(
        std::chrono::milliseconds(options_.low_speed_time_ms) - speed_window_,
        Clock::duration::zero());
  }
  void ResetSpeedWindow() {
    speed_window_ = Clock::duration::zero();
    speed_bytes_ = 0;
  }

  bool paused = false;     // the body callback paused the transfer (buffer full)
  bool in_multi = false;   // added to the multi handle (else waiting to retry)
  Clock::time_point retry_at;

 private:
  struct Response {  // headers of the latest response of this attempt
    std::string reason;
    std::string etag;
    std::string last_modified;
    bool accept_ranges = false;
    int64_t retry_after_ms = -1;
    bool has_content_range = false;
    uint64_t content_range_start = 0;
  };

  int64_t Backoff() {
    int64_t delay = options_.retry_delay_ms;
    for (int i = 1; i < attempts_ && delay < options_.max_retry_delay_ms; ++i) delay *= 2;
    delay = std::min(delay, options_.max_retry_delay_ms);
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return static_cast<int64_t>(static_cast<double>(delay) * jitter(rng_));
  }

  static int64_t ParseRetryAfter(std::string_view value) {
    int64_t seconds = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc() && p == value.data() + value.size()) return std::max<int64_t>(seconds, 0) * 1000;
    const std::string date(value);
    const time_t when = curl_getdate(date.c_str(), nullptr);
    if (when < 0) return -1;
    return std::max<int64_t>(0, static_cast<int64_t>(when - std::time(nullptr))) * 1000;
  }

  static size_t OnHeader(char* data, size_t size, size_t count, void* self_ptr) {
    auto* self = static_cast<Transfer*>(self_ptr);
    const size_t n = size * count;
    std::string_view line(data, n);
    if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a redirect or 100 Continue)
      self->response_ = {};
      const size_t code_end = line.find(' ', line.find(' ') + 1);
      if (code_end != std::string_view::npos) self->response_.reason = Trim(line.substr(code_end + 1));
      return n;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return n;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = Trim(line.substr(colon + 1));
    auto is = [&](std::string_view want) {
      return name.size() == want.size() && StartsWithNoCase(name, want);
    };
    Response& r = self->response_;
    if (is("etag")) {
      r.etag = value;
    } else if (is("last-modified")) {
      r.last_modified = value;
    } else if (is("accept-ranges")) {
      r.accept_ranges = value == "bytes";
    } else if (is("retry-after")) {
      r.retry_after_ms = ParseRetryAfter(value);
    } else if (is("content-range")) {  // "bytes START-END/TOTAL"
      std::string_view rest = value;
      if (StartsWithNoCase(rest, "bytes ")) rest.remove_prefix(6);
      uint64_t start = 0;
      auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), start);
      if (ec == std::errc() && p != rest.data() + rest.size() && *p == '-') {
        r.has_content_range = true;
        r.content_range_start = start;
      }
    }
    return n;
  }

  // The first body bytes of an attempt: checks a resumed response lines up with what was
  // delivered. Returns false (and sets failure_) when it cannot be used.
  bool BeginBody(long code) {
    body_started_ = true;
    status_ok_ = code >= 200 && code < 300;
    if (!status_ok_) return true;  // an error page: dropped, then retried or reported
    if (code == 206) {
      if (!ranged_ || !response_.has_content_range ||
          response_.content_range_start != delivered_) {
        failure_ = DataError(url_ + ": the server resumed the download at the wrong place (" +
                             "expected byte " + std::to_string(delivered_) + "); run again");
        return false;
      }
      return true;
    }
    if (delivered_ > 0) {  // the whole body again: skip what was delivered, if it is the same
      const bool etag_changed = !etag_.empty() && response_.etag != etag_;
      const bool date_changed = etag_.empty() && !last_modified_.empty() &&
                                response_.last_modified != last_modified_;
      if (etag_changed || date_changed) {
        failure_ = DataError(url_ + ": the file changed on the server during the download (" +
                             (etag_changed ? "ETag " + etag_ + " became " + response_.etag
                                           : "Last-Modified " + last_modified_ + " became " +
                                                 response_.last_modified) +
                             ") after " + std::to_string(delivered_) + " bytes; run again");
        return false;
      }
      skip_ = delivered_;
      return true;
    }
    etag_ = response_.etag;
    last_modified_ = response_.last_modified;
    accept_ranges_ = response_.accept_ranges;
    return true;
  }

  static size_t OnBody(char* data, size_t size, size_t count, void* self_ptr) {
    auto* self = static_cast<Transfer*>(self_ptr);
    const size_t n = size * count;
    if (self->buffer_->cancelled()) return 0;  // aborts the transfer
    if (!self->body_started_) {
      long code = 0;
      curl_easy_getinfo(self->easy_, CURLINFO_RESPONSE_CODE, &code);
      if (!self->BeginBody(code)) return 0;
    }
    self->speed_bytes_ += n;  // taken now (paused pieces are counted when taken)
    if (!self->status_ok_) return n;
    const size_t skipped = static_cast<size_t>(std::min<uint64_t>(self->skip_, n));
    if (skipped == n) {
      self->skip_ -= skipped;
      return n;
    }
    if (!self->buffer_->TryWrite(data + skipped, n - skipped)) {
      self->speed_bytes_ -= n;
      self->paused = true;
      return CURL_WRITEFUNC_PAUSE;  // curl offers the same bytes again after unpausing
    }
    self->skip_ -= skipped;
    self->delivered_ += n - skipped;
    return n;
  }

  const std::string url_;
  const UrlOptions options_;
  std::shared_ptr<FetchSink> buffer_;
  CURL* easy_;
  curl_slist* headers_ = nullptr;
  char errbuf_[CURL_ERROR_SIZE] = {};
  std::mt19937_64 rng_;

  long attempts_ = 0;
  uint64_t delivered_ = 0;  // body bytes passed to the buffer, over all attempts
  // Validators of the response the delivered bytes came from.
  std::string etag_;
  std::string last_modified_;
  bool accept_ranges_ = false;
  // This attempt.
  Response response_;
  bool ranged_ = false;        // sent a Range request
  bool body_started_ = false;
  bool status_ok_ = false;     // its status is 2xx
  uint64_t skip_ = 0;          // body bytes still to drop (delivered by an earlier attempt)
  Status failure_;             // set by the body callback; ends the transfer
  Clock::duration speed_window_{};  // time driven (not paused) in the low-speed window
  uint64_t speed_bytes_ = 0;        // bytes received in that window
};

// ---- a sink for a reader in the loop's thread

bool FetchBuffer::TryWrite(const char* data, size_t n) {
  if (cancelled_) return true;
  if (size() >= capacity_) return false;
  if (head_ > 0 && head_ >= bytes_.size() / 2) {  // compact: keep the buffer near capacity
    bytes_.erase(0, head_);
    head_ = 0;
  }
  bytes_.append(data, n);
  return true;
}

void FetchBuffer::Close(Status status) {
  if (closed_) return;
  closed_ = true;
  status_ = std::move(status);
}

size_t FetchBuffer::Take(char* buf, size_t n) {
  const size_t take = std::min(n, size());
  std::memcpy(buf, bytes_.data() + head_, take);
  head_ += take;
  if (head_ == bytes_.size()) {
    bytes_.clear();
    head_ = 0;
  }
  return take;
}

void FetchBuffer::Cancel() {
  cancelled_ = true;
  bytes_.clear();
  head_ = 0;
}

// ---- the loop

FetchLoop::FetchLoop() {
  GlobalInitOnce();
  multi_ = std::make_shared<Multi>();
  waker_ = std::make_shared<Waker>(multi_);
}

FetchLoop::~FetchLoop() {
  for (auto& t : transfers_) {
    if (t->in_multi) curl_multi_remove_handle(multi_->handle, t->easy());
    t->buffer().Close(UnavailableError("the download was stopped before it finished"));
  }
  transfers_.clear();  // the handle itself goes with the last waker
}

void FetchLoop::Add(const std::string& url, const UrlOptions& options,
                    std::shared_ptr<FetchSink> buffer) {
  std::shared_ptr<Waker> waker = waker_;
  buffer->set_on_room([waker] { waker->Wakeup(); });
  auto transfer = std::make_unique<Transfer>(url, options, std::move(buffer));
  transfer->StartAttempt();
  curl_multi_add_handle(multi_->handle, transfer->easy());
  transfer->in_multi = true;
  transfers_.push_back(std::move(transfer));
}

size_t FetchLoop::active() const { return transfers_.size(); }

std::shared_ptr<FetchWaker> FetchLoop::waker() const { return waker_; }

void FetchLoop::Pump(int max_wait_ms) {
  CURLM* multi = multi_->handle;
  const Clock::time_point now = Clock::now();
  int wait_ms = std::max(max_wait_ms, 0);
  // A transfer waiting to retry for a reader that is gone just ends.
  transfers_.erase(std::remove_if(transfers_.begin(), transfers_.end(),
                                  [](const auto& t) {
                                    return !t->in_multi && t->buffer().cancelled();
                                  }),
                   transfers_.end());
  for (auto& t : transfers_) {
    if (t->in_multi) {
      if (t->paused && t->buffer().has_room()) {
        t->paused = false;
        t->ResetSpeedWindow();  // paused time is not slowness
        curl_easy_pause(t->easy(), CURLPAUSE_CONT);  // may deliver (and pause) at once
      }
    } else if (now >= t->retry_at) {
      t->StartAttempt();
      curl_multi_add_handle(multi, t->easy());
      t->in_multi = true;
      wait_ms = 0;
    } else {
      const auto until = std::chrono::ceil<std::chrono::milliseconds>(t->retry_at - now);
      wait_ms = std::min<int>(wait_ms, static_cast<int>(until.count()));
    }
  }
  for (auto& t : transfers_) {
    if (t->in_multi && !t->paused) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(t->SpeedWindowLeft());
      if (left.count() < wait_ms) wait_ms = static_cast<int>(left.count());
    }
  }
  const Clock::time_point poll_start = Clock::now();
  curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
  int running = 0;
  curl_multi_perform(multi, &running);
  const Clock::duration driven = Clock::now() - poll_start;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    const CURLcode rc = msg->data.result;
    Transfer* t = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
    curl_multi_remove_handle(multi, easy);
    t->in_multi = false;
    if (t->Finish(rc) == Transfer::Outcome::kDone) {
      transfers_.erase(std::find_if(transfers_.begin(), transfers_.end(),
                                    [t](const auto& p) { return p.get() == t; }));
    }
  }
  // Transfers too slow over a whole low_speed_time window end as timeouts (and are retried).
  // Only time spent here counts: a serial reader busy elsewhere is backpressure, not a stall.
  std::vector<Transfer*> slow;
  for (auto& t : transfers_) {
    if (t->in_multi && !t->paused && t->TooSlow(driven)) slow.push_back(t.get());
  }
  for (Transfer* t : slow) {
    curl_multi_remove_handle(multi, t->easy());
    t->in_multi = false;
    if (t->Finish(CURLE_OPERATION_TIMEDOUT) == Transfer::Outcome::kDone) {
      transfers_.erase(std::find_if(transfers_.begin(), transfers_.end(),
                                    [t](const auto& p) { return p.get() == t; }));
    }
  }
}

// ---- the serial model

namespace {

class UrlSource : public ByteSource {
 public:
  UrlSource(const std::string& url, const UrlOptions& options, size_t buffer_bytes)
      : name_(url), buffer_(std::make_shared<FetchBuffer>(buffer_bytes)) {
    loop_.Add(url, options, buffer_);
  }
  ~UrlSource() override { buffer_->Cancel(); }

  // Drives the download in this thread until bytes arrive or it ends.
  Result<size_t> Read(char* buf, size_t n) override {
    if (n == 0) return size_t{0};
    while (buffer_->size() == 0 && !buffer_->closed()) loop_.Pump(/*max_wait_ms=*/200);
    if (buffer_->size() > 0) return buffer_->Take(buf, n);
    if (!buffer_->status().ok()) return buffer_->status();
    return size_t{0};
  }
  const std::string& name() const override { return name_; }

 private:
  std::string name_;
  FetchLoop loop_;
  std::shared_ptr<FetchBuffer> buffer_;
};

}  // namespace

std::unique_ptr<ByteSource> OpenUrl(const std::string& url, const UrlOptions& options,
                                    size_t buffer_bytes) {
  return std::make_unique<UrlSource>(url, options, buffer_bytes);
}

}  // namespace logpipe
