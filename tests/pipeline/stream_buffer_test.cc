// StreamBuffer (pipeline/stream_buffer.h): the bounded pipe between a download (or a file-reading
// I/O thread) and the reader. Order, completeness, errors after data, cancellation and the
// on_room / pump hooks.
#include "pipeline/stream_buffer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace logpipe {
namespace {

using namespace std::chrono_literals;

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 977) & 0xff);
  return s;
}

// Reads to the end (or the first error) in reads of `piece` bytes.
Result<std::string> ReadAll(StreamBuffer& buffer, size_t piece) {
  std::string out;
  std::string buf(piece, '\0');
  while (true) {
    Result<size_t> n = buffer.Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) return out;
    out.append(buf.data(), *n);
  }
}

TEST(StreamBufferTest, ProducerAndConsumerThreadsWithTinyCapacityKeepOrderAndEveryByte) {
  const std::string data = Pattern(1 << 20);
  StreamBuffer buffer(7);
  std::thread producer([&] {
    size_t pos = 0;
    size_t piece = 1;
    while (pos < data.size()) {
      const size_t n = std::min(piece, data.size() - pos);
      ASSERT_TRUE(buffer.Write(data.data() + pos, n));
      pos += n;
      piece = piece * 3 % 1013 + 1;  // 1..1013 bytes, sometimes far above the capacity
    }
    buffer.Close(Status::Ok());
  });
  Result<std::string> got = ReadAll(buffer, 5);
  producer.join();
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->size(), data.size());
  EXPECT_TRUE(*got == data) << "bytes differ";
}

// The libcurl-style producer: TryWrite, and on refusal wait for on_room before offering the
// same piece again.
TEST(StreamBufferTest, TryWriteProducerResumedByOnRoomDeliversEverything) {
  const std::string data = Pattern(300'000);
  StreamBuffer buffer(16);
  std::mutex mu;
  std::condition_variable cv;
  bool room = false;
  std::atomic<int> on_room_calls{0};
  buffer.set_on_room([&] {
    ++on_room_calls;
    std::lock_guard<std::mutex> lock(mu);
    room = true;
    cv.notify_all();
  });
  std::thread producer([&] {
    size_t pos = 0;
    while (pos < data.size()) {
      const size_t n = std::min<size_t>(100, data.size() - pos);
      std::unique_lock<std::mutex> lock(mu);
      room = false;
      lock.unlock();
      if (buffer.TryWrite(data.data() + pos, n)) {
        pos += n;
        continue;
      }
      lock.lock();
      // `room` is set if on_room fired between the refusal and this wait.
      cv.wait_for(lock, 100ms, [&] { return room; });
    }
    buffer.Close(Status::Ok());
  });
  Result<std::string> got = ReadAll(buffer, 3);
  producer.join();
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(*got == data) << "bytes differ";
  EXPECT_GT(on_room_calls.load(), 0);
}

TEST(StreamBufferTest, TryWriteAcceptsAWholePieceBelowCapacityAndRefusesWhenFull) {
  StreamBuffer buffer(10);
  EXPECT_TRUE(buffer.TryWrite("abc", 3));
  EXPECT_TRUE(buffer.TryWrite("0123456789xyz", 13));  // below capacity: all of it
  EXPECT_FALSE(buffer.has_room());
  EXPECT_FALSE(buffer.TryWrite("!", 1));
  buffer.Close(Status::Ok());
  Result<std::string> got = ReadAll(buffer, 4);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "abc0123456789xyz");
}

TEST(StreamBufferTest, CloseWithErrorAfterDataReturnsDataFirstThenTheError) {
  StreamBuffer buffer(1024);
  ASSERT_TRUE(buffer.TryWrite("hello ", 6));
  ASSERT_TRUE(buffer.TryWrite("world", 5));
  buffer.Close(UnavailableError("http://x/y: HTTP 503"));
  buffer.Close(Status::Ok());  // a second Close changes nothing
  char buf[4];
  std::string got;
  Status error;
  for (int i = 0; i < 10; ++i) {
    Result<size_t> n = buffer.Read(buf, sizeof buf);
    if (!n.ok()) {
      error = n.status();
      break;
    }
    ASSERT_GT(*n, 0u) << "a clean end before the error";
    got.append(buf, *n);
  }
  EXPECT_EQ(got, "hello world");
  EXPECT_EQ(error.code(), StatusCode::kUnavailable);
  EXPECT_EQ(error.message(), "http://x/y: HTTP 503");
  // The error sticks.
  Result<size_t> again = buffer.Read(buf, sizeof buf);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kUnavailable);
}

TEST(StreamBufferTest, CleanCloseReadsZeroAfterTheData) {
  StreamBuffer buffer(8);
  ASSERT_TRUE(buffer.TryWrite("ab", 2));
  buffer.Close(Status::Ok());
  char buf[8];
  Result<size_t> n = buffer.Read(buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  n = buffer.Read(buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  n = buffer.Read(buf, 0);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
}

TEST(StreamBufferTest, ReadWaitsForAWriteFromAnotherThread) {
  StreamBuffer buffer(8);
  std::thread producer([&] {
    std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(buffer.Write("late", 4));
    buffer.Close(Status::Ok());
  });
  Result<std::string> got = ReadAll(buffer, 16);
  producer.join();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "late");
}

TEST(StreamBufferTest, CancelUnblocksABlockedWrite) {
  StreamBuffer buffer(4);
  ASSERT_TRUE(buffer.Write("full", 4));
  std::atomic<bool> entered{false};
  auto writer = std::async(std::launch::async, [&] {
    entered = true;
    return buffer.Write("more bytes", 10);  // blocks: the buffer is full
  });
  while (!entered) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(writer.wait_for(0ms), std::future_status::timeout) << "Write did not wait for room";
  buffer.Cancel();
  ASSERT_EQ(writer.wait_for(10s), std::future_status::ready) << "Cancel did not unblock Write";
  EXPECT_FALSE(writer.get());
  EXPECT_TRUE(buffer.cancelled());
  EXPECT_TRUE(buffer.has_room());
  // After Cancel writes return at once: Write says the reader is gone, TryWrite drops.
  EXPECT_FALSE(buffer.Write("x", 1));
  EXPECT_TRUE(buffer.TryWrite("x", 1));
}

TEST(StreamBufferTest, OnRoomFiresWhenAReadFreesRoomAndOnCancel) {
  StreamBuffer buffer(4);
  int calls = 0;
  buffer.set_on_room([&] { ++calls; });
  ASSERT_TRUE(buffer.TryWrite("abcd", 4));
  ASSERT_FALSE(buffer.TryWrite("e", 1));
  EXPECT_EQ(calls, 0);
  char buf[2];
  Result<size_t> n = buffer.Read(buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(buffer.has_room());
  ASSERT_TRUE(buffer.TryWrite("e", 1));  // the paused piece goes in now
  n = buffer.Read(buf, 1);  // 3 held of 4: there was room already, no wakeup needed
  ASSERT_TRUE(n.ok());
  buffer.Cancel();
  EXPECT_GE(calls, 2) << "Cancel must wake a paused producer";
}

TEST(StreamBufferTest, DroppingTheSourceCancelsTheBufferForTheProducer) {
  auto buffer = std::make_shared<StreamBuffer>(4);
  std::unique_ptr<ByteSource> source = NewStreamBufferSource("http://h/a.log", buffer);
  EXPECT_EQ(source->name(), "http://h/a.log");
  ASSERT_TRUE(buffer->Write("abcd", 4));
  auto writer = std::async(std::launch::async, [&] { return buffer->Write("efgh", 4); });
  char buf[2];
  Result<size_t> n = source->Read(buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "ab");
  source.reset();
  ASSERT_EQ(writer.wait_for(10s), std::future_status::ready);
  writer.get();  // true or false: it returned
  EXPECT_TRUE(buffer->cancelled());
  EXPECT_FALSE(buffer->Write("ijkl", 4));
}

}  // namespace
}  // namespace logpipe
