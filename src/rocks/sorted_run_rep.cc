// A memtable of sorted runs (sorted_run_rep.h).
#include "rocks/sorted_run_rep.h"

#include <rocksdb/memtablerep.h>
#include <rocksdb/slice.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ec::rocks {
namespace {

using rocksdb::KeyHandle;
using rocksdb::MemTableRep;
using rocksdb::Slice;

// Entries (RocksDB's length-prefixed internal keys, allocated in the memtable's arena) in key
// order. Closed runs never change; the open run is only appended to, by the one writer, which
// publishes its size with release order after storing the entry.
struct Run {
  explicit Run(size_t cap) : keys(new const char*[cap]), capacity(cap) {}
  std::unique_ptr<const char*[]> keys;
  const size_t capacity;
  std::atomic<size_t> size{0};
};
using RunPtr = std::shared_ptr<Run>;

struct Span {
  const char* const* keys;
  size_t size;
};

// What a reader sees: the runs at one moment, kept alive while it reads them.
struct Snapshot {
  std::vector<RunPtr> hold;
  std::vector<Span> runs;  // non-empty runs only
};

// The memtable's order. RocksDB's comparator is two virtual calls, a memcmp and a perf counter
// through a thread-local per comparison (~119 instructions, 3.6 comparisons per id in the
// dedupe index's rounds). When the DB's keys are bytewise (RocksDB's default comparator, which
// the dedupe index uses) the same order is compared here directly: the user keys bytewise,
// then the sequence number (the 8-byte trailer's upper 56 bits) descending, as the memtable's
// comparator (InternalKeyComparator::CompareKeySeq) does. Checked against RocksDB's
// comparator on sample keys when the memtable is made; any disagreement keeps RocksDB's.
class Order {
 public:
  Order(const MemTableRep::KeyComparator& cmp, bool bytewise) : cmp_(cmp), bytewise_(bytewise && AgreesWith(cmp)) {}
  int operator()(const char* a, const char* b) const {
    if (!bytewise_) return cmp_(a, b);
    const char* ka;
    const char* kb;
    const uint32_t la = Length(a, &ka), lb = Length(b, &kb);
    return Compare(ka, la, kb, lb);
  }
  int operator()(const char* a, const Slice& internal_key) const {
    if (!bytewise_) return cmp_(a, internal_key);
    const char* ka;
    const uint32_t la = Length(a, &ka);
    return Compare(ka, la, internal_key.data(), internal_key.size());
  }
  bool bytewise() const { return bytewise_; }

 private:
  // A varint32 (RocksDB's length prefix); internal keys under 128 bytes take one byte.
  static uint32_t Length(const char* p, const char** data) {
    uint32_t v = 0;
    for (int shift = 0; shift <= 28; shift += 7) {
      const uint32_t b = static_cast<unsigned char>(*p++);
      v |= (b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    *data = p;
    return v;
  }
  static int Compare(const char* a, size_t la, const char* b, size_t lb) {
    const size_t ua = la - 8, ub = lb - 8;  // internal keys end in the 8-byte trailer
    int r = std::memcmp(a, b, std::min(ua, ub));
    if (r == 0 && ua != ub) r = ua < ub ? -1 : 1;
    if (r != 0) return r;
    uint64_t ta, tb;  // fixed64, little-endian: the sequence number above the type byte
    std::memcpy(&ta, a + ua, 8);
    std::memcpy(&tb, b + ub, 8);
    ta >>= 8;
    tb >>= 8;
    return ta > tb ? -1 : ta < tb ? 1 : 0;
  }
  static std::string Encode(std::string_view user_key, uint64_t trailer) {
    std::string out(1, static_cast<char>(user_key.size() + 8));
    out += user_key;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(trailer >> (8 * i)));
    return out;
  }
  static bool AgreesWith(const MemTableRep::KeyComparator& cmp) {
    const std::string keys[] = {Encode("", 7 << 8 | 1),      Encode("", 5 << 8 | 1),   Encode("\x01", 9 << 8 | 1),
                                Encode("\x01\x00", 3 << 8 | 1), Encode("a", 6 << 8 | 1),  Encode("a", 6 << 8 | 0),
                                Encode("ab", 2 << 8 | 1),    Encode("b", 8 << 8 | 1),  Encode("\x7f", 1 << 8 | 1),
                                Encode("\x80", 1 << 8 | 1),  Encode("\xff", 4 << 8 | 1)};  // ascending
    auto sign = [](int v) { return (v > 0) - (v < 0); };
    for (const std::string& x : keys) {
      for (const std::string& y : keys) {
        const char* dx;
        const char* dy;
        const uint32_t lx = Length(x.data(), &dx), ly = Length(y.data(), &dy);
        if (sign(cmp(x.data(), y.data())) != sign(Compare(dx, lx, dy, ly))) return false;
      }
    }
    return true;
  }
  const MemTableRep::KeyComparator& cmp_;
  const bool bytewise_;
};

class SortedRunRep;

// The iterator a point lookup's MemTableRep::Get made, to delete when it returns (Get below).
struct PendingLookup {
  const SortedRunRep* rep = nullptr;
  MemTableRep::Iterator* made = nullptr;
};
thread_local PendingLookup tl_lookup;

// Iterators alive in the process (SortedRunMemTableLiveIterators: tests check lookups leave none).
std::atomic<int64_t> live_iterators{0};

class SortedRunRep final : public MemTableRep {
 public:
  using KeyComparator = MemTableRep::KeyComparator;

  SortedRunRep(const KeyComparator& cmp, bool bytewise, rocksdb::Allocator* allocator)
      : MemTableRep(allocator), cmp_(cmp, bytewise) {
    open_ = std::make_shared<Run>(kFirstCapacity);
    bytes_.store(kFirstCapacity * sizeof(const char*), std::memory_order_relaxed);
  }
  ~SortedRunRep() override {
    for (void* p : iterator_storage_) ::operator delete(p);
  }

  // The writer's (RocksDB serialises a memtable's inserts without concurrent inserts).
  void Insert(KeyHandle handle) override {
    const char* key = static_cast<const char*>(handle);
    size_t n = open_->size.load(std::memory_order_relaxed);
    if (n > 0 && cmp_(key, open_->keys[n - 1]) <= 0) {
      CloseOpenRun();
      n = 0;
    } else if (n == open_->capacity) {
      GrowOpenRun();
    }
    open_->keys[n] = key;
    open_->size.store(n + 1, std::memory_order_release);
  }

  bool Contains(const char* key) const override {
    Snapshot s = Take();
    for (const Span& r : s.runs) {
      const char* const* it = LowerBound(r, key);
      if (it != r.keys + r.size && cmp_(*it, key) == 0) return true;
    }
    return false;
  }

  // After this no more inserts: the flush's iterator merges the runs into one, once.
  void MarkReadOnly() override {
    std::lock_guard lock(mu_);
    read_only_ = true;
  }

  size_t ApproximateMemoryUsage() override { return bytes_.load(std::memory_order_relaxed); }
  bool compares_itself() const { return cmp_.bytewise(); }

  Iterator* GetIterator(rocksdb::Arena* arena) override {
    bool merge_now = false;
    {
      std::lock_guard lock(mu_);
      merge_now = read_only_ && !merged_;
      merged_ = merged_ || read_only_;
    }
    if (merge_now) MergeAll();
    return Make(arena);
  }
  Iterator* GetDynamicPrefixIterator(rocksdb::Arena* arena) override {
    Iterator* it = Make(arena);
    if (arena == nullptr && tl_lookup.rep == this && tl_lookup.made == nullptr) tl_lookup.made = it;
    return it;
  }

  // A point lookup (MemTable::Get, and MultiGet per key). RocksDB 7.8.3's MemTableRep::Get
  // default makes an iterator with GetDynamicPrefixIterator(), seeks it to the lookup key and
  // never deletes it, which leaked one iterator (and the runs it holds) per lookup. The lookup
  // key's accessors are inline in db/dbformat.h, a header Debian does not install, so this
  // memtable cannot seek by itself without reading rocksdb::LookupKey's private layout. Instead
  // it runs the default and takes back the iterator the default made: while this Get runs on
  // this thread, GetDynamicPrefixIterator(nullptr) records what it returned (tl_lookup), and
  // the iterator is deleted when the default returns. If a RocksDB version deletes it itself,
  // the iterator's destructor clears the record first, so it is never deleted twice.
  void Get(const rocksdb::LookupKey& k, void* callback_args, bool (*callback)(void*, const char*)) override {
    struct TakeBack {
      PendingLookup outer;
      ~TakeBack() {
        delete tl_lookup.made;  // Iter's destructor reads tl_lookup, so clear it only after
        tl_lookup = outer;
      }
    } take_back{tl_lookup};
    tl_lookup = {this, nullptr};
    MemTableRep::Get(k, callback_args, callback);
  }

 private:
  static constexpr size_t kFirstCapacity = 1024;

  class Iter;

  Iterator* Make(rocksdb::Arena* arena);

  Snapshot Take() const {
    Snapshot s;
    std::lock_guard lock(mu_);
    s.hold = closed_;
    s.hold.push_back(open_);
    for (const RunPtr& r : s.hold) {
      const size_t n = r->size.load(std::memory_order_acquire);
      if (n > 0) s.runs.push_back({r->keys.get(), n});
    }
    return s;
  }

  const char* const* LowerBound(const Span& r, const char* key) const {
    return std::lower_bound(r.keys, r.keys + r.size, key,
                            [this](const char* e, const char* k) { return cmp_(e, k) < 0; });
  }

  // A new run of a and b's entries in order. When one run's entries all come before the
  // other's (a sorted round into a memtable that holds none of its range: the usual case for
  // the position keys) it is two copies without comparisons.
  RunPtr Merge(const Run& a, const Run& b) const {
    const size_t na = a.size.load(std::memory_order_relaxed);
    const size_t nb = b.size.load(std::memory_order_relaxed);
    RunPtr out = std::make_shared<Run>(na + nb);
    const char** o = out->keys.get();
    if (na == 0 || nb == 0 || cmp_(a.keys[na - 1], b.keys[0]) < 0) {
      std::copy(a.keys.get(), a.keys.get() + na, o);
      std::copy(b.keys.get(), b.keys.get() + nb, o + na);
    } else if (cmp_(b.keys[nb - 1], a.keys[0]) < 0) {
      std::copy(b.keys.get(), b.keys.get() + nb, o);
      std::copy(a.keys.get(), a.keys.get() + na, o + nb);
    } else {
      std::merge(a.keys.get(), a.keys.get() + na, b.keys.get(), b.keys.get() + nb, o,
                 [this](const char* x, const char* y) { return cmp_(x, y) < 0; });
    }
    out->size.store(na + nb, std::memory_order_relaxed);
    return out;
  }

  static size_t Bytes(const RunPtr& r) { return r->capacity * sizeof(const char*); }

  // The writer's: the open run ends (the next key is not greater than its last). It joins the
  // closed runs, and the last two are merged while the last is at least half the size of the
  // one before it, so sizes fall by at least half from run to run: at most log2(n) runs for a
  // lookup to search, and each entry is merged O(log n) times. The merging reads only closed
  // runs, outside the lock; readers see the old runs until the new list is published.
  void CloseOpenRun() {
    std::vector<RunPtr> runs = closed_;  // only the writer changes closed_
    runs.push_back(open_);
    size_t bytes = bytes_.load(std::memory_order_relaxed);
    while (runs.size() >= 2 && 2 * runs.back()->size.load(std::memory_order_relaxed) >=
                                   runs[runs.size() - 2]->size.load(std::memory_order_relaxed)) {
      RunPtr merged = Merge(*runs[runs.size() - 2], *runs.back());
      bytes = bytes - Bytes(runs.back()) - Bytes(runs[runs.size() - 2]) + Bytes(merged);
      runs.pop_back();
      runs.back() = std::move(merged);
    }
    RunPtr fresh = std::make_shared<Run>(kFirstCapacity);
    bytes += Bytes(fresh);
    std::lock_guard lock(mu_);
    closed_ = std::move(runs);
    open_ = std::move(fresh);
    bytes_.store(bytes, std::memory_order_relaxed);
  }

  // The writer's: the open run is full; a copy twice its size replaces it.
  void GrowOpenRun() {
    const size_t n = open_->size.load(std::memory_order_relaxed);
    RunPtr bigger = std::make_shared<Run>(2 * open_->capacity);
    std::copy(open_->keys.get(), open_->keys.get() + n, bigger->keys.get());
    bigger->size.store(n, std::memory_order_relaxed);
    const size_t bytes = bytes_.load(std::memory_order_relaxed) - Bytes(open_) + Bytes(bigger);
    std::lock_guard lock(mu_);
    open_ = std::move(bigger);
    bytes_.store(bytes, std::memory_order_relaxed);
  }

  // Read-only memtable (no writer any more): every run merged into one for the flush.
  void MergeAll() {
    std::vector<RunPtr> runs;
    {
      std::lock_guard lock(mu_);
      runs = closed_;
      runs.push_back(open_);
    }
    size_t bytes = 0;
    for (const RunPtr& r : runs) bytes += Bytes(r);
    while (runs.size() >= 2) {
      RunPtr merged = Merge(*runs[runs.size() - 2], *runs.back());
      bytes = bytes - Bytes(runs.back()) - Bytes(runs[runs.size() - 2]) + Bytes(merged);
      runs.pop_back();
      runs.back() = std::move(merged);
    }
    std::lock_guard lock(mu_);
    closed_.clear();
    open_ = std::move(runs.back());
    bytes_.store(bytes, std::memory_order_relaxed);
  }

  const Order cmp_;
  mutable std::mutex mu_;      // closed_ and open_ (the pointers) for readers; the writer's swaps
  std::vector<RunPtr> closed_;  // sizes halve (at least) from each run to the next
  RunPtr open_;
  std::atomic<size_t> bytes_{0};  // the capacities of closed_ and open_
  bool read_only_ = false;        // under mu_
  bool merged_ = false;           // under mu_
  std::vector<void*> iterator_storage_;  // under mu_: iterators made in a caller's arena
};

// Iterates a snapshot. Forward iteration (a lookup's Seek and Next, a flush's scan) merges the
// runs on the fly; Prev and the seeks backwards first merge the snapshot into one array.
class SortedRunRep::Iter final : public MemTableRep::Iterator {
 public:
  Iter(const Order& cmp, Snapshot snapshot) : cmp_(cmp), snap_(std::move(snapshot)) {
    live_iterators.fetch_add(1, std::memory_order_relaxed);
    if (snap_.runs.size() == 1) flat_ = snap_.runs.front();
    cursor_.assign(snap_.runs.size(), 0);
  }
  // A lookup's iterator deleted by RocksDB itself is no longer Get's to delete.
  ~Iter() override {
    if (tl_lookup.made == this) tl_lookup.made = nullptr;
    live_iterators.fetch_sub(1, std::memory_order_relaxed);
  }

  bool Valid() const override { return flat() ? pos_ < flat_.size : current_ >= 0; }
  const char* key() const override { return flat() ? flat_.keys[pos_] : RunKeys(current_)[cursor_[current_]]; }
  void Next() override {
    if (flat()) {
      ++pos_;
      return;
    }
    ++cursor_[current_];
    PickSmallest();
  }
  void Prev() override {
    Flatten();
    pos_ = pos_ == 0 || pos_ >= flat_.size ? flat_.size : pos_ - 1;  // invalid stays invalid
  }
  void Seek(const Slice& internal_key, const char*) override {
    auto before = [this](const char* e, const Slice& k) { return cmp_(e, k) < 0; };
    if (flat()) {
      pos_ = static_cast<size_t>(std::lower_bound(flat_.keys, flat_.keys + flat_.size, internal_key, before) -
                                 flat_.keys);
      return;
    }
    for (size_t r = 0; r < snap_.runs.size(); ++r) {
      const Span& s = snap_.runs[r];
      cursor_[r] = static_cast<size_t>(std::lower_bound(s.keys, s.keys + s.size, internal_key, before) - s.keys);
    }
    PickSmallest();
  }
  void SeekForPrev(const Slice& internal_key, const char*) override {
    Flatten();
    auto after = [this](const Slice& k, const char* e) { return cmp_(e, k) > 0; };
    const size_t up =
        static_cast<size_t>(std::upper_bound(flat_.keys, flat_.keys + flat_.size, internal_key, after) - flat_.keys);
    pos_ = up == 0 ? flat_.size : up - 1;
  }
  void SeekToFirst() override {
    if (flat()) {
      pos_ = 0;
      return;
    }
    std::fill(cursor_.begin(), cursor_.end(), 0);
    PickSmallest();
  }
  void SeekToLast() override {
    Flatten();
    pos_ = flat_.size == 0 ? 0 : flat_.size - 1;
  }

 private:
  bool flat() const { return flat_.keys != nullptr || snap_.runs.empty(); }
  const char* const* RunKeys(int r) const { return snap_.runs[static_cast<size_t>(r)].keys; }

  void PickSmallest() {
    current_ = -1;
    for (size_t r = 0; r < snap_.runs.size(); ++r) {
      if (cursor_[r] >= snap_.runs[r].size) continue;
      if (current_ < 0 || cmp_(snap_.runs[r].keys[cursor_[r]], RunKeys(current_)[cursor_[current_]]) < 0) {
        current_ = static_cast<int>(r);
      }
    }
  }

  // Merges the snapshot into one array, keeping the position (the entry it is at, or invalid).
  void Flatten() {
    if (flat()) return;
    const char* at = current_ >= 0 ? RunKeys(current_)[cursor_[current_]] : nullptr;
    for (const Span& s : snap_.runs) {
      const size_t mid = merged_.size();
      merged_.insert(merged_.end(), s.keys, s.keys + s.size);
      std::inplace_merge(merged_.begin(), merged_.begin() + static_cast<std::ptrdiff_t>(mid), merged_.end(),
                         [this](const char* x, const char* y) { return cmp_(x, y) < 0; });
    }
    flat_ = {merged_.data(), merged_.size()};
    pos_ = flat_.size;
    if (at != nullptr) {
      pos_ = static_cast<size_t>(std::lower_bound(flat_.keys, flat_.keys + flat_.size, at,
                                                  [this](const char* e, const char* k) { return cmp_(e, k) < 0; }) -
                                 flat_.keys);
    }
  }

  const Order cmp_;
  Snapshot snap_;
  // One sorted array (a snapshot of one run, or merged_): pos_ == size is invalid.
  Span flat_{nullptr, 0};
  size_t pos_ = 0;
  std::vector<const char*> merged_;
  // Several runs: each run's position; current_ = the run whose entry is the smallest, -1 none.
  std::vector<size_t> cursor_;
  int current_ = -1;
};

MemTableRep::Iterator* SortedRunRep::Make(rocksdb::Arena* arena) {
  Snapshot s = Take();
  if (arena == nullptr) return new Iter(cmp_, std::move(s));
  // RocksDB destroys an iterator made in its arena without freeing it (the arena's memory goes
  // with the arena). Its Arena class is not public, so the storage is this memtable's, freed
  // with it: the memtable outlives its iterators (they hold a reference to it).
  void* mem = ::operator new(sizeof(Iter));
  {
    std::lock_guard lock(mu_);
    iterator_storage_.push_back(mem);
  }
  return new (mem) Iter(cmp_, std::move(s));
}

class SortedRunFactory final : public rocksdb::MemTableRepFactory {
 public:
  explicit SortedRunFactory(bool bytewise) : bytewise_(bytewise) {}
  using rocksdb::MemTableRepFactory::CreateMemTableRep;
  MemTableRep* CreateMemTableRep(const MemTableRep::KeyComparator& cmp, rocksdb::Allocator* allocator,
                                 const rocksdb::SliceTransform*, rocksdb::Logger*) override {
    return new SortedRunRep(cmp, bytewise_, allocator);
  }
  const char* Name() const override { return "ec.SortedRunMemTable"; }
  bool IsInsertConcurrentlySupported() const override { return false; }
  bool CanHandleDuplicatedKey() const override { return false; }

 private:
  const bool bytewise_;
};

}  // namespace

std::shared_ptr<rocksdb::MemTableRepFactory> NewSortedRunMemTableFactory(bool bytewise_keys) {
  return std::make_shared<SortedRunFactory>(bytewise_keys);
}

bool SortedRunMemTableComparesItself(rocksdb::MemTableRep* rep) {
  auto* r = dynamic_cast<SortedRunRep*>(rep);
  return r != nullptr && r->compares_itself();
}

int64_t SortedRunMemTableLiveIterators() { return live_iterators.load(std::memory_order_relaxed); }

}  // namespace ec::rocks
