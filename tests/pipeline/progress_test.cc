// The progress line's text (pipeline/progress.h): a pure function of the state, checked
// against values worked out by hand. The drawing itself is tested end to end, under a
// pseudo-terminal, in tests/e2e/progress_test.cc.

#include "pipeline/progress.h"

#include <gtest/gtest.h>

namespace logpipe {
namespace {

TEST(ProgressFormat, Bytes) {
  EXPECT_EQ(FormatProgressBytes(0), "0 B");
  EXPECT_EQ(FormatProgressBytes(1023), "1023 B");
  EXPECT_EQ(FormatProgressBytes(1024), "1.0 KiB");
  EXPECT_EQ(FormatProgressBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatProgressBytes(12897485), "12.3 MiB");  // 12.3 * 2^20, rounded
  EXPECT_EQ(FormatProgressBytes(1048575), "1.0 MiB");    // not "1024.0 KiB"
  EXPECT_EQ(FormatProgressBytes(uint64_t{1} << 30), "1.0 GiB");
  EXPECT_EQ(FormatProgressBytes(uint64_t{3} << 40), "3.0 TiB");
}

TEST(ProgressFormat, Durations) {
  EXPECT_EQ(FormatProgressDuration(0), "0:00");
  EXPECT_EQ(FormatProgressDuration(-3), "0:00");
  EXPECT_EQ(FormatProgressDuration(9.2), "0:10");  // rounded up: never "0:00" while running
  EXPECT_EQ(FormatProgressDuration(754), "12:34");
  EXPECT_EQ(FormatProgressDuration(3723), "1:02:03");
}

TEST(ProgressFormat, KnownTotalWithSeveralInputs) {
  ProgressState s;
  s.bytes_done = 12897485;             // 12.3 MiB
  s.bytes_total = uint64_t{1} << 30;   // 1 GiB: 1.2% done
  s.seconds = 10;                      // 1289748.5 B/s = 1.23 MiB/s
  s.input = 2;
  s.inputs = 5;
  s.input_name = "access.log";
  // Left: 1060844339 B at 1289748.5 B/s = 822.5 s, rounded up to 823 s = 13:43.
  EXPECT_EQ(FormatProgress(s), "12.3 MiB / 1.0 GiB  1%  1.2 MiB/s  ETA 13:43  input 2/5 access.log");
}

TEST(ProgressFormat, OneInputShowsNoInputCounter) {
  ProgressState s;
  s.bytes_done = 512;
  s.bytes_total = 2048;
  s.seconds = 1;
  s.input = 1;
  s.inputs = 1;
  s.input_name = "a.log";
  EXPECT_EQ(FormatProgress(s), "512 B / 2.0 KiB  25%  512 B/s  ETA 0:03");
}

TEST(ProgressFormat, UnknownTotalHasNoPercentOrEta) {
  ProgressState s;
  s.bytes_done = 5 << 20;
  s.seconds = 2;
  s.input = 1;
  s.inputs = 3;
  s.input_name = "-";
  EXPECT_EQ(FormatProgress(s), "5.0 MiB  2.5 MiB/s  input 1/3 -");
}

TEST(ProgressFormat, NoRateInTheFirstHalfSecond) {
  ProgressState s;
  s.bytes_done = 0;
  s.bytes_total = 100;
  s.seconds = 0.25;
  EXPECT_EQ(FormatProgress(s), "0 B / 100 B  0%");
}

TEST(ProgressFormat, FinishedSaysDone) {
  ProgressState s;
  s.bytes_done = 100;
  s.bytes_total = 100;
  s.seconds = 0.5;
  s.finished = true;
  EXPECT_EQ(FormatProgress(s), "100 B / 100 B  100%  200 B/s  done in 0:01");
  s.seconds = 0.25;  // a short run's last line has its rate too
  EXPECT_EQ(FormatProgress(s), "100 B / 100 B  100%  400 B/s  done in 0:01");
}

TEST(ProgressFormat, GrowingFileIsClampedAt100Percent) {
  ProgressState s;  // a log appended to while it is read: more bytes than its size at start
  s.bytes_done = 150;
  s.bytes_total = 100;
  s.seconds = 1;
  EXPECT_EQ(FormatProgress(s), "150 B / 100 B  100%  150 B/s  ETA 0:00");
  s.bytes_total = 0;  // an empty file
  s.bytes_done = 0;
  EXPECT_EQ(FormatProgress(s), "0 B / 0 B  100%  0 B/s");
}

TEST(ProgressFormat, LongNamesAreShortenedFromTheLeftToFitTheWidth) {
  ProgressState s;
  s.bytes_done = 1024;
  s.seconds = 1;
  s.input = 10;
  s.inputs = 12;
  s.input_name = "/var/log/nginx/very/deep/directory/structure/access.log";
  const std::string head = "1.0 KiB  1.0 KiB/s  input 10/12";  // 31 characters
  ASSERT_EQ(head.size(), 31u);
  EXPECT_EQ(FormatProgress(s, 200), head + " " + s.input_name);
  // 50 columns: 31 + 1 space leave 18 for the name: "..." and its last 15 characters.
  EXPECT_EQ(FormatProgress(s, 50), head + " ...ture/access.log");
  // Under 8 columns left: no name at all.
  EXPECT_EQ(FormatProgress(s, 36), head);
  // Narrower than the numbers: cut.
  EXPECT_EQ(FormatProgress(s, 10), head.substr(0, 10));
}

}  // namespace
}  // namespace logpipe
