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

void RecordBatchBuilder::Reserve(size_t record_bytes) {
  records_.reserve(kBatchHeaderSize + record_bytes);
  if (records_.empty()) records_.assign(kBatchHeaderSize, '\0');
}

void RecordBatchBuilder::Reserve(size_t record_bytes, std::string buffer) {
  if (records_.empty()) {
    records_ = std::move(buffer);
    records_.clear();
  }
  Reserve(record_bytes);
}

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
  // The record is written in place after its length, which is computed first: no temporary
  // per record, and the batch header's room is kept at the front (Build fills it in).
  auto nullable_size = [](std::optional<std::string_view> v) {
    return v ? bytes::VarintSize(static_cast<int64_t>(v->size())) + v->size() : size_t{1};
  };
  const int64_t ts_delta = timestamp_ms - first_timestamp_;
  size_t body = 1 + bytes::VarintSize(ts_delta) + bytes::VarintSize(offset_delta) + nullable_size(key) +
                nullable_size(value) + bytes::VarintSize(static_cast<int64_t>(headers.size()));
  for (const RecordHeader& h : headers) {
    body += bytes::VarintSize(static_cast<int64_t>(h.key.size())) + h.key.size() + nullable_size(h.value);
  }
  if (records_.empty()) records_.assign(kBatchHeaderSize, '\0');
  bytes::PutVarint(&records_, static_cast<int64_t>(body));
  records_.push_back(0);  // record attributes (unused)
  bytes::PutVarint(&records_, ts_delta);
  bytes::PutVarint(&records_, offset_delta);
  PutNullable(&records_, key);
  PutNullable(&records_, value);
  bytes::PutVarint(&records_, static_cast<int64_t>(headers.size()));
  for (const RecordHeader& h : headers) {
    bytes::PutVarint(&records_, static_cast<int64_t>(h.key.size()));
    records_.append(h.key);
    PutNullable(&records_, h.value);
  }
  ++count_;
}

void RecordBatchBuilder::AddEncoded(int64_t timestamp_ms, std::string_view encoded) {
  const int32_t offset_delta = ++last_delta_;
  if (count_ == 0) first_timestamp_ = timestamp_ms;
  if (timestamp_ms > max_timestamp_) max_timestamp_ = timestamp_ms;
  const int64_t ts_delta = timestamp_ms - first_timestamp_;
  const size_t body = 1 + bytes::VarintSize(ts_delta) + bytes::VarintSize(offset_delta) + encoded.size();
  if (records_.empty()) records_.assign(kBatchHeaderSize, '\0');
  // At most 5 + 1 + 10 + 5 bytes before the record's own.
  char prefix[24];
  char* p = prefix;
  auto put = [&p](int64_t v) {
    uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
    while (z >= 0x80) {
      *p++ = static_cast<char>((z & 0x7F) | 0x80);
      z >>= 7;
    }
    *p++ = static_cast<char>(z);
  };
  put(static_cast<int64_t>(body));
  *p++ = 0;  // record attributes (unused)
  put(ts_delta);
  put(offset_delta);
  // Two appends: the buffer was reserved for the batch (Reserve), so neither reallocates.
  records_.append(prefix, static_cast<size_t>(p - prefix));
  records_.append(encoded);
  ++count_;
}

Result<std::string> RecordBatchBuilder::Build() {
  if (count_ == 0) return InvalidArgument("a record batch needs at least one record");
  std::string out;
  if (options_.compression == Compression::kNone) {
    // The records already sit behind the header's room: the batch is that buffer, not a copy.
    out = std::move(records_);
  } else {
    out.assign(kBatchHeaderSize, '\0');
    EC_RETURN_IF_ERROR(Compress(options_.compression, std::string_view(records_).substr(kBatchHeaderSize), &out));
  }
  int16_t attrs = static_cast<int16_t>(options_.compression);
  if (options_.transactional) attrs |= kAttrTransactional;
  if (options_.control) attrs |= kAttrControl;
  const bool append_time = options_.timestamp_type == TimestampType::kLogAppendTime;
  if (append_time) attrs |= kAttrTimestampType;
  const int32_t last_delta = options_.last_offset_delta >= 0 ? options_.last_offset_delta : last_delta_;
  char* h = out.data();
  bytes::StoreBe(h, static_cast<uint64_t>(options_.base_offset), 8);
  bytes::StoreBe(h + 8, out.size() - kBatchLengthFieldEnd, 4);  // batchLength
  bytes::StoreBe(h + 12, static_cast<uint32_t>(options_.partition_leader_epoch), 4);
  h[16] = kMagicV2;
  bytes::StoreBe(h + 17, 0, 4);  // crc, set below
  bytes::StoreBe(h + 21, static_cast<uint16_t>(attrs), 2);
  bytes::StoreBe(h + 23, static_cast<uint32_t>(last_delta), 4);
  bytes::StoreBe(h + 27, static_cast<uint64_t>(first_timestamp_), 8);
  bytes::StoreBe(h + 35, static_cast<uint64_t>(append_time ? options_.log_append_time : max_timestamp_), 8);
  bytes::StoreBe(h + 43, static_cast<uint64_t>(options_.producer_id), 8);
  bytes::StoreBe(h + 51, static_cast<uint16_t>(options_.producer_epoch), 2);
  bytes::StoreBe(h + 53, static_cast<uint32_t>(options_.base_sequence), 4);
  bytes::StoreBe(h + 57, static_cast<uint32_t>(count_), 4);
  static_assert(kBatchHeaderSize == 61, "the header's fields above fill it exactly");
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
