#include "stages/aggregate_spec.h"

#include <algorithm>
#include <charconv>
#include <string_view>
#include <vector>

#include "stages/hyperloglog.h"
#include "stages/log_histogram.h"
#include "stages/time_format.h"

namespace logpipe {

namespace {

using Kind = MetricSpec::Kind;

// ---------------------------------------------------------------------------------------------
// Parsing group_by entries and metric expressions.

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A field name as the parse stage's named groups allow: [A-Za-z_][A-Za-z0-9_]*.
bool IsFieldName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

// Splits "fn(args)" into fn and args (both trimmed). False if `text` is not of that shape.
bool SplitCall(std::string_view text, std::string_view* fn, std::string_view* args) {
  const size_t open = text.find('(');
  if (open == std::string_view::npos || text.size() < open + 2 || text.back() != ')') {
    return false;
  }
  *fn = Trim(text.substr(0, open));
  *args = Trim(text.substr(open + 1, text.size() - open - 2));
  return args->find_first_of("()") == std::string_view::npos;
}

// Splits "a, b" at its only comma. False unless there is exactly one comma.
bool SplitPair(std::string_view args, std::string_view* a, std::string_view* b) {
  const size_t comma = args.find(',');
  if (comma == std::string_view::npos || args.find(',', comma + 1) != std::string_view::npos) {
    return false;
  }
  *a = Trim(args.substr(0, comma));
  *b = Trim(args.substr(comma + 1));
  return true;
}

constexpr char kGroupKeyExpected[] =
    "expected a field name, bucket(f, duration), minute(f), hour(f) or day(f)";
constexpr char kMetricExpected[] =
    "expected count, sum(f), min(f), max(f), avg(f), distinct(f), distinct_approx(f), top(f, k), "
    "pNN(f) or pNN_approx(f)";
constexpr char kApproxSuffix[] = "_approx";

// Levenshtein distance, for "did you mean" on metric function names (Create time only).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    prev.swap(cur);
  }
  return prev[b.size()];
}

// The closest metric function name to an unknown `fn` ("distinct_aprox" -> "distinct_approx",
// "p95_aprox" -> "p95_approx"), or empty when nothing is close.
std::string SuggestMetric(std::string_view fn) {
  std::vector<std::string> names = {"count",           "sum", "min", "max", "avg", "distinct",
                                    "distinct_approx", "top"};
  // pNN names keep the digits that were typed.
  size_t digits = 1;
  while (digits < fn.size() && ((fn[digits] >= '0' && fn[digits] <= '9') || fn[digits] == '.')) {
    ++digits;
  }
  if (!fn.empty() && fn[0] == 'p' && digits > 1) {
    names.push_back(std::string(fn.substr(0, digits)));
    names.push_back(std::string(fn.substr(0, digits)) + kApproxSuffix);
  }
  std::string best;
  size_t best_distance = 3;  // suggest only within 2 edits
  for (const std::string& name : names) {
    const size_t d = EditDistance(fn, name);
    if (d < best_distance && d > 0) {
      best_distance = d;
      best = name;
    }
  }
  return best;
}

// "99.9" -> 99.9 when it is digits with an optional fraction of at most 6 digits.
bool ParsePercentile(std::string_view s, double* out) {
  const size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  if (whole.empty() || whole.size() > 3) return false;
  if (dot != std::string_view::npos && (frac.empty() || frac.size() > 6)) return false;
  for (char c : whole) {
    if (c < '0' || c > '9') return false;
  }
  for (char c : frac) {
    if (c < '0' || c > '9') return false;
  }
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

// -------------------------------------------------------------------------------------------
// ParseGroupKey / ParseMetric

Result<GroupKeySpec> ParseGroupKey(const std::string& text) {
  const std::string_view t = Trim(text);
  auto expected = [&]() {
    return ConfigError(std::string("group_by: ") + kGroupKeyExpected + ", got '" + text + "'");
  };
  GroupKeySpec spec;
  if (IsFieldName(t)) {
    spec.label = std::string(t);
    spec.field = std::string(t);
    return spec;
  }
  std::string_view fn, args;
  if (!SplitCall(t, &fn, &args)) return expected();
  if (fn == "bucket") {
    std::string_view field, duration;
    if (!SplitPair(args, &field, &duration) || !IsFieldName(field)) return expected();
    int64_t ms = 0;
    if (!ParseDurationMs(duration, &ms) || ms <= 0) {
      return ConfigError("group_by '" + text +
                         "': expected a positive duration such as 500ms, 30s, 5m, 1h or 1d, got '" +
                         std::string(duration) + "'");
    }
    spec.field = std::string(field);
    spec.bucket_ms = ms;
    spec.label = "bucket(" + spec.field + ", " + std::string(duration) + ")";
    return spec;
  }
  int64_t ms = 0;
  if (fn == "minute") {
    ms = 60'000;
  } else if (fn == "hour") {
    ms = 3'600'000;
  } else if (fn == "day") {
    ms = 86'400'000;
  } else {
    return expected();
  }
  if (!IsFieldName(args)) return expected();
  spec.field = std::string(args);
  spec.bucket_ms = ms;
  spec.label = std::string(fn) + "(" + spec.field + ")";
  return spec;
}

Result<MetricSpec> ParseMetric(const std::string& name, const std::string& expr) {
  const std::string prefix = "metric '" + name + "': ";
  if (name.empty()) return ConfigError("metric '': the name must not be empty");
  const std::string_view t = Trim(expr);
  std::string_view fn, args;
  const bool is_call = SplitCall(t, &fn, &args);
  const std::string_view typed_fn = fn;  // before an _approx suffix is taken off
  auto hint = [&]() {
    const std::string best = is_call ? SuggestMetric(typed_fn) : std::string();
    return best.empty() ? best : " (did you mean '" + best + "'?)";
  };
  auto expected = [&]() {
    return ConfigError(prefix + kMetricExpected + ", got '" + expr + "'" + hint());
  };
  MetricSpec spec;
  spec.name = name;
  if (t == "count") {
    spec.kind = Kind::kCount;
    return spec;
  }
  if (!is_call) return expected();
  if (fn == "top_approx") {
    return ConfigError(prefix +
                       "top_approx is not available: no bounded top-k sketch merges to the same "
                       "result in every order, and logpipe's results never depend on how the "
                       "input was split; use top(f, k) (exact, memory grows with distinct "
                       "values), got '" +
                       expr + "'");
  }
  if (fn == "top") {
    std::string_view field, k_text;
    if (!SplitPair(args, &field, &k_text) || !IsFieldName(field)) return expected();
    int64_t k = 0;
    const auto r = std::from_chars(k_text.data(), k_text.data() + k_text.size(), k);
    if (r.ec != std::errc() || r.ptr != k_text.data() + k_text.size() || k < 1) {
      return ConfigError(prefix + "top(f, k) needs k a whole number >= 1, got '" + expr + "'");
    }
    spec.kind = Kind::kTop;
    spec.field = std::string(field);
    spec.k = k;
    return spec;
  }
  if (!IsFieldName(args)) return expected();
  spec.field = std::string(args);
  bool approx = false;
  if (fn.size() > sizeof(kApproxSuffix) - 1 &&
      fn.substr(fn.size() - (sizeof(kApproxSuffix) - 1)) == kApproxSuffix) {
    approx = true;
    fn.remove_suffix(sizeof(kApproxSuffix) - 1);
  }
  if (approx && fn != "distinct" && !(fn.size() >= 2 && fn[0] == 'p')) {
    return ConfigError(prefix + "only distinct and pNN have an _approx variant " +
                       "(distinct_approx(f), p95_approx(f)), got '" + expr + "'");
  }
  if (fn == "sum") {
    spec.kind = Kind::kSum;
  } else if (fn == "min") {
    spec.kind = Kind::kMin;
  } else if (fn == "max") {
    spec.kind = Kind::kMax;
  } else if (fn == "avg") {
    spec.kind = Kind::kAvg;
  } else if (fn == "distinct") {
    spec.kind = approx ? Kind::kDistinctApprox : Kind::kDistinct;
  } else if (fn.size() >= 2 && fn[0] == 'p' && ((fn[1] >= '0' && fn[1] <= '9') || fn[1] == '.')) {
    double p = 0;
    if (!ParsePercentile(fn.substr(1), &p) || !(p > 0) || p > 100) {
      return ConfigError(
          prefix + (approx ? "pNN_approx(f)" : "pNN(f)") +
          std::string(" needs 0 < NN <= 100 with at most 6 decimals (p50, p99.9), got '") + expr +
          "'" + hint());
    }
    spec.kind = approx ? Kind::kPercentileApprox : Kind::kPercentile;
    spec.percentile = p;
  } else {
    return expected();
  }
  return spec;
}

std::string MetricSketchNote(const std::string& expr) {
  Result<MetricSpec> spec = ParseMetric("m", expr);
  if (!spec.ok()) return "";
  if (spec->kind == Kind::kDistinctApprox) {
    return "HyperLogLog, fixed 64-bit hash, 2^14 registers: exact up to " +
           std::to_string(HyperLogLog::kExactMax) + " values (8 bytes each), then " +
           std::to_string(HyperLogLog::kRegisters / 1024) +
           " KiB per group, 0.81% relative standard error";
  }
  if (spec->kind == Kind::kPercentileApprox) {
    return "log-bucket histogram: within 1% of the exact nearest-rank percentile, 12 bytes per "
           "non-empty bucket, at most " +
           std::to_string(LogHistogram::kMaxBuckets) +
           " buckets = " + std::to_string(LogHistogram::kMaxBuckets * 12 / 1024) + " KiB per group";
  }
  return "";
}

}  // namespace logpipe
