#pragma once
// TimeFormat parses timestamps in log lines into milliseconds since the Unix epoch (UTC), and
// FormatIsoTime prints them back in one fixed form for outputs.
//
// Formats are strftime-style: %Y %m %d %e %H %M %S %b (English month abbreviation, any case)
// %j? no. Supported: %Y %m %d %e %H %M %S %f (fraction of a second, 1-9 digits, kept to ms)
// %b %z (+hhmm, +hh:mm or Z) %T (= %H:%M:%S) %F (= %Y-%m-%d) %% and literal bytes. Without %z
// a time is taken as UTC. The special formats "epoch" (seconds, may have a fraction) and
// "epoch_ms" (integer milliseconds) read numbers. "iso8601" accepts 2015-05-17T10:05:03Z,
// with optional fraction, 'T' or ' ' separator and Z or an offset.
// Thread-safety: immutable after Compile; Parse is const and allocation-free.
// Errors: Compile returns kConfig quoting the format for an unknown % directive.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/status.h"

namespace logpipe {

class TimeFormat {
 public:
  static Result<TimeFormat> Compile(const std::string& format);

  // Parses the whole of `text`. Returns false (no exception, no allocation) when it does not
  // fit the format or names an impossible date.
  bool Parse(std::string_view text, int64_t* epoch_ms) const;

  const std::string& format() const { return format_; }

 private:
  struct Step;  // one directive or literal
  std::string format_;
  std::vector<Step> steps_;  // defined in time_format.cc
  int mode_ = 0;             // 0: steps_, 1: epoch, 2: epoch_ms, 3: iso8601
 public:
  TimeFormat();
  ~TimeFormat();
  TimeFormat(const TimeFormat&);
  TimeFormat& operator=(const TimeFormat&);
  TimeFormat(TimeFormat&&) noexcept;
  TimeFormat& operator=(TimeFormat&&) noexcept;
};

// 1431857103000 -> "2015-05-17T10:05:03Z"; with a non-zero millisecond part
// "2015-05-17T10:05:03.250Z". Appends to `out`.
void AppendIsoTime(int64_t epoch_ms, std::string* out);

// Parses a duration such as "500ms", "5s", "5m", "1h", "1d" into milliseconds; false if not one.
bool ParseDurationMs(std::string_view text, int64_t* ms);

}  // namespace logpipe
