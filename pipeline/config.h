#pragma once
// Config: a job as the user wrote it (YAML v1), checked for syntax and types but not yet for
// meaning. pipeline/config_yaml.h builds it from a file plus --set overrides; BuildPlan
// (pipeline/plan.h) turns it into a runnable Plan (regexes compiled, fields resolved).
//
// Each struct field is one config key (snake_case, same name). `where` records the place a
// value came from ("run.yaml:14:12" or "--set stages.1.where") so later errors can name it.
// Thread-safety: plain values.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/chunker.h"
#include "io/url_fetch.h"

namespace logpipe {

enum class ExecModel { kSerial, kThreads, kTbb, kProcesses, kAsync };
const char* ExecModelName(ExecModel model);

struct ExecSpec {
  ExecModel model = ExecModel::kSerial;
  int workers = 0;  // 0: the model's default (1 for serial, one per core otherwise)
  int max_live_tokens = 0;  // chunks in flight; 0: 2 x workers (threads, tbb)
  std::string where;
};

// One entry of `inputs`: exactly one of path, url, urls_from.
struct InputSpec {
  std::string path;        // file, glob, directory or "-"
  std::string url;         // one http(s) URL
  std::string urls_from;   // a file listing URLs, one a line (blank lines and # comments skipped)
  UrlOptions url_options;  // url / urls_from: the fetch stage's settings, then this entry's own
  std::string where;
};

enum class OnFetchError { kFail, kSkip };

// The fetch stage: how inputs are read and downloaded. An I/O stage, so it is kept here and
// not in Config::stages (which holds the CPU stages, parse first).
struct FetchSpec {
  bool declared = false;   // the config has a `type: fetch` stage
  ExecSpec exec;           // serial | threads | async
  bool has_exec = false;
  UrlOptions url_options;  // defaults for every URL input
  OnFetchError on_error = OnFetchError::kFail;
  uint64_t buffer_bytes = uint64_t{4} << 20;  // per input in flight
  std::string where;
};

enum class OnMismatch { kCount, kReject, kFail };

// The parse stage's `multiline` key: exactly one of `start` and `continue`.
struct MultilineSpec {
  bool declared = false;
  std::string start;           // a line this regex matches (anywhere; anchor with ^) starts an event
  std::string continue_regex;  // config key `continue`: a line it matches joins the previous event
  uint64_t max_lines = 500;    // lines per event at most; later ones are dropped, counted
  uint64_t max_bytes = uint64_t{1} << 20;  // bytes of an event's text at most
};

struct StageSpec {
  std::string type;  // parse | filter | aggregate
  std::string where;
  ExecSpec exec;
  bool has_exec = false;
  // parse
  std::string pattern;                                  // built-in pattern name
  std::string regex;                                    // or a regex with (?P<name>...) groups
  std::vector<std::pair<std::string, std::string>> fields;  // name -> type text, config order
  std::string encoding = "latin1";                      // latin1 | utf8
  OnMismatch on_mismatch = OnMismatch::kCount;
  std::string rejects;                                  // rejects file path
  // Fail the run (65) when the lines it did not parse are over this fraction of all lines.
  std::optional<double> max_reject_ratio;               // 0..1; none: no limit
  MultilineSpec multiline;
  // filter
  std::string filter_where;  // config key `where`
  // aggregate
  std::string name;  // the report table's name; default "aggregate" (then "aggregate_2", ...)
  std::vector<std::string> group_by;
  std::vector<std::pair<std::string, std::string>> metrics;  // name -> expression, in order
  std::map<std::string, std::string> places;  // key -> "file:line:col" for error messages
};

struct OutputSpec {
  std::string kind = "report";  // report | records
  std::string path;             // "-" is standard output
  std::string format;           // report: json | csv | table; records: jsonl | csv
  std::string table;                // csv report: which aggregate's table (default: the only one)
  std::vector<std::string> fields;  // records: which fields (default: all)
  bool line_numbers = false;        // records: add "_line"
  std::string where;
};

struct ReadSpec {
  uint64_t chunk_bytes = kDefaultChunkBytes;
  uint64_t max_line_bytes = uint64_t{16} << 20;
};

struct Config {
  std::string file;  // the config file it came from
  int version = 1;
  std::string name;
  std::vector<InputSpec> inputs;
  ReadSpec read;
  FetchSpec fetch;
  std::vector<StageSpec> stages;
  std::vector<OutputSpec> outputs;
  // Incremental runs (pipeline/incremental.h): the state file; empty: read every input whole.
  std::string state;
  std::string state_where;  // where `state` was set, for messages
  // With `state`: reports cover everything seen so far (stored partials merged), not only
  // this run's new lines.
  bool accumulate = false;
};

}  // namespace logpipe
