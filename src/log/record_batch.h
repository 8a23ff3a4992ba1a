#pragma once
// Kafka RecordBatch v2 (magic 2): a validating view over stored/produced bytes, and its records.
//
// Layout (big endian; offsets in bytes from the batch start):
//   0 baseOffset i64 | 8 batchLength i32 (bytes after this field) | 12 partitionLeaderEpoch i32
//   16 magic i8 = 2  | 17 crc u32 (CRC32C of bytes 21..end)       | 21 attributes i16
//   23 lastOffsetDelta i32 | 27 baseTimestamp i64 | 35 maxTimestamp i64 | 43 producerId i64
//   51 producerEpoch i16   | 53 baseSequence i32  | 57 recordCount i32  | 61 records...
// The CRC does not cover baseOffset or partitionLeaderEpoch, so the broker rewrites them freely.
// docs/log-format.md describes the records and the on-disk files.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "log/compression.h"

namespace ec::log {

inline constexpr size_t kBatchHeaderSize = 61;
inline constexpr size_t kBatchLengthFieldEnd = 12;  // batchLength counts bytes after offset 12
inline constexpr int8_t kMagicV2 = 2;

enum class TimestampType : uint8_t { kCreateTime = 0, kLogAppendTime = 1 };

// attributes bits.
inline constexpr int16_t kAttrCompressionMask = 0x07;
inline constexpr int16_t kAttrTimestampType = 0x08;
inline constexpr int16_t kAttrTransactional = 0x10;
inline constexpr int16_t kAttrControl = 0x20;
inline constexpr int16_t kAttrDeleteHorizon = 0x40;  // baseTimestamp holds the delete horizon

struct RecordHeader {
  std::string_view key;
  std::optional<std::string_view> value;  // nullopt = null
};

// One record, with offsets/timestamps already resolved (base + delta). Views point into the
// batch bytes or into the RecordSet that decoded them.
struct Record {
  int64_t offset = 0;
  int64_t timestamp = 0;
  int8_t attributes = 0;
  std::optional<std::string_view> key;    // nullopt = null key
  std::optional<std::string_view> value;  // nullopt = null value (a tombstone)
  std::vector<RecordHeader> headers;
};

// Records of one batch; owns the decompressed buffer the views point into. Move-only.
class RecordSet {
 public:
  const std::vector<Record>& records() const { return records_; }
  std::vector<Record>& mutable_records() { return records_; }

 private:
  friend class RecordBatchView;
  std::unique_ptr<std::string> storage_;  // decompressed records (stable address)
  std::vector<Record> records_;
};

// A validated batch. Does not own its bytes: they must outlive the view.
class RecordBatchView {
 public:
  // Total size of the batch starting at `bytes` (12 + batchLength) once 12 bytes are available;
  // nullopt when fewer than 12 bytes. Does not validate anything else.
  static std::optional<size_t> PeekSize(std::string_view bytes);

  // Validates the batch at the start of `bytes`: enough bytes, batchLength >= 49, magic 2,
  // CRC32C. Trailing bytes after the batch are ignored (see size()).
  // Errors: Corruption (bad CRC, bad length, truncated), Unsupported (magic 0/1).
  static Result<RecordBatchView> Parse(std::string_view bytes);
  // As Parse, without the CRC check (reading our own already-verified segments).
  static Result<RecordBatchView> ParseTrusted(std::string_view bytes);

  std::string_view bytes() const { return bytes_; }  // exactly this batch
  size_t size() const { return bytes_.size(); }

  int64_t base_offset() const;
  int32_t partition_leader_epoch() const;
  int8_t magic() const;
  uint32_t crc() const;
  int16_t attributes() const;
  int32_t last_offset_delta() const;
  int64_t last_offset() const { return base_offset() + last_offset_delta(); }
  int64_t base_timestamp() const;
  int64_t max_timestamp() const;
  int64_t producer_id() const;       // -1 when not idempotent
  int16_t producer_epoch() const;
  int32_t base_sequence() const;     // -1 when not idempotent
  int32_t record_count() const;
  // Last sequence number of this batch (wraps at INT32_MAX like Kafka).
  int32_t last_sequence() const;

  Compression compression() const { return static_cast<Compression>(attributes() & kAttrCompressionMask); }
  TimestampType timestamp_type() const {
    return (attributes() & kAttrTimestampType) ? TimestampType::kLogAppendTime : TimestampType::kCreateTime;
  }
  bool is_transactional() const { return attributes() & kAttrTransactional; }
  bool is_control() const { return attributes() & kAttrControl; }
  bool has_delete_horizon() const { return attributes() & kAttrDeleteHorizon; }

  // Decodes every record, decompressing when needed (up to `max_decompressed` bytes).
  // Errors: Corruption on malformed varints/lengths or a record count mismatch.
  Result<RecordSet> Records(size_t max_decompressed = 64u << 20) const;

  // Calls `fn` per record (stops early and returns its error if `fn` fails).
  Status ForEachRecord(const std::function<Status(const Record&)>& fn,
                       size_t max_decompressed = 64u << 20) const;

  // In-place header rewrites on a mutable batch buffer (the broker's copy of the produce bytes).
  // Neither field is covered by the CRC, so no re-CRC is needed.
  static void SetBaseOffset(char* batch, int64_t base_offset);
  static void SetPartitionLeaderEpoch(char* batch, int32_t epoch);
  // Sets the LogAppendTime timestamp type and maxTimestamp, then recomputes the CRC (both are
  // covered by it).
  static void SetLogAppendTime(char* batch, size_t size, int64_t timestamp_ms);
  // Recomputes and stores the CRC of the batch at `batch` (`size` bytes).
  static void UpdateCrc(char* batch, size_t size);

 private:
  explicit RecordBatchView(std::string_view b) : bytes_(b) {}
  // The records' bytes (decompressed into `*storage` when compressed) and their count, checked
  // against the body's size.
  Status Body(size_t max_decompressed, std::string* storage, std::string_view* body, int32_t* count) const;
  std::string_view bytes_;
};

// Control record (commit/abort marker) key: version i16, type i16 (0 abort, 1 commit).
enum class ControlType : int16_t { kAbort = 0, kCommit = 1 };
// Reads the control type from a control record key; nullopt if malformed.
std::optional<ControlType> ParseControlKey(std::string_view key);

// Calls `fn` for each complete batch in `bytes` (e.g. a Produce request's records field).
// Every batch is validated (CRC included unless `verify_crc` is false: batches this process
// has just built). A trailing partial batch is Corruption unless `allow_partial_tail` (fetch
// responses may end in one).
Status ForEachBatch(std::string_view bytes, bool allow_partial_tail,
                    const std::function<Status(const RecordBatchView&)>& fn, bool verify_crc = true);

}  // namespace ec::log
