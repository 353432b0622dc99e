// Results never depend on the execution model: every configs/*.yaml job runs on its sample
// data under every model x workers {1, 2, 4} x chunk size {one line, 64 KiB, default}, and every
// output file (reports, records, rejects) must be byte-identical to the serial run's. One-line
// chunks put a chunk boundary between every two lines (with multi-line events, between every
// two events: configs/kafka_traces.yaml, laravel_exceptions.yaml, which also truncates events).
// A records output of every field is added to each job so record order is checked too. This test also runs under ThreadSanitizer
// (scripts/test.sh), without the tbb variants there: Debian's libtbb is not built with TSan,
// so TSan cannot see the synchronisation inside TBB and reports every serial filter's state
// as a race (a false positive); the threads executor uses only instrumented std:: primitives.
// Jobs that read URLs (configs/fetch_urls.yaml) get data/sample served by the loopback test
// server and cycle through the fetch models (serial, threads, async) too; they are skipped
// under TSan, where libcurl and httplib are not instrumented.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "pipeline/config_yaml.h"
#include "pipeline/job.h"
#include "pipeline/plan.h"
#include "tests/support/http_test_server.h"
#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

namespace fs = std::filesystem;

struct Variant {
  std::string model;
  int workers;
  uint64_t chunk_bytes;  // 0: the config's own
  ExecModel fetch;       // for jobs with URL inputs
  std::string Name() const {
    return model + "x" + std::to_string(workers) + "/chunk=" +
           (chunk_bytes ? std::to_string(chunk_bytes) : std::string("default")) + "/fetch=" +
           ExecModelName(fetch);
  }
};

#if defined(__SANITIZE_THREAD__)
constexpr bool kUnderTsan = true;
#else
constexpr bool kUnderTsan = false;
#endif

std::vector<Variant> Variants() {
  const ExecModel kFetch[] = {ExecModel::kSerial, ExecModel::kThreads, ExecModel::kAsync};
  std::vector<Variant> out;
  for (uint64_t chunk : {uint64_t{1}, uint64_t{64} << 10, uint64_t{0}}) {
    out.push_back({"serial", 1, chunk, kFetch[out.size() % 3]});
    for (const char* model : {"threads", "tbb", "processes"}) {
      if (kUnderTsan && std::string(model) == "tbb") continue;
      for (int workers : {1, 2, 4}) out.push_back({model, workers, chunk, kFetch[out.size() % 3]});
    }
  }
  return out;
}

// data/sample over HTTP, for the jobs that read URLs (they name http://127.0.0.1:8000/FILE).
constexpr const char kSampleUrlPrefix[] = "http://127.0.0.1:8000/";

testing::HttpTestServer& SampleServer() {
  static testing::HttpTestServer server;  // stopped and joined at exit
  static const bool started = [] {
    server.ServeDirectory("/", testing::SourcePath("data/sample"));
    return server.Start();
  }();
  EXPECT_TRUE(started);
  return server;
}

bool ReadsUrls(const Config& config) {
  for (const auto& input : config.inputs) {
    if (!input.url.empty() || !input.urls_from.empty()) return true;
  }
  return false;
}

// Runs `config_path` under `variant` with every output redirected into `dir`; returns the
// bytes of every output file by name. Without `line_numbers` the added records output has no
// "_line", the rejects file is dropped and on_mismatch: reject becomes count, so that model
// processes lets its shards cut plain files into ranges (pipeline/executor_processes.h).
std::map<std::string, std::string> RunVariant(const std::string& config_path,
                                              const Variant& variant, const std::string& dir,
                                              bool line_numbers = true) {
  std::vector<std::string> sets = {"stages.parse.exec.model=" + variant.model,
                                   "stages.parse.exec.workers=" + std::to_string(variant.workers)};
  if (variant.chunk_bytes) sets.push_back("read.chunk_bytes=" + std::to_string(variant.chunk_bytes));
  Result<Config> config = LoadConfigFile(config_path, sets);
  EXPECT_TRUE(config.ok()) << config.status().message();
  if (!config.ok()) return {};
  for (auto& stage : config->stages) {  // later stages follow the first stage's model
    stage.has_exec = stage.has_exec && &stage == &config->stages[0];
  }
  if (ReadsUrls(*config)) {
    for (auto& input : config->inputs) {
      if (input.url.rfind(kSampleUrlPrefix, 0) != 0) continue;
      input.url = SampleServer().url(input.url.substr(sizeof(kSampleUrlPrefix) - 1));
    }
    config->fetch.has_exec = true;
    config->fetch.exec.model = variant.fetch;
    config->fetch.exec.workers = variant.fetch == ExecModel::kSerial ? 1 : 2;
  }
  int n = 0;
  for (auto& out : config->outputs) out.path = dir + "/out" + std::to_string(n++) + "." + out.format;
  if (!config->stages[0].rejects.empty()) config->stages[0].rejects = dir + "/rejects.txt";
  if (!line_numbers) {
    config->stages[0].rejects.clear();
    if (config->stages[0].on_mismatch == OnMismatch::kReject) {
      config->stages[0].on_mismatch = OnMismatch::kCount;
    }
  }
  OutputSpec records;
  records.kind = "records";
  records.format = "jsonl";
  records.line_numbers = line_numbers;
  records.path = dir + "/all_records.jsonl";
  config->outputs.push_back(records);
  if (config->outputs.size() == 1) {  // the default table would go to stdout
    OutputSpec report;
    report.path = dir + "/report.json";
    report.format = "json";
    config->outputs.push_back(report);
  }

  Result<Plan> plan = BuildPlan(std::move(config.value()));
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  if (!plan.ok()) return {};
  Result<JobResult> result = RunJob(*plan);
  EXPECT_TRUE(result.ok()) << result.status().message();
  if (result.ok() && variant.chunk_bytes == 1) {  // about one line (or multi-line event) per
    // chunk: boundaries everywhere
    EXPECT_GT(result->stats.chunks * 10, result->stats.counters.events * 9) << variant.Name();
  }
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    files[entry.path().filename().string()] = testing::ReadFile(entry.path().string());
  }
  return files;
}

class ExecMatrix : public ::testing::TestWithParam<std::string> {};

TEST_P(ExecMatrix, EveryModelWorkerCountAndChunkSizeGivesIdenticalOutputs) {
  const std::string config_path = GetParam();
  if (kUnderTsan) {
    Result<Config> config = LoadConfigFile(config_path, {});
    ASSERT_TRUE(config.ok()) << config.status().message();
    if (ReadsUrls(*config)) GTEST_SKIP() << "reads URLs: libcurl and httplib are not built with TSan";
  }
  testing::TempDir base;
  std::map<std::string, std::string> reference;
  bool first = true;
  const std::vector<Variant> variants = Variants();
  for (size_t v = 0; v < variants.size(); ++v) {
    const Variant& variant = variants[v];
    const std::string dir = base.path() + "/" + std::to_string(v);
    fs::create_directories(dir);
    std::map<std::string, std::string> files = RunVariant(config_path, variant, dir);
    if (first) {
      reference = files;
      ASSERT_FALSE(reference.empty());
      ASSERT_FALSE(reference["all_records.jsonl"].empty()) << "no records: a weak check";
      first = false;
      continue;
    }
    ASSERT_EQ(files.size(), reference.size()) << variant.Name();
    for (const auto& [name, bytes] : reference) {
      EXPECT_TRUE(files[name] == bytes) << config_path << ": " << name << " differs under "
                                        << variant.Name();
    }
    fs::remove_all(dir);
  }
}

// The same without line numbers, for serial and processes only: then processes' shards read
// and cut byte ranges of the plain inputs themselves (for jobs without multi-line events or
// on_mismatch: fail), and one-line chunks put range boundaries inside and between lines.
TEST_P(ExecMatrix, ProcessesShardsCuttingRangesGiveIdenticalOutputs) {
  const std::string config_path = GetParam();
  if (kUnderTsan) GTEST_SKIP() << "no threads involved; the variants above run under TSan";
  testing::TempDir base;
  std::map<std::string, std::string> reference;
  std::vector<Variant> variants = {{"serial", 1, 1, ExecModel::kSerial}};
  for (uint64_t chunk : {uint64_t{1}, uint64_t{64} << 10, uint64_t{0}}) {
    for (int workers : {1, 2, 4}) {
      variants.push_back({"processes", workers, chunk, ExecModel::kSerial});
    }
  }
  for (size_t v = 0; v < variants.size(); ++v) {
    const Variant& variant = variants[v];
    const std::string dir = base.path() + "/" + std::to_string(v);
    fs::create_directories(dir);
    std::map<std::string, std::string> files =
        RunVariant(config_path, variant, dir, /*line_numbers=*/false);
    if (v == 0) {
      reference = files;
      ASSERT_FALSE(reference["all_records.jsonl"].empty()) << "no records: a weak check";
      continue;
    }
    ASSERT_EQ(files.size(), reference.size()) << variant.Name();
    for (const auto& [name, bytes] : reference) {
      EXPECT_TRUE(files[name] == bytes) << config_path << ": " << name << " differs under "
                                        << variant.Name();
    }
    fs::remove_all(dir);
  }
}

std::vector<std::string> ShippedConfigs() {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator("configs")) {
    if (entry.path().extension() == ".yaml") out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

INSTANTIATE_TEST_SUITE_P(Configs, ExecMatrix, ::testing::ValuesIn(ShippedConfigs()),
                         [](const auto& info) {
                           std::string name = fs::path(info.param).stem().string();
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace logpipe
