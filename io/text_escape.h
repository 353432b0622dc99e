#pragma once
// Byte-exact text helpers shared by every output: UTF-8 validation and escaping for JSON,
// CSV and the rejects file. Output of logpipe is always valid UTF-8 (and valid JSON): a byte
// that is not part of a valid UTF-8 sequence is written as the four characters \xNN.
//
// Thread-safety: pure functions.
// Cost: one pass, appending to the caller's buffer; no allocation beyond its growth.

#include <string>
#include <string_view>

namespace logpipe {

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates (ED A0..BF), nothing above U+10FFFF.
bool IsValidUtf8(std::string_view bytes);

// Appends `bytes` as a JSON string literal, quotes included. Control characters use \n, \t,
// \uXXXX...; invalid UTF-8 bytes become the text \xNN (so the JSON holds a backslash).
void AppendJsonString(std::string_view bytes, std::string* out);

// Appends `bytes` as one CSV field (RFC 4180): quoted when it holds , " CR or LF, with quotes
// doubled. Invalid UTF-8 bytes become \xNN.
void AppendCsvField(std::string_view bytes, std::string* out);

// Appends `bytes` with everything outside printable ASCII escaped C-style (\t \r \\ \xNN), so
// a raw line fits on one line of a rejects file.
void AppendEscapedLine(std::string_view bytes, std::string* out);

}  // namespace logpipe
