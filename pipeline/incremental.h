#pragma once
// Incremental runs (config `state: FILE`, optional `accumulate: true`): which part of each
// input this run reads, and the state that the run commits after its outputs.
//
// Matching this run's inputs to the state's entries (MatchInputs, pure), in three passes:
//   1. same (dev, ino), same fingerprint, same compression and (plain) size >= offset: the same
//      file, continued from its offset (a renamed file, access.log -> access.log.1, keeps it);
//   2. an entry not yet taken whose fingerprint matches this file's first bytes (different
//      inode): a rotated copy (access.log.1.gz compressed from access.log, or the copy made by
//      copytruncate), continued from the entry's offset in decompressed bytes. When several
//      entries match, the one fingerprinted over the most bytes wins;
//   3. otherwise new, read from the start; "restarted" (warned about, counted in the report's
//      `restarted_inputs`) when an entry not taken by passes 1-2 had the same (dev, ino) for a
//      plain file: the file was truncated or rewritten in place (`> access.log`) and its old
//      content is not among the inputs. When that entry was taken by a rotated copy
//      (copytruncate, or an inode reused after `access.log.1` was compressed and removed) the
//      file is simply new: nothing was lost.
// Entries that no input of this run matches are dropped from the new state.
// What is read: a plain file from its offset to just after the last '\n' present when the
// run starts (fixed then: what is appended during the run waits for the next one). A trailing
// line without '\n' waits, and is read as final by a run that finds the file unchanged since
// the previous run (same size and mtime as recorded then). A compressed file (not appended
// to) is read from its offset to its end, last line included; an unchanged compressed file
// seen again (same dev, ino, size, mtime) is not opened.
// The commit (RunJob, pipeline/job.h): records and rejects, then reports, then the state file
// (temp, fsync, rename, fsync dir). A crash before the state's rename leaves the old state:
// the rerun reads the same new lines again (see README "Incremental runs").
//
// Thread-safety: plain functions; call from the main thread.
// Cost: one stat and one read of the first KiB (decompressed) per input, and a backwards scan
//   of a plain file's tail for its last '\n'.
// Errors: kConfig (78) when the state was written by a config whose results differ, or an
//   input is not a regular file; kDataError (65) when the state file is corrupt; kNoInput (66)
//   when an input or the state file cannot be read.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/state_file.h"
#include "io/status.h"
#include "pipeline/input_range.h"
#include "pipeline/plan.h"
#include "stages/stage.h"

namespace logpipe {

// Hash (16 hex digits) of the config parts that decide results: parse (pattern or regex,
// fields, encoding, multiline), filters, aggregates, read.max_line_bytes and `accumulate`.
// Not the exec models, chunk sizes, inputs or outputs.
std::string StateConfigHash(const Config& config);

enum class InputFate { kNew, kContinued, kUnchanged, kRotated, kRestarted };

struct InputMatch {
  InputFate fate = InputFate::kNew;
  InputRange range;                 // begin, end (UINT64_MAX for compressed), first_line
  std::string from_path;            // kRotated / kContinued / kRestarted: the entry's last path;
                                    // kNew: the entry whose inode it reuses, if any
  bool final_partial_line = false;  // a trailing line without '\n' is read (file unchanged)
};

// Pure: what each input of this run continues (see the top comment). `ids[i]` is input i's
// identity; `range.end` is left at UINT64_MAX for plain files (ResolveLineEnds sets it).
std::vector<InputMatch> MatchInputs(const std::vector<FileIdentity>& ids,
                                    const std::vector<StateEntry>& entries);

// One line per input for --dry-run / --explain: "access.log: from byte 1200 (line 31)",
// "access.log.1.gz: rotated from access.log: from byte 800 (decompressed)", ...
std::string DescribeMatch(const std::string& path, const FileIdentity& id, const InputMatch& m);

// Everything a run knows before reading: the previous state, and per input its identity and
// range. Built by PrepareIncremental after the inputs are expanded.
struct IncrementalRun {
  std::string state_path;
  std::string config_hash;
  std::optional<StateFile> previous;  // none on the first run
  std::vector<FileIdentity> ids;
  std::vector<InputMatch> matches;
  std::vector<InputRange> ranges;     // one per input, what executors read
  std::vector<std::string> warnings;  // restarts, for stderr (unless --quiet)
  uint64_t restarted = 0;
};

Result<IncrementalRun> PrepareIncremental(const Plan& plan, const std::vector<std::string>& inputs);

// Where each input's reading ended, from the delivered batches (BatchOutput source,
// end_offset, end_line); inputs that delivered nothing stay at their range's begin.
struct InputEnd {
  bool seen = false;
  uint64_t offset = 0;
  uint64_t next_line = 1;
};

// The state to commit after this run. With accumulate, `partials` are this run's merged
// partials, already merged with the stored ones (AccumulatePartials), and `totals` the
// accumulated totals.
StateFile NextState(const IncrementalRun& run, const std::vector<std::string>& inputs,
                    const std::vector<InputEnd>& ends, bool accumulate,
                    std::vector<std::pair<std::string, uint64_t>> totals,
                    std::vector<std::string> partials);

// accumulate: merges the stored partials into this run's (`partials`, one per plan aggregate)
// and adds the stored totals to `totals` (every total but `inputs` and `new_*`, which stay
// this run's).
// Errors: kDataError naming the state file when a stored partial does not decode.
Status AccumulateInto(const Plan& plan, const IncrementalRun& run,
                      std::vector<std::unique_ptr<Partial>>* partials,
                      std::vector<std::pair<std::string, uint64_t>>* totals);

// Test-only crash injection: when env LOGPIPE_TEST_CRASH_AT equals `step`, the process kills
// itself with SIGKILL right there. Steps: before-outputs, after-outputs, after-state-temp,
// after-state; map-before-commit (logpipe map, pipeline/shard_job.h).
void MaybeCrashAt(const char* step);

}  // namespace logpipe
