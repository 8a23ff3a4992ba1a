#pragma once
// An in-memory EventLog (one partition per topic) for tests and benchmarks.

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

#include "delivery/event_log.h"

namespace ec::delivery {

class MemoryEventLog : public EventLog {
 public:
  std::vector<std::string> Topics() override;
  Result<int32_t> PartitionCount(const std::string& topic) override;
  Result<std::vector<SourceRecord>> Read(const std::string& topic, int32_t partition,
                                         int64_t offset, size_t max_records,
                                         size_t max_bytes) override;
  Result<int64_t> EndOffset(const std::string& topic, int32_t partition) override;
  bool WaitForData(const std::string& topic, int32_t partition, int64_t offset,
                   std::chrono::milliseconds timeout) override;
  uint64_t NotifyWhenPast(const std::string& topic, int32_t partition, int64_t offset,
                          std::function<void()> wake) override;
  void CancelNotify(const std::string& topic, int32_t partition, uint64_t id) override;
  Result<int64_t> OffsetForTime(const std::string& topic, int32_t partition,
                                int64_t timestamp_ms) override;
  Result<int64_t> Append(const AppendRecord& record) override;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  // A deque: appending never moves the records already there (a vector's regrowth would hold
  // the lock for milliseconds while readers wait, which the benchmark would count as latency).
  std::map<std::string, std::deque<SourceRecord>> topics_;
  struct Notify {
    std::string topic;
    int64_t offset;
    std::function<void()> wake;
  };
  std::map<uint64_t, Notify> notifies_;
  uint64_t next_notify_ = 1;
};

}  // namespace ec::delivery
