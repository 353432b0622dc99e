#include "pipeline/config_yaml.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

namespace logpipe {
namespace {

// Levenshtein distance, for "did you mean" hints on short keys.
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cur = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
      prev = cur;
    }
  }
  return row[b.size()];
}

std::string JoinKeys(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

// Converts one YAML document into a Config, collecting the first error with its place.
class Converter {
 public:
  explicit Converter(std::string file) : file_(std::move(file)) {}

  Result<Config> Convert(const YAML::Node& root) {
    Config config;
    config.file = file_;
    if (!root.IsDefined() || root.IsNull()) {
      return ConfigError(file_ + ": the file is empty; a config needs at least 'inputs' and "
                         "'stages' (see configs/run.yaml)");
    }
    LOGPIPE_RETURN_IF_ERROR(
        ExpectMap(root, "the config", {"version", "name", "inputs", "read", "stages", "outputs", "state",
                                 "accumulate"}));
    if (root["version"]) {
      int version = 0;
      LOGPIPE_RETURN_IF_ERROR(GetInt(root["version"], "version", &version));
      if (version != 1) {
        return Error(root["version"], "unsupported config version " + std::to_string(version) +
                                          "; this logpipe reads version: 1");
      }
    }
    if (root["name"]) LOGPIPE_RETURN_IF_ERROR(GetString(root["name"], "name", &config.name));
    if (config.name.empty()) config.name = "logpipe";

    if (!root["inputs"]) return Error(root, "missing 'inputs': list the files to read");
    if (!root["stages"]) {
      return Error(root, "missing 'stages': a job needs at least a parse stage");
    }
    // Stages first: URL inputs start from the fetch stage's settings.
    LOGPIPE_RETURN_IF_ERROR(ConvertStages(root["stages"], &config));
    LOGPIPE_RETURN_IF_ERROR(ConvertInputs(root["inputs"], &config));
    if (root["read"]) LOGPIPE_RETURN_IF_ERROR(ConvertRead(root["read"], &config.read));
    if (root["outputs"]) LOGPIPE_RETURN_IF_ERROR(ConvertOutputs(root["outputs"], &config));
    if (root["state"]) {
      LOGPIPE_RETURN_IF_ERROR(GetString(root["state"], "state", &config.state));
      if (config.state.empty()) {
        return Error(root["state"], "expected 'state' to be a file path (e.g. "
                                    "/var/lib/logpipe/nginx.state); remove the key to read "
                                    "every input whole");
      }
      config.state_where = Place(root["state"]);
    }
    if (root["accumulate"]) {
      LOGPIPE_RETURN_IF_ERROR(GetBool(root["accumulate"], "accumulate", &config.accumulate));
      if (config.accumulate && config.state.empty()) {
        return Error(root["accumulate"], "'accumulate: true' needs 'state: FILE' (the stored "
                                         "partial results live in the state file); add a "
                                         "state file or remove accumulate");
      }
    }
    return config;
  }

 private:
  std::string Place(const YAML::Node& node) const {
    YAML::Mark mark = node.Mark();
    if (mark.is_null() || mark.line < 0) return file_ + " (value set by --set)";
    return file_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }

  Status Error(const YAML::Node& node, const std::string& message) const {
    return ConfigError(Place(node) + ": " + message);
  }

  Status ExpectMap(const YAML::Node& node, const std::string& what,
                   const std::vector<std::string>& allowed) const {
    if (!node.IsMap()) {
      return Error(node, "expected " + what + " to be a mapping of keys (" + JoinKeys(allowed) +
                             ")");
    }
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) return Error(it->first, "expected a key name");
      const std::string key = it->first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string hint;
      size_t best = 3;
      for (const auto& candidate : allowed) {
        size_t d = EditDistance(key, candidate);
        if (d < best) {
          best = d;
          hint = " (did you mean '" + candidate + "'?)";
        }
      }
      return Error(it->first, "unknown key '" + key + "' in " + what + hint +
                                  "; expected one of: " + JoinKeys(allowed));
    }
    return Status::Ok();
  }

  Status GetString(const YAML::Node& node, const std::string& key, std::string* out) const {
    if (!node.IsScalar()) return Error(node, "expected '" + key + "' to be a string");
    *out = node.Scalar();
    return Status::Ok();
  }

  Status GetInt(const YAML::Node& node, const std::string& key, int* out) const {
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    int value = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (!node.IsScalar() || ec != std::errc() || p != text.data() + text.size()) {
      return Error(node, "expected '" + key + "' to be a whole number, got '" + text + "'");
    }
    *out = value;
    return Status::Ok();
  }

  Status GetBool(const YAML::Node& node, const std::string& key, bool* out) const {
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    if (text == "true" || text == "yes" || text == "on") {
      *out = true;
    } else if (text == "false" || text == "no" || text == "off") {
      *out = false;
    } else {
      return Error(node, "expected '" + key + "' to be true or false, got '" + text + "'");
    }
    return Status::Ok();
  }

  Status GetSize(const YAML::Node& node, const std::string& key, uint64_t* out) const {
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    if (!ParseByteSize(text, out) || *out == 0) {
      return Error(node, "expected '" + key + "' to be a size such as 4MiB, 512KiB or 65536, "
                         "got '" + text + "'");
    }
    return Status::Ok();
  }

  Status GetStringList(const YAML::Node& node, const std::string& key,
                       std::vector<std::string>* out) const {
    if (node.IsScalar()) {
      out->push_back(node.Scalar());
      return Status::Ok();
    }
    if (!node.IsSequence()) return Error(node, "expected '" + key + "' to be a list of strings");
    for (const auto& item : node) {
      if (!item.IsScalar()) return Error(item, "expected each item of '" + key + "' to be a string");
      out->push_back(item.Scalar());
    }
    return Status::Ok();
  }

  Status GetPairs(const YAML::Node& node, const std::string& key,
                  std::vector<std::pair<std::string, std::string>>* out,
                  std::map<std::string, std::string>* places) const {
    if (!node.IsMap()) {
      return Error(node, "expected '" + key + "' to be a mapping (name: value, ...)");
    }
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar() || !it->second.IsScalar()) {
        return Error(it->first, "expected '" + key + "' entries to be 'name: value' strings");
      }
      out->emplace_back(it->first.Scalar(), it->second.Scalar());
      (*places)[key + "." + it->first.Scalar()] = Place(it->second);
    }
    return Status::Ok();
  }

  Status ConvertInputs(const YAML::Node& node, Config* config) const {
    if (!node.IsSequence() || node.size() == 0) {
      return Error(node, "expected 'inputs' to be a non-empty list, e.g. - path: logs/*.log");
    }
    for (const auto& item : node) {
      InputSpec input;
      input.where = Place(item);
      input.url_options = config->fetch.url_options;
      if (item.IsScalar()) {
        input.path = item.Scalar();
        if (IsUrl(input.path)) std::swap(input.path, input.url);
      } else {
        std::vector<std::string> allowed = {"path", "url", "urls_from"};
        allowed.insert(allowed.end(), std::begin(kUrlKeys), std::end(kUrlKeys));
        LOGPIPE_RETURN_IF_ERROR(ExpectMap(item, "an input", allowed));
        const int kinds = (item["path"] ? 1 : 0) + (item["url"] ? 1 : 0) + (item["urls_from"] ? 1 : 0);
        if (kinds != 1) {
          return Error(item, "an input needs exactly one of 'path' (a file, glob, directory or "
                             "-), 'url' (http or https) or 'urls_from' (a file of URLs)");
        }
        if (item["path"]) {
          LOGPIPE_RETURN_IF_ERROR(GetString(item["path"], "path", &input.path));
          if (IsUrl(input.path)) std::swap(input.path, input.url);  // path: https://... reads it
        }
        if (item["url"]) {
          LOGPIPE_RETURN_IF_ERROR(GetString(item["url"], "url", &input.url));
          if (!IsUrl(input.url)) {
            return Error(item["url"], "expected 'url' to start with http:// or https://, got '" +
                                          input.url + "'");
          }
        }
        if (item["urls_from"]) {
          LOGPIPE_RETURN_IF_ERROR(GetString(item["urls_from"], "urls_from", &input.urls_from));
        }
        if (!item["url"] && !item["urls_from"] && input.url.empty()) {
          for (const char* key : kUrlKeys) {
            if (item[key]) {
              return Error(item[key], std::string("'") + key + "' applies to url and urls_from "
                                      "inputs, not to a path");
            }
          }
        }
        LOGPIPE_RETURN_IF_ERROR(ConvertUrlKeys(item, &input.url_options));
      }
      if (input.path.empty() && input.url.empty() && input.urls_from.empty()) {
        return Error(item, "an input's path is empty");
      }
      config->inputs.push_back(std::move(input));
    }
    return Status::Ok();
  }

  // The keys shared by the fetch stage (defaults) and url / urls_from inputs (overrides).
  static constexpr const char* kUrlKeys[] = {
      "connect_timeout", "timeout",       "low_speed_limit", "low_speed_time", "retries",
      "retry_delay",     "max_retry_delay", "max_redirects", "headers",        "ca_file",
      "tls_verify"};

  // Sets the options whose keys `node` has; leaves the others as they are.
  Status ConvertUrlKeys(const YAML::Node& node, UrlOptions* o) const {
    if (node["connect_timeout"]) {
      LOGPIPE_RETURN_IF_ERROR(GetDuration(node["connect_timeout"], "connect_timeout", &o->connect_timeout_ms));
    }
    if (node["timeout"]) LOGPIPE_RETURN_IF_ERROR(GetDuration(node["timeout"], "timeout", &o->timeout_ms));
    if (node["low_speed_limit"]) {
      uint64_t bytes = 0;
      LOGPIPE_RETURN_IF_ERROR(GetSize(node["low_speed_limit"], "low_speed_limit", &bytes));
      o->low_speed_bytes = static_cast<int64_t>(bytes);
    }
    if (node["low_speed_time"]) {
      LOGPIPE_RETURN_IF_ERROR(GetDuration(node["low_speed_time"], "low_speed_time", &o->low_speed_time_ms));
    }
    if (node["retries"]) {
      LOGPIPE_RETURN_IF_ERROR(GetInt(node["retries"], "retries", &o->retries));
      if (o->retries < 0) return Error(node["retries"], "expected 'retries' to be 0 or more");
    }
    if (node["retry_delay"]) {
      LOGPIPE_RETURN_IF_ERROR(GetDuration(node["retry_delay"], "retry_delay", &o->retry_delay_ms));
    }
    if (node["max_retry_delay"]) {
      LOGPIPE_RETURN_IF_ERROR(GetDuration(node["max_retry_delay"], "max_retry_delay", &o->max_retry_delay_ms));
    }
    if (node["max_redirects"]) {
      LOGPIPE_RETURN_IF_ERROR(GetInt(node["max_redirects"], "max_redirects", &o->max_redirects));
      if (o->max_redirects < 0) return Error(node["max_redirects"], "expected 'max_redirects' to be 0 or more");
    }
    if (node["headers"]) {
      std::vector<std::pair<std::string, std::string>> pairs;
      std::map<std::string, std::string> places;
      LOGPIPE_RETURN_IF_ERROR(GetPairs(node["headers"], "headers", &pairs, &places));
      for (const auto& [name, value] : pairs) {
        if (name.empty() || name.find_first_of(":\r\n ") != std::string::npos ||
            value.find_first_of("\r\n") != std::string::npos) {
          return Error(node["headers"], "header '" + name + "' is not a valid HTTP header name "
                                        "and value");
        }
        o->headers.push_back(name + ": " + value);
      }
    }
    if (node["ca_file"]) LOGPIPE_RETURN_IF_ERROR(GetString(node["ca_file"], "ca_file", &o->ca_file));
    if (node["tls_verify"]) LOGPIPE_RETURN_IF_ERROR(GetBool(node["tls_verify"], "tls_verify", &o->tls_verify));
    return Status::Ok();
  }

  Status ConvertFetch(const YAML::Node& item, FetchSpec* fetch) const {
    std::vector<std::string> allowed = {"type", "exec", "on_fetch_error", "buffer_bytes"};
    allowed.insert(allowed.end(), std::begin(kUrlKeys), std::end(kUrlKeys));
    LOGPIPE_RETURN_IF_ERROR(ExpectMap(item, "a fetch stage", allowed));
    fetch->declared = true;
    fetch->where = Place(item);
    LOGPIPE_RETURN_IF_ERROR(ConvertUrlKeys(item, &fetch->url_options));
    if (item["on_fetch_error"]) {
      std::string mode;
      LOGPIPE_RETURN_IF_ERROR(GetString(item["on_fetch_error"], "on_fetch_error", &mode));
      if (mode == "fail") {
        fetch->on_error = OnFetchError::kFail;
      } else if (mode == "skip") {
        fetch->on_error = OnFetchError::kSkip;
      } else {
        return Error(item["on_fetch_error"], "expected 'on_fetch_error' to be fail or skip");
      }
    }
    if (item["buffer_bytes"]) {
      LOGPIPE_RETURN_IF_ERROR(GetSize(item["buffer_bytes"], "buffer_bytes", &fetch->buffer_bytes));
    }
    if (item["exec"]) {
      fetch->has_exec = true;
      LOGPIPE_RETURN_IF_ERROR(ConvertExec(item["exec"], &fetch->exec));
      const ExecModel m = fetch->exec.model;
      if (m != ExecModel::kSerial && m != ExecModel::kThreads && m != ExecModel::kAsync) {
        return Error(item["exec"], std::string("the fetch stage runs serial, threads or async, "
                                               "not ") + ExecModelName(m));
      }
    }
    return Status::Ok();
  }

  // "500ms", "10s", "2m", "1h", or a number of seconds; 0 turns a timeout off.
  Status GetDuration(const YAML::Node& node, const std::string& key, int64_t* ms) const {
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    int64_t value = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    const std::string unit(p, text.data() + text.size());
    static const std::pair<const char*, int64_t> kUnits[] = {
        {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
    for (const auto& [name, mult] : kUnits) {
      if (ec == std::errc() && value >= 0 && unit == name && value <= INT64_MAX / mult) {
        *ms = value * mult;
        return Status::Ok();
      }
    }
    return Error(node, "expected '" + key + "' to be a duration such as 500ms, 30s, 2m or 1h, "
                       "got '" + text + "'");
  }

  Status ConvertMultiline(const YAML::Node& node, MultilineSpec* spec) const {
    LOGPIPE_RETURN_IF_ERROR(
        ExpectMap(node, "multiline", {"start", "continue", "max_lines", "max_bytes"}));
    spec->declared = true;
    if (node["start"]) LOGPIPE_RETURN_IF_ERROR(GetString(node["start"], "start", &spec->start));
    if (node["continue"]) {
      LOGPIPE_RETURN_IF_ERROR(GetString(node["continue"], "continue", &spec->continue_regex));
    }
    if (spec->start.empty() == spec->continue_regex.empty()) {
      return Error(node, "multiline needs exactly one of 'start: REGEX' (a line it matches starts "
                         "an event) or 'continue: REGEX' (a line it matches joins the event "
                         "before it)");
    }
    if (node["max_lines"]) {
      int n = 0;
      LOGPIPE_RETURN_IF_ERROR(GetInt(node["max_lines"], "max_lines", &n));
      if (n < 1) return Error(node["max_lines"], "expected 'max_lines' to be at least 1");
      spec->max_lines = static_cast<uint64_t>(n);
    }
    if (node["max_bytes"]) {
      LOGPIPE_RETURN_IF_ERROR(GetSize(node["max_bytes"], "max_bytes", &spec->max_bytes));
    }
    return Status::Ok();
  }

  Status ConvertRead(const YAML::Node& node, ReadSpec* read) const {
    LOGPIPE_RETURN_IF_ERROR(ExpectMap(node, "read", {"chunk_bytes", "max_line_bytes"}));
    if (node["chunk_bytes"]) {
      LOGPIPE_RETURN_IF_ERROR(GetSize(node["chunk_bytes"], "chunk_bytes", &read->chunk_bytes));
    }
    if (node["max_line_bytes"]) {
      LOGPIPE_RETURN_IF_ERROR(
          GetSize(node["max_line_bytes"], "max_line_bytes", &read->max_line_bytes));
    }
    return Status::Ok();
  }

  Status ConvertExec(const YAML::Node& node, ExecSpec* exec) const {
    LOGPIPE_RETURN_IF_ERROR(ExpectMap(node, "exec", {"model", "workers", "max_live_tokens"}));
    exec->where = Place(node);
    if (node["model"]) {
      std::string model;
      LOGPIPE_RETURN_IF_ERROR(GetString(node["model"], "model", &model));
      static const std::pair<const char*, ExecModel> kModels[] = {
          {"serial", ExecModel::kSerial}, {"threads", ExecModel::kThreads},
          {"tbb", ExecModel::kTbb},       {"processes", ExecModel::kProcesses},
          {"async", ExecModel::kAsync}};
      bool found = false;
      for (const auto& [name, value] : kModels) {
        if (model == name) {
          exec->model = value;
          found = true;
        }
      }
      if (!found) {
        return Error(node["model"], "unknown exec model '" + model +
                                        "'; expected serial, threads, tbb, processes or async");
      }
    }
    if (node["workers"]) {
      LOGPIPE_RETURN_IF_ERROR(GetInt(node["workers"], "workers", &exec->workers));
      if (exec->workers < 1 || exec->workers > 1024) {
        return Error(node["workers"], "expected 'workers' between 1 and 1024");
      }
    }
    if (node["max_live_tokens"]) {
      LOGPIPE_RETURN_IF_ERROR(
          GetInt(node["max_live_tokens"], "max_live_tokens", &exec->max_live_tokens));
      if (exec->max_live_tokens < 1 || exec->max_live_tokens > 4096) {
        return Error(node["max_live_tokens"], "expected 'max_live_tokens' between 1 and 4096");
      }
    }
    return Status::Ok();
  }

  Status ConvertStages(const YAML::Node& node, Config* config) const {
    if (!node.IsSequence() || node.size() == 0) {
      return Error(node, "expected 'stages' to be a non-empty list, e.g. - type: parse");
    }
    for (const auto& item : node) {
      StageSpec stage;
      stage.where = Place(item);
      if (!item.IsMap() || !item["type"]) {
        return Error(item, "a stage needs 'type': fetch, parse, filter or aggregate");
      }
      LOGPIPE_RETURN_IF_ERROR(GetString(item["type"], "type", &stage.type));
      if (stage.type == "fetch") {
        if (config->fetch.declared || !config->stages.empty()) {
          return Error(item, "the fetch stage comes first, once: it reads the inputs that the "
                             "other stages work on");
        }
        LOGPIPE_RETURN_IF_ERROR(ConvertFetch(item, &config->fetch));
        continue;
      }
      if (stage.type == "parse") {
        LOGPIPE_RETURN_IF_ERROR(ExpectMap(item, "a parse stage",
                                          {"type", "pattern", "regex", "fields", "encoding",
                                           "on_mismatch", "rejects", "max_reject_ratio", "multiline",
                                           "exec"}));
        if (item["pattern"]) LOGPIPE_RETURN_IF_ERROR(GetString(item["pattern"], "pattern", &stage.pattern));
        if (item["regex"]) LOGPIPE_RETURN_IF_ERROR(GetString(item["regex"], "regex", &stage.regex));
        if (stage.pattern.empty() == stage.regex.empty()) {
          return Error(item, "a parse stage needs exactly one of 'pattern' (a built-in name, see "
                             "logpipe --patterns) or 'regex' (with (?P<name>...) groups)");
        }
        stage.places["pattern"] = Place(item["pattern"] ? item["pattern"] : item["regex"]);
        if (item["fields"]) {
          LOGPIPE_RETURN_IF_ERROR(GetPairs(item["fields"], "fields", &stage.fields, &stage.places));
        }
        if (item["encoding"]) {
          LOGPIPE_RETURN_IF_ERROR(GetString(item["encoding"], "encoding", &stage.encoding));
          if (stage.encoding != "latin1" && stage.encoding != "utf8") {
            return Error(item["encoding"], "expected 'encoding' to be latin1 (match bytes, the "
                                           "default) or utf8 (reject invalid UTF-8 lines)");
          }
        }
        if (item["on_mismatch"]) {
          std::string mode;
          LOGPIPE_RETURN_IF_ERROR(GetString(item["on_mismatch"], "on_mismatch", &mode));
          if (mode == "count") {
            stage.on_mismatch = OnMismatch::kCount;
          } else if (mode == "reject") {
            stage.on_mismatch = OnMismatch::kReject;
          } else if (mode == "fail") {
            stage.on_mismatch = OnMismatch::kFail;
          } else {
            return Error(item["on_mismatch"], "expected 'on_mismatch' to be count, reject or fail");
          }
        }
        if (item["rejects"]) LOGPIPE_RETURN_IF_ERROR(GetString(item["rejects"], "rejects", &stage.rejects));
        if (item["max_reject_ratio"]) {
          const YAML::Node& node = item["max_reject_ratio"];
          const std::string text = node.IsScalar() ? node.Scalar() : "";
          double ratio = 0;
          auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), ratio);
          // `!(ratio >= 0 && ratio <= 1)` also refuses nan.
          if (!node.IsScalar() || text.empty() || ec != std::errc() ||
              p != text.data() + text.size() || !(ratio >= 0 && ratio <= 1)) {
            return Error(node, "expected 'max_reject_ratio' to be a fraction from 0 to 1 (e.g. "
                               "0.01 for 1% of the lines), got '" + text + "'");
          }
          stage.max_reject_ratio = ratio;
          stage.places["max_reject_ratio"] = Place(node);
        }
        if (item["multiline"]) {
          LOGPIPE_RETURN_IF_ERROR(ConvertMultiline(item["multiline"], &stage.multiline));
          stage.places["multiline"] = Place(item["multiline"]);
        }
        if (stage.on_mismatch == OnMismatch::kReject && stage.rejects.empty()) {
          return Error(item, "on_mismatch: reject needs 'rejects: PATH', the file that receives "
                             "the lines that did not parse");
        }
      } else if (stage.type == "filter") {
        LOGPIPE_RETURN_IF_ERROR(ExpectMap(item, "a filter stage", {"type", "where", "exec"}));
        if (!item["where"]) return Error(item, "a filter stage needs 'where: EXPRESSION'");
        LOGPIPE_RETURN_IF_ERROR(GetString(item["where"], "where", &stage.filter_where));
        stage.places["where"] = Place(item["where"]);
      } else if (stage.type == "aggregate") {
        LOGPIPE_RETURN_IF_ERROR(
            ExpectMap(item, "an aggregate stage", {"type", "name", "group_by", "metrics", "exec"}));
        if (item["name"]) LOGPIPE_RETURN_IF_ERROR(GetString(item["name"], "name", &stage.name));
        if (item["group_by"]) {
          LOGPIPE_RETURN_IF_ERROR(GetStringList(item["group_by"], "group_by", &stage.group_by));
          stage.places["group_by"] = Place(item["group_by"]);
        }
        if (!item["metrics"]) {
          return Error(item, "an aggregate stage needs 'metrics', e.g. {hits: count}");
        }
        LOGPIPE_RETURN_IF_ERROR(GetPairs(item["metrics"], "metrics", &stage.metrics, &stage.places));
      } else {
        return Error(item["type"], "unknown stage type '" + stage.type +
                                       "'; expected fetch, parse, filter or aggregate");
      }
      if (item["exec"]) {
        stage.has_exec = true;
        LOGPIPE_RETURN_IF_ERROR(ConvertExec(item["exec"], &stage.exec));
      }
      config->stages.push_back(std::move(stage));
    }
    return Status::Ok();
  }

  Status ConvertOutputs(const YAML::Node& node, Config* config) const {
    if (!node.IsSequence()) {
      return Error(node, "expected 'outputs' to be a list, e.g. - {path: out/report.json}");
    }
    for (const auto& item : node) {
      OutputSpec out;
      out.where = Place(item);
      LOGPIPE_RETURN_IF_ERROR(
          ExpectMap(item, "an output", {"kind", "path", "format", "table", "fields", "line_numbers"}));
      if (item["kind"]) LOGPIPE_RETURN_IF_ERROR(GetString(item["kind"], "kind", &out.kind));
      if (out.kind != "report" && out.kind != "records") {
        return Error(item["kind"], "expected output 'kind' to be report or records");
      }
      if (!item["path"]) return Error(item, "an output needs 'path' (a file, or - for stdout)");
      LOGPIPE_RETURN_IF_ERROR(GetString(item["path"], "path", &out.path));
      if (item["format"]) LOGPIPE_RETURN_IF_ERROR(GetString(item["format"], "format", &out.format));
      if (item["table"]) LOGPIPE_RETURN_IF_ERROR(GetString(item["table"], "table", &out.table));
      if (item["fields"]) {
        if (out.kind != "records") return Error(item["fields"], "'fields' applies to records outputs");
        LOGPIPE_RETURN_IF_ERROR(GetStringList(item["fields"], "fields", &out.fields));
      }
      if (item["line_numbers"]) {
        LOGPIPE_RETURN_IF_ERROR(GetBool(item["line_numbers"], "line_numbers", &out.line_numbers));
      }
      LOGPIPE_RETURN_IF_ERROR(ResolveFormat(item, &out));
      config->outputs.push_back(std::move(out));
    }
    return Status::Ok();
  }

  // Fills in the format from the file extension when not given, and checks it.
  Status ResolveFormat(const YAML::Node& item, OutputSpec* out) const {
    auto ends_with = [&](const char* suffix) {
      const std::string s(suffix);
      return out->path.size() >= s.size() &&
             out->path.compare(out->path.size() - s.size(), s.size(), s) == 0;
    };
    const bool report = out->kind == "report";
    if (out->format.empty()) {
      if (ends_with(".json")) {
        out->format = report ? "json" : "jsonl";
      } else if (ends_with(".jsonl") || ends_with(".ndjson")) {
        out->format = "jsonl";
      } else if (ends_with(".csv")) {
        out->format = "csv";
      } else {
        out->format = report ? "table" : "jsonl";
      }
    }
    const std::vector<std::string> allowed =
        report ? std::vector<std::string>{"json", "csv", "table"}
               : std::vector<std::string>{"jsonl", "csv"};
    if (std::find(allowed.begin(), allowed.end(), out->format) == allowed.end()) {
      return Error(item["format"] ? item["format"] : item, "unknown " + out->kind + " format '" +
                                                               out->format +
                                                               "'; expected " + JoinKeys(allowed));
    }
    return Status::Ok();
  }

  std::string file_;
};

// A copy of `node` with no source positions, so errors about it say "set by --set" rather
// than pointing into the --set text as if it were the config file.
YAML::Node WithoutMarks(const YAML::Node& node) {
  if (node.IsScalar()) return YAML::Node(node.Scalar());
  YAML::Node copy;
  if (node.IsSequence()) {
    for (const auto& item : node) copy.push_back(WithoutMarks(item));
  } else if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      copy[it->first.Scalar()] = WithoutMarks(it->second);
    }
  }
  return copy;
}

// Walks `root` along `path` for an override, creating missing map keys.
Status ApplyOverride(YAML::Node root, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    return UsageError("--set '" + assignment + "': expected KEY.PATH=VALUE, e.g. "
                      "--set stages.parse.exec.model=serial");
  }
  const std::string key_path = assignment.substr(0, eq);
  const std::string value_text = assignment.substr(eq + 1);
  std::vector<std::string> parts;
  std::stringstream ss(key_path);
  for (std::string part; std::getline(ss, part, '.');) {
    if (part.empty()) return UsageError("--set '" + assignment + "': empty key in '" + key_path + "'");
    parts.push_back(part);
  }
  YAML::Node cur = root;
  std::string walked;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    const bool last = i + 1 == parts.size();
    walked += (walked.empty() ? "" : ".") + part;
    if (cur.IsSequence()) {
      size_t index = 0;
      auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), index);
      bool numeric = ec == std::errc() && p == part.data() + part.size();
      if (!numeric) {  // a stage type name: the first stage of that type
        bool found = false;
        for (size_t j = 0; j < cur.size(); ++j) {
          if (cur[j].IsMap() && cur[j]["type"] && cur[j]["type"].Scalar() == part) {
            index = j;
            found = true;
            break;
          }
        }
        if (!found) {
          return UsageError("--set " + key_path + ": no item with type '" + part + "' in '" +
                            walked.substr(0, walked.size() - part.size() - 1) + "'");
        }
      } else if (index >= cur.size()) {
        return UsageError("--set " + key_path + ": index " + part + " is out of range (the list "
                          "has " + std::to_string(cur.size()) + " items, counted from 0)");
      }
      if (last) {
        return UsageError("--set " + key_path + ": cannot replace a whole list item; set one of "
                          "its keys");
      }
      YAML::Node next = cur[index];
      cur.reset(next);
      continue;
    }
    if (!cur.IsMap() && !cur.IsNull()) {
      return UsageError("--set " + key_path + ": '" + walked + "' is inside a plain value, not a "
                        "mapping");
    }
    if (last) {
      YAML::Node value;
      try {
        value = YAML::Load(value_text);
      } catch (const YAML::Exception&) {
        value = YAML::Node(value_text);
      }
      if (value.IsNull() && !value_text.empty()) value = YAML::Node(value_text);
      cur[part] = WithoutMarks(value);
    } else {
      if (!cur[part].IsDefined() || cur[part].IsNull()) cur[part] = YAML::Node(YAML::NodeType::Map);
      YAML::Node next = cur[part];
      cur.reset(next);
    }
  }
  return Status::Ok();
}

Result<Config> LoadNode(std::function<YAML::Node()> load, const std::string& name,
                        const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = load();
  } catch (const YAML::ParserException& e) {
    return ConfigError(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                       std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
  } catch (const YAML::BadFile&) {
    return NoInputError(name + ": cannot open the config file; check the path given to --config");
  } catch (const YAML::Exception& e) {
    return ConfigError(name + ": " + e.what());
  }
  try {
    for (const auto& assignment : overrides) {
      if (!root.IsMap()) return ConfigError(name + ": the config is not a mapping of keys");
      LOGPIPE_RETURN_IF_ERROR(ApplyOverride(root, assignment));
    }
    return Converter(name).Convert(root);
  } catch (const YAML::Exception& e) {
    return ConfigError(name + ": " + e.what());
  }
}

}  // namespace

const char* ExecModelName(ExecModel model) {
  switch (model) {
    case ExecModel::kSerial: return "serial";
    case ExecModel::kThreads: return "threads";
    case ExecModel::kTbb: return "tbb";
    case ExecModel::kProcesses: return "processes";
    case ExecModel::kAsync: return "async";
  }
  return "?";
}

bool ParseByteSize(const std::string& text, uint64_t* bytes) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return false;
  uint64_t value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + digits, value);
  if (ec != std::errc()) return false;
  std::string unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  uint64_t mult = 0;
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"", 1},        {"B", 1},          {"K", 1ull << 10}, {"KB", 1ull << 10}, {"KiB", 1ull << 10},
      {"M", 1ull << 20}, {"MB", 1ull << 20}, {"MiB", 1ull << 20}, {"G", 1ull << 30},
      {"GB", 1ull << 30}, {"GiB", 1ull << 30}};
  for (const auto& [name, m] : kUnits) {
    if (unit == name) mult = m;
  }
  if (mult == 0 || value > (UINT64_MAX / mult)) return false;
  *bytes = value * mult;
  return true;
}

Result<Config> LoadConfigFile(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream probe(path);
  if (!probe) {
    return NoInputError(path + ": cannot open the config file; check the path given to --config");
  }
  return LoadNode([&] { return YAML::LoadFile(path); }, path, overrides);
}

Result<Config> LoadConfigString(const std::string& yaml, const std::string& name,
                                const std::vector<std::string>& overrides) {
  return LoadNode([&] { return YAML::Load(yaml); }, name, overrides);
}

}  // namespace logpipe
