// logpipe-gen: deterministic generator of large Apache "combined" access logs, with the exact
// answer of the reference job written next to them.
//
//   logpipe-gen --size 1G --seed 42 -o access_1g.log
//   logpipe-gen --size 20M --seed 7 -o a.log --truth a.truth.json --request-time
//
// Options:
//   -o, --out FILE         output file ('-' for stdout); required
//   --size SIZE            stop before the file would exceed SIZE bytes (default 100M);
//                          SIZE is bytes, or a number with K/M/G/T (binary: 1K = 1024), KiB...
//   --lines N              write exactly N lines instead of --size
//   --seed N               unsigned 64-bit seed (default 42)
//   --start TIME           first timestamp, UTC, 2025-10-10T00:00:00[Z] (default that)
//   --span DUR             time the log covers: seconds or N[s|m|h|d] (default 24h)
//   --malformed-rate R     fraction of bad lines (default 0.001)
//   --request-time         append a request time in seconds (nginx $request_time), " 0.123"
//   --ips N                distinct client addresses (default 40000)
//   --paths N              distinct base paths before query strings (default 60000)
//   --truth FILE           truth JSON (default OUT.truth.json; 'none' to skip; stdout: none)
//   --verify               also match every line with a built-in copy of the reference regex
//                          and abort if it disagrees with what was generated (slower)
//
// Each line:
//   IP - USER [10/Oct/2025:13:55:36 +0000] "METHOD TARGET PROTO" STATUS BYTES "REF" "AGENT"[ RT]
//
// The mix: client addresses with zipf popularity, the heaviest being crawlers, uptime monitors,
// an in-cluster probe, a carrier NAT, a batch API client and a scanner; each address mostly
// keeps one user agent. A site model of pages, static assets, a JSON API, search, login,
// downloads and scanner probes, each kind with its own method, status (22 codes), body size
// and referrer habits; zipf path popularity; query strings (search terms, paging, utm tags,
// click ids, cache busters) make targets high-cardinality. HTTP/1.0, 1.1 and 2.0; empty bodies
// are logged as '-'. Timestamps are non-decreasing (Poisson arrivals over --span).
// Malformed lines (--malformed-rate): truncated lines, garbage bytes (NUL and high bytes),
// a run of NULs followed by a torn line, empty lines; the same draw also yields well-formed
// lines with an invalid UTF-8 sequence in the agent, referrer or query string (these match).
//
// Determinism: the output is a pure function of the arguments. Own PRNG (splitmix64 seeding
// xoshiro256**), own log/exp (only IEEE + - * / sqrt, built with -ffp-contract=off), no
// std:: distributions, no clock in the output, no hash-table order in the output.
//
// Truth: FILE.truth.json holds the reference job's answer computed from what was generated,
// not by parsing: lines, matched, unparsed, per-status count and byte sum ('-' is 0), top 10
// targets (ties bytewise ascending), distinct targets, malformed kinds, invalid_utf8_lines.
// The reference job: split on '\n', strip one trailing '\r', full match of each line against
// combined.re (bytes). Malformed lines are built so they cannot match, and each one is also
// checked with a built-in exact matcher for that regex (a surprise would be counted as the
// regex decides, and reported under "malformed").  See data/README.md.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace {

// ------------------------------------------------------------------------------ randomness

uint64_t SplitMix64(uint64_t* x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman & Vigna), seeded through splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& w : s_) w = SplitMix64(&x);
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n), n > 0 (multiply-shift; bias below 2^-32).
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(((Next() >> 32) * n) >> 32); }
  // Uniform integer in [lo, hi].
  int Range(int lo, int hi) {
    return lo + static_cast<int>(Below(static_cast<uint32_t>(hi - lo + 1)));
  }
  bool Chance(double p) { return Uniform() < p; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

constexpr double kLn2 = 0.693147180559945309417232121458;

// Natural log from IEEE arithmetic only (frexp is exact), so results never depend on libm.
double DetLog(double x) {
  int e = 0;
  double m = std::frexp(x, &e);  // x = m * 2^e, m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    --e;
  }
  const double f = m - 1.0;
  const double s = f / (2.0 + f);  // log(1+f) = 2 atanh(s), |s| < 0.172
  const double s2 = s * s;
  double term = s;
  double sum = 0.0;
  for (int k = 1; k <= 29; k += 2) {
    sum += term / k;
    term *= s2;
  }
  return 2.0 * sum + e * kLn2;
}

// e^x from IEEE arithmetic only (floor and ldexp are exact).
double DetExp(double x) {
  if (x < -700.0) return 0.0;
  if (x > 700.0) x = 700.0;
  const double k = std::floor(x / kLn2 + 0.5);
  const double r = x - k * kLn2;  // |r| <= ~0.35
  double term = 1.0;
  double sum = 1.0;
  for (int i = 1; i <= 18; ++i) {
    term *= r / i;
    sum += term;
  }
  return std::ldexp(sum, static_cast<int>(k));
}

// Standard normal (Marsaglia polar method; sqrt is correctly rounded by IEEE 754).
double Normal(Rng& r) {
  for (;;) {
    const double u = 2.0 * r.Uniform() - 1.0;
    const double v = 2.0 * r.Uniform() - 1.0;
    const double s = u * u + v * v;
    if (s > 0.0 && s < 1.0) return u * std::sqrt(-2.0 * DetLog(s) / s);
  }
}

double LogNormal(Rng& r, double mu, double sigma) { return DetExp(mu + sigma * Normal(r)); }

// Weighted choice over a small table with integer weights.
template <typename T>
class Weighted {
 public:
  Weighted() = default;
  Weighted(std::initializer_list<std::pair<T, uint32_t>> items) {
    for (const auto& it : items) Add(it.first, it.second);
  }
  void Add(T item, uint32_t weight) {
    total_ += weight;
    items_.push_back(std::move(item));
    cum_.push_back(total_);
  }
  const T& Pick(Rng& r) const {
    const uint32_t x = r.Below(total_);
    const size_t i = std::upper_bound(cum_.begin(), cum_.end(), x) - cum_.begin();
    return items_[i];
  }
  bool empty() const { return items_.empty(); }

 private:
  std::vector<T> items_;
  std::vector<uint32_t> cum_;
  uint32_t total_ = 0;
};

// Zipf(s) over ranks 0..n-1 (rank k has weight 1/(k+1)^s).
class Zipf {
 public:
  Zipf(size_t n, double s) {
    cum_.reserve(n);
    double total = 0.0;
    for (size_t k = 1; k <= n; ++k) {
      const double kd = static_cast<double>(k);
      total += (s == 1.0) ? 1.0 / kd : DetExp(-s * DetLog(kd));
      cum_.push_back(total);
    }
  }
  uint32_t Pick(Rng& r) const {
    const double x = r.Uniform() * cum_.back();
    size_t i = std::upper_bound(cum_.begin(), cum_.end(), x) - cum_.begin();
    if (i >= cum_.size()) i = cum_.size() - 1;
    return static_cast<uint32_t>(i);
  }

 private:
  std::vector<double> cum_;
};

// ------------------------------------------------------------------------------ formatting

// Appends to a raw buffer; callers guarantee room (lines are far below the headroom).
struct Out {
  char* p;
  void Str(std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
  void Ch(char c) { *p++ = c; }
  void U64(uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) *p++ = tmp[--n];
  }
  void Pad2(unsigned v) {
    *p++ = static_cast<char>('0' + v / 10 % 10);
    *p++ = static_cast<char>('0' + v % 10);
  }
  void Hex(uint64_t v, int digits) {
    static const char kHex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; --i) *p++ = kHex[(v >> (4 * i)) & 15];
  }
};

std::string HexString(uint64_t v, int digits) {
  std::string s(static_cast<size_t>(digits), '0');
  Out o{s.data()};
  o.Hex(v, digits);
  return s;
}

// Days since 1970-01-01 <-> civil date (proleptic Gregorian; H. Hinnant's algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// "10/Oct/2025:13:55:36" (no brackets, no zone).
std::string ApacheTime(int64_t epoch) {
  int64_t days = epoch >= 0 ? epoch / 86400 : -((-epoch + 86399) / 86400);
  int64_t secs = epoch - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02u/%s/%04lld:%02lld:%02lld:%02lld", d, kMonths[m - 1],
                static_cast<long long>(y), static_cast<long long>(secs / 3600),
                static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  return buf;
}

// ------------------------------------------------------------------------------ the reference
// regex

// An exact matcher for shared/peers/combined.re:
//   ^(?P<ip>[^ ]+) [^ ]+ [^ ]+ \[(?P<ts>[^]]+)\] "(?P<method>[A-Z]+) (?P<path>[^ "]+)
//   HTTP/[0-9.]+" (?P<status>[0-9][0-9][0-9]) (?P<bytes>[0-9]+|-) "(?P<referer>[^"]*)"
//   "(?P<agent>[^"]*)"( [0-9.]+)?$
// Every element is followed by a byte its class excludes, so the regex has a single way to
// match and a left-to-right scan decides it. Used on malformed lines (and with --verify).
struct RegexMatch {
  std::string_view path;
  int status = 0;
  uint64_t bytes = 0;
};

bool MatchCombined(std::string_view s, RegexMatch* m) {
  const size_t n = s.size();
  size_t i = 0;
  auto lit = [&](std::string_view t) {
    if (s.substr(i, t.size()) != t) return false;
    i += t.size();
    return true;
  };
  for (int f = 0; f < 3; ++f) {  // ip, ident, user: [^ ]+ then ' '
    const size_t b = i;
    while (i < n && s[i] != ' ') ++i;
    if (i == b || i == n) return false;
    ++i;
  }
  if (!lit("[")) return false;
  size_t b = i;
  while (i < n && s[i] != ']') ++i;
  if (i == b || !lit("] \"")) return false;
  b = i;
  while (i < n && s[i] >= 'A' && s[i] <= 'Z') ++i;
  if (i == b || !lit(" ")) return false;
  b = i;
  while (i < n && s[i] != ' ' && s[i] != '"') ++i;
  if (i == b) return false;
  m->path = s.substr(b, i - b);
  if (!lit(" HTTP/")) return false;
  b = i;
  while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
  if (i == b || !lit("\" ")) return false;
  if (i + 3 > n) return false;
  m->status = 0;
  for (int k = 0; k < 3; ++k, ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    m->status = m->status * 10 + (s[i] - '0');
  }
  if (!lit(" ")) return false;
  m->bytes = 0;
  if (i < n && s[i] >= '0' && s[i] <= '9') {
    while (i < n && s[i] >= '0' && s[i] <= '9') m->bytes = m->bytes * 10 + (s[i++] - '0');
  } else if (!lit("-")) {
    return false;
  }
  if (!lit(" \"")) return false;
  while (i < n && s[i] != '"') ++i;
  if (!lit("\" \"")) return false;
  while (i < n && s[i] != '"') ++i;
  if (!lit("\"")) return false;
  if (i == n) return true;
  if (!lit(" ")) return false;
  b = i;
  while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
  return i > b && i == n;
}

// ------------------------------------------------------------------------------ path counts

// Open-addressing count table over byte strings kept in one arena.
class CountTable {
 public:
  CountTable() : slots_(1 << 16) {}
  void Add(std::string_view key, uint64_t n) {
    if ((used_ + 1) * 4 > slots_.size() * 3) Grow();
    const uint64_t h = Hash(key);
    size_t i = h & (slots_.size() - 1);
    for (;;) {
      Slot& s = slots_[i];
      if (s.count == 0) {
        s = Slot{h, arena_.size(), static_cast<uint32_t>(key.size()), n};
        arena_.append(key);
        ++used_;
        return;
      }
      if (s.hash == h && s.len == key.size() &&
          std::memcmp(arena_.data() + s.off, key.data(), key.size()) == 0) {
        s.count += n;
        return;
      }
      i = (i + 1) & (slots_.size() - 1);
    }
  }
  size_t size() const { return used_; }
  std::vector<std::pair<uint64_t, std::string_view>> Entries() const {
    std::vector<std::pair<uint64_t, std::string_view>> v;
    v.reserve(used_);
    for (const Slot& s : slots_) {
      if (s.count != 0) v.emplace_back(s.count, std::string_view(arena_.data() + s.off, s.len));
    }
    return v;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    size_t off = 0;
    uint32_t len = 0;
    uint64_t count = 0;
  };
  static uint64_t Hash(std::string_view k) {
    uint64_t h = 0x243f6a8885a308d3ULL ^ k.size();
    size_t i = 0;
    for (; i + 8 <= k.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, k.data() + i, 8);
      h = (h ^ w) * 0x9fb21c651e98df25ULL;
      h ^= h >> 29;
    }
    uint64_t w = 0;
    std::memcpy(&w, k.data() + i, k.size() - i);
    h = (h ^ w) * 0x9fb21c651e98df25ULL;
    return h ^ (h >> 32);
  }
  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.count == 0) continue;
      size_t i = s.hash & (slots_.size() - 1);
      while (slots_[i].count != 0) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  std::string arena_;
  size_t used_ = 0;
};

// ------------------------------------------------------------------------------ the model

enum Kind : uint8_t {
  kPage,
  kStatic,
  kApi,
  kApiPost,
  kApiList,
  kSearch,
  kLogin,
  kProbe,
  kHealth,
  kDownload,
  kNumKinds
};

enum Profile : uint8_t { kBrowser, kBot, kMonitor, kApiClient, kScanner };
enum UaKind : uint8_t { kUaBrowser, kUaBot, kUaTool, kUaMonitor };

struct UserAgent {
  std::string text;
  uint32_t weight;  // relative, x10
  UaKind kind;
};

struct SitePath {
  std::string path;
  Kind kind;
  uint32_t base_size;
};

struct Client {
  std::string ip;
  uint32_t ua;
  Profile profile;
};

const char* const kWords[] = {
    "error",     "timeout",  "config",  "install",    "docker",   "kubernetes", "nginx",
    "postgres",  "redis",    "python",  "golang",     "rust",     "release",    "changelog",
    "pricing",   "login",    "account", "password",   "reset",    "billing",    "invoice",
    "export",    "import",   "token",   "oauth",      "webhook",  "upload",     "download",
    "backup",    "restore",  "cluster", "node",       "metrics",  "logging",    "alerts",
    "dashboard", "query",    "index",   "cache",      "proxy",    "tls",        "certificate",
    "dns",       "domain",   "email",   "newsletter", "support",  "contact",    "boots",
    "sneakers",  "hoodie",   "jacket",  "laptop",     "tablet",   "camera",     "earbuds",
    "monitor",   "keyboard", "mouse",   "desk",       "lamp",     "espresso",   "kettle",
    "novel",     "cookbook", "guide",   "tutorial",   "beginner", "advanced",   "review",
    "versus",    "best",     "budget",  "sale",       "discount", "gift",       "winter",
    "summer",    "spring",   "autumn",  "black",      "white",    "red",        "navy",
    "olive",     "small",    "large",   "wireless",   "vintage",  "organic",    "travel"};
constexpr uint32_t kNumWords = sizeof kWords / sizeof kWords[0];

const char* const kSearchOdd[] = {"caf%C3%A9",  "jalape%C3%B1o",      "%E6%9D%B1%E4%BA%AC",
                                  "gro%C3%9Fe", "20%25+off",          "c%2B%2B",
                                  "q%26a",      "%22exact+phrase%22", "%F0%9F%91%9F"};

const char* const kBadUtf8Seqs[] = {
    "\xff",     "\xfe\xfe",         "\xc3\x28",     "\xa0\xa1", "\xe2\x28\xa1",
    "\xe2\x82", "\xf0\x28\x8c\xbc", "\xed\xa0\x80", "\xc0\xaf", "\xf8\x88\x80\x80\x80",
    "\x80",     "\xc1\xbf"};

const char* const kSearchEngines[] = {"https://www.google.com/",   "https://www.google.de/",
                                      "https://www.bing.com/",     "https://duckduckgo.com/",
                                      "https://www.google.co.uk/", "https://www.ecosia.org/",
                                      "https://yandex.ru/",        "https://search.brave.com/"};
const char* const kSocial[] = {"https://t.co/",
                               "https://www.facebook.com/",
                               "https://l.instagram.com/",
                               "https://www.reddit.com/",
                               "https://news.ycombinator.com/",
                               "https://www.linkedin.com/",
                               "android-app://com.google.android.gm/",
                               "https://out.reddit.com/"};
const char* const kUsers[] = {"alice",  "bob",   "chen",       "dmitri", "eve",
                              "fatima", "admin", "svc-export", "ops"};

std::string Slug(Rng& r, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += '-';
    s += kWords[r.Below(kNumWords)];
  }
  return s;
}

template <size_t N>
const char* OneOf(Rng& r, const char* const (&a)[N]) {
  return a[r.Below(N)];
}

std::vector<UserAgent> BuildUserAgents(Rng& r) {
  std::vector<UserAgent> v;
  auto add = [&](std::string s, uint32_t w, UaKind k) { v.push_back({std::move(s), w, k}); };
  const char* const win[] = {"Windows NT 10.0; Win64; x64", "Windows NT 10.0; WOW64",
                             "Windows NT 6.1; Win64; x64"};
  const char* const mac[] = {"Macintosh; Intel Mac OS X 10_15_7",
                             "Macintosh; Intel Mac OS X 14_7_1"};
  const char* const lin[] = {"X11; Linux x86_64", "X11; Ubuntu; Linux x86_64",
                             "X11; CrOS x86_64 14541.0.0"};
  const char* const phones[] = {"Linux; Android 10; K", "Linux; Android 14; SM-S921B",
                                "Linux; Android 15; Pixel 9", "Linux; Android 13; moto g54 5G",
                                "Linux; Android 12; M2101K6G"};
  for (int ver = 119; ver <= 131; ++ver) {
    const uint32_t age = static_cast<uint32_t>(ver - 118);
    const std::string vs = std::to_string(ver);
    for (const char* os : win) {
      const int build = r.Range(6000, 6800);
      const int patch = r.Range(50, 210);
      add("Mozilla/5.0 (" + std::string(os) + ") AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" +
              vs + ".0." + std::to_string(build) + "." + std::to_string(patch) + " Safari/537.36",
          8 * age, kUaBrowser);
    }
    for (const char* os : mac) {
      add("Mozilla/5.0 (" + std::string(os) + ") AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" +
              vs + ".0.0.0 Safari/537.36",
          4 * age, kUaBrowser);
    }
    for (const char* os : lin) {
      add("Mozilla/5.0 (" + std::string(os) + ") AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" +
              vs + ".0.0.0 Safari/537.36",
          age, kUaBrowser);
    }
    const int edge_build = r.Range(2100, 2900);
    const int edge_patch = r.Range(40, 99);
    add("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/" +
            vs + ".0.0.0 Safari/537.36 Edg/" + vs + ".0." + std::to_string(edge_build) + "." +
            std::to_string(edge_patch),
        2 * age, kUaBrowser);
    for (const char* dev : phones) {
      add("Mozilla/5.0 (" + std::string(dev) + ") AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" +
              vs + ".0.0.0 Mobile Safari/537.36",
          5 * age, kUaBrowser);
    }
  }
  for (int ver = 117; ver <= 133; ++ver) {
    const std::string vs = std::to_string(ver);
    for (const char* os : {"Windows NT 10.0; Win64; x64", "X11; Linux x86_64",
                           "Macintosh; Intel Mac OS X 10.15", "X11; Ubuntu; Linux x86_64"}) {
      add("Mozilla/5.0 (" + std::string(os) + "; rv:" + vs + ".0) Gecko/20100101 Firefox/" + vs +
              ".0",
          4, kUaBrowser);
    }
  }
  for (const char* ios : {"16_7_10", "17_1", "17_5_1", "17_6_1", "18_0_1", "18_1"}) {
    const std::string major(ios, std::strchr(ios, '_'));
    add("Mozilla/5.0 (iPhone; CPU iPhone OS " + std::string(ios) +
            " like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/" + major +
            ".0 Mobile/15E148 Safari/604.1",
        45, kUaBrowser);
    add("Mozilla/5.0 (iPad; CPU OS " + std::string(ios) +
            " like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/" + major +
            ".0 Mobile/15E148 Safari/604.1",
        8, kUaBrowser);
  }
  for (const char* sv : {"16.6", "17.2", "17.6", "18.1"}) {
    add("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/" +
            std::string(sv) + " Safari/605.1.15",
        15, kUaBrowser);
  }
  // Bots first in this order: clients use them by index below.
  const std::pair<const char*, uint32_t> bots[] = {
      {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 60},
      {"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
       "like Gecko) Chrome/131.0.6778.108 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
       "+http://www.google.com/bot.html)",
       40},
      {"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 30},
      {"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 20},
      {"Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", 15},
      {"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", 10},
      {"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
       "+https://openai.com/gptbot)",
       10},
      {"Mozilla/5.0 (compatible; Applebot/0.1; +http://www.apple.com/go/applebot)", 5},
      {"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 5},
      {"Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)", 3}};
  for (const auto& b : bots) add(b.first, b.second, kUaBot);
  const std::pair<const char*, uint32_t> tools[] = {
      {"curl/7.88.1", 10},
      {"curl/8.10.1", 8},
      {"python-requests/2.31.0", 10},
      {"python-requests/2.32.3", 8},
      {"Go-http-client/1.1", 10},
      {"Go-http-client/2.0", 5},
      {"Wget/1.21.4", 3},
      {"okhttp/4.12.0", 8},
      {"axios/1.7.7", 5},
      {"Apache-HttpClient/4.5.14 (Java/17.0.12)", 4},
      {"Mozilla/5.0 zgrab/0.x", 5},
      {"Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)", 3},
      {"Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", 2},
      {"-", 6}};
  for (const auto& t : tools) add(t.first, t.second, kUaTool);
  const std::pair<const char*, uint32_t> mons[] = {
      {"Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", 10},
      {"kube-probe/1.30", 10},
      {"ELB-HealthChecker/2.0", 10},
      {"Prometheus/2.54.1", 5},
      {"Blackbox Exporter/0.25.0", 3}};
  for (const auto& m : mons) add(m.first, m.second, kUaMonitor);
  return v;
}

// Indices of fixed entries at the head of the site list.
constexpr uint32_t kIdxRoot = 0;
constexpr uint32_t kIdxHealth = 7;
constexpr uint32_t kIdxProducts = 14;
constexpr uint32_t kIdxWpLogin = 20;
constexpr uint32_t kIdxDotEnv = 21;

std::vector<SitePath> BuildSite(Rng& r, size_t n_paths) {
  std::string build[3];
  for (std::string& b : build) b = HexString(r.Next(), 10);
  std::vector<SitePath> out = {
      {"/", kPage, 41000},
      {"/favicon.ico", kStatic, 15406},
      {"/assets/css/site." + build[0] + ".css", kStatic, 164220},
      {"/assets/js/main." + build[0] + ".js", kStatic, 488301},
      {"/assets/js/vendor." + build[0] + ".js", kStatic, 1302977},
      {"/api/v1/session", kApi, 388},
      {"/robots.txt", kStatic, 274},
      {"/healthz", kHealth, 2},
      {"/api/v1/track", kApiPost, 0},
      {"/search", kSearch, 0},
      {"/assets/img/logo.svg", kStatic, 5874},
      {"/login", kLogin, 8800},
      {"/sitemap.xml", kStatic, 301455},
      {"/assets/fonts/inter-var.woff2", kStatic, 99120},
      {"/api/v2/products", kApiList, 0},
      {"/graphql", kApiPost, 0},
      {"/metrics", kHealth, 0},
      {"/blog/", kPage, 52000},
      {"/pricing", kPage, 63000},
      {"/about", kPage, 21000},
      {"/wp-login.php", kProbe, 0},
      {"/.env", kProbe, 0},
      {"/feed.xml", kStatic, 70500},
      {"/apple-touch-icon.png", kStatic, 8302},
      {"/api/v1/cart", kApi, 950},
  };
  const size_t head = out.size();  // fixed popularity ranks; the k* indices above point here
  std::unordered_set<std::string> seen;
  for (const SitePath& p : out) seen.insert(p.path);
  const char* const probes[] = {
      "/wp-admin/",
      "/wp-admin/admin-ajax.php",
      "/xmlrpc.php",
      "/.git/config",
      "/.git/HEAD",
      "/phpmyadmin/index.php",
      "/pma/scripts/setup.php",
      "/cgi-bin/luci/;stok=/locale",
      "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
      "/.aws/credentials",
      "/actuator/env",
      "/server-status",
      "/boaform/admin/formLogin",
      "/owa/auth/logon.aspx",
      "/HNAP1/",
      "/solr/admin/info/system?wt=json",
      "/manager/html",
      "/.DS_Store",
      "/config.json",
      "/backup.tar.gz",
      "/dump.sql",
      "/wp-content/plugins/wp-file-manager/readme.txt",
      "/index.php?s=/Index/\\think\\app/invokefunction",
      "/shell?cd+/tmp;rm+-rf+*;wget+http://0.0.0.0/bins.sh",
      "/_ignition/health-check",
      "/telescope/requests",
      "/.well-known/security.txt",
      "/autodiscover/autodiscover.json?@zdi/Powershell",
      "/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession",
      "/%2e%2e/%2e%2e/%2e%2e/etc/passwd"};
  enum Tail {
    kBlog,
    kProduct,
    kDocs,
    kImage,
    kChunk,
    kApiItem,
    kCategory,
    kProbeT,
    kAccount,
    kDl,
    kTag
  };
  const Weighted<Tail> tails = {{kBlog, 17},   {kProduct, 21}, {kDocs, 13},    {kImage, 16},
                                {kChunk, 3},   {kApiItem, 14}, {kCategory, 4}, {kProbeT, 5},
                                {kAccount, 2}, {kDl, 3},       {kTag, 2}};
  size_t probe_i = 0;
  while (out.size() < n_paths) {
    std::string p;
    Kind kind = kPage;
    double size = 1;
    // One random draw per statement: the order of operands of '+' is unspecified in C++.
    auto num = [&](int lo, int hi) { p += std::to_string(r.Range(lo, hi)); };
    switch (tails.Pick(r)) {
      case kBlog: {
        p = "/blog/";
        num(2015, 2025);
        const int m = r.Range(1, 12);
        p += m < 10 ? "/0" : "/";
        p += std::to_string(m);
        p += "/";
        p += Slug(r, r.Range(2, 6));
        size = LogNormal(r, 10.8, 0.4);
        break;
      }
      case kProduct:
        p = "/products/";
        p += Slug(r, r.Range(1, 3));
        p += "-";
        num(100, 99999);
        size = LogNormal(r, 11.0, 0.3);
        break;
      case kDocs: {
        const char* const vers[] = {"v1", "v2", "v3", "latest"};
        p = "/docs/";
        p += OneOf(r, vers);
        p += "/";
        p += Slug(r, r.Range(1, 4));
        size = LogNormal(r, 10.4, 0.5);
        break;
      }
      case kImage: {
        const char* const dirs[] = {"products", "blog", "ui", "avatars", "banners"};
        const char* const exts[] = {"jpg", "jpg", "png", "webp", "webp", "webp", "svg", "gif"};
        p = "/images/";
        p += OneOf(r, dirs);
        p += "/";
        p += HexString(r.Next(), 12);
        p += ".";
        p += OneOf(r, exts);
        kind = kStatic;
        size = LogNormal(r, 10.4, 1.2);
        break;
      }
      case kChunk:
        p = "/assets/js/";
        num(1, 999);
        p += ".";
        p += build[r.Below(3)];
        p += ".chunk.js";
        kind = kStatic;
        size = LogNormal(r, 10.0, 1.0);
        break;
      case kApiItem: {
        const char* const res[] = {"users", "orders", "products", "carts", "reviews", "invoices"};
        p = "/api/v1/";
        p += OneOf(r, res);
        p += "/";
        num(1, 3000000);
        kind = kApi;
        size = LogNormal(r, 7.0, 0.8);
        break;
      }
      case kCategory:
        p = "/category/";
        p += Slug(r, r.Range(1, 2));
        size = LogNormal(r, 10.9, 0.3);
        break;
      case kProbeT:
        if (probe_i < std::size(probes)) {
          p = probes[probe_i];
        } else {
          p = "/";
          p += Slug(r, 1);
          p += r.Chance(0.5) ? ".php" : ".bak";
        }
        ++probe_i;
        kind = kProbe;
        size = 0;
        break;
      case kAccount: {
        const char* const pages[] = {"settings", "orders",        "profile", "security",
                                     "billing",  "notifications", "api-keys"};
        p = "/account/";
        p += OneOf(r, pages);
        size = LogNormal(r, 10.0, 0.3);
        break;
      }
      case kDl: {
        const char* const names[] = {"client", "agent", "cli", "sdk", "desktop"};
        const char* const exts[] = {"tar.gz", "zip", "deb", "rpm", "dmg", "msi"};
        p = "/downloads/";
        p += OneOf(r, names);
        p += "-";
        num(1, 4);
        p += ".";
        num(0, 30);
        p += ".";
        num(0, 9);
        p += ".";
        p += OneOf(r, exts);
        kind = kDownload;
        size = LogNormal(r, 15.0, 1.0);
        break;
      }
      case kTag:
        p = "/tags/";
        p += kWords[r.Below(kNumWords)];
        size = LogNormal(r, 10.2, 0.4);
        break;
    }
    if (!seen.insert(p).second) continue;
    const double clamped = std::min(std::max(size, 1.0), 4.0e9);
    out.push_back({std::move(p), kind, static_cast<uint32_t>(clamped)});
  }
  // Keep the head fixed; shuffle the tail so kinds interleave in popularity (Fisher-Yates).
  for (size_t i = out.size() - 1; i > head; --i) {
    const size_t j = head + r.Below(static_cast<uint32_t>(i - head + 1));
    std::swap(out[i], out[j]);
  }
  return out;
}

uint32_t PackIp(int a, int b, int c, int d) {
  return static_cast<uint32_t>(a) << 24 | static_cast<uint32_t>(b) << 16 |
         static_cast<uint32_t>(c) << 8 | static_cast<uint32_t>(d);
}

std::string IpString(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string(ip >> 16 & 255) + "." +
         std::to_string(ip >> 8 & 255) + "." + std::to_string(ip & 255);
}

uint32_t RandomPublicIp(Rng& r) {
  for (;;) {
    const int a = r.Range(1, 223);
    if (a == 10 || a == 100 || a == 127 || a == 169 || a == 172 || a == 192 || a == 198 || a == 203)
      continue;
    const int b = r.Range(0, 255);  // one draw per statement: argument order is unspecified
    const int c = r.Range(0, 255);
    const int d = r.Range(1, 254);
    return PackIp(a, b, c, d);
  }
}

std::vector<Client> BuildClients(Rng& r, size_t n_ips, const std::vector<UserAgent>& uas) {
  Weighted<uint32_t> browser_ua;
  std::vector<uint32_t> bots, tools, mons;
  for (uint32_t i = 0; i < uas.size(); ++i) {
    switch (uas[i].kind) {
      case kUaBrowser:
        browser_ua.Add(i, uas[i].weight);
        break;
      case kUaBot:
        bots.push_back(i);
        break;
      case kUaTool:
        tools.push_back(i);
        break;
      case kUaMonitor:
        mons.push_back(i);
        break;
    }
  }
  std::vector<Client> clients;
  std::unordered_set<uint32_t> seen;
  auto add = [&](uint32_t ip, uint32_t ua, Profile prof) {
    if (!seen.insert(ip).second) return false;
    clients.push_back({IpString(ip), ua, prof});
    return true;
  };
  // The heavy hitters, most popular first.
  const int crawler_nets[][3] = {{66, 249, 66}, {66, 249, 79},   {40, 77, 167}, {207, 46, 13},
                                 {54, 36, 148}, {185, 191, 171}, {5, 255, 231}, {20, 171, 207}};
  for (size_t i = 0; i < std::size(crawler_nets); ++i) {
    const int* n = crawler_nets[i];
    add(PackIp(n[0], n[1], n[2], r.Range(1, 254)), bots[i % bots.size()], kBot);
    if (i == 0) add(PackIp(69, 162, 124, r.Range(224, 238)), mons[0], kMonitor);  // uptime
    if (i == 1) add(PackIp(10, 42, 0, r.Range(2, 254)), mons[1], kMonitor);       // kube-probe
    if (i == 2) {  // a carrier NAT: many browsers behind one address
      const uint32_t ip = RandomPublicIp(r);
      add(ip, browser_ua.Pick(r), kBrowser);
    }
    if (i == 3) add(RandomPublicIp(r), tools[2], kApiClient);  // a batch API client
    if (i == 5) add(RandomPublicIp(r), tools[10], kScanner);   // a zgrab scanner
  }
  while (clients.size() < n_ips) {
    const uint32_t ip = RandomPublicIp(r);
    const double x = r.Uniform();
    if (x < 0.90) {
      add(ip, browser_ua.Pick(r), kBrowser);
    } else if (x < 0.95) {
      add(ip, tools[r.Below(static_cast<uint32_t>(tools.size()))], kApiClient);
    } else if (x < 0.98) {
      add(ip, bots[r.Below(static_cast<uint32_t>(bots.size()))], kBot);
    } else {
      add(ip, tools[r.Below(static_cast<uint32_t>(tools.size()))], kScanner);
    }
  }
  return clients;
}

struct KindTables {
  Weighted<int> status;
  Weighted<std::string_view> method;
};

std::vector<KindTables> BuildKindTables() {
  std::vector<KindTables> t(kNumKinds);
  // clang-format off
  t[kPage] = {{{200, 9150}, {304, 260}, {301, 120}, {302, 90}, {404, 160}, {499, 30}, {500, 40},
               {502, 25}, {503, 20}, {504, 15}, {403, 10}},
              {{"GET", 972}, {"HEAD", 22}, {"POST", 6}}};
  t[kStatic] = {{{200, 8150}, {304, 1550}, {206, 60}, {404, 150}, {499, 40}, {403, 5}, {500, 5}},
                {{"GET", 985}, {"HEAD", 15}}};
  t[kApi] = {{{200, 8500}, {201, 160}, {204, 130}, {400, 250}, {401, 300}, {403, 100}, {404, 220},
              {409, 40}, {422, 60}, {429, 110}, {500, 60}, {502, 10}, {503, 30}},
             {{"GET", 630}, {"PUT", 90}, {"PATCH", 60}, {"DELETE", 40}, {"POST", 80},
              {"OPTIONS", 100}}};
  t[kApiPost] = {{{200, 3000}, {201, 2900}, {202, 2000}, {204, 1250}, {400, 300}, {401, 150},
                  {413, 20}, {429, 200}, {500, 90}, {503, 40}},
                 {{"POST", 930}, {"OPTIONS", 70}}};
  t[kApiList] = {{{200, 9300}, {304, 200}, {400, 150}, {401, 150}, {429, 100}, {500, 60},
                  {504, 40}},
                 {{"GET", 920}, {"OPTIONS", 80}}};
  t[kSearch] = {{{200, 9450}, {400, 100}, {429, 150}, {500, 100}, {504, 150}},
                {{"GET", 1}}};
  t[kLogin] = {{{200, 6000}, {302, 3000}, {401, 800}, {429, 150}, {500, 50}},
               {{"GET", 55}, {"POST", 45}}};
  t[kProbe] = {{{404, 8400}, {403, 900}, {301, 300}, {400, 250}, {200, 100}, {405, 50}},
               {{"GET", 790}, {"POST", 150}, {"HEAD", 30}, {"PROPFIND", 10}, {"CONNECT", 10},
                {"TRACE", 10}}};
  t[kHealth] = {{{200, 9990}, {503, 10}},
                {{"GET", 90}, {"HEAD", 10}}};
  t[kDownload] = {{{200, 8000}, {206, 1500}, {304, 300}, {404, 150}, {499, 50}},
                  {{"GET", 97}, {"HEAD", 3}}};
  // clang-format on
  return t;
}

// ------------------------------------------------------------------------------ options

struct Options {
  std::string out;
  std::string size_arg = "100M";
  uint64_t size = 100ULL << 20;
  uint64_t lines = 0;  // 0: use size
  uint64_t seed = 42;
  std::string start_arg = "2025-10-10T00:00:00Z";
  int64_t start = 0;
  std::string span_arg = "24h";
  double span = 86400;
  double malformed_rate = 0.001;
  bool request_time = false;
  uint64_t ips = 40000;
  uint64_t paths = 60000;
  std::string truth;  // "" = default
  bool verify = false;
};

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "logpipe-gen: %s\n", msg.c_str());
  std::exit(2);
}

bool ParseU64(std::string_view s, uint64_t* v) {
  if (s.empty()) return false;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), *v);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

bool ParseDouble(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(*v);
}

// "1G", "100M", "10K", "512KiB", "12345", "1.5G" -> bytes (binary multiples).
bool ParseSize(std::string s, uint64_t* v) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::pair<const char*, uint64_t> sufs[] = {{"KIB", 1ULL << 10},
                                                   {"MIB", 1ULL << 20},
                                                   {"GIB", 1ULL << 30},
                                                   {"TIB", 1ULL << 40},
                                                   {"KB", 1ULL << 10},
                                                   {"MB", 1ULL << 20},
                                                   {"GB", 1ULL << 30},
                                                   {"TB", 1ULL << 40},
                                                   {"K", 1ULL << 10},
                                                   {"M", 1ULL << 20},
                                                   {"G", 1ULL << 30},
                                                   {"T", 1ULL << 40},
                                                   {"B", 1}};
  uint64_t mult = 1;
  for (const auto& sf : sufs) {
    const size_t n = std::strlen(sf.first);
    if (s.size() > n && s.compare(s.size() - n, n, sf.first) == 0) {
      mult = sf.second;
      s.resize(s.size() - n);
      break;
    }
  }
  uint64_t whole = 0;
  if (ParseU64(s, &whole)) {
    if (whole > (~0ULL) / mult) return false;
    *v = whole * mult;
    return true;
  }
  double d = 0;
  if (s.find_first_not_of("0123456789.") != std::string::npos || !ParseDouble(s, &d) || d < 0 ||
      d * static_cast<double>(mult) > 1.8e19)
    return false;
  *v = static_cast<uint64_t>(d * static_cast<double>(mult));
  return true;
}

bool ParseSpan(std::string s, double* v) {
  double mult = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 's':
        mult = 1;
        s.pop_back();
        break;
      case 'm':
        mult = 60;
        s.pop_back();
        break;
      case 'h':
        mult = 3600;
        s.pop_back();
        break;
      case 'd':
        mult = 86400;
        s.pop_back();
        break;
      default:
        break;
    }
  }
  double d = 0;
  if (!ParseDouble(s, &d) || d <= 0) return false;
  *v = d * mult;
  return true;
}

// "2025-10-10T00:00:00" with an optional trailing 'Z' -> epoch seconds (UTC).
bool ParseStart(std::string s, int64_t* v) {
  if (!s.empty() && (s.back() == 'Z' || s.back() == 'z')) s.pop_back();
  unsigned y, mo, d, h, mi, se;
  char sep;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4u-%2u-%2u%c%2u:%2u:%2u%n", &y, &mo, &d, &sep, &h, &mi, &se,
                  &consumed) != 7 ||
      static_cast<size_t>(consumed) != s.size() || (sep != 'T' && sep != ' ') || mo < 1 ||
      mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
    return false;
  *v = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
  return true;
}

void Usage(FILE* f) {
  std::fputs(
      "usage: logpipe-gen -o FILE [--size 100M | --lines N] [--seed 42] [--truth FILE|none]\n"
      "                   [--request-time] [--malformed-rate 0.001] [--start "
      "2025-10-10T00:00:00Z]\n"
      "                   [--span 24h] [--ips 40000] [--paths 60000] [--verify]\n"
      "Writes a deterministic Apache combined access log and FILE.truth.json (the reference\n"
      "job's answer). See data/README.md.\n",
      f);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  bool have_size = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string val;
    const size_t eq = a.find('=');
    bool inline_val = false;
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      val = a.substr(eq + 1);
      a.resize(eq);
      inline_val = true;
    }
    auto next = [&]() -> std::string {
      if (inline_val) return val;
      if (i + 1 >= argc) Die("missing value for " + a);
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      Usage(stdout);
      std::exit(0);
    } else if (a == "-o" || a == "--out") {
      o.out = next();
    } else if (a == "--size") {
      o.size_arg = next();
      if (!ParseSize(o.size_arg, &o.size)) Die("bad --size: " + o.size_arg);
      have_size = true;
    } else if (a == "--lines") {
      const std::string v = next();
      if (!ParseU64(v, &o.lines) || o.lines == 0) Die("bad --lines: " + v);
    } else if (a == "--seed") {
      const std::string v = next();
      if (!ParseU64(v, &o.seed)) Die("bad --seed (unsigned 64-bit integer): " + v);
    } else if (a == "--start") {
      o.start_arg = next();
      if (!ParseStart(o.start_arg, &o.start)) Die("bad --start: " + o.start_arg);
    } else if (a == "--span") {
      o.span_arg = next();
      if (!ParseSpan(o.span_arg, &o.span)) Die("bad --span: " + o.span_arg);
    } else if (a == "--malformed-rate") {
      const std::string v = next();
      if (!ParseDouble(v, &o.malformed_rate) || o.malformed_rate < 0 || o.malformed_rate > 1)
        Die("bad --malformed-rate (0..1): " + v);
    } else if (a == "--request-time") {
      o.request_time = true;
    } else if (a == "--ips") {
      const std::string v = next();
      if (!ParseU64(v, &o.ips) || o.ips < 16 || o.ips > 10000000) Die("bad --ips (16..1e7)");
    } else if (a == "--paths") {
      const std::string v = next();
      if (!ParseU64(v, &o.paths) || o.paths < 64 || o.paths > 10000000)
        Die("bad --paths (64..1e7)");
    } else if (a == "--truth") {
      o.truth = next();
    } else if (a == "--verify") {
      o.verify = true;
    } else {
      Usage(stderr);
      Die("unknown argument: " + a);
    }
  }
  if (o.out.empty()) {
    Usage(stderr);
    Die("-o FILE is required");
  }
  if (have_size && o.lines != 0) Die("--size and --lines are mutually exclusive");
  if (!ParseStart(o.start_arg, &o.start)) Die("bad --start");
  if (o.truth.empty()) o.truth = o.out == "-" ? "none" : o.out + ".truth.json";
  return o;
}

// ------------------------------------------------------------------------------ output

class Writer {
 public:
  static constexpr size_t kBlock = 1 << 20;
  static constexpr size_t kHeadroom = 64 << 10;  // more than any one line
  explicit Writer(const std::string& path) : buf_(kBlock + kHeadroom) {
    if (path == "-") {
      fd_ = 1;
    } else {
      fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd_ < 0) Die("cannot open " + path + ": " + std::strerror(errno));
      owned_ = true;
    }
  }
  char* cursor() { return buf_.data() + used_; }
  void Commit(size_t n) {
    used_ += n;
    if (used_ >= kBlock) Flush();
  }
  void Flush() {
    size_t off = 0;
    while (off < used_) {
      const ssize_t w = ::write(fd_, buf_.data() + off, used_ - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        Die(std::string("write failed: ") + std::strerror(errno));
      }
      off += static_cast<size_t>(w);
    }
    used_ = 0;
  }
  void Close() {
    Flush();
    if (owned_ && ::close(fd_) != 0) Die(std::string("close failed: ") + std::strerror(errno));
  }

 private:
  std::vector<char> buf_;
  size_t used_ = 0;
  int fd_ = -1;
  bool owned_ = false;
};

void AppendJsonString(std::string* out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {  // bytes >= 0x80 as U+0080..U+00FF (Latin-1)
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

std::string JsonDouble(double d) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, res.ptr);
}

// ------------------------------------------------------------------------------ generation

enum Bad : uint8_t { kNone, kTruncated, kGarbage, kInvalidUtf8, kNulRun, kEmpty, kNumBad };
const char* const kBadNames[] = {"", "truncated", "garbage", "invalid_utf8", "nul_run", "empty"};

struct Truth {
  uint64_t bytes = 0, lines = 0, matched = 0, unparsed = 0;
  uint64_t bad[kNumBad] = {};
  uint64_t surprise_match = 0, surprise_nomatch = 0;
  uint64_t st_count[1000] = {}, st_bytes[1000] = {};
  std::vector<uint64_t> base_count;  // targets equal to a site path, by site index
  CountTable other;                  // every other target
  int64_t last_sec = 0;
};

int Run(const Options& o) {
  const auto t0 = std::chrono::steady_clock::now();
  Rng r(o.seed);
  const std::vector<UserAgent> uas = BuildUserAgents(r);
  Weighted<uint32_t> any_ua;
  for (uint32_t i = 0; i < uas.size(); ++i) any_ua.Add(i, uas[i].weight);
  const std::vector<SitePath> site = BuildSite(r, o.paths);
  if (site[kIdxHealth].kind != kHealth || site[kIdxProducts].kind != kApiList ||
      site[kIdxWpLogin].kind != kProbe || site[kIdxDotEnv].kind != kProbe)
    Die("internal error: the head of the site list is out of order");
  const std::vector<Client> clients = BuildClients(r, o.ips, uas);
  const std::vector<KindTables> kt = BuildKindTables();
  const Zipf ip_zipf(clients.size(), 1.05);
  const Zipf path_zipf(site.size(), 1.0);
  std::vector<uint32_t> internal;  // popular pages, for referrers
  for (uint32_t i = 0; i < site.size() && i < 3000; ++i)
    if (site[i].kind == kPage) internal.push_back(i);
  const uint32_t n_internal = static_cast<uint32_t>(internal.size());
  const uint32_t n_site = static_cast<uint32_t>(site.size());
  const Weighted<std::string_view> proto_browser = {{"HTTP/2.0", 60}, {"HTTP/1.1", 40}};
  const Weighted<std::string_view> proto_other = {
      {"HTTP/1.1", 88}, {"HTTP/1.0", 8}, {"HTTP/2.0", 4}};
  const std::string_view host = "https://www.example.com";

  // An average line is ~230 bytes (~236 with --request-time): this sets the mean gap between
  // requests so that the log spans about --span.
  const double avg_line = o.request_time ? 236.0 : 230.0;
  const double expected_lines = o.lines ? static_cast<double>(o.lines)
                                        : std::max(1.0, static_cast<double>(o.size) / avg_line);
  const double mean_gap = o.span / expected_lines;
  const double mrate = o.malformed_rate;

  Truth tr;
  tr.base_count.assign(site.size(), 0);
  Writer w(o.out);
  double t = static_cast<double>(o.start);
  int64_t cur_sec = o.start - 1;
  char ts[48];
  size_t ts_len = 0;

  for (;;) {
    t += -DetLog(1.0 - r.Uniform()) * mean_gap;
    const int64_t sec = static_cast<int64_t>(t);
    if (sec != cur_sec) {
      cur_sec = sec;
      const std::string s = "[" + ApacheTime(sec) + " +0000]";
      std::memcpy(ts, s.data(), s.size());
      ts_len = s.size();
    }
    const Client& cl = clients[ip_zipf.Pick(r)];
    uint32_t pi = 0;
    switch (cl.profile) {
      case kBrowser:
        pi = path_zipf.Pick(r);
        break;
      case kBot:  // crawlers walk the long tail half of the time
        pi = r.Chance(0.5) ? path_zipf.Pick(r) : r.Below(n_site);
        break;
      case kMonitor:
        pi = r.Chance(0.75) ? kIdxHealth : kIdxRoot;
        break;
      case kApiClient:
        pi = r.Chance(0.5) ? kIdxProducts : path_zipf.Pick(r);
        break;
      case kScanner: {
        const double x = r.Uniform();
        pi = x < 0.3 ? kIdxWpLogin : x < 0.5 ? kIdxDotEnv : r.Below(n_site);
        break;
      }
    }
    const SitePath& sp = site[pi];
    Kind kind = sp.kind;
    if (cl.profile == kScanner && r.Chance(0.5)) kind = kProbe;
    const uint32_t ua = r.Chance(0.03) ? any_ua.Pick(r) : cl.ua;
    const std::string_view method = kt[kind].method.Pick(r);
    const int status = kt[kind].status.Pick(r);

    // Malformed or not is drawn up front; the line itself is generated the same way.
    Bad bad = kNone;
    if (mrate > 0 && r.Uniform() < mrate) {
      const double x = r.Uniform();
      bad = x < 0.40   ? kTruncated
            : x < 0.58 ? kGarbage
            : x < 0.83 ? kInvalidUtf8
            : x < 0.94 ? kNulRun
                       : kEmpty;
    }
    int utf8_where = -1;  // 0 agent, 1 referrer, 2 query
    const char* utf8_seq = nullptr;
    if (bad == kInvalidUtf8) {
      utf8_seq = OneOf(r, kBadUtf8Seqs);
      const double x = r.Uniform();
      utf8_where = x < 0.5 ? 0 : x < 0.8 ? 1 : 2;
    }

    char* const line = w.cursor();
    Out out{line};
    out.Str(cl.ip);
    out.Str(" - ");
    const bool authed =
        (kind == kLogin || (kind == kApi && r.Chance(0.03))) && status < 400 && r.Chance(0.5);
    out.Str(authed ? kUsers[r.Below(std::size(kUsers))] : "-");
    out.Ch(' ');
    out.Str(std::string_view(ts, ts_len));
    const size_t after_ts = static_cast<size_t>(out.p - line);  // the space before '"'
    out.Str(" \"");
    out.Str(method);
    out.Ch(' ');
    char* const target_begin = out.p;
    out.Str(sp.path);
    bool has_query = false;
    switch (kind) {
      case kSearch:
        has_query = true;
        out.Str("?q=");
        if (r.Chance(0.97)) {
          const int n = 1 + static_cast<int>(r.Below(3));
          for (int k = 0; k < n; ++k) {
            if (k) out.Ch('+');
            out.Str(kWords[r.Below(kNumWords)]);
          }
        } else {
          out.Str(OneOf(r, kSearchOdd));
        }
        if (r.Chance(0.3)) {
          out.Str("&page=");
          out.U64(2 + r.Below(9));
        }
        break;
      case kApiList: {
        has_query = true;
        out.Str("?page=");
        out.U64(1 + r.Below(40));
        const char* const limits[] = {"20", "50", "100"};
        out.Str("&limit=");
        out.Str(OneOf(r, limits));
        if (r.Chance(0.4)) {
          const char* const sorts[] = {"price", "-price", "created_at", "-rating", "name"};
          out.Str("&sort=");
          out.Str(OneOf(r, sorts));
        }
        break;
      }
      case kPage: {
        const double x = r.Uniform();
        if (x < 0.07) {
          has_query = true;
          const char* const src[] = {"google",   "newsletter", "twitter",
                                     "facebook", "partner",    "linkedin"};
          const char* const med[] = {"cpc", "email", "social", "referral", "display"};
          const char* const camp[] = {"spring_sale", "launch", "black_friday", "retarget_"};
          out.Str("?utm_source=");
          out.Str(OneOf(r, src));
          out.Str("&utm_medium=");
          out.Str(OneOf(r, med));
          out.Str("&utm_campaign=");
          const uint32_t c = r.Below(4);
          out.Str(camp[c]);
          if (c == 3) out.U64(r.Below(60));
        } else if (x < 0.09) {
          has_query = true;
          if (r.Chance(0.6)) {
            out.Str("?fbclid=IwAR");
            out.Hex(r.Next(), 16);
          } else {
            out.Str("?gclid=Cj0KCQ");
            out.Hex(r.Next(), 14);
          }
        }
        break;
      }
      case kStatic:
        if (r.Chance(0.05)) {
          has_query = true;
          out.Str("?v=");
          out.U64(1728000000 + 86400ULL * r.Below(4));
        }
        break;
      case kApi:
        if (r.Chance(0.06)) {
          has_query = true;
          const char* const q[] = {"?expand=items", "?fields=id,name,price", "?include=owner"};
          out.Str(OneOf(r, q));
        }
        break;
      default:
        break;
    }
    if (utf8_where == 2) {
      const bool q = std::memchr(target_begin, '?', static_cast<size_t>(out.p - target_begin));
      has_query = true;
      out.Str(q ? "&x=" : "?x=");
      out.Str(utf8_seq);
    }
    const std::string_view target(target_begin, static_cast<size_t>(out.p - target_begin));
    out.Ch(' ');
    out.Str(cl.profile == kBrowser ? proto_browser.Pick(r) : proto_other.Pick(r));
    out.Str("\" ");
    out.U64(static_cast<uint64_t>(status));

    // Body size.
    uint64_t size = 0;
    if (method == "HEAD" || status == 204 || status == 304 || status == 499 ||
        (status >= 300 && status < 400 && r.Chance(0.5))) {
      size = 0;
    } else if (status >= 400) {
      size = r.Chance(0.15) ? 0 : 150 + r.Below(420);
    } else if (status == 206) {
      size = static_cast<uint64_t>(sp.base_size * (0.05 + 0.5 * r.Uniform()));
    } else if (kind == kPage) {
      size = static_cast<uint64_t>(sp.base_size * (0.9 + 0.2 * r.Uniform()));
    } else if (kind == kApi || kind == kApiPost || kind == kApiList || kind == kSearch ||
               kind == kLogin) {
      size = status == 202 ? 2
                           : static_cast<uint64_t>(LogNormal(r, kind == kApiList ? 9.4 : 7.2, 0.9));
    } else {
      size = sp.base_size;
    }
    out.Ch(' ');
    if (size)
      out.U64(size);
    else
      out.Ch('-');

    // Referrer.
    out.Str(" \"");
    if (utf8_where == 1) out.Str(utf8_seq);
    auto internal_ref = [&]() {
      out.Str(host);
      out.Str(site[internal[static_cast<uint32_t>(r.Uniform() * r.Uniform() * n_internal)]].path);
    };
    const double x = r.Uniform();
    if (kind == kStatic) {
      if (x < 0.85)
        internal_ref();
      else
        out.Ch('-');
    } else if (kind == kApi || kind == kApiPost || kind == kApiList) {
      if (x < 0.6)
        internal_ref();
      else
        out.Ch('-');
    } else if (cl.profile != kBrowser || kind == kProbe || kind == kHealth || x < 0.35) {
      out.Ch('-');
    } else if (x < 0.65) {
      internal_ref();
    } else if (x < 0.88) {
      out.Str(kSearchEngines[static_cast<uint32_t>(r.Uniform() * r.Uniform() *
                                                   std::size(kSearchEngines))]);
    } else if (x < 0.96) {
      out.Str(OneOf(r, kSocial));
    } else {
      out.Str("https://");
      out.Str(kWords[r.Below(kNumWords)]);
      out.Str(".example.org/");
      out.Str(Slug(r, 2));
    }
    out.Str("\" \"");
    if (utf8_where == 0) out.Str(utf8_seq);
    out.Str(uas[ua].text);
    const size_t agent_close = static_cast<size_t>(out.p - line);
    out.Ch('"');
    if (o.request_time) {
      uint64_t ms = 0;
      if (kind != kHealth) {
        const double rt = LogNormal(r, kind == kStatic ? -3.6 : -2.1, 1.0);
        ms = static_cast<uint64_t>(std::min(rt, 3600.0) * 1000.0 + 0.5);
      }
      out.Ch(' ');
      out.U64(ms / 1000);
      out.Ch('.');
      const unsigned frac = static_cast<unsigned>(ms % 1000);
      out.Ch(static_cast<char>('0' + frac / 100));
      out.Pad2(frac % 100);
    }
    size_t len = static_cast<size_t>(out.p - line);

    // Break the line if it was drawn malformed.
    bool matched = true;
    switch (bad) {
      case kNone:
      case kInvalidUtf8:
        break;
      case kTruncated:  // writer died mid-line: cut before the agent's closing quote
        len = 1 + r.Below(static_cast<uint32_t>(agent_close));
        matched = false;
        break;
      case kGarbage: {  // random bytes, NUL and high bytes included, never '\n'
        len = 20 + r.Below(200);
        for (size_t i = 0; i < len; i += 8) {
          uint64_t v = r.Next();
          for (size_t k = i; k < len && k < i + 8; ++k, v >>= 8) {
            const char c = static_cast<char>(v & 255);
            line[k] = c == '\n' ? '.' : c;
          }
        }
        matched = false;
        break;
      }
      case kNulRun: {  // preallocated block after a crash, then the torn rest of a line
        const size_t from = after_ts + r.Below(static_cast<uint32_t>(len - after_ts - 1));
        const size_t nuls = 16 + r.Below(2000);
        std::memmove(line + nuls, line + from, len - from);
        std::memset(line, 0, nuls);
        len = nuls + (len - from);
        matched = false;
        break;
      }
      case kEmpty:
        len = 0;
        matched = false;
        break;
      case kNumBad:
        break;
    }
    std::string_view view(line, len);
    std::string_view counted_target = target;
    int counted_status = status;
    uint64_t counted_size = size;
    if (bad != kNone || o.verify) {
      // The reference job strips one trailing '\r' before matching.
      std::string_view m_in = view;
      if (!m_in.empty() && m_in.back() == '\r') m_in.remove_suffix(1);
      RegexMatch m;
      const bool really = MatchCombined(m_in, &m);
      if (really && matched && (m.path != target || m.status != status || m.bytes != size)) {
        Die("internal error: generated line parses differently than generated (seed " +
            std::to_string(o.seed) + ", line " + std::to_string(tr.lines + 1) + ")");
      }
      if (really != matched) {
        if (bad == kNone) {
          Die("internal error: well-formed line does not match (line " +
              std::to_string(tr.lines + 1) + ")");
        }
        (really ? tr.surprise_match : tr.surprise_nomatch)++;
        matched = really;
        if (really) {
          counted_target = m.path;
          counted_status = m.status;
          counted_size = m.bytes;
        }
      }
    }

    if (o.lines == 0 && tr.bytes + len + 1 > o.size) break;
    line[len] = '\n';
    w.Commit(len + 1);
    tr.bytes += len + 1;
    ++tr.lines;
    tr.last_sec = sec;
    if (bad != kNone) ++tr.bad[bad];
    if (matched) {
      ++tr.matched;
      if (counted_status >= 0 && counted_status < 1000) {
        ++tr.st_count[counted_status];
        tr.st_bytes[counted_status] += counted_size;
      }
      if (!has_query && counted_target.data() == target.data()) {  // target == sp.path
        ++tr.base_count[pi];
      } else {
        tr.other.Add(counted_target, 1);
      }
    } else {
      ++tr.unparsed;
    }
    if (o.lines != 0 && tr.lines >= o.lines) break;
  }
  w.Close();

  uint64_t bad_total = 0;
  for (int b = 1; b < kNumBad; ++b) bad_total += tr.bad[b];
  if (o.truth != "none") {
    for (size_t i = 0; i < site.size(); ++i)
      if (tr.base_count[i]) tr.other.Add(site[i].path, tr.base_count[i]);
    auto entries = tr.other.Entries();
    const size_t top_n = std::min<size_t>(10, entries.size());
    std::partial_sort(entries.begin(), entries.begin() + top_n, entries.end(),
                      [](const auto& a, const auto& b) {
                        if (a.first != b.first) return a.first > b.first;
                        return a.second < b.second;  // char_traits<char>: bytewise unsigned
                      });
    std::string j = "{\n \"generator\": \"logpipe-gen\",\n \"args\": {";
    j += "\"out\": ";
    AppendJsonString(&j, o.out);
    j += ", \"size\": ";
    if (o.lines) {
      j += "null, \"lines\": " + std::to_string(o.lines);
    } else {
      AppendJsonString(&j, o.size_arg);
      j += ", \"lines\": null";
    }
    j += ", \"seed\": " + std::to_string(o.seed) + ", \"start\": ";
    AppendJsonString(&j, o.start_arg);
    j += ", \"span\": ";
    AppendJsonString(&j, o.span_arg);
    j += ", \"malformed_rate\": " + JsonDouble(o.malformed_rate) +
         ", \"request_time\": " + (o.request_time ? "true" : "false") +
         ", \"ips\": " + std::to_string(o.ips) + ", \"paths\": " + std::to_string(o.paths) + "},\n";
    j += " \"bytes\": " + std::to_string(tr.bytes) + ",\n";
    j += " \"lines\": " + std::to_string(tr.lines) + ",\n";
    j += " \"matched\": " + std::to_string(tr.matched) + ",\n";
    j += " \"unparsed\": " + std::to_string(tr.unparsed) + ",\n";
    j += " \"malformed\": {";
    // Keys in sorted order.
    std::vector<std::pair<std::string, uint64_t>> mk;
    for (int b = 1; b < kNumBad; ++b) mk.emplace_back(kBadNames[b], tr.bad[b]);
    if (tr.surprise_match) mk.emplace_back("surprise_match", tr.surprise_match);
    if (tr.surprise_nomatch) mk.emplace_back("surprise_nomatch", tr.surprise_nomatch);
    std::sort(mk.begin(), mk.end());
    for (size_t i = 0; i < mk.size(); ++i) {
      j += (i ? ", \"" : "\"") + mk[i].first + "\": " + std::to_string(mk[i].second);
    }
    j += "},\n";
    j += " \"invalid_utf8_lines\": " + std::to_string(tr.bad[kInvalidUtf8]) + ",\n";
    j += " \"distinct_paths\": " + std::to_string(tr.other.size()) + ",\n";
    j += " \"status\": {";
    bool first = true;
    for (int s = 0; s < 1000; ++s) {
      if (!tr.st_count[s]) continue;
      char code[8];
      std::snprintf(code, sizeof code, "%d", s);
      j += std::string(first ? "\n  \"" : ",\n  \"") + code +
           "\": {\"count\": " + std::to_string(tr.st_count[s]) +
           ", \"bytes\": " + std::to_string(tr.st_bytes[s]) + "}";
      first = false;
    }
    j += "\n },\n \"top_paths\": [";
    for (size_t i = 0; i < top_n; ++i) {
      j += i ? ",\n  {\"path\": " : "\n  {\"path\": ";
      AppendJsonString(&j, entries[i].second);
      j += ", \"count\": " + std::to_string(entries[i].first) + "}";
    }
    j += "\n ],\n \"first_ts\": \"" + ApacheTime(o.start) + "\",\n \"last_ts\": \"" +
         ApacheTime(tr.lines ? tr.last_sec : o.start) + "\"\n}\n";
    FILE* f = std::fopen(o.truth.c_str(), "wb");
    if (!f) Die("cannot write " + o.truth + ": " + std::strerror(errno));
    if (std::fwrite(j.data(), 1, j.size(), f) != j.size() || std::fclose(f) != 0)
      Die("cannot write " + o.truth);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "logpipe-gen: wrote %llu lines, %llu bytes (%llu malformed) in %.2fs\n",
               static_cast<unsigned long long>(tr.lines), static_cast<unsigned long long>(tr.bytes),
               static_cast<unsigned long long>(bad_total), secs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(ParseArgs(argc, argv)); }
