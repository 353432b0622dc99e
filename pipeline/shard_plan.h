#pragma once
// ShardPlan: one job cut into N shards for `logpipe plan / map / reduce`
// (README "Beyond one machine"). `plan` writes it as JSON; each `map` task
// reads it and runs one shard; `reduce` reads it to check the parts and the
// inputs, and to know the job.
//
// What a plan holds: the directory plan ran in (map and reduce work from there,
// so relative paths in the config and the input names mean the same on every
// node of a shared filesystem), the config file (path as given, `--set`
// overrides, and a hash of its bytes: map and reduce refuse a config edited
// since planning), the inputs as a single-machine run names them with each
// one's identity (size, mtime, fingerprint of its first KiB), and per shard its
// pieces: consecutive parts of consecutive inputs, so concatenating the shards'
// records in shard order gives the single-machine order.
//
// How inputs are cut (MakeShardPlan): the inputs' bytes are laid end to end and
// cut at i * total / N; a cut inside a plain file moves forward to the next
// line start (with multi-line events: the next line that starts an event), so
// every line (event) belongs to exactly one piece. A compressed file or a URL
// is never cut: it goes whole to the shard its first byte falls in (a URL
// counts as an average-size file). Shards may be empty (one big compressed
// file, more shards than lines); an empty shard's part is still required. Line
// numbers: when the outputs show them (records line_numbers, a rejects file,
// on_mismatch: fail; LineNumbersShowReason) plan reads each cut file once to
// count the lines before each cut; otherwise it reads only a few KiB around
// each cut, and line numbers past a cut are not known (nothing shows them).
//
// Thread-safety: plain functions and values.
// Errors: kUsage (standard input, shards < 1), kConfig (`state:` jobs, which
// have their own
//   incremental runs), kNoInput (missing input), kDataError (a plan file that
//   does not decode, naming it; an input that changed since planning, saying to
//   plan again).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/status.h"
#include "pipeline/input_range.h"
#include "pipeline/plan.h"

namespace logpipe {

constexpr int kShardPlanVersion = 1;

struct PlannedInput {
  std::string path;  // as the single-machine run names it
  bool url = false;  // a URL: never cut, not checked for changes
  bool compressed = false;
  uint64_t size = 0;  // on disk
  int64_t mtime_ns = 0;
  std::string fingerprint;  // Hex64(Fnv1a64(first KiB, decompressed))
};

struct ShardPiece {
  size_t input = 0;  // index in ShardPlan::inputs
  InputRange range;  // begin at a line start; end UINT64_MAX for a whole
                     // compressed file / URL
};

struct ShardPlan {
  std::string logpipe_version;         // map and reduce must be the same version
  std::string directory;               // absolute: where plan ran
  std::string config_path;             // as given to plan (relative to `directory`)
  std::vector<std::string> overrides;  // --set KEY=VALUE, applied again by map and reduce
  std::string config_hash;             // Hex64(Fnv1a64(the config file's bytes))
  bool line_numbers = false;           // every piece's first_line is exact
  std::vector<PlannedInput> inputs;
  std::vector<std::vector<ShardPiece>> shards;
};

// Hex64(Fnv1a64(bytes)): the hash of a config file or of a plan file.
std::string ContentHash(std::string_view bytes);

// Cuts `plan`'s inputs (expanded: `inputs`) into `shards` shards (see the top
// comment). `config_path`, `overrides` and `config_bytes` are what the plan was
// built from.
Result<ShardPlan> MakeShardPlan(const Plan& plan, const std::vector<std::string>& inputs,
                                size_t shards, const std::string& config_path,
                                const std::vector<std::string>& overrides,
                                std::string_view config_bytes);

std::string EncodeShardPlan(const ShardPlan& plan);
// `path` names the file in errors. Never crashes on any bytes.
Result<ShardPlan> DecodeShardPlan(std::string_view bytes, const std::string& path);

// kDataError when an input of `which` (indices into plan.inputs; URLs skipped)
// is missing or differs from its planned identity (size, mtime or first KiB),
// naming it and what changed, and saying to plan again.
Status CheckInputsUnchanged(const ShardPlan& plan, const std::vector<size_t>& which);

}  // namespace logpipe
