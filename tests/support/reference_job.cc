#include "tests/support/reference_job.h"

#include <algorithm>
#include <regex>

namespace logpipe::testing {

std::vector<std::pair<std::string, uint64_t>> ReferenceResult::TopPaths(size_t k) const {
  std::vector<std::pair<std::string, uint64_t>> all(path_counts.begin(), path_counts.end());
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (all.size() > k) all.resize(k);
  return all;
}

ReferenceResult RunReferenceJob(const std::string& bytes) {
  // The peers' combined.re without names: ip, ts, method, path, status, bytes, referer, agent.
  static const std::regex re(
      R"re(^([^ ]+) [^ ]+ [^ ]+ \[([^\]]+)\] "([A-Z]+) ([^ "]+) HTTP/[0-9.]+" )re"
      R"re(([0-9][0-9][0-9]) ([0-9]+|-) "([^"]*)" "([^"]*)"( [0-9.]+)?$)re",
      std::regex::ECMAScript);
  ReferenceResult r;
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t nl = bytes.find('\n', pos);
    std::string line = bytes.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? bytes.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    ++r.lines;
    std::smatch m;
    if (!std::regex_match(line, m, re)) {
      ++r.unparsed;
      continue;
    }
    ++r.matched;
    int status = std::stoi(m[5].str());
    uint64_t size = m[6].str() == "-" ? 0 : std::stoull(m[6].str());
    r.status[status].first += 1;
    r.status[status].second += size;
    r.path_counts[m[4].str()] += 1;
    r.ip_counts[m[1].str()] += 1;
  }
  return r;
}

}  // namespace logpipe::testing
