#include "stages/parse_stage.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "io/chunk.h"
#include "stages/record_batch.h"
#include "stages/schema.h"
#include "tests/support/alloc_counter.h"

namespace logpipe {
namespace {

// EXPECT_TRUE(HasText(s, part)) prints both strings when `part` is missing.
::testing::AssertionResult HasText(const std::string& s, const std::string& part) {
  if (s.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << s << "' does not contain '" << part << "'";
}

Chunk MakeChunk(const std::string& bytes) {
  Chunk chunk;
  chunk.Reserve(bytes.size() + 1);
  if (!bytes.empty()) std::memcpy(chunk.mutable_data(), bytes.data(), bytes.size());
  chunk.set_size(bytes.size());
  return chunk;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

Schema MakeSchema(const std::vector<FieldSpec>& fields) {
  Schema schema;
  for (const FieldSpec& f : fields) schema.Add(f);
  return schema;
}

std::unique_ptr<ParseStage> MustCreate(const std::string& regex, const Schema& schema,
                                       bool utf8 = false) {
  ParseOptions options;
  options.regex = regex;
  options.utf8 = utf8;
  Result<std::unique_ptr<ParseStage>> stage = ParseStage::Create(options, schema);
  EXPECT_TRUE(stage.ok()) << stage.status().message();
  return stage.ok() ? std::move(*stage) : nullptr;
}

std::string Text(const RecordBatch& batch, size_t field, uint32_t row) {
  return std::string(batch.field(field, row).text);
}

const std::string kCombinedRe = Trim(ReadFile(LOGPIPE_SOURCE_DIR "/../shared/peers/combined.re"));
const std::string kCombinedMinRe =
    Trim(ReadFile(LOGPIPE_SOURCE_DIR "/../shared/peers/patterns/combined_min.re"));

// ---- NamedGroups ------------------------------------------------------------------------

TEST(NamedGroups, InOrderOfOpeningParenthesis) {
  Result<std::vector<std::string>> names = NamedGroups("(?P<b>x(?P<c>y))(z)(?P<a>w)");
  ASSERT_TRUE(names.ok()) << names.status().message();
  EXPECT_EQ(*names, (std::vector<std::string>{"b", "c", "a"}));
}

TEST(NamedGroups, BadRegexQuotesPatternAndRe2Message) {
  const std::string bad = "(?P<ip>[^ ]+ (x";
  re2::RE2 re(bad, re2::RE2::Quiet);
  ASSERT_FALSE(re.ok());
  Result<std::vector<std::string>> names = NamedGroups(bad);
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.status().code(), StatusCode::kConfig);
  EXPECT_TRUE(HasText(names.status().message(), "'" + bad + "'"));
  EXPECT_TRUE(HasText(names.status().message(), re.error()));
}

// ---- KeepOnlyCaptures -------------------------------------------------------------------

std::string Keep(const std::string& regex, const std::vector<std::string>& keep) {
  Result<std::string> out = KeepOnlyCaptures(regex, keep);
  EXPECT_TRUE(out.ok()) << regex << ": " << out.status().message();
  return out.ok() ? *out : "<error>";
}

TEST(KeepOnlyCaptures, TurnsOtherGroupsNonCapturing) {
  EXPECT_EQ(Keep("(?P<a>x)(?P<b>y)(z)", {"b"}), "(?:x)(?P<b>y)(?:z)");
  EXPECT_EQ(Keep("(?P<a>x(?P<b>y))", {"a", "b"}), "(?P<a>x(?P<b>y))");
  EXPECT_EQ(Keep("(?P<a>x)", {}), "(?:x)");
  EXPECT_EQ(Keep("(?P<a>x)", {"not_there"}), "(?:x)");
}

TEST(KeepOnlyCaptures, RespectsEscapes) {
  EXPECT_EQ(Keep(R"(\((?P<a>x)\))", {}), R"(\((?:x)\))");
  EXPECT_EQ(Keep(R"(\\(x))", {}), R"(\\(?:x))");  // an escaped backslash, then a group
  EXPECT_EQ(Keep(R"(\Q(x)\E(y))", {}), R"(\Q(x)\E(?:y))");
  EXPECT_EQ(Keep(R"(\x{28}(y))", {}), R"(\x{28}(?:y))");
}

TEST(KeepOnlyCaptures, RespectsCharacterClasses) {
  EXPECT_EQ(Keep("[(](x)", {}), "[(](?:x)");
  EXPECT_EQ(Keep("[]()](x)", {}), "[]()](?:x)");
  EXPECT_EQ(Keep("[^]()](x)", {}), "[^]()](?:x)");
  EXPECT_EQ(Keep(R"([\]()](x))", {}), R"([\]()](?:x))");
  EXPECT_EQ(Keep("[[:alpha:]()](x)", {}), "[[:alpha:]()](?:x)");
  EXPECT_EQ(Keep(R"(\[(?P<ts>[^]]+)\])", {"ts"}), R"(\[(?P<ts>[^]]+)\])");
}

TEST(KeepOnlyCaptures, LeavesFlagsAndNonCapturingGroups) {
  EXPECT_EQ(Keep("(?i)get (x)", {}), "(?i)get (?:x)");
  EXPECT_EQ(Keep("(?i:get)(x)", {}), "(?i:get)(?:x)");
  EXPECT_EQ(Keep("(?:a|b)(x)", {}), "(?:a|b)(?:x)");
  EXPECT_EQ(Keep("(?-s:.)(?P<a>x)", {"a"}), "(?-s:.)(?P<a>x)");
}

TEST(KeepOnlyCaptures, AngleBracketNamedGroups) {
  // (?<name>...) is rewritten like (?P<name>...) whether or not this RE2 accepts it.
  EXPECT_EQ(Keep("(?<a>x)(?<b>y)", {"b"}), "(?:x)(?<b>y)");
}

TEST(KeepOnlyCaptures, MalformedPatternsAreConfigErrors) {
  for (const char* bad : {"(a", "a)", "[a", "a\\", "(?P<a x)", "(?P<>x)"}) {
    Result<std::string> out = KeepOnlyCaptures(bad, {});
    ASSERT_FALSE(out.ok()) << bad;
    EXPECT_EQ(out.status().code(), StatusCode::kConfig);
    EXPECT_TRUE(HasText(out.status().message(), bad));
  }
}

// The capture pushdown of BASELINES.md: keeping path, status and bytes of peers/combined.re
// gives exactly peers/patterns/combined_min.re, and both match the same lines with the same
// groups on the real access log.
TEST(KeepOnlyCaptures, CombinedKeepingThreeFieldsIsCombinedMin) {
  ASSERT_FALSE(kCombinedRe.empty());
  ASSERT_FALSE(kCombinedMinRe.empty());
  const std::string rewritten = Keep(kCombinedRe, {"path", "status", "bytes"});
  EXPECT_EQ(rewritten, kCombinedMinRe);

  re2::RE2::Options options;
  options.set_encoding(re2::RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  re2::RE2 full(kCombinedRe, options);
  re2::RE2 min(rewritten, options);
  ASSERT_TRUE(full.ok());
  ASSERT_TRUE(min.ok());
  ASSERT_EQ(min.NumberOfCapturingGroups(), 3);
  const std::map<std::string, int>& fg = full.NamedCapturingGroups();
  const std::map<std::string, int>& mg = min.NamedCapturingGroups();

  const std::string data = ReadFile(LOGPIPE_SOURCE_DIR "/data/sample/apache_combined.log");
  ASSERT_FALSE(data.empty());
  std::istringstream lines(data);
  std::string line;
  int matched = 0;
  int total = 0;
  std::vector<re2::StringPiece> a(full.NumberOfCapturingGroups() + 1);
  std::vector<re2::StringPiece> b(4);
  while (std::getline(lines, line)) {
    ++total;
    const bool fa = full.Match(line, 0, line.size(), re2::RE2::ANCHOR_BOTH, a.data(),
                               static_cast<int>(a.size()));
    const bool fb = min.Match(line, 0, line.size(), re2::RE2::ANCHOR_BOTH, b.data(), 4);
    ASSERT_EQ(fa, fb) << "line " << total;
    if (!fa) continue;
    ++matched;
    for (const char* name : {"path", "status", "bytes"}) {
      ASSERT_EQ(a[fg.at(name)], b[mg.at(name)]) << "line " << total << " " << name;
    }
  }
  EXPECT_EQ(total, 10000);
  EXPECT_EQ(matched, 9999);  // shared/data/real/README.md: only line 8899 is rejected
}

// ---- ParseStage -------------------------------------------------------------------------

const char kKv[] = R"((?P<method>[A-Z]+) (?P<path>[^ ]*) (?P<status>[^ ]*) (?P<secs>[^ ]*))";

TEST(ParseStage, FillsTypedFieldsAndDropsMismatches) {
  Schema schema = MakeSchema({{"path", FieldType::kString, ""},
                              {"status", FieldType::kInt, ""},
                              {"secs", FieldType::kFloat, ""}});
  auto stage = MustCreate(kKv, schema);
  ASSERT_NE(stage, nullptr);
  Chunk chunk = MakeChunk("GET /a 200 0.5\nnot a match\nPOST /b 404 1e-3\n\nPUT - - -");
  RecordBatch batch;
  batch.Reset(chunk, schema.size());
  auto scratch = stage->NewScratch();
  stage->Process(batch, *scratch);

  EXPECT_EQ(batch.selected, (std::vector<uint32_t>{0, 2, 4}));
  ASSERT_EQ(batch.rejects.size(), 2u);
  EXPECT_EQ(batch.rejects[0].row, 1u);
  EXPECT_EQ(batch.rejects[0].reason, RejectReason::kMismatch);
  EXPECT_EQ(batch.rejects[1].row, 3u);
  EXPECT_EQ(batch.counters.matched, 3u);
  EXPECT_EQ(batch.counters.mismatched, 2u);
  EXPECT_EQ(batch.counters.invalid_utf8, 0u);

  EXPECT_EQ(Text(batch, 0, 0), "/a");
  EXPECT_TRUE(batch.field(0, 0).present);
  EXPECT_EQ(batch.field(1, 0).i, 200);
  EXPECT_TRUE(batch.field(1, 0).present);
  EXPECT_DOUBLE_EQ(batch.field(2, 0).f, 0.5);
  EXPECT_EQ(batch.field(1, 2).i, 404);
  EXPECT_DOUBLE_EQ(batch.field(2, 2).f, 1e-3);
  // "-" is "no value": absent in every type, and not a conversion error.
  for (size_t f = 0; f < 3; ++f) EXPECT_FALSE(batch.field(f, 4).present) << f;
  EXPECT_EQ(batch.counters.conversion_errors, (std::vector<uint64_t>{0, 0, 0}));
}

TEST(ParseStage, ConversionErrorsAreCountedPerField) {
  Schema schema = MakeSchema({{"status", FieldType::kInt, ""},
                              {"secs", FieldType::kFloat, ""},
                              {"path", FieldType::kTime, "iso8601"}});
  auto stage = MustCreate(kKv, schema);
  ASSERT_NE(stage, nullptr);
  Chunk chunk = MakeChunk(
      "GET 2015-05-17T10:05:03Z 200 0.5\n"
      "GET 2015-02-30T10:05:03Z x2 0.5\n"           // bad date, bad int
      "GET yesterday 99999999999999999999 1e999\n"  // bad time, int and float overflow
      "GET  12a nan\n"                              // empty time: absent, not an error
      "GET - -1 .25\n");
  RecordBatch batch;
  batch.Reset(chunk, schema.size());
  auto scratch = stage->NewScratch();
  stage->Process(batch, *scratch);
  EXPECT_EQ(batch.counters.matched, 5u);
  EXPECT_EQ(batch.counters.conversion_errors, (std::vector<uint64_t>{3, 2, 2}));
  EXPECT_EQ(batch.field(2, 0).i, 1431857103000);
  EXPECT_TRUE(batch.field(2, 0).present);
  EXPECT_FALSE(batch.field(0, 1).present);
  EXPECT_EQ(Text(batch, 0, 1), "x2");  // the text stays for rejects/debugging
  EXPECT_FALSE(batch.field(2, 3).present);
  EXPECT_EQ(batch.field(0, 4).i, -1);
  EXPECT_DOUBLE_EQ(batch.field(1, 4).f, 0.25);
}

TEST(ParseStage, CrlfLinesMatchWithoutCarriageReturnInFields) {
  Schema schema = MakeSchema({{"status", FieldType::kInt, ""}, {"secs", FieldType::kString, ""}});
  // A pattern ending in a literal: it matches only if the '\r' is gone.
  auto stage =
      MustCreate(R"((?P<method>[A-Z]+) [^ ]* (?P<status>[0-9]+) (?P<secs>[^ ]*) ok)", schema);
  ASSERT_NE(stage, nullptr);
  Chunk chunk = MakeChunk("GET /a 200 1.5 ok\r\nGET /b 500 2 ok\r\nGET /c 301 x ok");
  RecordBatch batch;
  batch.Reset(chunk, schema.size());
  auto scratch = stage->NewScratch();
  stage->Process(batch, *scratch);
  EXPECT_EQ(batch.counters.matched, 3u);
  EXPECT_EQ(batch.field(0, 1).i, 500);
  EXPECT_EQ(Text(batch, 1, 0), "1.5");
  EXPECT_EQ(Text(batch, 1, 2), "x");
}

TEST(ParseStage, InvalidUtf8MatchesInLatin1AndIsRejectedInUtf8Mode) {
  Schema schema = MakeSchema({{"path", FieldType::kString, ""}});
  const std::string bytes =
      "GET /caf\xc3\xa9 200 1\n"    // valid UTF-8
      "GET /\xff\xfe 200 1\n"       // invalid bytes
      "GET /\xc3 200 1\n"           // truncated sequence
      "GET /\xed\xa0\x80 200 1\n";  // a surrogate, invalid in strict UTF-8
  Chunk chunk = MakeChunk(bytes);
  RecordBatch batch;

  auto latin1 = MustCreate(kKv, schema, /*utf8=*/false);
  ASSERT_NE(latin1, nullptr);
  batch.Reset(chunk, schema.size());
  auto s1 = latin1->NewScratch();
  latin1->Process(batch, *s1);
  EXPECT_EQ(batch.counters.matched, 4u);
  EXPECT_EQ(Text(batch, 0, 1), "/\xff\xfe");

  auto utf8 = MustCreate(kKv, schema, /*utf8=*/true);
  ASSERT_NE(utf8, nullptr);
  batch.Reset(chunk, schema.size());
  auto s2 = utf8->NewScratch();
  utf8->Process(batch, *s2);
  EXPECT_EQ(batch.counters.matched, 1u);
  EXPECT_EQ(batch.counters.invalid_utf8, 3u);
  EXPECT_EQ(batch.counters.mismatched, 0u);
  EXPECT_EQ(batch.selected, (std::vector<uint32_t>{0}));
  EXPECT_EQ(Text(batch, 0, 0), "/caf\xc3\xa9");
  ASSERT_EQ(batch.rejects.size(), 3u);
  for (const RejectedRow& r : batch.rejects) EXPECT_EQ(r.reason, RejectReason::kInvalidUtf8);
}

TEST(ParseStage, Utf8ModeMatchesCharactersNotBytes) {
  Schema schema = MakeSchema({{"c", FieldType::kString, ""}});
  const std::string regex = "x(?P<c>.)y";
  auto latin1 = MustCreate(regex, schema, false);
  auto utf8 = MustCreate(regex, schema, true);
  ASSERT_NE(latin1, nullptr);
  ASSERT_NE(utf8, nullptr);
  Chunk chunk = MakeChunk("x\xc3\xa9y\n");
  RecordBatch batch;
  batch.Reset(chunk, 1);
  auto s1 = latin1->NewScratch();
  latin1->Process(batch, *s1);
  EXPECT_EQ(batch.counters.matched, 0u);  // two bytes, two Latin-1 characters
  batch.Reset(chunk, 1);
  auto s2 = utf8->NewScratch();
  utf8->Process(batch, *s2);
  EXPECT_EQ(batch.counters.matched, 1u);
  EXPECT_EQ(Text(batch, 0, 0), "\xc3\xa9");
}

TEST(ParseStage, NulBytesAreOrdinaryBytes) {
  Schema schema = MakeSchema({{"path", FieldType::kString, ""}, {"status", FieldType::kInt, ""}});
  auto stage = MustCreate(kKv, schema);
  ASSERT_NE(stage, nullptr);
  static const char kRaw[] = "GET /a\0b 200 1\n\0\0\0\nGET /c 2\0000 1\n";
  const std::string bytes(kRaw, sizeof(kRaw) - 1);
  Chunk chunk = MakeChunk(bytes);
  RecordBatch batch;
  batch.Reset(chunk, schema.size());
  ASSERT_EQ(batch.size(), 3u);
  auto scratch = stage->NewScratch();
  stage->Process(batch, *scratch);
  EXPECT_EQ(batch.selected, (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(Text(batch, 0, 0), std::string("/a\0b", 4));
  EXPECT_EQ(batch.field(1, 0).i, 200);
  EXPECT_FALSE(batch.field(1, 2).present);  // "2\0000" is not an integer
  EXPECT_EQ(batch.counters.conversion_errors[1], 1u);
  ASSERT_EQ(batch.rejects.size(), 1u);
  EXPECT_EQ(batch.rejects[0].row, 1u);
}

TEST(ParseStage, OnlyProcessesSelectedRows) {
  Schema schema = MakeSchema({{"status", FieldType::kInt, ""}});
  auto stage = MustCreate(kKv, schema);
  ASSERT_NE(stage, nullptr);
  Chunk chunk = MakeChunk("GET /a 200 1\nbad\nGET /b 500 1\nbad\n");
  RecordBatch batch;
  batch.Reset(chunk, schema.size());
  batch.selected = {1, 2};
  auto scratch = stage->NewScratch();
  stage->Process(batch, *scratch);
  EXPECT_EQ(batch.selected, (std::vector<uint32_t>{2}));
  ASSERT_EQ(batch.rejects.size(), 1u);
  EXPECT_EQ(batch.rejects[0].row, 1u);
  EXPECT_EQ(batch.counters.matched, 1u);
  EXPECT_EQ(batch.counters.mismatched, 1u);
}

TEST(ParseStage, AnchorsBothEnds) {
  Schema schema = MakeSchema({{"n", FieldType::kInt, ""}});
  auto stage = MustCreate("(?P<n>[0-9]+)", schema);
  ASSERT_NE(stage, nullptr);
  Chunk chunk = MakeChunk("12\nx12\n12x\n");
  RecordBatch batch;
  batch.Reset(chunk, 1);
  auto scratch = stage->NewScratch();
  stage->Process(batch, *scratch);
  EXPECT_EQ(batch.selected, (std::vector<uint32_t>{0}));
}

TEST(ParseStage, CapturesOnlySchemaFields) {
  Schema schema = MakeSchema({{"path", FieldType::kString, ""},
                              {"status", FieldType::kInt, ""},
                              {"bytes", FieldType::kInt, ""}});
  auto stage = MustCreate(kCombinedRe, schema);
  ASSERT_NE(stage, nullptr);
  EXPECT_EQ(stage->capture_count(), 3);
  EXPECT_EQ(stage->compiled_regex(), kCombinedMinRe);
  EXPECT_TRUE(HasText(stage->EngineSummary(), "3 captures: one-pass eligible (<= 4 captures)"));
  EXPECT_TRUE(HasText(stage->EngineSummary(), "does not report"));
}

TEST(ParseStage, EngineSummaryByCaptureCount) {
  auto none = MustCreate(kCombinedRe, Schema());
  ASSERT_NE(none, nullptr);
  EXPECT_EQ(none->capture_count(), 0);
  EXPECT_TRUE(HasText(none->EngineSummary(), "DFA only"));

  Schema all;
  for (const char* f : {"ip", "ts", "method", "path", "status", "bytes", "referer", "agent"}) {
    all.Add({f, FieldType::kString, ""});
  }
  auto eight = MustCreate(kCombinedRe, all);
  ASSERT_NE(eight, nullptr);
  EXPECT_EQ(eight->capture_count(), 8);
  EXPECT_TRUE(HasText(eight->EngineSummary(),
                      "BitState/NFA (> 4 captures: consider capturing fewer fields)"));
}

TEST(ParseStage, FieldWithoutGroupIsConfigError) {
  Schema schema = MakeSchema({{"status", FieldType::kInt, ""}, {"nope", FieldType::kInt, ""}});
  ParseOptions options;
  options.regex = kKv;
  Result<std::unique_ptr<ParseStage>> stage = ParseStage::Create(options, schema);
  ASSERT_FALSE(stage.ok());
  EXPECT_EQ(stage.status().code(), StatusCode::kConfig);
  EXPECT_TRUE(HasText(stage.status().message(), "'nope'"));
  EXPECT_TRUE(HasText(stage.status().message(), kKv));
}

TEST(ParseStage, BadRegexQuotesPatternAndRe2Message) {
  const std::string bad = "(?P<status>[0-9]+";
  re2::RE2 re(bad, re2::RE2::Quiet);
  ASSERT_FALSE(re.ok());
  ParseOptions options;
  options.regex = bad;
  Result<std::unique_ptr<ParseStage>> stage = ParseStage::Create(options, Schema());
  ASSERT_FALSE(stage.ok());
  EXPECT_EQ(stage.status().code(), StatusCode::kConfig);
  EXPECT_TRUE(HasText(stage.status().message(), "'" + bad + "'"));
  EXPECT_TRUE(HasText(stage.status().message(), re.error()));
}

TEST(ParseStage, BadTimeFormatNamesField) {
  Schema schema = MakeSchema({{"path", FieldType::kTime, "%Q"}});
  ParseOptions options;
  options.regex = kKv;
  Result<std::unique_ptr<ParseStage>> stage = ParseStage::Create(options, schema);
  ASSERT_FALSE(stage.ok());
  EXPECT_EQ(stage.status().code(), StatusCode::kConfig);
  EXPECT_TRUE(HasText(stage.status().message(), "'path'"));
  EXPECT_TRUE(HasText(stage.status().message(), "%Q"));
}

// Lines [first, first + count) of the sample access log as one chunk's bytes.
std::string AccessLines(int first, int count) {
  static const std::string data = ReadFile(LOGPIPE_SOURCE_DIR "/data/sample/apache_combined.log");
  std::istringstream in(data);
  std::string line;
  std::string out;
  for (int i = 0; std::getline(in, line) && i < first + count; ++i) {
    if (i >= first) out += line + "\n";
  }
  return out;
}

void ExpectSecondBatchAllocatesNothing(const ParseStage& stage, const Schema& schema,
                                       const std::string& first, const std::string& second) {
  Chunk a = MakeChunk(first);
  Chunk b = MakeChunk(second);
  RecordBatch batch;
  auto scratch = stage.NewScratch();
  batch.Reset(a, schema.size());
  stage.Process(batch, *scratch);
  const uint64_t matched_first = batch.counters.matched;
  batch.Reset(b, schema.size());
  const uint64_t before = logpipe::testing::AllocationCount();
  stage.Process(batch, *scratch);
  const uint64_t allocations = logpipe::testing::AllocationCount() - before;
  EXPECT_EQ(allocations, 0u) << stage.EngineSummary();
  EXPECT_GT(matched_first, 0u);
  EXPECT_GT(batch.counters.matched, 0u);
}

TEST(ParseStage, SecondBatchOfSameShapeAllocatesNothing) {
  // 4 captures incl. a time field; lines 8890-8909 hold the one line combined rejects.
  Schema schema = MakeSchema({{"path", FieldType::kString, ""},
                              {"status", FieldType::kInt, ""},
                              {"bytes", FieldType::kInt, ""},
                              {"ts", FieldType::kTime, "%d/%b/%Y:%H:%M:%S %z"}});
  auto stage = MustCreate(kCombinedRe, schema);
  ASSERT_NE(stage, nullptr);
  ExpectSecondBatchAllocatesNothing(*stage, schema, AccessLines(0, 200), AccessLines(8800, 200));

  auto utf8 = MustCreate(kCombinedRe, schema, /*utf8=*/true);
  ASSERT_NE(utf8, nullptr);
  ExpectSecondBatchAllocatesNothing(*utf8, schema, AccessLines(0, 200), AccessLines(8800, 200));
}

TEST(ParseStage, SecondBatchWithoutCapturesAllocatesNothing) {
  // No captures: RE2's DFA alone. Its state cache warms on the first batch, so the second
  // batch repeats the same lines.
  auto stage = MustCreate(kCombinedRe, Schema());
  ASSERT_NE(stage, nullptr);
  ExpectSecondBatchAllocatesNothing(*stage, Schema(), AccessLines(0, 300), AccessLines(0, 300));
}

// ---- multi-line events ----------------------------------------------------------------

TEST(ParseStage, MultilineMatchesTheWholeEventAndFillsEventLines) {
  Schema schema = MakeSchema({{"level", FieldType::kString, ""},
                              {"exception", FieldType::kString, ""},
                              {"event_lines", FieldType::kInt, ""}});
  ParseOptions options;
  options.regex = R"(\[(?P<level>[A-Z]+)\] [^\n]*(?:\n(?P<exception>[\w.]+):(?s:.*))?)";
  options.multiline = true;
  for (bool scanner : {true, false}) {
    options.allow_scanner = scanner;
    Result<std::unique_ptr<ParseStage>> stage = ParseStage::Create(options, schema);
    ASSERT_TRUE(stage.ok()) << stage.status().message();
    std::unique_ptr<Scratch> scratch = (*stage)->NewScratch();
    Chunk chunk = MakeChunk(
        "[WARN] send failed\r\njava.io.IOException: closed\r\n\tat a.B(B.java:1)\r\n"
        "[INFO] fine\r\n"
        "[lower] x\n");
    const StartsEventFn starts = [](std::string_view l) { return !l.empty() && l[0] == '['; };
    RecordBatch batch;
    batch.Reset(chunk, schema.size(), &starts);
    (*stage)->Process(batch, *scratch);
    ASSERT_EQ(batch.selected, (std::vector<uint32_t>{0, 1})) << "scanner " << scanner;
    ASSERT_EQ(batch.size(), 3u);
    EXPECT_EQ(Text(batch, 0, 0), "WARN");
    EXPECT_EQ(Text(batch, 1, 0), "java.io.IOException");
    EXPECT_EQ(batch.field(2, 0).i, 3);
    EXPECT_TRUE(batch.field(2, 0).present);
    EXPECT_FALSE(batch.field(1, 1).present);
    EXPECT_EQ(batch.field(2, 1).i, 1);
    ASSERT_EQ(batch.rejects.size(), 1u);
    EXPECT_EQ(batch.rejects[0].row, 2u);
    EXPECT_EQ(batch.line_number(2), 5u);
    EXPECT_EQ(batch.counters.matched, 2u);
    EXPECT_EQ(batch.counters.mismatched, 1u);
    EXPECT_EQ(batch.counters.conversion_errors[2], 0u);
  }
}

TEST(ParseStage, EventLinesIsAFieldOnlyWithMultiline) {
  Schema schema = MakeSchema({{"event_lines", FieldType::kInt, ""}});
  ParseOptions options;
  options.regex = "(?P<level>[A-Z]+)";
  EXPECT_FALSE(ParseStage::Create(options, schema).ok());
  options.multiline = true;
  EXPECT_TRUE(ParseStage::Create(options, schema).ok());
}

}  // namespace
}  // namespace logpipe
