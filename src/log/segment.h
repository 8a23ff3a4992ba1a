#pragma once
// Internal: one segment of a partition: <base>.log (batches), <base>.index (sparse offset
// index) and <base>.timeindex (sparse time index). Format in docs/log-format.md.
// Not thread-safe: PartitionLog's locks guard every call; readers use the snapshot accessors.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "log/env.h"
#include "log/record_batch.h"

namespace ec::log {

inline constexpr size_t kOffsetIndexEntrySize = 8;   // u32 relative offset, u32 position
inline constexpr size_t kTimeIndexEntrySize = 12;    // i64 timestamp, u32 relative offset

struct OffsetIndexEntry {
  uint32_t relative_offset;
  uint32_t position;
};
struct TimeIndexEntry {
  int64_t timestamp;
  uint32_t relative_offset;
};

// A batch header read from a segment (no records).
struct BatchHeader {
  int64_t base_offset = 0;
  int64_t last_offset = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t last_sequence = -1;
  int16_t attributes = 0;
  uint32_t position = 0;
  uint32_t size = 0;
};

class Segment {
 public:
  // "<dir>/<20-digit base offset>" (without extension).
  static std::string PathStem(const std::string& dir, int64_t base_offset);
  // Parses a "<digits>.log" file name; -1 if it is not one.
  static int64_t ParseLogFileName(const std::string& name);

  // Creates an empty segment (files created, directory synced).
  static Result<std::unique_ptr<Segment>> Create(Env* env, const std::string& dir,
                                                  int64_t base_offset, int32_t index_interval);
  // Opens an existing segment. With `recover`, every batch is scanned and CRC-checked, the file
  // is truncated after the last valid batch and both indexes are rebuilt. Without it, indexes
  // are loaded and rebuilt only when missing or inconsistent.
  static Result<std::unique_ptr<Segment>> Open(Env* env, const std::string& dir,
                                                int64_t base_offset, int32_t index_interval,
                                                bool recover);

  // Compaction's rewrite of a segment, without reading the new file back for its indexes:
  // StartRewrite makes the segment object (no files opened), TrackRewritten notes each batch
  // written to "<stem>.log.cleaned", in order (the indexes are built as Rebuild builds them from
  // the file, in memory: one entry per index interval), and FinishRewrite, once that file has
  // been synced and renamed over "<stem>.log", opens the files and writes the indexes.
  static std::unique_ptr<Segment> StartRewrite(Env* env, const std::string& dir, int64_t base_offset,
                                               int32_t index_interval);
  void TrackRewritten(const BatchHeader& h) { Track(h, true, &pending_index_, &pending_time_); }
  Status FinishRewrite();

  // Appends one batch whose offsets are already assigned (its bytes as stored).
  Status Append(const RecordBatchView& batch);
  // Syncs log + indexes, writes the final time index entry, cuts off the preallocated zeros
  // after the last batch; called when the segment closes.
  Status Seal();
  // Reads the header of the batch at `position`; Corruption when not a valid header.
  Result<BatchHeader> ReadHeader(uint64_t position, uint64_t limit) const;
  // Reads the whole batch at `position` into `*out`, CRC-checked.
  Status ReadBatch(const BatchHeader& h, std::string* out) const;
  // Position of the batch containing `offset` or of a batch before it (start scanning here).
  uint32_t LookupPosition(int64_t offset) const;
  // Relative offset from which to scan for timestamp `ts` (the last time entry below it).
  int64_t LookupTimestampStart(int64_t ts) const;
  // Removes the files.
  Status Delete();

  int64_t base_offset() const { return base_offset_; }
  int64_t next_offset() const { return next_offset_; }  // one past the last offset stored
  uint64_t size() const { return size_; }
  int64_t max_timestamp() const { return max_timestamp_; }
  int64_t offset_of_max_timestamp() const { return offset_of_max_timestamp_; }
  int64_t created_ms() const { return created_ms_; }
  void set_created_ms(int64_t ms) { created_ms_ = ms; }
  bool empty() const { return size_ == 0; }
  const std::shared_ptr<File>& log_file() const { return log_; }
  const std::string& stem() const { return stem_; }

  // Rebuilds both indexes by scanning the log file (truncating at the first invalid batch when
  // `truncate_invalid`). Used by recovery and after compaction. `contiguous` (the active
  // segment): each batch must start exactly where the previous ended (the first at the
  // segment base) with partitionLeaderEpoch 0, because neither field is covered by the CRC and
  // a torn write could have garbled them.
  Status Rebuild(bool truncate_invalid, bool contiguous = false);

 private:
  Segment(Env* env, std::string stem, int64_t base_offset, int32_t index_interval)
      : env_(env), stem_(std::move(stem)), base_offset_(base_offset), index_interval_(index_interval) {}
  Status OpenFiles(bool create);
  Status LoadIndexes(bool* consistent);
  // Whether the bytes at `position` (up to a batch's length field) are all zero: preallocated
  // space after the last batch.
  bool ZeroHeaderAt(uint64_t position, uint64_t limit) const;
  void Track(const BatchHeader& h, bool write_index, std::string* index_buf, std::string* time_buf);

  Env* env_;
  std::string stem_;
  int64_t base_offset_;
  int32_t index_interval_;
  std::shared_ptr<File> log_, index_, time_index_;
  // Index and time-index entries of appended batches not yet written to their files: they go
  // out when 16 KiB are pending and at Seal. Only a sealed segment's index files are read (on
  // open; the active segment's are rebuilt by scanning it), and per batch the two small writes
  // cost two syscalls and two inode time updates (file_update_time) on the append path.
  std::string pending_index_, pending_time_;
  Status WritePendingIndexes();
  std::vector<OffsetIndexEntry> offset_index_;
  std::vector<TimeIndexEntry> time_entries_;
  int64_t next_offset_ = 0;
  uint64_t size_ = 0;
  uint64_t bytes_since_index_ = 0;
  int64_t max_timestamp_ = -1;
  int64_t offset_of_max_timestamp_ = -1;
  int64_t indexed_max_timestamp_ = -1;  // last timestamp put in the time index
  int64_t created_ms_ = 0;
};

// Parses a batch header from `bytes` (>= 61 bytes), positioned at `position`.
BatchHeader HeaderFromView(const RecordBatchView& v, uint32_t position);

// Parses the kBatchHeaderSize bytes at `buf`, read from `position` of a log file whose
// readable end is `limit`. Corruption when they are not a valid header.
Result<BatchHeader> ParseBatchHeader(const char* buf, uint64_t position, uint64_t limit);

// Walks consecutive batch headers of one segment with one pread per window of small batches
// instead of one per batch (a Fetch walks every header of the range it returns). After a
// large batch it reads only the next header. The window is part of the scanner (on the
// caller's stack), not a heap buffer: PartitionLog::Read makes one scanner per call.
class HeaderScanner {
 public:
  static constexpr size_t kWindow = 16 * 1024;
  HeaderScanner(const Segment& segment, uint64_t limit) : segment_(segment), limit_(limit) {}
  Result<BatchHeader> At(uint64_t position);

 private:
  const Segment& segment_;
  uint64_t limit_;
  char buf_[kWindow];  // uninitialised: only the first buf_len_ bytes are read
  uint64_t buf_pos_ = 0;
  size_t buf_len_ = 0;
  uint32_t last_size_ = 0;
};

}  // namespace ec::log
