#include "stages/time_format.h"

#include <charconv>
#include <cstring>
#include <limits>
#include <utility>

namespace logpipe {
namespace {

constexpr int64_t kSecondsPerDay = 86400;
constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

// Days since 1970-01-01 of the proleptic Gregorian date y-m-d (Howard Hinnant,
// "chrono-Compatible Low-Level Date Algorithms", days_from_civil). REQUIRES: 1 <= m <= 12.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;                                    // [0, 399]
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
  return era * 146097 + doe - 719468;
}

// The inverse of DaysFromCivil (Hinnant's civil_from_days).
void CivilFromDays(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;                                       // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

bool IsLeapYear(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return (m == 2 && IsLeapYear(y)) ? 29 : kDays[m - 1];
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads min_digits..max_digits decimal digits (greedy) at text[*pos].
bool ReadDigits(std::string_view text, size_t* pos, int min_digits, int max_digits,
                int64_t* value) {
  int64_t v = 0;
  int n = 0;
  size_t p = *pos;
  while (n < max_digits && p < text.size() && IsDigit(text[p])) {
    v = v * 10 + (text[p] - '0');
    ++p;
    ++n;
  }
  if (n < min_digits) return false;
  *pos = p;
  *value = v;
  return true;
}

// Reads 1-9 digits of a fraction of a second; keeps milliseconds (truncated).
bool ReadFraction(std::string_view text, size_t* pos, int* ms) {
  size_t p = *pos;
  int n = 0;
  int v = 0;
  while (p < text.size() && IsDigit(text[p]) && n < 9) {
    if (n < 3) v = v * 10 + (text[p] - '0');
    ++p;
    ++n;
  }
  if (n == 0) return false;
  for (int i = n; i < 3; ++i) v *= 10;
  *pos = p;
  *ms = v;
  return true;
}

char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool ReadMonthName(std::string_view text, size_t* pos, int* month) {
  static constexpr char kNames[12][4] = {"jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec"};
  if (text.size() - *pos < 3) return false;
  const char a = ToLowerAscii(text[*pos]);
  const char b = ToLowerAscii(text[*pos + 1]);
  const char c = ToLowerAscii(text[*pos + 2]);
  for (int i = 0; i < 12; ++i) {
    if (kNames[i][0] == a && kNames[i][1] == b && kNames[i][2] == c) {
      *month = i + 1;
      *pos += 3;
      return true;
    }
  }
  return false;
}

// Z, z, +hhmm, -hhmm, +hh:mm or -hh:mm; the offset in seconds east of UTC.
bool ReadZone(std::string_view text, size_t* pos, int64_t* offset_seconds) {
  size_t p = *pos;
  if (p >= text.size()) return false;
  if (text[p] == 'Z' || text[p] == 'z') {
    *offset_seconds = 0;
    *pos = p + 1;
    return true;
  }
  if (text[p] != '+' && text[p] != '-') return false;
  const bool negative = text[p] == '-';
  ++p;
  int64_t hh = 0;
  int64_t mm = 0;
  if (!ReadDigits(text, &p, 2, 2, &hh)) return false;
  if (p < text.size() && text[p] == ':') ++p;
  if (!ReadDigits(text, &p, 2, 2, &mm)) return false;
  if (hh > 23 || mm > 59) return false;
  const int64_t seconds = hh * 3600 + mm * 60;
  *offset_seconds = negative ? -seconds : seconds;
  *pos = p;
  return true;
}

// The fields a format fills in; Combine checks them and turns them into epoch ms.
struct Civil {
  int64_t year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int ms = 0;
  int64_t offset_seconds = 0;
};

bool Combine(const Civil& c, int64_t* epoch_ms) {
  if (c.month < 1 || c.month > 12) return false;
  if (c.day < 1 || c.day > DaysInMonth(c.year, c.month)) return false;
  if (c.hour > 23 || c.minute > 59 || c.second > 60) return false;
  const int64_t days = DaysFromCivil(c.year, c.month, c.day);
  const int64_t seconds =
      days * kSecondsPerDay + c.hour * 3600 + c.minute * 60 + c.second - c.offset_seconds;
  *epoch_ms = seconds * 1000 + c.ms;
  return true;
}

bool ParseEpoch(std::string_view text, bool milliseconds, int64_t* epoch_ms) {
  size_t p = 0;
  bool negative = false;
  if (p < text.size() && text[p] == '-') {
    negative = true;
    ++p;
  }
  uint64_t whole = 0;
  const char* begin = text.data() + p;
  const char* end = text.data() + text.size();
  auto [next, ec] = std::from_chars(begin, end, whole);
  if (ec != std::errc() || next == begin) return false;
  p = static_cast<size_t>(next - text.data());
  int ms = 0;
  if (!milliseconds && p < text.size() && text[p] == '.') {
    ++p;
    if (!ReadFraction(text, &p, &ms)) return false;
  }
  if (p != text.size()) return false;
  const uint64_t limit =
      milliseconds ? static_cast<uint64_t>(kMaxInt64) : static_cast<uint64_t>(kMaxInt64 / 1000 - 1);
  if (whole > limit) return false;
  const int64_t value =
      milliseconds ? static_cast<int64_t>(whole) : static_cast<int64_t>(whole) * 1000 + ms;
  *epoch_ms = negative ? -value : value;
  return true;
}

bool Expect(std::string_view text, size_t* pos, char c) {
  if (*pos >= text.size() || text[*pos] != c) return false;
  ++*pos;
  return true;
}

bool ParseIso8601(std::string_view text, int64_t* epoch_ms) {
  Civil c;
  size_t p = 0;
  int64_t v = 0;
  if (!ReadDigits(text, &p, 4, 4, &c.year) || !Expect(text, &p, '-')) return false;
  if (!ReadDigits(text, &p, 2, 2, &v) || !Expect(text, &p, '-')) return false;
  c.month = static_cast<int>(v);
  if (!ReadDigits(text, &p, 2, 2, &v)) return false;
  c.day = static_cast<int>(v);
  if (p >= text.size() || (text[p] != 'T' && text[p] != 't' && text[p] != ' ')) return false;
  ++p;
  if (!ReadDigits(text, &p, 2, 2, &v) || !Expect(text, &p, ':')) return false;
  c.hour = static_cast<int>(v);
  if (!ReadDigits(text, &p, 2, 2, &v) || !Expect(text, &p, ':')) return false;
  c.minute = static_cast<int>(v);
  if (!ReadDigits(text, &p, 2, 2, &v)) return false;
  c.second = static_cast<int>(v);
  if (p < text.size() && (text[p] == '.' || text[p] == ',')) {
    ++p;
    if (!ReadFraction(text, &p, &c.ms)) return false;
  }
  if (p < text.size() && !ReadZone(text, &p, &c.offset_seconds)) return false;
  if (p != text.size()) return false;
  return Combine(c, epoch_ms);
}

// Appends `v` in decimal, zero-padded to at least `width` digits. REQUIRES: v >= 0.
void AppendPadded(int64_t v, int width, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;
  const int len = static_cast<int>(end - buf);
  for (int i = len; i < width; ++i) out->push_back('0');
  out->append(buf, end);
}

}  // namespace

Result<TimeFormat> TimeFormat::Compile(const std::string& format) {
  TimeFormat tf;
  tf.format_ = format;
  if (format == "epoch") {
    tf.mode_ = Mode::kEpoch;
    return tf;
  }
  if (format == "epoch_ms") {
    tf.mode_ = Mode::kEpochMs;
    return tf;
  }
  if (format == "iso8601") {
    tf.mode_ = Mode::kIso8601;
    return tf;
  }
  using Kind = Step::Kind;
  bool has_year = false;
  bool has_month = false;
  bool has_day = false;
  auto add = [&tf](Kind kind, char literal = 0) { tf.steps_.push_back(Step{kind, literal}); };
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if (c != '%') {
      add(Kind::kLiteral, c);
      continue;
    }
    if (i + 1 == format.size()) {
      return ConfigError("time format '" + format + "': it ends with a lone '%'");
    }
    const char d = format[++i];
    switch (d) {
      case 'Y':
        add(Kind::kYear);
        has_year = true;
        break;
      case 'm':
        add(Kind::kMonth);
        has_month = true;
        break;
      case 'b':
        add(Kind::kMonthName);
        has_month = true;
        break;
      case 'd':
        add(Kind::kDay);
        has_day = true;
        break;
      case 'e':
        add(Kind::kDaySpacePadded);
        has_day = true;
        break;
      case 'H':
        add(Kind::kHour);
        break;
      case 'M':
        add(Kind::kMinute);
        break;
      case 'S':
        add(Kind::kSecond);
        break;
      case 'f':
        add(Kind::kFraction);
        break;
      case 'z':
        add(Kind::kZone);
        break;
      case 'T':
        add(Kind::kHour);
        add(Kind::kLiteral, ':');
        add(Kind::kMinute);
        add(Kind::kLiteral, ':');
        add(Kind::kSecond);
        break;
      case 'F':
        add(Kind::kYear);
        add(Kind::kLiteral, '-');
        add(Kind::kMonth);
        add(Kind::kLiteral, '-');
        add(Kind::kDay);
        has_year = has_month = has_day = true;
        break;
      case '%':
        add(Kind::kLiteral, '%');
        break;
      default:
        return ConfigError("time format '" + format + "': unknown directive '%" +
                           std::string(1, d) +
                           "' (supported: %Y %m %d %e %H %M %S %f %b %z %T %F %%, or the "
                           "formats epoch, epoch_ms, iso8601)");
    }
  }
  if (!has_year || !has_month || !has_day) {
    return ConfigError("time format '" + format +
                       "': needs a whole date (%Y, %m or %b, %d or %e); a timestamp without "
                       "a year (syslog's '%b %e %H:%M:%S') cannot be placed in time, keep "
                       "that field a string");
  }
  return tf;
}

bool TimeFormat::Parse(std::string_view text, int64_t* epoch_ms) const {
  switch (mode_) {
    case Mode::kEpoch:
      return ParseEpoch(text, /*milliseconds=*/false, epoch_ms);
    case Mode::kEpochMs:
      return ParseEpoch(text, /*milliseconds=*/true, epoch_ms);
    case Mode::kIso8601:
      return ParseIso8601(text, epoch_ms);
    case Mode::kSteps:
      break;
  }
  if (steps_.empty()) return false;
  Civil c;
  size_t p = 0;
  int64_t v = 0;
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Step::Kind::kLiteral:
        if (!Expect(text, &p, step.literal)) return false;
        break;
      case Step::Kind::kYear:
        if (!ReadDigits(text, &p, 4, 4, &c.year)) return false;
        break;
      case Step::Kind::kMonth:
        if (!ReadDigits(text, &p, 1, 2, &v)) return false;
        c.month = static_cast<int>(v);
        break;
      case Step::Kind::kMonthName:
        if (!ReadMonthName(text, &p, &c.month)) return false;
        break;
      case Step::Kind::kDaySpacePadded:
        if (p + 1 < text.size() && text[p] == ' ' && IsDigit(text[p + 1])) ++p;
        [[fallthrough]];
      case Step::Kind::kDay:
        if (!ReadDigits(text, &p, 1, 2, &v)) return false;
        c.day = static_cast<int>(v);
        break;
      case Step::Kind::kHour:
        if (!ReadDigits(text, &p, 1, 2, &v)) return false;
        c.hour = static_cast<int>(v);
        break;
      case Step::Kind::kMinute:
        if (!ReadDigits(text, &p, 1, 2, &v)) return false;
        c.minute = static_cast<int>(v);
        break;
      case Step::Kind::kSecond:
        if (!ReadDigits(text, &p, 1, 2, &v)) return false;
        c.second = static_cast<int>(v);
        break;
      case Step::Kind::kFraction:
        if (!ReadFraction(text, &p, &c.ms)) return false;
        break;
      case Step::Kind::kZone:
        if (!ReadZone(text, &p, &c.offset_seconds)) return false;
        break;
    }
  }
  if (p != text.size()) return false;
  return Combine(c, epoch_ms);
}

void AppendIsoTime(int64_t epoch_ms, std::string* out) {
  int64_t seconds = epoch_ms / 1000;
  int64_t ms = epoch_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    --seconds;
  }
  int64_t days = seconds / kSecondsPerDay;
  int64_t second_of_day = seconds % kSecondsPerDay;
  if (second_of_day < 0) {
    second_of_day += kSecondsPerDay;
    --days;
  }
  int64_t year = 0;
  int month = 0;
  int day = 0;
  CivilFromDays(days, &year, &month, &day);
  if (year < 0) {
    out->push_back('-');
    year = -year;
  }
  AppendPadded(year, 4, out);
  out->push_back('-');
  AppendPadded(month, 2, out);
  out->push_back('-');
  AppendPadded(day, 2, out);
  out->push_back('T');
  AppendPadded(second_of_day / 3600, 2, out);
  out->push_back(':');
  AppendPadded(second_of_day / 60 % 60, 2, out);
  out->push_back(':');
  AppendPadded(second_of_day % 60, 2, out);
  if (ms != 0) {
    out->push_back('.');
    AppendPadded(ms, 3, out);
  }
  out->push_back('Z');
}

bool ParseDurationMs(std::string_view text, int64_t* ms) {
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  uint64_t n = 0;
  auto [next, ec] = std::from_chars(begin, end, n);
  if (ec != std::errc() || next == begin) return false;
  const std::string_view unit(next, static_cast<size_t>(end - next));
  uint64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 3600 * 1000;
  } else if (unit == "d") {
    scale = 86400 * 1000;
  } else {
    return false;
  }
  if (n > static_cast<uint64_t>(kMaxInt64) / scale) return false;
  *ms = static_cast<int64_t>(n * scale);
  return true;
}

}  // namespace logpipe
