#pragma once
// The built-in pattern library: named RE2 patterns for common log formats, usable as
// `pattern: combined` in a parse stage instead of writing `regex:`.
//
// Every pattern matches whole lines on bytes (RE2 Latin-1), names its fields with
// (?P<name>...) groups and suggests types for some of them (e.g. status: int). Each one is
// tested against real lines from shared/data/real (tests/stages/pattern_library_test.cc),
// except syslog5424, tested on the examples of RFC 5424 (no real file is at hand).
// Thread-safety: immutable static data.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stages/schema.h"

namespace logpipe {

struct BuiltinPattern {
  std::string name;         // "combined"
  std::string description;  // one line, for --help and the README
  std::string regex;        // RE2 syntax, anchored by the parse stage (whole-line match)
  std::vector<FieldSpec> default_types;  // typed fields unless the config says otherwise
  std::string example;      // one real line it matches
};

const std::vector<BuiltinPattern>& BuiltinPatterns();
// nullptr when there is no pattern called `name`.
const BuiltinPattern* FindBuiltinPattern(std::string_view name);

}  // namespace logpipe
