#pragma once
// Status and Result<T>: how every logpipe function reports failure.
//
// Exceptions never cross a layer: third-party code that throws (yaml-cpp, Boost, filesystem)
// is wrapped in one adapter that returns a Status. A Status encodes to bytes so forked shards
// can send their outcome back, and its code maps 1:1 onto the process exit codes (sysexits,
// and the shell's 128 + signal for a run stopped by a signal) documented in the README.
// Thread-safety: values; copy freely.
// Errors: the message names the thing and the place ("a.log.gz: truncated gzip at byte 10")
//   and, where it helps, what to do.

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace logpipe {

enum class StatusCode {
  kOk = 0,
  kUsage,        // bad command line                         -> exit 64 (EX_USAGE)
  kDataError,    // bad input data with on_mismatch: fail    -> exit 65 (EX_DATAERR)
  kNoInput,      // input missing or unreadable              -> exit 66 (EX_NOINPUT)
  kUnavailable,  // network service unavailable              -> exit 69 (EX_UNAVAILABLE)
  kInternal,     // a bug                                    -> exit 70 (EX_SOFTWARE)
  kCantCreate,   // cannot write an output                   -> exit 73 (EX_CANTCREAT)
  kIoError,      // read/write failure mid-run               -> exit 74 (EX_IOERR)
  kTempFail,     // try again later (lock held, timeout)     -> exit 75 (EX_TEMPFAIL)
  kConfig,       // bad configuration                        -> exit 78 (EX_CONFIG)
  kInterrupted,  // stopped by SIGINT (Ctrl-C)                -> exit 130 (128 + SIGINT)
  kTerminated,   // stopped by SIGTERM (kill, systemd stop)   -> exit 143 (128 + SIGTERM)
};

// The process exit code for `code` (sysexits.h values; 0 for kOk; 130 and 143 as a shell
// reports a process killed by SIGINT or SIGTERM).
int ExitCodeFor(StatusCode code);
// "usage", "data error", ... for messages and reports.
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  int exit_code() const { return ExitCodeFor(code_); }

  // Returns a copy whose message is "`prefix`: message".
  Status WithPrefix(const std::string& prefix) const;

  // Byte encoding for sending across a process boundary.
  void EncodeTo(std::string* out) const;
  static bool DecodeFrom(const std::string& bytes, Status* out);

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status UsageError(std::string m) { return Status(StatusCode::kUsage, std::move(m)); }
inline Status DataError(std::string m) { return Status(StatusCode::kDataError, std::move(m)); }
inline Status NoInputError(std::string m) { return Status(StatusCode::kNoInput, std::move(m)); }
inline Status InternalError(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }
inline Status UnavailableError(std::string m) {
  return Status(StatusCode::kUnavailable, std::move(m));
}
inline Status CantCreateError(std::string m) {
  return Status(StatusCode::kCantCreate, std::move(m));
}
inline Status IoError(std::string m) { return Status(StatusCode::kIoError, std::move(m)); }
inline Status ConfigError(std::string m) { return Status(StatusCode::kConfig, std::move(m)); }

// Result<T> holds either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok());
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace logpipe

// Returns early from the enclosing function if `expr` is a non-OK Status.
#define LOGPIPE_RETURN_IF_ERROR(expr)        \
  do {                                       \
    ::logpipe::Status _st = (expr);          \
    if (!_st.ok()) return _st;               \
  } while (0)
