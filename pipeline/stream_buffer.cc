#include "pipeline/stream_buffer.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace logpipe {
namespace {

// Bytes are kept in blocks of this size (or one larger write), so small network pieces do
// not cost one allocation each.
constexpr size_t kBlockBytes = size_t{256} << 10;

}  // namespace

StreamBuffer::StreamBuffer(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

void StreamBuffer::set_on_room(std::function<void()> on_room) {
  std::lock_guard<std::mutex> lock(mu_);
  on_room_ = std::move(on_room);
}

bool StreamBuffer::TryWrite(const char* data, size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_) return true;
  if (size_ >= capacity_) return false;
  if (pieces_.empty() || pieces_.back().capacity() - pieces_.back().size() < n) {
    pieces_.emplace_back();
    pieces_.back().reserve(std::max(kBlockBytes, n));
  }
  pieces_.back().append(data, n);
  size_ += n;
  cv_.notify_all();
  return true;
}

bool StreamBuffer::Write(const char* data, size_t n) {
  while (n > 0) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return cancelled_ || size_ < capacity_; });
      if (cancelled_) return false;
    }
    const size_t piece = std::min(n, kBlockBytes);
    TryWrite(data, piece);  // only this producer adds bytes, so there is room
    data += piece;
    n -= piece;
  }
  return true;
}

void StreamBuffer::Close(Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  status_ = std::move(status);
  cv_.notify_all();
}

Result<size_t> StreamBuffer::Read(char* buf, size_t n) {
  if (n == 0) return size_t{0};
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return size_ > 0 || closed_; });
  if (size_ == 0) {
    if (!status_.ok()) return status_;
    return size_t{0};
  }
  size_t copied = 0;
  while (copied < n && !pieces_.empty()) {
    std::string& front = pieces_.front();
    const size_t take = std::min(n - copied, front.size() - head_);
    std::memcpy(buf + copied, front.data() + head_, take);
    copied += take;
    head_ += take;
    if (head_ == front.size()) {
      pieces_.pop_front();
      head_ = 0;
    }
  }
  const bool was_full = size_ >= capacity_;
  size_ -= copied;
  std::function<void()> on_room;
  if (was_full && size_ < capacity_) on_room = on_room_;
  cv_.notify_all();
  lock.unlock();
  if (on_room) on_room();
  return copied;
}

void StreamBuffer::Cancel() {
  std::function<void()> on_room;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    pieces_.clear();
    head_ = size_ = 0;
    on_room = on_room_;
    cv_.notify_all();
  }
  if (on_room) on_room();
}

bool StreamBuffer::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

bool StreamBuffer::has_room() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_ || size_ < capacity_;
}

namespace {

class StreamBufferSource : public ByteSource {
 public:
  StreamBufferSource(std::string name, std::shared_ptr<StreamBuffer> buffer)
      : name_(std::move(name)), buffer_(std::move(buffer)) {}
  ~StreamBufferSource() override { buffer_->Cancel(); }

  Result<size_t> Read(char* buf, size_t n) override { return buffer_->Read(buf, n); }
  const std::string& name() const override { return name_; }

 private:
  std::string name_;
  std::shared_ptr<StreamBuffer> buffer_;
};

}  // namespace

std::unique_ptr<ByteSource> NewStreamBufferSource(std::string name,
                                                  std::shared_ptr<StreamBuffer> buffer) {
  return std::make_unique<StreamBufferSource>(std::move(name), std::move(buffer));
}

}  // namespace logpipe
