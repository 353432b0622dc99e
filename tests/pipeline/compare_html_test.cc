// FormatCompareHtml: the self-contained comparison report. Checks the page's structure on a
// hand-made result (escaping, chart ids, failed and different variants marked, size bounded
// with huge timelines), then loads it in headless Chromium: it must load without console
// errors and show the charts.

#include "pipeline/compare_html.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "io/text_escape.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

namespace logpipe {
namespace {

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// A plausible run: a reader, `workers` workers taking chunks round-robin, a deliverer.
std::vector<TimelineTrack> MakeTimeline(int workers, int chunks, double read_s, double work_s,
                                        double setup_s) {
  std::vector<TimelineTrack> tracks;
  TimelineTrack reader{"reader", {}};
  std::vector<TimelineTrack> ws;
  for (int w = 0; w < workers; ++w) {
    ws.push_back({"worker " + std::to_string(w + 1), {{"setup", 0, setup_s}}});
  }
  TimelineTrack deliver{"deliverer", {}};
  std::vector<double> free_at(workers, setup_s);
  double t = 0, last_delivered = 0;
  for (int i = 0; i < chunks; ++i) {
    reader.spans.push_back({"read", t, t + read_s});
    double ready = t + read_s;
    int w = i % workers;
    // The reader blocks when the worker that takes this chunk is still busy.
    if (free_at[w] > ready) {
      reader.spans.push_back({"blocked on output", ready, free_at[w]});
      ready = free_at[w];
    }
    if (ready > free_at[w]) ws[w].spans.push_back({"wait for input", free_at[w], ready});
    ws[w].spans.push_back({"work", ready, ready + work_s});
    free_at[w] = ready + work_s;
    double d0 = std::max(free_at[w], last_delivered);
    deliver.spans.push_back({"deliver", d0, d0 + work_s * 0.05});
    last_delivered = d0 + work_s * 0.05;
    t = ready;
  }
  double end = *std::max_element(free_at.begin(), free_at.end());
  ws[0].spans.push_back({"merge", end, end + work_s * 0.5});
  tracks.push_back(reader);
  for (auto& w : ws) tracks.push_back(w);
  tracks.push_back(deliver);
  return tracks;
}

CompareVariantResult Variant(const std::string& name, const std::string& model, int workers,
                             double wall, double speedup) {
  CompareVariantResult v;
  v.variant.name = name;
  v.variant.config = "configs/nginx_errors.yaml";
  v.variant.sets = {"stages.parse.exec.model=" + model,
                    "stages.parse.exec.workers=" + std::to_string(workers)};
  v.model = model;
  v.workers = workers;
  for (int round = 0; round < 5; ++round) {
    CompareRun run;
    run.round = round;
    run.wall_s = wall * (1 + 0.02 * (round - 2));
    run.user_s = wall * 0.9 * workers;
    run.sys_s = wall * 0.05;
    run.max_rss_mib = 40 + 8 * workers;
    run.digest = 0x1234;
    v.runs.push_back(run);
  }
  v.wall_median_s = wall;
  v.wall_min_s = wall * 0.96;
  v.wall_max_s = wall * 1.04;
  v.user_median_s = wall * 0.9 * workers;
  v.sys_median_s = wall * 0.05;
  v.cpu_utilisation = 0.95 * workers;
  v.max_rss_mib = 40 + 8 * workers;
  v.bytes = 512ull << 20;
  v.lines = 4'200'000;
  v.mb_per_s = 512 / wall * 1.048576;
  v.lines_per_s = 4.2e6 / wall;
  v.speedup = speedup;
  v.speedup_min = speedup * 0.95;
  v.speedup_max = speedup * 1.05;
  v.efficiency = speedup / workers;
  v.stages = {
      {"read", 1, wall * 0.2, wall * 0.01, wall * 0.7, wall * 0.15, 0, 0.2, "light"},
      {"parse -> aggregate", workers, wall * 0.85 * workers, wall * 0.1 * workers, 0,
       wall * 0.8 * workers, 0, 0.85, "CPU-bound"},
      {"deliver", 1, wall * 0.05, wall * 0.9, 0, wall * 0.04, 0, 0.05,
       "starved (waits for input)"},
  };
  int chunks = 40;
  double work = wall / chunks * workers * 0.95;
  v.timeline = MakeTimeline(workers, chunks, work / workers * 0.15, work,
                            model == "processes" ? wall * 0.03 : wall * 0.002);
  return v;
}

// What a real comparison of four models looks like (used for the screenshot too).
CompareResult RealisticResult() {
  CompareResult r;
  r.job = "nginx_errors";
  r.started = "2026-12-02T12:30:00";
  r.repeat = 5;
  r.warmup = 1;
  r.cpus = 2;
  r.load_before = {0.31, 0.42, 0.40};
  r.load_after = {1.85, 0.77, 0.52};
  r.variants.push_back(Variant("model=serial workers=1", "serial", 1, 2.41, 1));
  r.variants.push_back(Variant("model=threads workers=1", "threads", 1, 2.46, 0.98));
  r.variants.push_back(Variant("model=threads workers=2", "threads", 2, 1.32, 1.83));
  r.variants.push_back(Variant("model=tbb workers=2", "tbb", 2, 1.36, 1.77));
  auto p = Variant("model=processes workers=2", "processes", 2, 1.52, 1.59);
  p.has_processes = true;
  p.fork_s = 0.0042;
  p.partial_bytes = 3'400'000;
  p.request_bytes = 9'800;
  p.result_bytes = 3'900'000;
  p.max_rss_mib = 61;
  r.variants.push_back(p);
  r.advice =
      "threads with 2 workers is fastest: 1.83\u00d7 the serial run (1.74\u20131.92 over 5 "
      "rounds), 91% efficient; parsing is CPU-bound and both CPUs are busy, so more workers "
      "would not help on this machine. tbb is within 3%. processes pays 4.2 ms of fork and "
      "3.4 MB of partial aggregates for nothing here.";
  r.ok = true;
  return r;
}

// Everything that can go wrong: a failed variant, one whose output differs, hostile names.
CompareResult TroubledResult() {
  CompareResult r = RealisticResult();
  r.job = "job <b>\"bold\"</b> & co";
  auto& differs = r.variants[3];
  differs.variant.name = "<script>alert('x')</script>";
  differs.output_differs = true;
  differs.problem = "outputs differ from model=serial workers=1's: out/report.json (1.2 KB vs 1.3 KB)";
  CompareVariantResult broken;
  broken.variant.name = "model=threads workers=4";
  broken.variant.config = "configs/nginx_errors.yaml";
  broken.model = "threads";
  broken.workers = 4;
  broken.failed = true;
  broken.problem = "run 1 exited with status 70: parse: <unexpected> \"quote\"";
  r.variants.push_back(broken);
  r.ok = false;
  r.advice = "Recommend threads \u00d72 <not tbb> & never a variant whose output differs.";
  return r;
}

TEST(CompareHtml, EscapesTextForHtml) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("plain text, tab\tand newline\n"), "plain text, tab\tand newline\n");
  EXPECT_EQ(HtmlEscape("caf\xc3\xa9 \xe2\x86\x92"), "caf\xc3\xa9 \xe2\x86\x92");  // valid UTF-8
  EXPECT_EQ(HtmlEscape("bad \xff\xc3 byte \x01"), "bad \\xFF\\xC3 byte \\x01");
  EXPECT_EQ(HtmlEscape(std::string("nul\0", 4)), "nul\\x00");
  EXPECT_TRUE(IsValidUtf8(HtmlEscape("\xed\xa0\x80 surrogate")));
}

TEST(CompareHtml, FormatsThreeSignificantDigits) {
  EXPECT_EQ(FormatSignificant(0.0012345), "0.00123");
  EXPECT_EQ(FormatSignificant(12.345), "12.3");
  EXPECT_EQ(FormatSignificant(1.5), "1.50");
  EXPECT_EQ(FormatSignificant(123.4), "123");
  EXPECT_EQ(FormatSignificant(12345), "12345");
  EXPECT_EQ(FormatSignificant(9.996), "10.0");
  EXPECT_EQ(FormatSignificant(0), "0");
  EXPECT_EQ(FormatSignificant(-2.5), "-2.50");
  EXPECT_EQ(FormatSignificant(-0.00000001, 1), "-0.00000001");
  EXPECT_EQ(FormatSignificant(std::nan("")), "-");
}

TEST(CompareHtml, PageIsSelfContainedWellFormedAndEscaped) {
  std::string page = FormatCompareHtml(TroubledResult());
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("</html>"), std::string::npos);
  EXPECT_TRUE(IsValidUtf8(page));
  for (const char* tag : {"svg", "table", "section", "g", "text", "p", "div", "ul", "tr"}) {
    EXPECT_EQ(Count(page, std::string("<") + tag + ">") + Count(page, std::string("<") + tag + " "),
              Count(page, std::string("</") + tag + ">"))
        << tag;
  }
  // Nothing executable, nothing fetched.
  std::string lower = Lower(page);
  EXPECT_EQ(lower.find("<script"), std::string::npos);
  EXPECT_EQ(lower.find("javascript:"), std::string::npos);
  EXPECT_EQ(lower.find("http://"), lower.find("http://www.w3.org/2000/svg"));
  EXPECT_EQ(lower.find("https://"), std::string::npos);
  EXPECT_EQ(lower.find("<link"), std::string::npos);
  EXPECT_EQ(lower.find("<img"), std::string::npos);
  EXPECT_EQ(lower.find("@import"), std::string::npos);
  EXPECT_NE(page.find("Content-Security-Policy"), std::string::npos);
  // Hostile names arrive escaped, wherever they are used.
  EXPECT_GE(Count(page, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), 3u);
  EXPECT_NE(page.find("job &lt;b&gt;&quot;bold&quot;&lt;/b&gt; &amp; co"), std::string::npos);
  EXPECT_NE(page.find("parse: &lt;unexpected&gt; &quot;quote&quot;"), std::string::npos);
  EXPECT_EQ(page.find("<b>\"bold\""), std::string::npos);
}

TEST(CompareHtml, HasEveryChartTableAndTheAdvice) {
  CompareResult result = TroubledResult();
  std::string page = FormatCompareHtml(result);
  for (const char* id : {"summary", "chart-wall", "chart-speedup", "advice", "problems"}) {
    EXPECT_NE(page.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  }
  for (size_t i = 0; i < result.variants.size(); ++i) {
    std::string n = std::to_string(i);
    EXPECT_NE(page.find("id=\"variant-" + n + "\""), std::string::npos) << i;
    bool has_timeline = !result.variants[i].timeline.empty();
    EXPECT_EQ(page.find("id=\"timeline-" + n + "\"") != std::string::npos, has_timeline) << i;
    EXPECT_EQ(page.find("id=\"stages-" + n + "\"") != std::string::npos, has_timeline) << i;
  }
  // Every chart is labelled for screen readers.
  EXPECT_EQ(Count(page, "<svg "), Count(page, "role=\"img\""));
  EXPECT_EQ(Count(page, "<svg "), Count(page, "aria-label=\""));
  // The advice, escaped, after the last chart.
  size_t advice = page.find("Recommend threads \u00d72 &lt;not tbb&gt; &amp; never");
  ASSERT_NE(advice, std::string::npos);
  EXPECT_GT(advice, page.rfind("</svg>"));
  // Units and the processes costs.
  for (const char* header : {"median wall (s, min\u2013max)", "peak RSS (MiB)", "MB/s", "lines/s",
                             "efficiency (%)", "processes costs"}) {
    EXPECT_NE(page.find(header), std::string::npos) << header;
  }
  EXPECT_NE(page.find("fork 4.20 ms<br>partials 3.24 MiB<br>requests 9.57 KiB<br>results 3.72 MiB"),
            std::string::npos);
  // The legend names the kinds of spans drawn.
  for (const char* kind : {"work", "read", "deliver", "wait for input", "blocked on output",
                           "merge", "setup"}) {
    EXPECT_NE(page.find(std::string(">") + kind + "</text>"), std::string::npos) << kind;
  }
}

TEST(CompareHtml, MarksFailedAndDifferentVariants) {
  std::string page = FormatCompareHtml(TroubledResult());
  size_t banner = page.find("id=\"problems\"");
  ASSERT_NE(banner, std::string::npos);
  size_t banner_end = page.find("</div>", banner);
  std::string b = page.substr(banner, banner_end - banner);
  EXPECT_NE(b.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</strong>: output differs"),
            std::string::npos);
  EXPECT_NE(b.find("model=threads workers=4</strong>: failed"), std::string::npos);
  EXPECT_EQ(b.find("model=serial"), b.find("model=serial workers=1&#39;s"));  // only in a problem
  EXPECT_EQ(Count(page, "<tr class=\"bad\">"), 2u);
  // The wall chart draws the different variant hatched and labels both.
  size_t wall = page.find("id=\"chart-wall\"");
  std::string chart = page.substr(wall, page.find("</svg>", wall) - wall);
  EXPECT_EQ(Count(chart, "fill=\"url(#hatch-wall)\""), 1u);
  EXPECT_NE(chart.find("\u2014 output differs</text>"), std::string::npos);
  EXPECT_NE(chart.find(">failed</text>"), std::string::npos);
  // And the speedup chart keeps it off the lines, as a hollow marker.
  size_t speedup = page.find("id=\"chart-speedup\"");
  std::string sc = page.substr(speedup, page.find("</svg>", speedup) - speedup);
  EXPECT_EQ(Count(sc, "fill=\"#fff\" stroke=\"#c92a2a\""), 2u);  // the marker and its legend
  EXPECT_NE(sc.find("failed / output differs"), std::string::npos);
}

TEST(CompareHtml, AllGoodHasNoBannerAndDrawsEverySeries) {
  CompareResult result = RealisticResult();
  std::string page = FormatCompareHtml(result);
  EXPECT_EQ(page.find("id=\"problems\""), std::string::npos);
  EXPECT_EQ(page.find("role=\"alert\""), std::string::npos);
  EXPECT_NE(page.find("id=\"status\""), std::string::npos);
  EXPECT_EQ(page.find("hatch-wall)\""), std::string::npos);
  size_t speedup = page.find("id=\"chart-speedup\"");
  std::string sc = page.substr(speedup, page.find("</svg>", speedup) - speedup);
  EXPECT_EQ(Count(sc, "<circle "), 5u + 4u);         // 5 points, 4 legend markers
  EXPECT_EQ(Count(sc, "<polyline "), 1u);            // threads has two points
  EXPECT_EQ(Count(sc, "class=\"ideal\""), 2u);       // the line and its legend
  EXPECT_NE(page.find("Ideal: the 1-worker point's speedup"), std::string::npos);
}

TEST(CompareHtml, EmptyAndDegenerateResultsStillRender) {
  CompareResult empty;
  std::string page = FormatCompareHtml(empty);
  EXPECT_NE(page.find("id=\"chart-wall\""), std::string::npos);
  EXPECT_NE(page.find("id=\"chart-speedup\""), std::string::npos);
  EXPECT_NE(page.find("(no advice)"), std::string::npos);
  EXPECT_EQ(page.find("nan"), std::string::npos);
  EXPECT_EQ(page.find("inf"), std::string::npos);

  CompareResult odd = RealisticResult();
  odd.variants[0].timeline = {{"t", {{"work", 5, 5}, {"weird kind", 1, 2}, {"work", 3, 2}}}};
  odd.variants[1].speedup = std::nan("");
  odd.variants[1].timeline.clear();
  odd.variants[1].stages.clear();
  odd.variants[2].workers = 0;
  page = FormatCompareHtml(odd);
  EXPECT_NE(page.find("id=\"timeline-0\""), std::string::npos);
  EXPECT_NE(page.find(">other</text>"), std::string::npos);
  EXPECT_EQ(page.find("id=\"timeline-1\""), std::string::npos);
  EXPECT_NE(page.find("No activity timeline."), std::string::npos);
  EXPECT_EQ(Lower(page).find("nan"), std::string::npos);
  EXPECT_EQ(page.find("inf\""), std::string::npos);
}

TEST(CompareHtml, SizeStaysBoundedWithHugeTimelines) {
  CompareResult result = RealisticResult();
  std::string small = FormatCompareHtml(result);
  // 20,000 alternating spans on one track, and 8 tracks of 2,500 more, in one variant.
  TimelineTrack busy{"worker 1", {}};
  for (int i = 0; i < 20'000; ++i) {
    busy.spans.push_back({i % 2 ? "wait for input" : "work", i * 1e-4, (i + 1) * 1e-4});
  }
  result.variants[2].timeline = {busy};
  for (int t = 0; t < 8; ++t) {
    TimelineTrack track{"shard " + std::to_string(t), {}};
    for (int i = 0; i < 2'500; ++i) {
      track.spans.push_back({i % 3 ? "work" : "read", i * 8e-4, i * 8e-4 + 5e-4});
    }
    result.variants[2].timeline.push_back(track);
  }
  std::string page = FormatCompareHtml(result);
  size_t at = page.find("id=\"timeline-2\"");
  ASSERT_NE(at, std::string::npos);
  std::string timeline = page.substr(at, page.find("</svg>", at) - at);
  // At most one rectangle per pixel column (700) per track, plus the legend.
  EXPECT_LE(Count(timeline, "<rect "), 9u * 700u + 8u);
  EXPECT_LT(timeline.size(), 600u * 1024u);
  EXPECT_LT(page.size(), small.size() + 600u * 1024u);
  EXPECT_LT(page.size(), 1024u * 1024u);
}

// --- Headless Chromium ----------------------------------------------------------------------

constexpr char kChromium[] = "/usr/bin/chromium";

std::vector<std::string> ChromiumArgs(const testing::TempDir& dir) {
  // --no-sandbox: tests run as root in CI; a private profile so runs never share state.
  return {"/usr/bin/timeout", "90",         kChromium,
          "--headless",       "--no-sandbox", "--disable-gpu",
          "--no-first-run",   "--disable-extensions",
          "--user-data-dir=" + dir.path() + "/profile",
          "--enable-logging=stderr", "--v=0"};
}

// Lines of Chromium's stderr that are about the page. With --enable-logging=stderr, every
// message of the page's console arrives as "[pid:tid:time:INFO:CONSOLE:line] "text", source:
// file:///... (line)": script errors ("Uncaught ..."), resources that failed to load, and
// Content-Security-Policy refusals (the page forbids scripts and fetches, so anything that
// tries is logged). The page has no script, so any console line at all is a fault. Everything
// else on stderr is the browser's own noise on a headless VM (no D-Bus, no GPU, no VA-API,
// the launcher script's shell warnings) and is ignored.
std::vector<std::string> PageProblems(const std::string& err, const std::string& page_url) {
  std::vector<std::string> problems;
  std::istringstream lines(err);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos ||
        line.find(page_url) != std::string::npos) {
      problems.push_back(line);
    }
  }
  return problems;
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

TEST(CompareHtml, LoadsInHeadlessChromiumWithoutErrors) {
  if (access(kChromium, X_OK) != 0) {
    GTEST_SKIP() << kChromium << " is missing: scripts/install-deps.sh installs it (Debian "
                 << "package chromium)";
  }
  testing::TempDir dir;
  CompareResult result = TroubledResult();
  std::string page_path = dir.Write("compare.html", FormatCompareHtml(result));
  std::string url = "file://" + page_path;

  auto args = ChromiumArgs(dir);
  args.push_back("--dump-dom");
  args.push_back(url);
  testing::CommandResult run = testing::RunCommand(args);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(PageProblems(run.err, url), std::vector<std::string>{}) << JoinLines(PageProblems(run.err, url));
  // The DOM as the browser parsed it: every chart, the banner, and no script element (the
  // hostile variant name stayed text).
  const std::string& dom = run.out;
  for (std::string id : {"chart-wall", "chart-speedup", "summary", "problems", "advice"}) {
    EXPECT_NE(dom.find("id=\"" + id + "\""), std::string::npos) << id;
  }
  for (size_t i = 0; i < result.variants.size(); ++i) {
    if (result.variants[i].timeline.empty()) continue;
    EXPECT_NE(dom.find("<svg id=\"timeline-" + std::to_string(i) + "\""), std::string::npos) << i;
  }
  EXPECT_EQ(Count(dom, "<svg "), Count(dom, "</svg>"));
  EXPECT_GE(Count(dom, "<svg "), 2u + 4u);
  EXPECT_EQ(Lower(dom).find("<script"), std::string::npos);
  EXPECT_NE(dom.find("&lt;script&gt;alert('x')&lt;/script&gt;"), std::string::npos);
}

TEST(CompareHtml, ScreenshotInHeadlessChromium) {
  if (access(kChromium, X_OK) != 0) {
    GTEST_SKIP() << kChromium << " is missing: scripts/install-deps.sh installs it (Debian "
                 << "package chromium)";
  }
  testing::TempDir dir;
  std::string page_path = dir.Write("compare.html", FormatCompareHtml(RealisticResult()));
  std::string url = "file://" + page_path;
  std::string png = dir.path() + "/compare.png";
  auto args = ChromiumArgs(dir);
  args.insert(args.end(), {"--hide-scrollbars", "--window-size=1200,2000",
                           "--screenshot=" + png, url});
  testing::CommandResult run = testing::RunCommand(args);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(PageProblems(run.err, url), std::vector<std::string>{});
  std::string bytes = testing::ReadFile(png);
  ASSERT_GT(bytes.size(), 10'000u);  // a blank 1200x2000 page compresses to far less
  EXPECT_EQ(bytes.substr(0, 8), "\x89PNG\r\n\x1a\n");
  // LOGPIPE_SCREENSHOT_OUT=docs/compare-report.png refreshes the README's picture.
  if (const char* keep = std::getenv("LOGPIPE_SCREENSHOT_OUT"); keep && *keep) {
    std::ofstream(keep, std::ios::binary) << bytes;
  }
}

}  // namespace
}  // namespace logpipe
