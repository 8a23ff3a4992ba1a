// The RocksDB StateStore (RocksDB headers stay in this file), with a bounded cache of hot keys
// in front of it (state_cache.h): the changelog stage reads a key's state for every exchange,
// and most reads are of keys written moments before.
//
// Writes that carry a checkpoint (the pipeline's committed passes, state_topic.h) are
// deferred: pinned in the cache's map (read like any entry) and written to RocksDB (in
// WriteBatches of a quarter memtable, the checkpoints in the last: WriteSorted) once
// RocksStateOptions::defer_bytes or defer_ms is reached, so a hot key updated by many passes
// costs one memtable insert instead of one per pass, and a commit updates the
// key's one entry instead of inserting into a deferred map and later into the cache. Losing
// them in a crash is what the checkpoint is for: at startup the committed state topic after
// the checkpoint is applied again (CatchUpStateStore). Writes without a checkpoint, List,
// ClearResource and the destructor write the deferred ones first.
//
// With RocksStateOptions::background_writes the deferred WriteBatch is built and written by the
// store's writer thread: the commit that reaches a limit hands the pinned states (shared, not
// copied) and checkpoints over and returns; the states stay pinned, and read from the map,
// until the write is done, and a key pinned again meanwhile stays pinned with its newer state
// (StateCache::WrittenUpTo). One write at a time, in commit order; every other write waits for
// it first, so RocksDB never gets an older state after a newer one.
#include <pthread.h>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/rate_limiter.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "cdc/state_cache.h"
#include "cdc/state_store.h"
#include "rocks/random_key_compaction.h"
#include "rocks/rate_limiter.h"
#include "rocks/sorted_run_rep.h"
#include "rocks/uncounted_jobs_env.h"

namespace ec::cdc {
namespace {

// Every write of this store skips RocksDB's write-ahead log. RocksDB here is a cache of the
// committed state topic (state_topic.h, docs/exactly-once.md "The state store"), so the log
// bought nothing the catch-up does not give:
// - Each state was copied a second time into the log (CRC'd, written to the file, later to the
//   device): ~11% of the writer thread's instructions (callgrind, bench_pass), plus the write
//   syscalls, and the whole state volume again as device writes next to the journal's fsyncs;
//   on serve the thread's CPU fell by ~21% without it (30 interleaved runs, 100,000 lines).
// - Without it, after a crash RocksDB is its flushed table files: whole memtables, installed in
//   order, each holding whole WriteBatches, i.e. a prefix of the writes in write order. A batch
//   with a checkpoint holds every state committed up to it, so the last checkpoint of that
//   prefix is true of the states RocksDB has, and CatchUpStateStore applies the state topic
//   after it, as after a crash before a deferred write. The log was never synced, so against a
//   machine crash it gave no more than this already; a killed process is now that case too.
// - Writes without a checkpoint are a rebuild's (server/replay.cc: ClearResource, then its
//   states), which appends the same tombstones and states to the state topic, after the
//   checkpoint; a direct Store (tests) is lost in a crash like any unflushed write.
// - A clean close flushes the memtables (RocksDB does at shutdown when writes skipped the
//   log), so a restart after a stop has nothing to catch up.
rocksdb::WriteOptions Unlogged() {
  rocksdb::WriteOptions w;
  w.disableWAL = true;
  return w;
}

// "resource/key" of an encoded key, for messages.
std::string PrintableKey(std::string_view encoded) {
  std::string out(encoded);
  std::replace(out.begin(), out.end(), '\0', '/');
  return out;
}

class RocksStateStore final : public StateStore, public PassOverlay {
 public:
  RocksStateStore(std::unique_ptr<rocksdb::Env> env, std::unique_ptr<rocksdb::DB> db, const RocksStateOptions& options,
                  size_t batch_bytes)
      : env_(std::move(env)),
        db_(std::move(db)),
        options_(options),
        batch_bytes_(batch_bytes),
        cache_(options.cache_bytes),
        last_write_(Clock::now()) {
    // A store without states (a new one; checkpoint keys start with '\0', every state key with
    // its resource name's first byte): from here on every key it gets passes through the
    // map, so the map knows every key until it lets a stored one go (state_cache.h).
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    it->Seek(rocksdb::Slice("\x01", 1));
    if (!it->Valid() && it->status().ok() && options.cache_bytes > 0) cache_.MarkComplete();
    if (options_.background_writes && options_.defer_bytes > 0) {
      writer_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "ec-state-write");  // for top/perf and the benchmark
        RunWriter();
      });
    }
  }
  ~RocksStateStore() override {
    std::unique_lock lock(mu_);
    stop_ = true;
    writer_cv_.notify_all();
    lock.unlock();
    if (writer_.joinable()) writer_.join();
    lock.lock();
    (void)WriteDeferredLocked(lock);
  }

  // The cache mutex is held across the RocksDB access on a miss and on every write, so a read
  // that misses cannot put an older value into the cache after a concurrent write.
  Result<StatePtr> Lookup(std::string_view encoded) override {
    std::lock_guard lock(mu_);
    StatePtr cached;
    if (cache_.Lookup(encoded, &cached)) return cached;
    return ReadCommittedLocked(encoded);
  }

  // The keys the map does not know are read in one sorted MultiGet (RocksDB shares the
  // per-file filter and index work among the keys of a batch), under mu_ as a Lookup's Get is.
  Status LookupMany(const std::vector<std::string_view>& keys, std::vector<StatePtr>* out) override {
    out->assign(keys.size(), nullptr);
    std::lock_guard lock(mu_);
    std::vector<size_t> missed;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (cache_.Lookup(keys[i], &(*out)[i])) continue;
      if (cache_.complete()) {
        cache_.Insert(keys[i], nullptr);
        continue;
      }
      missed.push_back(i);
    }
    if (missed.empty()) return Status();
    std::sort(missed.begin(), missed.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
    std::vector<rocksdb::Slice> slices;
    slices.reserve(missed.size());
    for (size_t i : missed) slices.emplace_back(keys[i].data(), keys[i].size());
    std::vector<rocksdb::PinnableSlice> values(missed.size());
    std::vector<rocksdb::Status> statuses(missed.size());
    db_->MultiGet(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), slices.size(), slices.data(), values.data(),
                  statuses.data(), /*sorted_input=*/true);
    for (size_t j = 0; j < missed.size(); ++j) {
      const std::string_view key = keys[missed[j]];
      StatePtr state;
      if (statuses[j].IsNotFound()) {
        cache_.Insert(key, nullptr);
      } else if (!statuses[j].ok()) {
        return Status(ErrorCode::kIoError, "state store: " + statuses[j].ToString());
      } else {
        state = EncodedState::FromBytes(std::string_view(values[j].data(), values[j].size()));
        if (!state) return Status(ErrorCode::kIoError, "state store: corrupt entry for " + PrintableKey(key));
        cache_.Insert(key, state);
      }
      (*out)[missed[j]] = std::move(state);
    }
    return Status();
  }

  PassOverlay* ClaimPassOverlay() override {
    std::lock_guard lock(mu_);
    if (overlay_claimed_) return nullptr;
    overlay_claimed_ = true;
    return this;
  }
  void ReleasePassOverlay() override {
    std::lock_guard lock(mu_);
    last_read_key_.clear();
    last_read_.reset();
    cache_.PassDiscard();
    cache_.FrozenDiscard();
    overlay_claimed_ = false;
  }

  Result<StatePtr> PassLookup(std::string_view encoded) override {
    std::lock_guard lock(mu_);
    StatePtr state;
    if (cache_.PassLookup(encoded, &state)) return state;
    Result<StatePtr> committed = ReadCommittedLocked(encoded);
    if (committed.ok()) {  // for the PassStore that follows when the map did not keep it
      last_read_key_.assign(encoded);
      last_read_ = *committed;
    }
    return committed;
  }

  // Without mu_: StateCache::Prefetch reads only what it keeps for this (atomics), and a
  // prefetch of a stale address is harmless.
  void Prefetch(std::string_view /*encoded*/, uint64_t hash) override { cache_.Prefetch(hash); }
  void PassPrefetch(std::string_view /*encoded*/, uint64_t hash) override { cache_.Prefetch(hash); }
  // These read the index: under mu_. The entry is the same for the pass and the committed view.
  void PrefetchEntry(std::string_view /*encoded*/, uint64_t hash) override {
    std::lock_guard lock(mu_);
    cache_.PrefetchEntry(hash);
  }
  void PassPrefetchEntry(std::string_view encoded, uint64_t hash) override { PrefetchEntry(encoded, hash); }
  void PrefetchState(std::string_view encoded, uint64_t hash) override { PrefetchStateOf(encoded, hash, /*pass=*/false); }
  void PassPrefetchState(std::string_view encoded, uint64_t hash) override {
    PrefetchStateOf(encoded, hash, /*pass=*/true);
  }

  Status PassStore(std::string_view encoded, StatePtr state) override {
    std::lock_guard lock(mu_);
    if (cache_.PassStore(encoded, &state)) return Status();
    // A key the map does not hold (no cache, or written without a read): its committed state
    // goes into the entry too, so a discarded pass leaves a correct cache entry behind.
    StatePtr committed;
    if (last_read_key_ == encoded) {
      committed = std::move(last_read_);
    } else {
      Result<StatePtr> read = ReadCommittedLocked(encoded);
      if (!read.ok()) return read.status();
      if (cache_.PassStore(encoded, &state)) return Status();  // ReadCommittedLocked cached it
      committed = std::move(*read);
    }
    last_read_key_.clear();
    last_read_.reset();
    cache_.PassStoreNew(encoded, std::move(committed), std::move(state));
    return Status();
  }

  std::vector<StateWrite> PassPending() override {
    std::lock_guard lock(mu_);
    return cache_.PassPending();
  }

  Status PassCommit(std::string_view checkpoint, int64_t offset) override {
    std::unique_lock lock(mu_);
    last_read_key_.clear();
    last_read_.reset();
    cache_.PassCommit();
    return DeferLocked(lock, checkpoint, offset);
  }

  void PassDiscard() override {
    std::lock_guard lock(mu_);
    last_read_key_.clear();
    last_read_.reset();
    cache_.PassDiscard();
  }

  void PassFreeze() override {
    std::lock_guard lock(mu_);
    cache_.PassFreeze();
  }

  Status FrozenCommit(std::string_view checkpoint, int64_t offset) override {
    std::unique_lock lock(mu_);
    cache_.FrozenCommit();
    return DeferLocked(lock, checkpoint, offset);
  }

  void FrozenDiscard() override {
    std::lock_guard lock(mu_);
    cache_.FrozenDiscard();
  }

  Status Store(std::string_view encoded, StatePtr state) override {
    std::unique_lock lock(mu_);
    EC_RETURN_IF_ERROR(WriteDeferredLocked(lock));
    last_read_key_.clear();  // a write: what PassLookup read may be stale
    last_read_.reset();
    rocksdb::Status s = db_->Put(Unlogged(), rocksdb::Slice(encoded.data(), encoded.size()), state->bytes());
    if (!s.ok()) {
      cache_.Erase(encoded);  // whatever RocksDB holds now, the cache must not claim otherwise
      return Status(ErrorCode::kIoError, "state store: " + s.ToString());
    }
    cache_.Insert(encoded, std::move(state));
    return Status();
  }

  Result<std::vector<std::string>> List(std::string_view resource, std::string_view after, size_t limit) override {
    std::string prefix = EncodeKey(resource, "");
    std::string start = EncodeKey(resource, after);
    {
      std::unique_lock lock(mu_);
      EC_RETURN_IF_ERROR(WriteDeferredLocked(lock));
    }
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    std::vector<std::string> keys;
    for (it->Seek(start); it->Valid() && keys.size() < limit; it->Next()) {
      std::string_view k(it->key().data(), it->key().size());
      if (!k.starts_with(prefix)) break;
      if (k == start) continue;  // strictly after `after`
      // Flag byte: 's' is a state, 'd' a deletion (EncodeState).
      if (!it->value().empty() && it->value()[0] == 's') keys.emplace_back(k.substr(prefix.size()));
    }
    if (!it->status().ok()) return Status(ErrorCode::kIoError, "state store: " + it->status().ToString());
    return keys;
  }

  Status Apply(const std::vector<StateWrite>& writes, std::string_view checkpoint, int64_t offset) override {
    std::unique_lock lock(mu_);
    last_read_key_.clear();  // a write: what PassLookup read may be stale
    last_read_.reset();
    // A null state (the key forgotten) is pinned as null: reads answer "absent" and the batch
    // deletes the key.
    for (const StateWrite& w : writes) cache_.Pin(w.encoded_key, w.state);
    return DeferLocked(lock, checkpoint, offset);
  }

  Status ClearResource(std::string_view resource) override {
    // [resource '\0', resource '\1'): every key of the resource and nothing else.
    std::string begin = EncodeKey(resource, "");
    std::string end = begin;
    end.back() = '\1';
    rocksdb::WriteBatch batch;
    batch.DeleteRange(begin, end);
    std::unique_lock lock(mu_);
    EC_RETURN_IF_ERROR(WriteDeferredLocked(lock));
    last_read_key_.clear();
    last_read_.reset();
    cache_.ErasePrefix(begin);
    rocksdb::Status s = db_->Write(Unlogged(), &batch);
    if (!s.ok()) return Status(ErrorCode::kIoError, "state store: " + s.ToString());
    return Status();
  }

  Result<std::optional<int64_t>> Checkpoint(std::string_view checkpoint) override {
    {
      std::lock_guard lock(mu_);
      auto it = dirty_checkpoints_.find(checkpoint);
      if (it != dirty_checkpoints_.end()) return std::optional<int64_t>(it->second);
    }
    std::string bytes;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), CheckpointKey(checkpoint), &bytes);
    if (s.IsNotFound()) return std::optional<int64_t>();
    if (!s.ok() || bytes.size() != 8) return Status(ErrorCode::kIoError, "state store: checkpoint: " + s.ToString());
    uint64_t o = 0;
    for (char c : bytes) o = (o << 8) | static_cast<unsigned char>(c);
    return std::optional<int64_t>(static_cast<int64_t>(o));
  }

 private:
  using Clock = std::chrono::steady_clock;

  // The committed state of a key the map does not know: RocksDB's, now cached.
  Result<StatePtr> ReadCommittedLocked(std::string_view encoded) {
    // Every key RocksDB holds is in the map: a miss is an answer (a new key, most often a
    // POST's), without a Get. The entry is made, as after a Get, for the write that follows.
    if (cache_.complete()) {
      cache_.Insert(encoded, nullptr);
      return StatePtr();
    }
    std::string bytes;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(encoded.data(), encoded.size()), &bytes);
    if (s.IsNotFound()) {
      cache_.Insert(encoded, nullptr);
      return StatePtr();
    }
    if (!s.ok()) return Status(ErrorCode::kIoError, "state store: " + s.ToString());
    StatePtr state = EncodedState::FromBytes(bytes);
    if (!state) return Status(ErrorCode::kIoError, "state store: corrupt entry for " + PrintableKey(encoded));
    cache_.Insert(encoded, state);
    return state;
  }

  // After states were pinned: sets the checkpoint and writes the pinned states to RocksDB
  // when there is no checkpoint or a deferral limit is reached (on the writer thread when
  // there is one: then a write still running lets the states wait for the next commit,
  // unless four times defer_bytes are pinned, which waits for it).
  Status DeferLocked(std::unique_lock<std::mutex>& lock, std::string_view checkpoint, int64_t offset) {
    if (!checkpoint.empty()) dirty_checkpoints_[std::string(checkpoint)] = offset;
    if (checkpoint.empty() || cache_.pinned_bytes() >= options_.defer_bytes ||
        Clock::now() - last_write_ >= std::chrono::milliseconds(options_.defer_ms)) {
      if (!writer_.joinable()) return WriteDeferredLocked(lock);
      if (writing_) {
        if (cache_.pinned_bytes() < 4 * options_.defer_bytes) return TakeWriterErrorLocked();
        writer_cv_.wait(lock, [&] { return !writing_; });
      }
      last_write_ = Clock::now();
      job_ = cache_.PinnedShared();
      job_checkpoints_ = dirty_checkpoints_;
      job_seq_ = cache_.pin_seq();
      writing_ = true;
      writer_cv_.notify_all();
      return TakeWriterErrorLocked();
    }
    return Status();
  }

  void PrefetchStateOf(std::string_view encoded, uint64_t hash, bool pass) {
    std::lock_guard lock(mu_);
    cache_.PrefetchState(encoded, hash, pass);
  }

  // The last background write's failure, once (its states stayed pinned: written later).
  Status TakeWriterErrorLocked() {
    Status s = std::move(writer_error_);
    writer_error_ = Status();
    return s;
  }

  // The writer thread: writes each job outside mu_, then unpins what it wrote.
  void RunWriter() {
    // RocksDB's default perf level (kEnableCount) counts every key comparison in a thread-local
    // perf context: in a memtable insert that was __tls_get_addr and the context's TLS init per
    // comparison, ~21% of this thread's instructions (callgrind, bench_pass). Nothing reads
    // those counts, and the level is per thread.
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    std::unique_lock lock(mu_);
    while (true) {
      writer_cv_.wait(lock, [&] { return stop_ || (writing_ && !job_done_); });
      if (!writing_) break;  // stop_ with nothing to write
      std::vector<StateCache::PinnedCopy> job = std::move(job_);
      std::map<std::string, int64_t, std::less<>> checkpoints = std::move(job_checkpoints_);
      const uint64_t seq = job_seq_;
      job_done_ = true;
      lock.unlock();
      Status s = WriteBatchOf(std::move(job), checkpoints);
      lock.lock();
      if (s.ok()) {
        cache_.WrittenUpTo(seq);
        for (const auto& [name, offset] : checkpoints) {
          auto it = dirty_checkpoints_.find(name);
          if (it != dirty_checkpoints_.end() && it->second == offset) dirty_checkpoints_.erase(it);
        }
      } else {
        writer_error_ = s;
      }
      writing_ = false;
      job_done_ = false;
      writer_cv_.notify_all();
    }
  }

  // Writes `pinned` (sorted here by key: SortedByKey) and `checkpoints` (WriteSorted); no lock
  // needed.
  Status WriteBatchOf(std::vector<StateCache::PinnedCopy> pinned,
                      const std::map<std::string, int64_t, std::less<>>& checkpoints) {
    return WriteSorted(SortedByKey(std::move(pinned)), checkpoints);
  }

  // `pinned` (in key order: the memtable, sorted runs, appends a key greater than the one before
  // it to its open run, where random order would start a new run per key) and the
  // checkpoints, in WriteBatches of about batch_bytes_ each (a quarter of a memtable), the
  // checkpoints in the last one. One WriteBatch of everything was built in one buffer of its
  // whole size and applied to one memtable, which RocksDB does not split: a memtable (and a
  // flush) as large as the deferred states, on top of the pinned states themselves; with
  // defer_bytes = 32 MiB the server's peak RSS rose from 158 to 186 MiB at 200,000 shop
  // lines. A crash between two batches leaves a prefix of them (docs/exactly-once.md "The state
  // store"): states newer than the checkpoint on disk, never a checkpoint without its states.
  // Each buffer is sized once (header, then per entry a tag, two length varints, key and
  // value): grown by doubling it copied megabytes and touched fresh pages several times.
  // `Pinned`: StateCache::PinnedState or PinnedCopy.
  template <class Pinned>
  Status WriteSorted(const std::vector<Pinned>& pinned, const std::map<std::string, int64_t, std::less<>>& checkpoints) {
    auto entry_bytes = [](const Pinned& p) {
      return 11 + p.encoded_key.size() + (p.state != nullptr ? p.state->bytes().size() : 0);
    };
    size_t i = 0;
    do {
      // The next batch: entries up to batch_bytes_ (at least one), and the checkpoints when it
      // takes the last entry.
      size_t end = i, batch_bytes = 12;
      while (end < pinned.size() && (end == i || batch_bytes + entry_bytes(pinned[end]) <= batch_bytes_)) {
        batch_bytes += entry_bytes(pinned[end++]);
      }
      const bool last = end == pinned.size();
      if (last) batch_bytes += 64 * checkpoints.size();
      rocksdb::WriteBatch batch(batch_bytes);
      for (; i < end; ++i) {
        const Pinned& p = pinned[i];
        rocksdb::Slice key(p.encoded_key.data(), p.encoded_key.size());
        if (p.state != nullptr) batch.Put(key, p.state->bytes());
        else batch.Delete(key);
      }
      if (last) {
        for (const auto& [name, offset] : checkpoints) {
          std::string v;
          uint64_t o = static_cast<uint64_t>(offset);
          for (int b = 7; b >= 0; --b) v += static_cast<char>((o >> (8 * b)) & 0xff);
          batch.Put(CheckpointKey(name), v);
        }
      }
      rocksdb::Status s = db_->Write(Unlogged(), &batch);
      if (!s.ok()) return Status(ErrorCode::kIoError, "state store: " + s.ToString());
    } while (i < pinned.size());
    return Status();
  }

  // Writes the deferred states and checkpoints (WriteSorted), after the writer thread's
  // write in progress (if any). On failure they stay deferred (and readable) and the next
  // write tries again.
  Status WriteDeferredLocked(std::unique_lock<std::mutex>& lock) {
    writer_cv_.wait(lock, [&] { return !writing_; });
    last_write_ = Clock::now();
    if (cache_.pinned() == 0 && dirty_checkpoints_.empty()) return Status();
    EC_RETURN_IF_ERROR(WriteSorted(cache_.PinnedInKeyOrder(), dirty_checkpoints_));
    cache_.Written();
    dirty_checkpoints_.clear();
    return Status();
  }

  std::unique_ptr<rocksdb::Env> env_;  // the DB's (OpenRocksStateStore): destroyed after it
  std::unique_ptr<rocksdb::DB> db_;
  const RocksStateOptions options_;
  const size_t batch_bytes_;  // of one WriteBatch of deferred states (WriteSorted)
  std::mutex mu_;
  // The cache and, pinned in it, the committed states not yet in RocksDB; guarded by mu_.
  StateCache cache_;
  // Committed checkpoints not yet in RocksDB; guarded by mu_.
  std::map<std::string, int64_t, std::less<>> dirty_checkpoints_;
  Clock::time_point last_write_;
  bool overlay_claimed_ = false;  // guarded by mu_
  // The background writer (RocksStateOptions::background_writes); its job and state are
  // guarded by mu_. writing_: a job was handed over and is not finished; job_done_: the writer
  // has taken it.
  std::thread writer_;
  std::condition_variable writer_cv_;
  bool stop_ = false;
  bool writing_ = false;
  bool job_done_ = false;
  std::vector<StateCache::PinnedCopy> job_;
  std::map<std::string, int64_t, std::less<>> job_checkpoints_;
  uint64_t job_seq_ = 0;
  Status writer_error_;
  // The committed state PassLookup last read from RocksDB without the map keeping it (no
  // cache, or too large), for the PassStore of the same key; guarded by mu_.
  std::string last_read_key_;
  StatePtr last_read_;
};

// The state store's filters: a bloom filter (10 bits per key) on each level-0 file, none below.
// - A lookup that reaches the level below L0 (L1: one file of all the older states, up to
//   RocksDB's 256 MB level base) has missed the state cache, the memtables and every L0 filter:
//   it is nearly always a stored key, so L1's filter said "maybe" and cost a partition read and
//   a probe per lookup, and one more filter built per compaction. (RocksDB's
//   optimize_filters_for_hits does the same for the last level only; past the level base a
//   non-last L1 would get full filters of megabytes, larger than a block cache shard.) A key
//   that is not stored (a POST's, once the map no longer knows every key: state_cache.h,
//   complete()) costs L1's index and data block instead of a probe; the figures below include
//   that. Past the level base (~6 million shop states) the keys of L2 also read L1's data.
// - L0 files are the ones every lookup checks (up to eight, RocksDB's compaction trigger
//   below): their filters are whole (~20 KB per 4 MiB flush) and pinned, so a check is one
//   probe, without the partitioned filter's top-level search and partition lookup (~0.1 us per
//   file per lookup in perf on serve).
// Measured together with the trigger (2,000,000 shop lines, 3 interleaved pairs): ec-pipeline
// -3%, the server's CPU -6.6%.
class Level0Filters final : public rocksdb::FilterPolicy {
 public:
  Level0Filters() : bloom_(rocksdb::NewBloomFilterPolicy(10)) {}
  const char* Name() const override { return "ec.Level0Filters"; }
  // The bloom filter's family: files written with any built-in filter stay readable.
  const char* CompatibilityName() const override { return bloom_->CompatibilityName(); }
  rocksdb::FilterBitsBuilder* GetBuilderWithContext(const rocksdb::FilterBuildingContext& context) const override {
    return context.level_at_creation == 0 ? bloom_->GetBuilderWithContext(context) : nullptr;
  }
  rocksdb::FilterBitsReader* GetFilterBitsReader(const rocksdb::Slice& contents) const override {
    return bloom_->GetFilterBitsReader(contents);
  }

 private:
  std::shared_ptr<const rocksdb::FilterPolicy> bloom_;
};

}  // namespace

Result<std::unique_ptr<StateStore>> OpenRocksStateStore(const std::string& dir, const RocksStateOptions& opts) {
  rocksdb::Options options;
  options.create_if_missing = true;
  // Most reads of a new key (a POST) find nothing: a memtable bloom filter answers those
  // without searching the memtable's runs.
  options.memtable_prefix_bloom_size_ratio = 0.05;
  options.memtable_whole_key_filtering = true;
  // The memtable is sorted runs (rocks/sorted_run_rep.h), not RocksDB's skip list: every write
  // here but a direct Store's (tests, one key) is WriteSorted's, a job's states in key order
  // (then its checkpoint keys), so a job's inserts append to one run with one comparison each, where Debian's librocksdb 7.8.3 (built
  // with its assertions on) paid the skip list's searches and checks per state (MemTable::Add,
  // KeyComparator, InlineSkipList::FindSpliceForLevel/Insert: most of ec-state-write). Lookups
  // past the state cache that reach the memtable (after its bloom filter said maybe) search each
  // run. Only how a memtable holds its entries between a write and its flush changes: what is
  // stored, read, flushed and recovered is the same. The rep takes one writer at a time: the
  // writes are serialised anyway (the writer thread, or mu_), and allow_concurrent_memtable_write
  // = false is required by it. The keys are bytewise (RocksDB's default comparator), so it
  // compares them itself. ClearResource's range deletions go to RocksDB's own range-tombstone
  // table as before (always a skip list).
  options.memtable_factory = rocks::NewSortedRunMemTableFactory(/*bytewise_keys=*/true);
  options.allow_concurrent_memtable_write = false;
  // The memory budget (RocksStateOptions::rocksdb_memory_bytes): RocksDB's default 64 MiB write
  // buffers, two of them, grew with every state written until a flush (~60 MiB of resident
  // memory after 400,000 shop exchanges). Two memtables of a quarter (one flushing while the
  // other fills), and a block cache of half that also holds the index and filter blocks, so
  // their memory is bounded as the store grows.
  const uint64_t budget = std::max<uint64_t>(opts.rocksdb_memory_bytes, uint64_t{1} << 20);
  options.write_buffer_size = budget / 4;
  options.max_write_buffer_number = 2;
  options.db_write_buffer_size = budget / 2;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(budget / 2);
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Filters on level-0 files only (Level0Filters), whole (not partitioned): see there.
  table.filter_policy = std::make_shared<Level0Filters>();
  table.whole_key_filtering = true;
  table.partition_filters = false;
  // A partitioned index: a lookup reads one 4 KiB partition, found through a small pinned top
  // level. With a file's whole index (and filter) as one block each, a store past the cache
  // (~600,000 shop states) evicted them between lookups, and every lookup that missed the state
  // cache read, checksummed and decompressed a whole index and filter again: 38.7 us per lookup
  // against 3.8 (bench_cdc BM_LookupPastTheCache, 600,000 states), and the server's ec-pipeline
  // went from ~4 to ~19 us per shop line past 1M exchanges.
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.metadata_block_size = 4096;
  table.pin_top_level_index_and_filter = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Flushes (level 0) are written uncompressed: their files live until the next L0 compaction
  // merges eight of them, which then needs no decompression either; Snappy on every flush was
  // about a quarter of the flush thread's CPU (perf, 200,000 shop lines: 12 flushes of ~4.3 MB).
  // The merged levels, where the state stays, are compressed with LZ4 (JSON states shrink
  // 3.7x, files within 2% of Snappy's; it compresses and decompresses faster).
  options.compression_per_level = {rocksdb::kNoCompression, rocksdb::kLZ4Compression};
  // Past the state cache (millions of keys, docs/ingest-performance.md "Past the caches")
  // RocksDB's compactions were a fifth of the server's CPU; the keys are random, so L0 merges
  // sixteen files at a time (rocks/random_key_compaction.h). A lookup that misses the state
  // cache checks up to sixteen L0 filters, whole and pinned (Level0Filters: one probe each).
  rocks::SetRandomKeyLevelZeroTriggers(&options);
  // Flushes and compactions write in steps (RocksStateOptions::write_rate_bytes): refilled
  // every 5 ms, and each 256 KiB written is handed to the device as it goes (bytes_per_sync)
  // instead of all at the table file's final sync. bytes_per_sync alone was tried at stop 19 and
  // did not help: without the limiter the writes still come in one burst. Our limiter, not
  // RocksDB's generic one (rocks/rate_limiter.h: Debian's can hang a flush for good).
  if (opts.write_rate_bytes > 0) {
    options.rate_limiter = rocks::NewSteppedRateLimiter(static_cast<int64_t>(opts.write_rate_bytes),
                                                        /*refill_period_us=*/5000);
    options.bytes_per_sync = 256 << 10;
  }
  // Flushes and compactions without RocksDB's per-thread perf counters (rocks/uncounted_jobs_env.h).
  std::unique_ptr<rocksdb::Env> env = rocks::NewUncountedJobsEnv(rocksdb::Env::Default());
  options.env = env.get();
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) return Status(ErrorCode::kIoError, "cannot open the state store in " + dir + ": " + s.ToString());
  const size_t batch_bytes = opts.write_batch_bytes > 0 ? opts.write_batch_bytes : options.write_buffer_size / 4;
  return std::unique_ptr<StateStore>(new RocksStateStore(std::move(env), std::unique_ptr<rocksdb::DB>(raw), opts, batch_bytes));
}

}  // namespace ec::cdc
