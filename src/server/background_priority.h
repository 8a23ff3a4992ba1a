#pragma once
// Lowers the CPU priority (raises the nice value) of the server's background threads, found by
// name: RocksDB's flush and compaction pools, the state store's writer and the commit
// journal's checkpointer. Their work comes in bursts (a memtable flush is ~100 ms of CPU) that
// take a core from the threads a record waits on (ec-http, ec-pipeline, ec-commit, ec-log-sync)
// on a two-core machine; at a higher nice value they still get every idle cycle.
// Raising a thread's nice value needs no privilege. Linux only (per-thread nice values).

namespace ec::server {

// Sets nice = `nice` on every live thread of this process whose name starts with one of the
// background prefixes and whose nice value is lower. Returns how many threads it changed.
// Cheap enough to call once a second (a scan of /proc/self/task): threads started later
// (RocksDB starts its pools with the first DB) are caught on the next call.
int LowerBackgroundThreads(int nice);

}  // namespace ec::server
