#include "stages/aggregate_stage.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include "stages/hash_table.h"
#include "stages/hyperloglog.h"
#include "stages/log_histogram.h"
#include "stages/time_format.h"
#include "stages/varint.h"

namespace logpipe {

namespace {

using Kind = MetricSpec::Kind;

// ---------------------------------------------------------------------------------------------
// Exact sums: a 192-bit two's complement integer (unsigned arithmetic, so corrupt partials can
// wrap but never invoke undefined behaviour) plus flags for non-finite float inputs.

constexpr uint8_t kSumNaN = 1;
constexpr uint8_t kSumPosInf = 2;
constexpr uint8_t kSumNegInf = 4;
constexpr double kUnitsPerOne = 1e9;  // float sums count 1e-9 units
// Float inputs whose units would not fit in 126 bits count as infinite.
constexpr double kMaxUnits = 8.5070591730234616e37;  // 2^126

struct WideSum {
  unsigned __int128 lo = 0;
  uint64_t hi = 0;  // two's complement high word
  uint8_t flags = 0;

  void Add(__int128 v) {
    const unsigned __int128 old = lo;
    lo += static_cast<unsigned __int128>(v);
    hi += (lo < old ? 1 : 0) + (v < 0 ? ~uint64_t{0} : 0);
  }
  void AddSum(const WideSum& o) {
    const unsigned __int128 old = lo;
    lo += o.lo;
    hi += o.hi + (lo < old ? 1 : 0);
    flags |= o.flags;
  }
  void AddFloat(double f) {
    if (std::isnan(f)) {
      flags |= kSumNaN;
      return;
    }
    const double units = f * kUnitsPerOne;
    if (!(units < kMaxUnits)) {
      flags |= kSumPosInf;
    } else if (!(units > -kMaxUnits)) {
      flags |= kSumNegInf;
    } else {
      Add(static_cast<__int128>(std::nearbyint(units)));
    }
  }
  // The exact integer, rounded once to double.
  double ToDouble() const {
    const __int128 low_signed = static_cast<__int128>(lo);
    const uint64_t sign_ext = low_signed < 0 ? ~uint64_t{0} : 0;
    if (hi == sign_ext) return static_cast<double>(low_signed);
    return static_cast<double>(static_cast<int64_t>(hi)) * 0x1p128 + static_cast<double>(lo);
  }
  bool FitsInt64(int64_t* v) const {
    const __int128 low_signed = static_cast<__int128>(lo);
    const uint64_t sign_ext = low_signed < 0 ? ~uint64_t{0} : 0;
    if (hi != sign_ext) return false;
    if (low_signed < std::numeric_limits<int64_t>::min() ||
        low_signed > std::numeric_limits<int64_t>::max()) {
      return false;
    }
    *v = static_cast<int64_t>(low_signed);
    return true;
  }
  // A float sum (or average numerator) with the non-finite inputs applied.
  double FloatValue() const {
    if ((flags & kSumNaN) || (flags & (kSumPosInf | kSumNegInf)) == (kSumPosInf | kSumNegInf)) {
      return std::numeric_limits<double>::quiet_NaN();
    }
    if (flags & kSumPosInf) return std::numeric_limits<double>::infinity();
    if (flags & kSumNegInf) return -std::numeric_limits<double>::infinity();
    return ToDouble() / kUnitsPerOne;
  }
};

// -0.0 -> 0.0 and every NaN -> one NaN, so equal values have equal bytes and min/max do not
// depend on the order of the inputs.
inline double CanonicalFloat(double f) {
  if (f == 0) return 0.0;
  if (std::isnan(f)) return std::numeric_limits<double>::quiet_NaN();
  return f;
}

inline void AppendRaw64(uint64_t v, std::string* out) {
  char b[8];
  std::memcpy(b, &v, 8);
  out->append(b, 8);
}

inline uint64_t FloatBits(double f) {
  uint64_t u;
  std::memcpy(&u, &f, 8);
  return u;
}

inline double BitsFloat(uint64_t u) {
  double f;
  std::memcpy(&f, &u, 8);
  return f;
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

// Value tables key (group id, value) as the 4 bytes of the id followed by the value bytes,
// hashed as the value under the id as seed.
inline uint64_t ValueHash(uint32_t g, std::string_view value) { return HashBytes(value, g); }

// The 4 bytes of a group id as stored in value-table keys (native byte order: keys never
// leave the process; Encode writes ids as varints). REQUIRES: *g outlives the view.
inline std::string_view GroupBytes(const uint32_t* g) {
  return std::string_view(reinterpret_cast<const char*>(g), 4);
}

constexpr char kMagic[] = "LPAG";
constexpr uint8_t kFormatVersion = 1;

}  // namespace

// -------------------------------------------------------------------------------------------
// The stage

namespace {

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

}  // namespace

struct AggregateStage::Impl {
  std::vector<KeyPlan> keys;
  std::vector<MetricPlan> metrics;
  std::vector<size_t> source_field;  // value source -> schema field
  std::vector<FieldType> source_type;
  std::vector<uint8_t> source_top_only;  // read by top(f, k) metrics only: may be kept apart
  std::vector<uint64_t> source_k;        // top-only sources: the largest k that reads them

  // Appends the composite group key of `row` to `out`: per key a presence byte, then 8 bytes
  // (int, time or its bucket, canonical float) or a 4-byte length and the bytes (string).
  void AppendGroupKey(const RecordBatch& batch, uint32_t row, std::string* out) const {
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

  // Checks that `key` is a well-formed composite key (Decode).
  bool ValidKey(std::string_view key) const {
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

  // The group key cells of `key`. REQUIRES: ValidKey(key).
  void KeyCells(std::string_view key, std::vector<Cell>* cells) const {
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

  void NewGroup(AggPartial& p) const {
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

  // Whether `a` should replace the current extreme `b` for metric kind `kind`.
  static bool Better(Kind kind, FieldType type, uint64_t a, uint64_t b) {
    if (type == FieldType::kFloat) {
      const double x = BitsFloat(a), y = BitsFloat(b);
      return kind == Kind::kMin ? x < y : x > y;
    }
    const int64_t x = static_cast<int64_t>(a), y = static_cast<int64_t>(b);
    return kind == Kind::kMin ? x < y : x > y;
  }

  // Folds one extreme into group g's state (Add and Merge).
  static void FoldNum(const MetricPlan& m, MetricState& s, uint32_t g, uint64_t v) {
    if (!s.has[g] || Better(m.kind, m.type, v, s.num[g])) {
      s.num[g] = v;
      s.has[g] = 1;
    }
  }
  static void FoldText(const MetricPlan& m, MetricState& s, uint32_t g, std::string_view v) {
    if (!s.has[g] || (m.kind == Kind::kMin ? v < s.text[g] : v > s.text[g])) {
      s.text[g].assign(v.data(), v.size());
      s.has[g] = 1;
    }
  }

  // The canonical 8 bytes of a present numeric value (value tables).
  static uint64_t NumericValue(FieldType type, const Value& v) {
    return type == FieldType::kFloat ? FloatBits(CanonicalFloat(v.f)) : static_cast<uint64_t>(v.i);
  }

  void AddMetric(const MetricPlan& m, MetricState& s, const RecordBatch& batch,
                 const std::vector<uint32_t>& rows, const std::vector<uint32_t>& row_group) const {
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

  // Folds the state of `from` into `into`. `from`'s groups and metrics are left as they were;
  // its value tables are consumed (left empty, their memory freed as the merge goes, so that
  // the peak is not both tables plus the growth of `into`). Tables are reserved for the larger
  // of the two sizes only: the union is often far smaller than the sum (two workers see mostly
  // the same keys), and growth past it is amortised.
  void MergeInto(AggPartial& from, AggPartial& into) const {
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

  // Folds value table `ft` of source `src`, whose group ids `remap` maps to those of `into`,
  // into into.values[src], consuming it. Hashed a window at a time, then looked up with
  // prefetches (each lookup in a large table is a cache miss).
  void FoldValues(HashTable& ft, const std::vector<uint32_t>& remap, size_t src,
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

  // top(f, k) of metric `m` for each of the `ngroups` groups, across p.values[m.source] and
  // the tables p.parts keeps apart, without folding them into one. Exact by a threshold
  // argument: with n tables and T the k-th largest total among some candidate values of a
  // group (0 with fewer than k), a value whose count is below T / n in every table totals
  // below T, so k candidates beat it. Candidates: each table's k largest counts per group,
  // then every value with count * n >= T in some table; a candidate's total is a lookup in
  // each table. Cost: two scans of each table, front to back, and n lookups per candidate,
  // where folding inserts every value of every part. Returns false, having changed nothing,
  // when the counts are so flat that the candidates would cost more than folding.
  bool TopAcrossParts(const AggPartial& p, const MetricPlan& m, uint32_t ngroups,
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

  // Encode and EncodeHead (`head`: top-only tables give each group's source_k largest only).
  void Encode(AggPartial& p, bool head, std::string* out) const;

  // Folds every part kept apart into p.values.
  void FoldParts(AggPartial& p) const {
    for (AggPartial::Part& part : p.parts) {
      for (size_t src = 0; src < part.values.size(); ++src) {
        if (part.values[src].size() != 0) FoldValues(part.values[src], part.remap, src, p);
      }
    }
    p.parts.clear();
  }
};

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
      if (numeric) p.value_num[i] = Impl::NumericValue(type, batch.field(f, rows[j]));
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

void AggregateStage::Impl::Encode(AggPartial& p, bool head, std::string* out) const {
  const Impl& impl = *this;
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
          if (!r.Byte(&w.flags) || w.flags > 7 || !r.Varint(&lo0) || !r.Varint(&lo1) ||
              !r.Varint(&w.hi)) {
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
            row.push_back(Cell::Float(w.ToDouble() / (n * kUnitsPerOne)));
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
