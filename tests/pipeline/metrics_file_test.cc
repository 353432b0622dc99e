#include "pipeline/metrics_file.h"

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <sstream>

namespace logpipe {
namespace {

// A small check of the Prometheus text exposition format, written from the format's
// description (not from the writer): comments are `# HELP name text` or `# TYPE name type`;
// every other line is `name{label="value",...} value` with a valid metric name, label values
// with only \\ \" \n escapes, and a float value; every metric has one HELP and one TYPE, both
// before its first sample. Returns "" or what is wrong.
std::string CheckExposition(const std::string& text) {
  auto is_name = [](const std::string& s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    for (char c : s) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ':') return false;
    }
    return true;
  };
  std::map<std::string, int> help, type;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  if (text.empty() || text.back() != '\n') return "text does not end with a newline";
  while (std::getline(in, line)) {
    ++n;
    const std::string where = "line " + std::to_string(n) + " '" + line + "': ";
    if (line.rfind("# ", 0) == 0) {
      std::istringstream words(line.substr(2));
      std::string kind, name, rest;
      words >> kind >> name;
      std::getline(words, rest);
      if (!is_name(name)) return where + "bad metric name in comment";
      if (kind == "HELP") {
        if (++help[name] > 1) return where + "second HELP";
      } else if (kind == "TYPE") {
        if (rest != " gauge" && rest != " counter" && rest != " untyped") return where + "type";
        if (++type[name] > 1) return where + "second TYPE";
      } else {
        return where + "unknown comment";
      }
      continue;
    }
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    const std::string name = line.substr(0, i);
    if (!is_name(name)) return where + "bad metric name";
    if (help[name] != 1 || type[name] != 1) return where + "sample before its HELP and TYPE";
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos || !is_name(line.substr(i, eq - i))) return where + "label";
        if (eq + 1 >= line.size() || line[eq + 1] != '"') return where + "label value quote";
        i = eq + 2;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            if (i + 1 >= line.size() || std::string("\\\"n").find(line[i + 1]) == std::string::npos)
              return where + "bad escape";
            ++i;
          }
          ++i;
        }
        if (i >= line.size()) return where + "unterminated label value";
        ++i;  // closing quote
        if (i < line.size() && line[i] == ',') {
          ++i;
          continue;
        }
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        return where + "expected , or }";
      }
    }
    if (i >= line.size() || line[i] != ' ') return where + "no space before the value";
    const std::string value = line.substr(i + 1);
    size_t used = 0;
    try {
      std::stod(value, &used);
    } catch (...) {
      return where + "value is not a number";
    }
    if (used != value.size()) return where + "trailing text after the value";
  }
  for (const auto& [name, count] : type) {
    if (help[name] != 1) return name + ": TYPE without HELP";
  }
  return "";
}

RunMetrics HandBuilt() {
  RunMetrics m;
  m.job = "nightly \"edge\" \\ job";
  m.exit_code = 0;
  m.duration_seconds = 12.5;
  m.timestamp_seconds = 1700000000;
  m.inputs = 3;
  m.has_counts = true;
  m.lines = 1000;
  m.bytes = 250000;
  m.matched = 990;
  m.unparsed = 8;
  m.rejected = 10;
  m.oversized = 2;
  m.skipped_inputs = 0;
  m.stage_busy_seconds = {{"read", 0.25}, {"parse -> aggregate", 1.5}};
  return m;
}

TEST(MetricsFile, FormatsAHandBuiltSuccessfulRun) {
  const std::string j = "job=\"nightly \\\"edge\\\" \\\\ job\"";
  const std::string expected =
      "# HELP logpipe_lines_total Lines read by the last run (oversized and dropped ones too).\n"
      "# TYPE logpipe_lines_total gauge\n"
      "logpipe_lines_total{" +
      j +
      "} 1000\n"
      "# HELP logpipe_bytes_total Bytes read by the last run.\n"
      "# TYPE logpipe_bytes_total gauge\n"
      "logpipe_bytes_total{" +
      j +
      "} 250000\n"
      "# HELP logpipe_matched_total Lines (or multi-line events) the parse stage accepted.\n"
      "# TYPE logpipe_matched_total gauge\n"
      "logpipe_matched_total{" +
      j +
      "} 990\n"
      "# HELP logpipe_unparsed_total Lines (or events) the parse pattern did not match.\n"
      "# TYPE logpipe_unparsed_total gauge\n"
      "logpipe_unparsed_total{" +
      j +
      "} 8\n"
      "# HELP logpipe_rejected_total Lines written to the rejects file (on_mismatch: reject; 0 "
      "otherwise).\n"
      "# TYPE logpipe_rejected_total gauge\n"
      "logpipe_rejected_total{" +
      j +
      "} 10\n"
      "# HELP logpipe_oversized_total Lines over read.max_line_bytes, never parsed.\n"
      "# TYPE logpipe_oversized_total gauge\n"
      "logpipe_oversized_total{" +
      j +
      "} 2\n"
      "# HELP logpipe_skipped_inputs Inputs skipped by on_fetch_error: skip.\n"
      "# TYPE logpipe_skipped_inputs gauge\n"
      "logpipe_skipped_inputs{" +
      j +
      "} 0\n"
      "# HELP logpipe_inputs Inputs of the last run after expansion.\n"
      "# TYPE logpipe_inputs gauge\n"
      "logpipe_inputs{" +
      j +
      "} 3\n"
      "# HELP logpipe_stage_busy_seconds Seconds the last run's workers of each stage role were "
      "busy, summed over workers.\n"
      "# TYPE logpipe_stage_busy_seconds gauge\n"
      "logpipe_stage_busy_seconds{" +
      j +
      ",stage=\"read\"} 0.250000\n"
      "logpipe_stage_busy_seconds{" +
      j +
      ",stage=\"parse -> aggregate\"} 1.500000\n"
      "# HELP logpipe_run_duration_seconds Wall time of the last run.\n"
      "# TYPE logpipe_run_duration_seconds gauge\n"
      "logpipe_run_duration_seconds{" +
      j +
      "} 12.500000\n"
      "# HELP logpipe_last_run_success 1 if the last run succeeded (exit code 0), else 0.\n"
      "# TYPE logpipe_last_run_success gauge\n"
      "logpipe_last_run_success{" +
      j +
      "} 1\n"
      "# HELP logpipe_last_run_exit_code Exit code of the last run (sysexits, see README).\n"
      "# TYPE logpipe_last_run_exit_code gauge\n"
      "logpipe_last_run_exit_code{" +
      j +
      "} 0\n"
      "# HELP logpipe_last_run_timestamp_seconds When the last run ended, in Unix time.\n"
      "# TYPE logpipe_last_run_timestamp_seconds gauge\n"
      "logpipe_last_run_timestamp_seconds{" +
      j +
      "} 1700000000\n"
      "# HELP logpipe_last_success_timestamp_seconds When the last successful run ended, in "
      "Unix time.\n"
      "# TYPE logpipe_last_success_timestamp_seconds gauge\n"
      "logpipe_last_success_timestamp_seconds{" +
      j + "} 1700000000\n";
  const std::string text = FormatMetrics(HandBuilt());
  EXPECT_EQ(text, expected);
  EXPECT_EQ(CheckExposition(text), "");
}

TEST(MetricsFile, EscapesBackslashQuoteAndNewlineInLabelValues) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
}

TEST(MetricsFile, FailedRunWithoutCountsKeepsThePreviousLastSuccess) {
  RunMetrics m;
  m.job = "j";
  m.exit_code = 65;
  m.duration_seconds = 1;
  m.timestamp_seconds = 1700000100;
  m.previous_last_success = "1699990000";
  const std::string text = FormatMetrics(m);
  EXPECT_EQ(CheckExposition(text), "");
  EXPECT_EQ(text.find("logpipe_lines_total"), std::string::npos) << text;  // no partial counts
  EXPECT_EQ(text.find("logpipe_inputs"), std::string::npos) << text;
  EXPECT_NE(text.find("logpipe_last_run_success{job=\"j\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("logpipe_last_run_exit_code{job=\"j\"} 65\n"), std::string::npos) << text;
  EXPECT_NE(text.find("logpipe_last_run_timestamp_seconds{job=\"j\"} 1700000100\n"),
            std::string::npos);
  EXPECT_NE(text.find("logpipe_last_success_timestamp_seconds{job=\"j\"} 1699990000\n"),
            std::string::npos)
      << text;
}

TEST(MetricsFile, FailedRunWithNoPreviousSuccessOmitsLastSuccess) {
  RunMetrics m;
  m.job = "j";
  m.exit_code = 74;
  const std::string text = FormatMetrics(m);
  EXPECT_EQ(CheckExposition(text), "");
  EXPECT_EQ(text.find("logpipe_last_success_timestamp_seconds"), std::string::npos) << text;
}

TEST(MetricsFile, FindsLastSuccessOfTheSameJobOnly) {
  RunMetrics m = HandBuilt();
  const std::string text = FormatMetrics(m);
  EXPECT_EQ(FindLastSuccess(text, m.job), "1700000000");
  EXPECT_EQ(FindLastSuccess(text, "other"), "");
  EXPECT_EQ(FindLastSuccess("logpipe_last_success_timestamp_seconds{job=\"j\"} 1.5e9\n", "j"),
            "1.5e9");
  EXPECT_EQ(FindLastSuccess("logpipe_last_success_timestamp_seconds{job=\"j\"} soon\n", "j"), "");
  EXPECT_EQ(FindLastSuccess("", "j"), "");
}

TEST(MetricsFile, TheCheckerRejectsMalformedText) {
  // The checker itself must catch what it is there for.
  EXPECT_NE(CheckExposition("x{job=\"a\"} 1\n"), "");  // no HELP/TYPE
  EXPECT_NE(CheckExposition("# HELP x h\n# TYPE x gauge\nx{job=\"a\"b\"} 1\n"), "");
  EXPECT_NE(CheckExposition("# HELP x h\n# TYPE x gauge\nx{job=\"a\"} one\n"), "");
  EXPECT_NE(CheckExposition("# HELP x h\n# HELP x h\n# TYPE x gauge\nx 1\n"), "");
  EXPECT_EQ(CheckExposition("# HELP x h\n# TYPE x gauge\nx{job=\"a\\\\\"} 1\nx 2\n"), "");
}

}  // namespace
}  // namespace logpipe
