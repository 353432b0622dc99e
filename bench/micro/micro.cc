// logpipe_micro: Google Benchmark micro-benchmarks of the hot loops of logpipe's CPU stages,
// each on realistic input (Apache combined lines from logpipe-gen, seed 42) held in memory.
//
//   build/bench/logpipe_micro [--benchmark_filter=Parse] [--benchmark_repetitions=5]
//
// bytes_per_second is input bytes (the chunk's raw lines) per second of one core; items_per_second
// is lines per second. What each benchmark times is said above it; bench/README.md has more.
// Input: LOGPIPE_MICRO_INPUT=FILE uses that file's first LOGPIPE_MICRO_MB MiB (default 64)
// instead of running logpipe-gen.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <new>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "io/byte_source.h"
#include "io/chunk.h"
#include "io/chunker.h"
#include "stages/aggregate_stage.h"
#include "stages/filter_stage.h"
#include "stages/parse_stage.h"
#include "stages/pattern_library.h"
#include "stages/record_batch.h"
#include "stages/schema.h"

// Heap accounting for BM_AggregateMemory: every operator new/delete of this binary (the stages'
// vectors, strings and hash tables all allocate through it) adds or subtracts the usable size
// of its block; `peak` is the largest `live` since the last ResetPeak().
namespace heap {
std::atomic<int64_t> live{0};
std::atomic<int64_t> peak{0};
inline void Note(void* p, bool add) {
  if (!p) return;
  const int64_t n = static_cast<int64_t>(malloc_usable_size(p));
  if (add) {
    const int64_t now = live.fetch_add(n, std::memory_order_relaxed) + n;
    int64_t old = peak.load(std::memory_order_relaxed);
    while (now > old && !peak.compare_exchange_weak(old, now, std::memory_order_relaxed)) {
    }
  } else {
    live.fetch_sub(n, std::memory_order_relaxed);
  }
}
inline void ResetPeak() { peak.store(live.load()); }
inline void* Allocate(size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  Note(p, true);
  return p;
}
inline void* AllocateAligned(size_t n, std::align_val_t a) {
  const size_t align = static_cast<size_t>(a);
  void* p = std::aligned_alloc(align, (n + align - 1) / align * align);
  if (!p) throw std::bad_alloc();
  Note(p, true);
  return p;
}
inline void Free(void* p) {
  Note(p, false);
  std::free(p);
}
}  // namespace heap

void* operator new(size_t n) { return heap::Allocate(n); }
void* operator new[](size_t n) { return heap::Allocate(n); }
void* operator new(size_t n, std::align_val_t a) { return heap::AllocateAligned(n, a); }
void* operator new[](size_t n, std::align_val_t a) { return heap::AllocateAligned(n, a); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return heap::Allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { heap::Free(p); }
void operator delete[](void* p) noexcept { heap::Free(p); }
void operator delete(void* p, size_t) noexcept { heap::Free(p); }
void operator delete[](void* p, size_t) noexcept { heap::Free(p); }
void operator delete(void* p, std::align_val_t) noexcept { heap::Free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { heap::Free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { heap::Free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { heap::Free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { heap::Free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { heap::Free(p); }

namespace logpipe {
namespace {

constexpr size_t kChunkBytes = kDefaultChunkBytes;  // the default read.chunk_bytes

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "logpipe_micro: %s\n", msg.c_str());
  std::exit(2);
}

size_t InputMiB() {
  const char* mb = std::getenv("LOGPIPE_MICRO_MB");
  long v = mb ? std::atol(mb) : 64;
  return static_cast<size_t>(v > 0 ? v : 64);
}

// The benchmark input: LOGPIPE_MICRO_MB MiB of generated combined lines (whole lines).
const std::string& Input() {
  static const std::string* input = [] {
    auto* s = new std::string;
    const size_t want = InputMiB() << 20;
    std::FILE* f = nullptr;
    std::string what;
    if (const char* path = std::getenv("LOGPIPE_MICRO_INPUT")) {
      f = std::fopen(path, "rb");
      what = path;
    } else {
      what = std::string(LOGPIPE_GEN_BINARY) + " --size " + std::to_string(InputMiB()) +
             "M --seed 42 -o - --truth none";
      f = popen(what.c_str(), "r");
    }
    if (!f) Die("cannot read input from " + what);
    s->resize(want);
    size_t n = std::fread(&(*s)[0], 1, want, f);
    if (std::getenv("LOGPIPE_MICRO_INPUT")) std::fclose(f); else pclose(f);
    s->resize(n);
    while (!s->empty() && s->back() != '\n') s->pop_back();  // whole lines only
    if (s->empty()) Die("no input lines from " + what);
    return s;
  }();
  return *input;
}

// The input cut into default-size chunks (1 MiB) by the real Chunker, as the executors see it.
const std::vector<Chunk>& Chunks() {
  static const std::vector<Chunk>* chunks = [] {
    auto* v = new std::vector<Chunk>;
    ChunkerOptions options;
    options.chunk_bytes = kChunkBytes;
    Chunker chunker(NewMemorySource("micro", Input()), 0, options);
    for (;;) {
      Chunk c;
      Result<bool> more = chunker.Next(&c);
      if (!more.ok()) Die(more.status().message());
      if (!*more) break;
      v->push_back(std::move(c));
    }
    return v;
  }();
  return *chunks;
}

const std::string& CombinedRegex() {
  const BuiltinPattern* p = FindBuiltinPattern("combined");
  if (!p) Die("no built-in pattern 'combined'");
  return p->regex;
}

Schema MakeSchema(const std::vector<FieldSpec>& fields) {
  Schema s;
  for (const FieldSpec& f : fields) s.Add(f);
  return s;
}

// The parse schemas by capture count: 0 (match only), 2 (status, bytes), 3 (the reference
// job: path, status, bytes), 8 (every field the peers' combined.re names; ts as a string).
Schema ParseSchema(int captures) {
  const FieldSpec status{"status", FieldType::kInt, ""}, bytes{"bytes", FieldType::kInt, ""};
  const FieldSpec path{"path", FieldType::kString, ""};
  switch (captures) {
    case 0: return Schema();
    case 2: return MakeSchema({status, bytes});
    case 3: return MakeSchema({path, status, bytes});
    case 8:
      return MakeSchema({{"ip", FieldType::kString, ""}, {"ts", FieldType::kString, ""},
                         {"method", FieldType::kString, ""}, path, status, bytes,
                         {"referer", FieldType::kString, ""}, {"agent", FieldType::kString, ""}});
  }
  Die("no schema with " + std::to_string(captures) + " captures");
}

// ParseOptions::allow_scanner exists only in builds with the byte scanner: set it when it does.
template <typename T>
auto SetAllowScanner(T& o, bool v, int) -> decltype(o.allow_scanner = v, bool()) {
  o.allow_scanner = v;
  return true;
}
template <typename T>
bool SetAllowScanner(T&, bool, long) { return false; }

template <typename T>
auto UsesScanner(const T& s, int) -> decltype(s.uses_scanner()) { return s.uses_scanner(); }
template <typename T>
bool UsesScanner(const T&, long) { return false; }

// engine 0: whatever ParseStage picks by default; 1: RE2 forced (when a scanner exists).
std::unique_ptr<ParseStage> MakeParse(const Schema& schema, int engine, std::string* label,
                                      std::string* error) {
  ParseOptions options;
  options.regex = CombinedRegex();
  if (engine == 1 && !SetAllowScanner(options, false, 0)) {
    *error = "this build has only RE2 (no ParseOptions::allow_scanner)";
    return nullptr;
  }
  Result<std::unique_ptr<ParseStage>> stage = ParseStage::Create(options, schema);
  if (!stage.ok()) Die(stage.status().message());
  const bool scanner = UsesScanner(**stage, 0);
  *label = std::string(scanner ? "scanner" : "RE2") + ", " +
           std::to_string((*stage)->capture_count()) + " captures";
  return std::move(stage.value());
}

uint64_t TotalLines() {
  uint64_t n = 0;
  for (const Chunk& c : Chunks()) n += c.line_count;
  return n;
}

uint64_t TotalBytes() {
  uint64_t n = 0;
  for (const Chunk& c : Chunks()) n += c.size();
  return n;
}

// ---- Chunker ------------------------------------------------------------------------------
// One pass of the Chunker over the whole input from a memory source, 1 or 4 MiB chunks, one Chunk
// refilled in place (as the serial executor does): the copy out of the source plus the
// search for the last '\n'. Building the source (a copy of the input) is not timed.
void BM_Chunker(benchmark::State& state) {
  const std::string& input = Input();
  ChunkerOptions options;
  options.chunk_bytes = static_cast<size_t>(state.range(0)) << 20;
  Chunk chunk;
  uint64_t chunks = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Chunker chunker(NewMemorySource("micro", input), 0, options);
    state.ResumeTiming();
    for (;;) {
      Result<bool> more = chunker.Next(&chunk);
      if (!more.ok()) Die(more.status().message());
      if (!*more) break;
      benchmark::DoNotOptimize(chunk.data());
      ++chunks;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.counters["chunks/pass"] =
      static_cast<double>(chunks) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Chunker)->Arg(1)->Arg(4)->ArgName("chunk_MiB")->Unit(benchmark::kMillisecond);

// ---- RecordBatch::Reset ------------------------------------------------------------------
// Splitting a default-size chunk into rows (memchr per line, '\r' stripped): included in every
// Parse number below, so subtract it to get the matching alone.
void BM_RecordBatchReset(benchmark::State& state) {
  const std::vector<Chunk>& chunks = Chunks();
  RecordBatch batch;
  size_t i = 0;
  uint64_t bytes = 0, lines = 0;
  for (auto _ : state) {
    const Chunk& c = chunks[i++ % chunks.size()];
    batch.Reset(c, 3);
    benchmark::DoNotOptimize(batch.selected.data());
    bytes += c.size();
    lines += c.line_count;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(lines));
}
BENCHMARK(BM_RecordBatchReset)->Unit(benchmark::kMicrosecond);

// ---- ParseStage::Process -----------------------------------------------------------------
// RecordBatch::Reset + ParseStage::Process on one default-size chunk of combined lines per iteration
// (cycling through the input), with the built-in `combined` pattern and capture pushdown to
// N captures. engine:0 is what logpipe picks; engine:1 forces RE2 (builds with a scanner).
void BM_Parse(benchmark::State& state) {
  const int captures = static_cast<int>(state.range(0));
  const Schema schema = ParseSchema(captures);
  std::string label, error;
  std::unique_ptr<ParseStage> parse = MakeParse(schema, static_cast<int>(state.range(1)),
                                                &label, &error);
  if (!parse) {
    state.SkipWithError(error.c_str());
    for (auto _ : state) {
    }
    return;
  }
  std::unique_ptr<Scratch> scratch = parse->NewScratch();
  const std::vector<Chunk>& chunks = Chunks();
  RecordBatch batch;
  size_t i = 0;
  uint64_t bytes = 0, lines = 0, matched = 0;
  for (auto _ : state) {
    const Chunk& c = chunks[i++ % chunks.size()];
    batch.Reset(c, schema.size());
    parse->Process(batch, *scratch);
    benchmark::DoNotOptimize(batch.selected.data());
    bytes += c.size();
    lines += c.line_count;
    matched += batch.selected.size();
  }
  state.SetLabel(label);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(lines));
  state.counters["matched%"] = lines ? 100.0 * static_cast<double>(matched) / lines : 0;
}
// engine:1 is registered only when ParseOptions can turn the scanner off.
void ParseArgs(benchmark::internal::Benchmark* b) {
  ParseOptions probe;
  const bool has_scanner_option = SetAllowScanner(probe, true, 0);
  for (int captures : {0, 2, 3, 8}) {
    b->Args({captures, 0});
    if (has_scanner_option) b->Args({captures, 1});
  }
}
BENCHMARK(BM_Parse)
    ->Apply(ParseArgs)
    ->ArgNames({"captures", "engine"})
    ->Unit(benchmark::kMillisecond);

// Parsed batches (fields filled) for the filter and aggregate benchmarks, one per chunk.
struct Parsed {
  Schema schema;
  std::vector<RecordBatch> batches;
  uint64_t bytes = 0, lines = 0;
};

const Parsed& ParsedInput() {
  static const Parsed* parsed = [] {
    auto* p = new Parsed;
    p->schema = MakeSchema({{"method", FieldType::kString, ""}, {"path", FieldType::kString, ""},
                            {"status", FieldType::kInt, ""}, {"bytes", FieldType::kInt, ""}});
    std::string label, error;
    std::unique_ptr<ParseStage> parse = MakeParse(p->schema, 0, &label, &error);
    std::unique_ptr<Scratch> scratch = parse->NewScratch();
    const std::vector<Chunk>& chunks = Chunks();
    p->batches.resize(chunks.size());
    for (size_t i = 0; i < chunks.size(); ++i) {
      p->batches[i].Reset(chunks[i], p->schema.size());
      parse->Process(p->batches[i], *scratch);
      p->bytes += chunks[i].size();
      p->lines += chunks[i].line_count;
    }
    return p;
  }();
  return *parsed;
}

// ---- FilterStage::Process ----------------------------------------------------------------
// One parsed default-size chunk per iteration through a typical where-expression (int comparison,
// string membership, an unanchored RE2 search); `selected` is restored before each call
// (a vector copy, timed). Bytes are the chunk's input bytes.
void BM_Filter(benchmark::State& state) {
  static const char* const kWhere[] = {
      "status >= 400",
      "status >= 400 and method in [\"GET\", \"HEAD\"] and not path =~ \"^/(assets|static)/\"",
  };
  const char* where = kWhere[state.range(0)];
  const Parsed& parsed = ParsedInput();
  Result<FilterExpr> expr = FilterExpr::Parse(where);
  if (!expr.ok()) Die(expr.status().message());
  Result<std::unique_ptr<FilterStage>> filter =
      FilterStage::Create(std::move(expr.value()), parsed.schema);
  if (!filter.ok()) Die(filter.status().message());
  std::unique_ptr<Scratch> scratch = (*filter)->NewScratch();
  std::vector<RecordBatch> batches = parsed.batches;  // copies: filters narrow `selected`
  std::vector<std::vector<uint32_t>> selected;
  for (const RecordBatch& b : batches) selected.push_back(b.selected);
  size_t i = 0;
  uint64_t bytes = 0, rows = 0, kept = 0;
  for (auto _ : state) {
    const size_t k = i++ % batches.size();
    RecordBatch& b = batches[k];
    b.selected = selected[k];
    (*filter)->Process(b, *scratch);
    benchmark::DoNotOptimize(b.selected.data());
    bytes += b.chunk().size();
    rows += selected[k].size();
    kept += b.selected.size();
  }
  state.SetLabel(where);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(rows));
  state.counters["kept%"] = rows ? 100.0 * static_cast<double>(kept) / rows : 0;
}
BENCHMARK(BM_Filter)->Arg(0)->Arg(1)->ArgName("expr")->Unit(benchmark::kMicrosecond);

std::unique_ptr<AggregateStage> MakeAggregate(const std::vector<std::string>& keys,
                                              const std::vector<std::pair<std::string, std::string>>& metrics,
                                              const Schema& schema) {
  std::vector<GroupKeySpec> key_specs;
  for (const std::string& k : keys) {
    Result<GroupKeySpec> spec = ParseGroupKey(k);
    if (!spec.ok()) Die(spec.status().message());
    key_specs.push_back(*spec);
  }
  std::vector<MetricSpec> metric_specs;
  for (const auto& [name, expr] : metrics) {
    Result<MetricSpec> spec = ParseMetric(name, expr);
    if (!spec.ok()) Die(spec.status().message());
    metric_specs.push_back(*spec);
  }
  Result<std::unique_ptr<AggregateStage>> stage =
      AggregateStage::Create(std::move(key_specs), std::move(metric_specs), schema);
  if (!stage.ok()) Die(stage.status().message());
  return std::move(stage.value());
}

// Distinct paths in the parsed input (computed once, with distinct(path)).
uint64_t DistinctPaths();

// ---- AggregateStage::Add -----------------------------------------------------------------
// One parsed default-size chunk per iteration folded into one Partial that lives through the whole
// benchmark (as a worker's partial does through a file):
//   status:  group_by [status], count + sum(bytes)                  (22 groups)
//   top:     no group_by, top(path, 10) over every distinct path    (tens of thousands)
// With fresh:1 a new Partial is started at every pass over the input (not timed), so the
// insertion of every distinct path is part of the time, as on a file seen once.
void BM_Aggregate(benchmark::State& state) {
  const Parsed& parsed = ParsedInput();
  const bool top = state.range(0) == 1;
  const bool fresh = state.range(1) == 1;
  std::unique_ptr<AggregateStage> agg =
      top ? MakeAggregate({}, {{"top", "top(path, 10)"}}, parsed.schema)
          : MakeAggregate({"status"}, {{"hits", "count"}, {"bytes", "sum(bytes)"}}, parsed.schema);
  std::unique_ptr<Partial> partial = agg->NewPartial();
  size_t i = 0;
  uint64_t bytes = 0, rows = 0;
  for (auto _ : state) {
    const size_t k = i++ % parsed.batches.size();
    if (fresh && k == 0) {
      state.PauseTiming();
      partial = agg->NewPartial();
      state.ResumeTiming();
    }
    const RecordBatch& b = parsed.batches[k];
    agg->Add(b, *partial);
    bytes += b.chunk().size();
    rows += b.selected.size();
  }
  state.SetLabel(top ? "top(path, 10)" : "group_by status: count, sum(bytes)");
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(rows));
  Table t = agg->Finish(std::move(*partial));
  state.counters["rows"] = static_cast<double>(t.rows.size());
}
BENCHMARK(BM_Aggregate)
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({1, 1})
    ->ArgNames({"top", "fresh"})
    ->Unit(benchmark::kMicrosecond);

// Update cost of the bounded sketches against their exact metric on the same field (no
// group_by, so the path sketch goes dense): 0 distinct(path), 1 distinct_approx(path),
// 2 p99(bytes), 3 p99_approx(bytes).
void BM_AggregateApprox(benchmark::State& state) {
  const Parsed& parsed = ParsedInput();
  static const char* const kExprs[] = {"distinct(path)", "distinct_approx(path)", "p99(bytes)",
                                       "p99_approx(bytes)"};
  const char* expr = kExprs[state.range(0)];
  std::unique_ptr<AggregateStage> agg = MakeAggregate({}, {{"m", expr}}, parsed.schema);
  std::unique_ptr<Partial> partial = agg->NewPartial();
  size_t i = 0;
  uint64_t bytes = 0, rows = 0;
  for (auto _ : state) {
    const RecordBatch& b = parsed.batches[i++ % parsed.batches.size()];
    agg->Add(b, *partial);
    bytes += b.chunk().size();
    rows += b.selected.size();
  }
  state.SetLabel(expr);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(rows));
  benchmark::DoNotOptimize(agg->Finish(std::move(*partial)));
}
BENCHMARK(BM_AggregateApprox)->DenseRange(0, 3)->ArgName("metric")->Unit(benchmark::kMicrosecond);

// ---- Memory per distinct key, and the serial tail of a 2-worker run ----------------------
// The reference job's top(path, 10) (no group_by), heap bytes from this binary's operator new
// (allocated, not resident: capacity counts even where untouched), divided by `keys` (the
// distinct paths of the input):
//   live/key        held by one Partial after every batch was added (serial run's state)
//   add_peak/key    the most held at any moment while adding (growth copies included)
//   finish_peak/key the most held while Finish runs on that Partial (its transients included)
//   2w_live/key     held by two Partials, each fed every other batch (a 2-worker run)
//   2w_peak/key     the most held while those two merge and the result is finished
//   merge_ms, finish_ms  wall time of that Merge and that Finish (one run each)
// Run it on more distinct keys with LOGPIPE_MICRO_INPUT=FILE LOGPIPE_MICRO_MB=1024.
void BM_AggregateMemory(benchmark::State& state) {
  const Parsed& parsed = ParsedInput();
  std::unique_ptr<AggregateStage> agg = MakeAggregate({}, {{"top", "top(path, 10)"}}, parsed.schema);
  using Clock = std::chrono::steady_clock;
  for (auto _ : state) {
    double keys = 0;
    {
      const int64_t base = heap::live.load();
      heap::ResetPeak();
      std::unique_ptr<Partial> p = agg->NewPartial();
      for (const RecordBatch& b : parsed.batches) agg->Add(b, *p);
      const int64_t live = heap::live.load() - base;
      const int64_t add_peak = heap::peak.load() - base;
      heap::ResetPeak();
      Table t = agg->Finish(std::move(*p));
      const int64_t finish_peak = heap::peak.load() - base;
      // Finish's table is tiny; the distinct count comes from a distinct() run below.
      keys = static_cast<double>(DistinctPaths());
      state.counters["keys"] = keys;
      state.counters["live/key"] = static_cast<double>(live) / keys;
      state.counters["add_peak/key"] = static_cast<double>(add_peak) / keys;
      state.counters["finish_peak/key"] = static_cast<double>(finish_peak) / keys;
      benchmark::DoNotOptimize(t);
    }
    {
      const int64_t base = heap::live.load();
      std::unique_ptr<Partial> p0 = agg->NewPartial(), p1 = agg->NewPartial();
      for (size_t i = 0; i < parsed.batches.size(); ++i) {
        agg->Add(parsed.batches[i], i % 2 == 0 ? *p0 : *p1);
      }
      const int64_t live = heap::live.load() - base;
      heap::ResetPeak();
      const Clock::time_point t0 = Clock::now();
      agg->Merge(std::move(*p1), *p0);
      p1.reset();
      const Clock::time_point t1 = Clock::now();
      Table t = agg->Finish(std::move(*p0));
      const Clock::time_point t2 = Clock::now();
      const int64_t peak = heap::peak.load() - base;
      state.counters["2w_live/key"] = static_cast<double>(live) / keys;
      state.counters["2w_peak/key"] = static_cast<double>(peak) / keys;
      state.counters["merge_ms"] = std::chrono::duration<double, std::milli>(t1 - t0).count();
      state.counters["finish_ms"] = std::chrono::duration<double, std::milli>(t2 - t1).count();
      benchmark::DoNotOptimize(t);
    }
  }
}
BENCHMARK(BM_AggregateMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

// ---- Merge + Finish of two 2-worker partials (the serial tail of a threads/tbb run) -------
// Per iteration two Partials are filled from every other batch (not timed), then
// Merge(p1 -> p0) and Finish(p0) are timed: the single-threaded work after the workers end.
void BM_AggregateTail(benchmark::State& state) {
  const Parsed& parsed = ParsedInput();
  std::unique_ptr<AggregateStage> agg = MakeAggregate({}, {{"top", "top(path, 10)"}}, parsed.schema);
  using Clock = std::chrono::steady_clock;
  double merge_s = 0, finish_s = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<Partial> p0 = agg->NewPartial(), p1 = agg->NewPartial();
    for (size_t i = 0; i < parsed.batches.size(); ++i) {
      agg->Add(parsed.batches[i], i % 2 == 0 ? *p0 : *p1);
    }
    state.ResumeTiming();
    const Clock::time_point t0 = Clock::now();
    agg->Merge(std::move(*p1), *p0);
    const Clock::time_point t1 = Clock::now();
    Table t = agg->Finish(std::move(*p0));
    const Clock::time_point t2 = Clock::now();
    merge_s += std::chrono::duration<double>(t1 - t0).count();
    finish_s += std::chrono::duration<double>(t2 - t1).count();
    benchmark::DoNotOptimize(t);
    state.PauseTiming();
    p0.reset();
    p1.reset();
    state.ResumeTiming();
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["merge_ms"] = 1e3 * merge_s / n;
  state.counters["finish_ms"] = 1e3 * finish_s / n;
}
BENCHMARK(BM_AggregateTail)->Unit(benchmark::kMillisecond);

// Distinct paths in the input, printed once so the top numbers can be read.
void BM_InputFacts(benchmark::State& state) {
  const Parsed& parsed = ParsedInput();
  std::unique_ptr<AggregateStage> agg =
      MakeAggregate({}, {{"paths", "distinct(path)"}}, parsed.schema);
  for (auto _ : state) {
    std::unique_ptr<Partial> p = agg->NewPartial();
    for (const RecordBatch& b : parsed.batches) agg->Add(b, *p);
    Table t = agg->Finish(std::move(*p));
    state.counters["distinct_paths"] = static_cast<double>(t.rows.at(0).at(0).i);
  }
  state.counters["MiB"] = static_cast<double>(TotalBytes()) / (1 << 20);
  state.counters["lines"] = static_cast<double>(TotalLines());
  state.counters["chunks"] = static_cast<double>(Chunks().size());
}
uint64_t DistinctPaths() {
  static const uint64_t n = [] {
    const Parsed& parsed = ParsedInput();
    std::unique_ptr<AggregateStage> agg =
        MakeAggregate({}, {{"paths", "distinct(path)"}}, parsed.schema);
    std::unique_ptr<Partial> p = agg->NewPartial();
    for (const RecordBatch& b : parsed.batches) agg->Add(b, *p);
    Table t = agg->Finish(std::move(*p));
    return static_cast<uint64_t>(t.rows.at(0).at(0).i);
  }();
  return n;
}

BENCHMARK(BM_InputFacts)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace logpipe

BENCHMARK_MAIN();
