#include "delivery/log_event_log.h"

#include <functional>
#include <thread>

#include "log/log_manager.h"
#include "log/record_batch.h"
#include "log/record_batch_builder.h"

namespace ec::delivery {

namespace {

Status NoPartition(const std::string& topic, int32_t partition) {
  return NotFound("topic '" + topic + "' has no partition " + std::to_string(partition) +
                  "; list topics with GET /v1/topics");
}

}  // namespace

std::vector<std::string> LogEventLog::Topics() {
  std::vector<std::string> out;
  for (const log::TopicInfo& t : logs_->ListTopics()) {
    if (!t.internal) out.push_back(t.name);
  }
  return out;
}

Result<int32_t> LogEventLog::PartitionCount(const std::string& topic) {
  auto info = logs_->DescribeTopic(topic);
  if (!info) return NotFound("topic '" + topic + "' does not exist");
  return info->partitions;
}

Result<std::vector<SourceRecord>> LogEventLog::Read(const std::string& topic, int32_t partition,
                                                    int64_t offset, size_t max_records,
                                                    size_t max_bytes) {
  auto p = logs_->GetPartition(topic, partition);
  if (!p) return NoPartition(topic, partition);
  offset = std::max(offset, p->log_start_offset());
  std::vector<SourceRecord> out;
  size_t bytes_read = 0;
  // One log read may stop early (segment end, a batch beyond max_bytes): read on until the
  // limits are reached or nothing more comes.
  while (out.size() < max_records && bytes_read < max_bytes && offset < p->high_watermark()) {
    log::ReadResult rr = p->Read(offset, max_bytes - bytes_read);
    if (rr.error != log::LogError::kNone) {
      // Retention may have moved the start meanwhile: go on from the new start.
      if (p->log_start_offset() > offset) {
        offset = p->log_start_offset();
        continue;
      }
      if (!out.empty()) break;
      return IoError("reading " + topic + "-" + std::to_string(partition) + " at " +
                     std::to_string(offset) + ": " + rr.message);
    }
    std::string bytes;
    EC_RETURN_IF_ERROR(rr.CopyTo(&bytes));
    if (bytes.empty()) break;
    bytes_read += bytes.size();
    int64_t next = offset;
    Status st = log::ForEachBatch(bytes, /*allow_partial_tail=*/true,
                                  [&](const log::RecordBatchView& batch) -> Status {
      next = std::max(next, batch.last_offset() + 1);
      if (batch.is_control() || out.size() >= max_records) return Status::Ok();
      return batch.ForEachRecord([&](const log::Record& r) -> Status {
        if (r.offset < offset || out.size() >= max_records) return Status::Ok();
        SourceRecord s;
        s.topic = topic;
        s.partition = partition;
        s.offset = r.offset;
        s.timestamp_ms = r.timestamp;
        if (r.key) s.key = std::string(*r.key);
        if (r.value) s.value = std::string(*r.value);
        for (const log::RecordHeader& h : r.headers) {
          s.headers.emplace_back(std::string(h.key), h.value ? std::string(*h.value) : "");
        }
        out.push_back(std::move(s));
        return Status::Ok();
      });
    });
    if (!st.ok()) return st;
    if (next <= offset) break;
    offset = next;
  }
  return out;
}

Result<int64_t> LogEventLog::EndOffset(const std::string& topic, int32_t partition) {
  auto p = logs_->GetPartition(topic, partition);
  if (!p) return NoPartition(topic, partition);
  return p->high_watermark();
}

bool LogEventLog::WaitForData(const std::string& topic, int32_t partition, int64_t offset,
                              std::chrono::milliseconds timeout) {
  auto p = logs_->GetPartition(topic, partition);
  if (!p) {
    std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(50)));
    return false;
  }
  return p->WaitPast(offset, timeout);
}

uint64_t LogEventLog::NotifyWhenPast(const std::string& topic, int32_t partition, int64_t offset,
                                     std::function<void()> wake) {
  auto p = logs_->GetPartition(topic, partition);
  if (!p) return 0;
  return p->NotifyWhenPast(offset, std::move(wake));  // the log's ids start at 1
}

void LogEventLog::CancelNotify(const std::string& topic, int32_t partition, uint64_t id) {
  if (id == 0) return;
  if (auto p = logs_->GetPartition(topic, partition)) p->CancelNotify(id);
}

Result<int64_t> LogEventLog::OffsetForTime(const std::string& topic, int32_t partition,
                                           int64_t timestamp_ms) {
  auto p = logs_->GetPartition(topic, partition);
  if (!p) return NoPartition(topic, partition);
  log::TimestampOffset to = p->OffsetForTimestamp(timestamp_ms);
  return to.offset < 0 ? p->high_watermark() : to.offset;
}

Result<int64_t> LogEventLog::Append(const AppendRecord& a) {
  if (!logs_->DescribeTopic(a.topic)) {
    Status st = logs_->CreateTopic(a.topic, 1);
    if (!st.ok() && st.code() != ErrorCode::kAlreadyExists) return st;
  }
  auto info = logs_->DescribeTopic(a.topic);
  if (!info) return NotFound("topic '" + a.topic + "' vanished while appending");
  int32_t partition = 0;
  if (a.key && info->partitions > 1) {
    partition = static_cast<int32_t>(std::hash<std::string>{}(*a.key) % info->partitions);
  }
  auto p = logs_->GetPartition(a.topic, partition);
  if (!p) return NoPartition(a.topic, partition);
  std::vector<log::RecordHeader> headers;
  for (const auto& [k, v] : a.headers) headers.push_back({k, std::string_view(v)});
  log::RecordBatchBuilder builder;
  std::optional<std::string_view> key, value;
  if (a.key) key = *a.key;
  if (a.value) value = *a.value;
  builder.Add(key, value, a.timestamp_ms, headers);
  EC_ASSIGN_OR_RETURN(std::string batch, builder.Build());
  log::AppendResult res = p->Append(std::move(batch), {log::Durability::kSync});
  if (!res.ok()) return IoError("appending to " + a.topic + ": " + res.message);
  return res.base_offset;
}

}  // namespace ec::delivery
