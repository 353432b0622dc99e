#pragma once
// The shard process of the processes executor: what it inherits from the parent through
// fork, and its main loop. A shard serves the parent's requests on its socket (a chunk: read
// or pread its bytes, run the plan's segment, render, reply with the batch; a byte range: cut
// it into chunks itself and reply per chunk; "finish": reply with its encoded aggregate
// partials and _exit, or, with heads, with its heads (Aggregate::EncodeHead), then answer the
// parent's queries (AnswerQuery) until it closes the socket). Frames: pipeline/processes_wire.h.
// Thread-safety: runs in a freshly forked child, on the forking thread only; never returns and
//   never unwinds into the parent's code (an exception ends the process with status 3).
// Errors: a chunk it cannot read is a "chunk error" reply; a malformed request exits with
//   status 2, a vanished parent with 1 (the parent reports the death and retries once).

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/batch_output.h"
#include "pipeline/plan.h"
#include "pipeline/processes_wire.h"
#include "pipeline/run_trace.h"

namespace logpipe::processes {

// Crash injection for tests: LOGPIPE_TEST_KILL_SHARD=SEQ makes the shard that receives unit
// SEQ kill itself with SIGKILL (only its first process; SEQ:always its replacement too);
// LOGPIPE_TEST_KILL_SHARD=query[:always] shard 0 when it receives its first query at the end.
struct KillSpec {
  bool enabled = false;
  bool at_query = false;  // the first query instead of unit `seq`
  uint64_t seq = 0;
  bool always = false;
};

KillSpec ParseKillSpec();

// Everything a shard needs; it inherits it through fork.
struct ShardContext {
  const Plan* plan = nullptr;
  const std::vector<std::string>* inputs = nullptr;
  const BatchRenderer* renderer = nullptr;
  const std::vector<InputInfo>* infos = nullptr;
  KillSpec kill;
  RunTrace* trace = nullptr;  // the shard records its own track in its copy
  bool heads = false;         // "finish": send heads and answer queries (Aggregate::EncodeHead)
  int shard = 0;              // which shard this process is (0 .. workers - 1)
  int attempt = 0;            // 0: the shard's first process; 1: its replacement
};

// Serves `fd` until "finish" (with heads: until the parent closes it) or until the parent goes
// away, then exits the process.
[[noreturn]] void ShardMain(const ShardContext& ctx, int fd);

}  // namespace logpipe::processes
