#include "io/text_escape.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace logpipe {
namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ULL;
constexpr char kHex[] = "0123456789ABCDEF";

// Length of the valid UTF-8 sequence starting at p[0] (a byte >= 0x80), or 0 if the bytes
// there are not one (RFC 3629 / Unicode Table 3-7). `n` > 0 bytes are available.
inline __attribute__((always_inline)) size_t Utf8SequenceLength(const unsigned char* p, size_t n) {
  unsigned char c = p[0];
  auto cont = [](unsigned char b) { return (b & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) {
    return n >= 2 && cont(p[1]) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3) return 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c == 0xE0)
      lo = 0xA0;  // no overlongs
    else if (c == 0xED)
      hi = 0x9F;  // no surrogates
    return p[1] >= lo && p[1] <= hi && cont(p[2]) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4) return 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c == 0xF0)
      lo = 0x90;  // no overlongs
    else if (c == 0xF4)
      hi = 0x8F;  // nothing above U+10FFFF
    return p[1] >= lo && p[1] <= hi && cont(p[2]) && cont(p[3]) ? 4 : 0;
  }
  return 0;  // 80..C1 (continuation or overlong lead) and F5..FF
}

bool AllAscii8(const unsigned char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return (w & kHighBits) == 0;
}

// Word-at-a-time byte tests (exact as to whether any byte matches).
constexpr uint64_t kOnes = 0x0101010101010101ULL;
inline uint64_t HasZeroByte(uint64_t v) { return (v - kOnes) & ~v & kHighBits; }
inline uint64_t HasByte(uint64_t v, unsigned char b) { return HasZeroByte(v ^ (kOnes * b)); }
inline uint64_t HasByteBelow(uint64_t v, unsigned char b) {  // b <= 128
  return (v - kOnes * b) & ~v & kHighBits;
}

// Bit 7 of each byte of the returned mask is set for bytes that need attention; the lowest
// set bit is always exact (false positives can only appear above a true one).
inline uint64_t JsonSpecial8(const unsigned char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return (w & kHighBits) | HasByteBelow(w, 0x20) | HasByte(w, '"') | HasByte(w, '\\');
}
inline uint64_t CsvSpecial8(const unsigned char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return (w & kHighBits) | HasByte(w, '"');
}
inline uint64_t EscapedLineSpecial8(const unsigned char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return (w & kHighBits) | HasByteBelow(w, 0x20) | HasByte(w, 0x7F) | HasByte(w, '\\');
}

// How many leading bytes a non-zero mask from the functions above leaves untouched.
inline size_t LeadingPlainBytes(uint64_t mask) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return static_cast<size_t>(__builtin_ctzll(mask)) / 8;
#else
  (void)mask;
  return 0;
#endif
}

// Writes into the tail of a std::string, growing it on demand, so that short runs and
// escapes cost no append() call each. Finish() trims the string to what was written.
class Writer {
 public:
  Writer(std::string* out, size_t expected) : out_(out), start_(out->size()), pos_(start_) {
    out_->resize(pos_ + expected + 8);
  }
  char* Room(size_t n) {
    // Grow by what this call has written so far (not by the whole string, which may be a
    // large output buffer), so escaping stays linear in the field's length.
    if (pos_ + n > out_->size()) out_->resize(pos_ + n + (pos_ - start_) + 64);
    return &(*out_)[pos_];
  }
  void Put(char c) {
    *Room(1) = c;
    ++pos_;
  }
  void Put(const void* p, size_t n) {
    std::memcpy(Room(n), p, n);
    pos_ += n;
  }
  // Writes the first `n` (<= 8) of the 8 readable bytes at `p`, with one 8-byte copy.
  void PutPrefix8(const unsigned char* p, size_t n) {
    std::memcpy(Room(8), p, 8);
    pos_ += n;
  }
  void PutSmall(const unsigned char* p, size_t n) {  // n <= 8, no memcpy call
    char* w = Room(n);
    for (size_t k = 0; k < n; ++k) w[k] = static_cast<char>(p[k]);
    pos_ += n;
  }
  void PutHexEscape(unsigned char c) {  // the four characters \xNN
    char* w = Room(4);
    w[0] = '\\';
    w[1] = 'x';
    w[2] = kHex[c >> 4];
    w[3] = kHex[c & 15];
    pos_ += 4;
  }
  void Finish() { out_->resize(pos_); }

 private:
  std::string* out_;
  size_t start_;
  size_t pos_;
};

}  // namespace

bool IsValidUtf8(std::string_view bytes) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    if (p[i] >= 0x80) {
      size_t len = Utf8SequenceLength(p + i, n - i);
      if (len == 0) return false;
      i += len;
      continue;
    }
    // ASCII: skip runs 32, then 8 bytes at a time; single bytes between multi-byte text.
    if (i + 8 <= n && AllAscii8(p + i)) {
      i += 8;
      while (i + 32 <= n) {
        uint64_t a, b, c, d;
        std::memcpy(&a, p + i, 8);
        std::memcpy(&b, p + i + 8, 8);
        std::memcpy(&c, p + i + 16, 8);
        std::memcpy(&d, p + i + 24, 8);
        if (((a | b | c | d) & kHighBits) != 0) break;
        i += 32;
      }
      while (i + 8 <= n && AllAscii8(p + i)) i += 8;
    } else {
      ++i;
    }
  }
  return true;
}

void AppendJsonString(std::string_view bytes, std::string* out) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  Writer w(out, n + 2);
  w.Put('"');
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t special = JsonSpecial8(p + i);
      size_t plain = special == 0 ? 8 : LeadingPlainBytes(special);
      w.PutPrefix8(p + i, plain);
      i += plain;
      if (plain == 8) continue;
    }
    unsigned char c = p[i];
    if (c >= 0x80) {
      size_t len = Utf8SequenceLength(p + i, n - i);
      if (len == 0) {
        w.Put('\\');  // JSON "\\xNN": the decoded string holds the text \xNN
        w.PutHexEscape(c);
        len = 1;
      } else {
        w.PutSmall(p + i, len);
      }
      i += len;
      continue;
    }
    ++i;
    if (c >= 0x20 && c != '"' && c != '\\') {
      w.Put(static_cast<char>(c));
      continue;
    }
    switch (c) {
      case '"':
        w.Put("\\\"", 2);
        break;
      case '\\':
        w.Put("\\\\", 2);
        break;
      case '\b':
        w.Put("\\b", 2);
        break;
      case '\f':
        w.Put("\\f", 2);
        break;
      case '\n':
        w.Put("\\n", 2);
        break;
      case '\r':
        w.Put("\\r", 2);
        break;
      case '\t':
        w.Put("\\t", 2);
        break;
      default: {
        char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        w.Put(esc, 6);
      }
    }
  }
  w.Put('"');
  w.Finish();
}

void AppendCsvField(std::string_view bytes, std::string* out) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  bool quote = false;
  for (size_t i = 0; i < n && !quote; ++i) {
    quote = p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n';
  }
  Writer w(out, n + (quote ? 2 : 0));
  if (quote) w.Put('"');
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t special = CsvSpecial8(p + i);
      size_t plain = special == 0 ? 8 : LeadingPlainBytes(special);
      w.PutPrefix8(p + i, plain);
      i += plain;
      if (plain == 8) continue;
    }
    unsigned char c = p[i];
    if (c < 0x80) {
      if (c == '"') w.Put('"');  // doubled
      w.Put(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t len = Utf8SequenceLength(p + i, n - i);
    if (len == 0) {
      w.PutHexEscape(c);
      len = 1;
    } else {
      w.PutSmall(p + i, len);
    }
    i += len;
  }
  if (quote) w.Put('"');
  w.Finish();
}

void AppendEscapedLine(std::string_view bytes, std::string* out) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  Writer w(out, n);
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t special = EscapedLineSpecial8(p + i);
      size_t plain = special == 0 ? 8 : LeadingPlainBytes(special);
      w.PutPrefix8(p + i, plain);
      i += plain;
      if (plain == 8) continue;
    }
    unsigned char c = p[i++];
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      w.Put(static_cast<char>(c));
      continue;
    }
    switch (c) {
      case '\\':
        w.Put("\\\\", 2);
        break;
      case '\t':
        w.Put("\\t", 2);
        break;
      case '\r':
        w.Put("\\r", 2);
        break;
      case '\n':
        w.Put("\\n", 2);
        break;
      default:
        w.PutHexEscape(c);
    }
  }
  w.Finish();
}

}  // namespace logpipe
