#pragma once
// What delivery needs from the log, as an interface: the dispatcher and the HTTP consumption
// handlers read topics through it, and dead letters are appended through it. `log_event_log.h`
// adapts the real LogManager; tests use MemoryEventLog.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace ec::delivery {

struct SourceRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  std::optional<std::string> key;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> value;
};

struct AppendRecord {
  std::string topic;
  std::optional<std::string> key;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> value;
  int64_t timestamp_ms = 0;
};

// Thread-safe; every method may be called from any thread.
class EventLog {
 public:
  virtual ~EventLog() = default;
  // Names of the existing topics.
  virtual std::vector<std::string> Topics() = 0;
  // Partitions of `topic`; kNotFound when it does not exist.
  virtual Result<int32_t> PartitionCount(const std::string& topic) = 0;
  // Records at offsets >= `offset`, at most `max_records` / about `max_bytes` (at least one
  // record when any is available). Offsets below the log start are skipped to the start.
  virtual Result<std::vector<SourceRecord>> Read(const std::string& topic, int32_t partition,
                                                 int64_t offset, size_t max_records,
                                                 size_t max_bytes) = 0;
  // The offset the next appended record will get.
  virtual Result<int64_t> EndOffset(const std::string& topic, int32_t partition) = 0;
  // Blocks until a record at >= `offset` exists or `timeout` passes; true when one exists.
  virtual bool WaitForData(const std::string& topic, int32_t partition, int64_t offset,
                           std::chrono::milliseconds timeout) = 0;
  // Calls `wake` once, as soon as a record at >= `offset` exists: inline when one exists
  // already, otherwise on the appending thread (keep it short; it must not call back into the
  // log). Returns an id for CancelNotify; 0 when the partition does not exist (no call comes).
  // This is how readers learn of an append without polling.
  virtual uint64_t NotifyWhenPast(const std::string& topic, int32_t partition, int64_t offset,
                                  std::function<void()> wake) = 0;
  // Forgets a pending notification (a no-op when it fired already or `id` is 0).
  virtual void CancelNotify(const std::string& topic, int32_t partition, uint64_t id) = 0;
  // The first offset whose timestamp is >= `timestamp_ms` (the end offset when none).
  virtual Result<int64_t> OffsetForTime(const std::string& topic, int32_t partition,
                                        int64_t timestamp_ms) = 0;
  // Appends durably (the topic is created when missing) and returns the offset.
  virtual Result<int64_t> Append(const AppendRecord& record) = 0;
};

}  // namespace ec::delivery
