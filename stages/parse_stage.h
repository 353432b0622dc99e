#pragma once
// ParseStage matches every selected line against one RE2 pattern and fills the schema's fields
// from its named groups, converting typed fields (int, float, time) once.
//
// Matching is on bytes (RE2 Latin-1) by default, so invalid UTF-8 never drops a line. With
// `utf8` set, a line that is not valid UTF-8 is rejected (RejectReason::kInvalidUtf8) and the
// pattern is matched in RE2's UTF-8 mode. The match is anchored at both ends of the line.
// Only the groups that name schema fields are captured: every other group is rewritten to
// (?:...) before compiling, because RE2 is 2-2.5x faster with <= 4 captures (BASELINES.md).
// With multi-line events a row is a whole event: the pattern is matched against its text (lines
// joined by '\n'; `(?s)` lets `.` cross lines) and the schema field `event_lines`, if any, is
// the event's number of lines (an int, not a group of the pattern).
// Rows that do not match leave `selected`, are listed in batch.rejects and counted.
// A typed field whose text does not convert is absent in that row and counted in
// counters.conversion_errors[field]; text that is empty or "-" is absent and not an error.
// Thread-safety: Process is const; run it concurrently with one Scratch per worker.
// When the compiled pattern is in ByteScanner's deterministic subset (Latin-1 mode only), a
// compiled byte scanner matches instead of RE2, with the same results (see byte_scanner.h).
// Cost: one RE2 (or scanner) Match per line with a reused submatch array from the Scratch;
//   logpipe allocates nothing per line, nor does the scanner. RE2 itself allocates nothing
//   per line on its DFA path (no captures) and OnePass path (<= 4 captures and a one-pass
//   pattern, see EngineSummary), once its DFA cache is warm; its BitState and NFA paths
//   allocate per call.
// Errors: Create returns kConfig quoting the pattern and RE2's error message, or naming a
//   schema field that the pattern has no group for.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/status.h"
#include "stages/schema.h"
#include "stages/stage.h"
#include "stages/time_format.h"

namespace re2 {
class RE2;
}

namespace logpipe {

class ByteScanner;

// The named groups of `regex` in order of their opening parenthesis.
// Errors: kConfig quoting the pattern and RE2's message when it does not compile.
Result<std::vector<std::string>> NamedGroups(const std::string& regex);

// Rewrites `regex` so that only the named groups in `keep` capture: other named groups and
// all unnamed groups become (?:...). Escapes, character classes ([(]) and (?flags) are
// respected. Errors: kConfig when the pattern is malformed.
Result<std::string> KeepOnlyCaptures(const std::string& regex,
                                     const std::vector<std::string>& keep);

// The field that holds an event's number of lines, with multi-line events.
inline constexpr char kEventLinesField[] = "event_lines";

struct ParseOptions {
  std::string regex;  // the full pattern with (?P<name>...) groups, unanchored
  bool utf8 = false;  // `encoding: utf8`
  // Match with a ByteScanner (stages/byte_scanner.h) instead of RE2 when the compiled
  // pattern is in its deterministic subset (Latin-1 only). Same results; off in tests that
  // need RE2 itself.
  bool allow_scanner = true;
  // Multi-line events: a schema field named kEventLinesField is filled with
  // RecordBatch::event_lines() instead of a group.
  bool multiline = false;
};

class ParseStage : public Transform {
 public:
  // Captures exactly the groups named by the fields of `schema` (every schema field must be
  // a named group of the pattern).
  static Result<std::unique_ptr<ParseStage>> Create(const ParseOptions& options,
                                                    const Schema& schema);
  ~ParseStage() override;

  std::string_view name() const override { return "parse"; }
  std::unique_ptr<Scratch> NewScratch() const override;
  void Process(RecordBatch& batch, Scratch& scratch) const override;

  // The pattern as compiled (after capture pushdown), the number of capturing groups, and
  // which RE2 engines that count allows, for --explain, e.g. "3 captures: one-pass eligible
  // (<= 4 captures); ...". RE2 does not report the engine it picks, so this says what is
  // possible, not what happens. When the byte scanner matches instead, the summary starts
  // with "byte scanner (RE2-verified subset)"; otherwise it ends with why it was not used.
  const std::string& compiled_regex() const { return compiled_regex_; }
  int capture_count() const { return capture_count_; }
  std::string EngineSummary() const;
  // Whether lines are matched by the ByteScanner rather than RE2.
  bool uses_scanner() const { return scanner_ != nullptr; }

 private:
  ParseStage() = default;
  std::unique_ptr<re2::RE2> re_;
  std::unique_ptr<ByteScanner> scanner_;  // null: RE2 matches
  std::string scanner_refusal_;           // why the scanner was not used, for --explain
  std::string compiled_regex_;
  int capture_count_ = 0;
  bool utf8_ = false;
  // group index (1-based) -> schema field index, and the field's conversion
  struct Slot {
    int group;
    size_t field;
    FieldType type;
    TimeFormat time_format;
  };
  std::vector<Slot> slots_;
  int event_lines_field_ = -1;  // schema index of kEventLinesField, or -1
};

}  // namespace logpipe
