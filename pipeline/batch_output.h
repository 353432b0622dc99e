#pragma once
// BatchOutput: everything one processed batch contributes to the run's ordered outputs,
// already rendered to bytes: its formatted records (one string per records output), its
// rejects-file lines, its counters, and (with on_mismatch: fail) the error naming its first
// bad line. Workers render batches in parallel; the job then only appends bytes in seq order.
// A BatchOutput also encodes to bytes so forked process shards can send it to the parent.
//
// Thread-safety: BatchRenderer::Render is const and runs concurrently on different batches.
// Cost: Render appends into strings whose capacity is reused between batches.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/status.h"
#include "pipeline/plan.h"
#include "stages/record_batch.h"

namespace logpipe {

struct BatchOutput {
  uint64_t seq = 0;
  // Where the chunk ends in its input: the input's index, the (decompressed) byte offset just
  // past its bytes and the number of the line after its last one (incremental runs record
  // them per input, pipeline/incremental.h).
  uint64_t source = 0;
  uint64_t end_offset = 0;
  uint64_t end_line = 1;
  BatchCounters counters;
  uint64_t oversized_lines = 0;
  std::vector<std::string> records;  // one per plan.record_outputs
  std::string rejects;               // lines for the rejects file
  Status error;                      // non-OK: stop the run here (on_mismatch: fail)

  void EncodeTo(std::string* out) const;
  // Errors: kInternal when the bytes are not a BatchOutput (a shard sent garbage).
  static Status DecodeFrom(std::string_view bytes, BatchOutput* out);
};

class BatchRenderer {
 public:
  // `inputs` names the sources in messages and rejects; both must outlive the renderer.
  BatchRenderer(const Plan& plan, const std::vector<std::string>& inputs)
      : plan_(plan), inputs_(inputs) {}

  // Replaces `*out` with the rendering of `batch` (reusing its buffers).
  void Render(const RecordBatch& batch, BatchOutput* out) const;

 private:
  void Reject(const std::string& source, uint64_t line_number, std::string_view reason,
              std::string_view line, BatchOutput* out) const;

  const Plan& plan_;
  const std::vector<std::string>& inputs_;
};

}  // namespace logpipe
