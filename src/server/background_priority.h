#pragma once
// The server's background work (RocksDB's flushes and compactions of the changelog state
// store and the dedupe index) runs at the lowest CPU priority, so on a machine with few cores
// it takes the CPU only when the threads that carry a record to its topic (ec-http,
// ec-pipeline, ec-commit, ec-log-sync) do not want it. Its work is the same; it is done in
// the gaps instead of delaying a pass. docs/ingest-performance.md, "The half-rate tail".

namespace ec::server {

// Applies to RocksDB's default Env (both pools), which both databases use. Called once at
// startup, before they open. EC_ROCKSDB_BACKGROUND_PRIORITY=normal in the environment leaves
// the priorities alone (A/B measurements).
void LowerRocksDbBackgroundPriority();

}  // namespace ec::server
