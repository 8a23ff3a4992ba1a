#pragma once
// EventLog over the real log (log::LogManager): what `serve` gives the dispatcher and the HTTP
// consumption handlers.

#include "delivery/event_log.h"

namespace ec::log {
class LogManager;
}

namespace ec::delivery {

class LogEventLog : public EventLog {
 public:
  // `logs` must outlive this object.
  explicit LogEventLog(log::LogManager* logs) : logs_(logs) {}

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
  // Appends with fdatasync (dead letters must survive a crash before the position moves).
  Result<int64_t> Append(const AppendRecord& record) override;

 private:
  log::LogManager* logs_;
};

}  // namespace ec::delivery
