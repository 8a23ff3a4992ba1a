#pragma once
// PartitionLog: one topic-partition's log: segment files of RecordBatch v2 bytes, offsets
// assigned here, with a sparse offset index and a time index per segment.
// docs/log-format.md is the on-disk format.
//
// Threading: every method is thread-safe. Appends are serialised by an internal lock; reads run
// concurrently with appends and with each other. Callbacks (append completion, data-available
// notifications) run on the thread that appended or on the LogManager's flusher thread: they
// must be short and must not call back into this PartitionLog's Append (post to your own
// executor instead, e.g. asio::post). Obtain instances from LogManager (log_manager.h).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "log/env.h"
#include "log/log_error.h"
#include "log/producer_state.h"
#include "log/topic_config.h"

namespace ec::log {

class Segment;
class Flusher;
class Journal;

enum class Durability : uint8_t {
  // Acknowledge once written to the OS (page cache); fdatasynced by the Flusher at most the
  // topic's flush.ms after the write (0 = at once), or LogManagerOptions::flush_interval_ms when
  // the topic sets none. Kafka acks=0/1.
  kWritten = 0,
  // Acknowledge only after fdatasync of the data (group commit: concurrent appends share one
  // fdatasync on the flusher thread). Kafka acks=-1.
  kSync = 1,
};

struct AppendOptions {
  Durability durability = Durability::kWritten;
  // With the commit journal, a kSync append normally wakes the journal's sync thread at once.
  // true: it does not; the caller wakes it (Journal::RequestSync) once it has made every append
  // it waits for, so one fdatasync covers them all instead of the first one starting a sync
  // that the others miss (a pass's round A: its offset record, then ~10 output batches).
  // The caller MUST call RequestSync afterwards, or the append waits for someone else's sync.
  // Ignored without the journal.
  bool defer_journal_sync = false;
  // The caller made these batches itself a moment ago (RecordBatchBuilder, e.g. the pipeline's
  // TopicWriter) and vouches for them: their CRC is not computed again here (the builder just
  // set it). Never for bytes that came from a client or a file.
  bool built_here = false;
  // The caller knows that every record of these batches has a key: on a compacted topic the
  // records are not decoded to check that. Never for bytes that came from a client.
  bool all_keyed = false;
};

struct AppendResult {
  LogError error = LogError::kNone;
  std::string message;          // human-readable detail when error != kNone
  int64_t base_offset = -1;     // offset of the first record appended (or of the duplicate)
  int64_t last_offset = -1;
  int64_t log_append_time_ms = -1;  // -1 unless the topic uses LogAppendTime
  int64_t log_start_offset = 0;
  bool duplicate = false;       // an idempotent retry: nothing new was written
  bool ok() const { return error == LogError::kNone; }
};

// Called exactly once per AppendAsync, with the outcome.
using AppendCallback = std::function<void(const AppendResult&)>;

// A byte range of a segment file. Holding it keeps the file open (even if retention deletes
// the segment), so a server may sendfile() it to a socket after Read returns.
struct FileSlice {
  std::shared_ptr<File> file;
  uint64_t position = 0;
  uint32_t size = 0;
};

enum class IsolationLevel : uint8_t { kReadUncommitted = 0, kReadCommitted = 1 };

struct ReadOptions {
  IsolationLevel isolation = IsolationLevel::kReadUncommitted;
  // Return the first batch even if it alone exceeds max_bytes (Kafka KIP-74), so a consumer
  // never gets stuck. Set false for every partition but the first of a Fetch response.
  bool min_one_batch = true;
};

struct AbortedTransaction {
  int64_t producer_id = -1;
  int64_t first_offset = -1;
};

struct ReadResult {
  LogError error = LogError::kNone;  // kOffsetOutOfRange, kStorageError
  std::string message;
  // Whole batches as stored, in offset order; the first one contains the requested offset
  // (it may start before it: clients skip records below their position, as with Kafka).
  std::vector<FileSlice> slices;
  size_t total_bytes = 0;
  int64_t high_watermark = 0;
  int64_t last_stable_offset = 0;
  int64_t log_start_offset = 0;
  // read_committed only: aborted transactions overlapping the returned range.
  std::vector<AbortedTransaction> aborted_transactions;

  // Copies the slices' bytes into `*out` (appending).
  Status CopyTo(std::string* out) const;
  // Replaces `*buffer`'s contents with the slices' bytes. Unlike clear() + CopyTo, the bytes the
  // buffer already holds are overwritten without being zeroed first (std::string::resize
  // fills): a reader that keeps its buffer between reads, uncleared, does not memset up to a
  // read's size (a megabyte for the pipeline's pass) before every read.
  Status ReadInto(std::string* buffer) const;
};

struct TimestampOffset {
  int64_t offset = -1;     // -1 when no record has timestamp >= the one asked
  int64_t timestamp = -1;
};

class PartitionLog {
 public:
  // Opens (or creates) the partition stored in `dir`, recovering it: the tail of the last
  // segment is scanned, everything after the last valid batch is truncated, missing or
  // inconsistent indexes are rebuilt and the producer state is rebuilt from the tail.
  // `flusher` (not owned, may be null = syncs inline) does group commit. Errors: IoError.
  static Result<std::unique_ptr<PartitionLog>> Open(Env* env, std::string dir, std::string topic,
                                                    int32_t partition,
                                                    std::shared_ptr<const TopicConfig> config,
                                                    Flusher* flusher);
  ~PartitionLog();
  PartitionLog(const PartitionLog&) = delete;
  PartitionLog& operator=(const PartitionLog&) = delete;

  // Appends one or more batches (`batches` = a Produce request's records field, taken by value
  // because offsets are rewritten in place). Every batch is validated (CRC, magic 2, size <=
  // max.message.bytes, idempotent sequence); all or none are appended. Offsets are assigned
  // consecutively from the log end offset. `done` runs once: inline on failure or for
  // kWritten, on the flusher thread after fdatasync for kSync.
  void AppendAsync(std::string batches, const AppendOptions& options, AppendCallback done);
  // AppendAsync without the copy: `data` (`size` bytes, the caller's buffer) is validated and
  // its offsets rewritten in place, and it is written to the segment before this returns, so
  // the caller may reuse it afterwards (a server's request buffer). Same rules otherwise.
  void AppendInPlace(char* data, size_t size, const AppendOptions& options, AppendCallback done);
  // Blocking form of AppendAsync (waits for the fdatasync when kSync).
  AppendResult Append(std::string batches, const AppendOptions& options);

  // Reads whole batches from `offset` up to about `max_bytes` (see ReadOptions). offset ==
  // high watermark gives an empty result; offset outside [log start, high watermark] gives
  // kOffsetOutOfRange.
  ReadResult Read(int64_t offset, size_t max_bytes, const ReadOptions& options = {}) const;

  int64_t log_start_offset() const;
  // Next offset to be assigned. Everything below it is readable (single node: the high
  // watermark equals the log end offset).
  int64_t log_end_offset() const;
  int64_t high_watermark() const { return log_end_offset(); }
  // Below this offset no transaction is open (read_committed readers stop here).
  int64_t last_stable_offset() const;
  // Everything below this offset has been fdatasynced.
  int64_t durable_offset() const;

  // ListOffsets by timestamp: the first offset whose record timestamp >= `timestamp_ms`.
  TimestampOffset OffsetForTimestamp(int64_t timestamp_ms) const;
  // Timestamp and offset of the record with the largest timestamp (ListOffsets -3), or -1s.
  TimestampOffset MaxTimestamp() const;

  // Calls `cb` once, as soon as log_end_offset() > `offset` (immediately, inline, if already).
  // Returns an id for CancelNotify. The long-poll hook for Fetch.
  uint64_t NotifyWhenPast(int64_t offset, std::function<void()> cb);
  // Forgets a pending notification; returns false if it already fired (or never existed).
  bool CancelNotify(uint64_t id);
  // Blocks until log_end_offset() > offset or the timeout; returns whether data arrived.
  bool WaitPast(int64_t offset, std::chrono::milliseconds timeout) const;

  // Idempotence: what Append would say for this producer batch (without appending).
  SequenceCheck CheckSequence(int64_t producer_id, int16_t epoch, int32_t first_seq,
                              int32_t last_seq) const;
  // Latest epoch known for `producer_id` (-1 if none).
  int16_t ProducerEpoch(int64_t producer_id) const;
  // First offset of `producer_id`'s open transaction here (no commit/abort marker yet), or
  // nullopt. Exactly-once recovery uses it to find the partitions a crashed pass touched.
  std::optional<int64_t> OpenTransactionStart(int64_t producer_id) const;
  // Whether the record at `offset` of `producer_id` belongs to an aborted transaction.
  // (Compaction and committed readers drop such records.)
  bool IsAborted(int64_t producer_id, int64_t offset) const;

  // Moves the log start offset forward (DeleteRecords; also used by retention). Whole
  // segments below it are deleted. Errors: kOffsetOutOfRange if > high watermark.
  LogError DeleteRecordsBefore(int64_t offset);

  // Housekeeping, called by LogManager's maintenance thread (tests call it directly).
  // Deletes segments past retention.ms / retention.bytes; never deletes the active segment.
  Status ApplyRetention(int64_t now_ms);
  // Rolls the active segment if it is older than segment.ms (and non-empty).
  Status MaybeRollByAge(int64_t now_ms);
  // Compacts closed segments (cleanup.policy=compact): keeps the latest record per key,
  // removes tombstones older than delete.retention.ms, respects min.compaction.lag.ms and
  // min.cleanable.dirty.ratio. A round maps keys in at most `map_bytes` (OffsetMap) and
  // cleans up to the last record it mapped; the next call goes on from there.
  Status Compact(int64_t now_ms, size_t map_bytes = kDefaultCompactionMapBytes);
  static constexpr size_t kDefaultCompactionMapBytes = size_t{8} << 20;
  uint64_t compaction_rounds() const;  // rounds that rewrote the cleanable range (tests)
  // Makes all appended data durable (safe from any thread): an fdatasync of the partition, or
  // with a commit journal, waits for a journal sync covering it (usually the next group
  // commit's).
  Status Flush();
  // fdatasync of the partition's files (active segment, aborted.txn): the flusher's sync, and
  // the journal's checkpoint (which first writes the active segment back in small steps, see
  // WriteBackInSteps).
  Status SyncFiles();

  // Commit journal (journal.h; set by LogManager right after Open, before any append): every
  // append is also written to it and durable appends wait for its sync instead of one of this
  // partition. Null = per-partition fdatasync.
  void SetJournal(Journal* journal) { journal_ = journal; }
  // Journal replay (LogManager::Open, before anything reads or appends): applies one journal
  // entry, whole batches with offsets assigned. A batch below the log end must be the one
  // stored there (Corruption otherwise, naming `where`); one at the log end is appended as it
  // is (offsets, producer fields and control markers kept); one past it is Corruption. Batches
  // below the log start offset are skipped.
  Status Redo(std::string_view batches, const std::string& where);
  // Used by the journal: its sync failed; appends waiting for durability fail, the partition
  // goes offline.
  void OnSyncFailed(const Status& status);
  // Swaps in a new config (AlterConfigs).
  void SetConfig(std::shared_ptr<const TopicConfig> config);
  std::shared_ptr<const TopicConfig> config() const;

  const std::string& topic() const { return topic_; }
  int32_t partition() const { return partition_; }
  const std::string& dir() const { return dir_; }
  size_t segment_count() const;
  uint64_t size_bytes() const;

  // Used by Flusher: called after a group fdatasync covering everything below `offset`.
  void OnDurable(int64_t offset);
  // Used by the journal: records that everything below `offset` is durable and returns the
  // completions that became due (null when none), to run once every partition the sync
  // covered has been advanced: a caller woken by one sees the others durable too.
  std::function<void()> AdvanceDurable(int64_t offset);

  // Whether the partition has unsynced kWritten appends.
  bool dirty() const;

  // Keeps only about the last `bytes` of the active segment in the OS page cache (0 = no
  // limit, the default): every bytes/16 (at least 1 MiB) of appends, the bytes further back are
  // released (File::ReleaseCache: written back and dropped once clean), on the flusher thread.
  // Appends then reuse recently freed pages; allocating fresh ones is what costs most per
  // byte on VMs whose hypervisor reclaims free guest memory. Readers more than the window
  // behind read from disk. Nothing about durability changes.
  void SetPageCacheWindow(uint64_t bytes);
  // Releases the active segment's bytes that lie more than the window behind its end (called
  // by the Flusher, or inline without one).
  void ReleaseCache();

  // With the commit journal: a durable (kSync) append's journal sync may wait up to `hold` for
  // a journal sync that another writer is about to request anyway, and share it (Journal::Write's
  // `hold`; zero = none, the default). For the exactly-once pipeline's input partitions
  // (PipelineRunner): the pass that reads an append's records commits them moments later with a
  // journal sync of its own (round A), which then covers the append too, instead of the append's
  // own fdatasync running first and the pass's round A queuing behind it. The append still
  // completes only once a journal sync covers it. An explicit Flush is not held.
  void SetSyncHold(std::chrono::microseconds hold);

  // Keeps up to `bytes` of zero-filled, synced space ahead of the active segment's end (0 = none,
  // the default here; LogManagerOptions::preallocate_bytes sets it), so the fdatasync of an
  // append writes data only instead of also committing the file's growth to the journal
  // (docs/log-format.md, "Preallocated segments"). The space ahead starts at 64 KiB and grows
  // with the segment (never more than its bytes so far, nor past segment.bytes), so quiet
  // partitions stay small. The zeros are written on the flusher thread (inline without one),
  // topped up when less than half is left; a roll or a clean close cuts them off, and recovery
  // reads them as the end of the log.
  void SetPreallocateBytes(uint64_t bytes);
  // Zero-fills the active segment ahead of its end up to the target above (called by the
  // Flusher, or inline without one). Errors are only reported: appends then grow the file.
  Status Preallocate();

  struct Impl;  // internal state (partition_log_impl.h)

 private:
  void WriteBackInSteps(const Segment& active);
  PartitionLog(Env* env, std::string dir, std::string topic, int32_t partition,
               std::shared_ptr<const TopicConfig> config, Flusher* flusher);
  Env* env_;
  std::string dir_;
  std::string topic_;
  int32_t partition_;
  Flusher* flusher_;
  Journal* journal_ = nullptr;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ec::log
