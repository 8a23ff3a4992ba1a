#pragma once
// Idempotent ingest: which exchange ids were ingested within the dedupe window
// (ingest.dedupe_window, default 24 h), so a retried delivery is acknowledged without being
// appended again. docs/exactly-once.md, "Idempotent ingest".
//
// The raw topics are the source of truth. An indexer reads them (api-logs and api-logs.*,
// record key = exchange id, record timestamp = ingest time) into RocksDB under
// <data_dir>/ingest-dedupe together with the offset it has read to (the offsets in the
// round's last WriteBatch, after all its ids); on open it catches up from those offsets before
// ingest starts, so every id that reached the log before a crash (kill -9 included) is known
// after the restart. Ids accepted since the
// last indexing round are held in memory (claimed: append in flight; stored: appended, not
// indexed yet).
//
// Format (version 3): one 17-byte key per id (dedupe_key.h: a tag byte and 16 bytes: the id's
// own bytes when it is 32 hex digits or a UUID, else 128 bits of SHA-256) -> 8-byte ingest
// time. Expired ids are dropped by a compaction filter on that time. The index is written
// without RocksDB's WAL: a crash loses a suffix of the writes, and with them the offsets of the
// rounds they belong to, which the catch-up re-reads from the raw topics.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/status.h"
#include "server/dedupe_key.h"

namespace ec::log {
class LogManager;
}

namespace ec::server {

class Counter;
class MetricsRegistry;

struct DedupeOptions {
  std::string dir;             // RocksDB directory
  std::string raw_topic = "api-logs";
  int64_t window_ms = 24 * 3600 * 1000;
  int64_t index_interval_ms = 200;
  // A stored id the indexer has not found in the log after this long was not appended after
  // all (e.g. a Kafka produce whose append failed): it is forgotten, so a retry is accepted.
  int64_t unconfirmed_ms = 30000;
  // RocksDB memory of the index (ingest.dedupe_memory_bytes): half for write buffers (two
  // memtables of a quarter each), half for the block cache (data, index and filter blocks).
  uint64_t memory_bytes = uint64_t{16} << 20;
  // Bytes per second the index's flushes and compactions may write, handed to the device every
  // 256 KiB as they go (ingest.dedupe_write_rate_bytes; 0 = unlimited): the same reason and
  // mechanism as the state store's (cdc::RocksStateOptions::write_rate_bytes).
  uint64_t write_rate_bytes = uint64_t{48} << 20;
  // Bytes of the in-memory filter ahead of Claim's RocksDB lookup (ingest.dedupe_filter_bytes;
  // 0 = none): bloom filters over every id the index holds within the window, so an id they
  // say was never indexed (nearly every id ingest sees) skips RocksDB. Three generations of
  // half a window each (30% of this each) and one for ids stamped beyond them (10%); a
  // generation's memory is touched when it gets its first id. Rebuilt from the index by a scan
  // on open.
  uint64_t filter_bytes = uint64_t{8} << 20;
};

class DedupeIndex {
 public:
  // Opens the index and catches up with the raw topics. Errors: IoError.
  static Result<std::unique_ptr<DedupeIndex>> Open(DedupeOptions options, log::LogManager* logs);
  ~DedupeIndex();

  // For each id, in order: true if it is a duplicate (ingested within the window, in flight,
  // or equal to an earlier id of this call); otherwise it is claimed and false. Empty ids are
  // never duplicates (and not claimed).
  // `keys` (optional) receives each id's key (unspecified for empty ids), for Release and
  // Appended, so they need not make them again.
  std::vector<bool> Claim(const std::vector<std::string_view>& ids, int64_t now_ms,
                          std::vector<DedupeKey>* keys = nullptr);
  // Ends the claims of `ids` (those Claim returned false for): `stored` = the records were
  // appended (they stay known), else they are forgotten.
  void Release(const std::vector<std::string_view>& ids, bool stored, int64_t now_ms);
  void Release(const std::vector<DedupeKey>& keys, bool stored, int64_t now_ms);

  // Ingest appended the raw records [base_offset, last_offset] of `topic`-`partition` (durably,
  // not in a transaction), with these keys (its non-empty ids) and record timestamp. The next
  // indexing round takes them from here instead of reading them back from the log, when its
  // position in that partition is base_offset; otherwise (records of other writers before
  // them, a round that read past them already) it reads the log as before, so the raw topics
  // stay the truth. Bounded: beyond kMaxHandedOffKeys waiting keys a hand-off is dropped (the
  // log has the records). Thread-safe.
  void Appended(std::string_view topic, int32_t partition, int64_t base_offset, int64_t last_offset,
                std::vector<DedupeKey> keys, int64_t timestamp_ms);
  static constexpr size_t kMaxHandedOffKeys = 256 * 1024;
  // Records indexed from hand-offs rather than read from the log (for tests and benchmarks).
  uint64_t handed_off() const { return handed_off_.load(std::memory_order_relaxed); }

  // One indexing round: reads the raw topics' new records into RocksDB and drops expired
  // entries. The background thread calls it every index_interval_ms.
  Status IndexTail(int64_t now_ms);
  void StartBackground();
  void Stop();

  // Writes the index's memtable to disk (Stop and the destructor do; after it a restart
  // needs no catch-up). Errors: IoError.
  Status Flush();
  // Compacts the whole index, dropping ids older than the window of the last IndexTail (the
  // compaction filter). For tests; RocksDB compacts on its own otherwise. Errors: IoError.
  Status Compact();
  // Id entries in RocksDB, counted by a full scan (for tests).
  uint64_t CountIndexedIds();
  // RocksDB memory now: memtables, block cache (for tests and the benchmark).
  uint64_t MemoryBytes();
  // RocksDB's integer property `name` ("rocksdb.num-entries-active-mem-table"...), 0 when it
  // has none (for tests and the benchmark).
  uint64_t IntProperty(const std::string& name);

  int64_t window_ms() const { return options_.window_ms; }
  // Ids read from the raw topics into RocksDB since Open (including its catch-up).
  uint64_t indexed() const { return indexed_.load(std::memory_order_relaxed); }
  // Ids Claim found new by the filter alone, without asking RocksDB (for tests and the
  // benchmark).
  uint64_t filtered() const { return filtered_.load(std::memory_order_relaxed); }
  // Ids Open's scan put into the filter (for tests and the benchmark).
  uint64_t filter_loaded() const { return filter_loaded_; }
  // Counts Claim's checks of ids not in flight in `metrics` from now on:
  // eventception_dedupe_checks_total{by="filter"} (answered "certainly new" by the filter) and
  // {by="index"} (looked up in RocksDB). A growing share of the second tells an operator that
  // ingest.dedupe_filter_bytes is too small for the ids of half a window (docs/http-api.md).
  // Call before ingest starts.
  void SetMetrics(MetricsRegistry* metrics);

 private:
  struct Db;
  class Filter;
  DedupeIndex(DedupeOptions options, log::LogManager* logs);
  // Writes entries_ (sorted here) and the round's new offsets in one batch, after adding
  // their ids to the filter. Under index_mu_.
  Status WriteRound(const std::vector<std::pair<std::string, std::string>>& positions, int64_t now_ms);
  // Open: fills the filter with the ids RocksDB holds (before the catch-up).
  void LoadFilter(int64_t now_ms);

  DedupeOptions options_;
  log::LogManager* logs_;
  std::unique_ptr<Db> db_;
  std::mutex mu_;  // pending_, RocksDB reads for Claim, the filter's generations (not its bits)
  // The "certainly new" filter (DedupeOptions::filter_bytes), null when off. Its generations
  // change under index_mu_ and mu_; its bits are set by the indexer without mu_ (atomics).
  std::unique_ptr<Filter> filter_;
  // The ids accepted since the last indexing round, keyed by the fixed-size key (no string per
  // id): claimed (append in flight; `time` = claim time) or stored (appended, not indexed yet;
  // `time` = store time). One table, so a Claim is one lookup and a Release flips the state in
  // place.
  //
  // Open addressing (linear probing, at most half full, backward-shift erase) in one array of
  // fixed-size slots: an id costs no heap node. With a node per id (std::unordered_map) each
  // of a request's thousand claims was a malloc on its ec-http thread and, once indexed, a free
  // on the indexer thread into the HTTP thread's malloc arena (Claim: 2.23M -> 2.00M
  // instructions per 1000 new ids, bench_dedupe ClaimNew under callgrind).
  class PendingIds {
   public:
    struct Slot {
      DedupeKey key;
      bool used;
      bool claimed;
      int64_t time;
    };
    // Starts loading the slot where the probe for `key` begins. Claim, Release and the indexer
    // look up their ids in batches, and at full rate the table is megabytes: each probe waited
    // for its slot from memory (the load after the hash was ~90% of Insert's and ~75% of
    // Release's samples in perf of serve). They prefetch a few ids ahead. Always inlined: as a
    // function of its own, GCC found it free of side effects (a prefetch is none to it) and
    // dropped the calls, prefetches and all.
    [[gnu::always_inline]] void Prefetch(const DedupeKey& key) const {
      if (slots_.empty()) return;
      const char* p = reinterpret_cast<const char*>(&slots_[Home(key)]);
      __builtin_prefetch(p);
      __builtin_prefetch(p + sizeof(Slot) - 1);  // a slot may straddle two cache lines
    }
    static constexpr size_t kPrefetchAhead = 16;
    // The id's slot, or null. Valid until the next Insert or Erase.
    Slot* Find(const DedupeKey& key);
    // The id's slot and true when it was added (with `time`, `claimed`), or its existing slot
    // and false.
    std::pair<Slot*, bool> Insert(const DedupeKey& key, int64_t time, bool claimed);
    void Erase(Slot* slot);
    // Erases every id `drop(slot)` is true for; shrinks the array after a burst (when it is at
    // least four times what the most ids since the last call needed).
    template <typename Drop>
    void EraseIf(Drop drop);
    bool empty() const { return size_ == 0; }
    size_t size() const { return size_; }

   private:
    size_t Home(const DedupeKey& key) const { return DedupeKeyHash()(key) & (slots_.size() - 1); }
    void Rehash(size_t capacity);  // a power of two, more than twice size_
    std::vector<Slot> slots_;
    size_t size_ = 0;
    // The most ids held since the last EraseIf (an indexing round's sweep). The array keeps room
    // for that many: sized to what was left after each sweep, it grew by doubling again through
    // every round (~10 rehashes of up to tens of thousands of ids per 200 ms at full rate).
    size_t peak_ = 0;
  };
  PendingIds pending_;
  std::mutex index_mu_;  // one IndexTail at a time
  struct Entry {
    DedupeKey key;
    int64_t ts;
  };
  std::vector<Entry> entries_;  // under index_mu_: one round's ids (capacity kept)
  std::vector<Entry> sorted_;   // under index_mu_: WriteRound's ids in key order (capacity kept)
  std::map<std::pair<std::string, int32_t>, int64_t> positions_;  // raw partition -> next offset
  // Appended's hand-offs: raw partition -> base offset -> (last offset, timestamp, keys).
  struct HandOff {
    int64_t last_offset;
    int64_t timestamp_ms;
    std::vector<DedupeKey> keys;
  };
  using HandOffs = std::map<std::pair<std::string, int32_t>, std::map<int64_t, HandOff>>;
  std::mutex handoff_mu_;
  HandOffs incoming_;          // under handoff_mu_: new since the last round
  size_t incoming_keys_ = 0;   // under handoff_mu_: keys in incoming_ and waiting_
  HandOffs waiting_;           // under index_mu_: taken by a round, not consumed yet
  std::atomic<uint64_t> handed_off_{0};
  std::atomic<uint64_t> indexed_{0};
  std::atomic<uint64_t> filtered_{0};
  Counter* checked_by_filter_ = nullptr;  // SetMetrics
  Counter* checked_by_index_ = nullptr;
  uint64_t filter_loaded_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  std::thread thread_;
};

}  // namespace ec::server
