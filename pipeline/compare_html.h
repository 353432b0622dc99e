#pragma once
// The comparison report as one self-contained HTML5 page (compare.html of --compare): what a
// person opens in a browser to see which execution model won and why, and what can be mailed
// or attached to an issue as one file.
//
// Contract:
//   - One HTML5 document, UTF-8. Inline CSS and inline SVG only: no JavaScript, no external
//     fetches (no fonts, CDNs, images). A Content-Security-Policy meta tag (default-src 'none')
//     makes a browser refuse, and report, anything that tries.
//   - Every text taken from the result (job, variant names, configs, sets, problems, track
//     names, stage roles, the advice) is HTML-escaped; invalid UTF-8 and control bytes are
//     shown as \xNN. The output is valid UTF-8.
//   - Content, in order: title with the job, when it ran, counted and warm-up rounds, CPUs
//     and load averages; a red banner (id="problems", role="alert") when !result.ok naming the
//     failed and different variants; the summary table (id="summary"); the wall-time bar chart
//     (id="chart-wall"); the speedup-against-workers chart (id="chart-speedup"); per variant
//     N (0-based, in result order) a section id="variant-N" with its stage table
//     (id="stages-N") and its activity timeline (id="timeline-N", only when it has one); the
//     advice (id="advice").
//   - Every chart is an <svg role="img"> with an aria-label and a <title>.
//   - Size is bounded by the number of variants and tracks, not spans: a timeline draws at
//     most one rectangle per pixel column of each track (spans thinner than a pixel are
//     merged into the kind that dominates the column), so 10,000 spans cost no more than 700.
//   - Failed variants and variants whose output differs are marked in the table and drawn
//     hatched grey, labelled "failed" / "output differs", in the wall chart; they are drawn as
//     hollow markers, off the lines, in the speedup chart.
//   - Numbers have 3 significant digits; units are in table headers or next to the value.
//
// Thread-safety: pure function of its argument.
// Cost: linear in variants + tracks + spans; the page is a few hundred KB at most for
//   realistic results.

#include <string>
#include <string_view>

#include "pipeline/compare.h"

namespace logpipe {

std::string FormatCompareHtml(const CompareResult& result);

// Appends `text` escaped for HTML text and attribute values (& < > " ' become entities);
// invalid UTF-8 and control bytes other than tab and newline become the text \xNN.
void AppendHtmlEscaped(std::string_view text, std::string* out);
std::string HtmlEscape(std::string_view text);

// `value` with `digits` significant digits, without an exponent ("0.00123", "12.3", "12345").
// Non-finite values are "-".
std::string FormatSignificant(double value, int digits = 3);

}  // namespace logpipe
