#include "pipeline/run_stats_json.h"

#include <cstdio>

#include "io/text_escape.h"

namespace logpipe {
namespace {

void AppendSeconds(double seconds, std::string* out) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", seconds);
  out->append(buf);
}

void AppendNs(int64_t ns, std::string* out) { AppendSeconds(static_cast<double>(ns) / 1e9, out); }

void Key(const char* key, std::string* out) {
  out->push_back('"');
  out->append(key);
  out->append("\": ");
}

}  // namespace

void AppendRunStatsJson(const Plan& plan, const JobResult& result, const RunTrace& trace,
                        const ProcessesExecutorStats* processes, std::string* out) {
  const BatchCounters& c = result.stats.counters;
  out->append("{\"logpipe_stats\": 1, ");
  Key("job", out);
  AppendJsonString(plan.config.name, out);
  out->append(", ");
  Key("wall_seconds", out);
  AppendSeconds(result.wall_seconds, out);
  out->append(", \"inputs\": " + std::to_string(result.inputs.size()) +
              ", \"bytes\": " + std::to_string(c.bytes) +
              ", \"lines\": " + std::to_string(c.lines + result.stats.oversized_lines) +
              ", \"matched\": " + std::to_string(c.matched) +
              ", \"chunks\": " + std::to_string(result.stats.chunks) + ",\n");
  out->append(" \"fetch\": {\"model\": \"" + std::string(FetchModelName(plan.fetch.model)) +
              "\", \"workers\": " + std::to_string(plan.fetch.workers) + "},\n");
  out->append(" \"segments\": [");
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    const Segment& s = plan.segments[i];
    out->append(i ? ", {" : "{");
    Key("stages", out);
    AppendJsonString(s.label(), out);
    out->append(", \"model\": \"" + std::string(ExecModelName(s.model)) +
                "\", \"workers\": " + std::to_string(s.workers) + "}");
  }
  out->append("],\n \"tracks\": [");
  bool first = true;
  for (const RunTrace::Track& t : trace.tracks()) {
    out->append(first ? "\n  {" : ",\n  {");
    first = false;
    Key("name", out);
    AppendJsonString(t.name(), out);
    out->append(", ");
    Key("role", out);
    AppendJsonString(t.role(), out);
    const int64_t busy = t.busy_ns();
    const std::pair<const char*, int64_t> fields[] = {
        {"busy_s", busy},
        {"read_s", t.total_ns(SpanKind::kRead)},
        {"work_s", t.total_ns(SpanKind::kWork)},
        {"deliver_s", t.total_ns(SpanKind::kDeliver)},
        {"merge_s", t.total_ns(SpanKind::kMerge)},
        {"setup_s", t.total_ns(SpanKind::kSetup)},
        {"fetch_s", t.total_ns(SpanKind::kFetch)},
        {"wait_input_s", t.total_ns(SpanKind::kWaitInput)},
        {"blocked_output_s", t.total_ns(SpanKind::kWaitOutput)},
        {"cpu_s", t.cpu_ns()},
        {"runqueue_s", t.runq_ns()}};
    for (const auto& [key, ns] : fields) {
      out->append(", ");
      Key(key, out);
      AppendNs(ns, out);
    }
    out->push_back('}');
  }
  out->append("\n ]");
  if (processes != nullptr) {
    out->append(",\n \"processes\": {\"shards_started\": " +
                std::to_string(processes->shards_started) +
                ", \"shards_retried\": " + std::to_string(processes->shards_retried) +
                ", \"fork_seconds\": ");
    AppendSeconds(processes->fork_seconds, out);
    out->append(", \"request_bytes\": " + std::to_string(processes->request_bytes) +
                ", \"result_bytes\": " + std::to_string(processes->result_bytes) +
                ", \"partial_bytes\": " + std::to_string(processes->partial_bytes) +
                ", \"queries\": " + std::to_string(processes->queries) +
                ", \"answer_bytes\": " + std::to_string(processes->answer_bytes) +
                ", \"plain_ranges\": " + std::to_string(processes->plain_ranges) +
                ", \"plain_chunks\": " + std::to_string(processes->plain_chunks) +
                ", \"streamed_chunks\": " + std::to_string(processes->streamed_chunks) + "}");
  }
  out->append("\n}\n");
}

}  // namespace logpipe
