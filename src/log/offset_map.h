#pragma once
// Key -> latest offset for one compaction round, in a fixed memory budget: the role of Kafka's
// cleaner "dedupe buffer" (log.cleaner.dedupe.buffer.size). A round maps the dirty records
// until the budget is spent, then cleans up to the last record it mapped; the next round goes
// on from there (docs/log-format.md, "Compaction"). Without the bound, one round over a closed
// 1 GiB changelog segment of ~600,000 keys held them all in an unordered_map: +75 MiB of RSS.
//
// Keys are kept exactly (not as hashes, as Kafka does): two keys are never taken for one, so
// no record is ever dropped for another key's newer record. Layout, for density: each key's
// bytes and offset in an arena of blocks, and an open-addressing table of 8-byte slots (the
// entry's place in the arena and 32 bits of its hash). ~key size + 23 bytes per key.
//
// Hand-written because no maintained library offers a byte-bounded map with this layout
// (std::unordered_map spends ~100 bytes per short string key and cannot be bounded).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace ec::log {

class OffsetMap {
 public:
  explicit OffsetMap(size_t budget_bytes);
  ~OffsetMap();
  OffsetMap(const OffsetMap&) = delete;
  OffsetMap& operator=(const OffsetMap&) = delete;

  // Maps `key` to `offset` (offsets arrive in increasing order, so a later Put of a key is its
  // latest). False, with nothing changed, when a new key does not fit in the budget; an empty
  // map always takes its first key, so every round makes progress.
  bool Put(std::string_view key, int64_t offset);
  // The key's offset, or -1.
  int64_t Get(std::string_view key) const;

  size_t size() const { return size_; }
  size_t memory_bytes() const;  // table and arena blocks, what the budget bounds

 private:
  struct Slot {
    uint32_t ref = 0;   // (arena block + 1) << kOffsetBits | offset in the block; 0: empty
    uint32_t tag = 0;   // high 32 bits of the key's hash
  };
  static constexpr int kOffsetBits = 18;  // blocks of at most 256 KiB (a longer key gets its own)
  struct EntryRef {
    const char* key;
    uint32_t size;
    int64_t* offset;
  };
  EntryRef Entry(uint32_t ref) const;
  static uint64_t Hash(std::string_view key);
  // The slot holding `key`, or the empty slot where it would go.
  size_t Probe(std::string_view key, uint64_t hash) const;
  bool Grow();  // doubles the table if the budget allows
  bool Append(std::string_view key, int64_t offset, uint32_t* ref);

  size_t budget_;
  size_t block_bytes_;
  std::vector<Slot> slots_;  // power-of-two size
  size_t size_ = 0;
  // Arena: entries are [u32 key size][key bytes][i64 offset], unaligned (memcpy).
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t current_block_bytes_ = 0;  // the last block's size
  size_t block_used_ = 0;           // of it
  size_t arena_bytes_ = 0;
};

}  // namespace ec::log
