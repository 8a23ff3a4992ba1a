#pragma once
// Internal state of a PartitionLog, shared by partition_log.cc, recovery and compaction.
//
// Locks, always taken in this order:
//   maintenance_mu  retention, compaction, DeleteRecords (one housekeeping task at a time)
//   append_mu       one append (validation, offsets, roll) at a time
//   mu              segments map, offsets, producer state, aborted txns: held briefly; readers
//                   take it only to look up positions, then read files without it
//   wait_mu         notification lists and the durable offset

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "log/partition_log.h"
#include "log/producer_state.h"
#include "log/segment.h"

namespace ec::log {

struct AbortedTxnEntry {
  int64_t producer_id;
  int64_t first_offset;
  int64_t last_offset;  // offset of the abort marker
};

struct PartitionLog::Impl {
  std::mutex maintenance_mu;
  std::mutex append_mu;
  mutable std::mutex mu;
  std::map<int64_t, std::shared_ptr<Segment>> segments;  // by base offset; last = active
  int64_t log_start = 0;
  std::atomic<int64_t> leo{0};
  std::shared_ptr<const TopicConfig> config;
  ProducerStateTable producers;
  std::vector<AbortedTxnEntry> aborted;
  std::shared_ptr<File> aborted_file;
  std::atomic<bool> aborted_dirty{false};  // aborted_file has unsynced entries
  bool failed = false;  // an I/O error happened: appends refused until reopen
  // Page-cache window (SetPageCacheWindow): bytes of the active segment's tail kept cached; 0 =
  // leave it to the OS. bytes_since_release counts appends (under append_mu) to pace releases.
  std::atomic<uint64_t> cache_window{0};
  uint64_t bytes_since_release = 0;
  // Preallocation (SetPreallocateBytes): the most zero-filled bytes kept ahead; 0 = off.
  std::atomic<uint64_t> preallocate{0};
  // SetSyncHold: how long a durable append's journal sync may wait for a sync request expected
  // anyway (microseconds; 0 = none).
  std::atomic<int64_t> sync_hold_us{0};
  // Compaction (compaction.cc), under maintenance_mu. Records below clean_offset have been
  // mapped by a round (in memory only: after a restart the first round maps from the start).
  int64_t clean_offset = 0;
  int64_t tombstone_expiry_ms = INT64_MAX;  // when a tombstone kept below clean_offset expires
  bool cleaning_unfinished = false;         // the last round's map filled up
  uint64_t compaction_rounds = 0;

  mutable std::mutex wait_mu;
  mutable std::condition_variable data_cv;
  int64_t durable = 0;
  struct SyncWaiter {
    int64_t end;
    AppendResult result;
    AppendCallback done;
  };
  std::deque<SyncWaiter> sync_waiters;
  std::map<uint64_t, std::pair<int64_t, std::function<void()>>> notifies;
  uint64_t next_notify_id = 1;
  std::atomic<bool> dirty{false};
  // With the commit journal: how far the active segment (by its base offset) was written back
  // by the checkpoint's steps (SyncFiles). Only pacing: a stale value costs a redundant step.
  std::atomic<int64_t> written_back_segment{-1};
  std::atomic<uint64_t> written_back{0};

  const std::shared_ptr<Segment>& active() const { return segments.rbegin()->second; }
};

// File names inside a partition directory.
inline constexpr char kLogStartFile[] = "log-start-offset";
inline constexpr char kProducerSnapshotFile[] = "producer.snapshot";
inline constexpr char kAbortedTxnFile[] = "aborted.txn";

}  // namespace ec::log
