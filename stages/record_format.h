#pragma once
// Record formatters: write the selected rows of batches as JSON lines or CSV, with the fields
// the config chooses (default: all schema fields), in input order (the executor's job).
//
// JSON lines: one object per row, keys in the chosen order, typed values (int/float as
//   numbers, time as ISO 8601 UTC string, string escaped; absent fields as null), plus
//   "_line": line number when `with_line_numbers` is set.
// CSV: a header row, then one row per record; absent fields are empty.
// Thread-safety: Format is const and may run concurrently on different batches.
// Cost: appends to the caller's buffer; no allocation per row beyond its growth.
// Errors: Create returns kConfig naming a chosen field that is not in the schema.

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
