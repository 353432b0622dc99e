#pragma once
// Table and Report: the finished results of a job, before they are formatted as JSON, CSV or
// a terminal table (stages/report_format.h).
//
// Values are typed so formatters can print them by one fixed rule: integers in decimal,
// floats in the shortest form that round-trips, times as ISO 8601 UTC, strings as raw bytes
// (formatters escape what is not valid UTF-8).
// Thread-safety: values; no shared state.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace logpipe {

struct Cell {
  enum class Kind { kNull, kInt, kFloat, kString, kTime, kTop };
  Kind kind = Kind::kNull;
  int64_t i = 0;   // kInt; kTime: milliseconds since the Unix epoch, UTC
  double f = 0;    // kFloat
  std::string s;   // kString: raw bytes
  // kTop: (value, count) pairs, count descending, then value bytewise ascending.
  std::vector<std::pair<std::string, uint64_t>> top;

  static Cell Null() { return Cell(); }
  static Cell Int(int64_t v) { Cell c; c.kind = Kind::kInt; c.i = v; return c; }
  static Cell Float(double v) { Cell c; c.kind = Kind::kFloat; c.f = v; return c; }
  static Cell String(std::string v) { Cell c; c.kind = Kind::kString; c.s = std::move(v); return c; }
  static Cell Time(int64_t ms) { Cell c; c.kind = Kind::kTime; c.i = ms; return c; }
};

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;  // each row has columns.size() cells
};

// One aggregate stage's result, under the stage's name.
struct NamedTable {
  std::string name;
  Table table;
};

// An input left out of a run (on_fetch_error: skip) and why.
struct SkippedInput {
  std::string input;
  std::string error;
};

// A whole job's result: run totals (lines, matched, ...), one table per aggregate stage, in
// config order, and the inputs that were skipped (reports list them only when there are any).
struct Report {
  std::string job_name;
  std::vector<std::pair<std::string, uint64_t>> totals;  // in display order
  std::vector<NamedTable> tables;
  std::vector<SkippedInput> skipped_inputs;
};

}  // namespace logpipe
