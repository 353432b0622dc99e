#pragma once
// EventStart decides which lines start a multi-line event (the parse stage's `multiline` key):
// with `start: REGEX` a line the regex matches starts one; with `continue: REGEX` a line it
// does not match starts one (a line it matches joins the event before it). The regex is
// searched for anywhere in the line (anchor it with ^), on the line without its '\n' and one
// trailing '\r', in the parse stage's encoding (bytes, or UTF-8).
// Thread-safety: StartsEvent is const and may run concurrently (the chunker calls it on the
//   reading thread, RecordBatch::Reset in every worker).
// Lifetime: the function returned by AsFunction() refers to this object.
// Cost: one RE2 search per line, DFA only (no captures); an anchored regex stops early.
// Errors: Create returns kConfig quoting the pattern and RE2's message.

#include <memory>
#include <string>
#include <string_view>

#include "io/chunker.h"
#include "io/status.h"

namespace re2 {
class RE2;
}

namespace logpipe {

class EventStart {
 public:
  // `matches_start`: true for `start: regex`, false for `continue: regex`.
  static Result<std::unique_ptr<EventStart>> Create(const std::string& regex, bool matches_start,
                                                    bool utf8);
  ~EventStart();

  bool StartsEvent(std::string_view line) const;
  StartsEventFn AsFunction() const {
    return [this](std::string_view line) { return StartsEvent(line); };
  }

 private:
  EventStart() = default;
  std::unique_ptr<re2::RE2> re_;
  bool matches_start_ = true;
};

}  // namespace logpipe
