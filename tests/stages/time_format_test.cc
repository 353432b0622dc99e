#include "stages/time_format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "tests/support/alloc_counter.h"

namespace logpipe {
namespace {

TimeFormat MustCompile(const std::string& format) {
  Result<TimeFormat> tf = TimeFormat::Compile(format);
  EXPECT_TRUE(tf.ok()) << tf.status().message();
  return tf.ok() ? *tf : TimeFormat();
}

// Parses `text` with `format`; -1 when it is rejected (no test value is -1).
int64_t ParseOrMinusOne(const std::string& format, const std::string& text) {
  TimeFormat tf = MustCompile(format);
  int64_t ms = 0;
  return tf.Parse(text, &ms) ? ms : -1;
}

std::string Iso(int64_t ms) {
  std::string out;
  AppendIsoTime(ms, &out);
  return out;
}

constexpr char kAccess[] = "%d/%b/%Y:%H:%M:%S %z";

TEST(TimeFormat, ParsesAccessLogTimeInUtc) {
  // 2015-05-17T10:05:03Z, the first line of apache_logs (value from the header's example).
  EXPECT_EQ(ParseOrMinusOne(kAccess, "17/May/2015:10:05:03 +0000"), 1431857103000);
  EXPECT_EQ(Iso(1431857103000), "2015-05-17T10:05:03Z");
}

TEST(TimeFormat, AppliesUtcOffsetsInEveryForm) {
  const int64_t utc = ParseOrMinusOne(kAccess, "22/Jan/2019:00:26:14 +0000");
  EXPECT_EQ(ParseOrMinusOne(kAccess, "22/Jan/2019:03:56:14 +0330"), utc);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "22/Jan/2019:03:56:14 +03:30"), utc);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "21/Jan/2019:17:26:14 -0700"), utc);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "22/Jan/2019:00:26:14 Z"), utc);
  EXPECT_EQ(Iso(utc), "2019-01-22T00:26:14Z");
  EXPECT_EQ(ParseOrMinusOne(kAccess, "22/Jan/2019:03:56:14 +033"), -1);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "22/Jan/2019:03:56:14 0330"), -1);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "22/Jan/2019:03:56:14 +2400"), -1);
}

TEST(TimeFormat, RejectsImpossibleDates) {
  EXPECT_EQ(ParseOrMinusOne(kAccess, "31/Feb/2015:00:00:00 +0000"), -1);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "29/Feb/2015:00:00:00 +0000"), -1);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "29/Feb/1900:00:00:00 +0000"), -1);
  EXPECT_NE(ParseOrMinusOne(kAccess, "29/Feb/2016:00:00:00 +0000"), -1);
  EXPECT_NE(ParseOrMinusOne(kAccess, "29/Feb/2000:00:00:00 +0000"), -1);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "31/Apr/2015:00:00:00 +0000"), -1);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "00/Apr/2015:00:00:00 +0000"), -1);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "10/Foo/2015:00:00:00 +0000"), -1);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "10/Apr/2015:24:00:00 +0000"), -1);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "10/Apr/2015:23:60:00 +0000"), -1);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "10/Apr/2015:23:59:61 +0000"), -1);
  EXPECT_EQ(ParseOrMinusOne("%Y-%m-%d", "2015-13-01"), -1);
  EXPECT_EQ(ParseOrMinusOne("%Y-%m-%d", "2015-00-01"), -1);
}

TEST(TimeFormat, LeapSecondRollsIntoNextMinute) {
  EXPECT_EQ(ParseOrMinusOne("%F %T", "2016-12-31 23:59:60"),
            ParseOrMinusOne("%F %T", "2017-01-01 00:00:00"));
}

TEST(TimeFormat, RejectsPartialAndTrailingText) {
  EXPECT_EQ(ParseOrMinusOne(kAccess, "17/May/2015:10:05:03"), -1);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "17/May/2015:10:05:03 +0000 "), -1);
  EXPECT_EQ(ParseOrMinusOne(kAccess, " 17/May/2015:10:05:03 +0000"), -1);
  EXPECT_EQ(ParseOrMinusOne(kAccess, "17/May/15:10:05:03 +0000"), -1);
  EXPECT_EQ(ParseOrMinusOne(kAccess, ""), -1);
}

TEST(TimeFormat, MonthNamesAnyCase) {
  const int64_t expected = ParseOrMinusOne("%F", "2015-05-17");
  EXPECT_EQ(ParseOrMinusOne("%d/%b/%Y", "17/may/2015"), expected);
  EXPECT_EQ(ParseOrMinusOne("%d/%b/%Y", "17/MAY/2015"), expected);
  for (const char* month :
       {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}) {
    EXPECT_NE(ParseOrMinusOne("%d/%b/%Y", std::string("01/") + month + "/2015"), -1) << month;
  }
}

TEST(TimeFormat, SpacePaddedDay) {
  const int64_t expected = ParseOrMinusOne("%F %T", "2020-03-07 01:02:03");
  EXPECT_EQ(ParseOrMinusOne("%Y %b %e %T", "2020 Mar  7 01:02:03"), expected);
  EXPECT_EQ(ParseOrMinusOne("%Y %b %e %T", "2020 Mar 7 01:02:03"), expected);
  EXPECT_EQ(ParseOrMinusOne("%Y %b %e %T", "2020 Mar 07 01:02:03"), expected);
  EXPECT_NE(ParseOrMinusOne("%Y %b %e %T", "2020 Mar 17 01:02:03"), -1);
}

TEST(TimeFormat, FractionKeepsMilliseconds) {
  const std::string f = "%Y-%m-%d %H:%M:%S,%f";
  const int64_t base = ParseOrMinusOne("%F %T", "2016-12-19 20:40:56");
  EXPECT_EQ(ParseOrMinusOne(f, "2016-12-19 20:40:56,889"), base + 889);
  EXPECT_EQ(ParseOrMinusOne(f, "2016-12-19 20:40:56,5"), base + 500);
  EXPECT_EQ(ParseOrMinusOne(f, "2016-12-19 20:40:56,123456789"), base + 123);
  EXPECT_EQ(ParseOrMinusOne(f, "2016-12-19 20:40:56,1234567890"), -1);
  EXPECT_EQ(ParseOrMinusOne(f, "2016-12-19 20:40:56,"), -1);
}

TEST(TimeFormat, PercentAndLiterals) {
  EXPECT_EQ(ParseOrMinusOne("%%%F", "%1970-01-02"), 86400000);
  EXPECT_EQ(ParseOrMinusOne("at %F!", "at 1970-01-02!"), 86400000);
}

TEST(TimeFormat, CompileErrorsQuoteTheFormat) {
  Result<TimeFormat> unknown = TimeFormat::Compile("%Y-%j");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kConfig);
  EXPECT_NE(unknown.status().message().find("'%Y-%j'"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("%j"), std::string::npos);

  Result<TimeFormat> lone = TimeFormat::Compile("%F %");
  ASSERT_FALSE(lone.ok());
  EXPECT_NE(lone.status().message().find("'%F %'"), std::string::npos);
}

TEST(TimeFormat, FormatWithoutYearIsRejectedAtCompile) {
  // Syslog's timestamp has no year; guessing one would be wrong or depend on the run date.
  Result<TimeFormat> syslog = TimeFormat::Compile("%b %e %H:%M:%S");
  ASSERT_FALSE(syslog.ok());
  EXPECT_EQ(syslog.status().code(), StatusCode::kConfig);
  EXPECT_NE(syslog.status().message().find("year"), std::string::npos);
  EXPECT_FALSE(TimeFormat::Compile("%H:%M:%S").ok());
  EXPECT_FALSE(TimeFormat::Compile("%Y-%m").ok());
}

TEST(TimeFormat, Epoch) {
  EXPECT_EQ(ParseOrMinusOne("epoch", "1431857103"), 1431857103000);
  EXPECT_EQ(ParseOrMinusOne("epoch", "1431857103.25"), 1431857103250);
  EXPECT_EQ(ParseOrMinusOne("epoch", "1431857103.123456"), 1431857103123);
  EXPECT_EQ(ParseOrMinusOne("epoch", "-1.5"), -1500);
  EXPECT_EQ(ParseOrMinusOne("epoch", "0"), 0);
  EXPECT_EQ(ParseOrMinusOne("epoch", ""), -1);
  EXPECT_EQ(ParseOrMinusOne("epoch", "-"), -1);
  EXPECT_EQ(ParseOrMinusOne("epoch", "12a"), -1);
  EXPECT_EQ(ParseOrMinusOne("epoch", "1."), -1);
  EXPECT_EQ(ParseOrMinusOne("epoch", "+5"), -1);
  EXPECT_EQ(ParseOrMinusOne("epoch", "99999999999999999"), -1);  // overflows as ms
  EXPECT_EQ(ParseOrMinusOne("epoch_ms", "1431857103250"), 1431857103250);
  EXPECT_EQ(ParseOrMinusOne("epoch_ms", "1431857103.250"), -1);
  EXPECT_EQ(ParseOrMinusOne("epoch_ms", "99999999999999999999"), -1);
}

TEST(TimeFormat, Iso8601) {
  const int64_t t = 1431857103000;  // 2015-05-17T10:05:03Z
  EXPECT_EQ(ParseOrMinusOne("iso8601", "2015-05-17T10:05:03Z"), t);
  EXPECT_EQ(ParseOrMinusOne("iso8601", "2015-05-17 10:05:03"), t);
  EXPECT_EQ(ParseOrMinusOne("iso8601", "2015-05-17t10:05:03z"), t);
  EXPECT_EQ(ParseOrMinusOne("iso8601", "2015-05-17T10:05:03.250Z"), t + 250);
  EXPECT_EQ(ParseOrMinusOne("iso8601", "2015-05-17T12:05:03+02:00"), t);
  EXPECT_EQ(ParseOrMinusOne("iso8601", "2015-05-17T03:05:03.000003-0700"), t);
  EXPECT_EQ(ParseOrMinusOne("iso8601", "2015-05-17T10:05"), -1);
  EXPECT_EQ(ParseOrMinusOne("iso8601", "2015-5-17T10:05:03Z"), -1);
  EXPECT_EQ(ParseOrMinusOne("iso8601", "2015-02-29T10:05:03Z"), -1);
  EXPECT_EQ(ParseOrMinusOne("iso8601", "2015-05-17X10:05:03Z"), -1);
  EXPECT_EQ(ParseOrMinusOne("iso8601", "2015-05-17T10:05:03Z "), -1);
}

// Walks every day from 1600-01-01 to 2400-12-31 with a naive calendar (month lengths and the
// Gregorian leap rule written out here) and checks Parse against a running day count, and
// AppendIsoTime against the same date written by hand: an independent check of the
// days-from-civil arithmetic over 4 full 400-year cycles around the epoch.
TEST(TimeFormat, DayArithmeticMatchesNaiveCalendar) {
  TimeFormat iso = MustCompile("iso8601");
  // Days from 1600-01-01 to 1970-01-01: 370 years, 90 leap years (1600..1968 divisible by 4:
  // 93, minus 1700, 1800, 1900).
  int64_t day = -(370 * 365 + 90);
  char text[32];
  for (int y = 1600; y <= 2400; ++y) {
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    const int lengths[12] = {31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int m = 1; m <= 12; ++m) {
      for (int d = 1; d <= lengths[m - 1]; ++d, ++day) {
        std::snprintf(text, sizeof(text), "%04d-%02d-%02dT00:00:00Z", y, m, d);
        int64_t ms = 0;
        ASSERT_TRUE(iso.Parse(text, &ms)) << text;
        ASSERT_EQ(ms, day * 86400000) << text;
        ASSERT_EQ(Iso(ms), text);
      }
      // The day after the last of the month does not exist.
      std::snprintf(text, sizeof(text), "%04d-%02d-%02dT00:00:00Z", y, m, lengths[m - 1] + 1);
      int64_t ms = 0;
      ASSERT_FALSE(iso.Parse(text, &ms)) << text;
    }
  }
  EXPECT_EQ(day, 431 * 365 + 105);  // 2401-01-01: 431 years after 1970, 105 of them leap
}

TEST(TimeFormat, AppendIsoTimeBeforeEpochAndMilliseconds) {
  EXPECT_EQ(Iso(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Iso(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(Iso(1431857103250), "2015-05-17T10:05:03.250Z");
  EXPECT_EQ(Iso(1431857103007), "2015-05-17T10:05:03.007Z");
  std::string out = "ts=";
  AppendIsoTime(86400000, &out);
  EXPECT_EQ(out, "ts=1970-01-02T00:00:00Z");
}

TEST(TimeFormat, ParseDoesNotAllocate) {
  TimeFormat access = MustCompile(kAccess);
  TimeFormat iso = MustCompile("iso8601");
  TimeFormat epoch = MustCompile("epoch");
  const std::string a = "22/Jan/2019:03:56:14 +0330";
  const std::string b = "2015-05-17T10:05:03.250+02:00";
  const std::string c = "1431857103.25";
  int64_t sum = 0;
  const uint64_t before = logpipe::testing::AllocationCount();
  for (int i = 0; i < 100; ++i) {
    int64_t ms = 0;
    if (access.Parse(a, &ms)) sum += ms;
    if (iso.Parse(b, &ms)) sum += ms;
    if (epoch.Parse(c, &ms)) sum += ms;
  }
  EXPECT_EQ(logpipe::testing::AllocationCount() - before, 0u);
  EXPECT_NE(sum, 0);
}

TEST(TimeFormat, CopiesParseAlike) {
  TimeFormat original = MustCompile(kAccess);
  TimeFormat copy = original;
  TimeFormat moved = std::move(original);
  int64_t a = 0;
  int64_t b = 0;
  ASSERT_TRUE(copy.Parse("17/May/2015:10:05:03 +0000", &a));
  ASSERT_TRUE(moved.Parse("17/May/2015:10:05:03 +0000", &b));
  EXPECT_EQ(a, b);
  EXPECT_EQ(copy.format(), kAccess);
}

TEST(TimeFormat, ParseDurationMs) {
  int64_t ms = 0;
  ASSERT_TRUE(ParseDurationMs("500ms", &ms));
  EXPECT_EQ(ms, 500);
  ASSERT_TRUE(ParseDurationMs("5s", &ms));
  EXPECT_EQ(ms, 5000);
  ASSERT_TRUE(ParseDurationMs("5m", &ms));
  EXPECT_EQ(ms, 300000);
  ASSERT_TRUE(ParseDurationMs("1h", &ms));
  EXPECT_EQ(ms, 3600000);
  ASSERT_TRUE(ParseDurationMs("1d", &ms));
  EXPECT_EQ(ms, 86400000);
  ASSERT_TRUE(ParseDurationMs("0s", &ms));
  EXPECT_EQ(ms, 0);
  for (const char* bad : {"", "5", "s", "ms", "-5s", "+5s", "5 s", " 5s", "5sec", "1.5s", "5S",
                          "5msx", "99999999999999999999ms", "9999999999999999d"}) {
    EXPECT_FALSE(ParseDurationMs(bad, &ms)) << bad;
  }
}

}  // namespace
}  // namespace logpipe
