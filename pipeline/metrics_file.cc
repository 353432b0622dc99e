#include "pipeline/metrics_file.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

namespace logpipe {
namespace {

class Writer {
 public:
  Writer(const RunMetrics& m, std::string* out)
      : labels_("job=\"" + EscapeLabelValue(m.job) + "\""), out_(out) {}

  // `# HELP` and `# TYPE` of one metric; its samples follow.
  void Family(const char* name, const char* help) {
    *out_ += std::string("# HELP ") + name + " " + help + "\n";
    *out_ += std::string("# TYPE ") + name + " gauge\n";
  }
  void Sample(const char* name, const std::string& value, const std::string& extra = "") {
    *out_ += std::string(name) + "{" + labels_ + extra + "} " + value + "\n";
  }
  void One(const char* name, const char* help, const std::string& value) {
    Family(name, help);
    Sample(name, value);
  }

 private:
  std::string labels_;
  std::string* out_;
};

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", s);
  return buf;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatMetrics(const RunMetrics& m) {
  std::string out;
  Writer w(m, &out);
  if (m.has_counts) {
    const std::pair<const char*, const char*> kCounts[] = {
        {"logpipe_lines_total", "Lines read by the last run (oversized and dropped ones too)."},
        {"logpipe_bytes_total", "Bytes read by the last run."},
        {"logpipe_matched_total", "Lines (or multi-line events) the parse stage accepted."},
        {"logpipe_unparsed_total", "Lines (or events) the parse pattern did not match."},
        {"logpipe_rejected_total",
         "Lines written to the rejects file (on_mismatch: reject; 0 otherwise)."},
        {"logpipe_oversized_total", "Lines over read.max_line_bytes, never parsed."},
        {"logpipe_skipped_inputs", "Inputs skipped by on_fetch_error: skip."},
    };
    const uint64_t values[] = {m.lines,    m.bytes,     m.matched,       m.unparsed,
                               m.rejected, m.oversized, m.skipped_inputs};
    for (size_t i = 0; i < std::size(kCounts); ++i) {
      w.One(kCounts[i].first, kCounts[i].second, std::to_string(values[i]));
    }
  }
  if (m.inputs)
    w.One("logpipe_inputs", "Inputs of the last run after expansion.", std::to_string(*m.inputs));
  if (m.has_counts && !m.stage_busy_seconds.empty()) {
    w.Family("logpipe_stage_busy_seconds",
             "Seconds the last run's workers of each stage role were busy, summed over workers.");
    for (const auto& [stage, seconds] : m.stage_busy_seconds) {
      w.Sample("logpipe_stage_busy_seconds", Seconds(seconds),
               ",stage=\"" + EscapeLabelValue(stage) + "\"");
    }
  }
  w.One("logpipe_run_duration_seconds", "Wall time of the last run.", Seconds(m.duration_seconds));
  w.One("logpipe_last_run_success", "1 if the last run succeeded (exit code 0), else 0.",
        m.exit_code == 0 ? "1" : "0");
  w.One("logpipe_last_run_exit_code", "Exit code of the last run (sysexits, see README).",
        std::to_string(m.exit_code));
  w.One("logpipe_last_run_timestamp_seconds", "When the last run ended, in Unix time.",
        std::to_string(m.timestamp_seconds));
  const std::string last_success =
      m.exit_code == 0 ? std::to_string(m.timestamp_seconds) : m.previous_last_success;
  if (!last_success.empty()) {
    w.One("logpipe_last_success_timestamp_seconds",
          "When the last successful run ended, in Unix time.", last_success);
  }
  return out;
}

std::string FindLastSuccess(std::string_view text, const std::string& job) {
  const std::string prefix =
      "logpipe_last_success_timestamp_seconds{job=\"" + EscapeLabelValue(job) + "\"} ";
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.substr(0, prefix.size()) != prefix) continue;
    std::string value(line.substr(prefix.size()));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.pop_back();
    if (value.empty()) return "";
    char* parsed_end = nullptr;
    errno = 0;
    const double v = std::strtod(value.c_str(), &parsed_end);
    if (errno != 0 || parsed_end != value.c_str() + value.size() || !std::isfinite(v)) return "";
    return value;
  }
  return "";
}

std::vector<std::pair<std::string, double>> StageBusySeconds(const RunTrace& trace) {
  std::vector<std::pair<std::string, double>> out;
  for (const RunTrace::Track& t : trace.tracks()) {
    const int64_t busy = t.busy_ns();
    auto it = out.begin();
    while (it != out.end() && it->first != t.role()) ++it;
    if (it == out.end()) it = out.insert(out.end(), {t.role(), 0.0});
    it->second += static_cast<double>(busy) / 1e9;
  }
  return out;
}

Result<MetricsFile> MetricsFile::Open(const std::string& path) {
  Result<AtomicFile> file = AtomicFile::Create(path);
  if (!file.ok()) return file.status();
  return MetricsFile(std::move(file.value()));
}

Status MetricsFile::Commit(RunMetrics m) {
  if (m.exit_code != 0) {
    std::ifstream in(file_.path(), std::ios::binary);
    if (in) {
      std::ostringstream text;
      text << in.rdbuf();
      m.previous_last_success = FindLastSuccess(text.str(), m.job);
    }
  }
  LOGPIPE_RETURN_IF_ERROR(file_.Append(FormatMetrics(m)));
  return file_.Commit();
}

}  // namespace logpipe
