#include "stages/hash_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace logpipe {
namespace {

TEST(HashTable, GivesDenseIdsInInsertionOrder) {
  HashTable t;
  bool inserted = false;
  EXPECT_EQ(t.FindOrInsert("b", HashBytes("b"), &inserted), 0u);
  EXPECT_TRUE(inserted);
  EXPECT_EQ(t.FindOrInsert("a", HashBytes("a"), &inserted), 1u);
  EXPECT_TRUE(inserted);
  EXPECT_EQ(t.FindOrInsert("b", HashBytes("b"), &inserted), 0u);
  EXPECT_FALSE(inserted);
  EXPECT_EQ(t.FindOrInsert("", HashBytes(""), &inserted), 2u);
  EXPECT_TRUE(inserted);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.key(0), "b");
  EXPECT_EQ(t.key(1), "a");
  EXPECT_EQ(t.key(2), "");
  EXPECT_EQ(t.Find("a", HashBytes("a")), 1u);
  EXPECT_EQ(t.Find("c", HashBytes("c")), HashTable::kNotFound);
}

TEST(HashTable, KeepsKeysWithEmbeddedNulsAndAcrossGrowth) {
  HashTable t;
  std::vector<std::string> keys;
  std::mt19937 rng(1);
  for (int i = 0; i < 100000; ++i) {
    std::string k(rng() % 40, '\0');
    for (char& c : k) c = static_cast<char>(rng() % 4);  // many near-duplicates
    k += std::to_string(i);
    keys.push_back(k);
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    bool inserted = false;
    ASSERT_EQ(t.FindOrInsert(keys[i], HashBytes(keys[i]), &inserted), i);
    ASSERT_TRUE(inserted);
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    bool inserted = true;
    ASSERT_EQ(t.FindOrInsert(keys[i], HashBytes(keys[i]), &inserted), i);
    ASSERT_FALSE(inserted);
    ASSERT_EQ(t.key(static_cast<uint32_t>(i)), keys[i]);
  }
  t.Clear();
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.Find(keys[0], HashBytes(keys[0])), HashTable::kNotFound);
}

// Keys of random lengths (0 to 300 bytes, a few long ones) drawn with repeats from a pool,
// inserted with payload += weight; the expected ids (first-seen order) and sums come from a
// std::unordered_map built alongside. Crosses many slot doublings and arena blocks.
TEST(HashTable, ManyKeysAcrossGrowthMatchAReferenceMap) {
  std::mt19937_64 rng(7);
  std::vector<std::string> pool;
  for (int i = 0; i < 60000; ++i) {
    size_t len = rng() % 80;
    if (rng() % 100 == 0) len = 200 + rng() % 100;
    std::string k(len, '\0');
    for (char& c : k) c = static_cast<char>('a' + rng() % 3);  // many shared prefixes
    pool.push_back(k);
  }
  std::unordered_map<std::string, std::pair<uint32_t, uint64_t>> want;  // key -> id, sum
  std::vector<std::string> order;
  HashTable t;
  std::vector<std::pair<uint32_t, std::string_view>> early_views;
  for (int step = 0; step < 300000; ++step) {
    const std::string& k = pool[rng() % pool.size()];
    const uint64_t weight = 1 + rng() % 5;
    auto it = want.find(k);
    if (it == want.end()) {
      it = want.emplace(k, std::make_pair(static_cast<uint32_t>(order.size()), 0)).first;
      order.push_back(k);
    }
    it->second.second += weight;
    bool inserted = false;
    PayloadRef payload;
    const uint32_t id = t.FindOrInsert(std::string_view(), k, HashBytes(k), &inserted, &payload);
    ASSERT_EQ(id, it->second.first);
    ASSERT_EQ(inserted, payload.Get() == 0);
    payload.Add(weight);
    if (inserted && early_views.size() < 100) early_views.emplace_back(id, t.key(id));
  }
  ASSERT_EQ(t.size(), want.size());
  for (uint32_t id = 0; id < order.size(); ++id) {
    ASSERT_EQ(t.key(id), order[id]);
    ASSERT_EQ(t.payload(id), want[order[id]].second);
    ASSERT_EQ(t.Find(order[id], HashBytes(order[id])), id);
  }
  // Views taken right after insertion still read the same bytes: entries never move.
  for (const auto& [id, view] : early_views) ASSERT_EQ(view, order[id]);
  EXPECT_EQ(t.Find("not a pool key", HashBytes("not a pool key")), HashTable::kNotFound);
}

// A key given as head + tail is the concatenation, whatever the split.
TEST(HashTable, TwoPartKeysAreTheirConcatenation) {
  std::mt19937 rng(3);
  HashTable t;
  std::map<std::string, uint32_t> want;
  for (int step = 0; step < 20000; ++step) {
    std::string k(rng() % 12, '\0');
    for (char& c : k) c = static_cast<char>('x' + rng() % 2);
    const size_t split = k.empty() ? 0 : rng() % (k.size() + 1);
    const std::string_view head = std::string_view(k).substr(0, split);
    const std::string_view tail = std::string_view(k).substr(split);
    const uint32_t expected = want.emplace(k, static_cast<uint32_t>(want.size())).first->second;
    bool inserted = false;
    ASSERT_EQ(t.FindOrInsert(head, tail, HashBytes(k), &inserted), expected) << k << " @" << split;
    ASSERT_EQ(t.Find(head, tail, HashBytes(k)), expected);
  }
  EXPECT_EQ(t.size(), want.size());  // at most 2^12 - 1 keys of up to 11 bytes over {x, y}
  for (const auto& [k, id] : want) EXPECT_EQ(t.key(id), k);
  bool inserted = true;
  t.FindOrInsert("xy", "", HashBytes("xy"), &inserted);
  EXPECT_FALSE(inserted);
  EXPECT_EQ(t.Find("x", "y", HashBytes("xy")), t.Find("", "xy", HashBytes("xy")));
}

// Hashes that collide (all equal, or equal in every bit the table keeps) still give each
// key its own id: equality is decided by the bytes.
TEST(HashTable, CollidingHashesStillSeparateKeys) {
  for (const uint64_t mask : {uint64_t{0}, ~uint64_t{0} << 32, uint64_t{0xffffffff}}) {
    HashTable t;
    std::vector<std::string> keys;
    for (int i = 0; i < 3000; ++i) keys.push_back("k" + std::to_string(i));
    auto hash = [&](const std::string& k) { return HashBytes(k) & mask; };
    for (size_t i = 0; i < keys.size(); ++i) {
      bool inserted = false;
      ASSERT_EQ(t.FindOrInsert(keys[i], hash(keys[i]), &inserted), i);
      ASSERT_TRUE(inserted);
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      ASSERT_EQ(t.Find(keys[i], hash(keys[i])), i) << mask;
      ASSERT_EQ(t.key(static_cast<uint32_t>(i)), keys[i]);
    }
    EXPECT_EQ(t.Find("k3000", hash("k3000")), HashTable::kNotFound);
  }
}

// Keys larger than an arena block (1 MiB) get a block of their own, between small keys;
// after Clear() the blocks are reused for another key set.
TEST(HashTable, KeysLargerThanABlockAndReuseAfterClear) {
  HashTable t;
  std::vector<std::string> keys;
  size_t first_round_bytes = 0;
  for (int round = 0; round < 2; ++round) {
    keys.clear();
    for (int i = 0; i < 2000; ++i) {
      keys.push_back(std::string(1 + i % 50, static_cast<char>('A' + round)) + std::to_string(i));
      if (i % 500 == 7) {
        keys.push_back(std::string((3u << 20) + i, static_cast<char>('a' + i % 26)));
      }
    }
    keys.push_back(std::string(1u << 20, 'z'));  // exactly one block
    for (size_t i = 0; i < keys.size(); ++i) {
      bool inserted = false;
      PayloadRef payload;
      ASSERT_EQ(t.FindOrInsert("", keys[i], HashBytes(keys[i]), &inserted, &payload), i);
      ASSERT_TRUE(inserted);
      payload.Set(i * 3 + round);
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      const uint32_t id = static_cast<uint32_t>(i);
      ASSERT_EQ(t.key(id).size(), keys[i].size());
      ASSERT_TRUE(t.key(id) == keys[i]) << i;
      ASSERT_EQ(t.payload(id), i * 3 + round);
    }
    const size_t held = t.MemoryBytes();
    if (round == 0) first_round_bytes = held;
    EXPECT_EQ(held, first_round_bytes);  // the same key sizes again: no new blocks
    t.Clear();
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.MemoryBytes(), held);
    EXPECT_EQ(t.Find(keys[0], HashBytes(keys[0])), HashTable::kNotFound);
  }
}

// ConsumeInIdOrder visits every id once, in order and in windows, while freeing the blocks
// behind it (ASan would see a read of a freed block), and leaves an empty, usable table.
// Run on a fresh table and on one refilled after Clear(), whose small first blocks are
// skipped by the longer keys of the refill.
TEST(HashTable, ConsumeInIdOrderVisitsEveryKeyOnceAndFreesTheTable) {
  for (const uint32_t window : {1u, 7u, 1024u, 100000u}) {
    HashTable t;
    std::vector<std::string> keys;
    for (int round = 0; round < 2; ++round) {
      t.Clear();
      keys.clear();
      for (int i = 0; i < 30000; ++i) {
        keys.push_back(std::string(round == 0 ? 3 : 40 + i % 90, 'k') + std::to_string(i));
        if (i == 12345) keys.push_back(std::string((1u << 20) + 3, 'L'));  // a block of its own
      }
      for (size_t i = 0; i < keys.size(); ++i) {
        bool inserted = false;
        PayloadRef payload;
        t.FindOrInsert("", keys[i], HashBytes(keys[i]), &inserted, &payload);
        payload.Set(i + 1);
      }
    }
    uint32_t next = 0;
    t.ConsumeInIdOrder(window, [&](uint32_t first, uint32_t n) {
      ASSERT_EQ(first, next);
      ASSERT_LE(n, window);
      for (uint32_t i = first; i < first + n; ++i) {
        ASSERT_TRUE(t.key(i) == keys[i]) << i;
        ASSERT_EQ(t.payload(i), i + 1u);
      }
      next = first + n;
    });
    EXPECT_EQ(next, keys.size());
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.MemoryBytes(), 0u);
    bool inserted = false;
    EXPECT_EQ(t.FindOrInsert(keys[5], HashBytes(keys[5]), &inserted), 0u);
    EXPECT_TRUE(inserted);
  }
  HashTable empty;
  int calls = 0;
  empty.ConsumeInIdOrder(16, [&](uint32_t, uint32_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(HashTable, SwapExchangesContents) {
  HashTable a, b;
  bool inserted = false;
  a.FindOrInsert("one", HashBytes("one"), &inserted);
  for (int i = 0; i < 1000; ++i) {
    const std::string k = "b" + std::to_string(i);
    b.FindOrInsert(k, HashBytes(k), &inserted);
  }
  const std::string_view view = b.key(999);
  a.Swap(b);
  EXPECT_EQ(a.size(), 1000u);
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(b.Find("one", HashBytes("one")), 0u);
  EXPECT_EQ(a.Find("b999", HashBytes("b999")), 999u);
  EXPECT_EQ(view, "b999");
  EXPECT_EQ(a.FindOrInsert("new", HashBytes("new"), &inserted), 1000u);
  EXPECT_EQ(b.FindOrInsert("new", HashBytes("new"), &inserted), 1u);
}

TEST(HashTable, ReserveKeepsIdsAndKeys) {
  HashTable t;
  t.Reserve(50000);
  const size_t reserved = t.MemoryBytes();
  for (int i = 0; i < 50000; ++i) {
    const std::string k = std::to_string(i * 7919);
    bool inserted = false;
    ASSERT_EQ(t.FindOrInsert(k, HashBytes(k), &inserted), static_cast<uint32_t>(i));
  }
  for (int i = 0; i < 50000; i += 997) EXPECT_EQ(t.key(i), std::to_string(i * 7919));
  EXPECT_GT(t.MemoryBytes(), reserved);  // the arena grew; slots did not need to
}

TEST(HashTable, HashesDifferForShortAndLongKeys) {
  std::set<uint64_t> seen;
  std::string k;
  for (int len = 0; len < 64; ++len) {
    ASSERT_TRUE(seen.insert(HashBytes(k)).second) << len;
    k.push_back('\0');
  }
  // Same bytes, different split into the tail: every single-byte change moves the hash.
  std::string base(23, 'a');
  const uint64_t h = HashBytes(base);
  for (size_t i = 0; i < base.size(); ++i) {
    std::string changed = base;
    changed[i] = 'b';
    EXPECT_NE(HashBytes(changed), h) << i;
  }
}

}  // namespace
}  // namespace logpipe
