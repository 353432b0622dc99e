#include "stages/aggregate_stage.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "stages/aggregate_state.h"
#include "stages/time_format.h"

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

// -0.0 -> 0.0 and every NaN -> one NaN, so equal values have equal bytes and min/max do not
// depend on the order of the inputs.
inline double CanonicalFloat(double f) {
  if (f == 0) return 0.0;
  if (std::isnan(f)) return std::numeric_limits<double>::quiet_NaN();
  return f;
}

inline uint64_t FloatBits(double f) {
  uint64_t u;
  std::memcpy(&u, &f, 8);
  return u;
}

// floor(ms / bucket) * bucket, toward -infinity, clamped to the int64 range.
inline int64_t FloorToBucket(int64_t ms, int64_t bucket) {
  int64_t q = ms / bucket;
  if (ms % bucket != 0 && ms < 0) --q;
  const __int128 r = static_cast<__int128>(q) * bucket;
  if (r < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(r);
}

// Numeric order for floats with NaN last (a total order).
inline bool FloatLess(double a, double b) {
  if (std::isnan(a)) return false;
  if (std::isnan(b)) return true;
  return a < b;
}

void AppendFloatText(double f, std::string* out) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), f);
  out->append(buf, r.ptr);
}

void AppendIntText(int64_t v, std::string* out) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// The value bytes of a value-table key as display text.
void AppendValueText(FieldType type, std::string_view value, std::string* out) {
  if (type == FieldType::kString) {
    out->append(value.data(), value.size());
    return;
  }
  uint64_t u;
  std::memcpy(&u, value.data(), 8);
  switch (type) {
    case FieldType::kInt:
      AppendIntText(static_cast<int64_t>(u), out);
      break;
    case FieldType::kTime:
      AppendIsoTime(static_cast<int64_t>(u), out);
      break;
    case FieldType::kFloat:
      AppendFloatText(BitsFloat(u), out);
      break;
    case FieldType::kString:
      break;
  }
}

// Whether `a` should replace the current extreme `b` for metric kind `kind`.
bool Better(Kind kind, FieldType type, uint64_t a, uint64_t b) {
  if (type == FieldType::kFloat) {
    const double x = BitsFloat(a), y = BitsFloat(b);
    return kind == Kind::kMin ? x < y : x > y;
  }
  const int64_t x = static_cast<int64_t>(a), y = static_cast<int64_t>(b);
  return kind == Kind::kMin ? x < y : x > y;
}

// Folds one extreme into group g's state (Add and Merge).
void FoldNum(const MetricPlan& m, MetricState& s, uint32_t g, uint64_t v) {
  if (!s.has[g] || Better(m.kind, m.type, v, s.num[g])) {
    s.num[g] = v;
    s.has[g] = 1;
  }
}
void FoldText(const MetricPlan& m, MetricState& s, uint32_t g, std::string_view v) {
  if (!s.has[g] || (m.kind == Kind::kMin ? v < s.text[g] : v > s.text[g])) {
    s.text[g].assign(v.data(), v.size());
    s.has[g] = 1;
  }
}

// The canonical 8 bytes of a present numeric value (value tables).
uint64_t NumericValue(FieldType type, const Value& v) {
  return type == FieldType::kFloat ? FloatBits(CanonicalFloat(v.f)) : static_cast<uint64_t>(v.i);
}

}  // namespace

void AggregatePlan::AppendGroupKey(const RecordBatch& batch, uint32_t row, std::string* out) const {
  for (const KeyPlan& k : keys) {
    const Value& v = batch.field(k.field, row);
    if (!v.present) {
      out->push_back('\0');
      continue;
    }
    out->push_back('\1');
    switch (k.type) {
      case FieldType::kString: {
        const uint32_t len = static_cast<uint32_t>(v.text.size());
        char b[4];
        std::memcpy(b, &len, 4);
        out->append(b, 4);
        out->append(v.text.data(), v.text.size());
        break;
      }
      case FieldType::kInt:
        AppendRaw64(static_cast<uint64_t>(v.i), out);
        break;
      case FieldType::kTime:
        AppendRaw64(static_cast<uint64_t>(k.bucket_ms ? FloorToBucket(v.i, k.bucket_ms) : v.i),
                    out);
        break;
      case FieldType::kFloat:
        AppendRaw64(FloatBits(CanonicalFloat(v.f)), out);
        break;
    }
  }
}

void AggregatePlan::KeyCells(std::string_view key, std::vector<Cell>* cells) const {
  size_t pos = 0;
  for (const KeyPlan& k : keys) {
    const char tag = key[pos++];
    if (tag == '\0') {
      cells->push_back(Cell::Null());
      continue;
    }
    if (k.type == FieldType::kString) {
      uint32_t len;
      std::memcpy(&len, key.data() + pos, 4);
      pos += 4;
      cells->push_back(Cell::String(std::string(key.substr(pos, len))));
      pos += len;
      continue;
    }
    uint64_t u;
    std::memcpy(&u, key.data() + pos, 8);
    pos += 8;
    switch (k.type) {
      case FieldType::kInt:
        cells->push_back(Cell::Int(static_cast<int64_t>(u)));
        break;
      case FieldType::kTime:
        cells->push_back(Cell::Time(static_cast<int64_t>(u)));
        break;
      case FieldType::kFloat:
        cells->push_back(Cell::Float(BitsFloat(u)));
        break;
      case FieldType::kString:
        break;
    }
  }
}

void AggregatePlan::NewGroup(AggPartial& p) const {
  p.rows.push_back(0);
  for (size_t m = 0; m < metrics.size(); ++m) {
    MetricState& s = p.metrics[m];
    switch (metrics[m].kind) {
      case Kind::kCount:
      case Kind::kDistinct:
      case Kind::kTop:
      case Kind::kPercentile:
        break;
      case Kind::kDistinctApprox:
        s.hll.emplace_back();
        break;
      case Kind::kPercentileApprox:
        s.hist.emplace_back();
        break;
      case Kind::kAvg:
        s.n.push_back(0);
        [[fallthrough]];
      case Kind::kSum:
        s.sum.emplace_back();
        break;
      case Kind::kMin:
      case Kind::kMax:
        s.has.push_back(0);
        if (metrics[m].type == FieldType::kString) {
          s.text.emplace_back();
        } else {
          s.num.push_back(0);
        }
        break;
    }
  }
}

void AggregatePlan::AddMetric(const MetricPlan& m, MetricState& s, const RecordBatch& batch,
                              const std::vector<uint32_t>& rows,
                              const std::vector<uint32_t>& row_group) const {
  if (m.kind == Kind::kCount || m.source >= 0) return;
  const size_t n = rows.size();
  switch (m.kind) {
    case Kind::kSum:
    case Kind::kAvg:
      for (size_t j = 0; j < n; ++j) {
        const Value& v = batch.field(m.field, rows[j]);
        if (!v.present) continue;
        const uint32_t g = row_group[j];
        if (m.type == FieldType::kFloat) {
          s.sum[g].AddFloat(v.f);
        } else {
          s.sum[g].Add(v.i);
        }
        if (m.kind == Kind::kAvg) ++s.n[g];
      }
      break;
    case Kind::kMin:
    case Kind::kMax:
      for (size_t j = 0; j < n; ++j) {
        const Value& v = batch.field(m.field, rows[j]);
        if (!v.present) continue;
        const uint32_t g = row_group[j];
        switch (m.type) {
          case FieldType::kString:
            FoldText(m, s, g, v.text);
            break;
          case FieldType::kFloat:
            if (std::isnan(v.f)) break;
            FoldNum(m, s, g, FloatBits(CanonicalFloat(v.f)));
            break;
          case FieldType::kInt:
          case FieldType::kTime:
            FoldNum(m, s, g, static_cast<uint64_t>(v.i));
            break;
        }
      }
      break;
    case Kind::kDistinctApprox:
      // The value bytes the exact distinct compares: string bytes, or the canonical 8
      // bytes of a number (little-endian int64 / float bits).
      for (size_t j = 0; j < n; ++j) {
        const Value& v = batch.field(m.field, rows[j]);
        if (!v.present) continue;
        if (m.type == FieldType::kString) {
          s.hll[row_group[j]].Add(v.text);
        } else {
          const uint64_t u = NumericValue(m.type, v);
          s.hll[row_group[j]].Add(std::string_view(reinterpret_cast<const char*>(&u), 8));
        }
      }
      break;
    case Kind::kPercentileApprox:
      for (size_t j = 0; j < n; ++j) {
        const Value& v = batch.field(m.field, rows[j]);
        if (!v.present) continue;
        if (m.type == FieldType::kFloat) {
          if (std::isnan(v.f)) continue;
          s.hist[row_group[j]].Add(v.f);
        } else {
          s.hist[row_group[j]].Add(static_cast<double>(v.i));
        }
      }
      break;
    default:
      break;
  }
}

void AggregatePlan::MergeInto(AggPartial& from, AggPartial& into) const {
  const uint32_t nfrom = static_cast<uint32_t>(from.groups.size());
  into.remap.resize(nfrom);
  into.groups.Reserve(std::max<size_t>(into.groups.size(), nfrom));
  for (uint32_t g = 0; g < nfrom; ++g) {
    const std::string_view key = from.groups.key(g);
    bool inserted = false;
    const uint32_t ng = into.groups.FindOrInsert(key, HashBytes(key), &inserted);
    if (inserted) NewGroup(into);
    into.remap[g] = ng;
    into.rows[ng] += from.rows[g];
    for (size_t mi = 0; mi < metrics.size(); ++mi) {
      const MetricPlan& m = metrics[mi];
      MetricState& fs = from.metrics[mi];
      MetricState& is = into.metrics[mi];
      switch (m.kind) {
        case Kind::kAvg:
          is.n[ng] += fs.n[g];
          [[fallthrough]];
        case Kind::kSum:
          is.sum[ng].AddSum(fs.sum[g]);
          break;
        case Kind::kMin:
        case Kind::kMax:
          if (!fs.has[g]) break;
          if (m.type == FieldType::kString) {
            FoldText(m, is, ng, fs.text[g]);
          } else {
            FoldNum(m, is, ng, fs.num[g]);
          }
          break;
        case Kind::kDistinctApprox:
          is.hll[ng].Merge(fs.hll[g]);
          break;
        case Kind::kPercentileApprox:
          is.hist[ng].Merge(fs.hist[g]);
          break;
        default:
          break;
      }
    }
  }
  // Value tables: parts `from` kept apart stay apart, renumbered to our groups; the tables
  // of top-only sources become one more part; the others are folded in. At most
  // kMaxPartsApart parts: past that, everything is folded, so that merging many partials
  // one after the other (a cluster reduce) does not hold all of their tables at once.
  constexpr size_t kMaxPartsApart = 3;
  const bool keep_apart = into.parts.size() + from.parts.size() < kMaxPartsApart;
  for (AggPartial::Part& part : from.parts) {
    for (uint32_t& g : part.remap) g = into.remap[g];
    if (keep_apart) {
      into.parts.push_back(std::move(part));
      continue;
    }
    for (size_t src = 0; src < part.values.size(); ++src) {
      if (part.values[src].size() != 0) FoldValues(part.values[src], part.remap, src, into);
    }
  }
  from.parts.clear();
  AggPartial::Part kept;
  for (size_t src = 0; src < from.values.size(); ++src) {
    HashTable& ft = from.values[src];
    if (!source_top_only[src] || !keep_apart) {
      FoldValues(ft, into.remap, src, into);
    } else if (ft.size() != 0) {
      kept.values.resize(from.values.size());
      kept.values[src].Swap(ft);
    }
  }
  if (!kept.values.empty()) {
    kept.remap = into.remap;
    into.parts.push_back(std::move(kept));
  }
}

// Hashed a window at a time, then looked up with prefetches (each lookup in a large table is a
// cache miss).
void AggregatePlan::FoldValues(HashTable& ft, const std::vector<uint32_t>& remap, size_t src,
                               AggPartial& into) const {
  constexpr uint32_t kWindow = 1024;
  HashTable& it = into.values[src];
  it.Reserve(std::max(it.size(), ft.size()));
  into.hashes.resize(std::min<size_t>(ft.size(), kWindow));
  ft.ConsumeInIdOrder(kWindow, [&](uint32_t first, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
      const std::string_view key = ft.key(first + i);
      into.hashes[i] = ValueHash(remap[ValueGroup(key)], ValueBytes(key));
    }
    PipelinedLookup(
        it, n, into.hashes.data(),
        [&](size_t i) {
          const std::string_view key = ft.key(static_cast<uint32_t>(first + i));
          return std::make_pair(ValuePrefix(&remap[ValueGroup(key)]), ValueBytes(key));
        },
        [&](size_t i, uint32_t, bool, PayloadRef count) {
          count.Add(ft.payload(static_cast<uint32_t>(first + i)));
        });
  });
}

// Exact by a threshold argument: with n tables and T the k-th largest total among some
// candidate values of a group (0 with fewer than k), a value whose count is below T / n in every
// table totals below T, so k candidates beat it. Candidates: each table's k largest counts per
// group, then every value with count * n >= T in some table; a candidate's total is a lookup in
// each table. Cost: two scans of each table, front to back, and n lookups per candidate, where
// folding inserts every value of every part.
bool AggregatePlan::TopAcrossParts(
    const AggPartial& p, const MetricPlan& m, uint32_t ngroups,
    std::vector<std::vector<std::pair<std::string, uint64_t>>>* out) const {
  constexpr uint32_t kNone = 0xffffffffu;
  const size_t src = static_cast<size_t>(m.source);
  struct Source {
    const HashTable* table;
    const std::vector<uint32_t>* remap;  // its group id -> ours; nullptr: ours
    std::vector<uint32_t> own;           // our group id -> its id (kNone); with remap only
  };
  std::vector<Source> tables;
  if (p.values[src].size() != 0) tables.push_back({&p.values[src], nullptr, {}});
  size_t entries = p.values[src].size();
  for (const AggPartial::Part& part : p.parts) {
    if (src >= part.values.size() || part.values[src].size() == 0) continue;
    Source t{&part.values[src], &part.remap, std::vector<uint32_t>(ngroups, kNone)};
    for (uint32_t g = 0; g < part.remap.size(); ++g) t.own[part.remap[g]] = g;
    tables.push_back(std::move(t));
    entries += part.values[src].size();
  }
  const uint64_t n = tables.size();
  const uint64_t k = static_cast<uint64_t>(m.k);
  // More candidates than this and looking each up in n tables would cost more than inserting
  // the values of the parts into one table (a floor keeps small inputs, where either is
  // cheap, on this path).
  constexpr size_t kAlwaysAffordable = 1024;
  const size_t limit = std::max(entries / (n + 1), kAlwaysAffordable);
  auto group_of = [&](const Source& t, uint32_t id) {
    const uint32_t g = ValueGroup(t.table->key(id));
    return t.remap == nullptr ? g : (*t.remap)[g];
  };

  // Candidates: (our group id, value) -> total count.
  HashTable candidates;
  auto add_candidate = [&](uint32_t g, std::string_view value) {
    bool inserted = false;
    PayloadRef total;
    candidates.FindOrInsert(GroupBytes(&g), value, ValueHash(g, value), &inserted, &total);
    if (!inserted) return;
    uint64_t sum = 0;
    for (const Source& t : tables) {
      const uint32_t tg = t.remap == nullptr ? g : t.own[g];
      if (tg == kNone) continue;
      const uint32_t id = t.table->Find(ValuePrefix(&tg), value, ValueHash(tg, value));
      if (id != HashTable::kNotFound) sum += t.table->payload(id);
    }
    total.Set(sum);
  };

  // 1. Each table's k largest counts per group.
  std::vector<std::vector<std::pair<uint64_t, uint32_t>>> heaps(ngroups);
  for (const Source& t : tables) {
    LargestPerGroup(
        *t.table, k, [&](uint32_t id) { return group_of(t, id); }, &heaps);
    for (uint32_t g = 0; g < ngroups; ++g) {
      // Many small groups: every value is a candidate.
      if (candidates.size() + heaps[g].size() > limit) return false;
      for (const auto& [c, id] : heaps[g]) add_candidate(g, ValueBytes(t.table->key(id)));
    }
  }
  // 2. The threshold of each group: the k-th largest candidate total.
  auto group_of_candidate = [](std::string_view key) {
    uint32_t g;
    std::memcpy(&g, key.data(), 4);
    return g;
  };
  std::vector<std::vector<uint64_t>> totals(ngroups);
  for (uint32_t c = 0; c < candidates.size(); ++c) {
    totals[group_of_candidate(candidates.key(c))].push_back(candidates.payload(c));
  }
  std::vector<uint64_t> threshold(ngroups, 0);
  for (uint32_t g = 0; g < ngroups; ++g) {
    std::vector<uint64_t>& v = totals[g];
    if (v.size() < k) continue;
    std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(k - 1), v.end(),
                     std::greater<uint64_t>());
    threshold[g] = v[k - 1];
  }
  // 3. Every value that could reach a threshold, unless that is over the limit.
  std::vector<std::pair<uint32_t, uint32_t>> reach;  // (table, id)
  for (uint32_t ti = 0; ti < n; ++ti) {
    const Source& t = tables[ti];
    const uint32_t size = static_cast<uint32_t>(t.table->size());
    for (uint32_t id = 0; id < size; ++id) {
      const unsigned __int128 c = t.table->payload(id);
      if (c * n < threshold[group_of(t, id)]) continue;
      if (reach.size() == limit) return false;
      reach.emplace_back(ti, id);
    }
  }
  for (const auto& [ti, id] : reach) {
    const Source& t = tables[ti];
    add_candidate(group_of(t, id), ValueBytes(t.table->key(id)));
  }
  // 4. The k best candidates of each group, by total desc, then text bytewise asc.
  std::vector<std::vector<std::pair<std::string, uint64_t>>> by_group(ngroups);
  for (uint32_t c = 0; c < candidates.size(); ++c) {
    const std::string_view key = candidates.key(c);
    std::string text;
    AppendValueText(m.type, key.substr(4), &text);
    by_group[group_of_candidate(key)].emplace_back(std::move(text), candidates.payload(c));
  }
  for (auto& list : by_group) {
    const size_t keep = static_cast<size_t>(std::min<uint64_t>(k, list.size()));
    std::partial_sort(list.begin(), list.begin() + static_cast<ptrdiff_t>(keep), list.end(),
                      [](const auto& a, const auto& b) {
                        return a.second != b.second ? a.second > b.second : a.first < b.first;
                      });
    list.resize(keep);
  }
  *out = std::move(by_group);
  return true;
}

void AggregatePlan::FoldParts(AggPartial& p) const {
  for (AggPartial::Part& part : p.parts) {
    for (size_t src = 0; src < part.values.size(); ++src) {
      if (part.values[src].size() != 0) FoldValues(part.values[src], part.remap, src, p);
    }
  }
  p.parts.clear();
}

AggregateStage::AggregateStage() : impl_(std::make_unique<Impl>()) {}
AggregateStage::~AggregateStage() = default;

namespace {

std::string FieldList(const Schema& schema) {
  std::string out;
  for (size_t i = 0; i < schema.size(); ++i) {
    if (i) out += ", ";
    out += schema.field(i).name;
  }
  return out;
}

const char* MetricKindName(Kind kind) {
  switch (kind) {
    case Kind::kCount:
      return "count";
    case Kind::kSum:
      return "sum(f)";
    case Kind::kMin:
      return "min(f)";
    case Kind::kMax:
      return "max(f)";
    case Kind::kAvg:
      return "avg(f)";
    case Kind::kDistinct:
      return "distinct(f)";
    case Kind::kTop:
      return "top(f, k)";
    case Kind::kPercentile:
      return "pNN(f)";
    case Kind::kDistinctApprox:
      return "distinct_approx(f)";
    case Kind::kPercentileApprox:
      return "pNN_approx(f)";
  }
  return "?";
}

}  // namespace

Result<std::unique_ptr<AggregateStage>> AggregateStage::Create(std::vector<GroupKeySpec> keys,
                                                               std::vector<MetricSpec> metrics,
                                                               const Schema& schema) {
  std::unique_ptr<AggregateStage> stage(new AggregateStage());
  Impl& impl = *stage->impl_;
  std::vector<std::string> columns;
  auto add_column = [&](const std::string& name) -> Status {
    if (std::find(columns.begin(), columns.end(), name) != columns.end()) {
      return ConfigError("aggregate: column '" + name +
                         "' appears twice (group_by labels and metric names must be unique)");
    }
    columns.push_back(name);
    return Status::Ok();
  };
  for (const GroupKeySpec& k : keys) {
    const std::optional<size_t> f = schema.Find(k.field);
    if (!f) {
      return ConfigError("group_by '" + k.label + "': unknown field '" + k.field +
                         "' (fields: " + FieldList(schema) + ")");
    }
    KeyPlan plan;
    plan.label = k.label;
    plan.field = *f;
    plan.type = schema.field(*f).type;
    plan.bucket_ms = k.bucket_ms;
    if (k.bucket_ms < 0) {
      return ConfigError("group_by '" + k.label + "': the bucket duration must be positive");
    }
    if (k.bucket_ms > 0 && plan.type != FieldType::kTime) {
      return ConfigError("group_by '" + k.label + "': field '" + k.field + "' is " +
                         FieldTypeName(plan.type) + "; a time bucket needs a time field");
    }
    LOGPIPE_RETURN_IF_ERROR(add_column(k.label));
    impl.keys.push_back(std::move(plan));
  }
  for (const MetricSpec& m : metrics) {
    if (m.name.empty()) return ConfigError("metric '': the name must not be empty");
    const std::string prefix = "metric '" + m.name + "': ";
    MetricPlan plan;
    plan.name = m.name;
    plan.kind = m.kind;
    if (m.kind != Kind::kCount) {
      const std::optional<size_t> f = schema.Find(m.field);
      if (!f) {
        return ConfigError(prefix + "unknown field '" + m.field +
                           "' (fields: " + FieldList(schema) + ")");
      }
      plan.field = *f;
      plan.type = schema.field(*f).type;
    }
    const bool numeric = plan.type == FieldType::kInt || plan.type == FieldType::kFloat;
    const char* need = nullptr;
    switch (m.kind) {
      case Kind::kSum:
      case Kind::kAvg:
        if (!numeric) need = "an int or float field";
        break;
      case Kind::kPercentile:
        if (!numeric && plan.type != FieldType::kTime) need = "an int, float or time field";
        if (!(m.percentile > 0) || m.percentile > 100) {
          return ConfigError(prefix + "the percentile must be in (0, 100]");
        }
        plan.pct_micro = static_cast<uint64_t>(std::llround(m.percentile * 1e6));
        if (plan.pct_micro == 0) plan.pct_micro = 1;
        break;
      case Kind::kPercentileApprox:
        // A relative error on an absolute instant is meaningless (1% of 2024 is months).
        if (plan.type == FieldType::kTime) {
          need = "an int or float field (1% of a timestamp is months; use pNN(f) for times)";
        } else if (!numeric) {
          need = "an int or float field";
        }
        if (!(m.percentile > 0) || m.percentile > 100) {
          return ConfigError(prefix + "the percentile must be in (0, 100]");
        }
        plan.pct_micro = static_cast<uint64_t>(std::llround(m.percentile * 1e6));
        if (plan.pct_micro == 0) plan.pct_micro = 1;
        break;
      case Kind::kTop:
        if (m.k < 1) return ConfigError(prefix + "top(f, k) needs k >= 1");
        plan.k = m.k;
        break;
      default:
        break;
    }
    if (need) {
      return ConfigError(prefix + MetricKindName(m.kind) + " needs " + need + "; '" + m.field +
                         "' is " + FieldTypeName(plan.type));
    }
    if (m.kind == Kind::kDistinct || m.kind == Kind::kTop || m.kind == Kind::kPercentile) {
      // Metrics over the same field share one value table.
      auto it = std::find(impl.source_field.begin(), impl.source_field.end(), plan.field);
      if (it == impl.source_field.end()) {
        impl.source_field.push_back(plan.field);
        impl.source_type.push_back(plan.type);
        plan.source = static_cast<int>(impl.source_field.size() - 1);
      } else {
        plan.source = static_cast<int>(it - impl.source_field.begin());
      }
    }
    LOGPIPE_RETURN_IF_ERROR(add_column(m.name));
    impl.metrics.push_back(std::move(plan));
  }
  impl.source_top_only.assign(impl.source_field.size(), 1);
  impl.source_k.assign(impl.source_field.size(), 0);
  for (const MetricPlan& m : impl.metrics) {
    if (m.source < 0) continue;
    if (m.kind != Kind::kTop) impl.source_top_only[m.source] = 0;
    impl.source_k[m.source] = std::max(impl.source_k[m.source], static_cast<uint64_t>(m.k));
  }
  for (size_t src = 0; src < impl.source_k.size(); ++src) {
    if (!impl.source_top_only[src]) impl.source_k[src] = 0;
  }
  return stage;
}

std::unique_ptr<Partial> AggregateStage::NewPartial() const {
  auto p = std::make_unique<AggPartial>();
  p->metrics.resize(impl_->metrics.size());
  p->values.resize(impl_->source_field.size());
  return p;
}

void AggregateStage::Add(const RecordBatch& batch, Partial& into) const {
  const Impl& impl = *impl_;
  AggPartial& p = static_cast<AggPartial&>(into);
  const std::vector<uint32_t>& rows = batch.selected;
  const size_t n = rows.size();
  if (n == 0) return;
  p.row_group.resize(n);
  // 1. The group of every row: keys built into one buffer, each hashed once, then looked up.
  if (impl.keys.empty()) {
    if (p.groups.size() == 0) {
      bool inserted = false;
      p.groups.FindOrInsert(std::string_view(), HashBytes(std::string_view()), &inserted);
      impl.NewGroup(p);
    }
    std::fill(p.row_group.begin(), p.row_group.end(), 0);
    p.rows[0] += n;
  } else {
    p.batch_keys.clear();
    p.key_ends.resize(n);
    p.hashes.resize(n);
    for (size_t j = 0; j < n; ++j) {
      impl.AppendGroupKey(batch, rows[j], &p.batch_keys);
      p.key_ends[j] = static_cast<uint32_t>(p.batch_keys.size());
    }
    const std::string_view all(p.batch_keys);
    auto key = [&](size_t j) {
      const uint32_t begin = j == 0 ? 0 : p.key_ends[j - 1];
      return all.substr(begin, p.key_ends[j] - begin);
    };
    for (size_t j = 0; j < n; ++j) p.hashes[j] = HashBytes(key(j));
    PipelinedLookup(
        p.groups, n, p.hashes.data(),
        [&](size_t j) { return std::make_pair(std::string_view(), key(j)); },
        [&](size_t j, uint32_t g, bool inserted, PayloadRef) {
          if (inserted) impl.NewGroup(p);
          ++p.rows[g];
          p.row_group[j] = g;
        });
  }
  // 2. Inline metrics, one column at a time.
  for (size_t m = 0; m < impl.metrics.size(); ++m) {
    impl.AddMetric(impl.metrics[m], p.metrics[m], batch, rows, p.row_group);
  }
  // 3. Value tables (distinct / top / percentile): (group, value) -> occurrences.
  for (size_t src = 0; src < impl.source_field.size(); ++src) {
    const size_t f = impl.source_field[src];
    const FieldType type = impl.source_type[src];
    const bool numeric = type != FieldType::kString;
    HashTable& table = p.values[src];
    p.value_rows.clear();
    for (size_t j = 0; j < n; ++j) {
      if (batch.field(f, rows[j]).present) p.value_rows.push_back(static_cast<uint32_t>(j));
    }
    const size_t nv = p.value_rows.size();
    p.hashes.resize(nv);
    if (numeric) p.value_num.resize(nv);
    auto value = [&](size_t i) {
      if (numeric) {
        return std::string_view(reinterpret_cast<const char*>(&p.value_num[i]), 8);
      }
      return batch.field(f, rows[p.value_rows[i]]).text;
    };
    for (size_t i = 0; i < nv; ++i) {
      const uint32_t j = p.value_rows[i];
      if (numeric) p.value_num[i] = NumericValue(type, batch.field(f, rows[j]));
      p.hashes[i] = ValueHash(p.row_group[j], value(i));
    }
    PipelinedLookup(
        table, nv, p.hashes.data(),
        [&](size_t i) {
          return std::make_pair(impl.ValuePrefix(&p.row_group[p.value_rows[i]]), value(i));
        },
        [&](size_t, uint32_t, bool, PayloadRef count) { count.Add(1); });
  }
}

void AggregateStage::Merge(Partial&& from_base, Partial& into_base) const {
  AggPartial& from = static_cast<AggPartial&>(from_base);
  AggPartial& into = static_cast<AggPartial&>(into_base);
  if (&from == &into) return;
  // Merge the smaller into the larger; the result is the same either way.
  auto weight = [](const AggPartial& p) {
    size_t w = p.groups.size();
    for (const HashTable& t : p.values) w += t.size();
    return w;
  };
  if (weight(from) > weight(into)) into.SwapState(from);
  impl_->MergeInto(from, into);
  // `from` is consumed: leave it empty but usable.
  from.groups.Clear();
  from.rows.clear();
  for (MetricState& s : from.metrics) s = MetricState();
  for (HashTable& t : from.values) t.Clear();
}

namespace {

int CompareCells(const Cell& a, const Cell& b) {
  if (a.kind == Cell::Kind::kNull || b.kind == Cell::Kind::kNull) {
    return (a.kind != Cell::Kind::kNull) - (b.kind != Cell::Kind::kNull);
  }
  switch (a.kind) {
    case Cell::Kind::kInt:
    case Cell::Kind::kTime:
      return (a.i > b.i) - (a.i < b.i);
    case Cell::Kind::kFloat:
      return FloatLess(b.f, a.f) - FloatLess(a.f, b.f);
    case Cell::Kind::kString: {
      const int c = a.s.compare(b.s);
      return (c > 0) - (c < 0);
    }
    default:
      return 0;
  }
}

}  // namespace

Table AggregateStage::Finish(Partial&& all_base) const {
  const Impl& impl = *impl_;
  AggPartial& p = static_cast<AggPartial&>(all_base);
  if (impl.keys.empty() && p.groups.size() == 0) {
    bool inserted = false;
    p.groups.FindOrInsert("", HashBytes(""), &inserted);
    impl.NewGroup(p);
  }
  const uint32_t ngroups = static_cast<uint32_t>(p.groups.size());
  // top(f, k) over value tables kept apart: found across them (then top_across[metric][group]
  // holds the list), or, where that would cost more, after folding them.
  std::vector<std::vector<std::vector<std::pair<std::string, uint64_t>>>> top_across;
  if (!p.parts.empty()) {
    top_across.resize(impl.metrics.size());
    for (size_t mi = 0; mi < impl.metrics.size(); ++mi) {
      const MetricPlan& m = impl.metrics[mi];
      if (m.kind != Kind::kTop || !impl.source_top_only[m.source]) continue;
      if (!impl.TopAcrossParts(p, m, ngroups, &top_across[mi])) {
        top_across.clear();
        impl.FoldParts(p);
        break;
      }
    }
  }
  Table table;
  for (const KeyPlan& k : impl.keys) table.columns.push_back(k.label);
  for (const MetricPlan& m : impl.metrics) table.columns.push_back(m.name);
  std::vector<std::vector<Cell>> rows(ngroups);
  for (uint32_t g = 0; g < ngroups; ++g) {
    rows[g].reserve(table.columns.size());
    impl.KeyCells(p.groups.key(g), &rows[g]);
  }

  // Value tables grouped by group id (counting sort): entries of group g are
  // order[begin[g] .. begin[g + 1]). Without group_by there is one group, and its entries are
  // the ids 0 .. size - 1 in order (order stays empty).
  std::vector<std::vector<uint32_t>> src_begin(impl.source_field.size());
  std::vector<std::vector<uint32_t>> src_order(impl.source_field.size());
  for (size_t src = 0; src < impl.source_field.size(); ++src) {
    // Only top reads a top-only source, and its lists are already in top_across.
    if (!top_across.empty() && impl.source_top_only[src]) continue;
    const HashTable& t = p.values[src];
    std::vector<uint32_t>& begin = src_begin[src];
    std::vector<uint32_t>& order = src_order[src];
    if (impl.keys.empty()) {
      begin = {0, static_cast<uint32_t>(t.size())};
      continue;
    }
    begin.assign(ngroups + 1, 0);
    std::vector<uint32_t> group_of(t.size());
    for (uint32_t id = 0; id < t.size(); ++id) {
      group_of[id] = impl.ValueGroup(t.key(id));
      ++begin[group_of[id] + 1];
    }
    for (uint32_t g = 0; g < ngroups; ++g) begin[g + 1] += begin[g];
    order.resize(t.size());
    std::vector<uint32_t> next(begin.begin(), begin.end() - 1);
    for (uint32_t id = 0; id < t.size(); ++id) order[next[group_of[id]]++] = id;
  }
  // The id of the j-th entry of value source `src`.
  auto id_at = [&](size_t src, uint32_t j) {
    const std::vector<uint32_t>& order = src_order[src];
    return order.empty() ? j : order[j];
  };

  std::vector<uint32_t> entries;
  std::vector<uint32_t> best;
  std::string text_a, text_b;
  for (uint32_t g = 0; g < ngroups; ++g) {
    std::vector<Cell>& row = rows[g];
    for (size_t mi = 0; mi < impl.metrics.size(); ++mi) {
      const MetricPlan& m = impl.metrics[mi];
      const MetricState& s = p.metrics[mi];
      switch (m.kind) {
        case Kind::kCount:
          row.push_back(Cell::Int(static_cast<int64_t>(p.rows[g])));
          break;
        case Kind::kSum: {
          const WideSum& w = s.sum[g];
          int64_t v = 0;
          if (m.type == FieldType::kFloat) {
            row.push_back(Cell::Float(w.FloatValue()));
          } else if (w.FitsInt64(&v)) {
            row.push_back(Cell::Int(v));
          } else {
            row.push_back(Cell::Float(w.ToDouble()));
          }
          break;
        }
        case Kind::kAvg: {
          if (s.n[g] == 0) {
            row.push_back(Cell::Null());
            break;
          }
          const WideSum& w = s.sum[g];
          const double n = static_cast<double>(s.n[g]);
          if (m.type != FieldType::kFloat) {
            row.push_back(Cell::Float(w.ToDouble() / n));
          } else if (w.flags != 0) {
            row.push_back(Cell::Float(w.FloatValue()));  // NaN or an infinity
          } else {
            // One division of the exact units: 0.6 / 3 gives 0.2, not 0.19999999999999998.
            row.push_back(Cell::Float(w.ToDouble() / (n * WideSum::kUnitsPerOne)));
          }
          break;
        }
        case Kind::kMin:
        case Kind::kMax:
          if (!s.has[g]) {
            row.push_back(Cell::Null());
          } else if (m.type == FieldType::kString) {
            row.push_back(Cell::String(s.text[g]));
          } else if (m.type == FieldType::kFloat) {
            row.push_back(Cell::Float(BitsFloat(s.num[g])));
          } else if (m.type == FieldType::kTime) {
            row.push_back(Cell::Time(static_cast<int64_t>(s.num[g])));
          } else {
            row.push_back(Cell::Int(static_cast<int64_t>(s.num[g])));
          }
          break;
        case Kind::kDistinct: {
          const std::vector<uint32_t>& begin = src_begin[m.source];
          row.push_back(Cell::Int(static_cast<int64_t>(begin[g + 1] - begin[g])));
          break;
        }
        case Kind::kTop: {
          if (!top_across.empty() && !top_across[mi].empty()) {
            Cell cell;
            cell.kind = Cell::Kind::kTop;
            cell.top = std::move(top_across[mi][g]);
            row.push_back(std::move(cell));
            break;
          }
          // The k best entries by (count desc, value text bytewise asc), selected with a
          // heap of k ids (worst on top): no per-entry copies. A string's text is its bytes;
          // other types are formatted, into two reused buffers, only to break count ties.
          const HashTable& t = p.values[m.source];
          const std::vector<uint32_t>& begin = src_begin[m.source];
          const uint32_t count = begin[g + 1] - begin[g];
          auto text = [&](uint32_t id, std::string* buf) -> std::string_view {
            const std::string_view value = impl.ValueBytes(t.key(id));
            if (m.type == FieldType::kString) return value;
            buf->clear();
            AppendValueText(m.type, value, buf);
            return *buf;
          };
          auto before = [&](uint32_t a, uint32_t b) {
            const uint64_t ca = t.payload(a);
            const uint64_t cb = t.payload(b);
            if (ca != cb) return ca > cb;
            return text(a, &text_a) < text(b, &text_b);
          };
          const size_t keep = std::min<uint64_t>(static_cast<uint64_t>(m.k), count);
          best.clear();
          for (uint32_t j = begin[g]; j < begin[g + 1]; ++j) {
            const uint32_t id = id_at(m.source, j);
            if (best.size() < keep) {
              best.push_back(id);
              std::push_heap(best.begin(), best.end(), before);
            } else if (before(id, best.front())) {
              std::pop_heap(best.begin(), best.end(), before);
              best.back() = id;
              std::push_heap(best.begin(), best.end(), before);
            }
          }
          std::sort_heap(best.begin(), best.end(), before);
          Cell cell;
          cell.kind = Cell::Kind::kTop;
          cell.top.reserve(keep);
          for (uint32_t id : best) {
            cell.top.emplace_back(std::string(text(id, &text_a)), t.payload(id));
          }
          row.push_back(std::move(cell));
          break;
        }
        case Kind::kPercentile: {
          const HashTable& t = p.values[m.source];
          const std::vector<uint32_t>& begin = src_begin[m.source];
          auto value_of = [&](uint32_t id) {
            uint64_t u;
            std::memcpy(&u, impl.ValueBytes(t.key(id)).data(), 8);
            return u;
          };
          entries.clear();
          uint64_t total = 0;
          for (uint32_t j = begin[g]; j < begin[g + 1]; ++j) {
            const uint32_t id = id_at(m.source, j);
            if (m.type == FieldType::kFloat && std::isnan(BitsFloat(value_of(id)))) continue;
            entries.push_back(id);
            total += t.payload(id);
          }
          if (total == 0) {
            row.push_back(Cell::Null());
            break;
          }
          std::sort(entries.begin(), entries.end(), [&](uint32_t a, uint32_t b) {
            const uint64_t ua = value_of(a), ub = value_of(b);
            if (m.type == FieldType::kFloat) return BitsFloat(ua) < BitsFloat(ub);
            return static_cast<int64_t>(ua) < static_cast<int64_t>(ub);
          });
          // Nearest rank: the smallest value with at least NN% of the values <= it.
          const unsigned __int128 scaled = static_cast<unsigned __int128>(m.pct_micro) * total;
          constexpr uint64_t kHundredPercent = 100'000'000;
          uint64_t rank = static_cast<uint64_t>((scaled + kHundredPercent - 1) / kHundredPercent);
          if (rank < 1) rank = 1;
          uint64_t seen = 0;
          uint64_t chosen = value_of(entries.back());
          for (uint32_t id : entries) {
            seen += t.payload(id);
            if (seen >= rank) {
              chosen = value_of(id);
              break;
            }
          }
          if (m.type == FieldType::kFloat) {
            row.push_back(Cell::Float(BitsFloat(chosen)));
          } else if (m.type == FieldType::kTime) {
            row.push_back(Cell::Time(static_cast<int64_t>(chosen)));
          } else {
            row.push_back(Cell::Int(static_cast<int64_t>(chosen)));
          }
          break;
        }
        case Kind::kDistinctApprox: {
          const uint64_t estimate = s.hll[g].Estimate();
          row.push_back(Cell::Int(static_cast<int64_t>(
              std::min<uint64_t>(estimate, std::numeric_limits<int64_t>::max()))));
          break;
        }
        case Kind::kPercentileApprox: {
          const std::optional<double> v = s.hist[g].Percentile(m.pct_micro);
          if (!v) {
            row.push_back(Cell::Null());
          } else if (m.type == FieldType::kFloat) {
            row.push_back(Cell::Float(*v));
          } else {
            // Whole numbers, like the exact pNN of an int field; clamped to the int64 range.
            constexpr double kLimit = 9.2233720368547748e18;  // 2^63
            if (!(*v < kLimit)) {
              row.push_back(Cell::Int(std::numeric_limits<int64_t>::max()));
            } else if (!(*v >= -kLimit)) {
              row.push_back(Cell::Int(std::numeric_limits<int64_t>::min()));
            } else {
              row.push_back(Cell::Int(static_cast<int64_t>(std::llround(*v))));
            }
          }
          break;
        }
      }
    }
  }

  std::vector<uint32_t> perm(ngroups);
  for (uint32_t g = 0; g < ngroups; ++g) perm[g] = g;
  const size_t nkeys = impl.keys.size();
  std::sort(perm.begin(), perm.end(), [&](uint32_t a, uint32_t b) {
    for (size_t k = 0; k < nkeys; ++k) {
      const int c = CompareCells(rows[a][k], rows[b][k]);
      if (c != 0) return c < 0;
    }
    return p.groups.key(a) < p.groups.key(b);  // only non-canonical keys from Decode tie
  });
  table.rows.reserve(ngroups);
  for (uint32_t g : perm) table.rows.push_back(std::move(rows[g]));
  return table;
}

}  // namespace logpipe
