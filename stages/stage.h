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

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

  // Finishing partials that stay where they were built (one per forked shard), when the merged
  // partial only goes to Finish: each holder sends a head, which may leave out what only a
  // few questions can show Finish does not need (top(f, k): every value that cannot be among
  // the k largest totals), and answers those questions in rounds.
  //   holder i:     EncodeHead(p_i) -> head bytes; later AnswerQuery(p_i, query) -> answer
  //   coordinator:  Decode each head into a fresh partial h_i, CompleteHeads(h, ask), where
  //                 ask(queries, &answers) hands queries[i] to holder i (AnswerQuery) and
  //                 returns its answer in answers[i]; then Merge the h_i and Finish.
  // Finish then returns the table of the merged p_i. The completed heads are only good for
  // Finish: not for Encode (state files, cluster parts), which need whole partials.
  // CompleteHeads changes the heads only once every round has succeeded; an error from `ask`
  // is returned as is. It may run again on heads it completed, beside fresh ones (a holder
  // replaced after an error): a completed head holds exact counts of some of its holder's
  // values, all a head is. The defaults send the whole partial and ask nothing.
  using AskHolders = std::function<Status(const std::vector<std::string>& queries,
                                          std::vector<std::string>* answers)>;
  // Whether EncodeHead leaves anything out (then CompleteHeads asks): a holder must stay for
  // the rounds only then.
  virtual bool HeadsNeedQueries() const { return false; }
  virtual void EncodeHead(Partial& p, std::string* out) const { Encode(p, out); }
  // REQUIRES: EncodeHead(p) was called (it may reorganise p as Encode does). Errors: kDataError
  // for a malformed query.
  virtual Status AnswerQuery(const Partial& /*p*/, std::string_view /*query*/,
                             std::string* /*answer*/) const {
    return DataError(std::string(name()) + " partial: a query, but its heads ask none");
  }
  virtual Status CompleteHeads(const std::vector<Partial*>& /*heads*/,
                               const AskHolders& /*ask*/) const {
    return Status::Ok();
  }
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
