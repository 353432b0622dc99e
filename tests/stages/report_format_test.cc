#include "stages/report_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "io/text_escape.h"
#include "stages/table.h"

#if __has_include(<nlohmann/json.hpp>)
#include <nlohmann/json.hpp>
#define LOGPIPE_HAVE_NLOHMANN_JSON 1
#endif

namespace logpipe {
namespace {

Cell Top(std::vector<std::pair<std::string, uint64_t>> pairs) {
  Cell c;
  c.kind = Cell::Kind::kTop;
  c.top = std::move(pairs);
  return c;
}

// A report with every cell kind, including awkward strings.
Report SampleReport() {
  Report r;
  r.job_name = "access-5xx";
  r.totals = {{"lines", 1000}, {"matched", 998}, {"unparsed", 2}};
  r.tables.push_back({"t", Table()});
  r.tables[0].table.columns = {"status", "hits", "avg_rt", "first", "path", "top_paths"};
  r.tables[0].table.rows.push_back({Cell::Int(200), Cell::Int(990), Cell::Float(0.25),
                          Cell::Time(1431857103000), Cell::String("/a,b"),
                          Top({{"/a", 10}, {"/b", 5}})});
  r.tables[0].table.rows.push_back({Cell::Int(404), Cell::Int(8), Cell::Float(12.0),
                          Cell::Time(1431857103250), Cell::String("say \"hi\""), Top({})});
  r.tables[0].table.rows.push_back({Cell::Null(), Cell::Int(2), Cell::Null(), Cell::Null(),
                          Cell::String("bad\xff\tx"), Top({{"\xc3\xa9\n", 1}})});
  return r;
}

TEST(ReportJson, HasTheDocumentedShape) {
  std::string out;
  FormatReportJson(SampleReport(), &out);
  EXPECT_EQ(out,
            "{\n"
            "  \"job\": \"access-5xx\",\n"
            "  \"totals\": {\"lines\": 1000, \"matched\": 998, \"unparsed\": 2},\n"
            "  \"tables\": {\n"
            "    \"t\": {\n"
            "      \"columns\": [\"status\", \"hits\", \"avg_rt\", \"first\", \"path\", "
            "\"top_paths\"],\n"
            "      \"rows\": [\n"
            "        {\"status\": 200, \"hits\": 990, \"avg_rt\": 0.25, \"first\": "
            "\"2015-05-17T10:05:03Z\", \"path\": \"/a,b\", \"top_paths\": [{\"value\": \"/a\", "
            "\"count\": 10}, {\"value\": \"/b\", \"count\": 5}]},\n"
            "        {\"status\": 404, \"hits\": 8, \"avg_rt\": 12, \"first\": "
            "\"2015-05-17T10:05:03.250Z\", \"path\": \"say \\\"hi\\\"\", \"top_paths\": []},\n"
            "        {\"status\": null, \"hits\": 2, \"avg_rt\": null, \"first\": null, \"path\": "
            "\"bad\\\\xFF\\tx\", \"top_paths\": [{\"value\": \"\xc3\xa9\\n\", \"count\": 1}]}\n"
            "      ]\n"
            "    }\n"
            "  }\n"
            "}\n");
}

TEST(ReportJson, WithoutTableOrRowsStaysValid) {
  Report r;
  std::string out;
  FormatReportJson(r, &out);
  EXPECT_EQ(out, "{\n  \"job\": \"\",\n  \"totals\": {}\n}\n");
  r.tables.push_back({"t", Table()});
  r.tables[0].table.columns = {"n"};
  out.clear();
  FormatReportJson(r, &out);
  EXPECT_EQ(out,
            "{\n  \"job\": \"\",\n  \"totals\": {},\n  \"tables\": {\n    \"t\": {\n"
            "      \"columns\": [\"n\"],\n      \"rows\": []\n    }\n  }\n}\n");
}

TEST(ReportJson, FloatsAreShortestAndNonFiniteIsNull) {
  Report r;
  r.tables.push_back({"t", Table()});
  r.tables[0].table.columns = {"a", "b", "c", "d", "e", "f", "g"};
  r.tables[0].table.rows.push_back({Cell::Float(0.1 + 0.2), Cell::Float(1e21), Cell::Float(-0.0),
                          Cell::Float(std::numeric_limits<double>::quiet_NaN()),
                          Cell::Float(std::numeric_limits<double>::infinity()),
                          Cell::Float(-std::numeric_limits<double>::infinity()),
                          Cell::Float(5e-324)});
  std::string out;
  FormatReportJson(r, &out);
  EXPECT_NE(out.find("{\"a\": 0.30000000000000004, \"b\": 1e+21, \"c\": -0, \"d\": null, \"e\": "
                     "null, \"f\": null, \"g\": 5e-324}"),
            std::string::npos)
      << out;
}

#ifdef LOGPIPE_HAVE_NLOHMANN_JSON
TEST(ReportJson, AlwaysParsesEvenWithInvalidUtf8AndControlBytes) {
  std::mt19937 rng(11);
  auto random_bytes = [&]() {
    std::string s(rng() % 12, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  };
  for (int round = 0; round < 300; ++round) {
    Report r;
    r.job_name = random_bytes();
    r.totals = {{random_bytes(), rng()}, {"x" + random_bytes(), 0}};
    r.tables.push_back({"t", Table()});
    r.tables[0].table.columns = {"k" + random_bytes(), "v", "t", "f"};
    for (int i = 0; i < 5; ++i) {
      r.tables[0].table.rows.push_back({Cell::String(random_bytes()), Cell::Int(static_cast<int64_t>(rng())),
                              Top({{random_bytes(), 3}, {random_bytes(), 1}}),
                              Cell::Float(static_cast<double>(rng()) / 7.0)});
    }
    std::string out;
    FormatReportJson(r, &out);
    ASSERT_TRUE(IsValidUtf8(out));
    nlohmann::json parsed = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(parsed.is_discarded()) << out;
    ASSERT_EQ(parsed["tables"]["t"]["rows"].size(), 5u);
    EXPECT_EQ(parsed["tables"]["t"]["rows"][0]["v"].get<int64_t>(), r.tables[0].table.rows[0][1].i);
    EXPECT_EQ(parsed["tables"]["t"]["rows"][0]["f"].get<double>(), r.tables[0].table.rows[0][3].f);  // round-trips
  }
  // The decoded text of an invalid byte is the four characters \xNN.
  Report r;
  r.job_name = "a\xff";
  std::string out;
  FormatReportJson(r, &out);
  EXPECT_EQ(nlohmann::json::parse(out)["job"].get<std::string>(), "a\\xFF");
}
#endif

TEST(ReportCsv, QuotesFieldsAndEmbedsTopAsJson) {
  std::string out;
  FormatReportCsv(SampleReport(), 0, &out);
  EXPECT_EQ(out,
            "status,hits,avg_rt,first,path,top_paths\n"
            "200,990,0.25,2015-05-17T10:05:03Z,\"/a,b\","
            "\"[{\"\"value\"\":\"\"/a\"\",\"\"count\"\":10},{\"\"value\"\":\"\"/"
            "b\"\",\"\"count\"\":5}]\"\n"
            "404,8,12,2015-05-17T10:05:03.250Z,\"say \"\"hi\"\"\",[]\n"
            ",2,,,bad\\xFF\tx,\"[{\"\"value\"\":\"\"\xc3\xa9\\n\"\",\"\"count\"\":1}]\"\n");
}

TEST(ReportCsv, QuotesNewlinesAndHeadersAndWritesTotalsWithoutTable) {
  Report r;
  r.tables.push_back({"t", Table()});
  r.tables[0].table.columns = {"a,b", "c"};
  r.tables[0].table.rows.push_back({Cell::String("x\ny"), Cell::Float(std::nan(""))});
  std::string out;
  FormatReportCsv(r, 0, &out);
  EXPECT_EQ(out, "\"a,b\",c\n\"x\ny\",\n");

  Report totals;
  totals.totals = {{"lines", 3}, {"odd,name", 4}};
  out.clear();
  FormatReportCsv(totals, 0, &out);
  EXPECT_EQ(out, "total,value\nlines,3\n\"odd,name\",4\n");
}

TEST(ReportText, AlignsColumnsAndRightAlignsNumbers) {
  std::string out;
  FormatReportText(SampleReport(), &out);
  EXPECT_EQ(out,
            "job: access-5xx\n"
            "lines     1000\n"
            "matched    998\n"
            "unparsed     2\n"
            "\n"
            "status  hits  avg_rt  first                     path        top_paths\n"
            "------  ----  ------  ------------------------  ----------  ---------------\n"
            "   200   990    0.25  2015-05-17T10:05:03Z      /a,b        /a (10), /b (5)\n"
            "   404     8      12  2015-05-17T10:05:03.250Z  say \"hi\"    -\n"
            "     -     2       -  -                         bad\\xFF\\tx  \xc3\xa9\\n (1)\n");
  // No trailing spaces, every line valid UTF-8.
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(line.empty() || line.back() != ' ') << "[" << line << "]";
  }
  EXPECT_TRUE(IsValidUtf8(out));
}

TEST(ReportText, EscapesControlCharactersAndShowsEmptyTables) {
  Report r;
  r.job_name = "j\x1b[31m";
  r.tables.push_back({"t", Table()});
  r.tables[0].table.columns = {"key", "n"};
  std::string out;
  FormatReportText(r, &out);
  EXPECT_EQ(out, "job: j\\x1B[31m\n\nkey  n\n---  -\n(no rows)\n");

  r.tables[0].table.rows.push_back({Cell::String("\xc2\x85\x7f\xc3\xa9\xe2\x82"), Cell::Int(-3)});
  out.clear();
  FormatReportText(r, &out);
  EXPECT_EQ(out,
            "job: j\\x1B[31m\n\n"
            "key                     n\n"
            "---------------------  --\n"
            "\\xC2\\x85\\x7F\xc3\xa9\\xE2\\x82  -3\n");
}

TEST(ReportText, CutsLongValuesButNotNumbers) {
  Report r;
  r.tables.push_back({"t", Table()});
  r.tables[0].table.columns = {"path", "top"};
  const std::string long_path = "/" + std::string(69, 'a');
  r.tables[0].table.rows.push_back({Cell::String(long_path), Top({{long_path, 7}, {"/b", 1}})});
  std::string out;
  FormatReportText(r, &out);
  const std::string cut = "/" + std::string(56, 'a') + "...";
  EXPECT_EQ(out, "path" + std::string(58, ' ') + "top\n" + std::string(60, '-') + "  " +
                     std::string(60, '-') + "\n" + cut + "  " + cut + " (7), /b (1)\n");
}

TEST(ReportText, TotalsOnlyWithoutTable) {
  Report r;
  r.totals = {{"lines", 12345}, {"conversion_errors.bytes", 7}};
  std::string out;
  FormatReportText(r, &out);
  EXPECT_EQ(out, "lines                    12345\nconversion_errors.bytes      7\n");
}

TEST(ReportCell, PlainTextOfEveryKind) {
  auto text = [](const Cell& c) {
    std::string s;
    AppendCellText(c, &s);
    return s;
  };
  EXPECT_EQ(text(Cell::Null()), "");
  EXPECT_EQ(text(Cell::Int(-42)), "-42");
  EXPECT_EQ(text(Cell::Float(2.5)), "2.5");
  EXPECT_EQ(text(Cell::Float(std::numeric_limits<double>::infinity())), "");
  EXPECT_EQ(text(Cell::String("a\xff")), "a\xff");
  EXPECT_EQ(text(Cell::Time(-1)), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(text(Top({{"/a", 10}, {"/b", 5}})), "/a (10), /b (5)");
}

}  // namespace
}  // namespace logpipe
