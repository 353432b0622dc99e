#pragma once
// An independent, deliberately simple implementation of the reference job (per status count
// and byte sum, top paths, matched/unparsed), used by end-to-end tests to check logpipe's
// answers. It shares no code with logpipe: it splits lines with std::string, matches with
// std::regex (ECMAScript, the peers' combined.re pattern without names) and counts with std::map.
// Slow (about 30 MB/s); use it on small inputs only.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace logpipe::testing {

struct ReferenceResult {
  uint64_t lines = 0;
  uint64_t matched = 0;
  uint64_t unparsed = 0;
  std::map<int, std::pair<uint64_t, uint64_t>> status;  // status -> (count, byte sum)
  std::map<std::string, uint64_t> path_counts;
  std::map<std::string, uint64_t> ip_counts;
  // The k most frequent paths: count desc, then path bytewise asc.
  std::vector<std::pair<std::string, uint64_t>> TopPaths(size_t k) const;
};

// Lines split on '\n', one trailing '\r' stripped, a final line without '\n' counted.
ReferenceResult RunReferenceJob(const std::string& bytes);

}  // namespace logpipe::testing
