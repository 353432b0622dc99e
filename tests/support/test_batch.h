#pragma once
// TestBatch: a hand-built RecordBatch of `rows` placeholder lines whose fields the test sets
// directly, so stage tests need no parse stage. Every field is absent until set. Not movable:
// the batch points at the chunk it owns.

#include <cstring>
#include <deque>
#include <string>

#include "io/chunk.h"
#include "stages/record_batch.h"

namespace logpipe::testing {

class TestBatch {
 public:
  TestBatch(size_t num_fields, uint32_t rows, uint64_t first_line = 1) {
    std::string text;
    for (uint32_t r = 0; r < rows; ++r) text += "line\n";
    chunk_.Reserve(text.size() + 1);
    if (!text.empty()) std::memcpy(chunk_.mutable_data(), text.data(), text.size());
    chunk_.set_size(text.size());
    chunk_.first_line = first_line;
    batch_.Reset(chunk_, num_fields);
  }
  TestBatch(const TestBatch&) = delete;
  TestBatch& operator=(const TestBatch&) = delete;

  RecordBatch& batch() { return batch_; }
  uint32_t size() const { return batch_.size(); }

  void Int(size_t f, uint32_t row, int64_t v) { Set(f, row).i = v; }
  void Float(size_t f, uint32_t row, double v) { Set(f, row).f = v; }
  void Time(size_t f, uint32_t row, int64_t ms) { Set(f, row).i = ms; }
  void Str(size_t f, uint32_t row, std::string text) {
    storage_.push_back(std::move(text));  // a deque: views into earlier strings stay valid
    Set(f, row).text = storage_.back();
  }

 private:
  Value& Set(size_t f, uint32_t row) {
    Value& v = batch_.field(f, row);
    v.present = true;
    if (v.text.empty()) v.text = "x";
    return v;
  }

  Chunk chunk_;
  RecordBatch batch_;
  std::deque<std::string> storage_;
};

}  // namespace logpipe::testing
