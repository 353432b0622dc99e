#include "io/text_escape.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

namespace logpipe {
namespace {

std::string B(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s += static_cast<char>(b);
  return s;
}

// Reference validator written from the definition (decode the code point, then check its
// range), not from the lead-byte table the real one uses.
bool ReferenceValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      unsigned char c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::string Json(const std::string& s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}
std::string Csv(const std::string& s) {
  std::string out;
  AppendCsvField(s, &out);
  return out;
}
std::string Escaped(const std::string& s) {
  std::string out;
  AppendEscapedLine(s, &out);
  return out;
}

// Length of the valid sequence at s[i] by the reference definition, 0 if none.
size_t ReferenceSequenceLength(const std::string& s, size_t i) {
  for (size_t len = 1; len <= 4 && i + len <= s.size(); ++len) {
    std::string piece = s.substr(i, len);
    if (ReferenceValidUtf8(piece)) return len;
  }
  return 0;
}

std::string Hex(unsigned char c) {
  const char* digits = "0123456789ABCDEF";
  return std::string("\\x") + digits[c >> 4] + digits[c & 15];
}

// Byte-at-a-time references for the three escapers, from their header contracts.
std::string ReferenceJson(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t len = ReferenceSequenceLength(s, i);
      if (len == 0) {
        out += "\\" + Hex(c);
        len = 1;
      } else {
        out += s.substr(i, len);
      }
      i += len;
      continue;
    }
    ++i;
    if (c == '"')
      out += "\\\"";
    else if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\b')
      out += "\\b";
    else if (c == '\f')
      out += "\\f";
    else if (c < 0x20)
      out += "\\u00" + Hex(c).substr(2);
    else
      out += static_cast<char>(c);
  }
  return out + "\"";
}

std::string ReferenceCsv(const std::string& s) {
  bool quote = false;
  std::string body;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == ',' || c == '"' || c == '\r' || c == '\n') quote = true;
    if (c >= 0x80) {
      size_t len = ReferenceSequenceLength(s, i);
      body += len == 0 ? Hex(c) : s.substr(i, len);
      i += len == 0 ? 1 : len;
      continue;
    }
    body += c == '"' ? "\"\"" : std::string(1, static_cast<char>(c));
    ++i;
  }
  return quote ? "\"" + body + "\"" : body;
}

std::string ReferenceEscapedLine(const std::string& s) {
  std::string out;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\\')
      out += "\\\\";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else if (c >= 0x20 && c < 0x7F)
      out += ch;
    else
      out += Hex(c);
  }
  return out;
}

TEST(TextEscape, AllEscapersAgreeWithByteAtATimeReferences) {
  std::mt19937 rng(5);
  const char specials[] = {'"', '\\', ',', '\n', '\r', '\t', '\0', '\x7f', '\x1f', ' '};
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    size_t len = rng() % 40;
    for (size_t i = 0; i < len; ++i) {
      switch (rng() % 6) {
        case 0:
          s += specials[rng() % sizeof specials];
          break;
        case 1:
          s += static_cast<char>(0x80 + rng() % 128);
          break;
        case 2:
          s += B({0xC3, 0xA9});
          break;
        default:
          s += static_cast<char>('a' + rng() % 26);
      }
    }
    ASSERT_EQ(Json(s), ReferenceJson(s)) << ::testing::PrintToString(s);
    ASSERT_EQ(Csv(s), ReferenceCsv(s)) << ::testing::PrintToString(s);
    ASSERT_EQ(Escaped(s), ReferenceEscapedLine(s)) << ::testing::PrintToString(s);
  }
}

TEST(IsValidUtf8, AcceptsAsciiAndWellFormedSequences) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii with\ttab"));
  EXPECT_TRUE(IsValidUtf8(std::string("nul\0inside", 10)));
  EXPECT_TRUE(IsValidUtf8(B({0xC3, 0xA9})));              // é U+00E9
  EXPECT_TRUE(IsValidUtf8(B({0xC2, 0x80})));              // U+0080, smallest 2-byte
  EXPECT_TRUE(IsValidUtf8(B({0xE2, 0x82, 0xAC})));        // € U+20AC
  EXPECT_TRUE(IsValidUtf8(B({0xE0, 0xA0, 0x80})));        // U+0800, smallest 3-byte
  EXPECT_TRUE(IsValidUtf8(B({0xED, 0x9F, 0xBF})));        // U+D7FF, just below surrogates
  EXPECT_TRUE(IsValidUtf8(B({0xEE, 0x80, 0x80})));        // U+E000, just above them
  EXPECT_TRUE(IsValidUtf8(B({0xF0, 0x9F, 0x98, 0x80})));  // 😀 U+1F600
  EXPECT_TRUE(IsValidUtf8(B({0xF4, 0x8F, 0xBF, 0xBF})));  // U+10FFFF, the largest
}

TEST(IsValidUtf8, RejectsOverlongsSurrogatesAndOutOfRange) {
  EXPECT_FALSE(IsValidUtf8(B({0xC0, 0x80})));              // overlong NUL
  EXPECT_FALSE(IsValidUtf8(B({0xC1, 0xBF})));              // overlong U+007F
  EXPECT_FALSE(IsValidUtf8(B({0xE0, 0x80, 0x80})));        // overlong 3-byte
  EXPECT_FALSE(IsValidUtf8(B({0xE0, 0x9F, 0xBF})));        // overlong U+07FF
  EXPECT_FALSE(IsValidUtf8(B({0xF0, 0x80, 0x80, 0x80})));  // overlong 4-byte
  EXPECT_FALSE(IsValidUtf8(B({0xF0, 0x8F, 0xBF, 0xBF})));  // overlong U+FFFF
  EXPECT_FALSE(IsValidUtf8(B({0xED, 0xA0, 0x80})));        // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8(B({0xED, 0xBF, 0xBF})));        // surrogate U+DFFF
  EXPECT_FALSE(IsValidUtf8(B({0xF4, 0x90, 0x80, 0x80})));  // U+110000
  EXPECT_FALSE(IsValidUtf8(B({0xF5, 0x80, 0x80, 0x80})));
  EXPECT_FALSE(IsValidUtf8(B({0xFF})));
  EXPECT_FALSE(IsValidUtf8(B({0xFE})));
}

TEST(IsValidUtf8, RejectsStrayAndTruncatedSequences) {
  EXPECT_FALSE(IsValidUtf8(B({0x80})));  // lone continuation
  EXPECT_FALSE(IsValidUtf8(B({'a', 0xBF, 'b'})));
  EXPECT_FALSE(IsValidUtf8(B({0xC3})));              // cut at end
  EXPECT_FALSE(IsValidUtf8(B({0xE2, 0x82})));        // cut at end
  EXPECT_FALSE(IsValidUtf8(B({0xF0, 0x9F, 0x98})));  // cut at end
  EXPECT_FALSE(IsValidUtf8(B({0xE2, 0x82, 'x'})));   // cut by ASCII
  EXPECT_FALSE(IsValidUtf8(B({0xC3, 0xC3, 0xA9})));  // lead followed by lead
}

TEST(IsValidUtf8, FindsOneBadByteAnywhereInLongAsciiText) {
  // Exercises the word-at-a-time fast path at every alignment.
  std::string base(200, 'a');
  ASSERT_TRUE(IsValidUtf8(base));
  for (size_t pos = 0; pos < base.size(); ++pos) {
    std::string s = base;
    s[pos] = static_cast<char>(0xFF);
    EXPECT_FALSE(IsValidUtf8(s)) << "bad byte at " << pos;
    std::string t = base;
    t.replace(pos, 1, B({0xC3, 0xA9}));
    EXPECT_TRUE(IsValidUtf8(t)) << "good pair at " << pos;
    EXPECT_FALSE(IsValidUtf8(base.substr(0, pos) + B({0xE2, 0x82})));
  }
}

TEST(IsValidUtf8, AgreesWithReferenceOnRandomBytes) {
  std::mt19937 rng(1234);
  // Mostly ASCII with bytes around every boundary of the table.
  const int interesting[] = {'a',  0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                             0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED,
                             0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
  int valid_seen = 0;
  for (int round = 0; round < 200000; ++round) {
    size_t len = rng() % 12 + (round % 10 == 0 ? rng() % 100 : 0);
    std::string s;
    for (size_t i = 0; i < len; ++i) {
      s += static_cast<char>(rng() % 3 == 0 ? 'a' + rng() % 26
                                            : interesting[rng() % (sizeof interesting / 4)]);
    }
    bool expected = ReferenceValidUtf8(s);
    valid_seen += expected;
    ASSERT_EQ(IsValidUtf8(s), expected) << ::testing::PrintToString(s);
  }
  EXPECT_GT(valid_seen, 1000);  // the generator does make valid multi-byte text too
}

TEST(JsonString, PlainTextIsQuoted) {
  EXPECT_EQ(Json(""), "\"\"");
  EXPECT_EQ(Json("GET /index.html"), "\"GET /index.html\"");
}

TEST(JsonString, QuoteBackslashAndControlsAreEscaped) {
  EXPECT_EQ(Json("say \"hi\""), R"("say \"hi\"")");
  EXPECT_EQ(Json("C:\\dir"), R"("C:\\dir")");
  EXPECT_EQ(Json("a\nb\tc\rd"), R"("a\nb\tc\rd")");
  EXPECT_EQ(Json("\b\f"), R"("\b\f")");
  EXPECT_EQ(Json(B({0x01, 0x1F})), R"("\u0001\u001F")");
  EXPECT_EQ(Json(std::string("\0", 1)), R"("\u0000")");
  EXPECT_EQ(Json("\x7F"), "\"\x7F\"");  // DEL is legal in JSON strings
}

TEST(JsonString, ValidUtf8IsCopiedAsIs) {
  std::string s = "caf" + B({0xC3, 0xA9}) + " " + B({0xF0, 0x9F, 0x98, 0x80});
  EXPECT_EQ(Json(s), "\"" + s + "\"");
}

TEST(JsonString, InvalidBytesBecomeBackslashXText) {
  // In JSON source the backslash itself is escaped, so the decoded string reads \xC0.
  EXPECT_EQ(Json(B({0xC0, 0x80})), R"("\\xC0\\x80")");
  EXPECT_EQ(Json(B({0xED, 0xA0, 0x80})), R"("\\xED\\xA0\\x80")");
  EXPECT_EQ(Json(B({0xF4, 0x90, 0x80, 0x80})), R"("\\xF4\\x90\\x80\\x80")");
  EXPECT_EQ(Json(B({'a', 0xE2, 0x82, 'b'})), R"("a\\xE2\\x82b")");  // truncated sequence
  EXPECT_EQ(Json(B({0xFF, 0xC3, 0xA9})), "\"\\\\xFF" + B({0xC3, 0xA9}) + "\"");
}

TEST(JsonString, AppendsToExistingText) {
  std::string out = "{\"line\":";
  AppendJsonString("x", &out);
  EXPECT_EQ(out, "{\"line\":\"x\"");
}

TEST(JsonString, EscapingIntoALargeBufferCostsOnlyTheField) {
  // Each field needs more room than its own length; growth must not scale with `out`.
  std::string out(8 << 20, 'x');
  const std::string field(64, '"');
  for (int i = 0; i < 5000; ++i) AppendJsonString(field, &out);
  EXPECT_EQ(out.size(), (size_t{8} << 20) + 5000 * (2 + 2 * 64));
  // Ends with the last escaped quote, then the closing one.
  EXPECT_EQ(out.compare(out.size() - 3, 3, R"(\"")"), 0);
}

TEST(JsonString, OutputIsAlwaysValidUtf8) {
  std::mt19937 rng(99);
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    size_t len = rng() % 20;
    for (size_t i = 0; i < len; ++i) s += static_cast<char>(rng() % 256);
    std::string j = Json(s);
    ASSERT_TRUE(IsValidUtf8(j)) << ::testing::PrintToString(s);
    for (char c : j) ASSERT_GE(static_cast<unsigned char>(c), 0x20) << "raw control char";
  }
}

TEST(CsvField, PlainFieldIsNotQuoted) {
  EXPECT_EQ(Csv("200"), "200");
  EXPECT_EQ(Csv(""), "");
  EXPECT_EQ(Csv("caf" + B({0xC3, 0xA9})), "caf" + B({0xC3, 0xA9}));
}

TEST(CsvField, CommaQuoteAndLineBreaksForceQuoting) {
  EXPECT_EQ(Csv("a,b"), "\"a,b\"");
  EXPECT_EQ(Csv("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(Csv("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(Csv("cr\r"), "\"cr\r\"");
}

TEST(CsvField, InvalidBytesBecomeBackslashX) {
  EXPECT_EQ(Csv(B({'x', 0xFF})), "x\\xFF");
  EXPECT_EQ(Csv(B({0xC0, 0x80, ','})), "\"\\xC0\\x80,\"");
}

TEST(EscapedLine, PrintableAsciiIsKept) {
  EXPECT_EQ(Escaped("GET / HTTP/1.1 200 ~"), "GET / HTTP/1.1 200 ~");
}

TEST(EscapedLine, EverythingElseIsEscapedCStyle) {
  EXPECT_EQ(Escaped("a\tb\r\n"), R"(a\tb\r\n)");
  EXPECT_EQ(Escaped("back\\slash"), R"(back\\slash)");
  EXPECT_EQ(Escaped(std::string("\0\x01\x7F", 3)), R"(\x00\x01\x7F)");
  EXPECT_EQ(Escaped(B({0xC3, 0xA9, 0xFF})), R"(\xC3\xA9\xFF)");
}

TEST(EscapedLine, ResultIsOneLineOfPrintableAscii) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::string e = Escaped(all);
  for (char c : e) {
    ASSERT_GE(static_cast<unsigned char>(c), 0x20);
    ASSERT_LT(static_cast<unsigned char>(c), 0x7F);
  }
}

}  // namespace
}  // namespace logpipe
