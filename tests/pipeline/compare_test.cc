// Comparison mode, the parts that need no child process: variant lists, the statistics
// (speedups are the paired ratios of the measured times), the advisor and the renderings.

#include "pipeline/compare.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace logpipe {
namespace {

TEST(CompareVariants, CartesianProductFirstListSlowest) {
  Result<std::vector<CompareVariant>> v = VariantsFromSets(
      "run.yaml", {"read.chunk_bytes=1MiB"},
      {"stages.parse.exec.model=serial,threads", "stages.parse.exec.workers=1,2,4"});
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_EQ(v->size(), 6u);
  EXPECT_EQ((*v)[0].name, "model=serial workers=1");
  EXPECT_EQ((*v)[1].name, "model=serial workers=2");
  EXPECT_EQ((*v)[3].name, "model=threads workers=1");
  EXPECT_EQ((*v)[5].name, "model=threads workers=4");
  const std::vector<std::string> want = {"read.chunk_bytes=1MiB", "stages.parse.exec.model=threads",
                                         "stages.parse.exec.workers=4"};
  EXPECT_EQ((*v)[5].sets, want);
  EXPECT_EQ((*v)[5].config, "run.yaml");
}

TEST(CompareVariants, SameLastKeyUsesTheFullKeyAndBadSetsAreUsageErrors) {
  Result<std::vector<CompareVariant>> v = VariantsFromSets(
      "run.yaml", {}, {"stages.parse.exec.model=serial,tbb", "stages.fetch.exec.model=async"});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)[1].name, "stages.parse.exec.model=tbb stages.fetch.exec.model=async");
  for (const char* bad : {"stages.parse.exec.model", "=a,b", "k=", "k=a,,b"}) {
    Result<std::vector<CompareVariant>> r = VariantsFromSets("run.yaml", {}, {bad});
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kUsage) << bad;
  }
  Result<std::vector<CompareVariant>> one = VariantsFromSets("dir/job.yaml", {}, {});
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].name, "job");
}

CompareVariantResult Variant(const std::string& name, int workers,
                             const std::vector<double>& walls, double rss = 50) {
  CompareVariantResult v;
  v.variant.name = name;
  v.model = workers == 1 ? "serial" : "threads";
  v.workers = workers;
  v.bytes = 100'000'000;
  v.lines = 400'000;
  for (size_t i = 0; i < walls.size(); ++i) {
    CompareRun r;
    r.round = static_cast<int>(i);
    r.wall_s = walls[i];
    r.user_s = walls[i] * workers * 0.9;
    r.sys_s = 0.1;
    r.max_rss_mib = rss;
    v.runs.push_back(r);
  }
  return v;
}

TEST(CompareSummary, SpeedupIsTheMedianOfPairedRatios) {
  CompareVariantResult base = Variant("serial", 1, {2.0, 2.2, 1.8, 2.4, 2.0});
  CompareVariantResult fast = Variant("threads x2", 2, {1.0, 1.0, 1.2, 1.2, 0.8});
  Summarize(base, &base);
  Summarize(base, &fast);
  // Ratios per round: 2.0, 2.2, 1.5, 2.0, 2.5 -> median 2.0, min 1.5, max 2.5.
  EXPECT_DOUBLE_EQ(fast.speedup, 2.0);
  EXPECT_DOUBLE_EQ(fast.speedup_min, 1.5);
  EXPECT_DOUBLE_EQ(fast.speedup_max, 2.5);
  EXPECT_DOUBLE_EQ(fast.efficiency, 1.0);  // 2.0x on 2 workers against 1
  EXPECT_DOUBLE_EQ(fast.wall_median_s, 1.0);
  EXPECT_DOUBLE_EQ(fast.wall_min_s, 0.8);
  EXPECT_DOUBLE_EQ(fast.wall_max_s, 1.2);
  EXPECT_DOUBLE_EQ(fast.mb_per_s, 100.0);
  EXPECT_DOUBLE_EQ(fast.lines_per_s, 400'000.0);
  EXPECT_DOUBLE_EQ(fast.cpu_utilisation, (1.0 * 2 * 0.9 + 0.1) / 1.0);
  EXPECT_DOUBLE_EQ(base.speedup, 1.0);
  // The median of the ratios, not the ratio of the medians (2.0 / 1.0 here too, so check a
  // case where they differ).
  CompareVariantResult odd = Variant("odd", 2, {1.0, 2.2, 0.9, 1.2, 2.0});
  Summarize(base, &odd);
  EXPECT_DOUBLE_EQ(odd.speedup, 2.0);  // ratios 2.0, 1.0, 2.0, 2.0, 1.0
  EXPECT_DOUBLE_EQ(odd.wall_median_s, 1.2);
  EXPECT_NE(odd.speedup, base.wall_median_s / odd.wall_median_s);
}

TEST(CompareAdvice, NeverRecommendsAWrongOrFailedVariant) {
  CompareResult result;
  result.variants.push_back(Variant("serial", 1, {2.0, 2.0, 2.0}));
  result.variants.push_back(Variant("threads x2", 2, {1.1, 1.1, 1.1}));
  result.variants.push_back(Variant("tbb x2 (wrong)", 2, {0.5, 0.5, 0.5}));
  result.variants.push_back(Variant("processes x2 (failed)", 2, {0.4}));
  result.variants[2].output_differs = true;
  result.variants[3].failed = true;
  for (auto& v : result.variants) Summarize(result.variants[0], &v);
  std::string advice = Advise(result);
  EXPECT_NE(advice.find("Fastest: threads x2"), std::string::npos) << advice;
  EXPECT_NE(advice.find("tbb x2 (wrong) (output differs)"), std::string::npos) << advice;
  EXPECT_NE(advice.find("processes x2 (failed) (failed)"), std::string::npos) << advice;
  EXPECT_NE(advice.find("never recommended"), std::string::npos) << advice;

  result.variants[0].failed = true;
  result.variants[1].output_differs = true;
  advice = Advise(result);
  EXPECT_EQ(advice.rfind("No variant can be recommended", 0), 0u) << advice;
}

TEST(CompareAdvice, SaysWhenTheDifferenceIsNoise) {
  CompareResult result;
  result.variants.push_back(Variant("a", 1, {1.0, 1.3, 1.1}));
  result.variants.push_back(Variant("b", 1, {1.05, 0.95, 1.2}));
  for (auto& v : result.variants) Summarize(result.variants[0], &v);
  EXPECT_NE(Advise(result).find("run-to-run noise"), std::string::npos);
}

TEST(CompareFormats, JsonCsvAndTableCarryEveryVariant) {
  CompareResult result;
  result.job = "job \"1\"";
  result.variants.push_back(Variant("serial", 1, {2.0, 2.0}));
  result.variants.push_back(Variant("threads, x2", 2, {1.0, 1.0}));
  result.variants[1].has_processes = true;
  result.variants[1].partial_bytes = 3 << 20;
  for (auto& v : result.variants) Summarize(result.variants[0], &v);
  result.advice = Advise(result);

  nlohmann::json j = nlohmann::json::parse(FormatCompareJson(result));
  EXPECT_EQ(j["job"], "job \"1\"");
  ASSERT_EQ(j["variants"].size(), 2u);
  EXPECT_DOUBLE_EQ(j["variants"][1]["speedup"].get<double>(), 2.0);
  EXPECT_EQ(j["variants"][1]["runs"].size(), 2u);
  EXPECT_EQ(j["variants"][1]["processes"]["partial_bytes"], 3 << 20);

  const std::string csv = FormatCompareCsv(result);
  EXPECT_NE(csv.find("\"threads, x2\",threads,2"), std::string::npos) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);

  const std::string table = FormatCompareTable(result);
  EXPECT_NE(table.find("2.00x"), std::string::npos) << table;
  EXPECT_NE(table.find("partials 3.0 MiB"), std::string::npos) << table;
  EXPECT_NE(table.find(result.advice), std::string::npos);
}

}  // namespace
}  // namespace logpipe
