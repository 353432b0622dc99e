#include "stages/event_start.h"

#include <re2/re2.h>

namespace logpipe {

EventStart::~EventStart() = default;

Result<std::unique_ptr<EventStart>> EventStart::Create(const std::string& regex,
                                                       bool matches_start, bool utf8) {
  re2::RE2::Options options;
  options.set_encoding(utf8 ? re2::RE2::Options::EncodingUTF8 : re2::RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  options.set_never_capture(true);
  std::unique_ptr<EventStart> out(new EventStart());
  out->re_ = std::make_unique<re2::RE2>(regex, options);
  if (!out->re_->ok()) {
    return ConfigError("invalid regex '" + regex + "': " + out->re_->error());
  }
  out->matches_start_ = matches_start;
  return out;
}

bool EventStart::StartsEvent(std::string_view line) const {
  const bool found = re_->Match(re2::StringPiece(line.data(), line.size()), 0, line.size(),
                                re2::RE2::UNANCHORED, nullptr, 0);
  return found == matches_start_;
}

}  // namespace logpipe
