// The ingest dedupe index (RocksDB headers stay in this file).
#include "server/dedupe_index.h"

#include <pthread.h>

#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/rate_limiter.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <filesystem>

#include "log/committed_reader.h"
#include "server/metrics.h"
#include "log/log_manager.h"
#include "rocks/random_key_compaction.h"
#include "rocks/rate_limiter.h"
#include "rocks/sorted_run_rep.h"

namespace ec::server {
namespace {

// Keys (format version 3, dedupe_key.h): DedupeKey (17 bytes) -> ingest time, 8 bytes BE;
// 'p' topic '\0' partition -> next raw offset to index; 'v' -> the format version.
constexpr std::string_view kVersionKey = "v";
// 3: ingest's own ids ('x' + 32 hex digits) are stored losslessly under the 's' tag; version 2
// had them hashed under 'h', so a version-2 index is rebuilt from the raw topics.
constexpr std::string_view kVersion = "3";

void StoreBe64(int64_t v, char* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * (7 - i))) & 0xff);
}
std::string Be64(int64_t v) {
  std::string out(8, '\0');
  StoreBe64(v, out.data());
  return out;
}
int64_t LoadBe64(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return static_cast<int64_t>(v);
}
std::string PositionKey(const std::string& topic, int32_t partition) {
  return "p" + topic + '\0' + std::to_string(partition);
}
rocksdb::Slice AsSlice(std::string_view s) { return {s.data(), s.size()}; }

uint64_t LoadBeWord(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

// Sorts `*items` by `less`, where `first(item)` (the key's first eight bytes, big-endian)
// orders any two items with different first words as `less` does. The result is in *items or
// in *spare: the returned pointer says which.
//
// Ids are random above their tag byte (hashes, hex and UUID ids), and std::sort mispredicted
// about every other of its compares (~10,000 per 1000 ids: std::sort was 2.1% of ec-http at
// full rate in perf, and 5.7% of ec-dedupe). So one counting-sort pass first puts them in about
// two buckets per item, by the bits of the first word from the highest bit where any two
// differ (the bits above it are the same in all, so the bucket order is the key order), and
// only items that share a bucket (a few) are compared: 1000 such ids 43.5 -> 5.7 us (a loop,
// best of 20).
template <typename T, typename First, typename Less>
const T* SortByFirstWord(std::vector<T>* items, std::vector<T>* spare, First first, Less less) {
  const size_t n = items->size();
  uint64_t differ = 0;
  for (const T& it : *items) differ |= first(it) ^ first(items->front());
  if (n < 64 || differ == 0) {  // few, or the first words all equal
    std::sort(items->begin(), items->end(), less);
    return items->data();
  }
  int bits = 1;
  while ((size_t{1} << bits) < 2 * n && bits < 16) ++bits;
  const size_t buckets = size_t{1} << bits;
  const int shift = std::max(0, (63 - __builtin_clzll(differ)) - (bits - 1));
  auto bucket = [&](const T& it) { return static_cast<size_t>((first(it) >> shift) & (buckets - 1)); };
  thread_local std::vector<uint32_t> start;
  start.assign(buckets + 1, 0);
  for (const T& it : *items) ++start[bucket(it) + 1];
  for (size_t b = 1; b <= buckets; ++b) start[b] += start[b - 1];
  spare->resize(n);
  for (const T& it : *items) (*spare)[start[bucket(it)]++] = it;  // start[b]: bucket b's end
  size_t from = 0;
  for (size_t b = 0; b < buckets; ++b) {
    const size_t to = start[b];
    if (to - from > 1) {
      std::sort(spare->begin() + static_cast<std::ptrdiff_t>(from), spare->begin() + static_cast<std::ptrdiff_t>(to),
                less);
    }
    from = to;
  }
  return spare->data();
}

// Orders `idx` (indices into `keys`) by their keys' bytes, as RocksDB's bytewise comparator
// does (17 bytes: two big-endian words and the last byte compare as the bytes do).
void SortFresh(const std::vector<DedupeKey>& keys, std::vector<size_t>* idx) {
  struct Item {
    uint64_t hi, lo;
    uint32_t last;
    uint32_t index;
  };
  static_assert(DedupeKey::kSize == 17);
  thread_local std::vector<Item> items, spare;
  items.clear();
  items.reserve(idx->size());
  for (size_t i : *idx) {
    const char* b = keys[i].bytes.data();
    items.push_back({LoadBeWord(b), LoadBeWord(b + 8), static_cast<unsigned char>(b[16]), static_cast<uint32_t>(i)});
  }
  const Item* sorted = SortByFirstWord(
      &items, &spare, [](const Item& it) { return it.hi; },
      [](const Item& a, const Item& b) {
        if (a.hi != b.hi) return a.hi < b.hi;
        if (a.lo != b.lo) return a.lo < b.lo;
        return a.last < b.last;
      });
  for (size_t j = 0; j < items.size(); ++j) (*idx)[j] = sorted[j].index;
}

// Drops id entries older than the window as of the indexer's last round. The lookup checks the
// time too, so an entry the filter has not reached yet is never taken for a duplicate; the
// filter only bounds the index's size. Called from RocksDB's compaction threads.
class ExpiryFilter : public rocksdb::CompactionFilter {
 public:
  explicit ExpiryFilter(const std::atomic<int64_t>* expire_before) : expire_before_(expire_before) {}
  bool Filter(int, const rocksdb::Slice& key, const rocksdb::Slice& value, std::string*, bool*) const override {
    return IsDedupeKey(std::string_view(key.data(), key.size())) && value.size() == 8 &&
           LoadBe64(std::string_view(value.data(), value.size())) < expire_before_->load(std::memory_order_relaxed);
  }
  const char* Name() const override { return "ec.DedupeExpiry"; }

 private:
  const std::atomic<int64_t>* expire_before_;
};

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

uint64_t Mix64(uint64_t x) {  // MurmurHash3's finaliser: every input bit moves every output bit
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb3fe1a85ec53ull;
  return x ^ (x >> 33);
}

// A blocked bloom filter: all of a key's kProbes bits lie in one 64-byte block, so a lookup is
// one cache line (~1.5-2% false "maybe" at 10 bits per id). Its memory comes from calloc, so
// an unused generation costs no resident pages (Prefault below). One writer (the indexer) sets
// bits with plain relaxed loads and stores through atomic_ref; readers (Claims, under
// DedupeIndex::mu_) load them relaxed. A bit once set stays set until the filter is dropped.
class Bloom {
 public:
  static constexpr int kProbes = 6;  // 6 x 9 bits of the second hash
  explicit Bloom(uint64_t bytes) : blocks_(std::max<uint64_t>(1, bytes / 64)) {
    raw_ = static_cast<char*>(std::calloc(blocks_ * 64 + 64, 1));
    if (raw_ == nullptr) throw std::bad_alloc();
    words_ = reinterpret_cast<uint64_t*>((reinterpret_cast<uintptr_t>(raw_) + 63) & ~uintptr_t{63});
  }
  ~Bloom() { std::free(raw_); }
  Bloom(const Bloom&) = delete;
  Bloom& operator=(const Bloom&) = delete;

  void Add(uint64_t h) {
    uint64_t* block = Block(h);
    uint64_t g = Mix64(h + 0x9e3779b97f4a7c15ull);
    for (int i = 0; i < kProbes; ++i, g >>= 9) {
      std::atomic_ref<uint64_t> w(block[(g >> 6) & 7]);
      w.store(w.load(std::memory_order_relaxed) | (uint64_t{1} << (g & 63)), std::memory_order_relaxed);
    }
  }
  bool MayContain(uint64_t h) const {
    uint64_t* block = Block(h);
    uint64_t g = Mix64(h + 0x9e3779b97f4a7c15ull);
    for (int i = 0; i < kProbes; ++i, g >>= 9) {
      const uint64_t w = std::atomic_ref<uint64_t>(block[(g >> 6) & 7]).load(std::memory_order_relaxed);
      if ((w & (uint64_t{1} << (g & 63))) == 0) return false;
    }
    return true;
  }
  [[gnu::always_inline]] void Prefetch(uint64_t h) const { __builtin_prefetch(Block(h)); }
  // Writes a zero into every page, so the pages are the writer's before any reader maps them.
  // Else a Claim's probe of a page no bit had been set in yet mapped the shared zero page, and
  // the indexer's first bit there then copied it and flushed that mapping from the other
  // cores' TLBs, a fault per 4 KiB of a new generation: ec-dedupe's CPU in serve's full-rate
  // phase (50,000 lines, 6 interleaved runs) was 0.030 s against 0.0205 without the filter;
  // 0.0215 with this. Called before the first Add to a generation, while no Claim reads it.
  void Prefault() {
    for (uint64_t w = 0; w < blocks_ * 8; w += 4096 / sizeof(uint64_t)) {
      std::atomic_ref<uint64_t>(words_[w]).store(0, std::memory_order_relaxed);
    }
  }

 private:
  uint64_t* Block(uint64_t h) const {
    return words_ + 8 * static_cast<uint64_t>((static_cast<unsigned __int128>(h) * blocks_) >> 64);
  }
  uint64_t blocks_;
  char* raw_;
  uint64_t* words_;
};

}  // namespace

// The "certainly new" filter ahead of Claim's RocksDB lookup (DedupeOptions::filter_bytes;
// docs/exactly-once.md, "Idempotent ingest"). Nearly every id ingest sees is new, and RocksDB's
// MultiGet cost ~10% of ec-http to say so (superversion, memtable and file blooms, per-key
// contexts). These blooms answer "never indexed" without it; a "maybe" (an indexed id, or a
// false positive) still asks RocksDB, which stays the only judge of a duplicate.
//
// What must hold: every key RocksDB may hold with an ingest time >= covers_from() is in the
// filter, and a Claim uses the filter only when its window starts at or after covers_from()
// (its other keys are expired for it anyway). Keys reach RocksDB only through WriteRound, which
// adds them here first, and, for what was there at start, through Open's scan (LoadFilter),
// run before the catch-up and before any Claim. So a crash needs no filter on disk.
//
// Expiry in generations: ids go into the generation of their time (floor(time / span), span =
// half a window). Three generations cover [covers_from, covers_from + 3 spans), which holds
// any time up to the indexer's now; a key stamped later than that (a producer's clock, a Kafka
// record's own timestamp) goes into the "future" bloom, which is never dropped (an
// over-approximation: it costs only a MultiGet). When the indexer's now - window passes a
// generation's end, every key of it is expired for any Claim whose window starts at or after
// the new covers_from(), so the generation is dropped and reused; a Claim with an earlier
// window start (a clock that stepped back) asks RocksDB as before.
class DedupeIndex::Filter {
 public:
  Filter(uint64_t bytes, int64_t window_ms, int64_t now_ms)
      : span_(std::max<int64_t>(1, (window_ms + 1) / 2)),
        window_(window_ms),
        gen_bytes_(bytes * 3 / 10),
        future_(bytes / 10) {
    low_ = FloorDiv(now_ms - window_, span_);
    covers_from_ = low_ * span_;
    for (int i = 0; i < kGens; ++i) {
      gens_[i].gen = low_ + i;
      gens_[i].bloom = std::make_unique<Bloom>(gen_bytes_);
    }
  }
  int64_t covers_from() const { return covers_from_; }

  // Under index_mu_ and mu_ (Claims read the generations): drops the generations that ended
  // before now_ms - window and gives their places to the next ones.
  void Advance(int64_t now_ms) {
    const int64_t low = FloorDiv(now_ms - window_, span_);
    if (low <= low_) return;
    low_ = low;
    covers_from_ = low_ * span_;
    for (Gen& g : gens_) {
      if (g.gen >= low_) continue;
      int64_t want = low_;  // the lowest of low_ .. low_ + 2 no generation has
      while (std::any_of(std::begin(gens_), std::end(gens_), [&](const Gen& o) { return o.gen == want; })) ++want;
      g.gen = want;
      g.bloom = std::make_unique<Bloom>(gen_bytes_);  // a fresh calloc: the old pages go back
      g.added.store(0, std::memory_order_relaxed);
    }
  }

  // The indexer's (under index_mu_): the key of an id written to RocksDB with time ts.
  void Add(uint64_t h, int64_t ts) {
    if (ts < covers_from_) return;  // expired for every Claim that uses the filter
    Gen* target = &future_;  // unless a generation's [gen * span, (gen + 1) * span) holds ts
    for (Gen& g : gens_) {
      if (ts >= g.gen * span_ && ts - g.gen * span_ < span_) target = &g;
    }
    if (target->added.load(std::memory_order_relaxed) == 0) target->bloom->Prefault();  // no Claim reads it yet
    target->bloom->Add(h);
    target->added.store(target->added.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // After a round's Adds, before its RocksDB write: a Claim that acquires this (Claim does,
  // before its probes) sees every bit set before it, as a MultiGet that sees the write would
  // see its keys.
  void Publish() { epoch_.fetch_add(1, std::memory_order_release); }
  void Acquire() const { (void)epoch_.load(std::memory_order_acquire); }

  // Under mu_.
  [[gnu::always_inline]] void Prefetch(uint64_t h) const {
    for (const Gen& g : gens_) {
      if (g.added.load(std::memory_order_relaxed) != 0) g.bloom->Prefetch(h);
    }
  }
  bool MayContain(uint64_t h) const {
    for (const Gen& g : gens_) {
      if (g.added.load(std::memory_order_relaxed) != 0 && g.bloom->MayContain(h)) return true;
    }
    return future_.added.load(std::memory_order_relaxed) != 0 && future_.bloom->MayContain(h);
  }

  static uint64_t Hash(const DedupeKey& key) {
    const char* b = key.bytes.data();
    uint64_t a, c;
    std::memcpy(&a, b + 1, 8);
    std::memcpy(&c, b + 9, 8);
    // Both halves and the tag: ids that differ in one half only (counters in hex) stay apart.
    return Mix64(a ^ Mix64(c ^ static_cast<unsigned char>(b[0])));
  }

 private:
  static constexpr int kGens = 3;
  struct Gen {
    Gen() = default;
    explicit Gen(uint64_t bytes) : bloom(std::make_unique<Bloom>(bytes)) {}
    int64_t gen = INT64_MAX;  // floor(time / span) of its ids
    std::unique_ptr<Bloom> bloom;
    std::atomic<uint64_t> added{0};  // ids added (0: Claims skip it)
  };
  const int64_t span_;
  const int64_t window_;
  const uint64_t gen_bytes_;
  int64_t low_;          // the oldest generation kept (under index_mu_ and mu_ to write)
  int64_t covers_from_;  // low_ * span_
  Gen gens_[kGens];
  Gen future_;
  std::atomic<uint64_t> epoch_{0};
};

struct DedupeIndex::Db {
  // Ids older than this (ms) may be dropped; set by each IndexTail, read by compactions.
  std::atomic<int64_t> expire_before{INT64_MIN};
  ExpiryFilter filter{&expire_before};  // outlives db (declared before it)
  // The most ids one Write puts into the memtable (WriteRound): about half of what a write
  // buffer holds.
  size_t max_write_ids = 0;
  std::unique_ptr<rocksdb::DB> db;
};

DedupeIndex::PendingIds::Slot* DedupeIndex::PendingIds::Find(const DedupeKey& key) {
  if (size_ == 0) return nullptr;
  const size_t mask = slots_.size() - 1;
  for (size_t i = Home(key);; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (!s.used) return nullptr;
    if (s.key == key) return &s;
  }
}

std::pair<DedupeIndex::PendingIds::Slot*, bool> DedupeIndex::PendingIds::Insert(const DedupeKey& key, int64_t time,
                                                                                bool claimed) {
  if (2 * (size_ + 1) > slots_.size()) Rehash(std::max<size_t>(64, 2 * slots_.size()));
  const size_t mask = slots_.size() - 1;
  for (size_t i = Home(key);; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (!s.used) {
      s = Slot{key, true, claimed, time};
      if (++size_ > peak_) peak_ = size_;
      return {&s, true};
    }
    if (s.key == key) return {&s, false};
  }
}

void DedupeIndex::PendingIds::Erase(Slot* slot) {
  // Backward shift: the ids after the hole in its probe run move into it when the hole lies
  // between their home slot and where they sit, so every id stays reachable from its home
  // without tombstones.
  const size_t mask = slots_.size() - 1;
  size_t hole = static_cast<size_t>(slot - slots_.data());
  for (size_t j = (hole + 1) & mask; slots_[j].used; j = (j + 1) & mask) {
    const size_t home = Home(slots_[j].key);
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole].used = false;
  --size_;
}

template <typename Drop>
void DedupeIndex::PendingIds::EraseIf(Drop drop) {
  for (size_t i = 0; i < slots_.size();) {
    Slot& s = slots_[i];
    if (s.used && drop(s)) {
      Erase(&s);  // a later id may have moved into slot i: look at it again
      continue;
    }
    ++i;
  }
  // The capacity Insert would have grown to for the round's most ids (at most half full).
  size_t capacity = 64;
  while (capacity < 2 * (std::max(peak_, size_) + 1)) capacity *= 2;
  if (slots_.size() > 4096 && slots_.size() >= 4 * capacity) Rehash(capacity);
  peak_ = size_;
}

void DedupeIndex::PendingIds::Rehash(size_t capacity) {
  std::vector<Slot> old(capacity, Slot{DedupeKey{}, false, false, 0});
  old.swap(slots_);
  size_ = 0;
  for (const Slot& s : old) {
    if (s.used) Insert(s.key, s.time, s.claimed);
  }
}

DedupeIndex::DedupeIndex(DedupeOptions options, log::LogManager* logs)
    : options_(std::move(options)), logs_(logs), db_(std::make_unique<Db>()) {}

DedupeIndex::~DedupeIndex() {
  Stop();
  if (db_->db) (void)Flush();
}

Result<std::unique_ptr<DedupeIndex>> DedupeIndex::Open(DedupeOptions options, log::LogManager* logs) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return IoError("cannot create " + options.dir + ": " + ec.message());
  std::unique_ptr<DedupeIndex> index(new DedupeIndex(std::move(options), logs));
  const std::string& dir = index->options_.dir;
  rocksdb::Options ro;
  ro.create_if_missing = true;
  // The memory budget: two memtables of a quarter each (a flush writes one while the other
  // fills), the other half a block cache that holds the table files' index and filter blocks
  // too, so their memory is bounded as the index grows (else table readers keep them outside
  // any limit).
  const uint64_t budget = std::max<uint64_t>(index->options_.memory_bytes, uint64_t{1} << 20);
  ro.write_buffer_size = budget / 4;
  ro.max_write_buffer_number = 2;
  ro.db_write_buffer_size = budget / 2;
  // Nearly every id ingest asks about is new: bloom filters (memtable and table files) answer
  // those without searching the memtable or reading a data block per file.
  ro.memtable_prefix_bloom_size_ratio = 0.05;
  ro.memtable_whole_key_filtering = true;
  // That bloom has a fixed size, made for write_buffer_size (~21 bits per id in a full
  // memtable), but a memtable takes a whole WriteBatch however large it is: the catch-up after
  // a long downtime (or a rebuild) put 4,000,000 ids into one 209 MB memtable whose bloom then
  // said "maybe" to every id (0.4 bits each), and every Claim searched that memtable until the
  // next write switched it (~70% of Claim, bench_dedupe ClaimNew/4000000). So a round is
  // written in Writes of at most half a write buffer's ids (an entry takes ~52 bytes there),
  // and RocksDB switches to a fresh memtable between them.
  index->db_->max_write_ids = std::max<size_t>(1024, ro.write_buffer_size / 128);
  // Each round's ids go into the memtable in key order (WriteRound). RocksDB's skip list paid
  // ~7,300 instructions per id for them even with an insert hint per key tag (Debian's
  // librocksdb 7.8.3 is built with its assertions on: four key comparisons per level of the
  // list after every insert), most of the ec-dedupe thread's CPU. The sorted-run memtable
  // (rocks/sorted_run_rep.h) appends a key that follows the one before it with one comparison
  // and merges the runs as they close. A memtable-only choice: what is stored, read and
  // recovered is unchanged (the same entries, comparator and order). It takes one writer at a
  // time, which these are (the indexer, under index_mu_): allow_concurrent_memtable_write =
  // false says so. The index's keys are bytewise (RocksDB's default comparator), so the memtable
  // compares them itself rather than through RocksDB's virtual comparator.
  ro.memtable_factory = rocks::NewSortedRunMemTableFactory(/*bytewise_keys=*/true);
  ro.allow_concurrent_memtable_write = false;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  // One shard: RocksDB's default splits a cache into shards of 512 KiB (16 of them here), and a
  // block larger than its shard is dropped when released. A level-1 file's whole filter is
  // ~2 MB (RocksDB's 64 MB files then, ~1.8M ids at 10 bits): with a 4,000,000-id index no filter
  // stayed cached, and every Claim read each level-1 filter back from its file and checksummed
  // it (in perf of serve over 4,000,000 lines: _copy_to_iter, XXH3 and the cache's LRU ~45% of
  // ec-http). Its readers are the Claims (one MultiGet per request) and the indexer: one
  // shard's mutex is not contended.
  table.block_cache = rocksdb::NewLRUCache(budget / 2, /*num_shard_bits=*/0);
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Not partitioned (the state store's index and filters are, rocks_state_store.cc): Claim
  // looks its ids up with one sorted MultiGet, which loads a file's whole filter once for all of
  // them, and partitions cost a second index step per id: bench_dedupe ClaimNew 144-152 us per
  // 1000 ids in a 100,000-id index against 227-239 partitioned (2026-11-28, load ~8; that
  // run's 4,000,000-id figures had the whole index in one memtable, see max_write_ids below).
  ro.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // No compression: 16 of a key's 17 bytes are random, so Snappy only made files ~27% smaller
  // (the times compress), and paid for it in every flush and every compaction, which with
  // random keys rewrites all of level 1 each time (every file overlaps every other); a
  // compaction read decompressed it all again (a compaction's CPU per record -14% without
  // it). The index is derived data: its disk is the thing to spend.
  ro.compression = rocksdb::kNoCompression;
  // Table files of 16 MiB instead of RocksDB's 64: a compaction's filter builder keeps 8 bytes
  // per id of the file it writes until the file ends (~14 MiB for a 64 MB file of ~1.8M ids),
  // resident in the compaction thread's heap at every compaction at scale. Claims lose nothing:
  // the level's files do not overlap, so an id is still checked against one filter per level.
  ro.target_file_size_base = 16 << 20;
  // The ids are random: L0 merges sixteen files at a time (rocks/random_key_compaction.h; this
  // index's compactions were ~19.6 of rocksdb:low's 36 CPU-s at 4,000,000 shop lines with
  // RocksDB's four). A Claim asks the in-memory filter first (nearly every id is new and
  // answered there), then one MultiGet that probes each L0 file's pinned filter.
  rocks::SetRandomKeyLevelZeroTriggers(&ro);
  // Flushes and compactions in 256 KiB steps at a bounded rate (DedupeOptions::
  // write_rate_bytes), not one burst the commit journal's fdatasyncs queue behind: at 200,000
  // lines, 8 pairs, half-rate p99 over 10 ms in 3 runs without (15.8 and 18.8 ms among them,
  // at a dedupe flush and compaction), 1 with (10.6 ms). Our limiter, not RocksDB's generic one
  // (rocks/rate_limiter.h: Debian's can hang a flush for good).
  if (index->options_.write_rate_bytes > 0) {
    ro.rate_limiter = rocks::NewSteppedRateLimiter(static_cast<int64_t>(index->options_.write_rate_bytes),
                                                   /*refill_period_us=*/5000);
    ro.bytes_per_sync = 256 << 10;
  }
  // Expiry: the filter drops old ids whenever RocksDB compacts; files no write makes it compact
  // again are rewritten once they are a window old (at least hourly: not for tiny windows).
  ro.compaction_filter = &index->db_->filter;
  ro.periodic_compaction_seconds = static_cast<uint64_t>(std::max<int64_t>(index->options_.window_ms / 1000, 3600));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(ro, dir, &raw);
  if (!s.ok()) return IoError("cannot open the ingest dedupe index in " + dir + ": " + s.ToString());
  index->db_->db.reset(raw);
  // An index of another format (version 1: 'i' id and 't' time keys; version 2: ingest's ids
  // hashed) is rebuilt from the raw
  // topics: it is derived data, and the catch-up below re-reads the window.
  std::string version;
  s = raw->Get(rocksdb::ReadOptions(), AsSlice(kVersionKey), &version);
  if (!s.ok() || version != kVersion) {
    std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions()));
    it->SeekToFirst();
    const bool empty = !it->Valid();
    it.reset();
    if (!empty) {
      index->db_->db.reset();
      s = rocksdb::DestroyDB(dir, ro);
      if (s.ok()) s = rocksdb::DB::Open(ro, dir, &raw);
      if (!s.ok()) return IoError("cannot rebuild the ingest dedupe index in " + dir + ": " + s.ToString());
      index->db_->db.reset(raw);
    }
    s = raw->Put(rocksdb::WriteOptions(), AsSlice(kVersionKey), AsSlice(kVersion));
    if (s.ok()) s = raw->Flush(rocksdb::FlushOptions());
    if (!s.ok()) return IoError("cannot write the ingest dedupe index in " + dir + ": " + s.ToString());
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  if (index->options_.filter_bytes > 0) {
    index->filter_ = std::make_unique<Filter>(index->options_.filter_bytes, index->options_.window_ms, now);
    index->LoadFilter(now);
  }
  EC_RETURN_IF_ERROR(index->IndexTail(now));
  return index;
}

void DedupeIndex::SetMetrics(MetricsRegistry* metrics) {
  const char* help = "Claim's checks of exchange ids not in flight, by what answered: the in-memory filter "
                     "(certainly new) or the RocksDB index";
  checked_by_filter_ = metrics->GetCounter("eventception_dedupe_checks_total", help, {{"by", "filter"}});
  checked_by_index_ = metrics->GetCounter("eventception_dedupe_checks_total", help, {{"by", "index"}});
}

void DedupeIndex::LoadFilter(int64_t now_ms) {
  // Every id key RocksDB holds, expired or not (Add skips what is older than the filter's
  // generations): the filter must know every key a Claim could find. The catch-up that follows
  // in Open adds its ids through WriteRound. No Claim runs yet, so no lock is needed; the locks
  // are taken for form (the generations are guarded by them).
  std::lock_guard index_lock(index_mu_);
  {
    std::lock_guard lock(mu_);
    filter_->Advance(now_ms);
  }
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;  // a scan of the whole index: keep the cache for Claim's filters
  ro.readahead_size = 1 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db_->db->NewIterator(ro));
  uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key(), v = it->value();
    if (!IsDedupeKey(std::string_view(k.data(), k.size())) || v.size() != 8) continue;
    DedupeKey key;
    std::memcpy(key.bytes.data(), k.data(), DedupeKey::kSize);
    filter_->Add(Filter::Hash(key), LoadBe64(std::string_view(v.data(), v.size())));
    ++n;
  }
  filter_->Publish();
  filter_loaded_ = n;
}

std::vector<bool> DedupeIndex::Claim(const std::vector<std::string_view>& ids, int64_t now_ms,
                                     std::vector<DedupeKey>* keys_out) {
  std::vector<bool> dup(ids.size(), false);
  // The keys are made outside the lock (a hash for ids of no lossless form).
  std::vector<DedupeKey> own_keys;
  std::vector<DedupeKey>& keys = keys_out != nullptr ? *keys_out : own_keys;
  keys.resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!ids[i].empty()) keys[i] = MakeDedupeKey(ids[i]);
  }
  std::lock_guard lock(mu_);
  // 1. In flight or stored since the last round (or earlier in this call): a duplicate. The
  // others are claimed at once, so a repeat later in this call finds the claim.
  std::vector<size_t> fresh;  // claimed here: RocksDB decides below
  fresh.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (const size_t ahead = i + PendingIds::kPrefetchAhead; ahead < ids.size() && !ids[ahead].empty()) {
      pending_.Prefetch(keys[ahead]);
    }
    if (ids[i].empty()) continue;
    if (!pending_.Insert(keys[i], now_ms, /*claimed=*/true).second) {
      dup[i] = true;
    } else {
      fresh.push_back(i);
    }
  }
  // 2. The filter: an id it never saw indexed (nearly every id) is new without asking
  // RocksDB. Only when it covers this Claim's whole window (Filter: a clock that stepped back
  // puts the window's start before what the filter still knows).
  if (filter_ != nullptr && !fresh.empty() && now_ms - options_.window_ms >= filter_->covers_from()) {
    filter_->Acquire();
    thread_local std::vector<uint64_t> hashes;
    hashes.resize(fresh.size());
    for (size_t j = 0; j < fresh.size(); ++j) hashes[j] = Filter::Hash(keys[fresh[j]]);
    constexpr size_t kAhead = 8;  // the blooms are megabytes: a probe is a cache miss
    for (size_t j = 0; j < std::min(kAhead, fresh.size()); ++j) filter_->Prefetch(hashes[j]);
    size_t kept = 0;
    for (size_t j = 0; j < fresh.size(); ++j) {
      if (j + kAhead < fresh.size()) filter_->Prefetch(hashes[j + kAhead]);
      if (filter_->MayContain(hashes[j])) fresh[kept++] = fresh[j];
    }
    filtered_.fetch_add(fresh.size() - kept, std::memory_order_relaxed);
    if (checked_by_filter_ != nullptr) checked_by_filter_->Inc(fresh.size() - kept);
    fresh.resize(kept);
    if (hashes.size() > 65536) std::vector<uint64_t>().swap(hashes);  // after a huge request
  }
  if (fresh.empty()) return dup;
  if (checked_by_index_ != nullptr) checked_by_index_->Inc(fresh.size());
  // 3. Indexed within the window: one batched lookup (one superversion, the memtable and file
  // bloom filters probed for all keys together) instead of a Get per id. The keys go in sorted,
  // so RocksDB need not sort them itself: its sort compares through the virtual comparator
  // (about a third of MultiGet in perf); here a key is two big-endian words and a byte.
  SortFresh(keys, &fresh);
  // The lookup's arrays are kept per thread (a request's thousand PinnableSlices were ~80 KB
  // allocated and freed each time); every value is Reset after use, so no block stays pinned.
  thread_local std::vector<rocksdb::Slice> slices;
  thread_local std::vector<rocksdb::PinnableSlice> values;
  thread_local std::vector<rocksdb::Status> statuses;
  slices.clear();
  for (size_t i : fresh) slices.push_back(AsSlice(keys[i].view()));
  if (values.size() < fresh.size()) values.resize(fresh.size());
  statuses.assign(fresh.size(), rocksdb::Status());
  // RocksDB's per-thread perf counters (on by default; nothing reads them) cost a call to their
  // thread-local's init wrapper per counted step of the lookup (~0.7% of ec-http in perf of
  // serve). The level is per thread: the caller's (an HTTP thread) is set here.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  db_->db->MultiGet(rocksdb::ReadOptions(), db_->db->DefaultColumnFamily(), slices.size(), slices.data(),
                    values.data(), statuses.data(), /*sorted_input=*/true);
  for (size_t j = 0; j < fresh.size(); ++j) {
    // A read error counts as unknown: accepting a rare duplicate beats refusing an exchange.
    if (statuses[j].ok() &&
        LoadBe64(std::string_view(values[j].data(), values[j].size())) >= now_ms - options_.window_ms) {
      dup[fresh[j]] = true;
      pending_.Erase(pending_.Find(keys[fresh[j]]));
    }
    values[j].Reset();
  }
  if (values.size() > 65536) {  // after a huge request
    std::vector<rocksdb::PinnableSlice>().swap(values);
    std::vector<rocksdb::Slice>().swap(slices);
    std::vector<rocksdb::Status>().swap(statuses);
  }
  return dup;
}

void DedupeIndex::Release(const std::vector<std::string_view>& ids, bool stored, int64_t now_ms) {
  std::vector<DedupeKey> keys;
  keys.reserve(ids.size());
  for (std::string_view id : ids) {
    if (!id.empty()) keys.push_back(MakeDedupeKey(id));
  }
  Release(keys, stored, now_ms);
}

void DedupeIndex::Release(const std::vector<DedupeKey>& keys, bool stored, int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i + PendingIds::kPrefetchAhead < keys.size()) pending_.Prefetch(keys[i + PendingIds::kPrefetchAhead]);
    const DedupeKey& key = keys[i];
    PendingIds::Slot* slot = pending_.Find(key);
    if (slot == nullptr) {
      if (stored) pending_.Insert(key, now_ms, /*claimed=*/false);
      continue;
    }
    if (!slot->claimed) {  // stored already (a Kafka produce's id): a newer store time
      if (stored) slot->time = now_ms;
      continue;
    }
    if (stored) {
      slot->claimed = false;
      slot->time = now_ms;
    } else {
      pending_.Erase(slot);  // the append failed: a retry is accepted
    }
  }
}

void DedupeIndex::Appended(std::string_view topic, int32_t partition, int64_t base_offset, int64_t last_offset,
                           std::vector<DedupeKey> keys, int64_t timestamp_ms) {
  if (base_offset < 0 || last_offset < base_offset) return;
  std::lock_guard lock(handoff_mu_);
  if (incoming_keys_ + keys.size() > kMaxHandedOffKeys) return;  // the round reads the log
  incoming_keys_ += keys.size();
  incoming_[{std::string(topic), partition}].insert_or_assign(
      base_offset, HandOff{last_offset, timestamp_ms, std::move(keys)});
}

Status DedupeIndex::IndexTail(int64_t now_ms) {
  std::lock_guard index_lock(index_mu_);
  rocksdb::DB* db = db_->db.get();
  db_->expire_before.store(now_ms - options_.window_ms, std::memory_order_relaxed);
  entries_.clear();
  {
    std::lock_guard lock(handoff_mu_);
    for (auto& [tp, offs] : incoming_) waiting_[tp].merge(offs);
    incoming_.clear();
  }
  size_t consumed_keys = 0;  // hand-offs used or dropped this round
  Status status;             // the first read error; the round's other work is still written
  std::vector<std::pair<std::string, std::string>> positions;  // this round's new offsets
  const std::string prefix = options_.raw_topic + ".";
  for (const log::TopicInfo& t : logs_->ListTopics()) {
    if (!status.ok()) break;
    if (t.name != options_.raw_topic && t.name.rfind(prefix, 0) != 0) continue;
    for (int32_t p = 0; p < t.partitions; ++p) {
      std::shared_ptr<log::PartitionLog> pl = logs_->GetPartition(t.name, p);
      if (pl == nullptr) continue;
      auto pos = positions_.find({t.name, p});
      if (pos == positions_.end()) {
        std::string v;
        int64_t from;
        if (db->Get(rocksdb::ReadOptions(), PositionKey(t.name, p), &v).ok()) {
          from = LoadBe64(v);
        } else {
          // Never indexed: what is older than the window cannot be a duplicate anyway.
          log::TimestampOffset to = pl->OffsetForTimestamp(now_ms - options_.window_ms);
          from = to.offset >= 0 ? to.offset : pl->log_end_offset();
        }
        pos = positions_.emplace(std::make_pair(t.name, p), from).first;
      }
      auto handed = waiting_.find({t.name, p});
      if (pos->second >= pl->log_end_offset() && handed == waiting_.end()) continue;
      std::map<int64_t, HandOff>* offs = handed != waiting_.end() ? &handed->second : nullptr;
      int64_t next = pos->second;
      while (true) {
        // Hand-offs the log reads passed already are dropped; one that starts here is taken
        // instead of reading its records back.
        while (offs != nullptr && !offs->empty() && offs->begin()->first < next) {
          consumed_keys += offs->begin()->second.keys.size();
          offs->erase(offs->begin());
        }
        if (offs != nullptr && !offs->empty() && offs->begin()->first == next) {
          const HandOff& h = offs->begin()->second;
          for (const DedupeKey& k : h.keys) entries_.push_back({k, h.timestamp_ms});
          handed_off_.fetch_add(h.keys.size(), std::memory_order_relaxed);
          consumed_keys += h.keys.size();
          next = h.last_offset + 1;
          offs->erase(offs->begin());
          continue;
        }
        if (next >= pl->log_end_offset()) break;
        // The log up to the next hand-off (records of other writers, or not handed off).
        const int64_t to = offs != nullptr && !offs->empty() ? offs->begin()->first : INT64_MAX;
        int64_t read_to = next;
        status = log::ForEachCommittedRecord(
            *pl, next, to,
            [&](const log::RecordBatchView&, const log::Record& r) -> Status {
              if (!r.key || r.key->empty()) return Status::Ok();
              entries_.push_back({MakeDedupeKey(*r.key), r.timestamp});
              return Status::Ok();
            },
            &read_to);
        if (!status.ok() || read_to == next) break;  // an error, or nothing committed to read yet
        next = read_to;
      }
      if (handed != waiting_.end() && handed->second.empty()) waiting_.erase(handed);
      // After an error the partition keeps its position (the ids read before it are written
      // again next round; a Put of the same id is harmless); the other partitions' rounds are
      // written as usual, so their advanced positions never go without their ids.
      if (!status.ok()) break;
      if (next != pos->second) {
        positions.emplace_back(PositionKey(t.name, p), Be64(next));
        pos->second = next;
      }
    }
  }
  // Hand-offs of partitions no longer listed (or not raw topics at all) are dropped.
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    const std::string& name = it->first.first;
    if (name != options_.raw_topic && name.rfind(prefix, 0) != 0) {
      for (auto& [base, h] : it->second) consumed_keys += h.keys.size();
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  if (consumed_keys > 0) {
    std::lock_guard lock(handoff_mu_);
    incoming_keys_ -= std::min(incoming_keys_, consumed_keys);
  }
  if (!entries_.empty() || !positions.empty()) EC_RETURN_IF_ERROR(WriteRound(positions, now_ms));
  std::lock_guard lock(mu_);
  if (!pending_.empty()) {
    // Stored ids are indexed now (RocksDB answers for them); claims stay until their Release.
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (i + PendingIds::kPrefetchAhead < entries_.size()) {
        pending_.Prefetch(entries_[i + PendingIds::kPrefetchAhead].key);
      }
      const Entry& e = entries_[i];
      PendingIds::Slot* slot = pending_.Find(e.key);
      if (slot != nullptr && !slot->claimed) pending_.Erase(slot);
    }
    const int64_t unconfirmed_before = now_ms - options_.unconfirmed_ms;
    pending_.EraseIf([&](const PendingIds::Slot& s) { return !s.claimed && s.time < unconfirmed_before; });
  }
  return status;
}

Status DedupeIndex::WriteRound(const std::vector<std::pair<std::string, std::string>>& positions, int64_t now_ms) {
  // The filter first: a key must be in it before a Claim can find it in RocksDB (Filter).
  if (filter_ != nullptr) {
    {
      std::lock_guard lock(mu_);
      filter_->Advance(now_ms);
    }
    thread_local std::vector<uint64_t> hashes;
    hashes.resize(entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i) hashes[i] = Filter::Hash(entries_[i].key);
    constexpr size_t kAhead = 8;
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (i + kAhead < entries_.size()) filter_->Prefetch(hashes[i + kAhead]);
      filter_->Add(hashes[i], entries_[i].ts);
    }
    filter_->Publish();
  }
  // Put in key order: the sorted-run memtable (Open) appends each key that follows the one
  // before it with one comparison, so a round's batch is one run (the inserts were most of the
  // indexer's CPU). An id seen twice in a round keeps its latest time (the last Put).
  // The keys compare as two big-endian words and a byte, as in SortFresh (no memcmp call per
  // comparison: memcmp was the indexer thread's top symbol, the sort's and the memtable's).
  const Entry* sorted = SortByFirstWord(
      &entries_, &sorted_, [](const Entry& e) { return LoadBeWord(e.key.bytes.data()); },
      [](const Entry& a, const Entry& b) {
        const char* x = a.key.bytes.data();
        const char* y = b.key.bytes.data();
        if (uint64_t u = LoadBeWord(x), v = LoadBeWord(y); u != v) return u < v;
        if (uint64_t u = LoadBeWord(x + 8), v = LoadBeWord(y + 8); u != v) return u < v;
        if (x[16] != y[16]) return static_cast<unsigned char>(x[16]) < static_cast<unsigned char>(y[16]);
        return a.ts < b.ts;
      });
  // No WAL. A batch goes into one memtable of this single column family, memtables are
  // flushed and installed in order, so a crash loses a suffix of the batches. The round's ids
  // go in batches of at most max_write_ids (Open: a memtable's bloom is sized for a write
  // buffer), and its offsets with the last: offsets on disk always come with every id before
  // them, and ids a crash leaves without their offsets are read and put again by the catch-up
  // on open (the same key and time: harmless). docs/exactly-once.md.
  // RocksDB's per-thread perf counters (on by default, read by nothing here) count every key
  // comparison of the inserts through a thread-local: the background thread disables them
  // (StartBackground), and so does a round run on another thread (Open's catch-up, tests, the
  // benchmark).
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  const size_t n = entries_.size();
  const size_t per_write = std::max<size_t>(1, db_->max_write_ids);
  size_t i = 0;
  do {
    const size_t end = std::min(n, i + per_write);
    const bool last = end == n;
    // The ids' records are written straight into the batch's bytes as WriteBatch::Put writes
    // them (RocksDB's WriteBatch format, its WAL's: a 12-byte header of sequence, set by the
    // DB, and count, both little-endian; then per record the type kTypeValue (1) and the key and
    // the value, each after its varint32 length: 17 and 8 are one byte). Through Put they cost
    // ~430 instructions per id (bench_dedupe IndexTail under callgrind), a fifth of the round.
    constexpr size_t kRecord = 1 + 1 + DedupeKey::kSize + 1 + 8;
    static_assert(DedupeKey::kSize < 128, "its varint32 length is one byte");
    const uint32_t count = static_cast<uint32_t>(end - i);
    std::string rep(12 + count * kRecord, '\0');
    for (int b = 0; b < 4; ++b) rep[8 + b] = static_cast<char>(count >> (8 * b));
    char* p = rep.data() + 12;
    for (; i < end; ++i, p += kRecord) {
      p[0] = 1;  // kTypeValue
      p[1] = static_cast<char>(DedupeKey::kSize);
      std::memcpy(p + 2, sorted[i].key.bytes.data(), DedupeKey::kSize);
      p[2 + DedupeKey::kSize] = 8;
      StoreBe64(sorted[i].ts, p + 3 + DedupeKey::kSize);
    }
    rocksdb::WriteBatch batch(std::move(rep));
    if (batch.Count() != count) return IoError("ingest dedupe index: a batch of the wrong count");
    if (last) {
      for (const auto& [k, v] : positions) batch.Put(k, v);  // after the ids: the offsets come last
    }
    rocksdb::Status s = db_->db->Write(wo, &batch);
    if (!s.ok()) return IoError("ingest dedupe index: " + s.ToString());
  } while (i < n);
  indexed_.fetch_add(n, std::memory_order_relaxed);
  return Status::Ok();
}

Status DedupeIndex::Flush() {
  rocksdb::Status s = db_->db->Flush(rocksdb::FlushOptions());
  return s.ok() ? Status::Ok() : IoError("ingest dedupe index: flush: " + s.ToString());
}

Status DedupeIndex::Compact() {
  rocksdb::CompactRangeOptions o;
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  rocksdb::Status s = db_->db->CompactRange(o, nullptr, nullptr);
  return s.ok() ? Status::Ok() : IoError("ingest dedupe index: compaction: " + s.ToString());
}

uint64_t DedupeIndex::CountIndexedIds() {
  std::unique_ptr<rocksdb::Iterator> it(db_->db->NewIterator(rocksdb::ReadOptions()));
  uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (IsDedupeKey(std::string_view(it->key().data(), it->key().size()))) ++n;
  }
  return n;
}

uint64_t DedupeIndex::MemoryBytes() {
  uint64_t mem = 0, cache = 0;
  db_->db->GetIntProperty("rocksdb.cur-size-all-mem-tables", &mem);
  db_->db->GetIntProperty("rocksdb.block-cache-usage", &cache);
  return mem + cache;
}

uint64_t DedupeIndex::IntProperty(const std::string& name) {
  uint64_t v = 0;
  return db_->db->GetIntProperty(name, &v) ? v : 0;
}

void DedupeIndex::StartBackground() {
  stop_ = false;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ec-dedupe");  // for top/perf and the benchmark
    // RocksDB's per-thread perf counters (on by default) cost ~5-9% of this thread's memtable
    // inserts in perf profiles; nothing reads them here.
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    while (!stop_) {
      {
        std::unique_lock lock(wait_mu_);
        wait_cv_.wait_for(lock, std::chrono::milliseconds(options_.index_interval_ms), [&] { return stop_.load(); });
      }
      if (stop_) break;
      const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      (void)IndexTail(now);  // retried next round
    }
  });
}

void DedupeIndex::Stop() {
  {
    std::lock_guard lock(wait_mu_);
    stop_ = true;
  }
  wait_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ec::server
