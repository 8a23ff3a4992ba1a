#pragma once
// A RocksDB memtable representation for writes that come in sorted batches (the ingest dedupe
// index: each indexing round puts its ids in key order, src/server/dedupe_index.cc; the
// changelog state store's writer, src/cdc/rocks_state_store.cc, writes each job's states in key order).
//
// RocksDB's skip list paid ~7,300 instructions per 17-byte id on the ec-dedupe thread (callgrind,
// 80,000-id memtables, sorted batches of 10,000 with an insert hint): Debian 12's librocksdb
// 7.8.3 is built without NDEBUG, so every insert also runs InlineSkipList's assertions, four
// key comparisons per level of the list, and each comparison is two virtual calls and a memcmp.
// Here an insert that continues the batch's order is one comparison and a store: the memtable
// is a few sorted runs (a run ends where a key is not greater than the one before it), and
// runs are merged as they close so that no run is more than half the size of the one before
// it (O(log n) runs, O(n log n) merging in all, with the first half of a merge a plain copy when
// the two runs do not overlap). An immutable memtable (its flush) is merged into one run once.
//
// What RocksDB stores, reads and recovers is unchanged: this is how a memtable holds its entries
// in memory between a write and its flush (the same entries, the same comparator, the same
// order when iterated). Readers run concurrently with the one writer (RocksDB's memtable
// contract without concurrent inserts; IsInsertConcurrentlySupported is false, so the DB must
// set allow_concurrent_memtable_write = false): they take a snapshot of the runs under a mutex
// (runs are immutable once closed, shared by reference count; the open run is only appended
// to, its length published with release order), so neither side waits for the other's work.
// Point lookups (MemTable::Get through MemTableRep::Get's default, a Seek and Next) search each
// run, and the iterator the default makes is deleted when it returns (RocksDB 7.8.3's default
// leaks it; the .cc says how); other iterators merge the snapshot into one sorted array first (flushes, DB iterators).

#include <cstdint>
#include <memory>

namespace rocksdb {
class MemTableRep;
class MemTableRepFactory;
}

namespace ec::rocks {

// bytewise_keys: the DB's comparator is RocksDB's default (BytewiseComparator), so the memtable
// may compare internal keys itself instead of through RocksDB's comparator (checked on sample
// keys when each memtable is made; a comparator that orders them otherwise is used as given).
std::shared_ptr<rocksdb::MemTableRepFactory> NewSortedRunMemTableFactory(bool bytewise_keys);
// For tests: whether `rep` (made by the factory above) compares keys itself.
bool SortedRunMemTableComparesItself(rocksdb::MemTableRep* rep);
// For tests: the memtables' iterators alive in this process (a point lookup must leave none).
int64_t SortedRunMemTableLiveIterators();

}  // namespace ec::rocks
