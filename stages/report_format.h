#pragma once
// Formats a finished Report as JSON, CSV or an aligned terminal table. Output bytes depend
// only on the Report, never on how it was computed: keys in a fixed order, integers in
// decimal, floats by std::to_chars shortest round-trip (non-finite as null), times ISO 8601
// UTC, strings escaped per io/text_escape.h (always valid UTF-8 / valid JSON).
//
// JSON: {"job": name, "totals": {...}, "columns": [...], "rows": [{col: value, ...}, ...]}
//   with one trailing newline; top(f,k) cells are arrays of {"value": ..., "count": n}.
// CSV: header + one line per table row (top cells as "value=count" joined by ';' is NOT used:
//   they are JSON arrays inside one quoted field); without a table, "total,value" lines.
// Text: totals, then the table with right-aligned numbers, for people and cron mail.
// Thread-safety: pure functions.

#include <string>

#include "stages/table.h"

namespace logpipe {

void FormatReportJson(const Report& report, std::string* out);
void FormatReportCsv(const Report& report, std::string* out);
void FormatReportText(const Report& report, std::string* out);

// One cell as plain text (as in CSV and text output); helper shared by the formatters.
void AppendCellText(const Cell& cell, std::string* out);

}  // namespace logpipe
