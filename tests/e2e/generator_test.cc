// Tests of logpipe-gen (data/gen_access_log.cc), run as a program next to the logpipe binary:
// determinism, seeds, --size, and the truth file's line counts against an independent count.
// The truth's per-status and top-path numbers are checked against shared/peers/py_job.py by
// scripts/check_generator.sh (that needs Python and the peers directory).

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tests/support/temp_dir.h"

namespace logpipe::testing {
namespace {

std::string GeneratorPath() {
  const std::string bin = LOGPIPE_BINARY;
  const size_t slash = bin.rfind('/');
  return (slash == std::string::npos ? std::string(".") : bin.substr(0, slash)) + "/logpipe-gen";
}

// Runs logpipe-gen with `args` (already shell-quoted where needed); returns its exit status.
int Generate(const std::string& args) {
  const std::string cmd = "'" + GeneratorPath() + "' " + args + " 2>/dev/null";
  return std::system(cmd.c_str());
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// A top-level integer of the truth JSON ("\n \"key\": N"; keys inside "args" are not matched).
int64_t TruthNumber(const std::string& json, const std::string& key) {
  const std::string needle = "\n \"" + key + "\": ";
  const size_t at = json.find(needle);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no top-level key " << key << " in truth";
    return -1;
  }
  return std::strtoll(json.c_str() + at + needle.size(), nullptr, 10);
}

// Sum of every "count" inside the truth's "status" object.
int64_t StatusCountSum(const std::string& json) {
  const size_t begin = json.find("\n \"status\": {");
  const size_t end = json.find("\n },", begin);
  if (begin == std::string::npos || end == std::string::npos) {
    ADD_FAILURE() << "no status object in truth";
    return -1;
  }
  int64_t sum = 0;
  const std::string needle = "\"count\": ";
  for (size_t at = json.find(needle, begin); at != std::string::npos && at < end;
       at = json.find(needle, at + 1)) {
    sum += std::strtoll(json.c_str() + at + needle.size(), nullptr, 10);
  }
  return sum;
}

int64_t CountNewlines(std::string_view bytes) {
  int64_t n = 0;
  for (const char c : bytes) n += c == '\n';
  return n;
}

TEST(GeneratorTest, SameArgumentsGiveTheSameBytes) {
  TempDir dir;
  const std::string a = dir.path() + "/a.log";
  const std::string b = dir.path() + "/b.log";
  ASSERT_EQ(Generate("--size 2M --seed 42 --request-time -o " + Quote(a)), 0);
  ASSERT_EQ(Generate("--size 2M --seed 42 --request-time -o " + Quote(b)), 0);
  const std::string da = ReadFile(a);
  ASSERT_FALSE(da.empty());
  EXPECT_TRUE(da == ReadFile(b)) << "two runs with the same arguments differ";
  // The truth files differ only in the output name they record.
  std::string ta = ReadFile(a + ".truth.json");
  std::string tb = ReadFile(b + ".truth.json");
  ta.replace(ta.find(a), a.size(), "X");
  tb.replace(tb.find(b), b.size(), "X");
  EXPECT_EQ(ta, tb);
}

TEST(GeneratorTest, DifferentSeedsGiveDifferentBytes) {
  TempDir dir;
  const std::string a = dir.path() + "/a.log";
  const std::string b = dir.path() + "/b.log";
  ASSERT_EQ(Generate("--size 1M --seed 1 -o " + Quote(a)), 0);
  ASSERT_EQ(Generate("--size 1M --seed 2 -o " + Quote(b)), 0);
  const std::string da = ReadFile(a);
  const std::string db = ReadFile(b);
  ASSERT_FALSE(da.empty());
  ASSERT_FALSE(db.empty());
  EXPECT_NE(da.substr(0, 4096), db.substr(0, 4096));
}

TEST(GeneratorTest, SizeIsHonouredWithinOneLine) {
  TempDir dir;
  for (const char* size : {"3M", "1000000", "64K"}) {
    const std::string out = dir.path() + "/s.log";
    ASSERT_EQ(Generate(std::string("--size ") + size + " --seed 9 --malformed-rate 0.05 -o " +
                       Quote(out)),
              0);
    const std::string data = ReadFile(out);
    const uint64_t want = std::string_view(size) == "3M"    ? 3u << 20
                          : std::string_view(size) == "64K" ? 64u << 10
                                                            : 1000000u;
    // The generator stops before the line that would exceed --size; no line is 4 KiB long
    // (the longest, a NUL run plus a torn line, stays under 3 KiB).
    EXPECT_LE(data.size(), want) << size;
    EXPECT_GT(data.size() + 4096, want) << size;
    ASSERT_FALSE(data.empty());
    EXPECT_EQ(data.back(), '\n');
    EXPECT_EQ(TruthNumber(ReadFile(out + ".truth.json"), "bytes"),
              static_cast<int64_t>(data.size()));
  }
}

TEST(GeneratorTest, TruthLineCountsMatchAnIndependentCount) {
  TempDir dir;
  // A high malformed rate so every kind (empty lines, NUL runs, garbage...) shows up.
  for (const char* extra : {"--seed 42", "--seed 3 --malformed-rate 0.3 --request-time"}) {
    const std::string out = dir.path() + "/t.log";
    ASSERT_EQ(Generate(std::string("--size 2M ") + extra + " -o " + Quote(out)), 0);
    const std::string data = ReadFile(out);
    const std::string truth = ReadFile(out + ".truth.json");
    const int64_t lines = TruthNumber(truth, "lines");
    EXPECT_EQ(lines, CountNewlines(data)) << extra;
    EXPECT_EQ(TruthNumber(truth, "matched") + TruthNumber(truth, "unparsed"), lines) << extra;
    EXPECT_EQ(StatusCountSum(truth), TruthNumber(truth, "matched")) << extra;
    EXPECT_GT(TruthNumber(truth, "matched"), lines / 2) << extra;
  }
}

TEST(GeneratorTest, LinesOptionAndExplicitTruthPath) {
  TempDir dir;
  const std::string out = dir.path() + "/l.log";
  const std::string truth = dir.path() + "/l.json";
  ASSERT_EQ(Generate("--lines 1234 --seed 5 --malformed-rate 0.5 -o " + Quote(out) + " --truth " +
                     Quote(truth)),
            0);
  EXPECT_EQ(CountNewlines(ReadFile(out)), 1234);
  EXPECT_EQ(TruthNumber(ReadFile(truth), "lines"), 1234);
}

TEST(GeneratorTest, RejectsBadArguments) {
  TempDir dir;
  const std::string out = Quote(dir.path() + "/x.log");
  EXPECT_NE(Generate("--size 12Q -o " + out), 0);
  EXPECT_NE(Generate("--seed -1 -o " + out), 0);
  EXPECT_NE(Generate("--size 1M"), 0);  // no -o
  EXPECT_NE(Generate("--malformed-rate 2 -o " + out), 0);
  EXPECT_NE(Generate("--start 2025-13-01T00:00:00Z -o " + out), 0);
}

}  // namespace
}  // namespace logpipe::testing
