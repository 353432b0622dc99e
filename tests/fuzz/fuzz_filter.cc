// Fuzz target: the filter expression parser and evaluator. Arbitrary text as a `where:`
// expression -> FilterExpr::Parse -> FilterStage::Create against a fixed schema (string, int,
// float and time fields) -> Process on a batch of a few parsed access-log lines. Errors must be
// Statuses naming a column; nothing may crash, and a filter only ever narrows `selected`.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "io/chunk.h"
#include "stages/filter_stage.h"
#include "stages/record_batch.h"
#include "tests/fuzz/fuzz_fixture.h"


extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static logpipe::fuzz::Fixture* fixture = logpipe::fuzz::MakeFixture();
  const std::string_view where(reinterpret_cast<const char*>(data), size);
  logpipe::Result<logpipe::FilterExpr> expr = logpipe::FilterExpr::Parse(where);
  if (!expr.ok()) return 0;
  logpipe::Result<std::unique_ptr<logpipe::FilterStage>> stage =
      logpipe::FilterStage::Create(std::move(expr.value()), fixture->plan.schema);
  if (!stage.ok()) return 0;
  const logpipe::Transform& parse = *fixture->plan.transforms[0];
  logpipe::RecordBatch batch;
  batch.Reset(fixture->chunk, fixture->plan.schema.size());
  std::unique_ptr<logpipe::Scratch> parse_scratch = parse.NewScratch();
  parse.Process(batch, *parse_scratch);
  const size_t before = batch.selected.size();
  std::unique_ptr<logpipe::Scratch> scratch = stage.value()->NewScratch();
  stage.value()->Process(batch, *scratch);
  if (batch.selected.size() > before) __builtin_trap();  // a filter only narrows
  for (size_t i = 1; i < batch.selected.size(); ++i) {
    if (batch.selected[i - 1] >= batch.selected[i]) __builtin_trap();  // still ascending
  }
  return 0;
}
