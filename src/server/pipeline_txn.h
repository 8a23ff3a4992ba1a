#pragma once
// The transactions of the exactly-once pipeline (docs/exactly-once.md). Each pass is one
// transaction of a dedicated producer id: its output records (events, changelog records,
// tombstones, dead letters, state-topic records) go out as transactional batches, the new input
// position as a transactional offset record in __consumer_offsets, and then:
//
//   1. the offset record is written first, so an open transaction on __consumer_offsets marks
//      a pass in flight;
//   2. outputs and the offset record are made durable together (one group commit);
//   3. the decision: the commit marker on __consumer_offsets, durable. From here the pass
//      is committed;
//   4. commit markers on every output partition, written without their own fdatasync: the
//      next pass's durable append to the same partition covers them (one fdatasync covers
//      everything written to the file before it); the partitions that pass does not write to
//      are synced explicitly, concurrently with its appends, before its decision. In the
//      steady state a pass costs no fdatasync for markers at all.
//
// Recover() (at startup, before anything is read) finishes what a crash left open: if
// __consumer_offsets still has the producer's transaction open, the pass never decided and
// is aborted everywhere (outputs first, __consumer_offsets last); otherwise the open output
// transactions belong to the last, committed pass and get their commit markers.

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "log/group_offsets.h"
#include "pipeline/processor.h"
#include "server/topic_writer.h"

namespace ec::log {
class LogManager;
}

namespace ec::server {

// Outside the range LogManager::AllocateProducerId hands to Kafka clients.
inline constexpr int64_t kPipelineProducerId = int64_t{1} << 48;

class PipelineTxn {
 public:
  PipelineTxn(log::LogManager* logs, TopicWriter* writer, int64_t producer_id = kPipelineProducerId)
      : logs_(logs), writer_(writer), txn_{producer_id, 0} {}
  ~PipelineTxn();

  // Finishes transactions a crash left open (see above). Returns how many partitions got a
  // marker in `*aborted` / `*committed` (either may be null).
  Status Recover(size_t* aborted = nullptr, size_t* committed = nullptr);

  // Runs steps 1-4 for one pass. On error the pass is aborted (best effort) and nothing of it
  // is visible to read_committed readers; the caller retries from its committed position.
  // `after_decision` runs between 3 and 4 (the state store commit).
  Status CommitPass(const std::string& group, const std::vector<log::OffsetCommitEntry>& positions,
                    const std::vector<pipeline::OutputRecord>& outputs);

  // Makes the markers of the last pass durable (fdatasync of the partitions holding markers
  // not yet covered by a later durable append).
  Status WaitMarkers() { return SyncMarkers({}); }

  // Test hook: stop after step 2 (outputs durable, no decision), as a crash would.
  bool crash_before_decision = false;
  // Test hook: fail after step 2 (outputs durable, no decision), as an append error would:
  // the pass is aborted (abort markers) and CommitPass returns the error.
  bool fail_before_decision = false;

  // Where the last CommitPass spent its time (wall-clock microseconds), for the pass trace.
  struct Times {
    int64_t round_a_us = 0;   // 1-2: outputs, offset record and older markers durable
    int64_t round_b_us = 0;   // 3: the decision durable
    int64_t markers_us = 0;   // 4: commit markers written
    size_t partitions = 0;    // output partitions the pass wrote to
  };
  const Times& last_times() const { return times_; }

  const TopicWriter::Txn& txn() const { return txn_; }

 private:
  Status Abort(const std::set<TopicWriter::TopicPartition>& touched);
  // Writes commit or abort markers on `partitions` through the writer and waits for them.
  Status WriteMarkersAndWait(const std::set<TopicWriter::TopicPartition>& partitions, bool commit);
  // Writes commit markers (not synced) on `partitions` and remembers them as unsynced.
  Status WriteCommitMarkers(const std::set<TopicWriter::TopicPartition>& partitions);
  // Syncs the partitions with unsynced markers, except those in `covered` (their durable
  // append after the markers made the markers durable too).
  Status SyncMarkers(const std::set<TopicWriter::TopicPartition>& covered);

  log::LogManager* logs_;
  TopicWriter* writer_;
  TopicWriter::Txn txn_;
  std::mutex mu_;
  std::set<TopicWriter::TopicPartition> unsynced_markers_;  // guarded by mu_
  Status markers_error_;  // a marker that could not be written; guarded by mu_
  Times times_;
};

}  // namespace ec::server
