#include "log/producer_state.h"

#include <algorithm>

namespace ec::log {
namespace {

int32_t NextSeq(int32_t seq) { return seq == INT32_MAX ? 0 : seq + 1; }

}  // namespace

SequenceCheck ProducerStateTable::Check(int64_t pid, int16_t epoch, int32_t first_seq,
                                        int32_t last_seq) const {
  SequenceCheck out;
  auto it = producers_.find(pid);
  if (it == producers_.end() || it->second.batches.empty()) {
    // Unknown producer (or state expired/retained away): Kafka accepts any sequence from a
    // producer whose state is gone rather than failing it forever; sequence 0 is the norm.
    if (it != producers_.end() && epoch < it->second.epoch) out.error = LogError::kInvalidProducerEpoch;
    return out;
  }
  const ProducerEntry& p = it->second;
  if (epoch < p.epoch) {
    out.error = LogError::kInvalidProducerEpoch;
    return out;
  }
  if (epoch > p.epoch) {
    if (first_seq != 0) out.error = LogError::kOutOfOrderSequence;
    return out;
  }
  for (const ProducerBatch& b : p.batches) {
    if (b.first_seq == first_seq && b.last_seq == last_seq) {
      out.duplicate_of = b;
      return out;
    }
  }
  if (first_seq != NextSeq(p.batches.back().last_seq)) out.error = LogError::kOutOfOrderSequence;
  return out;
}

void ProducerStateTable::Update(const RecordBatchView& batch) {
  UpdateFields(batch.producer_id(), batch.producer_epoch(), batch.base_sequence(),
               batch.last_sequence(), batch.base_offset(), batch.last_offset(),
               batch.max_timestamp(), batch.attributes());
}

void ProducerStateTable::UpdateFields(int64_t pid, int16_t epoch, int32_t first_seq,
                                      int32_t last_seq, int64_t first_offset, int64_t last_offset,
                                      int64_t max_timestamp, int16_t attributes) {
  if (pid < 0) return;
  ProducerEntry& p = producers_[pid];
  if (epoch != p.epoch) {
    p.epoch = epoch;
    p.batches.clear();
  }
  p.last_timestamp = max_timestamp;
  if (attributes & kAttrControl) {
    p.txn_first_offset.reset();
    return;
  }
  if ((attributes & kAttrTransactional) && !p.txn_first_offset) p.txn_first_offset = first_offset;
  if (first_seq < 0) return;
  p.batches.push_back({first_seq, last_seq, first_offset, last_offset, max_timestamp});
  while (p.batches.size() > kProducerBatchesKept) p.batches.pop_front();
}

void ProducerStateTable::Expire(int64_t expire_before_ms) {
  for (auto it = producers_.begin(); it != producers_.end();) {
    if (it->second.last_timestamp < expire_before_ms && !it->second.txn_first_offset)
      it = producers_.erase(it);
    else
      ++it;
  }
}

std::vector<int64_t> ProducerStateTable::Ids() const {
  std::vector<int64_t> ids;
  for (const auto& [pid, p] : producers_) ids.push_back(pid);
  std::sort(ids.begin(), ids.end());
  return ids;
}

const ProducerEntry* ProducerStateTable::Find(int64_t pid) const {
  auto it = producers_.find(pid);
  return it == producers_.end() ? nullptr : &it->second;
}

std::optional<int64_t> ProducerStateTable::FirstUnstableOffset() const {
  std::optional<int64_t> first;
  for (const auto& [pid, p] : producers_) {
    if (p.txn_first_offset && (!first || *p.txn_first_offset < *first)) first = p.txn_first_offset;
  }
  return first;
}

}  // namespace ec::log
