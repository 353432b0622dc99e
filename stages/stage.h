#pragma once
// Stage interfaces: what a CPU stage is, independent of how it runs.
//
// A stage is a const object built once by the plan from config. Everything it mutates lives
// in a Scratch (transforms) or Partial (aggregates) that it creates and the executor owns,
// one per worker (thread, TBB slot or forked shard). Stages hold no threads, locks or
// global state; executors in pipeline/ decide where and when they run.
// Thread-safety: const methods may run concurrently on different batches with different
//   Scratches/Partials.
// Errors: bad lines are data (counters, rejects), never a Status; stages do not fail at run
//   time. Decode is the exception: partial bytes from another process may be corrupt.

#include <memory>
#include <string>
#include <string_view>

#include "io/status.h"
#include "stages/record_batch.h"
#include "stages/table.h"

namespace logpipe {

// Per-worker mutable state of a Transform (submatch arrays, buffers). Reused across batches.
class Scratch {
 public:
  virtual ~Scratch() = default;
};

// parse, filter: rewrite a batch in place.
class Transform {
 public:
  virtual ~Transform() = default;
  virtual std::string_view name() const = 0;
  virtual std::unique_ptr<Scratch> NewScratch() const = 0;
  // Rewrites `batch` in place. May run at the same time on other batches with other
  // Scratches. Never blocks, locks, logs or allocates per line.
  virtual void Process(RecordBatch& batch, Scratch& scratch) const = 0;
};

// Mergeable state of an Aggregate over some batches.
class Partial {
 public:
  virtual ~Partial() = default;
};

// aggregate: folds batches into a Partial; partials merge in any order with the same result.
class Aggregate {
 public:
  virtual ~Aggregate() = default;
  virtual std::string_view name() const = 0;
  virtual std::unique_ptr<Partial> NewPartial() const = 0;
  // Folds the selected rows of `batch` into `into`.
  virtual void Add(const RecordBatch& batch, Partial& into) const = 0;
  // Folds `from` into `into`. Associative and commutative.
  virtual void Merge(Partial&& from, Partial& into) const = 0;
  // Byte encoding for process shards and cluster shards. May first reorganise `p` (fold state
  // a Merge kept apart); what it holds, and what Finish returns for it, do not change.
  virtual void Encode(Partial& p, std::string* out) const = 0;
  virtual Status Decode(std::string_view bytes, Partial* into) const = 0;
  // The result table, rows in a deterministic order. Called once, single-threaded.
  virtual Table Finish(Partial&& all) const = 0;
};

// records output: turns the selected rows of a batch into bytes (JSON lines or CSV).
// The executor writes the bytes of batches in input order.
class RecordFormatter {
 public:
  virtual ~RecordFormatter() = default;
  // Bytes written once at the start of the file (a CSV header), possibly empty.
  virtual std::string Header() const = 0;
  // Appends the selected rows of `batch` to `out`.
  virtual void Format(const RecordBatch& batch, std::string* out) const = 0;
};

}  // namespace logpipe
