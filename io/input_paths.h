#pragma once
// Expands the `path:` entries of a config into the list of inputs to read.
//
// An entry is a file, a directory (every regular file below it, recursively), a glob
// (glob(3) syntax: * ? [..]), or "-" for standard input. Results keep the entries' order;
// within one entry, paths are sorted bytewise so runs are reproducible. A file named by two
// entries is read once (first place wins).
// Errors: kNoInput naming the entry when a file or directory does not exist, a glob matches
//   nothing, or a directory holds no file; the message says what to check.

#include <string>
#include <vector>

#include "io/status.h"

namespace logpipe {

Result<std::vector<std::string>> ExpandInputPaths(const std::vector<std::string>& entries);

}  // namespace logpipe
