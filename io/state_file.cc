#include "io/state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/byte_source.h"
#include "io/posix_io.h"

namespace logpipe {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kFormatName[] = "logpipe-state";
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool ParseHex64(const std::string& text, uint64_t* out) {
  if (text.size() != 16) return false;
  uint64_t v = 0;
  for (char c : text) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return false;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v =
        (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kBase64[(v >> s) & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kBase64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool Base64Decode(std::string_view in, std::string* out) {
  if (in.size() % 4 != 0) return false;
  out->clear();
  out->reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = in[i + k];
      uint32_t d;
      if (c == '=' && k >= 2 && i + 4 == in.size()) {
        ++pad;
        d = 0;
      } else {
        if (pad > 0) return false;  // data after padding
        const char* p = c == '\0' ? nullptr : std::strchr(kBase64, c);
        if (p == nullptr) return false;
        d = static_cast<uint32_t>(p - kBase64);
      }
      v = (v << 6) | d;
    }
    out->push_back(static_cast<char>((v >> 16) & 0xff));
    if (pad < 2) out->push_back(static_cast<char>((v >> 8) & 0xff));
    if (pad < 1) out->push_back(static_cast<char>(v & 0xff));
  }
  return true;
}

// Reads the fields of a JSON object with checks; the first problem is kept in `error`.
class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path) {}

  bool Fail(const std::string& what) {
    if (error_.empty()) error_ = what;
    return false;
  }
  bool U64(const Json& obj, const char* key, uint64_t* out, const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_number_unsigned()) {
      return Fail(where + ": '" + key + "' is missing or not a whole number >= 0");
    }
    *out = it->get<uint64_t>();
    return true;
  }
  bool I64(const Json& obj, const char* key, int64_t* out, const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_number_integer()) {
      return Fail(where + ": '" + key + "' is missing or not a whole number");
    }
    if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(INT64_MAX)) {
      return Fail(where + ": '" + key + "' is out of range");
    }
    *out = it->get<int64_t>();
    return true;
  }
  bool Str(const Json& obj, const char* key, std::string* out, const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_string()) {
      return Fail(where + ": '" + key + "' is missing or not a string");
    }
    *out = it->get<std::string>();
    return true;
  }
  bool Bool(const Json& obj, const char* key, bool* out, const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_boolean()) {
      return Fail(where + ": '" + key + "' is missing or not true/false");
    }
    *out = it->get<bool>();
    return true;
  }
  bool Hex(const Json& obj, const char* key, uint64_t* out, const std::string& where) {
    std::string text;
    if (!Str(obj, key, &text, where)) return false;
    if (!ParseHex64(text, out)) return Fail(where + ": '" + key + "' is not 16 hex digits");
    return true;
  }

  Status Error() const {
    return DataError(path_ + ": not a valid logpipe state file: " + error_ +
                     "; it may be damaged or not a state file: move it away to start over "
                     "(the next run then reads every input from the start)");
  }

 private:
  const std::string& path_;
  std::string error_;
};

}  // namespace

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

Result<FileIdentity> IdentifyFile(const std::string& path) {
  FileIdentity id;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return NoInputError(path + ": cannot stat input: " + std::strerror(errno) + "; check the path");
  }
  id.dev = static_cast<uint64_t>(st.st_dev);
  id.ino = static_cast<uint64_t>(st.st_ino);
  id.size = static_cast<uint64_t>(st.st_size);
  id.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  id.regular = S_ISREG(st.st_mode);
  if (!id.regular) return id;
  Result<std::unique_ptr<ByteSource>> raw = OpenInput(path);
  if (!raw.ok()) return raw.status();
  // OpenInput decodes by magic; detect the compression the same way on the first bytes.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    unsigned char m[4] = {0, 0, 0, 0};
    ssize_t n = pread(fd, m, sizeof m, 0);
    close(fd);
    id.compressed = (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) ||
                    (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd);
  }
  id.head.resize(kFingerprintBytes);
  size_t have = 0;
  while (have < kFingerprintBytes) {
    Result<size_t> got = raw.value()->Read(&id.head[have], kFingerprintBytes - have);
    if (!got.ok()) {
      // A compressed file cut short within its first KiB: fingerprint what decodes.
      if (id.compressed && got.status().code() == StatusCode::kDataError && have > 0) break;
      return got.status();
    }
    if (*got == 0) break;
    have += *got;
  }
  id.head.resize(have);
  return id;
}

Result<uint64_t> EndOfLastLine(const std::string& path, uint64_t begin, uint64_t size) {
  if (size <= begin) return begin;
  int fd = OpenRetrying(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return NoInputError(path + ": cannot open input: " + std::strerror(errno) +
                        "; check that the file exists and is readable");
  }
  constexpr size_t kBlock = size_t{64} << 10;
  std::unique_ptr<char[]> buf(new char[kBlock]);
  uint64_t hi = size;
  while (hi > begin) {
    const uint64_t lo = hi - std::min<uint64_t>(kBlock, hi - begin);
    const size_t want = static_cast<size_t>(hi - lo);
    size_t have = 0;
    while (have < want) {
      ssize_t n = pread(fd, buf.get() + have, want - have, static_cast<off_t>(lo + have));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        close(fd);
        return IoError(path + ": read failed at byte " + std::to_string(lo + have) + ": " +
                       std::strerror(err) + "; check the disk or device holding it");
      }
      if (n == 0) {  // shrank since it was measured: truncated during the run
        close(fd);
        return IoError(path +
                       ": the file shrank while it was being examined (truncated "
                       "during the run?); run again");
      }
      have += static_cast<size_t>(n);
    }
    for (size_t i = want; i > 0; --i) {
      if (buf[i - 1] == '\n') {
        close(fd);
        return lo + i;
      }
    }
    hi = lo;
  }
  close(fd);
  return begin;
}

bool FingerprintMatches(const StateEntry& entry, std::string_view head) {
  if (head.size() < entry.fingerprint_bytes) return false;
  return Fnv1a64(head.substr(0, entry.fingerprint_bytes)) == entry.fingerprint;
}

std::string EncodeStateFile(const StateFile& state) {
  Json j;
  j["format"] = kFormatName;
  j["version"] = kStateFileVersion;
  j["config_hash"] = state.config_hash;
  j["runs"] = state.runs;
  j["inputs"] = Json::array();
  for (const StateEntry& e : state.entries) {
    Json x;
    x["path"] = e.path;
    x["dev"] = e.dev;
    x["ino"] = e.ino;
    x["fingerprint"] = Hex64(e.fingerprint);
    x["fingerprint_bytes"] = e.fingerprint_bytes;
    x["offset"] = e.offset;
    x["lines"] = e.lines;
    x["size"] = e.size;
    x["mtime_ns"] = e.mtime_ns;
    x["compressed"] = e.compressed;
    j["inputs"].push_back(std::move(x));
  }
  if (state.has_accumulated) {
    Json acc;
    acc["totals"] = Json::array();
    for (const auto& [name, value] : state.totals)
      acc["totals"].push_back(Json::array({name, value}));
    acc["partials"] = Json::array();
    for (const auto& p : state.partials) acc["partials"].push_back(Base64Encode(p));
    j["accumulate"] = std::move(acc);
  }
  // Paths may hold any bytes; replace invalid UTF-8 rather than throw.
  return j.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
}

Result<StateFile> DecodeStateFile(std::string_view bytes, const std::string& path) {
  Reader r(path);
  Json j = Json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    r.Fail("it is not JSON (cut short or overwritten?)");
    return r.Error();
  }
  if (!j.is_object()) {
    r.Fail("expected a JSON object");
    return r.Error();
  }
  StateFile state;
  std::string format;
  uint64_t version = 0;
  if (!r.Str(j, "format", &format, "top level")) return r.Error();
  if (format != kFormatName) {
    r.Fail("'format' is '" + format + "', expected '" + kFormatName + "'");
    return r.Error();
  }
  if (!r.U64(j, "version", &version, "top level")) return r.Error();
  if (version != kStateFileVersion) {
    return DataError(path + ": state file version " + std::to_string(version) +
                     " is not the version this logpipe writes (" +
                     std::to_string(kStateFileVersion) +
                     "); move it away to start over, or run the logpipe that wrote it");
  }
  if (!r.Str(j, "config_hash", &state.config_hash, "top level") ||
      !r.U64(j, "runs", &state.runs, "top level")) {
    return r.Error();
  }
  auto inputs = j.find("inputs");
  if (inputs == j.end() || !inputs->is_array()) {
    r.Fail("'inputs' is missing or not a list");
    return r.Error();
  }
  for (size_t i = 0; i < inputs->size(); ++i) {
    const Json& x = (*inputs)[i];
    const std::string where = "inputs[" + std::to_string(i) + "]";
    if (!x.is_object()) {
      r.Fail(where + ": expected an object");
      return r.Error();
    }
    StateEntry e;
    if (!r.Str(x, "path", &e.path, where) || !r.U64(x, "dev", &e.dev, where) ||
        !r.U64(x, "ino", &e.ino, where) || !r.Hex(x, "fingerprint", &e.fingerprint, where) ||
        !r.U64(x, "fingerprint_bytes", &e.fingerprint_bytes, where) ||
        !r.U64(x, "offset", &e.offset, where) || !r.U64(x, "lines", &e.lines, where) ||
        !r.U64(x, "size", &e.size, where) || !r.I64(x, "mtime_ns", &e.mtime_ns, where) ||
        !r.Bool(x, "compressed", &e.compressed, where)) {
      return r.Error();
    }
    if (e.fingerprint_bytes > kFingerprintBytes) {
      r.Fail(where + ": 'fingerprint_bytes' is over " + std::to_string(kFingerprintBytes));
      return r.Error();
    }
    if (e.lines > e.offset) {
      r.Fail(where + ": 'lines' is more than 'offset' (every line has at least one byte)");
      return r.Error();
    }
    state.entries.push_back(std::move(e));
  }
  auto acc = j.find("accumulate");
  if (acc != j.end()) {
    if (!acc->is_object()) {
      r.Fail("'accumulate' is not an object");
      return r.Error();
    }
    state.has_accumulated = true;
    auto totals = acc->find("totals");
    auto partials = acc->find("partials");
    if (totals == acc->end() || !totals->is_array() || partials == acc->end() ||
        !partials->is_array()) {
      r.Fail("'accumulate' needs the lists 'totals' and 'partials'");
      return r.Error();
    }
    for (const Json& t : *totals) {
      if (!t.is_array() || t.size() != 2 || !t[0].is_string() || !t[1].is_number_unsigned()) {
        r.Fail("accumulate.totals: expected [name, count] pairs");
        return r.Error();
      }
      state.totals.emplace_back(t[0].get<std::string>(), t[1].get<uint64_t>());
    }
    for (const Json& p : *partials) {
      std::string decoded;
      if (!p.is_string() || !Base64Decode(p.get<std::string>(), &decoded)) {
        r.Fail("accumulate.partials: expected base64 strings");
        return r.Error();
      }
      state.partials.push_back(std::move(decoded));
    }
  }
  return state;
}

Result<std::optional<StateFile>> ReadStateFile(const std::string& path) {
  int fd = OpenRetrying(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<StateFile>();
    return NoInputError(path + ": cannot open the state file: " + std::strerror(errno) +
                        "; check its permissions and those of its directory");
  }
  std::string bytes;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return NoInputError(
          path + ": cannot read the state file: " + std::strerror(err) +
          (err == EISDIR ? "; `state` must name a file, not a directory" : "; check the disk"));
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  Result<StateFile> state = DecodeStateFile(bytes, path);
  if (!state.ok()) return state.status();
  return std::optional<StateFile>(std::move(state.value()));
}

Status WriteStateFile(const std::string& path, const StateFile& state) {
  Result<AtomicFile> file = AtomicFile::Create(path);
  if (!file.ok()) return file.status();
  LOGPIPE_RETURN_IF_ERROR(file->Append(EncodeStateFile(state)));
  return file->Commit();
}

std::string Hex64(uint64_t v) {
  char text[17];
  for (int i = 15; i >= 0; --i) {
    text[i] = "0123456789abcdef"[v & 15];
    v >>= 4;
  }
  text[16] = '\0';
  return text;
}

}  // namespace logpipe
