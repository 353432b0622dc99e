#include "stages/parse_stage.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <utility>

#include "io/text_escape.h"
#include "stages/byte_scanner.h"

namespace logpipe {
namespace {

// RE2's memory budget per compiled pattern (default 8 MiB). The DFA gets most of it and the
// OnePass machine is taken from 1/4 of the DFA's share, so a generous budget keeps long
// patterns eligible for OnePass and keeps the DFA cache from resetting mid-run.
constexpr int64_t kRe2MaxMem = int64_t{64} << 20;

re2::RE2::Options MakeOptions(bool utf8) {
  re2::RE2::Options options;
  options.set_encoding(utf8 ? re2::RE2::Options::EncodingUTF8 : re2::RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  options.set_max_mem(kRe2MaxMem);
  return options;
}

Status RegexError(const std::string& regex, const std::string& re2_error) {
  return ConfigError("invalid regex '" + regex + "': " + re2_error);
}

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

// Copies a character class starting at regex[*i] == '[' to `out`, leaving *i past its ']'.
// A ']' right after '[' or '[^' is a literal, as are '(' and ')' anywhere inside; escapes and
// POSIX classes ([:alpha:]) are copied whole.
bool CopyClass(const std::string& regex, size_t* i, std::string* out) {
  size_t p = *i + 1;
  if (p < regex.size() && regex[p] == '^') ++p;
  if (p < regex.size() && regex[p] == ']') ++p;
  while (p < regex.size()) {
    const char c = regex[p];
    if (c == '\\') {
      p += 2;
    } else if (c == '[' && p + 1 < regex.size() && regex[p + 1] == ':') {
      const size_t close = regex.find(":]", p + 2);
      if (close == std::string::npos) return false;
      p = close + 2;
    } else if (c == ']') {
      out->append(regex, *i, p + 1 - *i);
      *i = p + 1;
      return true;
    } else {
      ++p;
    }
  }
  return false;
}

}  // namespace

Result<std::vector<std::string>> NamedGroups(const std::string& regex) {
  re2::RE2 re(regex, MakeOptions(/*utf8=*/false));
  if (!re.ok()) return RegexError(regex, re.error());
  std::vector<std::string> names;
  for (const auto& [index, name] : re.CapturingGroupNames()) names.push_back(name);
  return names;
}

Result<std::string> KeepOnlyCaptures(const std::string& regex,
                                     const std::vector<std::string>& keep) {
  auto malformed = [&regex](const std::string& what) {
    return ConfigError("malformed regex '" + regex + "': " + what);
  };
  auto kept = [&keep](const std::string& name) {
    return std::find(keep.begin(), keep.end(), name) != keep.end();
  };
  std::string out;
  out.reserve(regex.size());
  int depth = 0;
  size_t i = 0;
  while (i < regex.size()) {
    const char c = regex[i];
    if (c == '\\') {
      if (i + 1 >= regex.size()) return malformed("trailing backslash");
      if (regex[i + 1] == 'Q') {  // \Q...\E quotes everything up to \E (or the end)
        const size_t e = regex.find("\\E", i + 2);
        const size_t stop = e == std::string::npos ? regex.size() : e + 2;
        out.append(regex, i, stop - i);
        i = stop;
      } else {
        out.append(regex, i, 2);
        i += 2;
      }
      continue;
    }
    if (c == '[') {
      if (!CopyClass(regex, &i, &out)) return malformed("missing ] in a character class");
      continue;
    }
    if (c == ')') {
      if (--depth < 0) return malformed("unexpected )");
      out.push_back(c);
      ++i;
      continue;
    }
    if (c != '(') {
      out.push_back(c);
      ++i;
      continue;
    }
    ++depth;
    // A named group: (?P<name>...) or, where RE2 accepts it, (?<name>...).
    size_t name_start = std::string::npos;
    if (regex.compare(i, 4, "(?P<") == 0) {
      name_start = i + 4;
    } else if (regex.compare(i, 3, "(?<") == 0 && i + 3 < regex.size() &&
               IsNameStart(regex[i + 3])) {
      name_start = i + 3;
    }
    if (name_start != std::string::npos) {
      size_t name_end = name_start;
      while (name_end < regex.size() && IsNameChar(regex[name_end])) ++name_end;
      if (name_end == name_start || name_end >= regex.size() || regex[name_end] != '>') {
        return malformed("bad group name at offset " + std::to_string(i));
      }
      if (kept(regex.substr(name_start, name_end - name_start))) {
        out.append(regex, i, name_end + 1 - i);
      } else {
        out += "(?:";
      }
      i = name_end + 1;
      continue;
    }
    if (i + 1 < regex.size() && regex[i + 1] == '?') {
      // (?:...), (?i), (?i:...), (?-s), and anything else RE2 will judge: not a capture.
      out += "(?";
      i += 2;
      continue;
    }
    out += "(?:";  // an unnamed capturing group
    ++i;
  }
  if (depth != 0) return malformed("missing )");
  return out;
}

namespace {

struct ParseScratch : public Scratch {
  std::vector<re2::StringPiece> groups;  // RE2's submatches
  std::vector<std::string_view> spans;   // the scanner's
};

}  // namespace

ParseStage::~ParseStage() = default;

Result<std::unique_ptr<ParseStage>> ParseStage::Create(const ParseOptions& options,
                                                       const Schema& schema) {
  Result<std::vector<std::string>> names = NamedGroups(options.regex);
  if (!names.ok()) return names.status();
  std::vector<std::string> keep;
  for (const FieldSpec& field : schema.fields()) {
    if (options.multiline && field.name == kEventLinesField) continue;
    if (std::find(names->begin(), names->end(), field.name) == names->end()) {
      std::string known;
      for (const std::string& n : *names) known += (known.empty() ? "" : ", ") + n;
      return ConfigError("field '" + field.name + "' has no (?P<" + field.name +
                         ">...) group in regex '" + options.regex +
                         "' (its groups: " + (known.empty() ? "none" : known) + ")");
    }
    keep.push_back(field.name);
  }
  Result<std::string> rewritten = KeepOnlyCaptures(options.regex, keep);
  if (!rewritten.ok()) return rewritten.status();

  std::unique_ptr<ParseStage> stage(new ParseStage());
  stage->compiled_regex_ = std::move(*rewritten);
  stage->utf8_ = options.utf8;
  stage->re_ = std::make_unique<re2::RE2>(stage->compiled_regex_, MakeOptions(options.utf8));
  if (!stage->re_->ok()) return RegexError(options.regex, stage->re_->error());
  stage->capture_count_ = stage->re_->NumberOfCapturingGroups();
  if (options.utf8) {
    stage->scanner_refusal_ = "utf8 mode";
  } else if (!options.allow_scanner) {
    stage->scanner_refusal_ = "disabled";
  } else {
    stage->scanner_ = ByteScanner::Compile(stage->compiled_regex_, &stage->scanner_refusal_);
    if (stage->scanner_ != nullptr) {
      // Belt and braces: the scanner must number the groups as RE2 does.
      bool same = stage->scanner_->capture_count() == stage->capture_count_;
      for (const auto& [name, index] : stage->re_->NamedCapturingGroups()) {
        same = same && index <= stage->scanner_->capture_count() &&
               stage->scanner_->group_names()[index] == name;
      }
      if (!same) {
        stage->scanner_.reset();
        stage->scanner_refusal_ = "its groups differ from RE2's";
      }
    }
  }

  const std::map<std::string, int>& groups = stage->re_->NamedCapturingGroups();
  for (size_t f = 0; f < schema.size(); ++f) {
    const FieldSpec& spec = schema.field(f);
    if (options.multiline && spec.name == kEventLinesField) {
      if (spec.type != FieldType::kInt) {
        return ConfigError(std::string("field '") + kEventLinesField + "' is an int");
      }
      stage->event_lines_field_ = static_cast<int>(f);
      continue;
    }
    auto it = groups.find(spec.name);
    if (it == groups.end()) {
      return InternalError("parse: group '" + spec.name + "' lost by capture pushdown of '" +
                           options.regex + "'");
    }
    Slot slot{it->second, f, spec.type, TimeFormat()};
    if (spec.type == FieldType::kTime) {
      Result<TimeFormat> tf = TimeFormat::Compile(spec.time_format);
      if (!tf.ok()) return tf.status().WithPrefix("field '" + spec.name + "'");
      slot.time_format = std::move(*tf);
    }
    stage->slots_.push_back(std::move(slot));
  }
  return stage;
}

std::unique_ptr<Scratch> ParseStage::NewScratch() const {
  auto scratch = std::make_unique<ParseScratch>();
  if (scanner_ != nullptr) {
    scratch->spans.resize(capture_count_ + 1);
  } else {
    scratch->groups.resize(capture_count_ + 1);
  }
  return scratch;
}

void ParseStage::Process(RecordBatch& batch, Scratch& scratch) const {
  auto& s = static_cast<ParseScratch&>(scratch);
  // With no capture the DFA alone answers; otherwise group 0 plus the kept groups.
  const int nsubmatch = capture_count_ == 0 ? 0 : capture_count_ + 1;
  re2::StringPiece* groups = s.groups.data();
  std::string_view* spans = s.spans.data();
  const int nspans = static_cast<int>(s.spans.size());
  const ByteScanner* const scanner = scanner_.get();
  BatchCounters& counters = batch.counters;
  std::vector<uint32_t>& selected = batch.selected;
  const size_t n = selected.size();
  // Room for every row to be rejected: grows once to the largest batch, then is reused, so
  // a batch with more rejects than the previous one does not allocate.
  batch.rejects.reserve(batch.rejects.size() + n);
  size_t kept = 0;
  for (size_t k = 0; k < n; ++k) {
    const uint32_t row = selected[k];
    const std::string_view line = batch.line(row);
    if (utf8_ && !IsValidUtf8(line)) {
      ++counters.invalid_utf8;
      batch.rejects.push_back(RejectedRow{row, RejectReason::kInvalidUtf8});
      continue;
    }
    const bool matched = scanner != nullptr
                             ? scanner->Match(line, spans, nspans)
                             : re_->Match(re2::StringPiece(line.data(), line.size()), 0,
                                          line.size(), re2::RE2::ANCHOR_BOTH, groups, nsubmatch);
    if (!matched) {
      ++counters.mismatched;
      batch.rejects.push_back(RejectedRow{row, RejectReason::kMismatch});
      continue;
    }
    ++counters.matched;
    selected[kept++] = row;
    if (event_lines_field_ >= 0) {
      Value& value = batch.field(static_cast<size_t>(event_lines_field_), row);
      value = Value{};
      value.i = batch.event_lines(row);
      value.present = true;
    }
    for (const Slot& slot : slots_) {
      const std::string_view g = scanner != nullptr ? spans[slot.group]
                                                    : std::string_view(groups[slot.group].data(),
                                                                       groups[slot.group].size());
      Value& value = batch.field(slot.field, row);
      value = Value{};
      if (g.data() == nullptr) continue;  // the group did not take part in the match
      value.text = g;
      if (value.text.empty() || value.text == "-") continue;  // "no value", not an error
      const char* begin = value.text.data();
      const char* end = begin + value.text.size();
      bool ok = false;
      switch (slot.type) {
        case FieldType::kString:
          ok = true;
          break;
        case FieldType::kInt: {
          auto [ptr, ec] = std::from_chars(begin, end, value.i);
          ok = ec == std::errc() && ptr == end;
          break;
        }
        case FieldType::kFloat: {
          auto [ptr, ec] = std::from_chars(begin, end, value.f);
          ok = ec == std::errc() && ptr == end && std::isfinite(value.f);
          break;
        }
        case FieldType::kTime:
          ok = slot.time_format.Parse(value.text, &value.i);
          break;
      }
      if (ok) {
        value.present = true;
      } else {
        value.i = 0;
        value.f = 0;
        ++counters.conversion_errors[slot.field];
      }
    }
  }
  selected.resize(kept);
}

std::string ParseStage::EngineSummary() const {
  const std::string n =
      std::to_string(capture_count_) + (capture_count_ == 1 ? " capture: " : " captures: ");
  std::string re2_text;
  if (capture_count_ == 0) {
    re2_text = n + "DFA only (match or not, nothing to extract)";
  } else if (capture_count_ <= 4) {
    re2_text = n +
               "one-pass eligible (<= 4 captures): RE2 fills the groups with its OnePass engine "
               "if the pattern is also one-pass (never two ways to go on at the same byte), "
               "otherwise with BitState/NFA; RE2 does not report which it picks";
  } else {
    re2_text = n + "BitState/NFA (> 4 captures: consider capturing fewer fields)";
  }
  if (scanner_ != nullptr) {
    return "byte scanner (RE2-verified subset): the pattern is decided byte by byte, so a "
           "compiled scanner matches it with RE2's results; RE2 would use " +
           re2_text;
  }
  return re2_text + " [byte scanner not used: " + scanner_refusal_ + "]";
}

}  // namespace logpipe
