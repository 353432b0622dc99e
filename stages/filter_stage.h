#pragma once
// FilterStage keeps the selected rows for which a `where` expression is true.
//
// The expression language (README "Filter expressions"):
//   comparison:  field OP literal | literal OP field | field OP field, OP in == != < <= > >=
//   regex:       field =~ "re2 pattern"   (also !~)
//   membership:  field in [lit, lit, ...]  (also `not in`)
//   existence:   exists(field)
//   logic:       and, or, not, parentheses; precedence not > and > or
//   literals:    numbers (42, -1.5), strings ("GET" or 'GET', with \" \\ escapes), and time
//                literals compared against time fields as ISO 8601 strings ("2015-05-17T10:05:00Z")
// Comparisons are typed by the field: int/float numerically, time by instant, string bytewise.
// A comparison that involves an absent field is false (use exists(f) to test for it).
// Thread-safety: Process is const; regexes compiled once in Create.
// Cost: a tree walk per row over Values already parsed; no allocation per row.
// Errors: ParseFilter/Create return kConfig with the 1-based column in the expression and
//   what was expected ("at column 8: expected a value after '>='"), naming unknown fields,
//   type mismatches (comparing an int field with a string) and bad regexes.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/status.h"
#include "stages/schema.h"
#include "stages/stage.h"

namespace logpipe {

struct FilterNode;  // the syntax tree, defined in filter_stage.cc

// A parsed but not yet bound expression: lets the plan learn which fields it reads before the
// schema exists.
class FilterExpr {
 public:
  static Result<FilterExpr> Parse(std::string_view where);
  // Field names the expression reads, each once, in order of first use.
  const std::vector<std::string>& fields() const { return fields_; }
  const std::string& text() const { return text_; }

  FilterExpr(FilterExpr&&) noexcept;
  FilterExpr& operator=(FilterExpr&&) noexcept;
  ~FilterExpr();

 private:
  friend class FilterStage;
  FilterExpr();
  std::string text_;
  std::vector<std::string> fields_;
  std::unique_ptr<FilterNode> root_;
};

class FilterStage : public Transform {
 public:
  static Result<std::unique_ptr<FilterStage>> Create(FilterExpr expr, const Schema& schema);
  ~FilterStage() override;

  std::string_view name() const override { return "filter"; }
  std::unique_ptr<Scratch> NewScratch() const override;
  void Process(RecordBatch& batch, Scratch& scratch) const override;

 private:
  FilterStage();
  struct Compiled;  // bound tree, defined in filter_stage.cc
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace logpipe
