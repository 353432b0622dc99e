#include "stages/pattern_library.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "io/chunk.h"
#include "stages/parse_stage.h"
#include "stages/record_batch.h"
#include "stages/schema.h"
#include "stages/time_format.h"

namespace logpipe {
namespace {

const std::string kSample = LOGPIPE_SOURCE_DIR "/data/sample/";
const std::string kLaravel = LOGPIPE_SOURCE_DIR "/../shared/data/real/lnav/logfile_laravel.0";

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

// The lines of `data` by the line-counting rule of shared/data/real/README.md: split on '\n',
// a final line without '\n' counts, one trailing '\r' is stripped.
std::vector<std::string> Lines(const std::string& data) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < data.size()) {
    size_t nl = data.find('\n', start);
    if (nl == std::string::npos) nl = data.size();
    std::string line = data.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    start = nl + 1;
  }
  return lines;
}

const BuiltinPattern& Pattern(const std::string& name) {
  const BuiltinPattern* p = FindBuiltinPattern(name);
  EXPECT_NE(p, nullptr) << name;
  static const BuiltinPattern kEmpty;
  return p ? *p : kEmpty;
}

// A schema with every named group of `pattern`, typed by its default_types.
Schema FullSchema(const BuiltinPattern& pattern) {
  Schema schema;
  Result<std::vector<std::string>> names = NamedGroups(pattern.regex);
  EXPECT_TRUE(names.ok()) << names.status().message();
  if (!names.ok()) return schema;
  for (const std::string& name : *names) {
    FieldSpec spec{name, FieldType::kString, ""};
    for (const FieldSpec& typed : pattern.default_types) {
      if (typed.name == name) spec = typed;
    }
    schema.Add(spec);
  }
  return schema;
}

// Runs `pattern` (all fields, default types) over `data` as one chunk.
struct Run {
  Schema schema;
  std::unique_ptr<ParseStage> stage;
  Chunk chunk;
  RecordBatch batch;

  std::string_view Text(const std::string& field, uint32_t row) const {
    return batch.field(*schema.Find(field), row).text;
  }
  const Value& Field(const std::string& field, uint32_t row) const {
    return batch.field(*schema.Find(field), row);
  }
  uint64_t TotalConversionErrors() const {
    uint64_t n = 0;
    for (uint64_t e : batch.counters.conversion_errors) n += e;
    return n;
  }
};

std::unique_ptr<Run> RunPattern(const std::string& name, const std::string& data) {
  auto run = std::make_unique<Run>();
  run->schema = FullSchema(Pattern(name));
  ParseOptions options;
  options.regex = Pattern(name).regex;
  Result<std::unique_ptr<ParseStage>> stage = ParseStage::Create(options, run->schema);
  EXPECT_TRUE(stage.ok()) << stage.status().message();
  if (!stage.ok()) return nullptr;
  run->stage = std::move(*stage);
  run->chunk.Reserve(data.size() + 1);
  std::memcpy(run->chunk.mutable_data(), data.data(), data.size());
  run->chunk.set_size(data.size());
  run->batch.Reset(run->chunk, run->schema.size());
  auto scratch = run->stage->NewScratch();
  run->stage->Process(run->batch, *scratch);
  return run;
}

std::string MustRead(const std::string& path) {
  std::string data;
  EXPECT_TRUE(ReadFile(path, &data)) << path;
  return data;
}

bool StartsWith(const std::string& s, const char* prefix) {
  return s.compare(0, std::strlen(prefix), prefix) == 0;
}
bool Contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// ---- the library itself -----------------------------------------------------------------

TEST(PatternLibrary, NamesAreUniqueAndFindable) {
  std::set<std::string> names;
  for (const BuiltinPattern& p : BuiltinPatterns()) {
    EXPECT_TRUE(names.insert(p.name).second) << p.name;
    EXPECT_EQ(FindBuiltinPattern(p.name), &p);
    EXPECT_FALSE(p.description.empty()) << p.name;
  }
  for (const char* expected :
       {"combined", "common", "combined_xff", "syslog", "syslog5424", "sshd", "kafka", "laravel"}) {
    EXPECT_EQ(names.count(expected), 1u) << expected;
  }
  EXPECT_EQ(FindBuiltinPattern("no_such_pattern"), nullptr);
}

TEST(PatternLibrary, EveryPatternCompilesAndMatchesItsExample) {
  for (const BuiltinPattern& p : BuiltinPatterns()) {
    SCOPED_TRACE(p.name);
    Result<std::vector<std::string>> names = NamedGroups(p.regex);
    ASSERT_TRUE(names.ok()) << names.status().message();
    for (const FieldSpec& typed : p.default_types) {
      EXPECT_NE(std::find(names->begin(), names->end(), typed.name), names->end())
          << typed.name << " has a default type but no group";
      if (typed.type == FieldType::kTime) {
        EXPECT_TRUE(TimeFormat::Compile(typed.time_format).ok()) << typed.time_format;
      }
    }
    auto run = RunPattern(p.name, p.example);
    ASSERT_NE(run, nullptr);
    EXPECT_EQ(run->batch.counters.matched, 1u) << p.example;
    EXPECT_EQ(run->TotalConversionErrors(), 0u) << p.example;
    // Every typed field that has a value in the example converts.
    for (const FieldSpec& typed : p.default_types) {
      const Value& v = run->Field(typed.name, 0);
      if (!v.text.empty() && v.text != "-") {
        EXPECT_TRUE(v.present) << typed.name;
      }
    }
  }
}

TEST(PatternLibrary, SyslogTimestampsStayStrings) {
  // Syslog lines carry no year: a typed ts would be a guess (see time_format.h).
  for (const char* name : {"syslog", "sshd"}) {
    for (const FieldSpec& typed : Pattern(name).default_types) {
      EXPECT_NE(typed.name, "ts") << name;
    }
  }
}

// ---- real files -------------------------------------------------------------------------

TEST(PatternLibrary, CombinedOnApacheLogRejectsOnlyLine8899) {
  const std::string data = MustRead(kSample + "apache_combined.log");
  const std::vector<std::string> lines = Lines(data);
  ASSERT_EQ(lines.size(), 10000u);
  // Independent count: a well-formed combined line has exactly 6 double quotes and ends with
  // one (awk -F'"' 'NF==7 && /"$/' gives 9999; README: line 8899 lost its closing quote).
  uint64_t expected = 0;
  for (const std::string& l : lines) {
    if (std::count(l.begin(), l.end(), '"') == 6 && l.back() == '"') ++expected;
  }
  EXPECT_EQ(expected, 9999u);
  auto run = RunPattern("combined", data);
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->batch.counters.matched, expected);
  ASSERT_EQ(run->batch.rejects.size(), 1u);
  EXPECT_EQ(run->batch.line_number(run->batch.rejects[0].row), 8899u);
  EXPECT_EQ(run->TotalConversionErrors(), 0u);
  // Line 1: 83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/... HTTP/1.1"
  // 200 203023 ...
  EXPECT_EQ(run->Text("ip", 0), "83.149.9.216");
  EXPECT_EQ(run->Text("protocol", 0), "HTTP/1.1");
  EXPECT_EQ(run->Field("status", 0).i, 200);
  EXPECT_EQ(run->Field("bytes", 0).i, 203023);
  EXPECT_EQ(run->Field("ts", 0).i, 1431857103000);
  EXPECT_FALSE(run->Field("request_time", 0).present);
  EXPECT_FALSE(run->Field("user", 0).present);  // "-"
}

TEST(PatternLibrary, CombinedAcceptsNginxRequestTime) {
  auto run = RunPattern("combined", Pattern("combined").example + " 0.123\n");
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->batch.counters.matched, 1u);
  EXPECT_DOUBLE_EQ(run->Field("request_time", 0).f, 0.123);
}

TEST(PatternLibrary, CommonOnClfPrefixesOfApacheLog) {
  // CLF lines made from the real ones: the first 10 space-separated tokens of each line are
  // exactly the common-format part (ip ident user [date zone] "method path proto" status
  // bytes). All 10000 qualify, line 8899 included: its damage is in the user agent.
  const std::vector<std::string> lines = Lines(MustRead(kSample + "apache_combined.log"));
  std::string clf;
  for (const std::string& l : lines) {
    size_t pos = 0;
    for (int spaces = 0; spaces < 10 && pos != std::string::npos; ++spaces) {
      pos = l.find(' ', pos + (spaces ? 1 : 0));
    }
    clf += l.substr(0, pos) + "\n";
  }
  auto run = RunPattern("common", clf);
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->batch.counters.matched, 10000u);
  EXPECT_EQ(run->TotalConversionErrors(), 0u);
  // And common rejects full combined lines: it is anchored at both ends.
  auto full = RunPattern("common", lines[0] + "\n");
  ASSERT_NE(full, nullptr);
  EXPECT_EQ(full->batch.counters.matched, 0u);
}

TEST(PatternLibrary, CombinedXffOnNginxShopLog) {
  const std::string data = MustRead(kSample + "nginx_shop_access.log");
  const std::vector<std::string> lines = Lines(data);
  ASSERT_EQ(lines.size(), 1000u);
  // Independent count: 8 double quotes per line (awk -F'"' 'NF==9' gives 1000).
  uint64_t expected = 0;
  for (const std::string& l : lines) {
    if (std::count(l.begin(), l.end(), '"') == 8 && l.back() == '"') ++expected;
  }
  auto run = RunPattern("combined_xff", data);
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->batch.counters.matched, expected);
  EXPECT_EQ(expected, 1000u);
  EXPECT_EQ(run->TotalConversionErrors(), 0u);
  // Line 1: [22/Jan/2019:03:56:14 +0330] is 00:26:14 UTC.
  std::string iso;
  AppendIsoTime(run->Field("ts", 0).i, &iso);
  EXPECT_EQ(iso, "2019-01-22T00:26:14Z");
  EXPECT_FALSE(run->Field("forwarded_for", 0).present);  // "-"
  // The plain combined pattern rejects these lines: they end with the extra quoted field.
  auto combined = RunPattern("combined", data);
  ASSERT_NE(combined, nullptr);
  EXPECT_EQ(combined->batch.counters.matched, 0u);
}

TEST(PatternLibrary, SyslogOnAuthLog) {
  const std::string data = MustRead(kSample + "auth.log");
  const std::vector<std::string> lines = Lines(data);
  ASSERT_EQ(lines.size(), 7121u);
  // Independent count: "Mmm dd hh:mm:ss host " then "prog: " or "prog[pid]: ".
  uint64_t expected = 0;
  uint64_t with_pid = 0;
  for (const std::string& l : lines) {
    if (l.size() < 16 || l[3] != ' ' || l[6] != ' ' || l[9] != ':' || l[12] != ':' ||
        l[15] != ' ') {
      continue;
    }
    const size_t host_end = l.find(' ', 16);
    const size_t colon = l.find(": ", host_end + 1);
    if (host_end == std::string::npos || colon == std::string::npos) continue;
    const std::string program = l.substr(host_end + 1, colon - host_end - 1);
    if (program.find(' ') != std::string::npos) continue;
    ++expected;
    if (program.back() == ']') ++with_pid;
  }
  EXPECT_EQ(expected, 7121u);
  auto run = RunPattern("syslog", data);
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->batch.counters.matched, expected);
  uint64_t pids = 0;
  for (uint32_t row : run->batch.selected) pids += run->Field("pid", row).present;
  EXPECT_EQ(pids, with_pid);
  // Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: Server listening on 0.0.0.0 port 22.
  EXPECT_EQ(run->Text("ts", 0), "Mar 27 13:06:56");
  EXPECT_EQ(run->Text("host", 0), "ip-10-77-20-248");
  EXPECT_EQ(run->Text("program", 0), "sshd");
  EXPECT_EQ(run->Field("pid", 0).i, 1291);
  EXPECT_EQ(run->Text("message", 0), "Server listening on 0.0.0.0 port 22.");
}

TEST(PatternLibrary, SshdOnAuthLog) {
  const std::string data = MustRead(kSample + "auth.log");
  const std::vector<std::string> lines = Lines(data);
  // Independent count by substring: an sshd line whose message starts with one of the three
  // events. By hand: grep -cE 'sshd\[[0-9]+\]: (Accepted|Failed|Invalid user) ' gives 1036
  // (297 + 288 + 43 failed password, 4 failed publickey, 190 + 36 accepted, 178 invalid
  // user). The 85 "message repeated N times: [ Failed password ...]" lines are not matched.
  uint64_t expected = 0;
  uint64_t invalid = 0;
  uint64_t empty_user = 0;
  for (const std::string& l : lines) {
    if (!Contains(l, " sshd[")) continue;
    const bool inv = Contains(l, "]: Invalid user ");
    if (!Contains(l, "]: Accepted ") && !Contains(l, "]: Failed ") && !inv) continue;
    ++expected;
    invalid += inv;
    empty_user += Contains(l, " user  from ");
  }
  EXPECT_EQ(expected, 1036u);
  auto run = RunPattern("sshd", data);
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->batch.counters.matched, expected);
  EXPECT_EQ(run->TotalConversionErrors(), 0u);
  uint64_t got_invalid = 0;
  uint64_t got_empty_user = 0;
  uint64_t with_port = 0;
  for (uint32_t row : run->batch.selected) {
    got_invalid += run->Text("event", row) == "Invalid user";
    got_empty_user += !run->Field("user", row).present;
    with_port += run->Field("port", row).present;
    EXPECT_TRUE(run->Field("ip", row).present);
  }
  EXPECT_EQ(got_invalid, invalid);
  EXPECT_EQ(got_empty_user, empty_user);
  EXPECT_EQ(with_port, expected - invalid);  // "Invalid user X from IP" has no port here
  // Find the example line and check every field.
  const std::string example =
      "Mar 29 11:35:20 ip-10-77-20-248 sshd[1361]: Accepted password for elastic_user_2 from "
      "85.245.107.41 port 50690 ssh2";
  bool seen = false;
  for (uint32_t row : run->batch.selected) {
    if (run->batch.line(row) != example) continue;
    seen = true;
    EXPECT_EQ(run->Text("event", row), "Accepted");
    EXPECT_EQ(run->Text("method", row), "password");
    EXPECT_EQ(run->Text("user", row), "elastic_user_2");
    EXPECT_EQ(run->Text("ip", row), "85.245.107.41");
    EXPECT_EQ(run->Field("port", row).i, 50690);
    EXPECT_EQ(run->Field("pid", row).i, 1361);
  }
  EXPECT_TRUE(seen);
}

TEST(PatternLibrary, SshdVariants) {
  const std::string data =
      "Apr  1 02:03:04 h sshd[7]: Failed password for invalid user admin from 10.0.0.1 port 22 "
      "ssh2\n"
      "Apr  1 02:03:04 h sshd[7]: Invalid user admin from 10.0.0.1 port 4242\n"
      "Apr  1 02:03:04 h sshd[7]: Failed publickey for root from 10.0.0.1 port 5 ssh2: RSA "
      "SHA256:abc\n"
      "Apr  1 02:03:04 h sshd[7]: Failed none for invalid user x from ::1 port 5 ssh2 "
      "[preauth]\n"
      "Apr  1 02:03:04 h sshd[7]: Connection closed by 10.0.0.1 port 22 [preauth]\n";
  auto run = RunPattern("sshd", data);
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->batch.selected, (std::vector<uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(run->Text("user", 0), "admin");
  EXPECT_EQ(run->Text("method", 0), "password");
  EXPECT_FALSE(run->Field("method", 1).present);
  EXPECT_EQ(run->Field("port", 1).i, 4242);
  EXPECT_EQ(run->Text("method", 2), "publickey");
  EXPECT_EQ(run->Text("ip", 3), "::1");
}

TEST(PatternLibrary, KafkaOnServerLog) {
  const std::string data = MustRead(kSample + "kafka_server.log");
  const std::vector<std::string> lines = Lines(data);
  ASSERT_EQ(lines.size(), 721u);
  // Independent count: events start with '['; stack-trace lines start with a tab or a class
  // name. By hand: grep -c '^\[' gives 706 (721 lines, 15 continuation lines).
  uint64_t expected = 0;
  for (const std::string& l : lines) expected += StartsWith(l, "[");
  EXPECT_EQ(expected, 706u);
  auto run = RunPattern("kafka", data);
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->batch.counters.matched, expected);
  EXPECT_EQ(run->TotalConversionErrors(), 0u);
  // [2016-12-19 20:39:48,918] WARN [ReplicaFetcherThread-0-2], Error in fetch ...
  // (kafka.server.ReplicaFetcherThread)
  std::string iso;
  AppendIsoTime(run->Field("ts", 0).i, &iso);
  EXPECT_EQ(iso, "2016-12-19T20:39:48.918Z");
  EXPECT_EQ(run->Text("level", 0), "WARN");
  EXPECT_EQ(run->Text("logger", 0), "kafka.server.ReplicaFetcherThread");
}

TEST(PatternLibrary, LaravelOnLnavFixture) {
  std::string data;
  if (!ReadFile(kLaravel, &data)) GTEST_SKIP() << kLaravel << " not found";
  const std::vector<std::string> lines = Lines(data);
  ASSERT_EQ(lines.size(), 1416u);
  // Independent count: events start with "[20" (grep -c '^\[20' gives 82, the README's
  // 82 events); other lines starting with '[' are "[stacktrace]" and "[previous exception]".
  uint64_t expected = 0;
  for (const std::string& l : lines) expected += StartsWith(l, "[20");
  EXPECT_EQ(expected, 82u);
  auto run = RunPattern("laravel", data);
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->batch.counters.matched, expected);
  EXPECT_EQ(run->TotalConversionErrors(), 0u);
  EXPECT_EQ(run->Text("env", 0), "local");
  EXPECT_EQ(run->Text("level", 0), "ERROR");
  std::string iso;
  AppendIsoTime(run->Field("ts", 0).i, &iso);
  EXPECT_EQ(iso, "2023-05-15T18:19:32Z");
}

TEST(PatternLibrary, Syslog5424RfcExamples) {
  // The four examples of RFC 5424 section 6.5 ("BOM" written as its bytes).
  const std::string data =
      "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' "
      "failed for lonvick on /dev/pts/8\n"
      "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make "
      "the do-nuts.\n"
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
      "\xEF\xBB\xBF"
      "An application event log entry...\n"
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
      "[examplePriority@32473 class=\"high\"]\n";
  auto run = RunPattern("syslog5424", data);
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->batch.counters.matched, 4u);
  EXPECT_EQ(run->TotalConversionErrors(), 0u);
  EXPECT_EQ(run->Field("pri", 0).i, 34);
  EXPECT_EQ(run->Text("app", 0), "su");
  EXPECT_FALSE(run->Field("procid", 0).present);
  EXPECT_EQ(run->Text("msgid", 0), "ID47");
  EXPECT_FALSE(run->Field("sd", 0).present);
  std::string iso;
  AppendIsoTime(run->Field("ts", 1).i, &iso);
  EXPECT_EQ(iso, "2003-08-24T12:14:15Z");
  EXPECT_EQ(run->Field("procid", 1).text, "8710");
  EXPECT_EQ(run->Field("sd", 3).text,
            "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
            "[examplePriority@32473 class=\"high\"]");
  EXPECT_FALSE(run->Field("message", 3).present);
}

}  // namespace
}  // namespace logpipe
