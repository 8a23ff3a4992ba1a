#pragma once
// An open-addressing hash index (linear probing, a power-of-two number of buckets at most half
// full) from a 64-bit hash to an item pointer, that grows without a pause: when it must double,
// the larger table is allocated and the entries move over a few buckets at a time, on each
// later Insert, while lookups look in both tables.
//
// Why not a plain rehash: the state cache's index reaches millions of buckets (16 MiB at 2^20),
// and moving every entry at once cost the pipeline thread 8-14 ms at each doubling (measured
// with uprobes on the server, stop 21), during which the pass in progress and every record
// behind it waited: the pauses were the worst records of the half-rate latency tail. Spread
// over the inserts that follow, the longest insert while 1,100,000 keys go in is 1.5-2.9 ms
// (the munmap of an emptied 16 MiB table) instead of 48-160 ms (bench/bench_state_cache.cc).
//
// Not synchronised (the owner serialises calls), except Prefetch (see there).

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ec::cdc {

class GrowingIndex {
 public:
  GrowingIndex() = default;
  ~GrowingIndex();
  GrowingIndex(const GrowingIndex&) = delete;
  GrowingIndex& operator=(const GrowingIndex&) = delete;

  // The item indexed under `hash` for which `same(item)` is true, or null.
  template <class Same>
  void* Find(uint64_t hash, Same same) const;
  // Indexes `item` under `hash`; the caller knows it is not indexed yet.
  void Insert(uint64_t hash, void* item);
  // Removes `item` (indexed under `hash`).
  void Erase(uint64_t hash, const void* item);
  // Calls f(item) for every indexed item; f must not change the index.
  template <class F>
  void ForEach(F f) const;
  size_t size() const { return size_; }
  bool growing() const { return old_.buckets != nullptr; }

  // Starts fetching the bucket where `hash` is looked up first. Safe to call from any thread
  // without the owner's serialisation: it reads only relaxed atomics of the current table, and
  // during a doubling may fetch from a table being freed or a wrong address, which is harmless
  // for a prefetch.
  void Prefetch(uint64_t hash) const {
    const Bucket* base = base_.load(std::memory_order_relaxed);
    if (base != nullptr) __builtin_prefetch(base + (hash & mask_.load(std::memory_order_relaxed)));
  }

 private:
  struct Bucket {
    uint64_t hash;
    void* item;  // null: empty; kMoved: a tombstone in the old table (moved or erased)
  };
  struct Table {
    Bucket* buckets = nullptr;
    size_t mask = 0;  // bucket count - 1
    size_t count() const { return buckets == nullptr ? 0 : mask + 1; }
  };
  static void* const kMoved;
  // Buckets of the old table moved per Insert while growing. A doubling starts at half of the
  // old table's bucket count in entries, and the next one is due after as many Inserts, so any
  // step of 2 or more finishes first; 16 keeps an Insert's extra work to ~8 entries.
  static constexpr size_t kMoveStep = 16;

  static Table Allocate(size_t count);
  static void Free(Table* t);
  static void Place(Table* t, uint64_t hash, void* item);  // into a table without tombstones
  template <class Same>
  static void* FindIn(const Table& t, uint64_t hash, Same same);
  void StartGrowing();
  void MoveSome(size_t buckets);
  void PublishForPrefetch() {
    base_.store(table_.buckets, std::memory_order_relaxed);
    mask_.store(table_.mask, std::memory_order_relaxed);
  }

  Table table_;   // where inserts go
  Table old_;     // while growing: the table being emptied into table_, else empty
  size_t moved_ = 0;  // old_'s buckets [0, moved_) are moved
  size_t size_ = 0;   // items in both tables
  std::atomic<const Bucket*> base_{nullptr};
  std::atomic<size_t> mask_{0};
};

template <class Same>
void* GrowingIndex::FindIn(const Table& t, uint64_t hash, Same same) {
  if (t.buckets == nullptr) return nullptr;
  for (size_t i = hash & t.mask;; i = (i + 1) & t.mask) {
    const Bucket& b = t.buckets[i];
    if (b.item == nullptr) return nullptr;
    if (b.item != kMoved && b.hash == hash && same(b.item)) return b.item;
  }
}

template <class Same>
void* GrowingIndex::Find(uint64_t hash, Same same) const {
  if (void* item = FindIn(table_, hash, same); item != nullptr) return item;
  return old_.buckets == nullptr ? nullptr : FindIn(old_, hash, same);
}

template <class F>
void GrowingIndex::ForEach(F f) const {
  for (const Table* t : {&table_, &old_}) {
    for (size_t i = 0; i < t->count(); ++i) {
      void* item = t->buckets[i].item;
      if (item != nullptr && item != kMoved) f(item);
    }
  }
}

}  // namespace ec::cdc
