#pragma once
// Record formatters: write the selected rows of batches as JSON lines or CSV, with the fields
// the config chooses (default: all schema fields), in input order (the executor's job).
//
// JSON lines: one object per row, '\n'-terminated, no spaces; keys in the chosen order,
//   preceded by "_line" (the line number in its input) when `with_line_numbers` is set:
//   {"_line":12,"ip":"1.2.3.4","status":200,"rt":0.25,"ts":"2015-05-17T10:05:03Z","ref":null}
//   ints and floats are numbers (floats shortest round-trip; NaN/inf as null), times ISO 8601
//   UTC strings, strings escaped per io/text_escape.h (invalid UTF-8 bytes as the text \xNN),
//   absent fields null.
// CSV: a header row of the field names ("_line" first when set), then one row per record,
//   RFC 4180 quoting, '\n' line ends; absent fields (and NaN/inf) are empty; a row whose only
//   field is empty is written as "" so it is not a blank line.
// Thread-safety: Format is const and may run concurrently on different batches.
// Cost: appends to the caller's buffer; no allocation per row beyond its growth.
// Errors: Create returns kConfig naming a chosen field that is not in the schema, a field
//   chosen twice, or a field named "_line" together with with_line_numbers.

#include <memory>
#include <string>
#include <vector>

#include "io/status.h"
#include "stages/schema.h"
#include "stages/stage.h"

namespace logpipe {

enum class RecordFormat { kJsonLines, kCsv };

struct RecordOutputOptions {
  RecordFormat format = RecordFormat::kJsonLines;
  std::vector<std::string> fields;  // empty: every schema field, in schema order
  bool with_line_numbers = false;
};

Result<std::unique_ptr<RecordFormatter>> NewRecordFormatter(const RecordOutputOptions& options,
                                                            const Schema& schema);

}  // namespace logpipe
