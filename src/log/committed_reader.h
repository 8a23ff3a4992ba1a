#pragma once
// Reading a partition the way a read_committed consumer does, inside the process: records of
// aborted transactions and control markers are skipped, and nothing at or past the last
// stable offset is returned. Exactly-once recovery (state store catch-up) and the ingest
// dedupe index read the log this way.

#include <cstdint>
#include <functional>

#include "base/status.h"
#include "log/partition_log.h"
#include "log/record_batch.h"

namespace ec::log {

using CommittedRecordFn = std::function<Status(const RecordBatchView& batch, const Record& record)>;

// Calls `fn` for each committed data record of `log` with offset in [from, min(to, LSO)), in
// offset order. `*next` (optional) receives the offset after the last batch read (where the
// next call should start). A gap below the log start offset is skipped. Errors: IoError
// (storage), or the first error `fn` returns.
Status ForEachCommittedRecord(const PartitionLog& log, int64_t from, int64_t to, const CommittedRecordFn& fn,
                              int64_t* next = nullptr);

}  // namespace ec::log
