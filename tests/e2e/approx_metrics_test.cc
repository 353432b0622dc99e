// End-to-end: distinct_approx and pNN_approx on the real Apache sample are within their
// documented error of answers computed independently here (std::regex over the lines, exact
// sets and sorted values), and --explain states each sketch and its memory per group.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace logpipe::testing {
namespace {

using nlohmann::json;

struct Group {
  std::set<std::string> ips;
  std::vector<int64_t> bytes;  // present sizes ("-" is absent)
};

// Per status and overall (key 0): clients and sizes, from the combined format.
std::map<int, Group> Reference(const std::string& text) {
  static const std::regex re(
      R"re(^([^ ]+) [^ ]+ [^ ]+ \[([^\]]+)\] "([A-Z]+) ([^ "]+) HTTP/[0-9.]+" )re"
      R"re(([0-9][0-9][0-9]) ([0-9]+|-) "([^"]*)" "([^"]*)"( [0-9.]+)?$)re",
      std::regex::ECMAScript);
  std::map<int, Group> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::smatch m;
    if (!std::regex_match(line, m, re)) continue;
    for (int key : {std::stoi(m[5].str()), 0}) {
      out[key].ips.insert(m[1].str());
      if (m[6].str() != "-") out[key].bytes.push_back(std::stoll(m[6].str()));
    }
  }
  return out;
}

// Nearest rank: the smallest value with at least pct% of the values at or below it.
int64_t NearestRank(std::vector<int64_t> v, double pct) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(pct / 100 * static_cast<double>(v.size()) - 1e-9));
  return v[std::max<size_t>(rank, 1) - 1];
}

// The documented bounds: distinct_approx exact up to 1024 values, else within 3 standard
// errors (2.4%); pNN_approx of an int field within 1% + 0.5 (rounded), exact below 50.
void ExpectDistinct(const json& got, size_t exact, const std::string& what) {
  ASSERT_TRUE(got.is_number_integer()) << what;
  if (exact <= 1024) {
    EXPECT_EQ(got.get<int64_t>(), static_cast<int64_t>(exact)) << what;
  } else {
    EXPECT_LE(std::fabs(got.get<double>() - static_cast<double>(exact)), 0.024 * exact) << what;
  }
}
void ExpectPercentile(const json& got, int64_t exact, const std::string& what) {
  ASSERT_TRUE(got.is_number_integer()) << what << ": " << got.dump();
  if (std::llabs(exact) < 50) {
    EXPECT_EQ(got.get<int64_t>(), exact) << what;
  } else {
    EXPECT_LE(std::fabs(got.get<double>() - static_cast<double>(exact)),
              0.01 * static_cast<double>(std::llabs(exact)) + 0.5)
        << what << ": got " << got.dump() << ", exact " << exact;
  }
}

std::string Yaml(const std::string& input, const std::string& report) {
  return "version: 1\nname: approx\ninputs:\n  - path: \"" + input +
         "\"\nstages:\n  - type: parse\n    pattern: combined\n    fields: {status: int, bytes: "
         "int}\n  - type: aggregate\n    name: by_status\n    group_by: [status]\n"
         "    metrics: {ips: distinct_approx(ip), p50: p50_approx(bytes), p99: "
         "p99_approx(bytes)}\n  - type: aggregate\n    name: overall\n"
         "    metrics: {ips: distinct_approx(ip), p90: p90_approx(bytes), p999: "
         "p99.9_approx(bytes)}\noutputs:\n  - {path: \"" +
         report + "\"}\n";
}

TEST(ApproxMetrics, ApacheSampleIsWithinTheDocumentedErrorOfAnIndependentReference) {
  TempDir dir;
  const std::string input = SourcePath("data/sample/apache_combined.log");
  CommandResult r = RunConfig(dir, Yaml(input, dir.path() + "/r.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::map<int, Group> ref = Reference(ReadFile(input));
  const json report = ReadJson(dir.path() + "/r.json");

  const json& overall = report["tables"]["overall"]["rows"][0];
  const Group& all = ref.at(0);
  ASSERT_GT(all.ips.size(), 1024u);  // the dense HyperLogLog is exercised
  ExpectDistinct(overall["ips"], all.ips.size(), "overall clients");
  ExpectPercentile(overall["p90"], NearestRank(all.bytes, 90), "overall p90");
  ExpectPercentile(overall["p999"], NearestRank(all.bytes, 99.9), "overall p99.9");

  const json& rows = report["tables"]["by_status"]["rows"];
  ASSERT_EQ(rows.size() + 1, ref.size());
  size_t i = 0;
  for (const auto& [status, g] : ref) {
    if (status == 0) continue;
    const json& row = rows[i++];
    ASSERT_EQ(row["status"], status);
    const std::string what = "status " + std::to_string(status);
    ExpectDistinct(row["ips"], g.ips.size(), what + " clients");
    if (g.bytes.empty()) {
      EXPECT_TRUE(row["p50"].is_null()) << what;
      continue;
    }
    ExpectPercentile(row["p50"], NearestRank(g.bytes, 50), what + " p50");
    ExpectPercentile(row["p99"], NearestRank(g.bytes, 99), what + " p99");
  }
}

TEST(ApproxMetrics, ExplainStatesTheSketchAndItsMemoryPerGroup) {
  TempDir dir;
  const std::string input = SourcePath("data/sample/apache_combined.log");
  CommandResult r = RunConfig(dir, Yaml(input, dir.path() + "/r.json"), {"--explain"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ips = distinct_approx(ip) (HyperLogLog, fixed 64-bit hash"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("then 16 KiB per group, 0.81% relative standard error)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("p99 = p99_approx(bytes) (log-bucket histogram: within 1%"),
            std::string::npos)
      << r.out;
}

TEST(ApproxMetrics, TyposAndUnsupportedMetricsAreConfigErrors) {
  TempDir dir;
  const std::string input = SourcePath("data/sample/apache_combined.log");
  std::string yaml = Yaml(input, dir.path() + "/r.json");
  yaml.replace(yaml.find("distinct_approx(ip)"), 19, "distinct_aprox(ip)");
  CommandResult r = RunConfig(dir, yaml);
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_NE(r.err.find("did you mean 'distinct_approx'?"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("run.yaml"), std::string::npos) << r.err;

  yaml = Yaml(input, dir.path() + "/r.json");
  yaml.replace(yaml.find("p50_approx(bytes)"), 17, "'top_approx(path, 3)'");
  r = RunConfig(dir, yaml);
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_NE(r.err.find("top_approx is not available"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace logpipe::testing
