#pragma once
// An Env for a RocksDB whose flushes and compactions skip RocksDB's per-thread perf counters.
//
// RocksDB counts every key comparison, block read and memtable step in a thread-local perf
// context unless the running thread's perf level says not to, and the level is per thread, so
// a DB option cannot turn it off on RocksDB's own background threads. Debian's librocksdb is a
// shared library: each counter is a __tls_get_addr call plus the context's TLS init check
// (callgrind, bench_cdc BM_StateStoreWrites, 800,000 states: the flush thread 2,207M -> 2,132M
// instructions, -3.4%; the compaction thread 3,701M -> 3,504M, -5.3%). Nothing here reads
// those counts. This Env runs each background job (a flush or a compaction) with the perf level
// at kDisable; files, clocks and threads are the wrapped Env's. The level stays with the pool
// thread after the job (RocksDB's pools are the process's, shared with the dedupe index), so
// other DBs' jobs on that thread run uncounted too; nothing reads their counts either. The writer thread of the state
// store does the same for its own inserts (rocks_state_store.cc, RunWriter).

#include <memory>

namespace rocksdb {
class Env;
}

namespace ec::rocks {

// Wraps `base` (not owned; RocksDB's Env::Default() lives for the process). The Env must outlive
// every DB opened with it.
std::unique_ptr<rocksdb::Env> NewUncountedJobsEnv(rocksdb::Env* base);

}  // namespace ec::rocks
