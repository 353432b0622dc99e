#include "pipeline/blocking_queue.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace logpipe {
namespace {

std::vector<int> DrainAfterClose(BlockingQueue<int>& q) {
  std::vector<int> out;
  int v = 0;
  while (q.Pop(&v)) out.push_back(v);
  return out;
}

TEST(BlockingQueue, FifoByDefaultLifoWhenAsked) {
  BlockingQueue<int> fifo;
  BlockingQueue<int> lifo(QueueOrder::kLifo);
  for (BlockingQueue<int>* q : {&fifo, &lifo}) {
    q->AddProducers(1);
    for (int i = 1; i <= 4; ++i) q->Push(i);
    q->ProducerDone();
  }
  EXPECT_EQ(DrainAfterClose(fifo), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(DrainAfterClose(lifo), (std::vector<int>{4, 3, 2, 1}));
}

TEST(BlockingQueue, PopWaitsForAPushOrTheLastProducer) {
  BlockingQueue<int> q(QueueOrder::kLifo);
  q.AddProducers(2);
  std::thread producer([&] {
    q.Push(7);
    q.ProducerDone();
    q.ProducerDone();
  });
  int v = 0;
  ASSERT_TRUE(q.Pop(&v));
  EXPECT_EQ(v, 7);
  EXPECT_FALSE(q.Pop(&v));  // closed and empty
  producer.join();
}

TEST(BlockingQueue, AbortWakesAPopAndDropsLaterPushes) {
  BlockingQueue<int> q;
  q.AddProducers(1);
  bool popped = true;
  std::thread consumer([&] {
    int v = 0;
    popped = q.Pop(&v);
  });
  q.Abort();
  consumer.join();
  EXPECT_FALSE(popped);
  q.Push(1);
  int v = 0;
  EXPECT_FALSE(q.Pop(&v));
}

}  // namespace
}  // namespace logpipe
