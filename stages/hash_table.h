#pragma once
// HashTable: an insert-only open-addressing set of byte strings that gives each key a dense id
// (0, 1, 2, ... in insertion order). It is the map behind aggregate groups and per-group value
// counts: callers keep the data of a key in their own vectors, indexed by its id.
//
// Layout: linear probing over a power-of-two array of 8-byte slots (load factor <= 1/2). A slot
// holds a 24-bit tag of the key's 64-bit hash and a reference to the key's entry; the home slot
// comes from the top bits of the hash. Entries live in an arena of blocks (1 KiB doubling to
// 1 MiB; a larger key gets a block of its own), so the arena never copies itself as it grows
// and is never more than one block larger than its entries. An entry is
// [hash >> 32: 4][id 4][length 4][payload 8][bytes], packed with no padding (20 bytes plus
// the key), so a lookup touches two cache lines (slot, entry), both of which a caller can
// prefetch ahead (PrefetchSlot, then PrefetchEntry). Growth rehashes from the stored 32 hash
// bits without hashing keys again (hence at most 2^32 slots). The payload is a 64-bit value
// per key for the caller (a counter), updated in the cache line the lookup already touched
// (through PayloadRef: entries are unaligned). Keys are copied once, when first inserted. A
// key may be given in two parts (head + tail), compared and stored as their concatenation, so
// callers need not build composite keys.
// Thread-safety: none; one table per Partial.
// Lifetime: key() views and PayloadRefs stay valid until Clear(), ConsumeInIdOrder() or the
//   table's destruction (insertions never move entries); Swap() moves them with the entries.
// Cost: a lookup is one probe sequence; it allocates only when it inserts (doubling of slots
//   and of the id index, a new arena block when one fills). Finding a key never allocates.
//   Memory per key: 20 bytes + the key in the arena, 8 in the id index, 16 to 32 in slots.
// Limits: fewer than 2^31 keys and about 2^40 bytes of arena (asserted).

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <memory>
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

inline uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
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

// The 8-byte payload of one key, stored unaligned inside its entry.
class PayloadRef {
 public:
  explicit PayloadRef(char* p = nullptr) : p_(p) {}
  uint64_t Get() const { return hash_internal::Load64(p_); }
  void Set(uint64_t v) const { std::memcpy(p_, &v, 8); }
  void Add(uint64_t v) const { Set(Get() + v); }

 private:
  char* p_;
};

class HashTable {
 public:
  static constexpr uint32_t kNotFound = 0xffffffffu;

  size_t size() const { return entry_ref_.size(); }

  std::string_view key(uint32_t id) const {
    const char* e = Entry(entry_ref_[id]);
    return std::string_view(e + kHeader, EntryLength(e));
  }
  // The caller's 64-bit value of key `id` (0 when inserted).
  uint64_t payload(uint32_t id) const {
    return hash_internal::Load64(Entry(entry_ref_[id]) + kPayloadAt);
  }

  // Pipelined lookups: PrefetchSlot(h) some rows ahead, PrefetchEntry(h) fewer rows ahead
  // (it reads the slot the first call brought in), then FindOrInsert.
  void PrefetchSlot(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[Home(hash)]);
  }
  void PrefetchEntry(uint64_t hash) const {
    if (slots_.empty()) return;
    const uint64_t s = slots_[Home(hash)];
    if (s != 0) __builtin_prefetch(Entry(SlotRef(s)));
  }

  // Returns the id of the key head + tail, inserting it (copying its bytes) if absent;
  // *inserted says which. REQUIRES: `hash` is the caller's hash of that key, the same
  // function for every call on this table.
  uint32_t FindOrInsert(std::string_view head, std::string_view tail, uint64_t hash,
                        bool* inserted) {
    PayloadRef payload;
    return FindOrInsert(head, tail, hash, inserted, &payload);
  }
  uint32_t FindOrInsert(std::string_view key, uint64_t hash, bool* inserted) {
    return FindOrInsert(std::string_view(), key, hash, inserted);
  }
  // As above, and sets *payload to the key's payload.
  uint32_t FindOrInsert(std::string_view head, std::string_view tail, uint64_t hash, bool* inserted,
                        PayloadRef* payload) {
    if (slots_.empty()) Rehash(kMinSlots);
    size_t i = Probe(head, tail, hash);
    const uint64_t s = slots_[i];
    if (s != 0) {
      *inserted = false;
      char* e = Entry(SlotRef(s));
      *payload = PayloadRef(e + kPayloadAt);
      return hash_internal::Load32(e + kIdAt);
    }
    *inserted = true;
    const uint32_t id = static_cast<uint32_t>(entry_ref_.size());
    assert(id < (1u << 31));
    if ((entry_ref_.size() + 1) * 2 > slots_.size()) {
      Rehash(slots_.size() * 2);
      i = Probe(head, tail, hash);
    }
    const size_t len = head.size() + tail.size();
    assert(len < (uint64_t{1} << 32));
    const uint64_t ref = Allocate(kHeader + len);
    char* e = Entry(ref);
    const uint32_t hash_hi = static_cast<uint32_t>(hash >> 32);
    const uint32_t len32 = static_cast<uint32_t>(len);
    const uint64_t zero = 0;
    std::memcpy(e + kHashAt, &hash_hi, 4);
    std::memcpy(e + kIdAt, &id, 4);
    std::memcpy(e + kLengthAt, &len32, 4);
    std::memcpy(e + kPayloadAt, &zero, 8);
    if (!head.empty()) std::memcpy(e + kHeader, head.data(), head.size());
    if (!tail.empty()) std::memcpy(e + kHeader + head.size(), tail.data(), tail.size());
    entry_ref_.push_back(ref);
    slots_[i] = MakeSlot(hash_hi, ref);
    *payload = PayloadRef(e + kPayloadAt);
    return id;
  }

  // The id of head + tail, or kNotFound. Never allocates.
  uint32_t Find(std::string_view head, std::string_view tail, uint64_t hash) const {
    if (slots_.empty()) return kNotFound;
    const uint64_t s = slots_[Probe(head, tail, hash)];
    return s == 0 ? kNotFound : hash_internal::Load32(Entry(SlotRef(s)) + kIdAt);
  }
  uint32_t Find(std::string_view key, uint64_t hash) const {
    return Find(std::string_view(), key, hash);
  }

  // Makes room for `n` keys in total without rehashing (the arena still grows as needed).
  void Reserve(size_t n) {
    size_t want = kMinSlots;
    while (want < n * 2) want *= 2;
    if (want > slots_.size()) Rehash(want);
    entry_ref_.reserve(n);
  }

  // Visits every key in id order, visit(first, n) for the ids [first, first + n) in windows of
  // `window` ids, releasing memory as it goes: the slots before the first window (so no
  // Find or FindOrInsert inside visit), then each arena block once every id it holds has been
  // visited. visit may read key(i) and payload(i) of its own window only. Afterwards the
  // table is empty and holds no memory, as a new one. For merges that fold one table into
  // another, so that the emptied one shrinks while the other grows.
  template <typename Visit>
  void ConsumeInIdOrder(uint32_t window, Visit visit) {
    assert(window > 0);
    std::vector<uint64_t>().swap(slots_);
    const uint32_t n = static_cast<uint32_t>(entry_ref_.size());
    size_t released = 0;  // blocks [0, released) are freed
    for (uint32_t first = 0; first < n; first += window) {
      const uint32_t count = std::min(window, n - first);
      visit(first, count);
      if (first + count == n) break;
      // Entries are placed in id order in non-decreasing blocks, so every block before that
      // of the next id holds only visited entries.
      const size_t next_block = entry_ref_[first + count] >> kPosBits;
      for (; released < next_block; ++released) blocks_[released] = Block();
    }
    *this = HashTable();
  }

  // Removes every key; keeps the allocated memory (slots, id index and arena blocks).
  void Clear() {
    std::fill(slots_.begin(), slots_.end(), 0);
    entry_ref_.clear();
    block_ = 0;
    used_ = 0;
  }

  void Swap(HashTable& other) {
    slots_.swap(other.slots_);
    std::swap(shift_, other.shift_);
    entry_ref_.swap(other.entry_ref_);
    blocks_.swap(other.blocks_);
    std::swap(block_, other.block_);
    std::swap(used_, other.used_);
  }

  // Bytes held by the table (slots, id index and arena blocks), for memory reports.
  size_t MemoryBytes() const {
    size_t n = slots_.capacity() * sizeof(uint64_t) + entry_ref_.capacity() * sizeof(uint64_t);
    for (const Block& b : blocks_) n += b.size;
    return n;
  }

 private:
  // Entry layout.
  static constexpr size_t kHashAt = 0;      // hash >> 32
  static constexpr size_t kIdAt = 4;        // id
  static constexpr size_t kLengthAt = 8;    // key length
  static constexpr size_t kPayloadAt = 12;  // payload
  static constexpr size_t kHeader = 20;     // then the key bytes
  static constexpr size_t kMinSlots = 16;
  // Arena: a reference is block << kPosBits | position in block, 40 bits in all.
  static constexpr int kPosBits = 20;
  static constexpr size_t kFirstBlock = size_t{1} << 10;
  static constexpr size_t kMaxBlock = size_t{1} << kPosBits;  // larger entries: own block
  static constexpr size_t kMaxBlocks = (size_t{1} << (40 - kPosBits)) - 1;
  static constexpr uint64_t kRefMask = (uint64_t{1} << 40) - 1;
  static constexpr uint32_t kTagMask = 0xffffff;

  struct Block {
    std::unique_ptr<char[]> bytes;
    size_t size = 0;
  };

  // Home slot: the top bits of the hash. With at most 2^32 slots, these are the top bits of
  // hash >> 32 too, which is what entries keep for rehashing.
  size_t Home(uint64_t hash) const { return static_cast<size_t>(hash >> shift_); }
  // Slot: tag (bits 32..55 of the hash) << 40 | (entry reference + 1); 0 = empty.
  static uint64_t MakeSlot(uint32_t hash_hi, uint64_t ref) {
    return (static_cast<uint64_t>(hash_hi & kTagMask) << 40) | (ref + 1);
  }
  static uint64_t SlotRef(uint64_t slot) { return (slot & kRefMask) - 1; }
  char* Entry(uint64_t ref) const {
    return blocks_[ref >> kPosBits].bytes.get() + (ref & (kMaxBlock - 1));
  }
  static uint32_t EntryLength(const char* e) { return hash_internal::Load32(e + kLengthAt); }

  // A reference to n free bytes in the arena.
  uint64_t Allocate(size_t n) {
    while (block_ < blocks_.size()) {
      const Block& b = blocks_[block_];
      // A block holds entries from position 0 up to kMaxBlock - 1 (positions are kPosBits
      // wide); a larger block holds exactly one entry.
      if (used_ + n <= b.size && (used_ == 0 || used_ + n <= kMaxBlock)) {
        const uint64_t ref = (static_cast<uint64_t>(block_) << kPosBits) | used_;
        used_ += n;
        return ref;
      }
      ++block_;  // too full (or, after Clear(), too small): use the next one
      used_ = 0;
    }
    size_t size = blocks_.empty() ? kFirstBlock : std::min(blocks_.back().size * 2, kMaxBlock);
    if (size < n) size = n;
    assert(blocks_.size() < kMaxBlocks);
    Block b;
    b.bytes.reset(new char[size]);  // not value-initialised: untouched pages stay unmapped
    b.size = size;
    blocks_.push_back(std::move(b));
    block_ = blocks_.size() - 1;
    used_ = n;
    return static_cast<uint64_t>(block_) << kPosBits;
  }

  // The slot holding head + tail, or the empty slot where it would go.
  size_t Probe(std::string_view head, std::string_view tail, uint64_t hash) const {
    const uint32_t hash_hi = static_cast<uint32_t>(hash >> 32);
    const uint64_t tag = static_cast<uint64_t>(hash_hi & kTagMask) << 40;
    const size_t mask = slots_.size() - 1;
    const size_t len = head.size() + tail.size();
    for (size_t i = Home(hash);; i = (i + 1) & mask) {
      const uint64_t s = slots_[i];
      if (s == 0) return i;
      if ((s & ~kRefMask) != tag) continue;
      const char* e = Entry(SlotRef(s));
      if (hash_internal::Load32(e + kHashAt) != hash_hi || EntryLength(e) != len) continue;
      const char* k = e + kHeader;
      if ((head.empty() || std::memcmp(k, head.data(), head.size()) == 0) &&
          (tail.empty() || std::memcmp(k + head.size(), tail.data(), tail.size()) == 0)) {
        return i;
      }
    }
  }

  // REQUIRES: slot_count is a power of two, >= kMinSlots, <= 2^32, > 2 * size().
  void Rehash(size_t slot_count) {
    int bits = 0;
    while ((size_t{1} << bits) < slot_count) ++bits;
    assert(bits <= 32);
    slots_.assign(slot_count, 0);
    shift_ = 64 - bits;
    const size_t mask = slot_count - 1;
    for (uint64_t ref : entry_ref_) {  // in id order: the arena is read front to back
      const uint32_t hash_hi = hash_internal::Load32(Entry(ref) + kHashAt);
      size_t i = Home(static_cast<uint64_t>(hash_hi) << 32);
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = MakeSlot(hash_hi, ref);
    }
  }

  std::vector<uint64_t> slots_;
  int shift_ = 64;                   // home slot = hash >> shift_
  std::vector<uint64_t> entry_ref_;  // id -> arena reference of its entry
  std::vector<Block> blocks_;        // the arena
  size_t block_ = 0;                 // the block being filled
  size_t used_ = 0;                  // bytes used in blocks_[block_]
};

}  // namespace logpipe
