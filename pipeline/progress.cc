#include "pipeline/progress.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>

#include "io/url_fetch.h"
#include "pipeline/run_interrupt.h"

namespace logpipe {
namespace {

std::atomic<ProgressMeter*> g_active{nullptr};

constexpr auto kRedrawEvery = std::chrono::milliseconds(250);
constexpr auto kLineEvery = std::chrono::seconds(5);

// Writes all of `text` to `fd`, giving up on an error (a closed terminal is not the run's
// failure).
void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// The size of `name` when it is a local regular file that is not compressed; else nothing.
std::optional<uint64_t> PlainFileSize(const std::string& name) {
  if (name == "-" || IsUrl(name)) return std::nullopt;
  // stat first: opening a FIFO would meet its writer in the run's place (and the writer would
  // get SIGPIPE when this descriptor closes).
  struct stat before;
  if (stat(name.c_str(), &before) != 0 || !S_ISREG(before.st_mode)) return std::nullopt;
  int fd = open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  std::optional<uint64_t> size;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    unsigned char magic[4] = {0, 0, 0, 0};
    const ssize_t n = pread(fd, magic, sizeof magic, 0);
    const bool gzip = n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    const bool zstd = n >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f &&
                      magic[3] == 0xfd;
    if (n >= 0 && !gzip && !zstd) size = static_cast<uint64_t>(st.st_size);
  }
  close(fd);
  return size;
}

}  // namespace

std::string FormatProgressBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes) / 1024;
  size_t u = 0;
  // Switch unit before printf would round up to "1024.0".
  while (v >= 1023.95 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", v, kUnits[u]);
  return text;
}

std::string FormatProgressDuration(double seconds) {
  const uint64_t s = seconds <= 0 ? 0 : static_cast<uint64_t>(std::ceil(seconds));
  char text[48];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%llu:%02llu:%02llu",
                  static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60),
                  static_cast<unsigned long long>(s % 60));
  } else {
    std::snprintf(text, sizeof text, "%llu:%02llu", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  }
  return text;
}

std::string FormatProgress(const ProgressState& state, size_t width) {
  std::string line = FormatProgressBytes(state.bytes_done);
  if (state.bytes_total) {
    const uint64_t total = *state.bytes_total;
    line += " / " + FormatProgressBytes(total);
    const uint64_t percent =
        total == 0 ? 100
                   : std::min<uint64_t>(100, static_cast<uint64_t>(
                                                 static_cast<double>(state.bytes_done) * 100 /
                                                 static_cast<double>(total)));
    line += "  " + std::to_string(percent) + "%";
  }
  double rate = 0;
  if (state.seconds >= 0.5 || (state.finished && state.seconds > 0)) {
    rate = static_cast<double>(state.bytes_done) / state.seconds;
    line += "  " + FormatProgressBytes(static_cast<uint64_t>(rate)) + "/s";
  }
  if (state.finished) {
    line += "  done in " + FormatProgressDuration(state.seconds);
  } else if (state.bytes_total && rate > 0) {
    const uint64_t left =
        *state.bytes_total > state.bytes_done ? *state.bytes_total - state.bytes_done : 0;
    line += "  ETA " + FormatProgressDuration(static_cast<double>(left) / rate);
  }
  if (state.inputs > 1 && state.input > 0) {
    line += "  input " + std::to_string(state.input) + "/" + std::to_string(state.inputs);
    std::string name = state.input_name;
    if (!name.empty()) {
      if (line.size() + 1 + name.size() > width) {
        const size_t room = width > line.size() + 1 ? width - line.size() - 1 : 0;
        name = room >= 8 ? "..." + name.substr(name.size() - (room - 3)) : "";
      }
      if (!name.empty()) line += " " + name;
    }
  }
  if (line.size() > width) line.resize(width);
  return line;
}

ProgressMeter::ProgressMeter(int fd, Mode mode)
    : fd_(fd), mode_(mode), start_(std::chrono::steady_clock::now()) {
  g_active.store(this, std::memory_order_release);
  thread_ = std::thread([this] { Run(); });
}

ProgressMeter::~ProgressMeter() {
  g_active.store(nullptr, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (silenced_) return;
  if (mode_ == Mode::kRedraw) {
    Erase();
  } else if (succeeded_ && !StopRequested() && !names_.empty()) {
    Draw(Snapshot(/*finished=*/true));
  }
}

ProgressMeter* ProgressMeter::Active() { return g_active.load(std::memory_order_acquire); }

void ProgressMeter::SetInputs(const std::vector<std::string>& inputs,
                              std::vector<uint64_t> begins) {
  begins_ = begins;
  {
    std::lock_guard<std::mutex> lock(mu_);
    inputs_ = inputs;
    inputs_begins_ = std::move(begins);
    inputs_changed_ = true;
  }
  cv_.notify_all();
}

ProgressState ProgressMeter::Snapshot(bool finished) {
  ProgressState state;
  state.bytes_done = bytes_done_.load(std::memory_order_relaxed);
  state.bytes_total = total_;
  state.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  state.inputs = names_.size();
  state.input = std::min(input_.load(std::memory_order_relaxed), names_.size());
  if (state.input > 0) state.input_name = names_[state.input - 1];
  state.finished = finished;
  return state;
}

void ProgressMeter::Draw(const ProgressState& state) {
  if (mode_ == Mode::kLines) {
    WriteAll(fd_, "logpipe: progress: " + FormatProgress(state, 200) + "\n");
    return;
  }
  struct winsize ws;
  size_t width = 80;
  if (ioctl(fd_, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) width = ws.ws_col;
  // One column short of the width: writing the last column makes some terminals wrap.
  WriteAll(fd_, "\r" + FormatProgress(state, width > 1 ? width - 1 : 1) + "\x1b[K");
  drawn_ = true;
}

void ProgressMeter::Erase() {
  if (drawn_) WriteAll(fd_, "\r\x1b[K");
  drawn_ = false;
}

void ProgressMeter::Run() {
  const auto every = mode_ == Mode::kRedraw ? std::chrono::steady_clock::duration(kRedrawEvery)
                                            : std::chrono::steady_clock::duration(kLineEvery);
  auto next = std::chrono::steady_clock::now() + every;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_until(lock, next, [this] { return stop_ || inputs_changed_; });
    if (stop_) break;
    ForkGuard no_fork_meanwhile;  // what follows allocates (pipeline/run_interrupt.h)
    if (inputs_changed_) {
      // Sizes are found here, not on the reading path (a stat and a 4-byte read per input).
      std::vector<std::string> names = inputs_;
      const std::vector<uint64_t> begins = inputs_begins_;
      inputs_changed_ = false;
      lock.unlock();
      std::optional<uint64_t> total = 0;
      for (size_t i = 0; i < names.size() && total; ++i) {
        std::optional<uint64_t> size = PlainFileSize(names[i]);
        const uint64_t begin = i < begins.size() ? begins[i] : 0;
        total = size ? std::optional<uint64_t>(*total + (*size > begin ? *size - begin : 0))
                     : std::nullopt;
      }
      lock.lock();
      names_ = std::move(names);
      total_ = total;
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now < next) continue;
    next = now + every;
    lock.unlock();
    if (StopRequested()) {  // the stop message follows: leave a clean line, draw no more
      if (!silenced_) Erase();
      silenced_ = true;
    } else if (!names_.empty()) {
      Draw(Snapshot(/*finished=*/false));
    }
    lock.lock();
  }
}

}  // namespace logpipe
