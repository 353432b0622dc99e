#include "pipeline/compare.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "io/atomic_file.h"
#include "io/text_escape.h"
#include "pipeline/compare_html.h"

namespace logpipe {
namespace {

namespace fs = std::filesystem;

double Median(std::vector<double> xs) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  const size_t n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

std::string Fixed(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, sep)) out.push_back(item);
  if (!text.empty() && text.back() == sep) out.emplace_back();
  return out;
}

std::vector<double> LoadAverages() {
  double loads[3] = {0, 0, 0};
  if (getloadavg(loads, 3) != 3) return {};
  return {loads[0], loads[1], loads[2]};
}

std::string NowIso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

// FNV-1a, 64 bits: a digest of every output file of a run (names and bytes, in name order).
class Digest {
 public:
  void Add(std::string_view bytes) {
    for (unsigned char c : bytes) {
      h_ ^= c;
      h_ *= 0x100000001b3ull;
    }
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

// Digests of each output file in `dir` (by name) and of all of them together.
std::map<std::string, uint64_t> DigestOutputs(const std::string& dir, uint64_t* all) {
  std::map<std::string, uint64_t> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    Digest d;
    std::ifstream in(entry.path(), std::ios::binary);
    char buf[1 << 16];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) d.Add(std::string_view(buf, in.gcount()));
    files[entry.path().filename().string()] = d.value();
  }
  Digest total;
  for (const auto& [name, value] : files) {
    total.Add(name);
    total.Add(std::string_view(reinterpret_cast<const char*>(&value), sizeof value));
  }
  *all = total.value();
  return files;
}

std::string ReadTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Runs `argv` as a child with stdout and stderr into files; measures it with wait4.
CompareRun RunChild(const std::vector<std::string>& argv, const std::string& out_path,
                    const std::string& err_path) {
  CompareRun run;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::fflush(nullptr);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || err < 0 || in < 0) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  if (pid < 0) {
    run.exit_code = 127;
    return run;
  }
  int status = 0;
  struct rusage usage {};
  while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.user_s = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6;
  run.sys_s = usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  run.max_rss_mib = usage.ru_maxrss / 1024.0;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

// Where one role's workers spent the run.
std::string Bound(double busy_share, double cpu_per_busy, double runq_per_busy, double wait_share,
                  double blocked_share) {
  if (busy_share >= 0.6) {
    if (cpu_per_busy >= 0.6) return "CPU-bound";
    if (runq_per_busy >= 0.25) return "CPU-bound (short of cores)";
    return "I/O-bound";
  }
  if (wait_share >= 0.5) return "starved (waits for input)";
  if (blocked_share >= 0.4) return "blocked (waits for downstream)";
  return "light";
}

// Reads the child's --stats-json into `v` (the last counted run's wins); `*job` gets the job's
// name.
void ReadStats(const std::string& path, CompareVariantResult* v, std::string* job) {
  std::ifstream in(path);
  nlohmann::json s = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (s.is_discarded() || !s.is_object()) return;
  *job = s.value("job", *job);
  v->bytes = s.value("bytes", uint64_t{0});
  v->lines = s.value("lines", uint64_t{0});
  const double wall = s.value("wall_seconds", 0.0);
  if (s.contains("segments") && s["segments"].is_array() && !s["segments"].empty()) {
    v->model = "serial";
    v->workers = 1;
    for (const auto& seg : s["segments"]) {
      const int w = seg.value("workers", 1);
      if (w >= v->workers) {
        v->workers = w;
        v->model = seg.value("model", std::string("serial"));
      }
    }
  }
  if (s.contains("fetch")) {
    v->fetch_model = s["fetch"].value("model", std::string());
    v->fetch_workers = s["fetch"].value("workers", 1);
  }
  v->stages.clear();
  for (const auto& t : s.value("tracks", nlohmann::json::array())) {
    const std::string role = t.value("role", std::string("?"));
    auto it = std::find_if(v->stages.begin(), v->stages.end(),
                           [&](const CompareStage& st) { return st.role == role; });
    if (it == v->stages.end()) {
      v->stages.push_back({});
      it = std::prev(v->stages.end());
      it->role = role;
    }
    ++it->tracks;
    it->busy_s += t.value("busy_s", 0.0);
    it->wait_input_s += t.value("wait_input_s", 0.0);
    it->blocked_output_s += t.value("blocked_output_s", 0.0);
    it->cpu_s += t.value("cpu_s", 0.0);
    it->runqueue_s += t.value("runqueue_s", 0.0);
  }
  for (CompareStage& st : v->stages) {
    const double capacity = wall * st.tracks;
    st.busy_share = capacity > 0 ? st.busy_s / capacity : 0;
    st.bound = Bound(st.busy_share, st.busy_s > 0 ? st.cpu_s / st.busy_s : 0,
                     st.busy_s > 0 ? st.runqueue_s / st.busy_s : 0,
                     capacity > 0 ? st.wait_input_s / capacity : 0,
                     capacity > 0 ? st.blocked_output_s / capacity : 0);
  }
  v->has_processes = s.contains("processes");
  if (v->has_processes) {
    const auto& p = s["processes"];
    v->fork_s = p.value("fork_seconds", 0.0);
    v->partial_bytes = p.value("partial_bytes", uint64_t{0});
    v->request_bytes = p.value("request_bytes", uint64_t{0});
    v->result_bytes = p.value("result_bytes", uint64_t{0});
  }
}

// Reads one run's --trace into the variant's timeline (at most kMaxSpans spans per track).
void ReadTimeline(const std::string& path, CompareVariantResult* v) {
  constexpr size_t kMaxSpans = 20000;
  std::ifstream in(path);
  nlohmann::json t = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (t.is_discarded() || !t.contains("traceEvents")) return;
  std::map<int, size_t> by_tid;
  v->timeline.clear();
  for (const auto& e : t["traceEvents"]) {
    if (e.value("ph", "") == "M" && e.value("name", "") == "thread_name") {
      by_tid[e.value("tid", 0)] = v->timeline.size();
      v->timeline.push_back({e["args"].value("name", std::string()), {}});
    }
  }
  for (const auto& e : t["traceEvents"]) {
    if (e.value("ph", "") != "X") continue;
    auto it = by_tid.find(e.value("tid", 0));
    if (it == by_tid.end()) continue;
    TimelineTrack& track = v->timeline[it->second];
    if (track.spans.size() >= kMaxSpans) continue;
    const double ts = e.value("ts", 0.0) / 1e6, dur = e.value("dur", 0.0) / 1e6;
    track.spans.push_back({e.value("cat", std::string()), ts, ts + dur});
  }
}

std::string Shorten(const std::string& key) {
  const size_t dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

std::string MiB(double bytes) { return Fixed(bytes / (1024.0 * 1024.0), 1) + " MiB"; }

}  // namespace

Result<std::vector<CompareVariant>> VariantsFromSets(const std::string& config,
                                                     const std::vector<std::string>& common_sets,
                                                     const std::vector<std::string>& compare_sets) {
  struct Axis {
    std::string key;
    std::string label;
    std::vector<std::string> values;
  };
  std::vector<Axis> axes;
  for (const auto& set : compare_sets) {
    const size_t eq = set.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == set.size()) {
      return UsageError("--compare-set '" + set + "': expected KEY.PATH=V1,V2,... such as "
                        "stages.parse.exec.model=serial,threads");
    }
    Axis axis{set.substr(0, eq), Shorten(set.substr(0, eq)), Split(set.substr(eq + 1), ',')};
    for (const auto& value : axis.values) {
      if (value.empty()) return UsageError("--compare-set '" + set + "': an empty value");
    }
    axes.push_back(std::move(axis));
  }
  for (size_t i = 0; i < axes.size(); ++i) {  // two keys ending alike: label with the full key
    for (size_t j = 0; j < axes.size(); ++j) {
      if (i != j && axes[i].label == Shorten(axes[j].key)) axes[i].label = axes[i].key;
    }
  }
  std::vector<CompareVariant> out;
  std::vector<size_t> index(axes.size(), 0);
  while (true) {
    CompareVariant v;
    v.config = config;
    v.sets = common_sets;
    for (size_t a = 0; a < axes.size(); ++a) {
      v.sets.push_back(axes[a].key + "=" + axes[a].values[index[a]]);
      v.name += (v.name.empty() ? "" : " ") + axes[a].label + "=" + axes[a].values[index[a]];
    }
    if (v.name.empty()) v.name = fs::path(config).stem().string();
    out.push_back(std::move(v));
    size_t a = axes.size();  // the last axis varies fastest
    while (a > 0) {
      --a;
      if (++index[a] < axes[a].values.size()) break;
      index[a] = 0;
      if (a == 0) return out;
    }
    if (axes.empty()) return out;
  }
}

void Summarize(const CompareVariantResult& base, CompareVariantResult* v) {
  std::vector<double> walls, users, syss;
  for (const auto& r : v->runs) {
    walls.push_back(r.wall_s);
    users.push_back(r.user_s);
    syss.push_back(r.sys_s);
    v->max_rss_mib = std::max(v->max_rss_mib, r.max_rss_mib);
  }
  if (walls.empty()) return;
  v->wall_median_s = Median(walls);
  v->wall_min_s = *std::min_element(walls.begin(), walls.end());
  v->wall_max_s = *std::max_element(walls.begin(), walls.end());
  v->user_median_s = Median(users);
  v->sys_median_s = Median(syss);
  v->cpu_utilisation =
      v->wall_median_s > 0 ? (v->user_median_s + v->sys_median_s) / v->wall_median_s : 0;
  v->mb_per_s = v->wall_median_s > 0 ? static_cast<double>(v->bytes) / 1e6 / v->wall_median_s : 0;
  v->lines_per_s = v->wall_median_s > 0 ? static_cast<double>(v->lines) / v->wall_median_s : 0;
  // Paired: the same round of the first variant and of this one ran next to each other.
  std::vector<double> ratios;
  for (const auto& r : v->runs) {
    for (const auto& b : base.runs) {
      if (b.round == r.round && r.wall_s > 0) ratios.push_back(b.wall_s / r.wall_s);
    }
  }
  if (!ratios.empty()) {
    v->speedup = Median(ratios);
    v->speedup_min = *std::min_element(ratios.begin(), ratios.end());
    v->speedup_max = *std::max_element(ratios.begin(), ratios.end());
  }
  v->efficiency = v->workers > 0 ? v->speedup * base.workers / v->workers : 0;
}

std::string Advise(const CompareResult& result) {
  std::vector<const CompareVariantResult*> good;
  std::string excluded;
  for (const auto& v : result.variants) {
    if (v.failed || v.output_differs || v.runs.empty()) {
      excluded += (excluded.empty() ? "" : "; ") + v.variant.name + " (" +
                  (v.failed ? "failed" : v.output_differs ? "output differs" : "no runs") + ")";
    } else {
      good.push_back(&v);
    }
  }
  std::string out;
  if (good.empty()) {
    return "No variant can be recommended: " + excluded + ".";
  }
  const CompareVariantResult& base = result.variants[0];
  const CompareVariantResult* fastest = good[0];
  for (const auto* v : good) {
    if (v->wall_median_s < fastest->wall_median_s) fastest = v;
  }
  if (fastest == &base) {
    out += "Fastest: " + base.variant.name + " itself (" + Fixed(base.wall_median_s, 3) +
           " s median); no variant beat the first.";
  } else {
    out += "Fastest: " + fastest->variant.name + ", " + Fixed(fastest->wall_median_s, 3) +
           " s median, " + Fixed(fastest->speedup, 2) + "x " + base.variant.name +
           " (paired, range " + Fixed(fastest->speedup_min, 2) + "-" +
           Fixed(fastest->speedup_max, 2) + "x), " + Fixed(fastest->efficiency * 100, 0) +
           "% parallel efficiency at " + std::to_string(fastest->workers) + " worker" +
           (fastest->workers == 1 ? "" : "s") + ".";
    // Noise: the runs of the two overlap.
    if (fastest->wall_max_s >= base.wall_min_s && base.wall_max_s >= fastest->wall_min_s &&
        base.runs.size() > 1) {
      out += " Its runs overlap with " + base.variant.name +
             "'s (min-max), so the difference is within run-to-run noise: measure again "
             "(--repeat) before choosing.";
    }
  }
  // Why: how the busiest role ran in the first variant and in the fastest.
  auto busiest = [](const CompareVariantResult& v) -> const CompareStage* {
    const CompareStage* best = nullptr;
    for (const auto& st : v.stages) {
      if (!best || st.busy_s > best->busy_s) best = &st;
    }
    return best;
  };
  if (const CompareStage* st = busiest(base)) {
    out += " In " + base.variant.name + ", " + st->role + " is " + st->bound + " (busy " +
           Fixed(st->busy_share * 100, 0) + "% of the run" +
           (st->busy_s > 0 ? ", " + Fixed(st->cpu_s / st->busy_s * 100, 0) + "% of that on CPU"
                           : std::string()) +
           ")";
    if (st->bound == "CPU-bound") {
      out += ": more workers on more cores help it.";
    } else if (st->bound == "CPU-bound (short of cores)") {
      out += ": its threads wait for a core " + Fixed(st->runqueue_s / st->busy_s * 100, 0) +
             "% of their busy time, so more workers than cores will not help.";
    } else if (st->bound == "I/O-bound") {
      out += ": it waits on reads or the network; more transfers in flight (fetch threads or "
             "async) help, more CPU workers do not.";
    } else {
      out += ".";
    }
  }
  if (fastest != &base) {
    for (const auto& st : fastest->stages) {
      if (st.bound == "starved (waits for input)" && st.tracks > 1) {
        out += " In " + fastest->variant.name + ", the " + std::to_string(st.tracks) + " " +
               st.role + " workers wait for input " +
               Fixed(st.wait_input_s / std::max(1e-9, st.wait_input_s + st.busy_s) * 100, 0) +
               "% of their time: reading is the next limit.";
        break;
      }
    }
  }
  // Memory: a variant nearly as fast with less memory.
  const CompareVariantResult* lean = nullptr;
  for (const auto* v : good) {
    if (v == fastest || v->wall_median_s > fastest->wall_median_s * 1.10) continue;
    if (v->max_rss_mib + 10 < fastest->max_rss_mib && (!lean || v->max_rss_mib < lean->max_rss_mib)) {
      lean = v;
    }
  }
  if (lean) {
    out += " " + lean->variant.name + " is within " +
           Fixed((lean->wall_median_s / fastest->wall_median_s - 1) * 100, 0) +
           "% of the fastest and uses " + Fixed(fastest->max_rss_mib - lean->max_rss_mib, 0) +
           " MiB less (peak RSS).";
  }
  for (const auto* v : good) {
    if (!v->has_processes) continue;
    out += " " + v->variant.name + " paid " + Fixed(v->fork_s * 1000, 1) +
           " ms to fork its shards and received " + MiB(static_cast<double>(v->partial_bytes)) +
           " of aggregate partials back.";
    break;
  }
  out += " Every variant compared gave the same output";
  out += excluded.empty() ? "." : " except: " + excluded + " (never recommended).";
  return out;
}

Status RunComparison(const CompareOptions& options, CompareResult* result) {
  if (options.variants.empty()) return UsageError("--compare needs at least one variant");
  if (options.repeat < 1 || options.warmup < 0) {
    return UsageError("--repeat must be at least 1 and --warmup at least 0");
  }
  const std::string self = options.self_binary.empty() ? "/proc/self/exe" : options.self_binary;
  char tmpl[] = "/tmp/logpipe-compare-XXXXXX";
  const char* root_c = mkdtemp(tmpl);
  if (root_c == nullptr) return CantCreateError("cannot create a temp directory under /tmp");
  const std::string root = root_c;

  result->started = NowIso();
  result->repeat = options.repeat;
  result->warmup = options.warmup;
  result->cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  result->load_before = LoadAverages();
  result->variants.clear();
  for (const auto& v : options.variants) {
    CompareVariantResult r;
    r.variant = v;
    result->variants.push_back(std::move(r));
  }

  std::map<std::string, uint64_t> reference_files;
  bool have_reference = false;
  const int total_rounds = options.warmup + options.repeat;
  for (int round = 0; round < total_rounds; ++round) {
    const bool counted = round >= options.warmup;
    const bool timeline_run = round == total_rounds - 1;
    for (size_t i = 0; i < result->variants.size(); ++i) {
      CompareVariantResult& v = result->variants[i];
      if (v.failed) continue;
      const std::string dir = root + "/v" + std::to_string(i) + "-r" + std::to_string(round);
      fs::create_directories(dir + "/out");
      std::vector<std::string> argv = {self, "--config", v.variant.config};
      for (const auto& set : v.variant.sets) {
        argv.push_back("--set");
        argv.push_back(set);
      }
      argv.insert(argv.end(), {"--quiet", "--redirect-outputs", dir + "/out", "--stats-json",
                               dir + "/stats.json"});
      const std::string trace = root + "/v" + std::to_string(i) + ".trace.json";
      if (timeline_run) argv.insert(argv.end(), {"--trace", trace});
      CompareRun run = RunChild(argv, dir + "/stdout", dir + "/stderr");
      run.round = round - options.warmup;
      if (!options.quiet) {
        std::fprintf(stderr, "logpipe compare: %s %d/%d %-28s %7.3f s%s\n",
                     counted ? "round" : "warm-up", counted ? round - options.warmup + 1 : round + 1,
                     counted ? options.repeat : options.warmup, v.variant.name.c_str(), run.wall_s,
                     run.exit_code == 0 ? "" : "  FAILED");
      }
      if (run.exit_code != 0) {
        v.failed = true;
        v.problem = "exit " + std::to_string(run.exit_code) + ": " +
                    ReadTail(dir + "/stderr", 400);
        fs::remove_all(dir);
        continue;
      }
      std::map<std::string, uint64_t> files = DigestOutputs(dir + "/out", &run.digest);
      if (!have_reference) {
        reference_files = files;
        have_reference = true;
      } else if (files != reference_files && !v.output_differs) {
        v.output_differs = true;
        std::string which;
        for (const auto& [name, digest] : reference_files) {
          auto it = files.find(name);
          if (it == files.end() || it->second != digest) which += (which.empty() ? "" : ", ") + name;
        }
        for (const auto& [name, digest] : files) {
          if (!reference_files.count(name)) which += (which.empty() ? "" : ", ") + name;
        }
        v.problem = "output differs from " + result->variants[0].variant.name + "'s: " + which;
      }
      if (counted) {
        v.runs.push_back(run);
        ReadStats(dir + "/stats.json", &v, &result->job);
      }
      if (timeline_run) ReadTimeline(trace, &v);
      fs::remove_all(dir);
    }
  }
  result->load_after = LoadAverages();
  for (auto& v : result->variants) Summarize(result->variants[0], &v);
  result->ok = true;
  std::string problems;
  for (const auto& v : result->variants) {
    if (v.failed || v.output_differs) {
      result->ok = false;
      problems += (problems.empty() ? "" : "; ") + v.variant.name + ": " + v.problem;
    }
  }
  result->advice = Advise(*result);

  Status written = Status::Ok();
  if (!options.out_dir.empty()) {
    std::error_code ec;
    fs::create_directories(options.out_dir + "/traces", ec);
    const std::pair<std::string, std::string> files[] = {
        {"compare.json", FormatCompareJson(*result)},
        {"compare.csv", FormatCompareCsv(*result)},
        {"compare.html", FormatCompareHtml(*result)}};
    for (const auto& [name, bytes] : files) {
      Result<AtomicFile> file = AtomicFile::Create(options.out_dir + "/" + name);
      if (!file.ok()) {
        written = file.status();
        break;
      }
      Status st = file->Append(bytes);
      if (st.ok()) st = file->Commit();
      if (!st.ok()) {
        written = st;
        break;
      }
    }
    for (size_t i = 0; i < result->variants.size() && written.ok(); ++i) {
      const std::string from = root + "/v" + std::to_string(i) + ".trace.json";
      if (!fs::exists(from)) continue;
      std::string safe = result->variants[i].variant.name;
      for (char& c : safe) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
      }
      fs::copy_file(from, options.out_dir + "/traces/" + std::to_string(i + 1) + "-" + safe +
                              ".trace.json",
                    fs::copy_options::overwrite_existing, ec);
    }
  }
  fs::remove_all(root);
  if (!result->ok) {
    return InternalError("the variants do not agree, so none is a winner: " + problems +
                         ". A variant that gives a different output is a bug: report it with "
                         "the configs");
  }
  return written;
}

std::string FormatCompareTable(const CompareResult& result) {
  std::vector<std::vector<std::string>> rows = {
      {"variant", "wall (median, min-max)", "CPU user+sys", "cores", "peak RSS", "MB/s",
       "lines/s", "speedup (paired)", "efficiency", "notes"}};
  for (const auto& v : result.variants) {
    std::string notes = v.failed ? "FAILED" : v.output_differs ? "OUTPUT DIFFERS" : "";
    if (v.has_processes) {
      notes += (notes.empty() ? "" : "; ") + std::string("fork ") + Fixed(v.fork_s * 1000, 1) +
               " ms, partials " + MiB(static_cast<double>(v.partial_bytes));
    }
    if (v.runs.empty()) {
      rows.push_back({v.variant.name, "-", "-", "-", "-", "-", "-", "-", "-", notes});
      continue;
    }
    rows.push_back({v.variant.name,
                    Fixed(v.wall_median_s, 3) + " s (" + Fixed(v.wall_min_s, 3) + "-" +
                        Fixed(v.wall_max_s, 3) + ")",
                    Fixed(v.user_median_s + v.sys_median_s, 2) + " s",
                    Fixed(v.cpu_utilisation, 2),
                    Fixed(v.max_rss_mib, 1) + " MiB",
                    Fixed(v.mb_per_s, 0),
                    Fixed(v.lines_per_s / 1e6, 2) + " M",
                    Fixed(v.speedup, 2) + "x (" + Fixed(v.speedup_min, 2) + "-" +
                        Fixed(v.speedup_max, 2) + ")",
                    Fixed(v.efficiency * 100, 0) + "%",
                    notes});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string line;
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const bool left = c == 0 || c + 1 == rows[r].size();
      std::string cell = rows[r][c];
      std::string pad(width[c] - cell.size(), ' ');
      line += (c ? "  " : "") + (left ? cell + pad : pad + cell);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
    if (r == 0) {
      std::string rule;
      for (size_t c = 0; c < width.size(); ++c) rule += (c ? "  " : "") + std::string(width[c], '-');
      out += rule + "\n";
    }
  }
  out += "\nper stage (one run each; busy = share of the run its workers were working):\n";
  for (const auto& v : result.variants) {
    if (v.stages.empty()) continue;
    out += "  " + v.variant.name + ":";
    for (const auto& st : v.stages) {
      out += " " + st.role + " x" + std::to_string(st.tracks) + " busy " +
             Fixed(st.busy_share * 100, 0) + "% " + st.bound + ";";
    }
    out.back() = '\n';
  }
  out += "\n" + result.advice + "\n";
  return out;
}

std::string FormatCompareJson(const CompareResult& result) {
  nlohmann::ordered_json j;
  j["logpipe_compare"] = 1;
  j["job"] = result.job;
  j["started"] = result.started;
  j["repeat"] = result.repeat;
  j["warmup"] = result.warmup;
  j["cpus"] = result.cpus;
  j["load_before"] = result.load_before;
  j["load_after"] = result.load_after;
  j["ok"] = result.ok;
  j["advice"] = result.advice;
  j["variants"] = nlohmann::ordered_json::array();
  for (const auto& v : result.variants) {
    nlohmann::ordered_json x;
    x["name"] = v.variant.name;
    x["config"] = v.variant.config;
    x["sets"] = v.variant.sets;
    x["model"] = v.model;
    x["workers"] = v.workers;
    x["fetch_model"] = v.fetch_model;
    x["fetch_workers"] = v.fetch_workers;
    x["failed"] = v.failed;
    x["output_differs"] = v.output_differs;
    x["problem"] = v.problem;
    x["wall_median_s"] = v.wall_median_s;
    x["wall_min_s"] = v.wall_min_s;
    x["wall_max_s"] = v.wall_max_s;
    x["user_median_s"] = v.user_median_s;
    x["sys_median_s"] = v.sys_median_s;
    x["cpu_utilisation"] = v.cpu_utilisation;
    x["max_rss_mib"] = v.max_rss_mib;
    x["bytes"] = v.bytes;
    x["lines"] = v.lines;
    x["mb_per_s"] = v.mb_per_s;
    x["lines_per_s"] = v.lines_per_s;
    x["speedup"] = v.speedup;
    x["speedup_min"] = v.speedup_min;
    x["speedup_max"] = v.speedup_max;
    x["efficiency"] = v.efficiency;
    if (v.has_processes) {
      x["processes"] = {{"fork_s", v.fork_s},
                        {"partial_bytes", v.partial_bytes},
                        {"request_bytes", v.request_bytes},
                        {"result_bytes", v.result_bytes}};
    }
    x["stages"] = nlohmann::ordered_json::array();
    for (const auto& st : v.stages) {
      x["stages"].push_back({{"role", st.role},
                             {"tracks", st.tracks},
                             {"busy_s", st.busy_s},
                             {"wait_input_s", st.wait_input_s},
                             {"blocked_output_s", st.blocked_output_s},
                             {"cpu_s", st.cpu_s},
                             {"runqueue_s", st.runqueue_s},
                             {"busy_share", st.busy_share},
                             {"bound", st.bound}});
    }
    x["runs"] = nlohmann::ordered_json::array();
    for (const auto& r : v.runs) {
      char digest[17];
      std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(r.digest));
      x["runs"].push_back({{"round", r.round},
                           {"wall_s", r.wall_s},
                           {"user_s", r.user_s},
                           {"sys_s", r.sys_s},
                           {"max_rss_mib", r.max_rss_mib},
                           {"exit_code", r.exit_code},
                           {"digest", digest}});
    }
    j["variants"].push_back(std::move(x));
  }
  return j.dump(1) + "\n";
}

std::string FormatCompareCsv(const CompareResult& result) {
  std::string out =
      "variant,model,workers,fetch_model,fetch_workers,status,wall_median_s,wall_min_s,"
      "wall_max_s,user_s,sys_s,cpu_utilisation,max_rss_mib,mb_per_s,lines_per_s,speedup,"
      "speedup_min,speedup_max,efficiency\n";
  for (const auto& v : result.variants) {
    AppendCsvField(v.variant.name, &out);
    out += "," + v.model + "," + std::to_string(v.workers) + "," + v.fetch_model + "," +
           std::to_string(v.fetch_workers) + "," +
           (v.failed ? "failed" : v.output_differs ? "output_differs" : "ok");
    for (double x : {v.wall_median_s, v.wall_min_s, v.wall_max_s, v.user_median_s,
                     v.sys_median_s, v.cpu_utilisation, v.max_rss_mib, v.mb_per_s,
                     v.lines_per_s, v.speedup, v.speedup_min, v.speedup_max, v.efficiency}) {
      out += "," + Fixed(x, 6);
    }
    out += "\n";
  }
  return out;
}

}  // namespace logpipe
