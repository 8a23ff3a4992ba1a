#pragma once
// RecordBatchBuilder: makes RecordBatch v2 bytes from records (the pipeline writes its events
// this way; tests make fixtures with it). Not thread-safe; one builder per batch.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "log/compression.h"
#include "log/record_batch.h"

namespace ec::log {

struct BatchBuilderOptions {
  Compression compression = Compression::kNone;
  int64_t base_offset = 0;  // the broker reassigns it on append
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  bool transactional = false;
  bool control = false;
  int32_t partition_leader_epoch = -1;
  // kLogAppendTime: the batch carries `log_append_time` as its max timestamp (and every
  // record's timestamp). Used when compaction rewrites such a batch.
  TimestampType timestamp_type = TimestampType::kCreateTime;
  int64_t log_append_time = -1;
  // >= 0: force lastOffsetDelta (compaction keeps a batch's original offset range).
  int32_t last_offset_delta = -1;
};

class RecordBatchBuilder {
 public:
  explicit RecordBatchBuilder(BatchBuilderOptions options = {});

  // Adds one record; nullopt key/value encode null (a null value is a tombstone).
  void Add(std::optional<std::string_view> key, std::optional<std::string_view> value,
           int64_t timestamp_ms, std::span<const RecordHeader> headers = {});

  // Adds a record with an explicit offset delta (deltas must increase); compaction keeps the
  // original offsets of the records it retains.
  void AddWithOffsetDelta(int32_t offset_delta, std::optional<std::string_view> key,
                          std::optional<std::string_view> value, int64_t timestamp_ms,
                          std::span<const RecordHeader> headers = {});

  // Adds one record given as its bytes from the key's length on (keyLength key valueLength
  // value headerCount headers, as Add would write them), e.g. pipeline::OutputRecord::encoded():
  // only the batch-relative fields before them (length, attributes, timestamp and offset
  // deltas) are written, then the bytes are copied as they are. They are not checked.
  void AddEncoded(int64_t timestamp_ms, std::string_view encoded);

  // Makes room for about `record_bytes` of encoded records, so adding them does not grow the
  // buffer step by step (a writer that knows its records' sizes calls it first).
  void Reserve(size_t record_bytes);
  // The same, writing into `buffer` (its content dropped, its capacity kept): a writer that
  // keeps the buffers of the batches it built before (Build() hands the buffer out as the
  // batch) reuses their memory instead of fresh pages each time.
  void Reserve(size_t record_bytes, std::string buffer);

  size_t record_count() const { return count_; }
  // Uncompressed size of the records so far plus the batch header.
  size_t uncompressed_size() const { return records_.empty() ? kBatchHeaderSize : records_.size(); }
  bool empty() const { return count_ == 0; }

  // The finished batch (CRC set). Fails when empty or when compression fails.
  // The builder is reset and reusable afterwards.
  Result<std::string> Build();

  // A control batch with one commit/abort marker for a transactional producer.
  static std::string MakeControlBatch(int64_t producer_id, int16_t producer_epoch, ControlType type,
                                      int32_t coordinator_epoch, int64_t timestamp_ms);

 private:
  BatchBuilderOptions options_;
  std::string records_;  // room for the batch header, then the encoded records (uncompressed)
  size_t count_ = 0;
  int64_t first_timestamp_ = 0;
  int64_t max_timestamp_ = -1;
  int32_t last_delta_ = -1;
};

}  // namespace ec::log
