#pragma once
// Idempotent-producer state of one partition: per producer id, its epoch and the last few
// batches' sequence ranges, so a retried batch is recognised and answered with its original
// offsets. Rebuilt on open by scanning the tail of the log (the last batches of each producer
// are in the log itself). Not thread-safe: PartitionLog guards it with its append lock.

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "log/log_error.h"
#include "log/record_batch.h"

namespace ec::log {

inline constexpr size_t kProducerBatchesKept = 5;  // Kafka's max.in.flight for idempotence

struct ProducerBatch {
  int32_t first_seq = 0;
  int32_t last_seq = 0;
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  int64_t timestamp = 0;
};

struct ProducerEntry {
  int16_t epoch = -1;
  std::deque<ProducerBatch> batches;           // newest last, at most kProducerBatchesKept
  std::optional<int64_t> txn_first_offset;     // open transaction's first offset
  int64_t last_timestamp = 0;
};

struct SequenceCheck {
  LogError error = LogError::kNone;
  // Set when the batch is a duplicate of one already in the log: answer with these offsets.
  std::optional<ProducerBatch> duplicate_of;
};

class ProducerStateTable {
 public:
  // Checks a batch from producer `pid` before it is appended. Kafka's rules: a newer epoch
  // must start at sequence 0; an older epoch is fenced; a sequence equal to one of the last 5
  // batches is a duplicate; otherwise it must follow the last sequence by exactly one.
  SequenceCheck Check(int64_t pid, int16_t epoch, int32_t first_seq, int32_t last_seq) const;
  // Records an appended batch (its offsets assigned).
  void Update(const RecordBatchView& batch);
  // Same, from header fields (recovery reads headers only).
  void UpdateFields(int64_t pid, int16_t epoch, int32_t first_seq, int32_t last_seq,
                    int64_t first_offset, int64_t last_offset, int64_t max_timestamp,
                    int16_t attributes);
  // Drops producers whose last batch is older than `expire_before_ms`.
  void Expire(int64_t expire_before_ms);
  const ProducerEntry* Find(int64_t pid) const;
  // Offset of the earliest open transaction (for the last stable offset); nullopt if none.
  std::optional<int64_t> FirstUnstableOffset() const;
  size_t size() const { return producers_.size(); }
  // Every producer id with state, ascending.
  std::vector<int64_t> Ids() const;
  void Clear() { producers_.clear(); }

 private:
  std::unordered_map<int64_t, ProducerEntry> producers_;
};

}  // namespace ec::log
