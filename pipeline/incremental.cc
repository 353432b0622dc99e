#include "pipeline/incremental.h"

#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>

#include "io/url_fetch.h"

namespace logpipe {
namespace {

void Field(const std::string& name, const std::string& value, std::string* out) {
  *out += name;
  *out += '=';
  *out += std::to_string(value.size());
  *out += ':';
  *out += value;
  *out += ';';
}

bool SameFile(const StateEntry& e, const FileIdentity& id) {
  return e.dev == id.dev && e.ino == id.ino;
}

}  // namespace

std::string StateConfigHash(const Config& config) {
  // Length-prefixed fields, so no two configs give the same text.
  std::string text;
  Field("state-v", "1", &text);
  Field("max_line_bytes", std::to_string(config.read.max_line_bytes), &text);
  Field("accumulate", config.accumulate ? "1" : "0", &text);
  for (const StageSpec& s : config.stages) {
    Field("type", s.type, &text);
    Field("pattern", s.pattern, &text);
    Field("regex", s.regex, &text);
    for (const auto& [name, type] : s.fields) {
      Field("field", name, &text);
      Field("as", type, &text);
    }
    Field("encoding", s.encoding, &text);
    Field("ml", s.multiline.declared ? "1" : "0", &text);
    Field("ml.start", s.multiline.start, &text);
    Field("ml.continue", s.multiline.continue_regex, &text);
    Field("ml.max_lines", std::to_string(s.multiline.max_lines), &text);
    Field("ml.max_bytes", std::to_string(s.multiline.max_bytes), &text);
    Field("where", s.filter_where, &text);
    Field("name", s.name, &text);
    for (const auto& g : s.group_by) Field("group_by", g, &text);
    for (const auto& [name, expr] : s.metrics) {
      Field("metric", name, &text);
      Field("expr", expr, &text);
    }
  }
  return Hex64(Fnv1a64(text));
}

std::vector<InputMatch> MatchInputs(const std::vector<FileIdentity>& ids,
                                    const std::vector<StateEntry>& entries) {
  std::vector<InputMatch> out(ids.size());
  std::vector<bool> matched(ids.size(), false);
  std::vector<bool> taken(entries.size(), false);
  // A plain file smaller than the offset cannot be the file that was read that far (a
  // compressed one's decompressed size is not known without reading it).
  auto fits = [](const StateEntry& e, const FileIdentity& id) {
    return id.compressed || id.size >= e.offset;
  };
  // 1. The same file (renamed or not).
  for (size_t i = 0; i < ids.size(); ++i) {
    const FileIdentity& id = ids[i];
    for (size_t k = 0; k < entries.size(); ++k) {
      const StateEntry& e = entries[k];
      if (taken[k] || !SameFile(e, id) || e.compressed != id.compressed ||
          !FingerprintMatches(e, id.head) || !fits(e, id)) {
        continue;
      }
      taken[k] = true;
      matched[i] = true;
      InputMatch& m = out[i];
      m.from_path = e.path;
      m.range.begin = e.offset;
      m.range.first_line = e.lines + 1;
      const bool unchanged = id.size == e.size && id.mtime_ns == e.mtime_ns;
      if (id.compressed) {
        // A compressed file is read to its end once; seen again unchanged, it has nothing new.
        m.fate = unchanged ? InputFate::kUnchanged : InputFate::kContinued;
        if (unchanged) m.range.end = e.offset;
      } else {
        m.fate = InputFate::kContinued;
        m.final_partial_line = unchanged;
      }
      break;
    }
  }
  // 2. A rotated copy: another inode with the same first bytes.
  for (size_t i = 0; i < ids.size(); ++i) {
    if (matched[i]) continue;
    const FileIdentity& id = ids[i];
    size_t best = entries.size();
    for (size_t k = 0; k < entries.size(); ++k) {
      const StateEntry& e = entries[k];
      if (taken[k] || e.fingerprint_bytes == 0 || !FingerprintMatches(e, id.head) || !fits(e, id)) {
        continue;
      }
      if (best == entries.size() || e.fingerprint_bytes > entries[best].fingerprint_bytes) best = k;
    }
    if (best == entries.size()) continue;
    const StateEntry& e = entries[best];
    taken[best] = true;
    matched[i] = true;
    InputMatch& m = out[i];
    m.fate = InputFate::kRotated;
    m.from_path = e.path;
    m.range.begin = e.offset;
    m.range.first_line = e.lines + 1;
    // A rotated plain file is no longer written to... unless a writer still holds it open
    // (create rotation without a reload yet): its last partial line waits like any other.
  }
  // 3. New, or truncated / rewritten in place.
  for (size_t i = 0; i < ids.size(); ++i) {
    if (matched[i]) continue;
    InputMatch& m = out[i];
    m.fate = InputFate::kNew;
    if (ids[i].compressed) continue;
    for (size_t k = 0; k < entries.size(); ++k) {
      const StateEntry& e = entries[k];
      if (!SameFile(e, ids[i]) || e.compressed) continue;
      // Its old content was found in a rotated copy (copytruncate), or its inode was reused
      // after the old file was compressed and removed: a new file, nothing lost. Otherwise
      // the old content is gone: truncated or rewritten in place.
      if (!taken[k]) m.fate = InputFate::kRestarted;
      m.from_path = e.path;
      break;
    }
  }
  return out;
}

std::string DescribeMatch(const std::string& path, const FileIdentity& id, const InputMatch& m) {
  const std::string unit = id.compressed ? " (decompressed)" : "";
  auto from = [&] {
    return "from byte " + std::to_string(m.range.begin) + unit + ", line " +
           std::to_string(m.range.first_line);
  };
  auto to = [&] {
    if (id.compressed) return std::string(" to its end");
    if (m.range.end == UINT64_MAX) return std::string();
    if (m.range.end <= m.range.begin) return std::string(": nothing new (no new whole line)");
    return " to byte " + std::to_string(m.range.end) +
           (m.final_partial_line ? " (its last line lacks '\\n' and the file is unchanged since "
                                   "the previous run: read as final)"
                                 : "");
  };
  switch (m.fate) {
    case InputFate::kNew:
      return path + ": new: from the start" + to() +
             (m.from_path.empty() ? ""
                                  : " (reuses the inode of " + m.from_path +
                                        ", whose content continues in a rotated copy)");
    case InputFate::kContinued:
      return path + ": " + (m.from_path != path ? "renamed from " + m.from_path + ": " : "") +
             from() + to();
    case InputFate::kUnchanged:
      return path + ": unchanged compressed file, already read: nothing new";
    case InputFate::kRotated:
      return path + ": rotated from " + m.from_path + ": " + from() + to();
    case InputFate::kRestarted:
      return path + ": truncated or rewritten since the previous run: from the start" + to();
  }
  return path;
}

Result<IncrementalRun> PrepareIncremental(const Plan& plan,
                                          const std::vector<std::string>& inputs) {
  IncrementalRun run;
  run.state_path = plan.config.state;
  run.config_hash = StateConfigHash(plan.config);
  Result<std::optional<StateFile>> previous = ReadStateFile(run.state_path);
  if (!previous.ok()) return previous.status();
  run.previous = std::move(previous.value());
  if (run.previous && run.previous->config_hash != run.config_hash) {
    return ConfigError(run.state_path +
                       ": this state file was written by a run of another "
                       "config (its parse, filter or aggregate stages, read.max_line_bytes or "
                       "accumulate differ; state set at " +
                       plan.config.state_where +
                       "): its offsets and partial results do not fit this config. Delete it "
                       "to start over from the start of every input, or give this config its "
                       "own state file");
  }
  if (run.previous && plan.config.accumulate &&
      (!run.previous->has_accumulated || run.previous->partials.size() != plan.aggregates.size())) {
    return DataError(run.state_path +
                     ": accumulate is on but the state file holds no partial "
                     "results for this config's " +
                     std::to_string(plan.aggregates.size()) +
                     " aggregate(s); it is damaged: delete it to start over");
  }
  for (const std::string& path : inputs) {
    if (path == "-" || IsUrl(path)) {
      return ConfigError(path +
                         ": cannot be read incrementally (no file identity and no "
                         "offset that lasts between runs); remove 'state' (" +
                         plan.config.state_where + ") or read files only");
    }
    Result<FileIdentity> id = IdentifyFile(path);
    if (!id.ok()) return id.status();
    if (!id->regular) {
      return ConfigError(path +
                         ": is not a regular file (a FIFO or device?), so it cannot be "
                         "read incrementally: it has no offset that lasts between runs; remove "
                         "'state' (" +
                         plan.config.state_where + ") or read a regular file");
    }
    run.ids.push_back(std::move(id.value()));
  }
  static const std::vector<StateEntry> kNone;
  run.matches = MatchInputs(run.ids, run.previous ? run.previous->entries : kNone);
  for (size_t i = 0; i < inputs.size(); ++i) {
    InputMatch& m = run.matches[i];
    const FileIdentity& id = run.ids[i];
    if (!id.compressed && m.fate != InputFate::kUnchanged) {
      if (m.final_partial_line) {
        m.range.end = id.size;
      } else {
        Result<uint64_t> end = EndOfLastLine(inputs[i], m.range.begin, id.size);
        if (!end.ok()) return end.status();
        m.range.end = *end;
      }
      if (m.range.end < m.range.begin) m.range.end = m.range.begin;
    }
    if (m.fate == InputFate::kRestarted) {
      ++run.restarted;
      run.warnings.push_back(inputs[i] +
                             ": truncated or rewritten since the previous run "
                             "(same file, other first bytes or smaller than the " +
                             std::string("offset read); reading it again from the start"));
    }
    run.ranges.push_back(m.range);
  }
  return run;
}

StateFile NextState(const IncrementalRun& run, const std::vector<std::string>& inputs,
                    const std::vector<InputEnd>& ends, bool accumulate,
                    std::vector<std::pair<std::string, uint64_t>> totals,
                    std::vector<std::string> partials) {
  StateFile next;
  next.config_hash = run.config_hash;
  next.runs = (run.previous ? run.previous->runs : 0) + 1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const FileIdentity& id = run.ids[i];
    const InputRange& range = run.ranges[i];
    StateEntry e;
    e.path = inputs[i];
    e.dev = id.dev;
    e.ino = id.ino;
    e.fingerprint = Fnv1a64(id.head);
    e.fingerprint_bytes = id.head.size();
    e.size = id.size;
    e.mtime_ns = id.mtime_ns;
    e.compressed = id.compressed;
    if (i < ends.size() && ends[i].seen) {
      e.offset = ends[i].offset;
      e.lines = ends[i].next_line - 1;
    } else {
      e.offset = range.begin;
      e.lines = range.first_line - 1;
    }
    next.entries.push_back(std::move(e));
  }
  if (accumulate) {
    next.has_accumulated = true;
    next.totals = std::move(totals);
    next.partials = std::move(partials);
  }
  return next;
}

Status AccumulateInto(const Plan& plan, const IncrementalRun& run,
                      std::vector<std::unique_ptr<Partial>>* partials,
                      std::vector<std::pair<std::string, uint64_t>>* totals) {
  if (!run.previous || !run.previous->has_accumulated) return Status::Ok();
  const StateFile& prev = *run.previous;
  for (size_t a = 0; a < plan.aggregates.size() && a < prev.partials.size(); ++a) {
    std::unique_ptr<Partial> stored = plan.aggregates[a]->NewPartial();
    Status st = plan.aggregates[a]->Decode(prev.partials[a], stored.get());
    if (!st.ok()) {
      return DataError(run.state_path + ": the stored partial result of aggregate '" +
                       plan.aggregate_names[a] + "' does not decode (" + st.message() +
                       "); the state file is damaged: delete it to start over");
    }
    plan.aggregates[a]->Merge(std::move(*stored), *(*partials)[a]);
  }
  std::map<std::string, uint64_t> stored(prev.totals.begin(), prev.totals.end());
  for (auto& [name, value] : *totals) {
    if (name == "inputs" || name.rfind("new_", 0) == 0) continue;
    auto it = stored.find(name);
    if (it != stored.end()) value += it->second;
  }
  return Status::Ok();
}

void MaybeCrashAt(const char* step) {
  const char* env = std::getenv("LOGPIPE_TEST_CRASH_AT");
  if (env != nullptr && std::strcmp(env, step) == 0) raise(SIGKILL);
}

}  // namespace logpipe
