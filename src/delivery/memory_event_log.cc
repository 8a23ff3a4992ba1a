#include "delivery/memory_event_log.h"

namespace ec::delivery {

std::vector<std::string> MemoryEventLog::Topics() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, _] : topics_) out.push_back(name);
  return out;
}

Result<int32_t> MemoryEventLog::PartitionCount(const std::string& topic) {
  std::lock_guard lock(mu_);
  if (!topics_.count(topic)) return NotFound("topic '" + topic + "' does not exist");
  return 1;
}

Result<std::vector<SourceRecord>> MemoryEventLog::Read(const std::string& topic, int32_t partition,
                                                       int64_t offset, size_t max_records,
                                                       size_t max_bytes) {
  std::lock_guard lock(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end() || partition != 0) {
    return NotFound("topic '" + topic + "' partition " + std::to_string(partition) +
                    " does not exist");
  }
  std::vector<SourceRecord> out;
  size_t bytes = 0;
  for (int64_t o = std::max<int64_t>(0, offset);
       o < static_cast<int64_t>(it->second.size()) && out.size() < max_records; ++o) {
    const SourceRecord& r = it->second[o];
    bytes += r.value ? r.value->size() : 0;
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(r);
  }
  return out;
}

Result<int64_t> MemoryEventLog::EndOffset(const std::string& topic, int32_t partition) {
  std::lock_guard lock(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) return NotFound("topic '" + topic + "' does not exist");
  return static_cast<int64_t>(it->second.size());
}

bool MemoryEventLog::WaitForData(const std::string& topic, int32_t partition, int64_t offset,
                                 std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    auto it = topics_.find(topic);
    return it != topics_.end() && static_cast<int64_t>(it->second.size()) > offset;
  });
}

uint64_t MemoryEventLog::NotifyWhenPast(const std::string& topic, int32_t partition,
                                        int64_t offset, std::function<void()> wake) {
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end() || partition != 0) return 0;
    id = next_notify_++;
    if (static_cast<int64_t>(it->second.size()) <= offset) {
      notifies_.emplace(id, Notify{topic, offset, std::move(wake)});
      return id;
    }
  }
  wake();
  return id;
}

void MemoryEventLog::CancelNotify(const std::string& topic, int32_t partition, uint64_t id) {
  std::lock_guard lock(mu_);
  notifies_.erase(id);
}

Result<int64_t> MemoryEventLog::OffsetForTime(const std::string& topic, int32_t partition,
                                              int64_t timestamp_ms) {
  std::lock_guard lock(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) return NotFound("topic '" + topic + "' does not exist");
  for (const SourceRecord& r : it->second) {
    if (r.timestamp_ms >= timestamp_ms) return r.offset;
  }
  return static_cast<int64_t>(it->second.size());
}

Result<int64_t> MemoryEventLog::Append(const AppendRecord& a) {
  std::unique_lock lock(mu_);
  auto& recs = topics_[a.topic];
  SourceRecord r;
  r.topic = a.topic;
  r.offset = static_cast<int64_t>(recs.size());
  r.timestamp_ms = a.timestamp_ms;
  r.key = a.key;
  r.headers = a.headers;
  r.value = a.value;
  recs.push_back(std::move(r));
  int64_t offset = static_cast<int64_t>(recs.size()) - 1;
  std::vector<std::function<void()>> fire;
  for (auto it = notifies_.begin(); it != notifies_.end();) {
    if (it->second.offset <= offset && it->second.topic == a.topic) {
      fire.push_back(std::move(it->second.wake));
      it = notifies_.erase(it);
    } else {
      ++it;
    }
  }
  lock.unlock();
  cv_.notify_all();
  for (auto& f : fire) f();
  return offset;
}

}  // namespace ec::delivery
