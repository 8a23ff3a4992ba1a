#include "cdc/growing_index.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include <sys/mman.h>

namespace ec::cdc {
namespace {

char moved_tag;
constexpr size_t kFirstBuckets = 1024;
constexpr size_t kMapped = size_t{2} << 20;  // tables from this size on are mmap'd

}  // namespace

void* const GrowingIndex::kMoved = &moved_tag;

GrowingIndex::~GrowingIndex() {
  Free(&table_);
  Free(&old_);
}

// From 2 MiB on, a table is its own anonymous mapping, whose pages are zero until first touched:
// a new table needs no clearing pass, and its page faults are spread over the inserts and moves
// that touch it, like the rest of a doubling. In 4 KiB pages, not transparent huge pages: on
// this project's VM the first touch of fresh memory costs ~1-4 ms per 2 MiB (the hypervisor
// backs it then), so a huge-page fault was a pause of that size in one insert
// (bench_state_cache: longest insert 5.1-5.3 ms with MADV_HUGEPAGE, 0.7-1.8 ms without; a
// lookup in a 32 MiB index 387-472 ns against 409-516, within noise).
GrowingIndex::Table GrowingIndex::Allocate(size_t count) {
  Table t;
  t.mask = count - 1;
  const size_t bytes = count * sizeof(Bucket);
  if (bytes < kMapped) {
    t.buckets = static_cast<Bucket*>(std::calloc(count, sizeof(Bucket)));
    if (t.buckets == nullptr) throw std::bad_alloc();
    return t;
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  (void)madvise(p, bytes, MADV_NOHUGEPAGE);  // also where the system's THP mode is "always"
  t.buckets = static_cast<Bucket*>(p);
  return t;
}

void GrowingIndex::Free(Table* t) {
  if (t->buckets == nullptr) return;
  const size_t bytes = t->count() * sizeof(Bucket);
  if (bytes < kMapped) std::free(t->buckets);
  else munmap(t->buckets, bytes);
  *t = Table{};
}

void GrowingIndex::Place(Table* t, uint64_t hash, void* item) {
  size_t i = hash & t->mask;
  while (t->buckets[i].item != nullptr) i = (i + 1) & t->mask;
  t->buckets[i] = Bucket{hash, item};
}

void GrowingIndex::Insert(uint64_t hash, void* item) {
  if (2 * (size_ + 1) > table_.count()) StartGrowing();
  Place(&table_, hash, item);
  ++size_;
  if (old_.buckets != nullptr) MoveSome(kMoveStep);
}

void GrowingIndex::StartGrowing() {
  // (Not reached while growing, by kMoveStep's argument; if it were, the doubling in progress
  // is finished first, so there are never more than two tables.)
  if (old_.buckets != nullptr) MoveSome(old_.count());
  old_ = table_;
  moved_ = 0;
  table_ = Allocate(old_.buckets == nullptr ? kFirstBuckets : 2 * old_.count());
  PublishForPrefetch();
}

void GrowingIndex::MoveSome(size_t buckets) {
  const size_t end = moved_ + buckets < old_.count() ? moved_ + buckets : old_.count();
  for (; moved_ < end; ++moved_) {
    Bucket& b = old_.buckets[moved_];
    if (b.item == nullptr || b.item == kMoved) continue;
    Place(&table_, b.hash, b.item);
    // A tombstone, not an empty bucket: entries further along the run, not moved yet, must
    // stay reachable by lookups that start before this bucket.
    b.item = kMoved;
  }
  if (moved_ == old_.count()) Free(&old_);
}

void GrowingIndex::Erase(uint64_t hash, const void* item) {
  // In the old table (not moved yet): a tombstone, for the same reason as a move.
  if (old_.buckets != nullptr) {
    for (size_t i = hash & old_.mask; old_.buckets[i].item != nullptr; i = (i + 1) & old_.mask) {
      if (old_.buckets[i].item == item) {
        old_.buckets[i].item = kMoved;
        --size_;
        return;
      }
    }
  }
  // In the current table: the bucket, then the run after it shifted back over the hole (each
  // entry that may move, i.e. whose home bucket is not between the hole and it): no tombstones.
  const size_t mask = table_.mask;
  size_t i = hash & mask;
  while (table_.buckets[i].item != item) i = (i + 1) & mask;
  for (size_t j = (i + 1) & mask; table_.buckets[j].item != nullptr; j = (j + 1) & mask) {
    const size_t home = table_.buckets[j].hash & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      table_.buckets[i] = table_.buckets[j];
      i = j;
    }
  }
  table_.buckets[i] = Bucket{0, nullptr};
  --size_;
}

}  // namespace ec::cdc
