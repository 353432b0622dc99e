// End-to-end: multi-line events on real logs (the Kafka controller log's Java stack traces,
// the Laravel log's PHP errors), on every execution model and at tiny and default chunk
// sizes. Every expected number comes from a plain line scan in this file, not from logpipe.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace logpipe::testing {
namespace {

using nlohmann::json;

struct ScannedEvent {
  uint64_t first_line = 0;
  std::vector<std::string> lines;  // without '\n' and one trailing '\r'
};

// Splits on '\n' (a last line without it counts), strips one '\r', and starts an event at
// every line for which `starts` is true (and at the first line).
template <typename Starts>
std::vector<ScannedEvent> ScanEvents(const std::string& bytes, Starts starts,
                                     uint64_t* line_count) {
  std::vector<ScannedEvent> events;
  std::istringstream in(bytes);
  std::string line;
  uint64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (events.empty() || starts(line)) events.push_back({n, {}});
    events.back().lines.push_back(line);
  }
  *line_count = n;
  return events;
}

bool KafkaStart(const std::string& line) {
  return line.size() > 5 && line[0] == '[' && line.compare(1, 2, "20") == 0;
}
bool LaravelStart(const std::string& line) {
  return line.size() > 12 && line[0] == '[' && line[5] == '-' && line[8] == '-' &&
         line[11] == ' ';
}

// "[2016-12-19 18:14:40,211] WARN ..." -> "WARN"
std::string KafkaLevel(const ScannedEvent& e) {
  const std::string& l = e.lines[0];
  size_t start = l.find("] ") + 2;
  return l.substr(start, l.find(' ', start) - start);
}
// The exception of a trace: the second line up to ':' (java.io.IOException: ...).
std::string KafkaException(const ScannedEvent& e) {
  if (e.lines.size() < 2) return "";
  return e.lines[1].substr(0, e.lines[1].find(':'));
}

const std::vector<std::string> kModels = {"serial", "threads", "tbb", "processes"};
// The exec key for `model`: serial runs on one worker, the others on two.
std::string Exec(const std::string& model) {
  return "{model: " + model + ", workers: " + (model == "serial" ? "1" : "2") + "}";
}

const char kKafkaRegex[] =
    R"('\[(?P<ts>[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8},[0-9]{3})\] (?P<level>[A-Z]+) )"
    R"((?P<message>.*) \((?P<logger>[^ ()]*)\)(?:\n(?P<exception>[A-Za-z0-9_.$]+))"
    R"((?::[^\n]*)?(?s:\n.*)?)?')";

std::string KafkaYaml(const std::string& input, const std::string& dir, const std::string& model,
                      const std::string& multiline_extra = "") {
  return "name: kafka\ninputs:\n  - path: \"" + input +
         "\"\nstages:\n  - type: parse\n    regex: " + kKafkaRegex +
         "\n    multiline: {start: '^\\[[0-9]{4}-'" + multiline_extra +
         "}\n    on_mismatch: reject\n    rejects: \"" + dir +
         "/rejects.txt\"\n    exec: " + Exec(model) + "\n"
         "  - type: aggregate\n    name: by_level\n    group_by: [level]\n"
         "    metrics: {events: count, lines: sum(event_lines)}\n"
         "  - type: aggregate\n    name: by_exception\n    group_by: [exception]\n"
         "    metrics: {events: count, lines: sum(event_lines), longest: max(event_lines)}\n"
         "outputs:\n  - {path: \"" + dir + "/report.json\", format: json}\n"
         "  - {kind: records, path: \"" + dir +
         "/records.jsonl\", fields: [level, event_lines], line_numbers: true}\n";
}

const std::vector<std::string> kChunkSizes = {"1", "4KiB", "4MiB"};

// Per key: count and line sum, from a table whose key column is `key` (null -> "").
std::map<std::string, std::pair<uint64_t, uint64_t>> TableCounts(const json& rows,
                                                                 const std::string& key) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> out;
  for (const json& row : rows) {
    const std::string k = row[key].is_null() ? "" : row[key].get<std::string>();
    out[k] = {row["events"].get<uint64_t>(), row["lines"].get<uint64_t>()};
  }
  return out;
}

TEST(Multiline, KafkaControllerTracesAreWholeEventsOnEveryModelAndChunkSize) {
  const std::string input = SourcePath("data/sample/kafka_controller.log");
  uint64_t lines = 0;
  const std::vector<ScannedEvent> events = ScanEvents(ReadFile(input), KafkaStart, &lines);
  // What shared/data/real/README.md says about this file.
  ASSERT_EQ(lines, 1032u);
  uint64_t traces = 0, continuation = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_level, by_exception;
  std::vector<std::pair<uint64_t, uint64_t>> line_and_size;
  for (const ScannedEvent& e : events) {
    traces += e.lines.size() > 1;
    continuation += e.lines.size() - 1;
    by_level[KafkaLevel(e)].first += 1;
    by_level[KafkaLevel(e)].second += e.lines.size();
    by_exception[KafkaException(e)].first += 1;
    by_exception[KafkaException(e)].second += e.lines.size();
    line_and_size.push_back({e.first_line, e.lines.size()});
  }
  ASSERT_EQ(traces, 32u);
  ASSERT_EQ(continuation, 229u);
  ASSERT_EQ(events.size(), 803u);
  ASSERT_EQ(by_exception.size(), 2u);  // none, and java.io.IOException
  ASSERT_EQ(by_exception["java.io.IOException"].first, 32u);

  for (const std::string& model : kModels) {
    for (const std::string& chunk : kChunkSizes) {
      SCOPED_TRACE(model + " chunk_bytes=" + chunk);
      TempDir dir;
      CommandResult r = RunConfig(dir, KafkaYaml(input, dir.path(), model),
                                  {"--set", "read.chunk_bytes=" + chunk});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      json report = ReadJson(dir.path() + "/report.json");
      EXPECT_EQ(report["totals"]["lines"], 1032);
      EXPECT_EQ(report["totals"]["events"], events.size());
      EXPECT_EQ(report["totals"]["matched"], events.size());
      EXPECT_EQ(report["totals"]["unparsed"], 0);
      EXPECT_EQ(report["totals"]["truncated_events"], 0);
      EXPECT_EQ(report["totals"]["dropped_lines"], 0);
      EXPECT_EQ(TableCounts(report["tables"]["by_level"]["rows"], "level"), by_level);
      EXPECT_EQ(TableCounts(report["tables"]["by_exception"]["rows"], "exception"), by_exception);
      // Each record: its event's first line number and its number of lines, in input order.
      std::vector<std::pair<uint64_t, uint64_t>> got;
      std::istringstream records(ReadFile(dir.path() + "/records.jsonl"));
      for (std::string line; std::getline(records, line);) {
        json rec = json::parse(line);
        got.push_back({rec["_line"].get<uint64_t>(), rec["event_lines"].get<uint64_t>()});
      }
      EXPECT_EQ(got, line_and_size);
      EXPECT_EQ(ReadFile(dir.path() + "/rejects.txt"), "");
    }
  }
}

TEST(Multiline, TraceLongerThanMaxLinesIsTruncatedAndCountedOnEveryModel) {
  const std::string input = SourcePath("data/sample/kafka_controller.log");
  constexpr uint64_t kMaxLines = 5;
  uint64_t lines = 0;
  const std::vector<ScannedEvent> events = ScanEvents(ReadFile(input), KafkaStart, &lines);
  uint64_t truncated = 0, dropped = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_level;
  for (const ScannedEvent& e : events) {
    const uint64_t kept = std::min<uint64_t>(e.lines.size(), kMaxLines);
    truncated += e.lines.size() > kMaxLines;
    dropped += e.lines.size() - kept;
    by_level[KafkaLevel(e)].first += 1;
    by_level[KafkaLevel(e)].second += kept;
  }
  ASSERT_EQ(truncated, 32u);  // every trace is 8 or 13 lines with its WARN
  for (const std::string& model : kModels) {
    for (const char* chunk : {"1", "4MiB"}) {
      SCOPED_TRACE(model + " chunk_bytes=" + chunk);
      TempDir dir;
      CommandResult r = RunConfig(
          dir, KafkaYaml(input, dir.path(), model, ", max_lines: " + std::to_string(kMaxLines)),
          {"--set", std::string("read.chunk_bytes=") + chunk});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      json report = ReadJson(dir.path() + "/report.json");
      EXPECT_EQ(report["totals"]["lines"], 1032);  // dropped lines are still input lines
      EXPECT_EQ(report["totals"]["events"], events.size());
      EXPECT_EQ(report["totals"]["truncated_events"], truncated);
      EXPECT_EQ(report["totals"]["dropped_lines"], dropped);
      EXPECT_EQ(TableCounts(report["tables"]["by_level"]["rows"], "level"), by_level);
      const json& rows = report["tables"]["by_exception"]["rows"];
      ASSERT_EQ(rows.size(), 2u);
      EXPECT_EQ(rows[1]["longest"], kMaxLines);
    }
  }
}

TEST(Multiline, CrlfAndNoFinalNewlineGiveTheSameEvents) {
  const std::string lf = ReadFile(SourcePath("data/sample/kafka_controller.log"));
  std::string crlf;
  for (char c : lf) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  crlf.resize(crlf.size() - 2);  // the last line ends with neither '\r' nor '\n'
  TempDir dir;
  const std::string lf_dir = dir.path() + "/lf", crlf_dir = dir.path() + "/crlf";
  std::filesystem::create_directories(lf_dir);
  std::filesystem::create_directories(crlf_dir);
  const std::string crlf_input = dir.Write("crlf.log", crlf);
  CommandResult a = RunConfig(dir, KafkaYaml(SourcePath("data/sample/kafka_controller.log"),
                                             lf_dir, "processes"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  CommandResult b = RunConfig(dir, KafkaYaml(crlf_input, crlf_dir, "tbb"),
                              {"--set", "read.chunk_bytes=1"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  json ra = ReadJson(lf_dir + "/report.json"), rb = ReadJson(crlf_dir + "/report.json");
  EXPECT_EQ(ra["tables"], rb["tables"]);
  EXPECT_EQ(rb["totals"]["lines"], 1032);
  EXPECT_EQ(rb["totals"]["matched"], 803);
  EXPECT_EQ(ReadFile(lf_dir + "/records.jsonl"), ReadFile(crlf_dir + "/records.jsonl"));
}

TEST(Multiline, RejectedEventIsOneRejectsLineAtItsFirstLine) {
  // The built-in kafka pattern ends at the logger, so events with a trace do not match.
  const std::string input = SourcePath("data/sample/kafka_controller.log");
  uint64_t lines = 0;
  const std::vector<ScannedEvent> events = ScanEvents(ReadFile(input), KafkaStart, &lines);
  std::string want;
  for (const ScannedEvent& e : events) {
    if (e.lines.size() == 1) continue;
    want += input + ":" + std::to_string(e.first_line) + "\tno match\t";
    for (size_t i = 0; i < e.lines.size(); ++i) {
      for (char c : e.lines[i]) want += c == '\t' ? std::string("\\t") : std::string(1, c);
      if (i + 1 < e.lines.size()) want += "\\n";
    }
    want += "\n";
  }
  for (const std::string& model : kModels) {
    SCOPED_TRACE(model);
    TempDir dir;
    const std::string yaml =
        "inputs: [\"" + input + "\"]\nstages:\n  - type: parse\n    pattern: kafka\n"
        "    multiline: {start: '^\\['}\n    on_mismatch: reject\n    rejects: \"" + dir.path() +
        "/rejects.txt\"\n    exec: " + Exec(model) + "\n"
        "outputs:\n  - {path: \"" + dir.path() + "/report.json\", format: json}\n";
    CommandResult r = RunConfig(dir, yaml, {"--set", "read.chunk_bytes=1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json report = ReadJson(dir.path() + "/report.json");
    EXPECT_EQ(report["totals"]["unparsed"], 32);
    EXPECT_EQ(report["totals"]["matched"], 803 - 32);
    EXPECT_EQ(ReadFile(dir.path() + "/rejects.txt"), want);
  }
}

// The exception class in Monolog's JSON context: {"exception":"[object] (CLASS(code: N)...
std::string LaravelException(const ScannedEvent& e) {
  std::string text;
  for (const std::string& l : e.lines) text += l + "\n";
  const std::string marker = "{\"exception\":\"[object] (";
  size_t at = text.find(marker);
  if (at == std::string::npos) return "";
  at += marker.size();
  return text.substr(at, text.find('(', at) - at);
}

TEST(Multiline, LaravelErrorsAreEightyTwoEventsOnEveryModel) {
  const std::string input = SourcePath("data/sample/laravel.log");
  const std::string bytes = ReadFile(input);
  ASSERT_EQ(bytes.back(), ' ');  // no final newline
  uint64_t lines = 0;
  const std::vector<ScannedEvent> events = ScanEvents(bytes, LaravelStart, &lines);
  ASSERT_EQ(lines, 1416u);
  ASSERT_EQ(events.size(), 82u);
  // max_bytes: an event keeps lines while its text (joined by '\n') fits.
  constexpr uint64_t kMaxBytes = 4000;
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_exception;
  uint64_t truncated = 0, dropped = 0;
  for (const ScannedEvent& e : events) {
    uint64_t size = e.lines[0].size(), kept = 1;
    while (kept < e.lines.size() && size + 1 + e.lines[kept].size() <= kMaxBytes) {
      size += 1 + e.lines[kept].size();
      ++kept;
    }
    truncated += kept < e.lines.size();
    dropped += e.lines.size() - kept;
    // The class is on the first line or, for FatalErrors, after the message's lines; a
    // truncated event may lose it.
    ScannedEvent kept_event{e.first_line, {e.lines.begin(), e.lines.begin() + kept}};
    by_exception[LaravelException(kept_event)].first += 1;
    by_exception[LaravelException(kept_event)].second += kept;
  }
  ASSERT_GT(truncated, 0u);
  ASSERT_GE(by_exception.size(), 3u);
  for (const std::string& model : kModels) {
    for (const std::string& chunk : kChunkSizes) {
      SCOPED_TRACE(model + " chunk_bytes=" + chunk);
      TempDir dir;
      const std::string yaml =
          "inputs: [\"" + input + "\"]\nstages:\n  - type: parse\n"
          "    regex: '\\[(?P<ts>[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8})\\] (?P<env>[^ .]+)\\."
          "(?P<level>[A-Z]+): (?P<message>[^\\n{]*)(?s:.*?)(?:\\{\"exception\":\"\\[object\\] "
          "\\((?P<exception>[^(]+)\\(code: (?P<code>-?[0-9]+)\\)(?s:.*))?'\n"
          "    multiline: {start: '^\\[[0-9]{4}-[0-9]{2}-[0-9]{2} ', max_bytes: " +
          std::to_string(kMaxBytes) + "}\n    exec: " + Exec(model) + "\n"
          "  - type: aggregate\n    group_by: [exception]\n"
          "    metrics: {events: count, lines: sum(event_lines)}\n"
          "outputs:\n  - {path: \"" + dir.path() + "/report.json\", format: json}\n";
      CommandResult r = RunConfig(dir, yaml, {"--set", "read.chunk_bytes=" + chunk});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      json report = ReadJson(dir.path() + "/report.json");
      EXPECT_EQ(report["totals"]["lines"], 1416);
      EXPECT_EQ(report["totals"]["events"], 82);
      EXPECT_EQ(report["totals"]["matched"], 82);
      EXPECT_EQ(report["totals"]["truncated_events"], truncated);
      EXPECT_EQ(report["totals"]["dropped_lines"], dropped);
      // Monolog doubles the backslashes of class names inside its JSON; so does the report.
      EXPECT_EQ(TableCounts(report["tables"]["aggregate"]["rows"], "exception"), by_exception);
    }
  }
}

}  // namespace
}  // namespace logpipe::testing
