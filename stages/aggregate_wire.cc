// The byte form of an AggregateStage partial (Encode, Decode) and the heads protocol built on
// it (EncodeHead, AnswerQuery, CompleteHeads). Contracts: stages/aggregate_stage.h and
// stages/stage.h. The bytes (varints are LEB128, stages/varint.h; "zz" is zigzagged):
//   "LPAG" version(1)
//   shape:  nkeys, per key: type byte, bucket_ms; nmetrics, per metric: kind byte, type byte
//   groups: n, per group: key length, key bytes (AggregatePlan::AppendGroupKey), rows,
//           per metric: sum/avg: flags byte, low 64, next 64, high 64 bits (avg: then the
//           number of values); min/max: has byte, then string length + bytes, float 8 raw
//           bytes, or int/time zz; the sketches' own Encode; nothing for the others
//   values: per value source, n, then n x (group id, value (PutValue), count >= 1)
// A head is the same bytes with fewer values: for a source only top(f, k) reads, each group's
// k largest counts.

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stages/aggregate_stage.h"
#include "stages/aggregate_state.h"
#include "stages/varint.h"

namespace logpipe {

using aggregate_internal::AggPartial;
using aggregate_internal::AggregatePlan;
using aggregate_internal::AppendRaw64;
using aggregate_internal::BitsFloat;
using aggregate_internal::GroupBytes;
using aggregate_internal::KeyPlan;
using aggregate_internal::LargestPerGroup;
using aggregate_internal::MetricPlan;
using aggregate_internal::MetricState;
using aggregate_internal::PipelinedLookup;
using aggregate_internal::ValueHash;
using Kind = MetricSpec::Kind;

namespace {

// ---------------------------------------------------------------------------------------------
// Varint byte format for Encode/Decode.

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ (v < 0 ? ~uint64_t{0} : 0);
}
inline int64_t UnZigZag(uint64_t u) { return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1)); }

class Reader {
 public:
  explicit Reader(std::string_view bytes) : data_(bytes) {}
  bool Varint(uint64_t* v) {
    std::string_view rest = data_.substr(pos_);
    if (!GetVarint(&rest, v)) return false;
    pos_ = data_.size() - rest.size();
    return true;
  }
  bool Byte(uint8_t* v) {
    if (pos_ >= data_.size()) return false;
    *v = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool Raw64(uint64_t* v) {
    if (data_.size() - pos_ < 8) return false;
    std::memcpy(v, data_.data() + pos_, 8);
    pos_ += 8;
    return true;
  }
  bool Bytes(uint64_t n, std::string_view* v) {
    if (n > data_.size() - pos_) return false;
    *v = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == data_.size(); }
  std::string_view rest() const { return data_.substr(pos_); }
  void Skip(size_t n) { pos_ += n; }  // REQUIRES: n <= rest().size()
  size_t pos() const { return pos_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

constexpr char kMagic[] = "LPAG";
constexpr uint8_t kFormatVersion = 1;
// A value of a value table in the byte format: string bytes with their length, a float's 8
// bytes, an int or time zigzagged.
void PutValue(FieldType type, std::string_view value, std::string* out) {
  if (type == FieldType::kString) {
    PutVarint(value.size(), out);
    out->append(value.data(), value.size());
  } else if (type == FieldType::kFloat) {
    out->append(value.data(), value.size());
  } else {
    uint64_t u;
    std::memcpy(&u, value.data(), 8);
    PutVarint(ZigZag(static_cast<int64_t>(u)), out);
  }
}

// Reads a PutValue and appends its table bytes to `out`; false on truncated bytes.
bool ReadValue(Reader& r, FieldType type, std::string* out) {
  if (type == FieldType::kString) {
    uint64_t len = 0;
    std::string_view text;
    if (!r.Varint(&len) || !r.Bytes(len, &text)) return false;
    out->append(text.data(), text.size());
  } else if (type == FieldType::kFloat) {
    uint64_t u = 0;
    if (!r.Raw64(&u)) return false;
    AppendRaw64(u, out);
  } else {
    uint64_t z = 0;
    if (!r.Varint(&z)) return false;
    AppendRaw64(static_cast<uint64_t>(UnZigZag(z)), out);
  }
  return true;
}

}  // namespace

bool AggregatePlan::ValidKey(std::string_view key) const {
  size_t pos = 0;
  for (const KeyPlan& k : keys) {
    if (pos >= key.size()) return false;
    const char tag = key[pos++];
    if (tag == '\0') continue;
    if (tag != '\1') return false;
    if (k.type == FieldType::kString) {
      if (key.size() - pos < 4) return false;
      uint32_t len;
      std::memcpy(&len, key.data() + pos, 4);
      pos += 4;
      if (key.size() - pos < len) return false;
      pos += len;
    } else {
      if (key.size() - pos < 8) return false;
      pos += 8;
    }
  }
  return pos == key.size();
}

void AggregateStage::Encode(Partial& base, std::string* out) const {
  impl_->Encode(static_cast<AggPartial&>(base), /*head=*/false, out);
}

bool AggregateStage::HeadsNeedQueries() const {
  const std::vector<uint64_t>& k = impl_->source_k;
  return std::any_of(k.begin(), k.end(), [](uint64_t v) { return v > 0; });
}

void AggregateStage::EncodeHead(Partial& base, std::string* out) const {
  impl_->Encode(static_cast<AggPartial&>(base), /*head=*/true, out);
}

void AggregatePlan::Encode(AggPartial& p, bool head, std::string* out) const {
  const AggregatePlan& impl = *this;
  impl.FoldParts(p);  // the format has one table per source
  // Room for the value tables at once: their encoding (at most 25 bytes per value beside its
  // bytes) is smaller than the tables (48), and growing a string of tens of MiB by doubling
  // copies it and faults in fresh pages each time, at the end of a shard's run.
  size_t bound = 0;
  for (const HashTable& t : p.values) bound += t.MemoryBytes();
  out->reserve(out->size() + bound);
  out->append(kMagic, 4);
  out->push_back(static_cast<char>(kFormatVersion));
  // Shape of the stage, so a partial from another config is refused.
  PutVarint(impl.keys.size(), out);
  for (const KeyPlan& k : impl.keys) {
    out->push_back(static_cast<char>(k.type));
    PutVarint(static_cast<uint64_t>(k.bucket_ms), out);
  }
  PutVarint(impl.metrics.size(), out);
  for (const MetricPlan& m : impl.metrics) {
    out->push_back(static_cast<char>(m.kind));
    out->push_back(static_cast<char>(m.type));
  }
  PutVarint(p.groups.size(), out);
  for (uint32_t g = 0; g < p.groups.size(); ++g) {
    const std::string_view key = p.groups.key(g);
    PutVarint(key.size(), out);
    out->append(key.data(), key.size());
    PutVarint(p.rows[g], out);
    for (size_t mi = 0; mi < impl.metrics.size(); ++mi) {
      const MetricPlan& m = impl.metrics[mi];
      const MetricState& s = p.metrics[mi];
      switch (m.kind) {
        case Kind::kSum:
        case Kind::kAvg: {
          const WideSum& w = s.sum[g];
          out->push_back(static_cast<char>(w.flags));
          PutVarint(static_cast<uint64_t>(w.lo), out);
          PutVarint(static_cast<uint64_t>(w.lo >> 64), out);
          PutVarint(w.hi, out);
          if (m.kind == Kind::kAvg) PutVarint(s.n[g], out);
          break;
        }
        case Kind::kMin:
        case Kind::kMax:
          out->push_back(static_cast<char>(s.has[g]));
          if (!s.has[g]) break;
          if (m.type == FieldType::kString) {
            PutVarint(s.text[g].size(), out);
            out->append(s.text[g]);
          } else if (m.type == FieldType::kFloat) {
            AppendRaw64(s.num[g], out);
          } else {
            PutVarint(ZigZag(static_cast<int64_t>(s.num[g])), out);
          }
          break;
        case Kind::kDistinctApprox:
          s.hll[g].Encode(out);
          break;
        case Kind::kPercentileApprox:
          s.hist[g].Encode(out);
          break;
        default:
          break;
      }
    }
  }
  std::vector<std::vector<std::pair<uint64_t, uint32_t>>> largest;
  for (size_t src = 0; src < impl.source_field.size(); ++src) {
    const HashTable& t = p.values[src];
    const FieldType type = impl.source_type[src];
    auto put = [&](uint32_t id) {
      const std::string_view key = t.key(id);
      PutVarint(impl.ValueGroup(key), out);
      PutValue(type, impl.ValueBytes(key), out);
      PutVarint(t.payload(id), out);
    };
    if (head && impl.source_k[src] > 0) {
      // A head: each group's k largest counts (CompleteHeads asks for the rest it needs).
      largest.resize(p.groups.size());
      LargestPerGroup(
          t, impl.source_k[src], [&](uint32_t id) { return ValueGroup(t.key(id)); }, &largest);
      size_t n = 0;
      for (const auto& h : largest) n += h.size();
      PutVarint(n, out);
      for (const auto& h : largest) {
        for (const auto& entry : h) put(entry.second);
      }
      continue;
    }
    PutVarint(t.size(), out);
    for (uint32_t id = 0; id < t.size(); ++id) put(id);
  }
}

Status AggregateStage::Decode(std::string_view bytes, Partial* into) const {
  assert(into != nullptr);
  const Impl& impl = *impl_;
  Reader r(bytes);
  auto corrupt = [&](const char* what) {
    return DataError("aggregate partial: " + std::string(what) + " at byte " +
                     std::to_string(r.pos()) + " of " + std::to_string(bytes.size()));
  };
  std::string_view magic;
  uint8_t version = 0;
  if (!r.Bytes(4, &magic) || magic != std::string_view(kMagic, 4)) return corrupt("bad magic");
  if (!r.Byte(&version) || version != kFormatVersion) return corrupt("unknown format version");
  uint64_t n = 0;
  if (!r.Varint(&n) || n != impl.keys.size()) return corrupt("group key count mismatch");
  for (const KeyPlan& k : impl.keys) {
    uint8_t type = 0;
    uint64_t bucket = 0;
    if (!r.Byte(&type) || type != static_cast<uint8_t>(k.type) || !r.Varint(&bucket) ||
        bucket != static_cast<uint64_t>(k.bucket_ms)) {
      return corrupt("group key mismatch");
    }
  }
  if (!r.Varint(&n) || n != impl.metrics.size()) return corrupt("metric count mismatch");
  for (const MetricPlan& m : impl.metrics) {
    uint8_t kind = 0, type = 0;
    if (!r.Byte(&kind) || !r.Byte(&type) || kind != static_cast<uint8_t>(m.kind) ||
        type != static_cast<uint8_t>(m.type)) {
      return corrupt("metric mismatch");
    }
  }
  std::unique_ptr<Partial> fresh = NewPartial();
  AggPartial& p = static_cast<AggPartial&>(*fresh);
  uint64_t ngroups = 0;
  if (!r.Varint(&ngroups)) return corrupt("truncated");
  if (ngroups > bytes.size()) return corrupt("impossible group count");
  for (uint64_t i = 0; i < ngroups; ++i) {
    uint64_t len = 0;
    std::string_view key;
    if (!r.Varint(&len) || !r.Bytes(len, &key)) return corrupt("truncated group key");
    if (!impl.ValidKey(key)) return corrupt("malformed group key");
    bool inserted = false;
    const uint32_t g = p.groups.FindOrInsert(key, HashBytes(key), &inserted);
    if (!inserted) return corrupt("duplicate group");
    impl.NewGroup(p);
    if (!r.Varint(&p.rows[g]) || p.rows[g] == 0) return corrupt("bad row count");
    for (size_t mi = 0; mi < impl.metrics.size(); ++mi) {
      const MetricPlan& m = impl.metrics[mi];
      MetricState& s = p.metrics[mi];
      switch (m.kind) {
        case Kind::kSum:
        case Kind::kAvg: {
          WideSum& w = s.sum[g];
          uint64_t lo0 = 0, lo1 = 0;
          if (!r.Byte(&w.flags) || w.flags > WideSum::kAllFlags || !r.Varint(&lo0) ||
              !r.Varint(&lo1) || !r.Varint(&w.hi)) {
            return corrupt("bad sum");
          }
          w.lo = (static_cast<unsigned __int128>(lo1) << 64) | lo0;
          if (m.kind == Kind::kAvg && !r.Varint(&s.n[g])) return corrupt("bad average");
          break;
        }
        case Kind::kMin:
        case Kind::kMax: {
          if (!r.Byte(&s.has[g]) || s.has[g] > 1) return corrupt("bad min/max");
          if (!s.has[g]) break;
          if (m.type == FieldType::kString) {
            std::string_view text;
            if (!r.Varint(&len) || !r.Bytes(len, &text)) return corrupt("bad min/max");
            s.text[g].assign(text.data(), text.size());
          } else if (m.type == FieldType::kFloat) {
            if (!r.Raw64(&s.num[g])) return corrupt("bad min/max");
            if (std::isnan(BitsFloat(s.num[g]))) return corrupt("bad min/max");
          } else {
            uint64_t z = 0;
            if (!r.Varint(&z)) return corrupt("bad min/max");
            s.num[g] = static_cast<uint64_t>(UnZigZag(z));
          }
          break;
        }
        case Kind::kDistinctApprox: {
          std::string_view rest = r.rest();
          if (!s.hll[g].Decode(&rest)) return corrupt("bad distinct_approx sketch");
          r.Skip(r.rest().size() - rest.size());
          break;
        }
        case Kind::kPercentileApprox: {
          std::string_view rest = r.rest();
          if (!s.hist[g].Decode(&rest)) return corrupt("bad pNN_approx sketch");
          r.Skip(r.rest().size() - rest.size());
          break;
        }
        default:
          break;
      }
    }
  }
  // Value tables: reserved for their size up front (each value takes at least 3 bytes, which
  // bounds a corrupt count), then read a window at a time and inserted with prefetches, as
  // MergeInto does: a decoded partial is as large as a worker's, and a parent decodes it at the
  // end of the run, when nothing else can overlap it.
  constexpr uint64_t kWindow = 1024;
  std::string window;           // the window's values, concatenated
  std::vector<uint32_t> ends;   // end of value i in `window`
  std::vector<uint32_t> group;  // group of value i
  std::vector<uint64_t> count;  // count of value i
  std::vector<uint64_t> hashes;
  for (size_t src = 0; src < impl.source_field.size(); ++src) {
    const FieldType type = impl.source_type[src];
    uint64_t nvalues = 0;
    if (!r.Varint(&nvalues)) return corrupt("truncated value table");
    if (nvalues > bytes.size() / 3) return corrupt("impossible value count");
    HashTable& t = p.values[src];
    t.Reserve(nvalues);
    for (uint64_t done = 0; done < nvalues;) {
      const size_t n = static_cast<size_t>(std::min(kWindow, nvalues - done));
      window.clear();
      ends.resize(n);
      group.resize(n);
      count.resize(n);
      hashes.resize(n);
      for (size_t i = 0; i < n; ++i) {
        uint64_t g = 0;
        if (!r.Varint(&g) || g >= p.groups.size()) return corrupt("bad value group");
        group[i] = static_cast<uint32_t>(g);
        if (!ReadValue(r, type, &window)) return corrupt("truncated value");
        ends[i] = static_cast<uint32_t>(window.size());
        if (!r.Varint(&count[i]) || count[i] == 0) return corrupt("bad value count");
      }
      auto value = [&](size_t i) {
        const uint32_t begin = i == 0 ? 0 : ends[i - 1];
        return std::string_view(window).substr(begin, ends[i] - begin);
      };
      for (size_t i = 0; i < n; ++i) hashes[i] = ValueHash(group[i], value(i));
      bool duplicate = false;
      PipelinedLookup(
          t, n, hashes.data(),
          [&](size_t i) { return std::make_pair(impl.ValuePrefix(&group[i]), value(i)); },
          [&](size_t i, uint32_t, bool inserted, PayloadRef payload) {
            if (inserted) {
              payload.Set(count[i]);
            } else {
              duplicate = true;
            }
          });
      if (duplicate) return corrupt("duplicate value");
      done += n;
    }
  }
  if (!r.done()) return corrupt("trailing bytes");
  Merge(std::move(*fresh), *into);
  return Status::Ok();
}

// -------------------------------------------------------------------------------------------
// Finishing partials that stay in their shards (EncodeHead, AnswerQuery, CompleteHeads).
//
// A query, per top-only source with a k (in source order), after the number of holders:
//   thresholds: n, n x (group, T): every value of the group whose count c has
//               c x holders >= T;
//   lookups:    n, n x (group, value): the count of each (0 when absent).
// Its answer, per source: n, n x (group, value, count) for the thresholds, then the lookups'
// counts in order. Groups are the holder's ids, values as in Encode.

Status AggregateStage::AnswerQuery(const Partial& base, std::string_view query,
                                   std::string* answer) const {
  const Impl& impl = *impl_;
  const AggPartial& p = static_cast<const AggPartial&>(base);
  assert(p.parts.empty());  // EncodeHead folded them
  Reader r(query);
  auto bad = [&](const char* what) {
    return DataError("aggregate query: " + std::string(what) + " at byte " +
                     std::to_string(r.pos()) + " of " + std::to_string(query.size()));
  };
  uint64_t holders = 0;
  if (!r.Varint(&holders) || holders == 0) return bad("bad holder count");
  const uint64_t ngroups = p.groups.size();
  std::vector<uint64_t> threshold;
  std::vector<uint32_t> sent;
  std::string value;
  for (size_t src = 0; src < impl.source_field.size(); ++src) {
    if (impl.source_k[src] == 0) continue;
    const HashTable& t = p.values[src];
    const FieldType type = impl.source_type[src];
    uint64_t n = 0;
    if (!r.Varint(&n) || n > ngroups) return bad("bad threshold count");
    threshold.assign(ngroups, 0);
    for (uint64_t j = 0; j < n; ++j) {
      uint64_t g = 0, at_least = 0;
      if (!r.Varint(&g) || g >= ngroups || !r.Varint(&at_least) || at_least == 0) {
        return bad("bad threshold");
      }
      threshold[g] = at_least;
    }
    sent.clear();
    if (n > 0) {
      for (uint32_t id = 0; id < t.size(); ++id) {
        const uint64_t at_least = threshold[impl.ValueGroup(t.key(id))];
        if (at_least != 0 && static_cast<unsigned __int128>(t.payload(id)) * holders >= at_least) {
          sent.push_back(id);
        }
      }
    }
    PutVarint(sent.size(), answer);
    for (uint32_t id : sent) {
      const std::string_view key = t.key(id);
      PutVarint(impl.ValueGroup(key), answer);
      PutValue(type, impl.ValueBytes(key), answer);
      PutVarint(t.payload(id), answer);
    }
    if (!r.Varint(&n) || n > query.size()) return bad("bad lookup count");
    for (uint64_t j = 0; j < n; ++j) {
      uint64_t g64 = 0;
      value.clear();
      if (!r.Varint(&g64) || g64 >= ngroups || !ReadValue(r, type, &value)) {
        return bad("bad lookup");
      }
      const uint32_t g = static_cast<uint32_t>(g64);
      const uint32_t id = t.Find(impl.ValuePrefix(&g), value, ValueHash(g, value));
      PutVarint(id == HashTable::kNotFound ? 0 : t.payload(id), answer);
    }
  }
  if (!r.done()) return bad("trailing bytes");
  return Status::Ok();
}

Status AggregateStage::CompleteHeads(const std::vector<Partial*>& head_bases,
                                     const AskHolders& ask) const {
  const Impl& impl = *impl_;
  constexpr uint32_t kNone = 0xffffffffu;
  std::vector<size_t> sources;
  for (size_t src = 0; src < impl.source_k.size(); ++src) {
    if (impl.source_k[src] > 0) sources.push_back(src);
  }
  const size_t n = head_bases.size();
  if (sources.empty() || n == 0) return Status::Ok();
  std::vector<AggPartial*> heads;
  for (Partial* h : head_bases) {
    heads.push_back(static_cast<AggPartial*>(h));
    impl.FoldParts(*heads.back());  // changes how it is held, not what
  }
  // Groups across holders: a holder's group id <-> ours.
  HashTable groups;
  std::vector<std::vector<uint32_t>> ours(n), theirs(n);
  for (size_t i = 0; i < n; ++i) {
    for (uint32_t g = 0; g < heads[i]->groups.size(); ++g) {
      const std::string_view key = heads[i]->groups.key(g);
      bool inserted = false;
      ours[i].push_back(groups.FindOrInsert(key, HashBytes(key), &inserted));
    }
  }
  const uint32_t ngroups = static_cast<uint32_t>(groups.size());
  for (size_t i = 0; i < n; ++i) {
    theirs[i].assign(ngroups, kNone);
    for (uint32_t g = 0; g < ours[i].size(); ++g) theirs[i][ours[i][g]] = g;
  }

  // Per source: the candidates, (our group, value) -> id, and what each holder counts of them.
  struct Candidates {
    HashTable values;
    std::vector<uint64_t> count;  // [c * n + i]: holder i's count of candidate c
    std::vector<uint8_t> known;   // [c * n + i]
    // [i][its group]: every value of that group of holder i is a candidate already, so the
    // ones it has not shown count 0 there.
    std::vector<std::vector<uint8_t>> whole;
    std::vector<uint64_t> threshold;  // per group of ours: the lower bound T (0: none)
  };
  std::vector<Candidates> cands(sources.size());
  auto group_of = [](std::string_view key) {
    uint32_t g;
    std::memcpy(&g, key.data(), 4);
    return g;
  };
  auto add = [&](Candidates& cs, uint32_t g, std::string_view value) {
    bool inserted = false;
    PayloadRef unused;
    const uint32_t c =
        cs.values.FindOrInsert(GroupBytes(&g), value, ValueHash(g, value), &inserted, &unused);
    if (inserted) {
      cs.count.resize(cs.count.size() + n, 0);
      cs.known.resize(cs.known.size() + n, 0);
    }
    return c;
  };
  auto set = [&](Candidates& cs, uint32_t c, size_t i, uint64_t count) {
    cs.count[c * n + i] = count;
    cs.known[c * n + i] = 1;
  };

  // 0. The heads: candidates, and which holders' groups they show whole.
  for (size_t s = 0; s < sources.size(); ++s) {
    const size_t src = sources[s];
    const uint64_t k = impl.source_k[src];
    Candidates& cs = cands[s];
    cs.whole.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const HashTable& t = heads[i]->values[src];
      std::vector<uint64_t> shown(heads[i]->groups.size(), 0);
      for (uint32_t id = 0; id < t.size(); ++id) {
        const std::string_view key = t.key(id);
        const uint32_t g = impl.ValueGroup(key);
        ++shown[g];
        set(cs, add(cs, ours[i][g], impl.ValueBytes(key)), i, t.payload(id));
      }
      cs.whole[i].resize(shown.size());
      for (size_t g = 0; g < shown.size(); ++g) cs.whole[i][g] = shown[g] < k;
    }
    // The k-th largest known total of each group: no total below it can be among the k.
    std::vector<std::vector<uint64_t>> totals(ngroups);
    for (uint32_t c = 0; c < cs.values.size(); ++c) {
      uint64_t sum = 0;
      for (size_t i = 0; i < n; ++i) {
        if (__builtin_add_overflow(sum, cs.count[c * n + i], &sum)) sum = UINT64_MAX;
      }
      totals[group_of(cs.values.key(c))].push_back(sum);
    }
    cs.threshold.assign(ngroups, 0);
    for (uint32_t g = 0; g < ngroups; ++g) {
      std::vector<uint64_t>& v = totals[g];
      if (v.size() < k) continue;  // then every holder showed its whole group
      std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(k - 1), v.end(),
                       std::greater<uint64_t>());
      cs.threshold[g] = v[k - 1];
    }
  }

  // A round: per holder, per source, the thresholds (first round only) and the lookups of
  // candidates whose count there is not known yet; then the answers folded in.
  auto round = [&](bool thresholds) -> Status {
    std::vector<std::string> queries(n);
    std::vector<std::vector<std::vector<uint32_t>>> asked(n);  // [i][s]: candidates looked up
    bool any = false;
    for (size_t i = 0; i < n; ++i) {
      std::string& q = queries[i];
      PutVarint(n, &q);
      asked[i].resize(sources.size());
      for (size_t s = 0; s < sources.size(); ++s) {
        Candidates& cs = cands[s];
        const uint32_t their_groups = static_cast<uint32_t>(cs.whole[i].size());
        uint64_t nthresholds = 0;
        std::string list;
        for (uint32_t g = 0; thresholds && g < their_groups; ++g) {
          if (cs.whole[i][g]) continue;
          const uint64_t at_least = cs.threshold[ours[i][g]];
          assert(at_least > 0);  // a group shown in part has k candidates or more
          PutVarint(g, &list);
          PutVarint(at_least, &list);
          ++nthresholds;
        }
        PutVarint(nthresholds, &q);
        q += list;
        list.clear();
        for (uint32_t c = 0; c < cs.values.size(); ++c) {
          if (cs.known[c * n + i]) continue;
          const std::string_view key = cs.values.key(c);
          const uint32_t g = theirs[i][group_of(key)];
          if (g == kNone || cs.whole[i][g]) {
            set(cs, c, i, 0);
            continue;
          }
          PutVarint(g, &list);
          PutValue(impl.source_type[sources[s]], key.substr(4), &list);
          asked[i][s].push_back(c);
        }
        PutVarint(asked[i][s].size(), &q);
        q += list;
        any = any || nthresholds > 0 || !asked[i][s].empty();
      }
    }
    if (!any) return Status::Ok();
    std::vector<std::string> answers(n);
    LOGPIPE_RETURN_IF_ERROR(ask(queries, &answers));
    std::string value;
    for (size_t i = 0; i < n; ++i) {
      Reader r(answers[i]);
      auto bad = [&](const char* what) {
        return DataError("aggregate answer of holder " + std::to_string(i) + ": " + what +
                         " at byte " + std::to_string(r.pos()) + " of " +
                         std::to_string(answers[i].size()));
      };
      for (size_t s = 0; s < sources.size(); ++s) {
        Candidates& cs = cands[s];
        const uint32_t their_groups = static_cast<uint32_t>(cs.whole[i].size());
        uint64_t m = 0;
        if (!r.Varint(&m) || m > answers[i].size()) return bad("bad value count");
        for (uint64_t j = 0; j < m; ++j) {
          uint64_t g = 0, count = 0;
          value.clear();
          if (!r.Varint(&g) || g >= their_groups ||
              !ReadValue(r, impl.source_type[sources[s]], &value) || !r.Varint(&count) ||
              count == 0) {
            return bad("bad value");
          }
          // Only a group given a threshold in this round may send values (the others' counts
          // of them would never be asked).
          if (!thresholds || cs.whole[i][g]) return bad("a value of a group not asked for");
          set(cs, add(cs, ours[i][g], value), i, count);
        }
        // A threshold of at most the number of holders lets every count through: the holder
        // sent its whole group.
        for (uint32_t g = 0; thresholds && g < their_groups; ++g) {
          if (!cs.whole[i][g] && cs.threshold[ours[i][g]] <= n) cs.whole[i][g] = 1;
        }
        for (uint32_t c : asked[i][s]) {
          uint64_t count = 0;
          if (!r.Varint(&count)) return bad("truncated counts");
          set(cs, c, i, count);
        }
      }
      if (!r.done()) return bad("trailing bytes");
    }
    return Status::Ok();
  };
  LOGPIPE_RETURN_IF_ERROR(round(/*thresholds=*/true));
  LOGPIPE_RETURN_IF_ERROR(round(/*thresholds=*/false));  // values one holder sent in round 1

  // Every count of every candidate is known: the heads get them.
  for (size_t s = 0; s < sources.size(); ++s) {
    const Candidates& cs = cands[s];
    const size_t src = sources[s];
    for (uint32_t c = 0; c < cs.values.size(); ++c) {
      const std::string_view key = cs.values.key(c);
      const std::string_view value = key.substr(4);
      for (size_t i = 0; i < n; ++i) {
        assert(cs.known[c * n + i]);
        const uint64_t count = cs.count[c * n + i];
        if (count == 0) continue;
        const uint32_t g = theirs[i][group_of(key)];
        bool inserted = false;
        PayloadRef payload;
        heads[i]->values[src].FindOrInsert(impl.ValuePrefix(&g), value, ValueHash(g, value),
                                           &inserted, &payload);
        payload.Set(count);
      }
    }
  }
  return Status::Ok();
}

}  // namespace logpipe
