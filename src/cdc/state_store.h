#pragma once
// Keyed state of CDC resources: for each (resource, key) the last known domain object and the
// exchange time it was applied at. `serve` keeps it in RocksDB under the data dir
// (OpenRocksStateStore); `eventception test` in memory (MemoryStateStore). Same interface.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ec::cdc {

struct StoredState {
  bool deleted = false;   // a DELETE was applied: `value` is empty, the time still orders
  int64_t ts_ms = 0;      // exchange time of the last applied exchange
  std::string value;      // the domain object as JSON text
};

// Hash of std::string and std::string_view alike, so maps keyed by std::string are searched
// with a view (no string built per lookup).
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

// The hash the stores index `encoded_key` by. A caller that passes one key to the prefetch
// steps (StateStore::Prefetch, PrefetchEntry, PrefetchState) hashes it once and passes the
// hash to each: the changelog stage hashed the same key five times per exchange.
inline uint64_t StateKeyHash(std::string_view encoded_key) { return std::hash<std::string_view>()(encoded_key); }

// A state in its storage encoding (EncodeState: flag, time, JSON text), immutable and shared:
// the changelog stage, the pass overlay, the state-topic records, the deferred RocksDB writes
// and the hot-key cache all hold the same object instead of copies of the text.
class EncodedState {
 public:
  // A copy of `bytes` (a valid encoding), in one allocation with the shared_ptr's control
  // block (the text follows them): one heap allocation per stored state instead of two.
  static std::shared_ptr<const EncodedState> Copy(std::string_view bytes);
  static std::shared_ptr<const EncodedState> Make(const StoredState& state);
  // Null when `bytes` is not a valid encoding.
  static std::shared_ptr<const EncodedState> FromBytes(std::string_view bytes);

  bool deleted() const { return bytes_[0] == 'd'; }
  int64_t ts_ms() const {  // 8 bytes big-endian after the flag; read per exchange, so inline
    uint64_t ts = 0;
    for (size_t i = 1; i < kHeaderBytes; ++i) ts = (ts << 8) | static_cast<unsigned char>(bytes_[i]);
    return static_cast<int64_t>(ts);
  }
  std::string_view value() const { return bytes_.substr(kHeaderBytes); }
  std::string_view bytes() const { return bytes_; }
  StoredState ToStored() const { return StoredState{deleted(), ts_ms(), std::string(value())}; }

  static constexpr size_t kHeaderBytes = 9;

  // For Copy's allocation only: the text is at `*at` (after the control block).
  struct InPlace {
    char* const* at;
    std::string_view bytes;
  };
  explicit EncodedState(const InPlace& in);
  EncodedState(const EncodedState&) = delete;
  EncodedState& operator=(const EncodedState&) = delete;

 private:
  std::string_view bytes_;  // in the same allocation as this object
};
using StatePtr = std::shared_ptr<const EncodedState>;

// Appends the encoding's header (flag and time); the JSON text follows it.
void AppendStateHeader(bool deleted, int64_t ts_ms, std::string* out);

// One entry of an atomic batch: the state of EncodeKey(resource, key), or, when `state` is
// null, that the key has no state any more (forgotten, as by ClearResource; the state topic's
// tombstones).
struct StateWrite {
  StateWrite(std::string key, StatePtr s) : encoded_key(std::move(key)), state(std::move(s)) {}
  StateWrite(std::string key, const StoredState& s) : encoded_key(std::move(key)), state(EncodedState::Make(s)) {}
  std::string encoded_key;
  StatePtr state;  // null: forget the key
};

// A store that keeps the open pass's uncommitted states in its own map, next to the
// committed ones (the RocksDB store: state_cache.h). TxnStateStore uses it when the store
// offers one: the changelog stage's read and write of a key then cost one hash lookup
// instead of one in the overlay's index and another in the store's map, and a commit pins
// the entries it already holds. Semantics as TxnStateStore documents them.
class PassOverlay {
 public:
  virtual ~PassOverlay() = default;
  virtual Result<StatePtr> PassLookup(std::string_view encoded_key) = 0;
  virtual Status PassStore(std::string_view encoded_key, StatePtr state) = 0;
  // A hint: the key is about to be looked up (StateStore::Prefetch), and its later steps
  // (StateStore::PrefetchEntry, PrefetchState); `hash` = StateKeyHash(encoded_key).
  virtual void PassPrefetch(std::string_view /*encoded_key*/, uint64_t /*hash*/) {}
  virtual void PassPrefetchEntry(std::string_view /*encoded_key*/, uint64_t /*hash*/) {}
  virtual void PassPrefetchState(std::string_view /*encoded_key*/, uint64_t /*hash*/) {}
  virtual std::vector<StateWrite> PassPending() = 0;
  // Never loses the pass: its states are committed in the map even when writing them to the
  // store fails (they stay pending and are written later).
  virtual Status PassCommit(std::string_view checkpoint, int64_t offset) = 0;
  virtual void PassDiscard() = 0;
  // The frozen generation (TxnStateStore::Freeze): the pass's states set apart while it
  // commits, seen by lookups under the next pass's states; committed or discarded on its own.
  virtual void PassFreeze() = 0;
  virtual Status FrozenCommit(std::string_view checkpoint, int64_t offset) = 0;
  virtual void FrozenDiscard() = 0;
  // Gives the overlay back (TxnStateStore's destructor); the open pass is discarded.
  virtual void ReleasePassOverlay() = 0;
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  // The store's own pass overlay, for one TxnStateStore at a time: null when the store has
  // none or another TxnStateStore holds it (that one then works with its own overlay).
  virtual PassOverlay* ClaimPassOverlay() { return nullptr; }
  // Applies every write and sets checkpoint `checkpoint` (when not empty) to `offset`, all or
  // nothing (RocksDB: one WriteBatch). Exactly-once processing stores with the states the log
  // offset they correspond to.
  virtual Status Apply(const std::vector<StateWrite>& writes, std::string_view checkpoint, int64_t offset) = 0;
  // The offset last stored under `checkpoint`, or nullopt.
  virtual Result<std::optional<int64_t>> Checkpoint(std::string_view checkpoint) = 0;
  // The state stored under `encoded_key` (EncodeKey), shared; null when there is none.
  virtual Result<StatePtr> Lookup(std::string_view encoded_key) = 0;
  // Lookup of each of `keys`, into (*out)[i]; the first error ends it. A store can read the
  // keys it has to fetch in one batch (RocksDB: one sorted MultiGet).
  virtual Status LookupMany(const std::vector<std::string_view>& keys, std::vector<StatePtr>* out);
  // A hint that `encoded_key` is about to be looked up: a store can start fetching what the
  // lookup will read. No effect on any answer. `hash` is StateKeyHash(encoded_key) (here and
  // in the later steps): computed once by the caller.
  virtual void Prefetch(std::string_view /*encoded_key*/, uint64_t /*hash*/) {}
  // The same hint's later steps, for a caller that can space them out: a lookup follows a
  // chain (index bucket, the key's entry, its state), one cache miss after the other. Some
  // time after Prefetch, PrefetchEntry fetches the entry (reading the bucket Prefetch
  // fetched); some time after that, PrefetchState fetches the state. Called too soon, a step
  // waits for the one before. No effect on any answer.
  virtual void PrefetchEntry(std::string_view /*encoded_key*/, uint64_t /*hash*/) {}
  virtual void PrefetchState(std::string_view /*encoded_key*/, uint64_t /*hash*/) {}
  // Stores `state` (not null) under `encoded_key` at once (no checkpoint).
  virtual Status Store(std::string_view encoded_key, StatePtr state) = 0;
  // Keys of `resource` that are not deleted, in byte order, strictly after `after`, at most
  // `limit` of them.
  virtual Result<std::vector<std::string>> List(std::string_view resource, std::string_view after,
                                                size_t limit) = 0;
  // Forgets every key of `resource`, deleted ones included (a rebuild from history starts
  // from nothing: a kept deletion time would make the replayed exchanges "out of order").
  // Stores that cannot do it answer kUnsupported.
  virtual Status ClearResource(std::string_view resource) {
    return Status(ErrorCode::kUnsupported, "this state store cannot clear resource " + std::string(resource));
  }

  // Lookup and Store by resource and key, with copies (admin API, replay, tests).
  Result<std::optional<StoredState>> Get(std::string_view resource, std::string_view key);
  Status Put(std::string_view resource, std::string_view key, const StoredState& state);
};

class MemoryStateStore final : public StateStore {
 public:
  Result<StatePtr> Lookup(std::string_view encoded_key) override;
  Status Store(std::string_view encoded_key, StatePtr state) override;
  Result<std::vector<std::string>> List(std::string_view resource, std::string_view after, size_t limit) override;
  Status Apply(const std::vector<StateWrite>& writes, std::string_view checkpoint, int64_t offset) override;
  Result<std::optional<int64_t>> Checkpoint(std::string_view checkpoint) override;
  Status ClearResource(std::string_view resource) override;

 private:
  std::mutex mu_;
  std::map<std::string, StatePtr, std::less<>> states_;  // EncodeKey(resource, key)
  std::map<std::string, int64_t, std::less<>> checkpoints_;
};

struct RocksStateOptions {
  // Bound of the in-memory cache of hot keys' states (state_cache.h); 0 = no cache. 48 MiB:
  // with 64 the server passed 256 MB of peak RSS once millions of keys filled every bounded
  // part at once (docs/ingest-performance.md, "Peak RSS at scale").
  size_t cache_bytes = size_t{48} << 20;
  // Writes with a checkpoint are deferred until this many bytes of them wait, or this long
  // after the last RocksDB write (rocks_state_store.cc); 0 bytes = written at once.
  size_t defer_bytes = size_t{4} << 20;
  int64_t defer_ms = 1000;
  // RocksDB memory of the store (processing.state_memory_bytes): half for write buffers (two
  // memtables of a quarter each), half for a block cache that holds the table files' data,
  // index and filter blocks.
  size_t rocksdb_memory_bytes = size_t{16} << 20;
  // Bytes per second RocksDB's flushes and compactions may write (processing.
  // state_write_rate_bytes; 0 = unlimited), synced every 256 KiB as they go. Unlimited, a flush
  // wrote its ~3 MB table file in ~7 ms of CPU and then synced it at once; the device then
  // served that burst before the journal's next fdatasync, and every durable append and pass
  // commit of those ~10 ms waited (docs/ingest-performance.md, "The half-rate tail: the
  // state store's flushes").
  size_t write_rate_bytes = size_t{48} << 20;
  // Deferred writes (defer_bytes > 0) go to RocksDB on the store's own thread, so the commit
  // that reaches a limit does not wait for a multi-megabyte WriteBatch (the pipeline's pass
  // does not stall behind it; docs/ingest-performance.md "Half-rate latency"). The states stay
  // pinned and readable in the map until written.
  bool background_writes = true;
  // Bytes of one WriteBatch of deferred states (several per write, the checkpoints in the
  // last: rocks_state_store.cc WriteSorted); 0 = a quarter of a memtable. For tests.
  size_t write_batch_bytes = 0;
};

// Opens (creating) a RocksDB state store in `dir`. Errors: kIoError with RocksDB's message.
Result<std::unique_ptr<StateStore>> OpenRocksStateStore(const std::string& dir, const RocksStateOptions& options = {});

// Storage encoding, shared by both stores (exposed for tests): key = resource '\0' key;
// value = flag byte ('d' deleted / 's' state), 8-byte big-endian ts_ms, JSON text.
std::string EncodeKey(std::string_view resource, std::string_view key);
std::string EncodeState(const StoredState& state);
std::optional<StoredState> DecodeState(std::string_view bytes);
// Where checkpoint `name` is stored: a key no resource can have (resource names are not empty).
std::string CheckpointKey(std::string_view name);

}  // namespace ec::cdc
