#pragma once
// Flusher: the group-commit thread. Partitions with pending kSync appends are queued here; one
// pass fdatasyncs each dirty partition once and completes every append that the sync covered,
// so N concurrent kSync appends cost one fdatasync per partition instead of N. It also flushes
// kWritten data every `interval_ms` (or the partition's flush.ms). Owned by LogManager.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>

namespace ec::log {

class PartitionLog;

class Flusher {
 public:
  // interval_ms: periodic flush of unsynced kWritten data (<= 0: never, only kSync syncs).
  explicit Flusher(int64_t interval_ms);
  ~Flusher();  // stops the thread after a final pass

  // `log` has kSync appends waiting: sync it soon. Thread-safe.
  void RequestSync(PartitionLog* log);
  // `log` has unsynced kWritten data: sync it at the next interval. Thread-safe.
  void MarkDirty(PartitionLog* log);
  // Removes `log` (before it is destroyed); waits for an in-progress sync of it to finish.
  void Forget(PartitionLog* log);
  // Total fdatasync calls issued (for benchmarks and tests).
  uint64_t sync_calls() const;

 private:
  void Run();
  int64_t interval_ms_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::set<PartitionLog*> urgent_;
  std::set<PartitionLog*> dirty_;
  std::set<PartitionLog*> pass_;  // the current pass's remaining work
  PartitionLog* syncing_ = nullptr;
  uint64_t sync_calls_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ec::log
