#pragma once
// The processes executor: runs the plan's whole CPU segment (parse -> filters -> aggregates,
// plus rendering of records and rejects) in `workers` forked shard processes, while the
// calling process reads the inputs, hands chunks out and puts the results back in input order.
//
//   parent: plain file -> byte ranges (range mode), or
//           InputStream -> chunk descriptor (local file) or chunk bytes (stream) -> shard i
//   shard i: range: pread + Chunker -> chunks; chunk: pread its own bytes (local file);
//            each chunk -> RunSegmentStages -> Render -> BatchOutput bytes
//   parent: reorder by unit, then by chunk within a range -> DeliverBatch; at the end
//           "finish" -> each shard's encoded partials -> Decode (one thread per shard, once
//           every shard has sent them; shards are reaped after) -> Merge in shard order.
//           When the partials only go to Finish (partials_only_finished), shards send heads
//           instead and stay until the parent has asked them, in rounds, for the rest Finish
//           needs (Aggregate::CompleteHeads): for the reference job ~10 KB instead of ~20 MB of
//           path counts, which the parent decoded on the critical path.
//
// Inputs are classified before the shards start: a local regular file whose first bytes are
// not a gzip or zstd magic number is "plain", everything else ("-", pipes, compressed files)
// is "streamed" (the parent reads it and sends each chunk's bytes to a shard).
//
// Range mode (the default): the parent never reads a plain file. It cuts the file's bytes
// [0, size at the start of the run) into ranges of max(chunk_bytes, size / (workers x 32))
// bytes, the last ones tapering down to chunk_bytes so the shards finish together
// (io/line_range.h: a range owns the lines whose first byte is in it) and hands each
// range to an idle shard, which reads it with pread, cuts it into chunks with the plan's
// Chunker (chunk_bytes, max_line_bytes and oversized lines as usual; a line over a range
// boundary belongs to the range it starts in), and sends one result per chunk, then the
// range's end. What is cut per input is an InputRegion (io/line_range.h): the input's
// InputRange (pipeline/input_range.h) clipped to the file's size at the start of the run.
// Outputs, aggregates and totals (lines, bytes, oversized) are those of serial; the chunks are
// not (the run's chunk count differs; bytes appended to a file after the run
// started are not read). A shard does not know the line numbers of a range after the first,
// so the parent cuts the chunks itself, reading every byte as before, when the plan renders
// line numbers or groups multi-line events (ProcessesParentCutsReason; --explain says which):
// then chunk seq, line numbers and oversized lines are exactly those of the other executors,
// and a plain chunk crosses the socket as a ~100-byte descriptor the shard preads.
//
// Requires: plan.segments is one segment covering every stage (BuildPlan ensures it for model
//   processes); otherwise Run returns kInternal.
// Thread-safety: Run() forks, so it must be called while no other thread runs stage code (fork
//   copies only the calling thread), from a thread that outlives the run: shards get SIGKILL
//   when the thread that forked them exits (PR_SET_PDEATHSIG), so no shard outlives its parent.
//   The only other threads it starts decode the shards' partials at the very end, each into
//   its own Partials; they are joined before any later fork (a replacement for a shard that
//   dies answering queries about its heads) and before Run returns.
// Lifetime: every shard is reaped before Run returns, on success and on every error.
// Cost: one fork per shard at the start; per range (or chunk) a descriptor, or per streamed
//   chunk its bytes, to the shard and an encoded BatchOutput per chunk back; once at the end,
//   each shard's encoded partials (or heads, then a round trip per round of queries: one or
//   two). Without range mode the parent reads every byte of a plain
//   file (to cut chunks at line ends), so each shard's pread is served from the page cache.
//   Memory: plan.live_tokens units in flight (at most 2 chunks, or 1 range, per shard) plus
//   the chunk being read; a shard holds one chunk (and the Chunker's partial line) at a time.
//   Results of later units wait in the parent up to live_tokens x chunk_bytes of encoded
//   output; past that the parent reads only the shard of the next unit to deliver (the others
//   block on their sockets). The parent keeps a descriptor of every plain range or chunk for
//   retries (~100 bytes each), and at the end every shard's encoded partials (or heads) at
//   once (they are decoded in parallel, where they were received). Shards are reaped before Run
//   returns, so getrusage(RUSAGE_CHILDREN) then includes their CPU time (its ru_maxrss is the
//   largest shard's, not a sum).
// Errors: input errors as the other executors (in the same order relative to batch errors: a
//   batch error before a read error wins). A shard that dies (signal, exit, broken socket) is
//   retried once (also while answering queries about its heads: then the other shards keep
//   theirs, and the rounds start again once the replacement has sent its own): a replacement
//   shard is forked and every chunk or range the dead one had been given is sent again (its outputs
//   already received are kept and its repeats dropped: a range is cut the same way every time; only
//   its aggregate state was lost). A shard that had been sent streamed chunks cannot be retried
//   (their bytes are not kept). A second death, or a death that cannot be retried, fails the run
//   with kInternal (exit 70) naming the shard, its pid, how it died, and the input and byte range
//   it was working on. A range's read error (e.g. the file shrank) comes after the results of its
//   chunks before it, like serial's. The consumer's error (on_mismatch: fail) kills and reaps every
//   shard and is returned. SIGINT/SIGTERM (pipeline/run_interrupt.h): the parent sees
//   StopRequested() before its next chunk or within 100 ms of waiting in poll(), kills and reaps
//   every shard (a shard that dies then is not retried) and returns InterruptedStatus(). Shards
//   ignore SIGINT (Ctrl-C reaches the whole process group; the parent stops them), keep SIGTERM's
//   default action, and close the --lock descriptor right after fork.
//
// Test-only fault injection (never set it in production): the environment variable
//   LOGPIPE_TEST_KILL_SHARD=SEQ makes the first shard that receives unit SEQ (the SEQth chunk
//   or range handed out, from 0) raise(SIGKILL)
//   before processing it (its replacement processes it normally);
//   LOGPIPE_TEST_KILL_SHARD=SEQ:always makes every shard that receives chunk SEQ die, so the
//   run fails; LOGPIPE_TEST_KILL_SHARD=query[:always] does the same to shard 0 when it receives
//   its first query about its heads. Read once at the start of Run.

#include <cstdint>
#include <memory>
#include <string>

#include "pipeline/executor.h"

namespace logpipe {

// What one Run of the processes executor cost, for the comparison mode and tests. Counting is
// a few additions per chunk.
struct ProcessesExecutorStats {
  int shards_started = 0;        // forks, replacements included
  int shards_retried = 0;        // replacements forked after a shard died
  double fork_seconds = 0;       // wall time spent in fork() in the parent
  uint64_t plain_chunks = 0;     // chunks sent as descriptors (shard preads the bytes)
  uint64_t plain_ranges = 0;     // byte ranges of plain inputs the shards cut into chunks
  uint64_t streamed_chunks = 0;  // chunks whose bytes were sent to a shard
  uint64_t chunks_resent = 0;    // chunks sent again to replacement shards
  uint64_t request_bytes = 0;    // bytes sent to shards (frames, descriptors, chunk bytes)
  uint64_t result_bytes = 0;     // encoded BatchOutputs received from shards
  uint64_t partial_bytes = 0;    // encoded aggregate partials (or heads) received at the end
  uint64_t queries = 0;          // heads: queries sent to shards at the end (all rounds)
  uint64_t answer_bytes = 0;     // heads: their answers
};

// Why the parent must cut this plan's plain inputs into chunks itself: the plan renders line
// numbers (records with line_numbers, a rejects file, on_mismatch: fail), keeps a state file
// (which records the line each input ended at) or has multi-line events. Empty when the shards cut byte ranges themselves (see the top comment).
std::string ProcessesParentCutsReason(const Plan& plan);

std::unique_ptr<Executor> NewProcessesExecutor();
// Same, and fills `*stats` (which must outlive the executor) at the end of every Run.
// `partials_only_finished`: the caller passes RunResult::partials to Aggregate::Finish and
// nothing else (no Encode: state files, cluster parts); then shards send heads and answer
// queries instead of sending whole partials (Aggregate::EncodeHead; see the top comment).
std::unique_ptr<Executor> NewProcessesExecutorWithStats(ProcessesExecutorStats* stats,
                                                        bool partials_only_finished = false);

}  // namespace logpipe
