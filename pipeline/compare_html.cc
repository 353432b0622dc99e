#include "pipeline/compare_html.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <vector>

#include "io/text_escape.h"

namespace logpipe {
namespace {

constexpr char kStyle[] = R"css(
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212529;
       background: #fff; max-width: 1200px; margin: 24px auto; padding: 0 16px; line-height: 1.4; }
h1 { font-size: 1.6em; margin: 0 0 .2em; }
h2 { font-size: 1.25em; margin: 1.6em 0 .4em; border-bottom: 1px solid #dee2e6; }
h3 { font-size: 1.05em; margin: 1.4em 0 .3em; }
.meta { color: #495057; margin: 0; }
.banner { background: #c92a2a; color: #fff; padding: 12px 16px; border-radius: 6px; margin: 16px 0; }
.banner ul { margin: 6px 0 0; }
.ok-banner { background: #ebfbee; border: 1px solid #2b8a3e; padding: 8px 16px; border-radius: 6px;
             margin: 16px 0; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: .88em; }
th, td { border: 1px solid #dee2e6; padding: 3px 6px; text-align: right; white-space: nowrap; }
th { background: #f1f3f5; font-weight: 600; white-space: normal; vertical-align: bottom; }
th.name, td.name { text-align: left; white-space: normal; }
tr.bad td { background: #fff5f5; }
td.costs { text-align: left; white-space: nowrap; }
.bad-text { color: #c92a2a; font-weight: 600; }
.small { color: #6c757d; font-size: .85em; }
code { background: #f1f3f5; padding: 0 3px; border-radius: 3px; }
.scroll { overflow-x: auto; }
svg { display: block; max-width: 100%; height: auto; margin: 8px 0 12px; }
svg text { font-family: inherit; font-size: 12px; fill: #212529; }
svg text.muted { fill: #6c757d; }
svg text.bad-label { fill: #c92a2a; font-weight: 600; }
.axis { stroke: #868e96; stroke-width: 1; }
.grid { stroke: #e9ecef; stroke-width: 1; }
.bar { fill: #4c6ef5; }
.whisker { stroke: #212529; stroke-width: 1.5; }
.ideal { stroke: #868e96; stroke-width: 1.5; stroke-dasharray: 6 4; fill: none; }
.series { fill: none; stroke-width: 2; }
.k0 { fill: #2b8a3e; } .k1 { fill: #1c7ed6; } .k2 { fill: #7048e8; } .k3 { fill: #dee2e6; }
.k4 { fill: #f08c00; } .k5 { fill: #c2255c; } .k6 { fill: #495057; } .k7 { fill: #0c8599; }
.k8 { fill: #a9e34b; }
#advice { white-space: pre-line; background: #f8f9fa; border-left: 4px solid #4c6ef5;
          padding: 8px 12px; }
footer { margin-top: 2em; }
)css";

// Kinds of timeline spans, in legend order; anything else is "other" (the last class).
constexpr std::array<const char*, 8> kKinds = {
    "work", "read", "deliver", "wait for input", "blocked on output", "merge", "setup", "fetch"};
constexpr int kOtherKind = 8;
constexpr int kKindClasses = 9;

constexpr std::array<const char*, 6> kSeriesColours = {"#1c7ed6", "#2b8a3e", "#e8590c",
                                                       "#7048e8", "#c2255c", "#0c8599"};

std::string Printf(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string Printf(const char* format, ...) {
  char buf[256];
  va_list args, again;
  va_start(args, format);
  va_copy(again, args);
  int n = std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  std::string s;
  if (n >= 0 && static_cast<size_t>(n) < sizeof buf) {
    s.assign(buf, static_cast<size_t>(n));
  } else if (n >= 0) {
    s.resize(static_cast<size_t>(n) + 1);
    std::vsnprintf(s.data(), s.size(), format, again);
    s.resize(static_cast<size_t>(n));
  }
  va_end(again);
  return s;
}

std::string Esc(std::string_view text) { return HtmlEscape(text); }

// A coordinate for SVG: one decimal, no trailing ".0".
std::string N(double v) {
  if (!std::isfinite(v)) v = 0;
  std::string s = Printf("%.1f", v);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

std::string Sig(double v) { return FormatSignificant(v, 3); }

std::string Duration(double s) {
  if (!std::isfinite(s)) return "-";
  double a = std::fabs(s);
  if (a == 0) return "0 s";
  if (a < 1e-3) return Sig(s * 1e6) + " \u00b5s";
  if (a < 1) return Sig(s * 1e3) + " ms";
  return Sig(s) + " s";
}

std::string Bytes(uint64_t b) {
  if (b < 1024) return Printf("%llu B", static_cast<unsigned long long>(b));
  double v = static_cast<double>(b);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  int u = -1;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  return Sig(v) + " " + units[u];
}

// 1.23 k, 4.56 M: for rates that span orders of magnitude.
std::string Si(double v) {
  if (!std::isfinite(v)) return "-";
  double a = std::fabs(v);
  if (a >= 1e9) return Sig(v / 1e9) + " G";
  if (a >= 1e6) return Sig(v / 1e6) + " M";
  if (a >= 1e3) return Sig(v / 1e3) + " k";
  return Sig(v);
}

// A "nice" tick step (1, 2 or 5 x 10^k) giving about `target` ticks over [0, range].
double NiceStep(double range, int target) {
  if (!(range > 0) || !std::isfinite(range)) return 1;
  double raw = range / target;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double norm = raw / mag;
  double step = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
  return step * mag;
}

double NiceCeil(double v, double step) { return std::ceil(v / step - 1e-9) * step; }

// A tick at a multiple of a nice step, with as many decimals as the step needs ("0.5", "2").
std::string Tick(double v, double step) {
  int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 12);
  std::string s = Printf("%.*f", decimals, v);
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

// A name for an SVG label: at most `max_chars` characters (UTF-8 aware), with an ellipsis.
std::string Truncate(const std::string& s, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (chars == max_chars - 1) {
        // Is there more than one character left?
        size_t rest = 0;
        for (size_t j = i; j < s.size(); ++j) {
          if ((static_cast<unsigned char>(s[j]) & 0xC0) != 0x80) ++rest;
        }
        if (rest > 1) return s.substr(0, i) + "\u2026";
        return s;
      }
      ++chars;
    }
  }
  return s;
}

bool IsBad(const CompareVariantResult& v) { return v.failed || v.output_differs; }

std::string StatusText(const CompareVariantResult& v) {
  if (v.failed) return "failed";
  if (v.output_differs) return "output differs";
  return "ok";
}

bool HasMeasurement(const CompareVariantResult& v) {
  return !v.runs.empty() && std::isfinite(v.wall_median_s) && v.wall_median_s > 0;
}

std::string ModelText(const CompareVariantResult& v) {
  std::string s = v.model.empty() ? "?" : v.model;
  if (v.workers != 1 || v.model != "serial") s += Printf(" \u00d7%d", v.workers);
  return s;
}

int KindIndex(const std::string& kind) {
  for (size_t i = 0; i < kKinds.size(); ++i) {
    if (kind == kKinds[i]) return static_cast<int>(i);
  }
  return kOtherKind;
}

const char* KindName(int k) { return k < static_cast<int>(kKinds.size()) ? kKinds[k] : "other"; }

// ---------------------------------------------------------------------------------------------

void AppendHeader(const CompareResult& r, std::string* out) {
  std::string title = "logpipe comparison: " + (r.job.empty() ? std::string("(unnamed job)") : r.job);
  *out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // No scripts, no fetches: a browser refuses (and logs) anything else.
  *out +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'\">\n";
  *out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  *out += "<title>" + Esc(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  *out += "<h1>" + Esc(title) + "</h1>\n<p class=\"meta\">";
  if (!r.started.empty()) *out += "Started " + Esc(r.started) + ". ";
  *out += Printf("%d counted round%s per variant after %d warm-up round%s, variants alternating. ",
                 r.repeat, r.repeat == 1 ? "" : "s", r.warmup, r.warmup == 1 ? "" : "s");
  *out += Printf("%zu variant%s. ", r.variants.size(), r.variants.size() == 1 ? "" : "s");
  if (r.cpus > 0) *out += Printf("Machine: %d CPU%s. ", r.cpus, r.cpus == 1 ? "" : "s");
  auto loads = [](const std::vector<double>& l) {
    std::string s;
    for (size_t i = 0; i < l.size(); ++i) s += (i ? " / " : "") + Printf("%.2f", l[i]);
    return s;
  };
  if (!r.load_before.empty() || !r.load_after.empty()) {
    *out += "Load average (1 / 5 / 15 min):";
    if (!r.load_before.empty()) *out += " before " + loads(r.load_before);
    if (!r.load_after.empty()) *out += std::string(r.load_before.empty() ? "" : ",") + " after " +
                                       loads(r.load_after);
    *out += ".";
  }
  *out += "</p>\n";
}

void AppendBanner(const CompareResult& r, std::string* out) {
  if (r.ok) {
    *out += "<div class=\"ok-banner\" id=\"status\">Every run succeeded and every variant's "
            "outputs are identical to the first variant's.</div>\n";
    return;
  }
  *out += "<div class=\"banner\" id=\"problems\" role=\"alert\"><strong>The comparison failed."
          "</strong> A variant that fails or answers differently is not a valid choice, however "
          "fast it is.";
  std::string items;
  for (const auto& v : r.variants) {
    if (!IsBad(v)) continue;
    items += "<li><strong>" + Esc(v.variant.name) + "</strong>: " + StatusText(v);
    if (!v.problem.empty()) items += " \u2014 " + Esc(v.problem);
    items += "</li>\n";
  }
  if (items.empty()) {
    *out += " The comparison did not complete (see the table and the tool's messages).";
  } else {
    *out += "\n<ul>\n" + items + "</ul>";
  }
  *out += "</div>\n";
}

void AppendSummaryTable(const CompareResult& r, std::string* out) {
  bool processes = false;
  for (const auto& v : r.variants) processes = processes || v.has_processes;
  *out += "<h2>Summary</h2>\n<div class=\"scroll\"><table id=\"summary\">\n<thead><tr>"
          "<th class=\"name\">variant</th><th class=\"name\">model</th><th>status</th>"
          "<th>runs</th><th>median wall (s, min\u2013max)</th>"
          "<th>user + sys CPU (s)</th><th>CPU use (cores)</th><th>peak RSS (MiB)</th>"
          "<th>MB/s</th><th>lines/s</th><th>speedup (\u00d7, min\u2013max)</th>"
          "<th>efficiency (%)</th>";
  if (processes) {
    *out += "<th class=\"name\">processes costs</th>";
  }
  *out += "</tr></thead>\n<tbody>\n";
  for (const auto& v : r.variants) {
    bool bad = IsBad(v);
    *out += bad ? "<tr class=\"bad\">" : "<tr>";
    *out += "<td class=\"name\">" + Esc(v.variant.name) + "</td>";
    *out += "<td class=\"name\">" + Esc(ModelText(v));
    if (!v.fetch_model.empty()) {
      *out += "<br><span class=\"small\">fetch " + Esc(v.fetch_model) +
              Printf(" \u00d7%d", v.fetch_workers) + "</span>";
    }
    *out += "</td>";
    if (bad) {
      *out += "<td class=\"bad-text\"";
      if (!v.problem.empty()) *out += " title=\"" + Esc(v.problem) + "\"";
      *out += ">" + StatusText(v) + "</td>";
    } else {
      *out += "<td>ok</td>";
    }
    *out += Printf("<td>%zu</td>", v.runs.size());
    if (!HasMeasurement(v)) {
      *out += Printf("<td colspan=\"%d\" class=\"small\">no measurement</td>", processes ? 9 : 8);
      *out += "</tr>\n";
      continue;
    }
    *out += "<td>" + Sig(v.wall_median_s) + " <span class=\"small\">(" + Sig(v.wall_min_s) +
            "\u2013" + Sig(v.wall_max_s) + ")</span></td>";
    *out += "<td>" + Sig(v.user_median_s) + " + " + Sig(v.sys_median_s) + "</td>";
    *out += "<td>" + Sig(v.cpu_utilisation) + "</td>";
    *out += "<td>" + Sig(v.max_rss_mib) + "</td>";
    *out += "<td>" + Sig(v.mb_per_s) + "</td>";
    *out += "<td>" + Si(v.lines_per_s) + "</td>";
    *out += "<td>" + Sig(v.speedup) + " <span class=\"small\">(" + Sig(v.speedup_min) +
            "\u2013" + Sig(v.speedup_max) + ")</span></td>";
    *out += "<td>" + Sig(v.efficiency * 100) + "</td>";
    if (processes) {
      if (v.has_processes) {
        *out += "<td class=\"costs small\">fork " + Duration(v.fork_s) + "<br>partials " +
                Bytes(v.partial_bytes) + "<br>requests " + Bytes(v.request_bytes) +
                "<br>results " + Bytes(v.result_bytes) + "</td>";
      } else {
        *out += "<td></td>";
      }
    }
    *out += "</tr>\n";
  }
  *out += "</tbody>\n</table></div>\n";
  *out += "<p class=\"small\">Medians over the counted rounds. Speedup: median over rounds of the "
          "first variant's wall time divided by this one's (paired by round); efficiency: "
          "speedup \u00d7 workers of the first variant / workers of this one. CPU use: (user + "
          "sys) / wall. Peak RSS: the largest single process.";
  if (processes) {
    *out += " Processes costs: time to fork the shards, and the bytes of partial aggregates, "
            "requests and results that crossed between processes.";
  }
  *out += "</p>\n";
}

void AppendSvgOpen(const std::string& id, const std::string& label, int width, int height,
                   std::string* out) {
  *out += "<svg id=\"" + id + "\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 " +
          std::to_string(width) + " " + std::to_string(height) + "\" width=\"" +
          std::to_string(width) + "\" height=\"" + std::to_string(height) + "\" aria-label=\"" +
          Esc(label) + "\">\n<title>" + Esc(label) + "</title>\n";
}

void AppendWallChart(const CompareResult& r, std::string* out) {
  *out += "<h2>Wall time</h2>\n";
  const int n = static_cast<int>(r.variants.size());
  const int width = 900, label_w = 230, value_w = 170, top = 10, row_h = 30;
  const int plot_w = width - label_w - value_w;
  const int height = top + std::max(n, 1) * row_h + 44;
  double max_s = 0;
  for (const auto& v : r.variants) {
    if (!HasMeasurement(v)) continue;
    max_s = std::max({max_s, v.wall_median_s, v.wall_max_s});
  }
  if (!(max_s > 0)) max_s = 1;
  double step = NiceStep(max_s, 5);
  double x_max = NiceCeil(max_s, step);
  auto x = [&](double s) { return label_w + std::clamp(s / x_max, 0.0, 1.0) * plot_w; };

  AppendSvgOpen("chart-wall", "Median wall time per variant, with min to max whiskers", width,
                height, out);
  *out += "<defs><pattern id=\"hatch-wall\" width=\"8\" height=\"8\" "
          "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
          "<rect width=\"8\" height=\"8\" fill=\"#e9ecef\"/>"
          "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"#868e96\" stroke-width=\"3\"/>"
          "</pattern></defs>\n";
  const int axis_y = top + std::max(n, 1) * row_h;
  for (double t = 0; t <= x_max + step * 1e-6; t += step) {
    *out += "<line class=\"grid\" x1=\"" + N(x(t)) + "\" y1=\"" + N(top) + "\" x2=\"" + N(x(t)) +
            "\" y2=\"" + N(axis_y) + "\"/><text x=\"" + N(x(t)) + "\" y=\"" + N(axis_y + 16) +
            "\" text-anchor=\"middle\">" + Tick(t, step) + "</text>\n";
  }
  *out += "<line class=\"axis\" x1=\"" + N(label_w) + "\" y1=\"" + N(axis_y) + "\" x2=\"" +
          N(label_w + plot_w) + "\" y2=\"" + N(axis_y) + "\"/>\n";
  *out += "<text x=\"" + N(label_w + plot_w / 2.0) + "\" y=\"" + N(axis_y + 36) +
          "\" text-anchor=\"middle\" class=\"muted\">median wall time (s); whiskers: "
          "min\u2013max of the counted runs</text>\n";
  for (int i = 0; i < n; ++i) {
    const auto& v = r.variants[i];
    bool bad = IsBad(v);
    double y = top + i * row_h;
    double mid = y + row_h / 2.0;
    *out += "<g>";
    *out += "<title>" + Esc(v.variant.name) + ": " + StatusText(v);
    if (HasMeasurement(v)) {
      *out += ", median " + Duration(v.wall_median_s) + " (" + Duration(v.wall_min_s) + "\u2013" +
              Duration(v.wall_max_s) + ")";
    }
    *out += "</title>";
    *out += "<text x=\"" + N(label_w - 8) + "\" y=\"" + N(mid + 4) + "\" text-anchor=\"end\"" +
            (bad ? " class=\"bad-label\"" : "") + ">" + Esc(Truncate(v.variant.name, 34)) +
            "</text>";
    double label_x = label_w + 6;
    if (HasMeasurement(v)) {
      double x_med = x(v.wall_median_s);
      *out += "<rect x=\"" + N(label_w) + "\" y=\"" + N(y + 6) + "\" width=\"" +
              N(std::max(x_med - label_w, 1.0)) + "\" height=\"" + N(row_h - 12) + "\"" +
              (bad ? " fill=\"url(#hatch-wall)\" stroke=\"#868e96\"" : " class=\"bar\"") + "/>";
      double x_lo = x(v.wall_min_s), x_hi = x(std::max(v.wall_max_s, v.wall_median_s));
      *out += "<line class=\"whisker\" x1=\"" + N(x_lo) + "\" y1=\"" + N(mid) + "\" x2=\"" +
              N(x_hi) + "\" y2=\"" + N(mid) + "\"/>";
      for (double xe : {x_lo, x_hi}) {
        *out += "<line class=\"whisker\" x1=\"" + N(xe) + "\" y1=\"" + N(mid - 5) + "\" x2=\"" +
                N(xe) + "\" y2=\"" + N(mid + 5) + "\"/>";
      }
      label_x = std::max(x_hi, x_med) + 6;
    }
    std::string value = HasMeasurement(v) ? Duration(v.wall_median_s) : std::string();
    if (bad) value += std::string(value.empty() ? "" : " \u2014 ") + StatusText(v);
    if (value.empty()) value = "no measurement";
    *out += "<text x=\"" + N(label_x) + "\" y=\"" + N(mid + 4) + "\"" +
            (bad ? " class=\"bad-label\"" : "") + ">" + Esc(value) + "</text>";
    *out += "</g>\n";
  }
  *out += "</svg>\n";
}

void AppendSpeedupChart(const CompareResult& r, std::string* out) {
  *out += "<h2>Speedup against workers</h2>\n";
  const int width = 900, height = 400, left = 60, right = 200, top = 16, bottom = 52;
  const int plot_w = width - left - right, plot_h = height - top - bottom;

  // Series: variants grouped by CPU model, in order of first appearance.
  std::vector<std::string> models;
  std::map<std::string, std::vector<const CompareVariantResult*>> by_model;
  std::vector<const CompareVariantResult*> bad_points;
  int max_workers = 1;
  double max_speedup = 0;
  for (const auto& v : r.variants) {
    max_workers = std::max(max_workers, v.workers);
    if (!HasMeasurement(v) || !std::isfinite(v.speedup)) continue;
    if (IsBad(v)) {
      bad_points.push_back(&v);
    } else {
      if (!by_model.count(v.model)) models.push_back(v.model);
      by_model[v.model].push_back(&v);
    }
    max_speedup = std::max({max_speedup, v.speedup,
                            std::isfinite(v.speedup_max) ? v.speedup_max : 0.0});
  }
  // The ideal: linear in workers through the 1-worker point when there is one, else through
  // (workers of the first variant, 1).
  double ideal_per_worker = 1;
  bool have_one = false;
  for (const auto& v : r.variants) {
    if (v.workers == 1 && !IsBad(v) && HasMeasurement(v) && std::isfinite(v.speedup)) {
      ideal_per_worker = v.speedup;
      have_one = true;
      break;
    }
  }
  if (!have_one && !r.variants.empty() && r.variants[0].workers > 0) {
    ideal_per_worker = 1.0 / r.variants[0].workers;
  }
  max_speedup = std::max(max_speedup, ideal_per_worker * max_workers);
  if (!(max_speedup > 0)) max_speedup = 1;
  double y_step = NiceStep(max_speedup, 5);
  double y_max = NiceCeil(max_speedup * 1.02, y_step);
  double x_step = max_workers <= 16 ? 1 : NiceStep(max_workers, 8);
  double x_max = NiceCeil(max_workers, x_step);
  auto px = [&](double w) { return left + std::clamp(w / x_max, 0.0, 1.0) * plot_w; };
  auto py = [&](double s) { return top + plot_h - std::clamp(s / y_max, 0.0, 1.0) * plot_h; };

  AppendSvgOpen("chart-speedup",
                "Speedup against the first variant, by number of workers, one series per CPU "
                "model; dashed: ideal linear scaling",
                width, height, out);
  for (double s = 0; s <= y_max + y_step * 1e-6; s += y_step) {
    *out += "<line class=\"grid\" x1=\"" + N(left) + "\" y1=\"" + N(py(s)) + "\" x2=\"" +
            N(left + plot_w) + "\" y2=\"" + N(py(s)) + "\"/><text x=\"" + N(left - 6) +
            "\" y=\"" + N(py(s) + 4) + "\" text-anchor=\"end\">" + Tick(s, y_step) + "\u00d7</text>\n";
  }
  for (double w = 0; w <= x_max + x_step * 1e-6; w += x_step) {
    *out += "<line class=\"grid\" x1=\"" + N(px(w)) + "\" y1=\"" + N(top) + "\" x2=\"" +
            N(px(w)) + "\" y2=\"" + N(top + plot_h) + "\"/><text x=\"" + N(px(w)) + "\" y=\"" +
            N(top + plot_h + 16) + "\" text-anchor=\"middle\">" + Tick(w, x_step) + "</text>\n";
  }
  *out += "<line class=\"axis\" x1=\"" + N(left) + "\" y1=\"" + N(top + plot_h) + "\" x2=\"" +
          N(left + plot_w) + "\" y2=\"" + N(top + plot_h) + "\"/><line class=\"axis\" x1=\"" +
          N(left) + "\" y1=\"" + N(top) + "\" x2=\"" + N(left) + "\" y2=\"" + N(top + plot_h) +
          "\"/>\n";
  *out += "<text x=\"" + N(left + plot_w / 2.0) + "\" y=\"" + N(height - 10) +
          "\" text-anchor=\"middle\" class=\"muted\">workers (of the CPU stages)</text>\n";
  *out += "<text x=\"14\" y=\"" + N(top + plot_h / 2.0) + "\" text-anchor=\"middle\" "
          "class=\"muted\" transform=\"rotate(-90 14 " + N(top + plot_h / 2.0) +
          ")\">speedup (\u00d7)</text>\n";
  // The ideal line.
  double ideal_end_w = std::min(x_max, y_max / ideal_per_worker);
  *out += "<line class=\"ideal\" x1=\"" + N(px(0)) + "\" y1=\"" + N(py(0)) + "\" x2=\"" +
          N(px(ideal_end_w)) + "\" y2=\"" + N(py(ideal_per_worker * ideal_end_w)) +
          "\"><title>ideal: speedup proportional to workers</title></line>\n";

  auto point_title = [](const CompareVariantResult& v) {
    std::string t = v.variant.name + ": " + ModelText(v) + ", speedup " + Sig(v.speedup) +
                    "\u00d7 (" + Sig(v.speedup_min) + "\u2013" + Sig(v.speedup_max) +
                    "), efficiency " + Sig(v.efficiency * 100) + "%";
    if (IsBad(v)) t += ", " + StatusText(v);
    return Esc(t);
  };
  auto whisker = [&](const CompareVariantResult& v, const char* colour) {
    if (!std::isfinite(v.speedup_min) || !std::isfinite(v.speedup_max)) return;
    if (v.speedup_max <= v.speedup_min) return;
    double x0 = px(v.workers);
    *out += "<line x1=\"" + N(x0) + "\" y1=\"" + N(py(v.speedup_min)) + "\" x2=\"" + N(x0) +
            "\" y2=\"" + N(py(v.speedup_max)) + "\" stroke=\"" + colour +
            "\" stroke-width=\"1.5\"/>";
  };
  for (size_t m = 0; m < models.size(); ++m) {
    const char* colour = kSeriesColours[m % kSeriesColours.size()];
    auto points = by_model[models[m]];
    std::stable_sort(points.begin(), points.end(),
                     [](auto* a, auto* b) { return a->workers < b->workers; });
    *out += "<g><title>" + Esc(models[m].empty() ? "?" : models[m]) + "</title>";
    if (points.size() > 1) {
      *out += "<polyline class=\"series\" stroke=\"" + std::string(colour) + "\" points=\"";
      for (size_t i = 0; i < points.size(); ++i) {
        *out += (i ? " " : "") + N(px(points[i]->workers)) + "," + N(py(points[i]->speedup));
      }
      *out += "\"/>";
    }
    for (const auto* v : points) {
      whisker(*v, colour);
      *out += "<circle cx=\"" + N(px(v->workers)) + "\" cy=\"" + N(py(v->speedup)) +
              "\" r=\"5\" fill=\"" + colour + "\"><title>" + point_title(*v) +
              "</title></circle>";
    }
    *out += "</g>\n";
  }
  for (const auto* v : bad_points) {
    whisker(*v, "#868e96");
    *out += "<circle cx=\"" + N(px(v->workers)) + "\" cy=\"" + N(py(v->speedup)) +
            "\" r=\"6\" fill=\"#fff\" stroke=\"#c92a2a\" stroke-width=\"2\"><title>" +
            point_title(*v) + "</title></circle>\n";
  }
  // Legend.
  double ly = top + 8;
  const double lx = left + plot_w + 20;
  for (size_t m = 0; m < models.size(); ++m) {
    const char* colour = kSeriesColours[m % kSeriesColours.size()];
    *out += "<line x1=\"" + N(lx) + "\" y1=\"" + N(ly) + "\" x2=\"" + N(lx + 24) + "\" y2=\"" +
            N(ly) + "\" stroke=\"" + colour + "\" stroke-width=\"2\"/><circle cx=\"" +
            N(lx + 12) + "\" cy=\"" + N(ly) + "\" r=\"4\" fill=\"" + colour + "\"/><text x=\"" +
            N(lx + 32) + "\" y=\"" + N(ly + 4) + "\">" +
            Esc(Truncate(models[m].empty() ? "?" : models[m], 22)) + "</text>\n";
    ly += 20;
  }
  *out += "<line class=\"ideal\" x1=\"" + N(lx) + "\" y1=\"" + N(ly) + "\" x2=\"" + N(lx + 24) +
          "\" y2=\"" + N(ly) + "\"/><text x=\"" + N(lx + 32) + "\" y=\"" + N(ly + 4) +
          "\">ideal (linear)</text>\n";
  ly += 20;
  if (!bad_points.empty()) {
    *out += "<circle cx=\"" + N(lx + 12) + "\" cy=\"" + N(ly) +
            "\" r=\"5\" fill=\"#fff\" stroke=\"#c92a2a\" stroke-width=\"2\"/><text x=\"" +
            N(lx + 32) + "\" y=\"" + N(ly + 4) +
            "\" class=\"bad-label\">failed / output differs</text>\n";
  }
  *out += "</svg>\n";
  *out += "<p class=\"small\">Whiskers: min\u2013max of the paired per-round speedups. Ideal: ";
  *out += have_one ? "the 1-worker point's speedup \u00d7 workers."
                   : "speedup = workers / workers of the first variant.";
  *out += "</p>\n";
}

void AppendStageTable(const CompareVariantResult& v, int index, std::string* out) {
  if (v.stages.empty()) {
    *out += "<p class=\"small\">No per-stage measurements.</p>\n";
    return;
  }
  *out += "<div class=\"scroll\"><table id=\"stages-" + std::to_string(index) +
          "\">\n<thead><tr><th class=\"name\">role</th><th>tracks</th><th>busy share (%)</th>"
          "<th>busy (s)</th><th>wait for input (s)</th><th>blocked on output (s)</th>"
          "<th>CPU (s)</th><th class=\"name\">bound</th></tr></thead>\n<tbody>\n";
  for (const auto& s : v.stages) {
    *out += "<tr><td class=\"name\">" + Esc(s.role) + "</td><td>" + std::to_string(s.tracks) +
            "</td><td>" + Sig(s.busy_share * 100) + "</td><td>" + Sig(s.busy_s) + "</td><td>" +
            Sig(s.wait_input_s) + "</td><td>" + Sig(s.blocked_output_s) + "</td><td>" +
            Sig(s.cpu_s) + "</td><td class=\"name\">" + Esc(s.bound) + "</td></tr>\n";
  }
  *out += "</tbody>\n</table></div>\n";
}

// One row per track; at most one rectangle per pixel column per track, coloured by the kind
// that covers most of the column (columns less than half covered stay empty).
void AppendTimeline(const CompareVariantResult& v, int index, std::string* out) {
  double t_first = INFINITY, t_last = -INFINITY;
  bool kind_seen[kKindClasses] = {};
  for (const auto& track : v.timeline) {
    for (const auto& s : track.spans) {
      if (!std::isfinite(s.start_s) || !std::isfinite(s.end_s) || s.end_s < s.start_s) continue;
      t_first = std::min(t_first, s.start_s);
      t_last = std::max(t_last, s.end_s);
      kind_seen[KindIndex(s.kind)] = true;
    }
  }
  if (v.timeline.empty() || !(t_last > t_first)) {
    *out += "<p class=\"small\">No activity timeline.</p>\n";
    return;
  }
  // Times are seconds from the run's start; keep 0 on the axis unless the trace starts late.
  double t0 = (t_first >= 0 && t_first <= 0.1 * (t_last - t_first)) ? 0 : t_first;
  double range = t_last - t0;

  const int width = 900, label_w = 170, right = 30, top = 8, row_h = 18;
  const int plot_w = width - label_w - right;  // also the number of pixel columns
  const int tracks = static_cast<int>(v.timeline.size());
  const int axis_y = top + tracks * row_h;
  const int legend_y = axis_y + 52;
  const int height = legend_y + 16;
  AppendSvgOpen("timeline-" + std::to_string(index),
                "Activity timeline of one run of " + v.variant.name +
                    ": one row per worker, coloured by what it was doing",
                width, height, out);

  bool ms = range < 2;
  double step = NiceStep(ms ? range * 1e3 : range, 8) / (ms ? 1e3 : 1);
  for (double t = 0; t <= range + step * 1e-6; t += step) {
    double x = label_w + t / range * plot_w;
    *out += "<line class=\"grid\" x1=\"" + N(x) + "\" y1=\"" + N(top) + "\" x2=\"" + N(x) +
            "\" y2=\"" + N(axis_y + 4) + "\"/><text x=\"" + N(x) + "\" y=\"" + N(axis_y + 17) +
            "\" text-anchor=\"middle\">" + (ms ? Tick(t * 1e3, step * 1e3) + " ms" : Tick(t, step) + " s") +
            "</text>\n";
  }
  *out += "<text x=\"" + N(label_w + plot_w / 2.0) + "\" y=\"" + N(axis_y + 34) +
          "\" text-anchor=\"middle\" class=\"muted\">time since the run started" +
          std::string(t0 == 0 ? "" : " (from the first span)") + "</text>\n";

  std::vector<std::array<double, kKindClasses>> cols(static_cast<size_t>(plot_w));
  for (int ti = 0; ti < tracks; ++ti) {
    const auto& track = v.timeline[ti];
    double y = top + ti * row_h;
    double totals[kKindClasses] = {};
    for (auto& c : cols) c.fill(0);
    for (const auto& s : track.spans) {
      if (!std::isfinite(s.start_s) || !std::isfinite(s.end_s) || s.end_s <= s.start_s) continue;
      int k = KindIndex(s.kind);
      totals[k] += s.end_s - s.start_s;
      double a = (std::max(s.start_s, t0) - t0) / range * plot_w;
      double b = (std::min(s.end_s, t_last) - t0) / range * plot_w;
      a = std::clamp(a, 0.0, static_cast<double>(plot_w));
      b = std::clamp(b, 0.0, static_cast<double>(plot_w));
      for (int c = static_cast<int>(a); c < plot_w && c < b; ++c) {
        double overlap = std::min(b, c + 1.0) - std::max(a, static_cast<double>(c));
        if (overlap > 0) cols[c][k] += overlap;
      }
    }
    std::string title = track.name + ":";
    bool first = true;
    for (int k = 0; k < kKindClasses; ++k) {
      if (totals[k] <= 0) continue;
      title += std::string(first ? " " : ", ") + KindName(k) + " " + Duration(totals[k]);
      first = false;
    }
    *out += "<g><title>" + Esc(title) + "</title><text x=\"" + N(label_w - 6) + "\" y=\"" +
            N(y + row_h - 5) + "\" text-anchor=\"end\">" + Esc(Truncate(track.name, 26)) +
            "</text>";
    int run_kind = -1, run_start = 0;
    auto flush = [&](int end) {
      if (run_kind < 0 || end <= run_start) return;
      *out += "<rect x=\"" + std::to_string(label_w + run_start) + "\" y=\"" + N(y + 2) +
              "\" width=\"" + std::to_string(end - run_start) + "\" height=\"" +
              std::to_string(row_h - 4) + "\" class=\"k" + std::to_string(run_kind) + "\"/>";
    };
    for (int c = 0; c < plot_w; ++c) {
      int best = -1;
      double best_t = 0, sum = 0;
      for (int k = 0; k < kKindClasses; ++k) {
        sum += cols[c][k];
        if (cols[c][k] > best_t) {
          best_t = cols[c][k];
          best = k;
        }
      }
      if (sum < 0.5) best = -1;
      if (best != run_kind) {
        flush(c);
        run_kind = best;
        run_start = c;
      }
    }
    flush(plot_w);
    *out += "</g>\n";
  }
  // Legend: the kinds this timeline shows.
  double lx = label_w;
  for (int k = 0; k < kKindClasses; ++k) {
    if (!kind_seen[k]) continue;
    *out += "<rect x=\"" + N(lx) + "\" y=\"" + N(legend_y - 10) +
            "\" width=\"12\" height=\"12\" class=\"k" + std::to_string(k) +
            "\" stroke=\"#adb5bd\"/><text x=\"" + N(lx + 16) + "\" y=\"" + N(legend_y) + "\">" +
            KindName(k) + "</text>";
    lx += 16 + 7.0 * std::string(KindName(k)).size() + 18;
  }
  *out += "\n</svg>\n";
}

void AppendVariantSections(const CompareResult& r, std::string* out) {
  *out += "<h2>Variants</h2>\n";
  for (size_t i = 0; i < r.variants.size(); ++i) {
    const auto& v = r.variants[i];
    int index = static_cast<int>(i);
    *out += "<section id=\"variant-" + std::to_string(index) + "\">\n<h3>" +
            std::to_string(index + 1) + ". " + Esc(v.variant.name);
    if (IsBad(v)) *out += " <span class=\"bad-text\">(" + StatusText(v) + ")</span>";
    *out += "</h3>\n<p class=\"small\">";
    *out += "model " + Esc(ModelText(v));
    if (!v.fetch_model.empty()) {
      *out += ", fetch " + Esc(v.fetch_model) + Printf(" \u00d7%d", v.fetch_workers);
    }
    if (!v.variant.config.empty()) *out += "; config <code>" + Esc(v.variant.config) + "</code>";
    if (!v.variant.sets.empty()) {
      *out += "; sets";
      for (const auto& s : v.variant.sets) *out += " <code>" + Esc(s) + "</code>";
    }
    if (v.bytes || v.lines) {
      *out += "; input " + Bytes(v.bytes) + ", " + Si(static_cast<double>(v.lines)) + " lines";
    }
    if (!v.problem.empty()) *out += "; <span class=\"bad-text\">" + Esc(v.problem) + "</span>";
    *out += "</p>\n";
    AppendStageTable(v, index, out);
    AppendTimeline(v, index, out);
    *out += "</section>\n";
  }
}

}  // namespace

void AppendHtmlEscaped(std::string_view text, std::string* out) {
  size_t i = 0;
  auto hex = [out](unsigned char c) { *out += Printf("\\x%02X", c); };
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': *out += "&amp;"; break;
        case '<': *out += "&lt;"; break;
        case '>': *out += "&gt;"; break;
        case '"': *out += "&quot;"; break;
        case '\'': *out += "&#39;"; break;
        default:
          if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F) {
            hex(c);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (len > 1 && i + len <= text.size() && IsValidUtf8(text.substr(i, len))) {
      out->append(text.data() + i, len);
      i += len;
    } else {
      hex(c);
      ++i;
    }
  }
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendHtmlEscaped(text, &out);
  return out;
}

std::string FormatSignificant(double value, int digits) {
  if (!std::isfinite(value)) return "-";
  if (value == 0) return "0";
  digits = std::max(digits, 1);
  int mag = static_cast<int>(std::floor(std::log10(std::fabs(value))));
  int decimals = std::clamp(digits - 1 - mag, 0, 15);
  // 9.996 at 3 digits rounds to 10.0: one decimal fewer.
  double scale = std::pow(10.0, decimals);
  double rounded = std::round(value * scale) / scale;
  if (decimals > 0 && rounded != 0 &&
      static_cast<int>(std::floor(std::log10(std::fabs(rounded)))) > mag) {
    --decimals;
  }
  std::string s = Printf("%.*f", decimals, value);
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::string FormatCompareHtml(const CompareResult& result) {
  std::string out;
  out.reserve(64 * 1024);
  AppendHeader(result, &out);
  AppendBanner(result, &out);
  AppendSummaryTable(result, &out);
  AppendWallChart(result, &out);
  AppendSpeedupChart(result, &out);
  AppendVariantSections(result, &out);
  out += "<h2>Advice</h2>\n<p id=\"advice\">";
  out += result.advice.empty() ? std::string("(no advice)") : Esc(result.advice);
  out += "</p>\n<footer class=\"small\">Written by logpipe --compare. Self-contained: inline CSS "
         "and SVG, no scripts, nothing fetched.</footer>\n</body>\n</html>\n";
  return out;
}

}  // namespace logpipe
