#pragma once
// TimeFormat parses timestamps in log lines into milliseconds since the Unix epoch (UTC), and
// AppendIsoTime prints them back in one fixed form for outputs.
//
// Formats are strftime-style. Directives:
//   %Y  year, exactly 4 digits           %m  month, 1-2 digits (01-12)
//   %d  day, 1-2 digits                  %e  day, space-padded (" 7"), or 1-2 digits
//   %H  hour 00-23, 1-2 digits           %M  minute 00-59, 1-2 digits
//   %S  second 00-60, 1-2 digits (a leap second 60 rolls into the next minute)
//   %f  fraction of a second, 1-9 digits, truncated to milliseconds
//   %b  English month abbreviation (Jan..Dec), any case
//   %z  UTC offset: +hhmm, -hhmm, +hh:mm, -hh:mm or Z
//   %T  = %H:%M:%S    %F = %Y-%m-%d    %%  a literal '%'
// Any other byte must appear as it is. Without %z a time is taken as UTC. A format must
// hold a whole date (%Y, %m or %b, %d or %e): syslog's "%b %e %H:%M:%S" has no year, and
// guessing one (1970, or the current year) would give wrong or run-dependent results, so
// Compile rejects it; keep such a field a string.
// Special formats: "epoch" (seconds, optional '-', optional fraction, kept to ms),
// "epoch_ms" (integer milliseconds), "iso8601" (2015-05-17T10:05:03Z: 'T', 't' or ' ' between
// date and time, optional fraction, optional Z or offset; no offset means UTC).
// Parse rejects impossible dates (31/Feb, 29/Feb/2015, month 13, hour 24).
// Thread-safety: immutable after Compile; Parse is const and allocation-free.
// Errors: Compile returns kConfig quoting the format for an unknown % directive, a trailing
//   '%', or a format without a whole date.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/status.h"

namespace logpipe {

class TimeFormat {
 public:
  static Result<TimeFormat> Compile(const std::string& format);

  // An empty format: Parse accepts nothing but "" (and then fails: no date). Use Compile.
  TimeFormat() = default;

  // Parses the whole of `text`. Returns false (no exception, no allocation) when it does not
  // fit the format or names an impossible date.
  bool Parse(std::string_view text, int64_t* epoch_ms) const;

  const std::string& format() const { return format_; }

 private:
  enum class Mode : uint8_t { kSteps, kEpoch, kEpochMs, kIso8601 };
  // One directive or one literal byte of the format.
  struct Step {
    enum class Kind : uint8_t {
      kLiteral,
      kYear,
      kMonth,
      kMonthName,
      kDay,
      kDaySpacePadded,
      kHour,
      kMinute,
      kSecond,
      kFraction,
      kZone,
    };
    Kind kind = Kind::kLiteral;
    char literal = 0;  // for kLiteral
  };

  std::string format_;
  std::vector<Step> steps_;
  Mode mode_ = Mode::kSteps;
};

// 1431857103000 -> "2015-05-17T10:05:03Z"; with a non-zero millisecond part
// "2015-05-17T10:05:03.250Z". Appends to `out`.
void AppendIsoTime(int64_t epoch_ms, std::string* out);

// Parses a duration such as "500ms", "5s", "5m", "1h", "1d" into milliseconds: a non-negative
// integer and one unit, nothing else. False if not one, or if it overflows.
bool ParseDurationMs(std::string_view text, int64_t* ms);

}  // namespace logpipe
