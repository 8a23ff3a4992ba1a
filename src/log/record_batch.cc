#include "log/record_batch.h"

#include "log/bytes.h"
#include "log/crc32c.h"

namespace ec::log {
namespace {

using bytes::LoadI16;
using bytes::LoadI32;
using bytes::LoadI64;

constexpr size_t kCrcOffset = 17;
constexpr size_t kAttributesOffset = 21;
constexpr size_t kMinBatchLength = kBatchHeaderSize - kBatchLengthFieldEnd;  // 49

Result<RecordBatchView> ParseImpl(std::string_view bytes, bool check_crc,
                                  RecordBatchView (*make)(std::string_view)) {
  if (bytes.size() < kBatchHeaderSize)
    return Corruption("record batch truncated: " + std::to_string(bytes.size()) +
                      " bytes, a v2 header needs 61");
  int32_t len = LoadI32(bytes.data() + 8);
  if (len < static_cast<int32_t>(kMinBatchLength))
    return Corruption("record batch length " + std::to_string(len) + " below the minimum 49");
  size_t total = kBatchLengthFieldEnd + static_cast<size_t>(len);
  if (bytes.size() < total)
    return Corruption("record batch truncated: length says " + std::to_string(total) +
                      " bytes, only " + std::to_string(bytes.size()) + " present");
  auto magic = static_cast<int8_t>(bytes[16]);
  if (magic != kMagicV2)
    return Unsupported("record batch magic " + std::to_string(magic) +
                       ": only v2 (magic 2) batches are accepted; upgrade the client");
  if (check_crc) {
    uint32_t want = static_cast<uint32_t>(LoadI32(bytes.data() + kCrcOffset));
    uint32_t got = Crc32c(bytes.substr(kAttributesOffset, total - kAttributesOffset));
    if (want != got) return Corruption("record batch CRC32C mismatch (stored " +
                                       std::to_string(want) + ", computed " +
                                       std::to_string(got) + ")");
  }
  return make(bytes.substr(0, total));
}

}  // namespace

std::optional<size_t> RecordBatchView::PeekSize(std::string_view bytes) {
  if (bytes.size() < kBatchLengthFieldEnd) return std::nullopt;
  int32_t len = LoadI32(bytes.data() + 8);
  if (len < 0) return kBatchLengthFieldEnd;  // garbage: callers then fail Parse
  return kBatchLengthFieldEnd + static_cast<size_t>(len);
}

Result<RecordBatchView> RecordBatchView::Parse(std::string_view bytes) {
  return ParseImpl(bytes, true, [](std::string_view b) { return RecordBatchView(b); });
}
Result<RecordBatchView> RecordBatchView::ParseTrusted(std::string_view bytes) {
  return ParseImpl(bytes, false, [](std::string_view b) { return RecordBatchView(b); });
}

int64_t RecordBatchView::base_offset() const { return LoadI64(bytes_.data()); }
int32_t RecordBatchView::partition_leader_epoch() const { return LoadI32(bytes_.data() + 12); }
int8_t RecordBatchView::magic() const { return static_cast<int8_t>(bytes_[16]); }
uint32_t RecordBatchView::crc() const { return static_cast<uint32_t>(LoadI32(bytes_.data() + 17)); }
int16_t RecordBatchView::attributes() const { return LoadI16(bytes_.data() + 21); }
int32_t RecordBatchView::last_offset_delta() const { return LoadI32(bytes_.data() + 23); }
int64_t RecordBatchView::base_timestamp() const { return LoadI64(bytes_.data() + 27); }
int64_t RecordBatchView::max_timestamp() const { return LoadI64(bytes_.data() + 35); }
int64_t RecordBatchView::producer_id() const { return LoadI64(bytes_.data() + 43); }
int16_t RecordBatchView::producer_epoch() const { return LoadI16(bytes_.data() + 51); }
int32_t RecordBatchView::base_sequence() const { return LoadI32(bytes_.data() + 53); }
int32_t RecordBatchView::record_count() const { return LoadI32(bytes_.data() + 57); }

int32_t RecordBatchView::last_sequence() const {
  int32_t base = base_sequence();
  if (base < 0) return -1;
  int64_t last = int64_t{base} + last_offset_delta();
  if (last > INT32_MAX) last -= int64_t{INT32_MAX} + 1;  // sequences wrap to 0
  return static_cast<int32_t>(last);
}

namespace {

// The records of a batch body, decoded one at a time into a caller's Record (whose headers
// vector keeps its capacity from record to record, so a walk allocates nothing per record).
class RecordDecoder {
 public:
  RecordDecoder(const RecordBatchView& batch, std::string_view body)
      : r_(body),
        base_(batch.base_offset()),
        base_ts_(batch.base_timestamp()),
        append_ts_(batch.timestamp_type() == TimestampType::kLogAppendTime ? batch.max_timestamp() : -1),
        log_append_time_(batch.timestamp_type() == TimestampType::kLogAppendTime) {}

  // Decodes record `i` (the next one) into `*rec`.
  Status Next(int32_t i, Record* rec) { return Walk</*kDecode=*/true>(i, rec); }

  // Whether record `i` (the next one) is well formed, as Next would find it, without
  // decoding it into a Record: ForEachRecord's first walk, which only decides whether the
  // batch is whole, writes no fields and no header vector (half of each record's decoding
  // was that walk's; the second walk decodes).
  Status Check(int32_t i) { return Walk</*kDecode=*/false>(i, nullptr); }

  size_t remaining() const { return r_.remaining(); }

 private:
  // One walk for both, so Next and Check accept exactly the same bytes: with kDecode it fills
  // `*rec`, without it only reads past each field.
  template <bool kDecode>
  Status Walk(int32_t i, Record* rec) {
    int64_t len;
    if (!r_.ReadVarint(&len) || len < 0 || static_cast<size_t>(len) > r_.remaining())
      return Corruption("record " + std::to_string(i) + ": bad length");
    std::string_view rec_bytes;
    (void)r_.ReadBytes(static_cast<size_t>(len), &rec_bytes);
    bytes::Reader rr(rec_bytes);
    int8_t attributes;
    int64_t ts_delta, off_delta, header_count;
    bool fields_ok = rr.ReadI8(&attributes) && rr.ReadVarint(&ts_delta) && rr.ReadVarint(&off_delta);
    if constexpr (kDecode) {
      fields_ok = fields_ok && rr.ReadNullable(&rec->key) && rr.ReadNullable(&rec->value);
    } else {
      fields_ok = fields_ok && rr.SkipNullable() && rr.SkipNullable();
    }
    if (!fields_ok || !rr.ReadVarint(&header_count) || header_count < 0 ||
        static_cast<size_t>(header_count) > rr.remaining())
      return Corruption("record " + std::to_string(i) + ": malformed fields");
    if constexpr (kDecode) {
      rec->attributes = attributes;
      rec->offset = base_ + off_delta;
      rec->timestamp = log_append_time_ ? append_ts_ : base_ts_ + ts_delta;
      rec->headers.clear();
      rec->headers.reserve(static_cast<size_t>(header_count));
    }
    for (int64_t h = 0; h < header_count; ++h) {
      int64_t klen;
      RecordHeader hdr;
      if (!rr.ReadVarint(&klen) || klen < 0 || !rr.ReadBytes(static_cast<size_t>(klen), &hdr.key))
        return Corruption("record " + std::to_string(i) + ": malformed header");
      if constexpr (kDecode) {
        if (!rr.ReadNullable(&hdr.value)) return Corruption("record " + std::to_string(i) + ": malformed header");
        rec->headers.push_back(hdr);
      } else {
        if (!rr.SkipNullable()) return Corruption("record " + std::to_string(i) + ": malformed header");
      }
    }
    if (rr.remaining() != 0) return Corruption("record " + std::to_string(i) + ": trailing bytes");
    return Status::Ok();
  }

  bytes::Reader r_;
  int64_t base_, base_ts_, append_ts_;
  bool log_append_time_;
};

}  // namespace

Status RecordBatchView::Body(size_t max_decompressed, std::string* storage, std::string_view* body,
                             int32_t* count) const {
  *body = bytes_.substr(kBatchHeaderSize);
  if (compression() != Compression::kNone) {
    EC_RETURN_IF_ERROR(Decompress(compression(), *body, max_decompressed, storage));
    *body = *storage;
  } else if (static_cast<int>(compression()) > 4) {
    return Corruption("unknown compression codec in batch attributes");
  }
  *count = record_count();
  if (*count < 0) return Corruption("negative record count");
  // Each record takes at least 7 bytes; refuse absurd counts before reserving.
  if (static_cast<size_t>(*count) > body->size() / 7 + 1)
    return Corruption("record count " + std::to_string(*count) + " larger than the batch");
  return Status::Ok();
}

Status RecordBatchView::ForEachRecord(const std::function<Status(const Record&)>& fn,
                                      size_t max_decompressed) const {
  // In place, without a RecordSet (a vector of records, each with its own headers vector): one
  // Record is reused. The whole batch is checked first, so `fn` sees no record of a batch that
  // turns out malformed (as when the records were decoded into a RecordSet first); the second
  // walk repeats only the varint reads.
  std::string storage;  // only a compressed batch uses it
  std::string_view body;
  int32_t count;
  EC_RETURN_IF_ERROR(Body(max_decompressed, &storage, &body, &count));
  Record rec;
  {
    RecordDecoder check(*this, body);
    for (int32_t i = 0; i < count; ++i) EC_RETURN_IF_ERROR(check.Check(i));
    if (check.remaining() != 0) return Corruption("bytes after the last record of the batch");
  }
  RecordDecoder walk(*this, body);
  for (int32_t i = 0; i < count; ++i) {
    (void)walk.Next(i, &rec);  // checked above
    EC_RETURN_IF_ERROR(fn(rec));
  }
  return Status::Ok();
}

Result<RecordSet> RecordBatchView::Records(size_t max_decompressed) const {
  RecordSet set;
  std::string storage;
  std::string_view body;
  int32_t count;
  EC_RETURN_IF_ERROR(Body(max_decompressed, &storage, &body, &count));
  if (compression() != Compression::kNone) {
    // The views must point into storage whose address survives moving the set.
    set.storage_ = std::make_unique<std::string>(std::move(storage));
    body = *set.storage_;
  }
  set.records_.resize(static_cast<size_t>(count));
  RecordDecoder dec(*this, body);
  for (int32_t i = 0; i < count; ++i) EC_RETURN_IF_ERROR(dec.Next(i, &set.records_[static_cast<size_t>(i)]));
  if (dec.remaining() != 0) return Corruption("bytes after the last record of the batch");
  return set;
}

void RecordBatchView::SetBaseOffset(char* batch, int64_t base_offset) {
  bytes::StoreBe(batch, static_cast<uint64_t>(base_offset), 8);
}
void RecordBatchView::SetPartitionLeaderEpoch(char* batch, int32_t epoch) {
  bytes::StoreBe(batch + 12, static_cast<uint32_t>(epoch), 4);
}
void RecordBatchView::SetLogAppendTime(char* batch, size_t size, int64_t timestamp_ms) {
  uint16_t attrs = static_cast<uint16_t>(LoadI16(batch + kAttributesOffset));
  attrs |= kAttrTimestampType;
  bytes::StoreBe(batch + kAttributesOffset, attrs, 2);
  bytes::StoreBe(batch + 35, static_cast<uint64_t>(timestamp_ms), 8);
  UpdateCrc(batch, size);
}
void RecordBatchView::UpdateCrc(char* batch, size_t size) {
  uint32_t crc = Crc32c(std::string_view(batch + kAttributesOffset, size - kAttributesOffset));
  bytes::StoreBe(batch + kCrcOffset, crc, 4);
}

std::optional<ControlType> ParseControlKey(std::string_view key) {
  if (key.size() < 4) return std::nullopt;
  int16_t type = LoadI16(key.data() + 2);
  if (type != 0 && type != 1) return std::nullopt;
  return static_cast<ControlType>(type);
}

Status ForEachBatch(std::string_view bytes, bool allow_partial_tail,
                    const std::function<Status(const RecordBatchView&)>& fn, bool verify_crc) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    std::string_view rest = bytes.substr(pos);
    auto size = RecordBatchView::PeekSize(rest);
    if (!size || *size > rest.size()) {
      if (allow_partial_tail) return Status::Ok();
      return Corruption("partial record batch at byte " + std::to_string(pos));
    }
    EC_ASSIGN_OR_RETURN(RecordBatchView b, verify_crc ? RecordBatchView::Parse(rest) : RecordBatchView::ParseTrusted(rest));
    EC_RETURN_IF_ERROR(fn(b));
    pos += b.size();
  }
  return Status::Ok();
}

}  // namespace ec::log
