#pragma once
// Formats a finished Report as JSON, CSV or an aligned terminal table. Output bytes depend
// only on the Report, never on how it was computed: keys in a fixed order, integers in
// decimal, floats by std::to_chars shortest round-trip (so 2.0 prints as 2; NaN and +-inf
// print as null in JSON and empty in CSV and text), times ISO 8601 UTC, strings escaped per
// io/text_escape.h (output is always valid UTF-8, and the JSON always parses).
//
// JSON: one object, two-space indented, one table row per line, one trailing newline:
//   {
//     "job": "access-5xx",
//     "totals": {"lines": 10, "matched": 9},
//     "tables": {
//       "by_status": {
//         "columns": ["status", "hits", "top_paths"],
//         "rows": [
//           {"status": 200, "hits": 5, "top_paths": [{"value": "/a", "count": 4}, ...]},
//           {"status": null, "hits": 1, "top_paths": []}
//         ]
//       }
//     }
//   }
//   "tables" (one entry per aggregate stage, in config order) is present only when the job
//   aggregates; absent group keys and metrics without values are null; times are strings.
// CSV (RFC 4180 quoting, '\n' line ends): one table per file, chosen by index: a header of
//   the column names and one line per row; totals are not included. Null cells are empty; a
//   top(f, k) cell is the compact JSON array [{"value":"/a","count":4},...] as one field
//   (quoted, as CSV requires). With no such table: "total,value" then one "name,number"
//   line per total.
// Text: "job: NAME" (if named), the totals as aligned "name  number" lines, then each table
//   after a blank line (titled "NAME:" when there are several): a header, a rule of dashes, one line per row ("(no rows)" if none). Columns are
//   two spaces apart; columns holding only numbers (and nulls) are right-aligned, others
//   left-aligned; null cells show "-"; top cells show "/a (4), /b (2)". Control characters
//   and invalid UTF-8 are shown as \t, \n, \r or \xNN so every row stays one line; a string
//   (or top value) longer than 60 columns is cut to 57 and "..." (JSON and CSV are exact); no
//   line has trailing spaces. Widths count code points (wide CJK characters misalign).
// Thread-safety: pure functions.

#include <string>

#include "stages/table.h"

namespace logpipe {

void FormatReportJson(const Report& report, std::string* out);
void FormatReportCsv(const Report& report, size_t table, std::string* out);

// One table alone, as FormatReportJson / FormatReportText write it.
void AppendTableJson(const Table& table, std::string* out);
void AppendTableText(const Table& table, std::string* out);
void FormatReportText(const Report& report, std::string* out);

// One cell as unescaped text, as the text table shows it before escaping: null and
// non-finite floats as nothing, strings as their raw bytes, top cells as "/a (4), /b (2)".
void AppendCellText(const Cell& cell, std::string* out);

}  // namespace logpipe
