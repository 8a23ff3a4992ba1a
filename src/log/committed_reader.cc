#include "log/committed_reader.h"

#include <algorithm>
#include <string>

namespace ec::log {

Status ForEachCommittedRecord(const PartitionLog& log, int64_t from, int64_t to, const CommittedRecordFn& fn,
                              int64_t* next) {
  int64_t offset = std::max(from, log.log_start_offset());
  const int64_t end = std::min(to, log.last_stable_offset());
  std::string bytes;
  ReadOptions ro;
  ro.isolation = IsolationLevel::kReadCommitted;
  while (offset < end) {
    ReadResult rr = log.Read(offset, 1 << 20, ro);
    if (rr.error == LogError::kOffsetOutOfRange) {
      // Retention moved the start past us: continue from the new start.
      offset = std::max(offset, log.log_start_offset());
      if (offset >= log.log_end_offset()) break;
      continue;
    }
    if (rr.error != LogError::kNone) return IoError("reading " + log.topic() + "-" + std::to_string(log.partition()) + ": " + rr.message);
    if (rr.total_bytes == 0) break;
    bytes.clear();
    EC_RETURN_IF_ERROR(rr.CopyTo(&bytes));
    int64_t before = offset;
    Status s = ForEachBatch(bytes, true, [&](const RecordBatchView& b) -> Status {
      if (b.base_offset() >= end) return Status::Ok();
      const int64_t batch_end = b.last_offset() + 1;
      if (b.is_control() || batch_end <= offset || log.IsAborted(b.producer_id(), b.base_offset())) {
        offset = std::max(offset, batch_end);
        return Status::Ok();
      }
      EC_RETURN_IF_ERROR(b.ForEachRecord([&](const Record& r) -> Status {
        if (r.offset < offset || r.offset >= end) return Status::Ok();
        return fn(b, r);
      }));
      offset = std::max(offset, batch_end);
      return Status::Ok();
    });
    EC_RETURN_IF_ERROR(s);
    if (offset == before) break;  // no progress (a partial batch at the end)
  }
  if (next != nullptr) *next = offset;
  return Status::Ok();
}

}  // namespace ec::log
