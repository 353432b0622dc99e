#include "pipeline/plan.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include "io/input_paths.h"
#include "pipeline/executor_processes.h"
#include "stages/aggregate_stage.h"
#include "stages/filter_stage.h"
#include "stages/pattern_library.h"
#include "stages/record_format.h"

namespace logpipe {
namespace {

std::string Join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

std::string Place(const StageSpec& stage, const std::string& key) {
  auto it = stage.places.find(key);
  return it != stage.places.end() ? it->second : stage.where;
}

std::string HumanBytes(uint64_t bytes) {
  if (bytes % (1u << 30) == 0) return std::to_string(bytes >> 30) + " GiB";
  if (bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// "int", "time:%d/%b/%Y", ... -> FieldSpec (type and time format).
Status ParseFieldType(const std::string& name, const std::string& text,
                      const std::vector<FieldSpec>& defaults, FieldSpec* out) {
  out->name = name;
  out->time_format.clear();
  if (text == "string") {
    out->type = FieldType::kString;
  } else if (text == "int") {
    out->type = FieldType::kInt;
  } else if (text == "float") {
    out->type = FieldType::kFloat;
  } else if (text == "time" || text.rfind("time:", 0) == 0) {
    out->type = FieldType::kTime;
    if (text.size() > 5) {
      out->time_format = text.substr(5);
    } else {
      for (const auto& d : defaults) {
        if (d.name == name && d.type == FieldType::kTime) out->time_format = d.time_format;
      }
      if (out->time_format.empty()) {
        return ConfigError("field '" + name + "': 'time' needs a format, e.g. "
                           "\"time:%d/%b/%Y:%H:%M:%S %z\", \"time:epoch\" or \"time:iso8601\"");
      }
    }
  } else {
    return ConfigError("field '" + name + "': unknown type '" + text +
                       "'; expected string, int, float or time[:FORMAT]");
  }
  return Status::Ok();
}

void AddUnique(std::vector<std::string>* names, const std::string& name) {
  if (std::find(names->begin(), names->end(), name) == names->end()) names->push_back(name);
}

// Fills in default workers and rejects models a CPU stage cannot use.
Status CheckExec(ExecSpec* exec) {
  switch (exec->model) {
    case ExecModel::kSerial:
      if (exec->workers == 0) exec->workers = 1;
      if (exec->workers != 1) {
        return ConfigError(exec->where + ": model serial runs on exactly 1 worker; use threads, "
                           "tbb or processes for more");
      }
      return Status::Ok();
    case ExecModel::kThreads:
    case ExecModel::kTbb:
    case ExecModel::kProcesses:
      if (exec->workers == 0) exec->workers = DefaultWorkers();
      return Status::Ok();
    case ExecModel::kAsync:
      return ConfigError(exec->where + ": model async is for I/O stages (fetching URLs); CPU "
                         "stages run serial, threads, tbb or processes");
  }
  return InternalError("unknown exec model");
}

// Reads a urls_from file: one URL a line; blank lines and lines starting with # are skipped.
Status ReadUrlList(const InputSpec& input, std::vector<std::string>* urls) {
  std::ifstream in(input.urls_from);
  if (!in) {
    return NoInputError(input.urls_from + ": cannot read this URL list (urls_from at " +
                        input.where + "); check the path");
  }
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    size_t start = 0;
    while (start < line.size() && std::isspace(static_cast<unsigned char>(line[start]))) ++start;
    line.erase(0, start);
    if (line.empty() || line[0] == '#') continue;
    if (!IsUrl(line)) {
      return ConfigError(input.urls_from + ":" + std::to_string(number) + ": '" + line +
                         "' is not an http:// or https:// URL (urls_from at " + input.where + ")");
    }
    urls->push_back(line);
  }
  if (urls->empty()) {
    return NoInputError(input.urls_from + ": lists no URL (urls_from at " + input.where + ")");
  }
  return Status::Ok();
}

Status PlanInputs(const Config& config, Plan* plan) {
  bool any_url = false;
  for (const auto& input : config.inputs) {
    // Incremental runs need an identity (device, inode, first bytes) and offsets that stay
    // valid between runs: only local files have them (pipeline/incremental.h).
    if (!config.state.empty() && (!input.url.empty() || !input.urls_from.empty())) {
      return ConfigError(input.where + ": input " +
                         (input.url.empty() ? "urls_from " + input.urls_from : input.url) +
                         " cannot be read incrementally: a URL has no file identity and no "
                         "offset that lasts between runs; remove 'state' (" + config.state_where +
                         ") or read this input in another job");
    }
    if (!config.state.empty() && input.path == "-") {
      return ConfigError(input.where + ": standard input ('-') cannot be read incrementally: "
                         "it has no file identity and no offset that lasts between runs; remove "
                         "'state' (" + config.state_where + ") or read a file");
    }
    PlanInput planned;
    planned.path = input.path;
    planned.url_options = input.url_options;
    if (!input.url.empty()) planned.urls.push_back(input.url);
    if (!input.urls_from.empty()) LOGPIPE_RETURN_IF_ERROR(ReadUrlList(input, &planned.urls));
    any_url |= !planned.urls.empty();
    plan->inputs.push_back(std::move(planned));
  }
  const FetchSpec& spec = config.fetch;
  plan->fetch.buffer_bytes = spec.buffer_bytes;
  plan->fetch.on_error = spec.on_error;
  if (!spec.has_exec) {
    plan->fetch.model = any_url ? FetchModel::kAsync : FetchModel::kSerial;
    plan->fetch.workers = any_url ? 8 : 1;
    return Status::Ok();
  }
  const ExecSpec& exec = spec.exec;
  switch (exec.model) {
    case ExecModel::kSerial:
      plan->fetch.model = FetchModel::kSerial;
      if (exec.workers > 1) {
        return ConfigError(exec.where + ": model serial fetches one input at a time; use "
                           "threads or async for more");
      }
      plan->fetch.workers = 1;
      break;
    case ExecModel::kThreads:
      plan->fetch.model = FetchModel::kThreads;
      plan->fetch.workers = exec.workers > 0 ? exec.workers : 8;
      break;
    case ExecModel::kAsync:
      plan->fetch.model = FetchModel::kAsync;
      plan->fetch.workers = exec.workers > 0 ? exec.workers : 16;
      break;
    default:
      return ConfigError(exec.where + ": the fetch stage runs serial, threads or async");
  }
  if (exec.workers < 0 || plan->fetch.workers > 1024) {
    return ConfigError(exec.where + ": fetch workers must be between 1 and 1024");
  }
  return Status::Ok();
}

}  // namespace

std::string Segment::label() const { return Join(stage_names, " -> "); }

Result<std::vector<std::string>> Plan::ExpandInputs() const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& input : inputs) {
    std::vector<std::string> names = input.urls;
    if (!input.path.empty()) {
      Result<std::vector<std::string>> paths = ExpandInputPaths({input.path});
      if (!paths.ok()) return paths.status();
      names = std::move(paths.value());
    }
    for (auto& name : names) {
      if (seen.insert(name).second) out.push_back(std::move(name));
    }
  }
  return out;
}

const UrlOptions& Plan::UrlOptionsFor(const std::string& url) const {
  for (const auto& input : inputs) {
    if (std::find(input.urls.begin(), input.urls.end(), url) != input.urls.end()) {
      return input.url_options;
    }
  }
  static const UrlOptions kDefaults;
  return kDefaults;
}

std::string LineNumbersShowReason(const Plan& plan) {
  if (plan.on_mismatch == OnMismatch::kFail) {
    return "on_mismatch: fail names the line number of the first bad line";
  }
  if (!plan.rejects_path.empty()) return "the rejects file names line numbers";
  for (const RecordOutputPlan& out : plan.record_outputs) {
    if (out.spec.line_numbers) return "records output " + out.spec.path + " has line_numbers: true";
  }
  return "";
}

int DefaultWorkers() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

Result<Plan> BuildPlan(Config config) {
  Plan plan;
  const auto& stages = config.stages;

  // Shape: parse, filter*, aggregate*
  if (stages.empty() || stages[0].type != "parse") {
    return ConfigError((stages.empty() ? config.file : stages[0].where) +
                       ": the first stage must be 'type: parse' (it turns lines into fields)");
  }
  for (size_t i = 1; i < stages.size(); ++i) {
    if (stages[i].type == "parse") {
      return ConfigError(stages[i].where + ": only one parse stage is allowed per job");
    }
    if (stages[i].type == "filter" && stages[i - 1].type == "aggregate") {
      return ConfigError(stages[i].where + ": a filter cannot follow an aggregate stage; "
                         "aggregate stages come last (each one is a table of the report)");
    }
  }
  const StageSpec& parse_spec = stages[0];

  // The pattern and its named groups.
  std::vector<FieldSpec> default_types;
  std::string regex = parse_spec.regex;
  if (!parse_spec.pattern.empty()) {
    const BuiltinPattern* builtin = FindBuiltinPattern(parse_spec.pattern);
    if (builtin == nullptr) {
      std::vector<std::string> names;
      for (const auto& p : BuiltinPatterns()) names.push_back(p.name);
      return ConfigError(Place(parse_spec, "pattern") + ": unknown pattern '" +
                         parse_spec.pattern + "'; built-in patterns are: " + Join(names) +
                         " (or write 'regex:' with (?P<name>...) groups)");
    }
    regex = builtin->regex;
    default_types = builtin->default_types;
    plan.pattern_label = builtin->name;
  } else {
    plan.pattern_label = "regex";
  }
  Result<std::vector<std::string>> groups = NamedGroups(regex);
  if (!groups.ok()) return groups.status().WithPrefix(Place(parse_spec, "pattern"));
  plan.pattern_groups = std::move(groups.value());
  if (plan.pattern_groups.empty()) {
    return ConfigError(Place(parse_spec, "pattern") +
                       ": the regex has no named groups, so it yields no fields; name the parts "
                       "you need with (?P<name>...)");
  }
  const MultilineSpec& multiline = parse_spec.multiline;
  if (multiline.declared) {
    if (std::find(plan.pattern_groups.begin(), plan.pattern_groups.end(), kEventLinesField) !=
        plan.pattern_groups.end()) {
      return ConfigError(Place(parse_spec, "pattern") + ": with 'multiline', '" +
                         kEventLinesField +
                         "' is the number of lines of each event; rename the pattern's group");
    }
    plan.pattern_groups.push_back(kEventLinesField);
    default_types.push_back(FieldSpec{kEventLinesField, FieldType::kInt, ""});
  }
  auto is_group = [&](const std::string& name) {
    return std::find(plan.pattern_groups.begin(), plan.pattern_groups.end(), name) !=
           plan.pattern_groups.end();
  };
  auto unknown_field = [&](const std::string& where, const std::string& name) {
    return ConfigError(where + ": unknown field '" + name + "'; the " + plan.pattern_label +
                       " pattern has: " + Join(plan.pattern_groups));
  };

  // Types: the pattern's defaults, overridden by `fields:`.
  std::vector<FieldSpec> types;
  for (const auto& group : plan.pattern_groups) {
    FieldSpec spec{group, FieldType::kString, ""};
    for (const auto& d : default_types) {
      if (d.name == group) spec = d;
    }
    types.push_back(spec);
  }
  for (const auto& [name, type_text] : parse_spec.fields) {
    const std::string where = Place(parse_spec, "fields." + name);
    if (!is_group(name)) return unknown_field(where, name);
    auto it = std::find_if(types.begin(), types.end(),  // (C++17 lambdas cannot capture `name`)
                           [&field = name](const FieldSpec& f) { return f.name == field; });
    LOGPIPE_RETURN_IF_ERROR(ParseFieldType(name, type_text, default_types, &*it).WithPrefix(where));
    if (it->type == FieldType::kTime) {
      Result<TimeFormat> format = TimeFormat::Compile(it->time_format);
      if (!format.ok()) return format.status().WithPrefix(where);
    }
  }

  // Which fields do later stages read? Only those are captured.
  std::vector<std::string> used;
  std::vector<FilterExpr> filters;
  struct AggregateParts {
    std::vector<GroupKeySpec> keys;
    std::vector<MetricSpec> metrics;
  };
  std::vector<AggregateParts> aggregate_parts;
  for (size_t i = 1; i < stages.size(); ++i) {
    const StageSpec& stage = stages[i];
    if (stage.type == "filter") {
      Result<FilterExpr> expr = FilterExpr::Parse(stage.filter_where);
      if (!expr.ok()) return expr.status().WithPrefix(Place(stage, "where"));
      for (const auto& f : expr->fields()) {
        if (!is_group(f)) return unknown_field(Place(stage, "where"), f);
        AddUnique(&used, f);
      }
      filters.push_back(std::move(expr.value()));
    } else if (stage.type == "aggregate") {
      std::string name = stage.name;
      if (name.empty()) {
        name = plan.aggregate_names.empty()
                   ? "aggregate"
                   : "aggregate_" + std::to_string(plan.aggregate_names.size() + 1);
      }
      if (std::find(plan.aggregate_names.begin(), plan.aggregate_names.end(), name) !=
          plan.aggregate_names.end()) {
        return ConfigError(stage.where + ": two aggregate stages are named '" + name +
                           "'; give each a different 'name:'");
      }
      plan.aggregate_names.push_back(name);
      aggregate_parts.emplace_back();
      auto& keys = aggregate_parts.back().keys;
      auto& metrics = aggregate_parts.back().metrics;
      for (const auto& text : stage.group_by) {
        Result<GroupKeySpec> key = ParseGroupKey(text);
        if (!key.ok()) return key.status().WithPrefix(Place(stage, "group_by"));
        if (!is_group(key->field)) return unknown_field(Place(stage, "group_by"), key->field);
        AddUnique(&used, key->field);
        keys.push_back(std::move(key.value()));
      }
      for (const auto& [name, expr_text] : stage.metrics) {
        Result<MetricSpec> metric = ParseMetric(name, expr_text);
        const std::string where = Place(stage, "metrics." + name);
        if (!metric.ok()) return metric.status().WithPrefix(where);
        if (!metric->field.empty()) {
          if (!is_group(metric->field)) return unknown_field(where, metric->field);
          AddUnique(&used, metric->field);
        }
        metrics.push_back(std::move(metric.value()));
      }
    }
  }
  for (const auto& out : config.outputs) {
    if (out.kind != "records") continue;
    const std::vector<std::string>& wanted = out.fields.empty() ? plan.pattern_groups : out.fields;
    for (const auto& f : wanted) {
      if (!is_group(f)) return unknown_field(out.where, f);
      AddUnique(&used, f);
    }
  }
  // The schema lists used fields in pattern order, so captures keep their order.
  for (const auto& spec : types) {
    if (std::find(used.begin(), used.end(), spec.name) != used.end()) plan.schema.Add(spec);
  }

  // Build the stages.
  ParseOptions parse_options;
  parse_options.regex = regex;
  parse_options.utf8 = parse_spec.encoding == "utf8";
  parse_options.multiline = multiline.declared;
  Result<std::unique_ptr<ParseStage>> parse = ParseStage::Create(parse_options, plan.schema);
  if (!parse.ok()) return parse.status().WithPrefix(Place(parse_spec, "pattern"));
  plan.parse = parse->get();
  plan.transforms.push_back(std::move(parse.value()));
  size_t next_filter = 0;
  for (size_t i = 1; i < stages.size(); ++i) {
    if (stages[i].type != "filter") continue;
    Result<std::unique_ptr<FilterStage>> filter =
        FilterStage::Create(std::move(filters[next_filter++]), plan.schema);
    if (!filter.ok()) return filter.status().WithPrefix(Place(stages[i], "where"));
    plan.transforms.push_back(std::move(filter.value()));
  }
  for (size_t i = 1, a = 0; i < stages.size(); ++i) {
    if (stages[i].type != "aggregate") continue;
    AggregateParts& parts = aggregate_parts[a++];
    Result<std::unique_ptr<AggregateStage>> aggregate =
        AggregateStage::Create(std::move(parts.keys), std::move(parts.metrics), plan.schema);
    if (!aggregate.ok()) return aggregate.status().WithPrefix(stages[i].where);
    plan.aggregates.push_back(std::move(aggregate.value()));
  }

  plan.on_mismatch = parse_spec.on_mismatch;
  plan.rejects_path = parse_spec.rejects;
  plan.max_reject_ratio = parse_spec.max_reject_ratio;
  if (plan.max_reject_ratio) plan.max_reject_ratio_place = Place(parse_spec, "max_reject_ratio");

  for (const auto& out : config.outputs) {
    if (out.kind == "records") {
      RecordOutputOptions options;
      options.format = out.format == "csv" ? RecordFormat::kCsv : RecordFormat::kJsonLines;
      options.fields = out.fields.empty() ? plan.pattern_groups : out.fields;
      options.with_line_numbers = out.line_numbers;
      Result<std::unique_ptr<RecordFormatter>> formatter = NewRecordFormatter(options, plan.schema);
      if (!formatter.ok()) return formatter.status().WithPrefix(out.where);
      plan.record_outputs.push_back({out, std::move(formatter.value())});
    } else {
      size_t table = 0;
      if (out.format == "csv" && plan.aggregate_names.size() > 1 && out.table.empty()) {
        return ConfigError(out.where + ": the job has " + std::to_string(plan.aggregate_names.size()) +
                           " tables (" + Join(plan.aggregate_names) +
                           ") and a CSV file holds one; say which with 'table:'");
      }
      if (!out.table.empty()) {
        auto it = std::find(plan.aggregate_names.begin(), plan.aggregate_names.end(), out.table);
        if (it == plan.aggregate_names.end()) {
          return ConfigError(out.where + ": no aggregate stage is named '" + out.table +
                             "'; tables: " +
                             (plan.aggregate_names.empty() ? std::string("none")
                                                           : Join(plan.aggregate_names)));
        }
        table = static_cast<size_t>(it - plan.aggregate_names.begin());
      }
      plan.report_outputs.push_back(out);
      plan.report_csv_tables.push_back(table);
    }
  }
  if (plan.report_outputs.empty()) {
    OutputSpec console;
    console.path = "-";
    console.format = "table";
    console.where = "default output";
    plan.report_outputs.push_back(console);
    plan.report_csv_tables.push_back(0);
  }
  // Two outputs writing one file would race to rename over each other.
  std::set<std::string> paths;
  if (!plan.rejects_path.empty()) paths.insert(plan.rejects_path);
  for (const auto* list : {&plan.report_outputs}) {
    for (const auto& out : *list) {
      if (out.path != "-" && !paths.insert(out.path).second) {
        return ConfigError(out.where + ": '" + out.path + "' is written by two outputs");
      }
    }
  }
  for (const auto& out : plan.record_outputs) {
    if (out.spec.path != "-" && !paths.insert(out.spec.path).second) {
      return ConfigError(out.spec.where + ": '" + out.spec.path + "' is written by two outputs");
    }
  }

  plan.chunker.chunk_bytes = config.read.chunk_bytes;
  plan.chunker.max_line_bytes = config.read.max_line_bytes;
  if (multiline.declared) {
    const bool by_start = !multiline.start.empty();
    Result<std::unique_ptr<EventStart>> event_start = EventStart::Create(
        by_start ? multiline.start : multiline.continue_regex, by_start, parse_options.utf8);
    if (!event_start.ok()) {
      return event_start.status().WithPrefix(Place(parse_spec, "multiline") +
                                             (by_start ? ": start" : ": continue"));
    }
    plan.event_start = std::move(event_start.value());
    plan.chunker.multiline.starts_event = plan.event_start->AsFunction();
    plan.chunker.multiline.max_lines = multiline.max_lines;
    plan.chunker.multiline.max_bytes = multiline.max_bytes;
  }

  // Execution models and segments. A stage without `exec` runs like the stage before it.
  ExecSpec current;
  current.model = ExecModel::kSerial;
  current.workers = 1;
  for (size_t i = 0; i < stages.size(); ++i) {
    const StageSpec& stage = stages[i];
    if (stage.has_exec) {
      current = stage.exec;
      LOGPIPE_RETURN_IF_ERROR(CheckExec(&current));
    }
    if (plan.segments.empty() || plan.segments.back().model != current.model ||
        plan.segments.back().workers != current.workers) {
      plan.segments.push_back({current.model, current.workers, current.max_live_tokens, i, i, {}});
    }
    plan.segments.back().end_stage = i + 1;
    plan.segments.back().stage_names.push_back(stage.type);
  }

  bool has_threads = false, has_tbb = false, has_processes = false;
  int max_workers = 1, tokens = 0;
  for (const auto& segment : plan.segments) {
    has_threads |= segment.model == ExecModel::kThreads;
    has_tbb |= segment.model == ExecModel::kTbb;
    has_processes |= segment.model == ExecModel::kProcesses;
    max_workers = std::max(max_workers, segment.workers);
    tokens = std::max(tokens, segment.max_live_tokens);
  }
  if (has_threads && has_tbb) {
    return ConfigError(config.file + ": a job runs its CPU stages on threads or on tbb, not both "
                       "(serial stages may be mixed with either)");
  }
  if (has_processes && plan.segments.size() > 1) {
    return ConfigError(config.file + ": model processes runs every CPU stage in its shards; give "
                       "all stages the same exec (set it on the parse stage only)");
  }
  if (!has_threads && !has_tbb && !has_processes) {
    plan.live_tokens = 1;  // serial: one chunk at a time
  } else {
    plan.live_tokens = static_cast<size_t>(tokens > 0 ? tokens : 2 * max_workers);
  }

  LOGPIPE_RETURN_IF_ERROR(PlanInputs(config, &plan));
  plan.config = std::move(config);
  return plan;
}

std::string Plan::Explain() const {
  std::string out;
  out += "job " + config.name + " (" + config.file + ")\n";
  out += "inputs:\n";
  for (const auto& input : inputs) {
    if (!input.path.empty()) out += "  " + input.path + "\n";
    for (size_t i = 0; i < input.urls.size() && i < 5; ++i) out += "  " + input.urls[i] + "\n";
    if (input.urls.size() > 5) {
      out += "  ... and " + std::to_string(input.urls.size() - 5) + " more URLs\n";
    }
  }
  out += "fetch: " + std::string(FetchModelName(fetch.model)) +
         (fetch.model == FetchModel::kSerial
              ? ", one input at a time in the reading thread"
              : ", " + std::to_string(fetch.workers) +
                    (fetch.model == FetchModel::kAsync ? " transfers in flight on one event-loop thread"
                                                       : " I/O threads") +
                    ", up to " + HumanBytes(fetch.buffer_bytes) + " buffered per input") +
         (fetch.on_error == OnFetchError::kSkip ? "; failed downloads are skipped" : "") + "\n";
  out += "read: chunks of " + HumanBytes(chunker.chunk_bytes) + ", lines up to " +
         HumanBytes(chunker.max_line_bytes) + " (longer lines are counted as oversized)\n";
  if (chunker.multiline.enabled()) {
    const MultilineSpec& m = config.stages[0].multiline;
    out += "multi-line events: a line " +
           (m.start.empty() ? "not matching '" + m.continue_regex + "'"
                            : "matching '" + m.start + "'") +
           " starts an event; at most " + std::to_string(chunker.multiline.max_lines) +
           " lines and " + HumanBytes(chunker.multiline.max_bytes) +
           " per event (the rest is dropped and counted); chunks are cut between events by "
           "the reading thread\n";
  }
  out += "segments:\n";
  for (size_t i = 0; i < segments.size(); ++i) {
    out += "  " + std::to_string(i + 1) + ". " + ExecModelName(segments[i].model) + ", " +
           std::to_string(segments[i].workers) + " worker" +
           (segments[i].workers == 1 ? "" : "s") + ": " + Join(segments[i].stage_names, " -> ") +
           "\n";
    if (segments[i].model == ExecModel::kProcesses) {
      const std::string why = ProcessesParentCutsReason(*this);
      out += why.empty() ? "     plain files: each shard reads byte ranges and cuts them into "
                           "chunks itself (the parent does not read them)\n"
                         : "     plain files: the parent reads them and cuts the chunks, because " +
                               why + "\n";
      const bool heads = std::any_of(aggregates.begin(), aggregates.end(),
                                     [](const auto& a) { return a->HeadsNeedQueries(); });
      if (heads) {
        out += partials_only_finished()
                   ? "     end of run: for fields only top(f, k) reads, shards send each group's k "
                     "largest counts, then the values a threshold says could still make the top "
                     "k (not every distinct value)\n"
                   : "     end of run: shards send whole partials (accumulate stores them)\n";
      }
    }
  }
  out += "memory bound: " + std::to_string(live_tokens) + " chunk" +
         (live_tokens == 1 ? "" : "s") + " in flight x " + HumanBytes(chunker.chunk_bytes) +
         " (+ a partial line carried between chunks) + aggregate state" +
         (chunker.multiline.enabled()
              ? " + multi-line events: each chunk up to one event (" +
                    HumanBytes(chunker.multiline.max_bytes) +
                    ") longer, and the reader's line chunk (" + HumanBytes(chunker.chunk_bytes) +
                    ")"
              : std::string()) +
         (fetch.model == FetchModel::kSerial
              ? std::string()
              : " + fetch buffers (2 x " + std::to_string(fetch.workers) + " inputs x " +
                    HumanBytes(fetch.buffer_bytes) + ")") +
         "\n";
  out += "parse: pattern " + pattern_label + ", encoding " +
         (config.stages[0].encoding == "utf8" ? "utf8 (invalid UTF-8 lines are rejected)"
                                              : "latin1 (bytes; invalid UTF-8 never drops a line)") +
         "\n";
  std::vector<std::string> captured;
  for (const auto& f : schema.fields()) {
    std::string item = f.name + ":" + FieldTypeName(f.type);
    if (f.type == FieldType::kTime) item += "(" + f.time_format + ")";
    captured.push_back(item);
  }
  out += "  captured " + std::to_string(schema.size()) + " of " +
         std::to_string(pattern_groups.size()) + " groups: " +
         (captured.empty() ? std::string("none") : Join(captured)) + "\n";
  out += "  engine: " + parse->EngineSummary() + "\n";
  out += "  compiled regex: " + parse->compiled_regex() + "\n";
  const char* mismatch = on_mismatch == OnMismatch::kCount    ? "count"
                         : on_mismatch == OnMismatch::kReject ? "reject"
                                                              : "fail";
  out += "  on_mismatch: " + std::string(mismatch) +
         (rejects_path.empty() ? "" : " (rejects to " + rejects_path + ")") + "\n";
  if (max_reject_ratio) {
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%g", *max_reject_ratio);
    out += "  max_reject_ratio: " + std::string(ratio) + " (more unparsed lines fail the run)\n";
  }
  for (const auto& stage : config.stages) {
    if (stage.type == "filter") out += "filter: " + stage.filter_where + "\n";
    if (stage.type == "aggregate") {
      out += "aggregate " + aggregate_names[&stage - &config.stages[transforms.size()]] +
             ": group_by [" + Join(stage.group_by) + "]\n";
      for (const auto& [name, expr] : stage.metrics) {
        const std::string note = MetricSketchNote(expr);
        out += "  " + name + " = " + expr + (note.empty() ? "" : " (" + note + ")") + "\n";
      }
    }
  }
  out += "outputs:\n";
  for (const auto& o : record_outputs) {
    out += "  records " + o.spec.format + " -> " + (o.spec.path == "-" ? "stdout" : o.spec.path) + "\n";
  }
  for (const auto& o : report_outputs) {
    out += "  report " + o.format + " -> " + (o.path == "-" ? "stdout" : o.path) + "\n";
  }
  return out;
}

}  // namespace logpipe
