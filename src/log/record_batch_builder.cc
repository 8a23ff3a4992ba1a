#include "log/record_batch_builder.h"

#include "log/bytes.h"

namespace ec::log {
namespace {

void PutNullable(std::string* out, std::optional<std::string_view> v) {
  if (!v) {
    bytes::PutVarint(out, -1);
    return;
  }
  bytes::PutVarint(out, static_cast<int64_t>(v->size()));
  out->append(*v);
}

}  // namespace

RecordBatchBuilder::RecordBatchBuilder(BatchBuilderOptions options) : options_(options) {}

void RecordBatchBuilder::Add(std::optional<std::string_view> key,
                             std::optional<std::string_view> value, int64_t timestamp_ms,
                             std::span<const RecordHeader> headers) {
  AddWithOffsetDelta(last_delta_ + 1, key, value, timestamp_ms, headers);
}

void RecordBatchBuilder::AddWithOffsetDelta(int32_t offset_delta,
                                            std::optional<std::string_view> key,
                                            std::optional<std::string_view> value,
                                            int64_t timestamp_ms,
                                            std::span<const RecordHeader> headers) {
  last_delta_ = offset_delta;
  if (count_ == 0) first_timestamp_ = timestamp_ms;
  if (timestamp_ms > max_timestamp_) max_timestamp_ = timestamp_ms;
  std::string body;
  body.push_back(0);  // record attributes (unused)
  bytes::PutVarint(&body, timestamp_ms - first_timestamp_);
  bytes::PutVarint(&body, offset_delta);
  PutNullable(&body, key);
  PutNullable(&body, value);
  bytes::PutVarint(&body, static_cast<int64_t>(headers.size()));
  for (const RecordHeader& h : headers) {
    bytes::PutVarint(&body, static_cast<int64_t>(h.key.size()));
    body.append(h.key);
    PutNullable(&body, h.value);
  }
  bytes::PutVarint(&records_, static_cast<int64_t>(body.size()));
  records_.append(body);
  ++count_;
}

Result<std::string> RecordBatchBuilder::Build() {
  if (count_ == 0) return InvalidArgument("a record batch needs at least one record");
  std::string out;
  out.reserve(kBatchHeaderSize + records_.size());
  bytes::PutBe(&out, static_cast<uint64_t>(options_.base_offset), 8);
  bytes::PutBe(&out, 0, 4);  // batchLength, set below
  bytes::PutBe(&out, static_cast<uint32_t>(options_.partition_leader_epoch), 4);
  out.push_back(kMagicV2);
  bytes::PutBe(&out, 0, 4);  // crc, set below
  int16_t attrs = static_cast<int16_t>(options_.compression);
  if (options_.transactional) attrs |= kAttrTransactional;
  if (options_.control) attrs |= kAttrControl;
  const bool append_time = options_.timestamp_type == TimestampType::kLogAppendTime;
  if (append_time) attrs |= kAttrTimestampType;
  bytes::PutBe(&out, static_cast<uint16_t>(attrs), 2);
  int32_t last_delta = options_.last_offset_delta >= 0 ? options_.last_offset_delta : last_delta_;
  bytes::PutBe(&out, static_cast<uint32_t>(last_delta), 4);
  bytes::PutBe(&out, static_cast<uint64_t>(first_timestamp_), 8);
  bytes::PutBe(&out, static_cast<uint64_t>(append_time ? options_.log_append_time : max_timestamp_), 8);
  bytes::PutBe(&out, static_cast<uint64_t>(options_.producer_id), 8);
  bytes::PutBe(&out, static_cast<uint16_t>(options_.producer_epoch), 2);
  bytes::PutBe(&out, static_cast<uint32_t>(options_.base_sequence), 4);
  bytes::PutBe(&out, static_cast<uint32_t>(count_), 4);
  EC_RETURN_IF_ERROR(Compress(options_.compression, records_, &out));
  bytes::StoreBe(out.data() + 8, out.size() - kBatchLengthFieldEnd, 4);
  RecordBatchView::UpdateCrc(out.data(), out.size());
  records_.clear();
  count_ = 0;
  max_timestamp_ = -1;
  last_delta_ = -1;
  return out;
}

std::string RecordBatchBuilder::MakeControlBatch(int64_t producer_id, int16_t producer_epoch,
                                                 ControlType type, int32_t coordinator_epoch,
                                                 int64_t timestamp_ms) {
  BatchBuilderOptions o;
  o.producer_id = producer_id;
  o.producer_epoch = producer_epoch;
  o.transactional = true;
  o.control = true;
  RecordBatchBuilder b(o);
  std::string key, value;
  bytes::PutBe(&key, 0, 2);
  bytes::PutBe(&key, static_cast<uint16_t>(type), 2);
  bytes::PutBe(&value, 0, 2);
  bytes::PutBe(&value, static_cast<uint32_t>(coordinator_epoch), 4);
  b.Add(key, value, timestamp_ms);
  return std::move(b.Build()).value();
}

}  // namespace ec::log
