#pragma once
// Compression helpers for tests that need gzip input (files, stdin, HTTP bodies).

#include <string>
#include <string_view>

namespace logpipe::testing {

// One gzip member holding `bytes` (zlib, level 6); fails the test if zlib does.
std::string Gzip(std::string_view bytes);

}  // namespace logpipe::testing
