#pragma once
// Level-0 compaction triggers for a RocksDB whose keys are random (the state store's resource
// keys, the dedupe index's ids): every L0 file then overlaps all of L1, so each L0 compaction
// rewrites all of L1 and costs L1's size, whatever the L0 files hold. Merging sixteen L0 files
// at a time, not RocksDB's four, rewrites L1 a quarter as often and drops more superseded
// entries per merge: at 4,000,000 shop lines the two stores' compactions went from 41.2 to
// 16.3 CPU-s (docs/ingest-performance.md, "Round 15"). Each store's reads ask its own
// in-memory cache or filter first, then one pinned filter probe per L0 file. Writes slow down
// at 40 L0 files and stop at 56: RocksDB's 20 and 36 would throttle the writer before a
// sixteen-file compaction ends.

namespace rocksdb {
struct ColumnFamilyOptions;
}

namespace ec::rocks {

void SetRandomKeyLevelZeroTriggers(rocksdb::ColumnFamilyOptions* options);

}  // namespace ec::rocks
