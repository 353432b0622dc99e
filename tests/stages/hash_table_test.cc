#include "stages/hash_table.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
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
