#include "io/status.h"

#include <cstdint>
#include <cstring>

namespace logpipe {

int ExitCodeFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 0;
    case StatusCode::kUsage: return 64;
    case StatusCode::kDataError: return 65;
    case StatusCode::kNoInput: return 66;
    case StatusCode::kUnavailable: return 69;
    case StatusCode::kInternal: return 70;
    case StatusCode::kCantCreate: return 73;
    case StatusCode::kIoError: return 74;
    case StatusCode::kTempFail: return 75;
    case StatusCode::kConfig: return 78;
    case StatusCode::kInterrupted: return 130;
    case StatusCode::kTerminated: return 143;
  }
  return 70;
}

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kUsage: return "usage error";
    case StatusCode::kDataError: return "bad input data";
    case StatusCode::kNoInput: return "missing input";
    case StatusCode::kUnavailable: return "service unavailable";
    case StatusCode::kInternal: return "internal error";
    case StatusCode::kCantCreate: return "cannot write output";
    case StatusCode::kIoError: return "I/O error";
    case StatusCode::kTempFail: return "temporary failure";
    case StatusCode::kConfig: return "configuration error";
    case StatusCode::kInterrupted: return "interrupted";
    case StatusCode::kTerminated: return "terminated";
  }
  return "unknown";
}

Status Status::WithPrefix(const std::string& prefix) const {
  if (ok()) return *this;
  return Status(code_, prefix + ": " + message_);
}

void Status::EncodeTo(std::string* out) const {
  uint32_t code = static_cast<uint32_t>(code_);
  uint32_t len = static_cast<uint32_t>(message_.size());
  out->append(reinterpret_cast<const char*>(&code), sizeof code);
  out->append(reinterpret_cast<const char*>(&len), sizeof len);
  out->append(message_);
}

bool Status::DecodeFrom(const std::string& bytes, Status* out) {
  uint32_t code = 0, len = 0;
  if (bytes.size() < 8) return false;
  std::memcpy(&code, bytes.data(), 4);
  std::memcpy(&len, bytes.data() + 4, 4);
  if (code > static_cast<uint32_t>(StatusCode::kTerminated) || bytes.size() != 8 + size_t{len}) {
    return false;
  }
  *out = Status(static_cast<StatusCode>(code), bytes.substr(8));
  return true;
}

}  // namespace logpipe
