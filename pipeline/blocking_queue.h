#pragma once
// BlockingQueue: a multi-producer multi-consumer FIFO for the threads executor.
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

template <typename T>
class BlockingQueue {
 public:
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
    *out = std::move(items_.front());
    items_.pop_front();
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
  std::deque<T> items_;
  int producers_ = 0;
  bool aborted_ = false;
};

}  // namespace logpipe
