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

  // Exactly-once (a transactional producer): stores `entries` in a transactional batch of
  // `producer_id`; they become visible (Fetch) only when EndTransaction commits. Errors as Commit.
  Status CommitTransactional(const std::string& group, const std::vector<OffsetCommitEntry>& entries,
                             int64_t producer_id, int16_t producer_epoch, Durability durability);
  // As CommitTransactional; the record is written before this returns, `done` runs when it
  // is durable (on the flusher thread for kSync), so its fdatasync can share a group commit
  // with other partitions' appends.
  // `defer_journal_sync`: AppendOptions::defer_journal_sync (the caller requests the sync).
  void CommitTransactionalAsync(const std::string& group, const std::vector<OffsetCommitEntry>& entries,
                                int64_t producer_id, int16_t producer_epoch, Durability durability,
                                std::function<void(Status)> done, bool defer_journal_sync = false);
  // Writes the commit or abort marker of `producer_id`'s open transaction on the offsets
  // topic and applies (commit) or drops (abort) its pending offsets. Errors: IoError.
  Status EndTransaction(int64_t producer_id, int16_t producer_epoch, bool commit, Durability durability);
  // Whether `producer_id` has a transaction open on the offsets topic (no marker yet).
  bool HasOpenTransaction(int64_t producer_id) const;

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
  struct PendingCommit {
    int64_t log_offset;
    std::string group;
    std::string topic;
    int32_t partition;
    CommittedOffset committed;
  };
  void ApplyLocked(const PendingCommit& c);
  std::shared_ptr<PartitionLog> log_;
  mutable std::mutex mu_;
  std::map<int64_t, std::vector<PendingCommit>> pending_;  // producer id -> open txn's offsets
  // group -> (topic, partition) -> offset
  std::map<std::string, std::map<std::pair<std::string, int32_t>, Slot>> offsets_;
};

}  // namespace ec::log
