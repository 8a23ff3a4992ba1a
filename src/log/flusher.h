#pragma once
// Flusher: the group-commit threads. Partitions with pending kSync appends are queued here; a
// sync thread takes a partition, fdatasyncs it once and completes every append that the sync
// covered, so N concurrent kSync appends cost about one fdatasync instead of N. With more than
// one sync thread, a new sync of a partition may start while an earlier one is still running:
// the kernel merges concurrent fdatasyncs into one journal commit where it can, so appends that
// arrive mid-sync do not wait a whole extra sync. It also flushes kWritten data: at most
// `interval_ms` after it was written, or the topic's flush.ms when that is set. Owned by
// LogManager.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace ec::log {

class PartitionLog;

class Flusher {
 public:
  // interval_ms: periodic flush of unsynced kWritten data (<= 0: never, only kSync syncs).
  // sync_threads: fdatasyncs that may run at once (>= 1).
  explicit Flusher(int64_t interval_ms, int sync_threads = 4);
  ~Flusher();  // stops the threads after a final pass

  // `log` has kSync appends waiting: sync it soon. Thread-safe.
  void RequestSync(PartitionLog* log);
  // `log` has unsynced kWritten data: sync it within `flush_ms` (the topic's flush.ms; 0 = as
  // soon as possible, < 0 = the flusher's interval_ms) of the first unsynced write. Thread-safe.
  void MarkDirty(PartitionLog* log, int64_t flush_ms = -1);
  // `log` has appended enough to release the cache behind its window (PartitionLog::
  // ReleaseCache): done by a sync thread when no sync is waiting. Thread-safe.
  void RequestRelease(PartitionLog* log);
  // `log`'s active segment wants more zero-filled space ahead (PartitionLog::Preallocate): done
  // by a sync thread after the waiting syncs, before cache releases. Thread-safe.
  void RequestPreallocate(PartitionLog* log);
  // Removes `log` (before it is destroyed); waits for in-progress syncs of it to finish.
  void Forget(PartitionLog* log);
  // Total fdatasync passes issued (for benchmarks and tests).
  uint64_t sync_calls() const;

 private:
  using Clock = std::chrono::steady_clock;
  void Run(bool periodic_owner);
  // Moves the dirty partitions that are due into pass_; returns the next deadline.
  Clock::time_point CollectDueLocked(Clock::time_point now);
  int64_t interval_ms_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::set<PartitionLog*> urgent_;
  std::map<PartitionLog*, Clock::time_point> dirty_;  // partition -> flush deadline
  Clock::time_point next_due_ = Clock::time_point::max();  // what the periodic owner waits for
  bool rewake_ = false;  // a deadline earlier than next_due_ was added
  std::set<PartitionLog*> pass_;          // the current periodic pass's remaining work
  std::set<PartitionLog*> preallocate_;   // zero-fills asked for (after syncs)
  std::set<PartitionLog*> release_;       // page-cache releases asked for (lowest priority)
  std::map<PartitionLog*, int> syncing_;  // syncs in progress per partition
  uint64_t sync_calls_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ec::log
