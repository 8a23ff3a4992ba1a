#pragma once
// GroupOffsets: committed consumer offsets per (group, topic, partition), durable across
// restarts. Stored as records in the internal compacted topic "__consumer_offsets" (key =
// group/topic/partition, value = offset, leader epoch, metadata, commit time; a null value
// deletes), read back into memory on open. Thread-safe. Owned by LogManager.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "base/status.h"
#include "log/partition_log.h"

namespace ec::log {

inline constexpr char kOffsetsTopic[] = "__consumer_offsets";

struct CommittedOffset {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  int64_t commit_time_ms = 0;
};

struct OffsetCommitEntry {
  std::string topic;
  int32_t partition = 0;
  CommittedOffset committed;
};

class GroupOffsets {
 public:
  // `log` is the partition of the offsets topic (already recovered); reads it all into memory.
  static Result<std::unique_ptr<GroupOffsets>> Open(std::shared_ptr<PartitionLog> log);

  // Durably stores every entry (one batch, fdatasync when `durability` is kSync) before
  // returning; on failure nothing is visible. Errors: IoError, LimitExceeded (metadata too big).
  Status Commit(const std::string& group, const std::vector<OffsetCommitEntry>& entries,
                Durability durability = Durability::kSync);
  // As Commit, completing on the flusher thread (asio servers must not block).
  void CommitAsync(const std::string& group, const std::vector<OffsetCommitEntry>& entries,
                   Durability durability, std::function<void(Status)> done);

  // The committed offset, or nullopt if none.
  std::optional<CommittedOffset> Fetch(const std::string& group, const std::string& topic,
                                       int32_t partition) const;
  // Every committed offset of `group`, keyed by (topic, partition).
  std::map<std::pair<std::string, int32_t>, CommittedOffset> FetchAll(const std::string& group) const;
  // Groups that have at least one committed offset.
  std::vector<std::string> ListGroups() const;
  // Deletes all offsets of `group` (DeleteGroups). Ok if it had none.
  Status DeleteGroup(const std::string& group);
  // Deletes some offsets of `group` (OffsetDelete).
  Status DeleteOffsets(const std::string& group,
                       const std::vector<std::pair<std::string, int32_t>>& partitions);
  // Forgets offsets of a deleted topic (in memory and on disk).
  Status DeleteTopic(const std::string& topic);

  int64_t max_metadata_bytes = 4096;  // offset.metadata.max.bytes

 private:
  explicit GroupOffsets(std::shared_ptr<PartitionLog> log) : log_(std::move(log)) {}
  Status Load();
  Status WriteTombstones(const std::vector<std::tuple<std::string, std::string, int32_t>>& keys);
  struct Slot {
    int64_t log_offset = -1;  // where this value is stored (orders concurrent commits)
    CommittedOffset committed;
  };
  std::shared_ptr<PartitionLog> log_;
  mutable std::mutex mu_;
  // group -> (topic, partition) -> offset
  std::map<std::string, std::map<std::pair<std::string, int32_t>, Slot>> offsets_;
};

}  // namespace ec::log
