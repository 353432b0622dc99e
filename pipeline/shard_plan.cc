#include "pipeline/shard_plan.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/state_file.h"
#include "io/url_fetch.h"
#include "pipeline/json_get.h"
#include "pipeline/version.h"

namespace logpipe {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kFormatName[] = "logpipe-shard-plan";
constexpr size_t kScanBlock = size_t{64} << 10;

// The line as the chunker tests it: without one trailing '\r'.
std::string_view WithoutCr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// A plain file open for pread, closed on destruction.
class ScanFile {
 public:
  ScanFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ScanFile(const ScanFile&) = delete;
  ScanFile& operator=(const ScanFile&) = delete;
  ~ScanFile() { close(fd_); }

  static Result<std::unique_ptr<ScanFile>> Open(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return NoInputError(path + ": cannot open input: " + std::strerror(errno) +
                          "; check the path");
    }
    return std::make_unique<ScanFile>(path, fd);
  }

  // Up to n bytes at `offset`; fewer only at the end of the file.
  Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n) {
    size_t have = 0;
    while (have < n) {
      ssize_t got = pread(fd_, buf + have, n - have, static_cast<off_t>(offset + have));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        return IoError(path_ + ": read failed at byte " + std::to_string(offset + have) + ": " +
                       std::strerror(errno));
      }
      if (got == 0) break;
      have += static_cast<size_t>(got);
    }
    return have;
  }

  // The first line start at or after `from` (0, or just after a '\n') in [from,
  // size]; with `starts_event`, the first such line for which it is true (a
  // line longer than `max_line_bytes` never is: the chunker skips it). `size`
  // when there is none.
  Result<uint64_t> NextCut(uint64_t from, uint64_t size, const StartsEventFn* starts_event,
                           size_t max_line_bytes) {
    std::vector<char> block(kScanBlock);
    uint64_t pos = from;
    bool at_line_start = from == 0;
    if (!at_line_start) {
      char before = 0;
      Result<size_t> n = ReadAt(from - 1, &before, 1);
      if (!n.ok()) return n.status();
      at_line_start = *n == 1 && before == '\n';
    }
    bool skipping = !at_line_start;  // in the line `from` falls inside: not a candidate
    std::string line;  // the current line's first bytes (multi-line: for the predicate)
    bool line_too_long = false;
    while (pos < size) {
      Result<size_t> n = ReadAt(pos, block.data(), std::min<uint64_t>(kScanBlock, size - pos));
      if (!n.ok()) return n.status();
      if (*n == 0) break;  // the file shrank: CheckInputsUnchanged will say so
      for (size_t i = 0; i < *n; ++i) {
        if (at_line_start) {
          if (starts_event == nullptr) return pos + i;
          at_line_start = false;
          line.clear();
          line_too_long = false;
        }
        if (block[i] == '\n') {
          // The line [pos + i - line.size(), pos + i) is complete: is it an
          // event start?
          if (starts_event != nullptr && !skipping && !line_too_long &&
              (*starts_event)(WithoutCr(line))) {
            return pos + i - line.size();
          }
          at_line_start = true;
          skipping = false;
        } else if (starts_event != nullptr && !skipping && !line_too_long) {
          if (line.size() >= max_line_bytes) {
            line_too_long = true;
          } else {
            line.push_back(block[i]);
          }
        }
      }
      pos += *n;
    }
    if (at_line_start && starts_event == nullptr) return std::min(pos, size);
    // A last line without '\n' (multi-line): is it an event start?
    if (starts_event != nullptr && !at_line_start && !skipping && !line_too_long &&
        (*starts_event)(WithoutCr(line))) {
      return size - line.size();
    }
    return size;
  }

  // The number of '\n' in [begin, end).
  Result<uint64_t> CountLines(uint64_t begin, uint64_t end) {
    std::vector<char> block(size_t{1} << 20);
    uint64_t lines = 0;
    for (uint64_t pos = begin; pos < end;) {
      Result<size_t> n = ReadAt(pos, block.data(), std::min<uint64_t>(block.size(), end - pos));
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      lines += static_cast<uint64_t>(std::count(block.data(), block.data() + *n, '\n'));
      pos += *n;
    }
    return lines;
  }

 private:
  std::string path_;
  int fd_;
};

Result<PlannedInput> IdentifyInput(const std::string& name) {
  PlannedInput in;
  in.path = name;
  if (IsUrl(name)) {
    in.url = true;
    return in;
  }
  if (name == "-") {
    return UsageError(
        "logpipe plan cannot shard standard input (\"-\"): map tasks on other "
        "machines cannot read it; save it to a file and list that");
  }
  Result<FileIdentity> id = IdentifyFile(name);
  if (!id.ok()) return id.status();
  if (!id->regular) {
    return UsageError(name +
                      ": not a regular file (a FIFO or device cannot be read by several "
                      "map tasks); copy it to a file and list that");
  }
  in.compressed = id->compressed;
  in.size = id->size;
  in.mtime_ns = id->mtime_ns;
  in.fingerprint = ContentHash(id->head);
  return in;
}

}  // namespace

std::string ContentHash(std::string_view bytes) { return Hex64(Fnv1a64(bytes)); }

Result<ShardPlan> MakeShardPlan(const Plan& plan, const std::vector<std::string>& inputs,
                                size_t shards, const std::string& config_path,
                                const std::vector<std::string>& overrides,
                                std::string_view config_bytes) {
  if (shards < 1) return UsageError("--shards must be at least 1");
  if (!plan.config.state.empty()) {
    return ConfigError(plan.config.state_where +
                       ": logpipe plan does not shard incremental jobs (state:): they read "
                       "only "
                       "new lines each run on one machine; remove state: to plan this job");
  }
  ShardPlan out;
  out.logpipe_version = Version();
  std::error_code ec;
  out.directory = std::filesystem::current_path(ec).string();
  if (ec) return IoError("cannot read the current directory: " + ec.message());
  out.config_path = config_path;
  out.overrides = overrides;
  out.config_hash = ContentHash(config_bytes);
  out.line_numbers = !LineNumbersShowReason(plan).empty();
  out.shards.resize(shards);

  uint64_t file_bytes = 0;
  size_t files = 0;
  for (const std::string& name : inputs) {
    Result<PlannedInput> in = IdentifyInput(name);
    if (!in.ok()) return in.status();
    if (!in->url) {
      file_bytes += in->size;
      ++files;
    }
    out.inputs.push_back(std::move(in.value()));
  }
  // Lay the inputs end to end; shard s owns global bytes [s * total / N, (s +
  // 1) * total / N).
  const uint64_t url_weight = files > 0 ? std::max<uint64_t>(1, file_bytes / files) : 1;
  std::vector<uint64_t> weight(out.inputs.size());
  uint64_t total = 0;
  for (size_t i = 0; i < out.inputs.size(); ++i) {
    weight[i] = out.inputs[i].url ? url_weight : out.inputs[i].size;
    total += weight[i];
  }
  auto boundary = [&](size_t s) {  // start of shard s in global bytes
    return static_cast<uint64_t>((static_cast<unsigned __int128>(total) * s) / shards);
  };
  auto shard_of = [&](uint64_t global) {  // the last shard whose start is <= global
    size_t s = 0;
    while (s + 1 < shards && boundary(s + 1) <= global) ++s;
    return s;
  };
  uint64_t start = 0;
  for (size_t i = 0; i < out.inputs.size(); ++i) {
    const PlannedInput& in = out.inputs[i];
    const size_t first_shard = shard_of(start);
    if (in.url || in.compressed || in.size == 0) {
      ShardPiece piece;
      piece.input = i;
      piece.range.end = in.url || in.compressed ? UINT64_MAX : in.size;
      out.shards[first_shard].push_back(piece);
      start += weight[i];
      continue;
    }
    // The shard starts inside this file, as offsets in it.
    std::vector<uint64_t> cuts;
    std::vector<size_t> cut_shards;
    for (size_t s = first_shard + 1; s < shards && boundary(s) < start + in.size; ++s) {
      if (boundary(s) > start) {
        cuts.push_back(boundary(s) - start);
        cut_shards.push_back(s);
      }
    }
    std::vector<uint64_t> snapped;
    std::vector<size_t> piece_shards = {first_shard};
    std::vector<uint64_t> first_lines = {1};
    if (!cuts.empty()) {
      Result<std::unique_ptr<ScanFile>> file = ScanFile::Open(in.path);
      if (!file.ok()) return file.status();
      // Snap each cut; a piece begins at a snapped cut and belongs to the last
      // shard whose boundary snapped there (earlier ones are empty).
      for (size_t c = 0; c < cuts.size(); ++c) {
        if (!snapped.empty() && cuts[c] <= snapped.back()) {  // inside the last cut's line
          piece_shards.back() = cut_shards[c];
          continue;
        }
        Result<uint64_t> at = file.value()->NextCut(cuts[c], in.size, plan.starts_event(),
                                                    plan.chunker.max_line_bytes);
        if (!at.ok()) return at.status();
        if (*at >= in.size) break;  // the rest of the file is one line (event)
        assert(snapped.empty() || *at > snapped.back());  // NextCut(x) >= x > snapped.back()
        snapped.push_back(*at);
        piece_shards.push_back(cut_shards[c]);
      }
      if (out.line_numbers) {
        uint64_t line = 1, from = 0;
        for (uint64_t cut : snapped) {
          Result<uint64_t> n = file.value()->CountLines(from, cut);
          if (!n.ok()) return n.status();
          line += *n;
          first_lines.push_back(line);
          from = cut;
        }
      } else {
        first_lines.resize(snapped.size() + 1, 1);
      }
    }
    for (size_t p = 0; p <= snapped.size(); ++p) {
      ShardPiece piece;
      piece.input = i;
      piece.range.begin = p == 0 ? 0 : snapped[p - 1];
      piece.range.end = p < snapped.size() ? snapped[p] : in.size;
      piece.range.first_line = first_lines[p];
      out.shards[piece_shards[p]].push_back(piece);
    }
    start += weight[i];
  }
  return out;
}

std::string EncodeShardPlan(const ShardPlan& plan) {
  Json j;
  j["format"] = kFormatName;
  j["version"] = kShardPlanVersion;
  j["logpipe_version"] = plan.logpipe_version;
  j["directory"] = plan.directory;
  j["config"] = plan.config_path;
  j["overrides"] = plan.overrides;
  j["config_hash"] = plan.config_hash;
  j["line_numbers"] = plan.line_numbers;
  Json inputs = Json::array();
  for (const PlannedInput& in : plan.inputs) {
    Json e;
    e["path"] = in.path;
    if (in.url) {
      e["url"] = true;
    } else {
      e["compressed"] = in.compressed;
      e["size"] = in.size;
      e["mtime_ns"] = in.mtime_ns;
      e["fingerprint"] = in.fingerprint;
    }
    inputs.push_back(std::move(e));
  }
  j["inputs"] = std::move(inputs);
  Json shards = Json::array();
  for (const auto& pieces : plan.shards) {
    Json list = Json::array();
    for (const ShardPiece& p : pieces) {
      Json e;
      e["input"] = p.input;
      e["begin"] = p.range.begin;
      if (p.range.end != UINT64_MAX) e["end"] = p.range.end;
      if (plan.line_numbers || p.range.begin == 0) e["first_line"] = p.range.first_line;
      list.push_back(std::move(e));
    }
    shards.push_back(std::move(list));
  }
  j["shards"] = std::move(shards);
  return j.dump(1) + "\n";
}

Result<ShardPlan> DecodeShardPlan(std::string_view bytes, const std::string& path) {
  auto bad = [&](const std::string& why) {
    return DataError(path + ": not a usable logpipe plan (" + why +
                     "); write it again with logpipe plan");
  };
  Json j = Json::parse(bytes.begin(), bytes.end(), nullptr,
                       /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("not JSON");
  if (!json_get::IsFormat(j, kFormatName)) {
    return bad("no \"format\": \"" + std::string(kFormatName) + "\"");
  }
  ShardPlan plan;
  try {
    if (!j.at("version").is_number_integer() ||
        j.at("version").get<int64_t>() != kShardPlanVersion) {
      return bad("version " + j.at("version").dump() + ", this logpipe reads version " +
                 std::to_string(kShardPlanVersion));
    }
    plan.logpipe_version = j.at("logpipe_version").get<std::string>();
    plan.directory = j.at("directory").get<std::string>();
    plan.config_path = j.at("config").get<std::string>();
    plan.overrides = j.at("overrides").get<std::vector<std::string>>();
    plan.config_hash = j.at("config_hash").get<std::string>();
    plan.line_numbers = j.at("line_numbers").get<bool>();
    for (const Json& e : j.at("inputs")) {
      PlannedInput in;
      in.path = e.at("path").get<std::string>();
      in.url = e.value("url", false);
      if (!in.url) {
        in.compressed = e.at("compressed").get<bool>();
        in.size = json_get::U64(e, "size");
        in.mtime_ns = json_get::I64(e, "mtime_ns");
        in.fingerprint = e.at("fingerprint").get<std::string>();
      }
      plan.inputs.push_back(std::move(in));
    }
    for (const Json& list : j.at("shards")) {
      std::vector<ShardPiece> pieces;
      for (const Json& e : list) {
        ShardPiece p;
        p.input = json_get::U64(e, "input");
        p.range.begin = json_get::U64(e, "begin");
        p.range.end = e.contains("end") ? json_get::U64(e, "end") : UINT64_MAX;
        p.range.first_line = e.contains("first_line") ? json_get::U64(e, "first_line") : 1;
        if (p.input >= plan.inputs.size())
          return bad("a piece names input " + std::to_string(p.input));
        if (p.range.begin > p.range.end || p.range.first_line == 0) {
          return bad("a piece of input " + std::to_string(p.input) + " has a bad range");
        }
        pieces.push_back(p);
      }
      plan.shards.push_back(std::move(pieces));
    }
  } catch (const std::exception& e) {  // Json::exception or std::invalid_argument (json_get.h)
    return bad(std::string("a field is missing or of the wrong type: ") + e.what());
  }
  if (plan.shards.empty()) return bad("no shards");
  return plan;
}

Status CheckInputsUnchanged(const ShardPlan& plan, const std::vector<size_t>& which) {
  for (size_t i : which) {
    const PlannedInput& in = plan.inputs[i];
    if (in.url) continue;
    Result<FileIdentity> id = IdentifyFile(in.path);
    if (!id.ok()) {
      return Status(id.status().code(),
                    id.status().message() + " (it was planned; if it moved, plan again)");
    }
    std::string what;
    if (id->size != in.size) {
      what = "size " + std::to_string(in.size) + " -> " + std::to_string(id->size);
    } else if (id->mtime_ns != in.mtime_ns) {
      what = "modification time";
    } else if (ContentHash(id->head) != in.fingerprint) {
      what = "first KiB";
    }
    if (!what.empty()) {
      return DataError(in.path + ": changed since it was planned (" + what +
                       "); run logpipe plan again, then map and reduce with the new plan");
    }
  }
  return Status::Ok();
}

}  // namespace logpipe
