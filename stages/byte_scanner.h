#pragma once
// ByteScanner matches whole lines against a regex from a deterministic subset of RE2's syntax
// with a small compiled byte program, and fills the capture spans RE2 would fill. ParseStage
// uses it instead of RE2 when the (capture-pushed-down) pattern is in the subset, because RE2
// pays 2-5x its DFA time to extract captures (BASELINES.md, observation 1).
//
// Semantics: Match(line) accepts exactly the lines RE2 accepts with ANCHOR_BOTH in Latin-1
// mode (one byte = one character) and gives every group the span RE2 gives it. Compile only
// accepts a pattern when that holds by construction: the pattern must be LL(1), i.e. at every
// point where the match could go two ways (one more byte in a run or stop, which branch of an
// alternation, one more loop iteration or leave), the next byte or the end of the line decides.
// Then a line has at most one way to match, which is therefore the one RE2's leftmost-first
// rules pick, and a scanner that never backtracks finds it. Runs of one class that are adjacent
// ([0-9][0-9]?[0-9]?) are merged into one counted run before the check.
//
// The subset: literal bytes and escapes (\t \n \r \f \v \a \xHH \x{HH}, escaped punctuation);
// classes [...] and [^...] with ranges and \d \s \w \D \S \W; '.' (any byte but \n);
// \d \s \w \D \S \W; groups (...), (?:...), (?P<name>...), (?<name>...); alternation |;
// greedy * + ? {n} {n,} {n,m}; ^ as the first and $ as the last character of the pattern.
// Refused (Compile returns nullptr, the caller keeps RE2): (?flags), non-greedy quantifiers,
// \b \B \A \z \p \Q \C, octal escapes, POSIX classes, anchors elsewhere, repetition of a group
// that can match empty, a capture inside a group repeated more than once (x? is fine), and
// every pattern that is not LL(1).
//
// Thread-safety: Match is const and may run concurrently on one ByteScanner.
// Lifetime: spans point into the line passed to Match.
// Cost: Compile runs once per pattern (tree passes, one 257-entry jump table per decision).
//   Match allocates nothing and never backtracks: a run that excludes 1-3 bytes ([^"]*,
//   [^ "]+, '.') compares 16 bytes at a time (SSE2), other runs read a 256-entry table per byte,
//   literals compare 8 bytes at a time.
// Errors: none; a pattern outside the subset yields nullptr and a reason.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace logpipe {

class ByteScanner {
 public:
  // Compiles `regex` (RE2 syntax, matched anchored at both ends). Returns nullptr when the
  // pattern is outside the subset; `why_not`, if given, then names the construct.
  // REQUIRES: RE2 compiles `regex` (the scanner does not report syntax errors as such).
  static std::unique_ptr<ByteScanner> Compile(const std::string& regex,
                                              std::string* why_not = nullptr);

  // Number of capturing groups, numbered as RE2 numbers them (by opening parenthesis).
  int capture_count() const { return static_cast<int>(group_names_.size()) - 1; }
  // Group names by index; [0] and unnamed groups are "".
  const std::vector<std::string>& group_names() const { return group_names_; }

  // Matches the whole of `line`. On success sets groups[0] to the line and groups[i]
  // (0 < i < ngroups) to group i's span, or to a default (null data) string_view when group i
  // took no part in the match, exactly as RE2 would. On failure `groups` is unspecified.
  // ngroups may be anything from 0 to capture_count() + 1.
  bool Match(std::string_view line, std::string_view* groups, int ngroups) const;

  // The compiled program, one instruction a line, for debugging and tests.
  std::string Disassemble() const;

 private:
  // Every instruction that consumes input may end with a literal of up to 8 bytes (`lit_len`,
  // compared as one masked 64-bit word), so "[^ ]+ " or "[^"]*" "" is one dispatch.
  enum class Op : uint8_t {
    kLiteral,    // only the trailing literal
    kRunExcept,  // run of every byte but except[0..2] (1 to 3 bytes), count in [min, max]
    kRun,        // run of the bytes of tables_[arg], count in [min, max]
    kSaveOpen,   // group `arg` starts here
    kSaveClose,  // group `arg` ends here
    kSwitch,     // go to switches_[arg][next byte, or 256 at the end]; -1 = no match
    kJump,       // go to arg
    kEnd,        // match if at the end of the line
  };
  struct Inst {
    Op op = Op::kEnd;
    uint8_t lit_len = 0;
    uint8_t except[3] = {0, 0, 0};
    uint32_t arg = 0;
    uint32_t min = 0;
    uint32_t max = 0;  // kUnbounded for * and +
    uint64_t lit_word = 0;
    uint64_t lit_mask = 0;
  };
  static constexpr uint32_t kUnbounded = 0xffffffffu;
  friend class ByteScannerCompiler;

  ByteScanner() = default;
  std::vector<Inst> prog_;
  std::vector<std::array<uint8_t, 256>> tables_;
  std::vector<std::array<int32_t, 257>> switches_;
  std::vector<std::string> group_names_;
};

}  // namespace logpipe
