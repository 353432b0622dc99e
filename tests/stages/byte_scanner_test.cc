#include "stages/byte_scanner.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/chunk.h"
#include "stages/parse_stage.h"
#include "stages/pattern_library.h"
#include "stages/record_batch.h"
#include "stages/schema.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

// The scanner must agree with RE2 (Latin-1, ANCHOR_BOTH) on every line: same accept/reject
// and the same span for every group. These tests compare the two on real files, on random
// mutations of real lines, on generator output and on random small patterns.

#if defined(__SANITIZE_ADDRESS__)
#define LOGPIPE_SCANNER_TEST_SLOW 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOGPIPE_SCANNER_TEST_SLOW 1
#endif
#endif

namespace logpipe {
namespace {

// Mutated lines per accepted built-in pattern: LOGPIPE_SCANNER_MUTATIONS, else 75k (40k
// under ASan, which is about 5x slower).
int MutationsPerPattern() {
  if (const char* env = std::getenv("LOGPIPE_SCANNER_MUTATIONS")) return std::atoi(env);
#ifdef LOGPIPE_SCANNER_TEST_SLOW
  return 40000;
#else
  return 75000;
#endif
}

// The line for a failure message: non-printable bytes as \xHH, long lines cut.
std::string Escaped(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  if (s.size() > 400) {
    return Escaped(s.substr(0, 400)) + "...(" + std::to_string(s.size()) + " bytes)";
  }
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

re2::RE2::Options Latin1() {
  re2::RE2::Options options;
  options.set_encoding(re2::RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  options.set_max_mem(int64_t{64} << 20);
  return options;
}

// One pattern compiled both ways; Same() compares them on one line.
class Differ {
 public:
  explicit Differ(const std::string& regex) : regex_(regex), re_(regex, Latin1()) {
    scanner_ = ByteScanner::Compile(regex, &why_not_);
    const int n = re_.NumberOfCapturingGroups() + 1;
    re_groups_.resize(n);
    spans_.resize(n);
  }
  bool re2_ok() const { return re_.ok(); }
  bool accepted() const { return scanner_ != nullptr; }
  const std::string& why_not() const { return why_not_; }
  const ByteScanner* scanner() const { return scanner_.get(); }
  const re2::RE2& re() const { return re_; }
  uint64_t compared() const { return compared_; }
  uint64_t matched() const { return matched_; }
  uint64_t failures() const { return failures_; }
  const std::string& first_failures() const { return first_failures_; }

  // Records a failure (and describes the first few) when the scanner and RE2 disagree.
  bool Same(std::string_view line) {
    ++compared_;
    const int n = static_cast<int>(spans_.size());
    const bool want = re_.Match(re2::StringPiece(line.data(), line.size()), 0, line.size(),
                                re2::RE2::ANCHOR_BOTH, re_groups_.data(), n);
    const bool got = scanner_->Match(line, spans_.data(), n);
    std::string diff;
    if (want != got) {
      diff = want ? "RE2 matches, scanner does not" : "scanner matches, RE2 does not";
    } else if (want) {
      ++matched_;
      for (int g = 0; g < n; ++g) {
        const long want_at =
            re_groups_[g].data() == nullptr ? -1 : re_groups_[g].data() - line.data();
        const long got_at = spans_[g].data() == nullptr ? -1 : spans_[g].data() - line.data();
        const size_t want_size = re_groups_[g].size();
        if (want_at != got_at || (want_at >= 0 && want_size != spans_[g].size())) {
          diff += "group " + std::to_string(g) + ": RE2 " + std::to_string(want_at) + "+" +
                  std::to_string(want_size) + ", scanner " + std::to_string(got_at) + "+" +
                  std::to_string(spans_[g].size()) + "; ";
        }
      }
    }
    if (diff.empty()) return true;
    if (++failures_ <= 5) {
      first_failures_ += "  /" + regex_ + "/ on '" + Escaped(line) + "': " + diff + "\n";
    }
    return false;
  }

 private:
  std::string regex_;
  re2::RE2 re_;
  std::unique_ptr<ByteScanner> scanner_;
  std::string why_not_;
  std::vector<re2::StringPiece> re_groups_;
  std::vector<std::string_view> spans_;
  uint64_t compared_ = 0, matched_ = 0, failures_ = 0;
  std::string first_failures_;
};

// Splits on '\n'; a line ending in '\r' is kept as is and also without the '\r'.
void AddLines(const std::string& bytes, std::vector<std::string>* lines) {
  size_t start = 0;
  while (start < bytes.size()) {
    size_t nl = bytes.find('\n', start);
    if (nl == std::string::npos) nl = bytes.size();
    std::string line = bytes.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') lines->push_back(line.substr(0, line.size() - 1));
    lines->push_back(std::move(line));
    start = nl + 1;
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Every line of data/sample and of shared/data/real (when present).
const std::vector<std::string>& RealLines() {
  static const std::vector<std::string>* const kLines = [] {
    auto* lines = new std::vector<std::string>();
    std::vector<std::string> files;
    for (const char* dir :
         {LOGPIPE_SOURCE_DIR "/data/sample", LOGPIPE_SOURCE_DIR "/../shared/data/real"}) {
      std::error_code ec;
      for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) files.push_back(it->path().string());
      }
    }
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) AddLines(ReadAll(f), lines);
    return lines;
  }();
  return *kLines;
}

// Lines of logpipe-gen output (with malformed lines and request times), empty when the
// generator is not built.
const std::vector<std::string>& GeneratorLines() {
  static const std::vector<std::string>* const kLines = [] {
    auto* lines = new std::vector<std::string>();
    const std::string beside =
        std::filesystem::path(LOGPIPE_BINARY).parent_path().string() + "/logpipe-gen";
    std::string gen;
    for (const std::string& candidate :
         {beside, std::string(LOGPIPE_SOURCE_DIR "/build/logpipe-gen")}) {
      std::error_code ec;
      if (std::filesystem::exists(candidate, ec)) {
        gen = candidate;
        break;
      }
    }
    if (gen.empty()) return lines;
    testing::TempDir dir;
    const std::string a = dir.path() + "/a.log";
    const std::string b = dir.path() + "/b.log";
    testing::CommandResult ra =
        testing::RunCommand({gen, "-o", a, "--lines", "12000", "--seed", "7", "--malformed-rate",
                             "0.02", "--request-time", "--truth", "none"});
    testing::CommandResult rb =
        testing::RunCommand({gen, "-o", b, "--lines", "8000", "--seed", "8", "--malformed-rate",
                             "0.02", "--truth", "none"});
    EXPECT_EQ(ra.exit_code, 0) << ra.err;
    EXPECT_EQ(rb.exit_code, 0) << rb.err;
    AddLines(ReadAll(a), lines);
    AddLines(ReadAll(b), lines);
    return lines;
  }();
  return *kLines;
}

// The capture subsets tried for each built-in pattern.
std::vector<std::pair<std::string, std::vector<std::string>>> Subsets(const BuiltinPattern& p) {
  Result<std::vector<std::string>> names = NamedGroups(p.regex);
  EXPECT_TRUE(names.ok());
  std::vector<std::pair<std::string, std::vector<std::string>>> subsets;
  subsets.emplace_back("none", std::vector<std::string>{});
  const auto has = [&names](const char* n) {
    return std::find(names->begin(), names->end(), n) != names->end();
  };
  if (has("status") && has("bytes")) {
    subsets.emplace_back("status+bytes", std::vector<std::string>{"status", "bytes"});
  }
  std::vector<std::string> typed;
  for (const FieldSpec& f : p.default_types) typed.push_back(f.name);
  subsets.emplace_back("typed", typed);
  subsets.emplace_back("all", *names);
  return subsets;
}

std::string PushedDown(const BuiltinPattern& p, const std::vector<std::string>& keep) {
  Result<std::string> re = KeepOnlyCaptures(p.regex, keep);
  EXPECT_TRUE(re.ok());
  return re.ok() ? *re : std::string();
}

struct PatternCase {
  std::string name;
  std::vector<std::unique_ptr<Differ>> differs;  // one per capture subset
};

// The built-in patterns the scanner accepts, each with its capture subsets.
std::vector<PatternCase> AcceptedBuiltins() {
  std::vector<PatternCase> cases;
  for (const BuiltinPattern& p : BuiltinPatterns()) {
    PatternCase c{p.name, {}};
    for (const auto& [subset, keep] : Subsets(p)) {
      auto d = std::make_unique<Differ>(PushedDown(p, keep));
      EXPECT_TRUE(d->re2_ok());
      if (d->accepted()) c.differs.push_back(std::move(d));
    }
    if (!c.differs.empty()) cases.push_back(std::move(c));
  }
  return cases;
}

void ExpectNoFailures(const PatternCase& c, const char* what) {
  for (const auto& d : c.differs) {
    EXPECT_EQ(d->failures(), 0u) << c.name << " (" << what << "), " << d->compared()
                                 << " lines compared:\n"
                                 << d->first_failures();
  }
}

// ---- Which patterns the scanner takes ---------------------------------------------------

TEST(ByteScanner, AcceptsTheAccessLogAndRfc5424Builtins) {
  std::vector<std::string> accepted, refused;
  for (const BuiltinPattern& p : BuiltinPatterns()) {
    for (const auto& [subset, keep] : Subsets(p)) {
      std::string why;
      const bool ok = ByteScanner::Compile(PushedDown(p, keep), &why) != nullptr;
      const std::string label = p.name + "/" + subset;
      (ok ? accepted : refused).push_back(p.name);
      if (!ok) {
        EXPECT_FALSE(why.empty()) << label;
      }
    }
  }
  for (auto* v : {&accepted, &refused}) v->erase(std::unique(v->begin(), v->end()), v->end());
  // Every capture subset of a pattern gets the same answer.
  EXPECT_EQ(accepted,
            (std::vector<std::string>{"combined", "common", "combined_xff", "syslog5424"}));
  EXPECT_EQ(refused, (std::vector<std::string>{"syslog", "sshd", "kafka", "laravel"}));
}

TEST(ByteScanner, RefusesWhatNeedsBacktrackingOrIsOutsideTheSubset) {
  const char* const kRefused[] = {
      "[^ ]+\\.x",         // the run may swallow the '.'
      ".*x",               // same
      "(a*)a",             // same (a*a alone is a+, accepted)
      "(a|ab)c",           // two branches start with 'a'
      "a|a",               // same
      "[ 0-9]?[0-9]",      // the optional may take the digit the next atom needs
      "x(?:y|)y",          // the empty branch is followed by what the other starts with
      "(?:a?)*b",          // repetition of something that can match empty
      "(?:ab)*a",          // loop may be followed by its own first byte
      "(x)+",              // a capture inside a loop
      "(?:(x)y){2}",       // same, counted
      "(?i)abc",           // flags
      "(?s:.)",            // flags
      "a+?",               // non-greedy
      "a??",               // non-greedy
      "\\bfoo",            // word boundary
      "\\Afoo",            // anchor escape
      "\\pL",              // Unicode class
      "\\Qa.b\\E",         // quoting
      "\\1",               // octal / backreference
      "[[:alpha:]]+",      // POSIX class
      "a^b",               // '^' not at the start
      "(a$)",              // '$' inside a group
      "a$b",               // '$' not at the end
      "x{2",               // '{' that is not a repetition (RE2 reads a literal)
      "[a-c-e]",           // '-' in the middle of a class
      "x{0,600}x{0,600}",  // merged into one run over RE2's repeat limit of 1000
  };
  for (const char* re : kRefused) {
    std::string why;
    EXPECT_EQ(ByteScanner::Compile(re, &why), nullptr) << re;
    EXPECT_FALSE(why.empty()) << re;
  }
  const char* const kAccepted[] = {
      "[^ ]+ [^ ]+",
      "(?P<a>[0-9]+|-)",
      "a(?:b|c)d",
      "x(?: y)?",
      "[0-9]{4}-[0-9]{2}",
      "<([0-9][0-9]?[0-9]?)>",
      "^a$",
      "(a|)b",
      "\\d+\\.\\d+",
      "(?:ab)+c",
      "\"[^\"]*\"",
      ".*",
      "",
      "(?:x(y))?z",
      "[]a]+[^]a]",
      "a{2,}b{0,3}c",
      "\\x41\\x{42}\\t\\-",
      "(?:a|b|c)*d",
      "(?<n>a)(b)",
      "[\\d\\s]+x",
  };
  for (const char* re : kAccepted) {
    std::string why;
    EXPECT_NE(ByteScanner::Compile(re, &why), nullptr) << re << ": " << why;
  }
}

TEST(ByteScanner, NumbersGroupsAsRe2Does) {
  auto scanner = ByteScanner::Compile("(?P<b>x(?P<c>y))(z)(?:w)(?<a>v)");
  ASSERT_NE(scanner, nullptr);
  EXPECT_EQ(scanner->capture_count(), 4);
  EXPECT_EQ(scanner->group_names(), (std::vector<std::string>{"", "b", "c", "", "a"}));
}

TEST(ByteScanner, DisassemblesTheReferencePattern) {
  const BuiltinPattern* p = FindBuiltinPattern("combined");
  ASSERT_NE(p, nullptr);
  auto scanner = ByteScanner::Compile(PushedDown(*p, {"status", "bytes"}));
  ASSERT_NE(scanner, nullptr);
  const std::string prog = scanner->Disassemble();
  EXPECT_NE(prog.find("run [^ ]{1,} (simd) then \" \""), std::string::npos) << prog;
  EXPECT_NE(prog.find("run [0-9]{3,3}"), std::string::npos) << prog;
  EXPECT_NE(prog.find("switch"), std::string::npos) << prog;
}

// ---- Spans on hand-made lines ------------------------------------------------------------

TEST(ByteScanner, UnsetGroupIsNullAndEmptyGroupIsNot) {
  auto scanner = ByteScanner::Compile("a(?P<x>[0-9]*)(?: (?P<t>[0-9.]+))?");
  ASSERT_NE(scanner, nullptr);
  std::string_view g[3];
  const std::string line = "a";
  ASSERT_TRUE(scanner->Match(line, g, 3));
  EXPECT_EQ(g[0], "a");
  EXPECT_EQ(g[1].data(), line.data() + 1);
  EXPECT_EQ(g[1].size(), 0u);
  EXPECT_EQ(g[2].data(), nullptr);
  const std::string line2 = "a12 3.5";
  ASSERT_TRUE(scanner->Match(line2, g, 3));
  EXPECT_EQ(g[1], "12");
  EXPECT_EQ(g[2], "3.5");
  EXPECT_FALSE(scanner->Match("a12 ", g, 3));
  EXPECT_FALSE(scanner->Match("a12 3.5 ", g, 3));
  // Fewer groups than the pattern has: the rest are not written.
  std::string_view one[1];
  EXPECT_TRUE(scanner->Match(line2, one, 1));
  EXPECT_EQ(one[0], line2);
  EXPECT_TRUE(scanner->Match(line2, nullptr, 0));
}

TEST(ByteScanner, EveryByteOfOneAtomAgreesWithRe2) {
  // Each atom against all 256 one-byte lines and the empty line, so every escape, class and
  // '.' has RE2's meaning in Latin-1 (e.g. [^x] and \s take '\n', '.' does not).
  const char* const kAtoms[] = {
      ".",      "[^ ]", "[^\"]", "[^]]",      "[^ \"]",      "[A-Z]",         "[0-9.]", "\\d",
      "\\D",    "\\s",  "\\S",   "\\w",       "\\W",         "\\t",           "\\n",    "\\r",
      "\\f",    "\\v",  "\\a",   "\\x00",     "\\xff",       "\\x{e9}",       "\\.",    "\\-",
      "\\_",    "\\ ",  "\\/",   "[\\]\\\\]", "[^\\]\\\\]",  "[\\x80-\\xff]", "[a-]",   "[-a]",
      "[\\d-]", "[]]",  "[^^]",  "\xe9",      "[\xe0-\xef]", "[\\s\\d]",      "[^\\s]", "\\\"",
  };
  std::vector<std::string> lines = {""};
  for (int c = 0; c < 256; ++c) lines.push_back(std::string(1, static_cast<char>(c)));
  for (const char* atom : kAtoms) {
    for (const std::string& re :
         {std::string(atom), std::string(atom) + "+", "(" + std::string(atom) + ")?"}) {
      Differ d(re);
      ASSERT_TRUE(d.re2_ok()) << re;
      ASSERT_TRUE(d.accepted()) << re << ": " << d.why_not();
      for (const std::string& line : lines) d.Same(line);
      d.Same(lines[65] + lines[0] + lines[255]);
      EXPECT_EQ(d.failures(), 0u) << d.first_failures();
    }
  }
}

TEST(ByteScanner, CountedRunsAgreeWithRe2) {
  // Each pattern on 0..1000 repetitions of a unit, bare and followed by b, x or c.
  const std::pair<const char*, const char*> kCases[] = {
      {"a{2,5}b", "a"},          {"(a{3})a?b?", "a"}, {"[0-9]{1,3}x", "7"},
      {"a{0,600}a{0,300}", "a"}, {"a{2,}", "a"},      {"(?:ab){2,4}c?", "ab"},
  };
  for (const auto& [re, unit] : kCases) {
    Differ d(re);
    ASSERT_TRUE(d.accepted()) << re << ": " << d.why_not();
    std::string line;
    for (int k = 0; k <= 1000; ++k) {
      for (const char* tail : {"", "b", "x", "c", "a"}) d.Same(line + tail);
      line += unit;
    }
    EXPECT_GT(d.matched(), 0u) << re;
    EXPECT_EQ(d.failures(), 0u) << d.first_failures();
  }
}

// ---- Differential: the built-in patterns on real and generated lines ---------------------

TEST(ByteScannerDifferential, EveryRealLineAgreesWithRe2) {
  const std::vector<std::string>& lines = RealLines();
  if (lines.empty()) GTEST_SKIP() << "no data/sample or shared/data/real";
  std::vector<PatternCase> cases = AcceptedBuiltins();
  ASSERT_FALSE(cases.empty());
  uint64_t matched_combined = 0;
  for (PatternCase& c : cases) {
    for (auto& d : c.differs) {
      for (const std::string& line : lines) d->Same(line);
      if (c.name == "combined") matched_combined += d->matched();
    }
    ExpectNoFailures(c, "real lines");
  }
  EXPECT_GT(matched_combined, 10000u);  // the apache logs do match
}

TEST(ByteScannerDifferential, GeneratorLinesAgreeWithRe2) {
  const std::vector<std::string>& lines = GeneratorLines();
  if (lines.empty()) GTEST_SKIP() << "logpipe-gen is not built";
  std::vector<PatternCase> cases = AcceptedBuiltins();
  for (PatternCase& c : cases) {
    for (auto& d : c.differs) {
      for (const std::string& line : lines) d->Same(line);
      if (c.name == "combined") {
        EXPECT_GT(d->matched(), lines.size() * 9 / 10);
      }
    }
    ExpectNoFailures(c, "generator lines");
  }
}

// One random edit: a byte replaced or inserted (NUL, high bytes, delimiters), a byte or a
// range deleted, the line cut short, or a range duplicated.
void Mutate(std::mt19937_64& rng, std::string* line) {
  static const unsigned char kBytes[] = {0,    0x80, 0xff, 0xe9, 0xc3, '"', ' ', '[', ']',
                                         '-',  '\n', '\r', '\t', '0',  '9', 'A', 'z', '.',
                                         '\\', ':',  '/',  '(',  ')',  '<', '>', '+', '|'};
  auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % (n == 0 ? 1 : n)); };
  auto byte = [&]() -> char {
    return static_cast<char>(rng() % 4 == 0 ? rng() % 256 : kBytes[pick(sizeof(kBytes))]);
  };
  const size_t n = line->size();
  switch (rng() % 7) {
    case 0:
    case 1:
      if (n > 0) (*line)[pick(n)] = byte();
      break;
    case 2:
      line->insert(line->begin() + pick(n + 1), byte());
      break;
    case 3:
      if (n > 0) line->erase(pick(n), 1 + pick(std::min<size_t>(n, 8)));
      break;
    case 4:
      line->resize(pick(n + 1));
      break;
    case 5:
      if (n > 0) {
        const size_t at = pick(n);
        const std::string part = line->substr(at, 1 + pick(std::min<size_t>(n - at, 40)));
        line->insert(pick(n + 1), part);
      }
      break;
    case 6:
      // Swap two bytes: moves a delimiter into a field or out of it.
      if (n > 1) std::swap((*line)[pick(n)], (*line)[pick(n)]);
      break;
  }
}

TEST(ByteScannerDifferential, MutatedRealLinesAgreeWithRe2) {
  std::vector<std::string> pool = RealLines();
  const std::vector<std::string>& gen = GeneratorLines();
  pool.insert(pool.end(), gen.begin(), gen.end());
  std::vector<PatternCase> cases = AcceptedBuiltins();
  const int per_pattern = MutationsPerPattern();
  std::mt19937_64 rng(20251123);
  uint64_t total = 0;
  for (PatternCase& c : cases) {
    // Seeds: the pattern's example, lines it matches, and the prefix of any line it matches
    // from the start (so 'common' gets seeds from combined lines).
    std::vector<std::string> seeds = {FindBuiltinPattern(c.name)->example};
    const re2::RE2& re = c.differs.front()->re();
    for (const std::string& line : pool) {
      re2::StringPiece m;
      if (re.Match(re2::StringPiece(line), 0, line.size(), re2::RE2::ANCHOR_START, &m, 1)) {
        seeds.push_back(std::string(m.data(), m.size()));
      }
    }
    for (int i = 0; i < per_pattern; ++i) {
      std::string line = rng() % 5 == 0 ? pool[rng() % pool.size()] : seeds[rng() % seeds.size()];
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) Mutate(rng, &line);
      for (auto& d : c.differs) d->Same(line);
      ++total;
    }
    uint64_t matched = 0;
    for (auto& d : c.differs) matched += d->matched();
    EXPECT_GT(matched, 0u) << c.name << ": no mutated line matched";
    ExpectNoFailures(c, "mutated lines");
  }
  EXPECT_EQ(total, static_cast<uint64_t>(per_pattern) * cases.size());
}

// ---- Differential: random small patterns -------------------------------------------------

// A random pattern over a small alphabet, and random lines drawn from its language.
struct RandomRe {
  enum class Kind { kChar, kClass, kGroup, kAlt, kSeq };
  Kind kind = Kind::kSeq;
  std::string text;     // kChar, kClass: the regex text of the atom
  std::string members;  // kChar, kClass: bytes to draw from
  bool capture = false;
  uint32_t min = 1, max = 1;  // quantifier; max 0 = unbounded
  std::string quantifier;
  std::vector<RandomRe> kids;

  std::string Text() const {
    std::string out;
    switch (kind) {
      case Kind::kChar:
      case Kind::kClass:
        out = text;
        break;
      case Kind::kGroup:
        out = (capture ? "(" : "(?:") + kids[0].Text() + ")";
        break;
      case Kind::kAlt:
        for (size_t i = 0; i < kids.size(); ++i) out += (i ? "|" : "") + kids[i].Text();
        break;
      case Kind::kSeq:
        for (const RandomRe& k : kids) out += k.Text();
        break;
    }
    return out + quantifier;
  }

  void Sample(std::mt19937_64& rng, std::string* out) const {
    const uint32_t top = max == 0 ? min + 3 : max;
    const uint32_t times = min + static_cast<uint32_t>(rng() % (top - min + 1));
    for (uint32_t t = 0; t < times; ++t) {
      switch (kind) {
        case Kind::kChar:
        case Kind::kClass:
          *out += members[rng() % members.size()];
          break;
        case Kind::kGroup:
          kids[0].Sample(rng, out);
          break;
        case Kind::kAlt:
          kids[rng() % kids.size()].Sample(rng, out);
          break;
        case Kind::kSeq:
          for (const RandomRe& k : kids) k.Sample(rng, out);
          break;
      }
    }
  }
};

RandomRe RandomPattern(std::mt19937_64& rng, int depth) {
  static const std::pair<const char*, const char*> kAtoms[] = {
      {"a", "a"},          {"b", "b"},         {"-", "-"},          {" ", " "},
      {"\"", "\""},        {"\\.", "."},       {"[ab]", "ab"},      {"[^ ]", "ab-\".0x"},
      {"[^\"]", "ab- .0"}, {"[0-9]", "019"},   {".", "ab- \".0"},   {"[a-c]", "abc"},
      {"\\d", "05"},       {"[^a]", "b- \"0"}, {"[^ \"]", "ab-.0"}, {"[0-9.]", "0.9"},
  };
  static const std::pair<const char*, std::pair<uint32_t, uint32_t>> kQuantifiers[] = {
      {"", {1, 1}},  {"", {1, 1}},    {"", {1, 1}},      {"*", {0, 0}},     {"+", {1, 0}},
      {"?", {0, 1}}, {"{2}", {2, 2}}, {"{1,3}", {1, 3}}, {"{0,2}", {0, 2}}, {"{2,}", {2, 0}},
  };
  RandomRe seq;
  seq.kind = RandomRe::Kind::kSeq;
  const int n = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < n; ++i) {
    RandomRe item;
    const int roll = static_cast<int>(rng() % 10);
    if (depth < 2 && roll >= 7) {
      item.kind = RandomRe::Kind::kGroup;
      item.capture = rng() % 2 == 0;
      RandomRe body;
      const int branches = 1 + static_cast<int>(rng() % 3);
      if (branches == 1) {
        body = RandomPattern(rng, depth + 1);
      } else {
        body.kind = RandomRe::Kind::kAlt;
        for (int b = 0; b < branches; ++b) {
          body.kids.push_back(rng() % 6 == 0 ? RandomRe{} : RandomPattern(rng, depth + 1));
        }
      }
      item.kids.push_back(std::move(body));
    } else {
      const auto& atom = kAtoms[rng() % (sizeof(kAtoms) / sizeof(kAtoms[0]))];
      item.kind = RandomRe::Kind::kClass;
      item.text = atom.first;
      item.members = atom.second;
    }
    const auto& q = kQuantifiers[rng() % (sizeof(kQuantifiers) / sizeof(kQuantifiers[0]))];
    item.quantifier = q.first;
    item.min = q.second.first;
    item.max = q.second.second;
    seq.kids.push_back(std::move(item));
  }
  return seq;
}

TEST(ByteScannerDifferential, RandomSmallPatternsAgreeWithRe2) {
#ifdef LOGPIPE_SCANNER_TEST_SLOW
  const int kPatterns = 3000;
#else
  const int kPatterns = 6000;
#endif
  std::mt19937_64 rng(42);
  static const char kAlphabet[] = "ab- \".0x9c";
  int accepted = 0;
  uint64_t compared = 0, matched = 0;
  std::string failures;
  for (int i = 0; i < kPatterns; ++i) {
    const RandomRe pattern = RandomPattern(rng, 0);
    Differ d(pattern.Text());
    if (!d.re2_ok() || !d.accepted()) continue;
    ++accepted;
    for (int k = 0; k < 200; ++k) {
      std::string line;
      if (k < 120) {
        pattern.Sample(rng, &line);
        if (k >= 60) Mutate(rng, &line);
      } else {
        const size_t len = rng() % 9;
        for (size_t j = 0; j < len; ++j) line += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
      }
      d.Same(line);
    }
    compared += d.compared();
    matched += d.matched();
    if (d.failures() > 0 && failures.size() < 4000) failures += d.first_failures();
  }
  EXPECT_TRUE(failures.empty()) << failures;
  // The generator must exercise both sides: many patterns accepted, many lines matched.
  EXPECT_GT(accepted, kPatterns / 5);
  EXPECT_GT(matched, compared / 5);
  if (std::getenv("LOGPIPE_SCANNER_STATS")) {
    std::printf("%d of %d patterns accepted, %llu lines compared, %llu matched\n", accepted,
                kPatterns, static_cast<unsigned long long>(compared),
                static_cast<unsigned long long>(matched));
  }
}

// ---- ParseStage with and without the scanner ---------------------------------------------

TEST(ByteScannerInParseStage, SameFieldsAndCountersAsRe2) {
  const std::string bytes = ReadAll(LOGPIPE_SOURCE_DIR "/data/sample/apache_combined.log");
  ASSERT_FALSE(bytes.empty());
  const BuiltinPattern* p = FindBuiltinPattern("combined");
  Schema schema;
  schema.Add({"path", FieldType::kString, ""});
  schema.Add({"status", FieldType::kInt, ""});
  schema.Add({"bytes", FieldType::kInt, ""});
  schema.Add({"ts", FieldType::kTime, "%d/%b/%Y:%H:%M:%S %z"});
  schema.Add({"request_time", FieldType::kFloat, ""});
  std::unique_ptr<ParseStage> stages[2];
  for (int s = 0; s < 2; ++s) {
    ParseOptions options;
    options.regex = p->regex;
    options.allow_scanner = s == 0;
    Result<std::unique_ptr<ParseStage>> stage = ParseStage::Create(options, schema);
    ASSERT_TRUE(stage.ok()) << stage.status().message();
    stages[s] = std::move(*stage);
  }
  EXPECT_TRUE(stages[0]->uses_scanner());
  EXPECT_FALSE(stages[1]->uses_scanner());
  EXPECT_NE(stages[0]->EngineSummary().find("byte scanner (RE2-verified subset)"),
            std::string::npos);
  EXPECT_NE(stages[1]->EngineSummary().find("byte scanner not used: disabled"), std::string::npos);

  Chunk chunk;
  chunk.Reserve(bytes.size() + 1);
  std::memcpy(chunk.mutable_data(), bytes.data(), bytes.size());
  chunk.set_size(bytes.size());
  RecordBatch batches[2];
  for (int s = 0; s < 2; ++s) {
    batches[s].Reset(chunk, schema.size());
    auto scratch = stages[s]->NewScratch();
    stages[s]->Process(batches[s], *scratch);
  }
  EXPECT_EQ(batches[0].selected, batches[1].selected);
  EXPECT_EQ(batches[0].counters.matched, batches[1].counters.matched);
  EXPECT_EQ(batches[0].counters.mismatched, batches[1].counters.mismatched);
  EXPECT_GT(batches[0].counters.matched, 9000u);
  for (uint32_t row : batches[0].selected) {
    for (size_t f = 0; f < schema.size(); ++f) {
      const Value& a = batches[0].field(f, row);
      const Value& b = batches[1].field(f, row);
      ASSERT_EQ(a.present, b.present) << row << " " << f;
      ASSERT_EQ(a.text.data(), b.text.data()) << row << " " << f;
      ASSERT_EQ(a.text.size(), b.text.size()) << row << " " << f;
      ASSERT_EQ(a.i, b.i) << row << " " << f;
    }
  }
}

TEST(ByteScannerInParseStage, Utf8ModeKeepsRe2) {
  ParseOptions options;
  options.regex = FindBuiltinPattern("combined")->regex;
  options.utf8 = true;
  Result<std::unique_ptr<ParseStage>> stage = ParseStage::Create(options, Schema());
  ASSERT_TRUE(stage.ok());
  EXPECT_FALSE((*stage)->uses_scanner());
}

}  // namespace
}  // namespace logpipe
