#include "stages/report_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>
#include <vector>

#include "io/text_escape.h"
#include "stages/time_format.h"

namespace logpipe {

namespace {

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

void AppendUint(uint64_t v, std::string* out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// Shortest round-trip form; REQUIRES: finite.
void AppendFiniteFloat(double v, std::string* out) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// A top(f, k) cell as a JSON array of {"value": ..., "count": n}. `spaced` adds a space after
// ':' and ',' (the JSON report); CSV cells use the compact form.
void AppendTopJson(const Cell& cell, bool spaced, std::string* out) {
  const char* colon = spaced ? ": " : ":";
  const char* comma = spaced ? ", " : ",";
  out->push_back('[');
  for (size_t i = 0; i < cell.top.size(); ++i) {
    if (i) out->append(comma);
    out->append("{\"value\"");
    out->append(colon);
    AppendJsonString(cell.top[i].first, out);
    out->append(comma);
    out->append("\"count\"");
    out->append(colon);
    AppendUint(cell.top[i].second, out);
    out->push_back('}');
  }
  out->push_back(']');
}

void AppendCellJson(const Cell& cell, std::string* out) {
  switch (cell.kind) {
    case Cell::Kind::kNull:
      out->append("null");
      break;
    case Cell::Kind::kInt:
      AppendInt(cell.i, out);
      break;
    case Cell::Kind::kFloat:
      if (std::isfinite(cell.f)) {
        AppendFiniteFloat(cell.f, out);
      } else {
        out->append("null");
      }
      break;
    case Cell::Kind::kString:
      AppendJsonString(cell.s, out);
      break;
    case Cell::Kind::kTime:
      out->push_back('"');
      AppendIsoTime(cell.i, out);
      out->push_back('"');
      break;
    case Cell::Kind::kTop:
      AppendTopJson(cell, /*spaced=*/true, out);
      break;
  }
}

// Length of the UTF-8 sequence that `lead` starts, or 0 if it cannot start one.
size_t Utf8LengthFromLead(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

void AppendHexByte(unsigned char c, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out->append("\\x");
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 15]);
}

// Appends `bytes` for a terminal: valid UTF-8 is kept; control characters (C0, DEL and C1)
// and bytes that are not valid UTF-8 become \t \n \r or \xNN, so a cell stays on one line
// and cannot move the cursor.
void AppendDisplayText(std::string_view bytes, std::string* out) {
  size_t i = 0;
  while (i < bytes.size()) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f) {
      out->push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (c == '\t') {
      out->append("\\t");
      ++i;
      continue;
    }
    if (c == '\n') {
      out->append("\\n");
      ++i;
      continue;
    }
    if (c == '\r') {
      out->append("\\r");
      ++i;
      continue;
    }
    const size_t len = Utf8LengthFromLead(c);
    const bool c1_control =
        c == 0xC2 && i + 1 < bytes.size() && static_cast<unsigned char>(bytes[i + 1]) < 0xA0;
    if (len > 1 && !c1_control && i + len <= bytes.size() && IsValidUtf8(bytes.substr(i, len))) {
      out->append(bytes.data() + i, len);
      i += len;
      continue;
    }
    AppendHexByte(c, out);
    ++i;
  }
}

// Terminal columns taken by valid UTF-8 `text` (one per code point; wide East Asian
// characters are counted as one).
size_t DisplayWidth(std::string_view text) {
  size_t w = 0;
  for (char ch : text) {
    if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++w;
  }
  return w;
}

// Text tables cut string values (and each value of a top cell) to this many columns.
constexpr size_t kMaxTextValueWidth = 60;

// Appends `bytes` as display text, cut to kMaxTextValueWidth columns ending in "...".
void AppendDisplayValue(std::string_view bytes, std::string* out) {
  const size_t start = out->size();
  AppendDisplayText(bytes, out);
  if (DisplayWidth(std::string_view(*out).substr(start)) <= kMaxTextValueWidth) return;
  size_t columns = 0;
  size_t i = start;
  for (; i < out->size(); ++i) {
    if ((static_cast<unsigned char>((*out)[i]) & 0xC0) == 0x80) continue;
    if (columns == kMaxTextValueWidth - 3) break;
    ++columns;
  }
  out->resize(i);
  out->append("...");
}

bool IsNumberCell(const Cell& cell) {
  return cell.kind == Cell::Kind::kInt || cell.kind == Cell::Kind::kFloat;
}

void AppendPadded(std::string_view text, size_t width, bool right, bool last, std::string* out) {
  const size_t w = DisplayWidth(text);
  const size_t pad = width > w ? width - w : 0;
  if (right) out->append(pad, ' ');
  out->append(text.data(), text.size());
  if (!right && !last) out->append(pad, ' ');
}

void TrimTrailingSpaces(std::string* out, size_t line_start) {
  while (out->size() > line_start && out->back() == ' ') out->pop_back();
}

}  // namespace

void AppendCellText(const Cell& cell, std::string* out) {
  switch (cell.kind) {
    case Cell::Kind::kNull:
      break;
    case Cell::Kind::kInt:
      AppendInt(cell.i, out);
      break;
    case Cell::Kind::kFloat:
      if (std::isfinite(cell.f)) AppendFiniteFloat(cell.f, out);
      break;
    case Cell::Kind::kString:
      out->append(cell.s);
      break;
    case Cell::Kind::kTime:
      AppendIsoTime(cell.i, out);
      break;
    case Cell::Kind::kTop:
      for (size_t i = 0; i < cell.top.size(); ++i) {
        if (i) out->append(", ");
        out->append(cell.top[i].first);
        out->append(" (");
        AppendUint(cell.top[i].second, out);
        out->push_back(')');
      }
      break;
  }
}

void AppendTableJson(const Table& t, std::string* out) {
  out->append("{\n      \"columns\": [");
  for (size_t c = 0; c < t.columns.size(); ++c) {
    if (c) out->append(", ");
    AppendJsonString(t.columns[c], out);
  }
  out->append("],\n      \"rows\": [");
  for (size_t r = 0; r < t.rows.size(); ++r) {
    out->append(r ? ",\n        {" : "\n        {");
    for (size_t c = 0; c < t.columns.size() && c < t.rows[r].size(); ++c) {
      if (c) out->append(", ");
      AppendJsonString(t.columns[c], out);
      out->append(": ");
      AppendCellJson(t.rows[r][c], out);
    }
    out->push_back('}');
  }
  out->append(t.rows.empty() ? "]\n    }" : "\n      ]\n    }");
}

void FormatReportJson(const Report& report, std::string* out) {
  out->append("{\n  \"job\": ");
  AppendJsonString(report.job_name, out);
  out->append(",\n  \"totals\": {");
  for (size_t i = 0; i < report.totals.size(); ++i) {
    if (i) out->append(", ");
    AppendJsonString(report.totals[i].first, out);
    out->append(": ");
    AppendUint(report.totals[i].second, out);
  }
  out->push_back('}');
  if (!report.tables.empty()) {
    out->append(",\n  \"tables\": {");
    for (size_t i = 0; i < report.tables.size(); ++i) {
      out->append(i ? ",\n    " : "\n    ");
      AppendJsonString(report.tables[i].name, out);
      out->append(": ");
      AppendTableJson(report.tables[i].table, out);
    }
    out->append("\n  }");
  }
  if (!report.skipped_inputs.empty()) {
    out->append(",\n  \"skipped_inputs\": [");
    for (size_t i = 0; i < report.skipped_inputs.size(); ++i) {
      out->append(i ? ",\n    {\"input\": " : "\n    {\"input\": ");
      AppendJsonString(report.skipped_inputs[i].input, out);
      out->append(", \"error\": ");
      AppendJsonString(report.skipped_inputs[i].error, out);
      out->push_back('}');
    }
    out->append("\n  ]");
  }
  out->append("\n}\n");
}

void FormatReportCsv(const Report& report, size_t table, std::string* out) {
  if (table >= report.tables.size()) {
    out->append("total,value\n");
    for (const auto& [name, value] : report.totals) {
      AppendCsvField(name, out);
      out->push_back(',');
      AppendUint(value, out);
      out->push_back('\n');
    }
    return;
  }
  const Table& t = report.tables[table].table;
  for (size_t c = 0; c < t.columns.size(); ++c) {
    if (c) out->push_back(',');
    AppendCsvField(t.columns[c], out);
  }
  out->push_back('\n');
  std::string text;
  for (const auto& row : t.rows) {
    for (size_t c = 0; c < t.columns.size() && c < row.size(); ++c) {
      if (c) out->push_back(',');
      const Cell& cell = row[c];
      text.clear();
      if (cell.kind == Cell::Kind::kTop) {
        AppendTopJson(cell, /*spaced=*/false, &text);
      } else {
        AppendCellText(cell, &text);
      }
      AppendCsvField(text, out);
    }
    out->push_back('\n');
  }
}

void FormatReportText(const Report& report, std::string* out) {
  bool wrote = false;
  if (!report.job_name.empty()) {
    out->append("job: ");
    AppendDisplayText(report.job_name, out);
    out->push_back('\n');
    wrote = true;
  }
  if (!report.totals.empty()) {
    std::vector<std::string> names, values;
    size_t name_width = 0, value_width = 0;
    for (const auto& [name, value] : report.totals) {
      names.emplace_back();
      AppendDisplayText(name, &names.back());
      values.emplace_back();
      AppendUint(value, &values.back());
      name_width = std::max(name_width, DisplayWidth(names.back()));
      value_width = std::max(value_width, values.back().size());
    }
    for (size_t i = 0; i < names.size(); ++i) {
      AppendPadded(names[i], name_width, /*right=*/false, /*last=*/false, out);
      out->append("  ");
      AppendPadded(values[i], value_width, /*right=*/true, /*last=*/true, out);
      out->push_back('\n');
    }
    wrote = true;
  }
  for (const NamedTable& named : report.tables) {
    if (wrote) out->push_back('\n');
    if (report.tables.size() > 1) {
      AppendDisplayText(named.name, out);
      out->append(":\n");
    }
    AppendTableText(named.table, out);
    wrote = true;
  }
  if (!report.skipped_inputs.empty()) {
    if (wrote) out->push_back('\n');
    out->append("skipped inputs:\n");
    for (const SkippedInput& skipped : report.skipped_inputs) {
      out->append("  ");
      AppendDisplayText(skipped.input, out);
      out->append(": ");
      AppendDisplayText(skipped.error, out);
      out->push_back('\n');
    }
  }
}

void AppendTableText(const Table& t, std::string* out) {
  const size_t ncols = t.columns.size();
  if (ncols == 0) return;
  // Every cell as display text; null, non-finite and empty cells as "-".
  std::vector<std::vector<std::string>> cells(t.rows.size(), std::vector<std::string>(ncols));
  std::vector<size_t> width(ncols, 0);
  std::vector<bool> right(ncols, true);
  std::vector<bool> any_number(ncols, false);
  for (size_t r = 0; r < t.rows.size(); ++r) {
    for (size_t c = 0; c < ncols && c < t.rows[r].size(); ++c) {
      const Cell& cell = t.rows[r][c];
      std::string& text = cells[r][c];
      if (cell.kind == Cell::Kind::kString) {
        AppendDisplayValue(cell.s, &text);
      } else if (cell.kind == Cell::Kind::kTop) {
        for (size_t i = 0; i < cell.top.size(); ++i) {
          if (i) text.append(", ");
          AppendDisplayValue(cell.top[i].first, &text);
          text.append(" (");
          AppendUint(cell.top[i].second, &text);
          text.push_back(')');
        }
      } else {
        AppendCellText(cell, &text);
      }
      if (text.empty()) text = "-";
      width[c] = std::max(width[c], DisplayWidth(cells[r][c]));
      if (IsNumberCell(cell)) {
        any_number[c] = true;
      } else if (cell.kind != Cell::Kind::kNull) {
        right[c] = false;
      }
    }
  }
  std::vector<std::string> headers(ncols);
  for (size_t c = 0; c < ncols; ++c) {
    AppendDisplayText(t.columns[c], &headers[c]);
    width[c] = std::max(width[c], DisplayWidth(headers[c]));
    right[c] = right[c] && any_number[c];
  }
  auto append_line = [&](const std::vector<std::string>& line) {
    const size_t start = out->size();
    for (size_t c = 0; c < ncols; ++c) {
      if (c) out->append("  ");
      AppendPadded(line[c], width[c], right[c], c + 1 == ncols, out);
    }
    TrimTrailingSpaces(out, start);
    out->push_back('\n');
  };
  append_line(headers);
  std::vector<std::string> rule(ncols);
  for (size_t c = 0; c < ncols; ++c) {
    // The last column is not padded, so its rule need not span its longest cell.
    const size_t last_cap = std::max(DisplayWidth(headers[c]), kMaxTextValueWidth);
    rule[c].assign(c + 1 == ncols ? std::min(width[c], last_cap) : width[c], '-');
  }
  append_line(rule);
  for (const auto& line : cells) append_line(line);
  if (t.rows.empty()) out->append("(no rows)\n");
}

}  // namespace logpipe
