#pragma once
// What an AggregateStage holds, for the two files that implement it: aggregate_stage.cc (the
// stage: Create, Add, Merge, Finish) and aggregate_wire.cc (its byte form and the heads
// protocol). Nothing else includes this header; the contract is stages/aggregate_stage.h.
//
// State of a partial (AggPartial): a HashTable of composite group keys giving each group a
// dense id, per-group rows and per-metric state in vectors indexed by that id, and per value
// source (a field read by distinct, top or pNN) a HashTable of (group id, value) -> count.
// The plan (AggregatePlan, AggregateStage's Impl): the key and metric plans Create resolved
// against the schema, and its operations on partials, each defined in the file that uses it.
// Thread-safety: as AggregateStage: a plan is read-only after Create; a partial is one
// worker's.
// Lifetime: views of keys and values (GroupBytes, ValuePrefix, ValueBytes) are views into the
//   argument or a HashTable, valid as long as those are (stages/hash_table.h).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stages/aggregate_spec.h"
#include "stages/hash_table.h"
#include "stages/hyperloglog.h"
#include "stages/log_histogram.h"
#include "stages/record_batch.h"
#include "stages/schema.h"
#include "stages/stage.h"
#include "stages/table.h"
#include "stages/wide_sum.h"

namespace logpipe {
namespace aggregate_internal {

using Kind = MetricSpec::Kind;

inline void AppendRaw64(uint64_t v, std::string* out) {
  char b[8];
  std::memcpy(b, &v, 8);
  out->append(b, 8);
}

inline double BitsFloat(uint64_t u) {
  double f;
  std::memcpy(&f, &u, 8);
  return f;
}

// Value tables key (group id, value) as the 4 bytes of the id followed by the value bytes,
// hashed as the value under the id as seed.
inline uint64_t ValueHash(uint32_t g, std::string_view value) { return HashBytes(value, g); }

// The 4 bytes of a group id as stored in value-table keys (native byte order: keys never
// leave the process; Encode writes ids as varints). REQUIRES: *g outlives the view.
inline std::string_view GroupBytes(const uint32_t* g) {
  return std::string_view(reinterpret_cast<const char*>(g), 4);
}

struct KeyPlan {
  std::string label;
  size_t field = 0;
  FieldType type = FieldType::kString;
  int64_t bucket_ms = 0;
};

struct MetricPlan {
  std::string name;
  Kind kind = Kind::kCount;
  size_t field = 0;
  FieldType type = FieldType::kString;
  int64_t k = 0;
  uint64_t pct_micro = 0;  // percentile in 1e-6 percent: p99.9 -> 99'900'000
  int source = -1;         // value table, for distinct / top / percentile
};

// Per-metric, per-group state; only the vectors of the metric's kind are used.
struct MetricState {
  std::vector<WideSum> sum;        // kSum, kAvg
  std::vector<uint64_t> n;         // kAvg: present values
  std::vector<uint8_t> has;        // kMin, kMax
  std::vector<uint64_t> num;       // kMin, kMax on int/time (int64) or float (bits)
  std::vector<std::string> text;   // kMin, kMax on strings
  std::vector<HyperLogLog> hll;    // kDistinctApprox
  std::vector<LogHistogram> hist;  // kPercentileApprox
};

class AggPartial : public Partial {
 public:
  // Groups: composite key bytes -> group id; rows per group.
  HashTable groups;
  std::vector<uint64_t> rows;
  std::vector<MetricState> metrics;
  // Per value source: (4-byte group id + value bytes) -> occurrences (the entry payload).
  std::vector<HashTable> values;
  // Value tables of partials merged into this one but kept apart: only for sources that
  // nothing but top(f, k) reads, whose Finish finds the exact top k across several tables
  // (TopAcrossParts) at a fraction of the cost of folding each into `values`, the largest
  // merge at the end of a run. A part's `values` has an entry per source (empty for the
  // others); `remap` maps its group ids to ours. Encode folds them first (FoldParts).
  struct Part {
    std::vector<HashTable> values;
    std::vector<uint32_t> remap;
  };
  std::vector<Part> parts;

  // Reused buffers (not state); sized by the largest batch, then never reallocated.
  std::string batch_keys;            // the group keys of a batch, back to back
  std::vector<uint32_t> key_ends;    // end of row j's key in batch_keys
  std::vector<uint64_t> hashes;      // hash of row j's key
  std::vector<uint32_t> row_group;   // group of row j
  std::vector<uint32_t> value_rows;  // rows j with a present value
  std::vector<uint64_t> value_num;   // canonical 8 bytes of numeric values
  std::vector<uint32_t> remap;       // Merge: group id in `from` -> id in `into`

  void SwapState(AggPartial& o) {
    groups.Swap(o.groups);
    rows.swap(o.rows);
    metrics.swap(o.metrics);
    values.swap(o.values);
    parts.swap(o.parts);
  }
};

// Looks up n keys whose hashes are known, prefetching the slots and entries of later rows
// while the current one is compared: with hundreds of thousands of keys each lookup is a
// cache miss, and this overlaps them. key_at(i) -> {head, tail};
// found(i, id, inserted, payload).
template <typename KeyAt, typename Found>
void PipelinedLookup(HashTable& table, size_t n, const uint64_t* hashes, KeyAt key_at,
                     Found found) {
  constexpr size_t kSlotAhead = 16;
  constexpr size_t kEntryAhead = 8;
  for (size_t i = 0; i < n; ++i) {
    if (i + kSlotAhead < n) table.PrefetchSlot(hashes[i + kSlotAhead]);
    if (i + kEntryAhead < n) table.PrefetchEntry(hashes[i + kEntryAhead]);
    const std::pair<std::string_view, std::string_view> key = key_at(i);
    bool inserted = false;
    PayloadRef payload;
    const uint32_t id = table.FindOrInsert(key.first, key.second, hashes[i], &inserted, &payload);
    found(i, id, inserted, payload);
  }
}

// The ids of the k largest counts of each group in value table `t` (group_of(id) -> group,
// below heaps->size()), as min-heaps of (count, id): heap g's front is the smallest kept.
// Among equal counts, which are kept is unspecified (callers take ties by a threshold).
template <typename GroupOf>
void LargestPerGroup(const HashTable& t, uint64_t k, GroupOf group_of,
                     std::vector<std::vector<std::pair<uint64_t, uint32_t>>>* heaps) {
  auto smaller_on_top = [](const auto& a, const auto& b) { return a.first > b.first; };
  for (auto& h : *heaps) h.clear();
  const uint32_t size = static_cast<uint32_t>(t.size());
  for (uint32_t id = 0; id < size; ++id) {
    const uint64_t c = t.payload(id);
    auto& h = (*heaps)[group_of(id)];
    if (h.size() < k) {
      h.emplace_back(c, id);
      std::push_heap(h.begin(), h.end(), smaller_on_top);
    } else if (c > h.front().first) {
      std::pop_heap(h.begin(), h.end(), smaller_on_top);
      h.back() = {c, id};
      std::push_heap(h.begin(), h.end(), smaller_on_top);
    }
  }
}

// AggregateStage's Impl.
struct AggregatePlan {
  std::vector<KeyPlan> keys;
  std::vector<MetricPlan> metrics;
  std::vector<size_t> source_field;  // value source -> schema field
  std::vector<FieldType> source_type;
  std::vector<uint8_t> source_top_only;  // read by top(f, k) metrics only: may be kept apart
  std::vector<uint64_t> source_k;        // top-only sources: the largest k that reads them

  // Value-table keys are the group id's 4 bytes, then the value bytes. Without group_by every
  // value is in group 0 and the prefix is left out: 4 bytes less per distinct value.
  size_t value_prefix() const { return keys.empty() ? 0 : 4; }
  std::string_view ValuePrefix(const uint32_t* g) const {
    return keys.empty() ? std::string_view() : GroupBytes(g);
  }
  uint32_t ValueGroup(std::string_view key) const {
    uint32_t g = 0;
    if (!keys.empty()) std::memcpy(&g, key.data(), 4);
    return g;
  }
  std::string_view ValueBytes(std::string_view key) const { return key.substr(value_prefix()); }

  // Appends the composite group key of `row` to `out`: per key a presence byte, then 8 bytes
  // (int, time or its bucket, canonical float) or a 4-byte length and the bytes (string).
  void AppendGroupKey(const RecordBatch& batch, uint32_t row, std::string* out) const;
  // Whether `key` is a well-formed composite key (Decode).
  bool ValidKey(std::string_view key) const;
  // The group key cells of `key`. REQUIRES: ValidKey(key).
  void KeyCells(std::string_view key, std::vector<Cell>* cells) const;
  // Appends a group's empty state to every per-group vector of `p`.
  void NewGroup(AggPartial& p) const;

  // Folds metric `m` of the selected `rows` (of groups `row_group`) into `s` (Add); value-table
  // metrics and count are done elsewhere.
  void AddMetric(const MetricPlan& m, MetricState& s, const RecordBatch& batch,
                 const std::vector<uint32_t>& rows, const std::vector<uint32_t>& row_group) const;
  // Folds the state of `from` into `into`. `from`'s groups and metrics are left as they were;
  // its value tables are consumed (left empty, their memory freed as the merge goes, so that
  // the peak is not both tables plus the growth of `into`). Tables are reserved for the larger
  // of the two sizes only: the union is often far smaller than the sum (two workers see mostly
  // the same keys), and growth past it is amortised.
  void MergeInto(AggPartial& from, AggPartial& into) const;
  // Folds value table `ft` of source `src`, whose group ids `remap` maps to those of `into`,
  // into into.values[src], consuming it.
  void FoldValues(HashTable& ft, const std::vector<uint32_t>& remap, size_t src,
                  AggPartial& into) const;
  // Folds every part kept apart into p.values.
  void FoldParts(AggPartial& p) const;
  // top(f, k) of metric `m` for each of the `ngroups` groups, across p.values[m.source] and
  // the tables p.parts keeps apart, without folding them into one (the argument is at the
  // definition). Returns false, having changed nothing, when the counts are so flat that the
  // candidates would cost more than folding.
  bool TopAcrossParts(const AggPartial& p, const MetricPlan& m, uint32_t ngroups,
                      std::vector<std::vector<std::pair<std::string, uint64_t>>>* out) const;

  // Encode and EncodeHead (`head`: top-only tables give each group's source_k largest only).
  void Encode(AggPartial& p, bool head, std::string* out) const;
};

}  // namespace aggregate_internal
}  // namespace logpipe
