#pragma once
// HashTable: an insert-only open-addressing set of byte strings that gives each key a dense id
// (0, 1, 2, ... in insertion order). It is the map behind aggregate groups and per-group value
// counts: callers keep the data of a key in their own vectors, indexed by its id.
//
// Layout: linear probing over a power-of-two array of 8-byte slots (load factor <= 1/2). A slot
// holds 24 low bits of the key's 64-bit hash as a tag and the key's place in one arena; the
// home slot comes from the top bits of the hash. An arena entry is [hash 8][id 4][length 4]
// [payload 8][bytes, padded to 8], so a lookup touches two cache lines (slot, entry), both of
// which a caller can prefetch ahead (PrefetchSlot, then PrefetchEntry), and growth rehashes
// from the stored hashes without hashing keys again. The payload is a 64-bit value per key for
// the caller (a counter), updated in the cache line the lookup already touched. Keys are
// copied once, when first inserted. A key may be given in two parts (head + tail), compared
// and stored as their concatenation, so callers need not build composite keys.
// Thread-safety: none; one table per Partial.
// Lifetime: key() views are valid until the next insertion or Clear().
// Cost: a lookup is one probe sequence; it allocates only when it inserts (amortised doubling
//   of slots, arena and id index). Finding a key never allocates.
// Limits: fewer than 2^31 keys and 2^40 bytes of arena (asserted).

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace logpipe {

namespace hash_internal {

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline uint64_t Mix(uint64_t a, uint64_t b) {
  unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

constexpr uint64_t kP0 = 0xa0761d6478bd642full;
constexpr uint64_t kP1 = 0xe7037ed1a0b428dbull;
constexpr uint64_t kP2 = 0x8ebc6af09c88c6e3ull;
constexpr uint64_t kP3 = 0x589965cc75374cc3ull;

}  // namespace hash_internal

// 64-bit non-cryptographic hash of `bytes` under `seed` (wyhash-style multiply-mix over 8-byte
// words). Deterministic on one machine; never stored in outputs or partial encodings.
inline uint64_t HashBytes(std::string_view bytes, uint64_t seed = 0) {
  using hash_internal::kP0;
  using hash_internal::kP1;
  using hash_internal::kP2;
  using hash_internal::kP3;
  using hash_internal::Load64;
  using hash_internal::Mix;
  const char* p = bytes.data();
  const size_t n = bytes.size();
  uint64_t h = Mix(seed ^ kP0, n ^ kP3);
  size_t left = n;
  while (left >= 16) {
    h = Mix(Load64(p) ^ kP1, Load64(p + 8) ^ h);
    p += 16;
    left -= 16;
  }
  if (left >= 8) {
    h = Mix(Load64(p) ^ kP1, h ^ kP2);
    p += 8;
    left -= 8;
  }
  if (left > 0) {
    uint64_t tail = 0;
    if (n >= 8) {
      tail = Load64(p + left - 8);  // overlaps bytes already hashed; stays inside the key
    } else {
      std::memcpy(&tail, p, left);
    }
    h = Mix(tail ^ kP2, h ^ kP1);
  }
  return Mix(h ^ kP1, n ^ kP0);
}

class HashTable {
 public:
  static constexpr uint32_t kNotFound = 0xffffffffu;

  size_t size() const { return entry_offset_.size(); }

  std::string_view key(uint32_t id) const {
    const char* e = arena_.data() + entry_offset_[id];
    return std::string_view(e + kHeader, EntryLength(e));
  }
  uint64_t hash(uint32_t id) const {
    return hash_internal::Load64(arena_.data() + entry_offset_[id]);
  }
  // The caller's 64-bit value of key `id` (0 when inserted).
  uint64_t payload(uint32_t id) const { return *Payload(entry_offset_[id]); }

  // Pipelined lookups: PrefetchSlot(h) some rows ahead, PrefetchEntry(h) fewer rows ahead
  // (it reads the slot the first call brought in), then FindOrInsert.
  void PrefetchSlot(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[Home(hash)]);
  }
  void PrefetchEntry(uint64_t hash) const {
    if (slots_.empty()) return;
    const uint64_t s = slots_[Home(hash)];
    if (s != 0) __builtin_prefetch(arena_.data() + SlotOffset(s));
  }

  // Returns the id of the key head + tail, inserting it (copying its bytes) if absent;
  // *inserted says which. REQUIRES: `hash` is the caller's hash of that key, the same
  // function for every call on this table.
  uint32_t FindOrInsert(std::string_view head, std::string_view tail, uint64_t hash,
                        bool* inserted) {
    uint64_t* payload;
    return FindOrInsert(head, tail, hash, inserted, &payload);
  }
  uint32_t FindOrInsert(std::string_view key, uint64_t hash, bool* inserted) {
    return FindOrInsert(std::string_view(), key, hash, inserted);
  }
  // As above, and sets *payload to the key's payload, valid until the next insertion.
  uint32_t FindOrInsert(std::string_view head, std::string_view tail, uint64_t hash, bool* inserted,
                        uint64_t** payload) {
    if (slots_.empty()) Rehash(kMinSlots);
    size_t i = Probe(head, tail, hash);
    const uint64_t s = slots_[i];
    if (s != 0) {
      *inserted = false;
      *payload = Payload(SlotOffset(s));
      return EntryId(arena_.data() + SlotOffset(s));
    }
    *inserted = true;
    const uint32_t id = static_cast<uint32_t>(entry_offset_.size());
    assert(id < (1u << 31));
    if ((entry_offset_.size() + 1) * 2 > slots_.size()) {
      Rehash(slots_.size() * 2);
      i = Probe(head, tail, hash);
    }
    const uint64_t offset = arena_.size();
    assert(offset < (uint64_t{1} << 40) - 1);
    const uint32_t len = static_cast<uint32_t>(head.size() + tail.size());
    char header[kHeader] = {};
    std::memcpy(header, &hash, 8);
    std::memcpy(header + 8, &id, 4);
    std::memcpy(header + 12, &len, 4);
    arena_.append(header, kHeader);
    arena_.append(head.data(), head.size());
    arena_.append(tail.data(), tail.size());
    arena_.append((8 - len % 8) % 8, '\0');  // keeps every entry, so its payload, aligned
    entry_offset_.push_back(offset);
    slots_[i] = MakeSlot(hash, offset);
    *payload = Payload(offset);
    return id;
  }

  // The id of head + tail, or kNotFound. Never allocates.
  uint32_t Find(std::string_view head, std::string_view tail, uint64_t hash) const {
    if (slots_.empty()) return kNotFound;
    const uint64_t s = slots_[Probe(head, tail, hash)];
    return s == 0 ? kNotFound : EntryId(arena_.data() + SlotOffset(s));
  }
  uint32_t Find(std::string_view key, uint64_t hash) const {
    return Find(std::string_view(), key, hash);
  }

  // Makes room for `n` keys in total without rehashing (the arena still grows as needed).
  void Reserve(size_t n) {
    size_t want = kMinSlots;
    while (want < n * 2) want *= 2;
    if (want > slots_.size()) Rehash(want);
    entry_offset_.reserve(n);
  }

  // Removes every key; keeps the allocated memory.
  void Clear() {
    std::fill(slots_.begin(), slots_.end(), 0);
    entry_offset_.clear();
    arena_.clear();
  }

  void Swap(HashTable& other) {
    slots_.swap(other.slots_);
    std::swap(shift_, other.shift_);
    entry_offset_.swap(other.entry_offset_);
    arena_.swap(other.arena_);
  }

  // Bytes held by the table (slots, arena and id index), for memory reports.
  size_t MemoryBytes() const {
    return slots_.capacity() * sizeof(uint64_t) + entry_offset_.capacity() * sizeof(uint64_t) +
           arena_.capacity();
  }

 private:
  static constexpr size_t kMinSlots = 16;
  static constexpr size_t kHeader = 24;  // hash 8, id 4, length 4, payload 8
  static constexpr uint64_t kTagMask = 0xffffff;

  size_t Home(uint64_t hash) const { return static_cast<size_t>(hash >> shift_); }
  // The arena is a std::string (malloc-aligned) and entries have sizes that are multiples
  // of 8, so payloads are 8-byte aligned.
  uint64_t* Payload(uint64_t offset) const {
    return reinterpret_cast<uint64_t*>(const_cast<char*>(arena_.data()) + offset + 16);
  }
  static uint64_t MakeSlot(uint64_t hash, uint64_t offset) {
    return ((hash & kTagMask) << 40) | (offset + 1);
  }
  static uint64_t SlotOffset(uint64_t slot) { return (slot & ((uint64_t{1} << 40) - 1)) - 1; }
  static uint32_t EntryId(const char* e) {
    uint32_t id;
    std::memcpy(&id, e + 8, 4);
    return id;
  }
  static uint32_t EntryLength(const char* e) {
    uint32_t len;
    std::memcpy(&len, e + 12, 4);
    return len;
  }

  // The slot holding head + tail, or the empty slot where it would go.
  size_t Probe(std::string_view head, std::string_view tail, uint64_t hash) const {
    const uint64_t tag = (hash & kTagMask) << 40;
    const size_t mask = slots_.size() - 1;
    const size_t len = head.size() + tail.size();
    for (size_t i = Home(hash);; i = (i + 1) & mask) {
      const uint64_t s = slots_[i];
      if (s == 0) return i;
      if ((s & ~((uint64_t{1} << 40) - 1)) != tag) continue;
      const char* e = arena_.data() + SlotOffset(s);
      if (hash_internal::Load64(e) != hash || EntryLength(e) != len) continue;
      const char* k = e + kHeader;
      if ((head.empty() || std::memcmp(k, head.data(), head.size()) == 0) &&
          (tail.empty() || std::memcmp(k + head.size(), tail.data(), tail.size()) == 0)) {
        return i;
      }
    }
  }

  // REQUIRES: slot_count is a power of two, >= kMinSlots, > 2 * size().
  void Rehash(size_t slot_count) {
    int bits = 0;
    while ((size_t{1} << bits) < slot_count) ++bits;
    slots_.assign(slot_count, 0);
    shift_ = 64 - bits;
    const size_t mask = slot_count - 1;
    for (uint64_t offset : entry_offset_) {
      const uint64_t hash = hash_internal::Load64(arena_.data() + offset);
      size_t i = Home(hash);
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = MakeSlot(hash, offset);
    }
  }

  std::vector<uint64_t> slots_;         // tag << 40 | (arena offset + 1); 0 = empty
  int shift_ = 64;                      // home slot = hash >> shift_
  std::vector<uint64_t> entry_offset_;  // id -> arena offset of its entry
  std::string arena_;
};

}  // namespace logpipe
