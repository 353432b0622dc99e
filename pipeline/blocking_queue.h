#pragma once
// BlockingQueue: a multi-producer multi-consumer queue for the threads executor, first in first
// out, or last in first out for a pool of free buffers (the one freed last is the likeliest to
// be still in a cache).
//
// Unbounded in itself: executors circulate a fixed pool of WorkItems, so a queue never holds
// more than the pool. Producers register up front (AddProducers); the queue closes when the
// last one calls ProducerDone, after which Pop drains what is left and then returns false.
// Abort wakes everyone: Pop returns false at once, Push drops the value.
// Thread-safety: all methods may be called from any thread.

#include <condition_variable>
#include <deque>
#include <mutex>

namespace logpipe {

enum class QueueOrder { kFifo, kLifo };

template <typename T>
class BlockingQueue {
 public:
  explicit BlockingQueue(QueueOrder order = QueueOrder::kFifo) : order_(order) {}

  void AddProducers(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    producers_ += n;
  }

  void ProducerDone() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--producers_ == 0) cv_.notify_all();
  }

  void Push(T value) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (aborted_) return;
      items_.push_back(std::move(value));
    }
    cv_.notify_one();
  }

  // Blocks until an item is available (true) or the queue is closed and empty, or aborted.
  bool Pop(T* out) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return aborted_ || !items_.empty() || producers_ == 0; });
    if (aborted_ || items_.empty()) return false;
    if (order_ == QueueOrder::kFifo) {
      *out = std::move(items_.front());
      items_.pop_front();
    } else {
      *out = std::move(items_.back());
      items_.pop_back();
    }
    return true;
  }

  void Abort() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      aborted_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const QueueOrder order_;
  std::deque<T> items_;
  int producers_ = 0;
  bool aborted_ = false;
};

}  // namespace logpipe
