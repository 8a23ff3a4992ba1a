#include "server/pipeline_txn.h"

#include <chrono>
#include <future>

#include "log/journal.h"
#include "log/log_manager.h"
#include "log/record_batch_builder.h"
#include "log/trace.h"

namespace ec::server {

PipelineTxn::~PipelineTxn() { (void)WaitMarkers(); }

Status PipelineTxn::SyncMarkers(const std::set<TopicWriter::TopicPartition>& covered) {
  std::lock_guard<std::mutex> lock(mu_);
  Status first = markers_error_;
  markers_error_ = Status::Ok();
  for (auto it = unsynced_markers_.begin(); it != unsynced_markers_.end();) {
    if (covered.count(*it) == 0) {
      std::shared_ptr<log::PartitionLog> pl = logs_->GetPartition(it->first, it->second);
      Status s = pl == nullptr ? Status::Ok() : pl->Flush();
      if (!s.ok()) {
        if (first.ok()) first = Status(s.code(), "transaction marker on '" + it->first + "': " + s.message());
        ++it;
        continue;  // stays unsynced: the next attempt syncs it again
      }
    }
    it = unsynced_markers_.erase(it);
  }
  return first;
}

Status PipelineTxn::WriteCommitMarkers(const std::set<TopicWriter::TopicPartition>& partitions) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  Status first;
  // Every partition gets the same marker: built once (its CRC set here), copied into one
  // buffer per partition, whose offset and leader epoch (outside the CRC) the append assigns in
  // place. A kWritten append completes before AppendInPlace returns, so its result is read
  // right after, without Append's promise and future; the marker's CRC is not checked again
  // (built_here). Per pass of ~10 partitions that was ten builds, ten CRC checks and ten
  // promises.
  const std::string marker =
      log::RecordBatchBuilder::MakeControlBatch(txn_.producer_id, txn_.epoch, log::ControlType::kCommit, 0, now);
  std::string bytes;
  std::lock_guard<std::mutex> lock(mu_);
  for (const TopicWriter::TopicPartition& tp : partitions) {
    std::shared_ptr<log::PartitionLog> pl = logs_->GetPartition(tp.first, tp.second);
    if (pl == nullptr) {
      if (first.ok()) first = Status(ErrorCode::kNotFound, "topic '" + tp.first + "' has no partition " + std::to_string(tp.second));
      continue;
    }
    bytes.assign(marker);
    log::AppendResult ar;
    bool completed = false;
    pl->AppendInPlace(bytes.data(), bytes.size(), {.durability = log::Durability::kWritten, .built_here = true},
                      [&ar, &completed](const log::AppendResult& r) {
                        ar = r;
                        completed = true;
                      });
    if (!completed) {  // PartitionLog::AppendInPlace's contract: kWritten completes inline
      ar.error = log::LogError::kStorageError;
      ar.message = "the marker's append did not complete before it returned";
    }
    if (!ar.ok()) {
      if (first.ok()) first = Status(ErrorCode::kIoError, "transaction marker on '" + tp.first + "' failed: " + ar.message);
      continue;
    }
    unsynced_markers_.insert(tp);
  }
  return first;
}

Status PipelineTxn::WriteMarkersAndWait(const std::set<TopicWriter::TopicPartition>& partitions, bool commit) {
  std::promise<Status> done;
  std::future<Status> result = done.get_future();
  writer_->WriteMarkersAsync(partitions, txn_, commit, [&done](Status s) { done.set_value(std::move(s)); });
  return result.get();
}

Status PipelineTxn::Recover(size_t* aborted, size_t* committed) {
  if (aborted) *aborted = 0;
  if (committed) *committed = 0;
  log::GroupOffsets* offsets = logs_->group_offsets();
  const bool undecided = offsets->HasOpenTransaction(txn_.producer_id);
  std::set<TopicWriter::TopicPartition> open;
  for (const log::TopicInfo& t : logs_->ListTopics()) {
    if (t.name == log::kOffsetsTopic) continue;
    for (int32_t p = 0; p < t.partitions; ++p) {
      std::shared_ptr<log::PartitionLog> pl = logs_->GetPartition(t.name, p);
      if (pl != nullptr && pl->OpenTransactionStart(txn_.producer_id)) open.insert({t.name, p});
    }
  }
  if (!open.empty()) {
    EC_RETURN_IF_ERROR(WriteMarkersAndWait(open, /*commit=*/!undecided));
    if (undecided && aborted) *aborted = open.size();
    if (!undecided && committed) *committed = open.size();
  }
  // __consumer_offsets last: while its transaction is open, a crash here repeats the abort.
  if (undecided) {
    EC_RETURN_IF_ERROR(offsets->EndTransaction(txn_.producer_id, txn_.epoch, /*commit=*/false, log::Durability::kSync));
    if (aborted) ++*aborted;
  }
  return Status::Ok();
}

Status PipelineTxn::Abort(const std::set<TopicWriter::TopicPartition>& touched) {
  EC_RETURN_IF_ERROR(WriteMarkersAndWait(touched, /*commit=*/false));
  if (logs_->group_offsets()->HasOpenTransaction(txn_.producer_id)) {
    return logs_->group_offsets()->EndTransaction(txn_.producer_id, txn_.epoch, false, log::Durability::kSync);
  }
  return Status::Ok();
}

Status PipelineTxn::CommitPass(const std::string& group, const std::vector<log::OffsetCommitEntry>& positions,
                               const std::vector<pipeline::OutputRecord>& outputs) {
  log::GroupOffsets* offsets = logs_->group_offsets();
  std::set<TopicWriter::TopicPartition> touched;
  times_ = Times{};
  const int64_t start_us = log::TraceNowUs();
  // 1. The offset record opens the transaction on __consumer_offsets: written before any
  //    output, its fdatasync runs in the same group-commit round as the outputs'.
  //    With the commit journal its sync is requested only after the outputs are written
  //    (defer_journal_sync): one journal fdatasync then covers them all.
  log::Journal* journal = logs_->journal();
  std::promise<Status> offsets_done;
  std::future<Status> offsets_future = offsets_done.get_future();
  offsets->CommitTransactionalAsync(
      group, positions, txn_.producer_id, txn_.epoch, log::Durability::kSync,
      [&offsets_done](Status st) { offsets_done.set_value(std::move(st)); }, /*defer_journal_sync=*/journal != nullptr);
  // Partitions holding the last pass's unsynced markers that this pass will not write to (by
  // topic) are synced now, concurrently with this pass's appends instead of after them.
  // With the commit journal there is nothing to do: the markers and the input were journaled
  // before the offset record, so the journal sync that makes it durable covers them too.
  std::vector<std::future<Status>> early_syncs;
  std::set<TopicWriter::TopicPartition> early;
  if (!journal) {
    std::set<std::string_view> topics;
    for (const pipeline::OutputRecord& r : outputs) topics.insert(r.topic);
    std::lock_guard<std::mutex> lock(mu_);
    for (const TopicWriter::TopicPartition& tp : unsynced_markers_) {
      if (topics.count(tp.first) != 0) continue;
      std::shared_ptr<log::PartitionLog> pl = logs_->GetPartition(tp.first, tp.second);
      if (pl == nullptr) continue;
      early.insert(tp);
      early_syncs.push_back(std::async(std::launch::async, [pl] { return pl->Flush(); }));
    }
  }
  // The pass may have read input records that ingest has written but not yet synced (reads go
  // up to the log end, not the durable end, so the pass overlaps ingest's fdatasync). The
  // decision must not make a position durable past input a power loss could still take away:
  // the input is synced here, in round A, unless ingest's group commit already covered it.
  for (const log::OffsetCommitEntry& p : positions) {
    if (journal) break;
    std::shared_ptr<log::PartitionLog> pl = logs_->GetPartition(p.topic, p.partition);
    if (pl == nullptr || pl->durable_offset() >= p.committed.offset) continue;
    early_syncs.push_back(std::async(std::launch::async, [pl] { return pl->Flush(); }));
  }
  // 2. Outputs, durable.
  Status s = writer_->AppendTransactional(outputs, txn_, /*sync=*/true, &touched);
  // AppendTransactional requested the journal sync after its appends, unless it wrote nothing
  // (no outputs, or an error first): the offset record must not wait for someone else's sync.
  // A failed journal fails the offset record's append itself.
  if (journal != nullptr) (void)journal->RequestSync();
  for (std::future<Status>& f : early_syncs) {
    Status fs = f.get();
    if (s.ok() && !fs.ok()) s = Status(fs.code(), "input or transaction marker sync: " + fs.message());
  }
  Status os = offsets_future.get();
  if (s.ok()) s = os;
  // The previous pass's markers must be durable before this pass decides: this pass's durable
  // appends covered those on the partitions it wrote to; the others are synced here.
  if (s.ok()) {
    early.insert(touched.begin(), touched.end());
    s = SyncMarkers(early);
  }
  if (s.ok() && crash_before_decision) return Status(ErrorCode::kUnavailable, "test hook: stopped before the decision");
  if (s.ok() && fail_before_decision) s = Status(ErrorCode::kUnavailable, "test hook: failed before the decision");
  if (!s.ok()) {
    Status a = Abort(touched);
    if (!a.ok()) return Status(s.code(), s.message() + "; the abort failed too: " + a.message());
    return s;
  }
  const int64_t round_a_us = log::TraceNowUs();
  times_.round_a_us = round_a_us - start_us;
  times_.partitions = touched.size();
  // 3. The decision.
  EC_RETURN_IF_ERROR(offsets->EndTransaction(txn_.producer_id, txn_.epoch, /*commit=*/true, log::Durability::kSync));
  const int64_t round_b_us = log::TraceNowUs();
  times_.round_b_us = round_b_us - round_a_us;
  // 4. Markers: written now (visible to read_committed readers), durable before the next
  //    decision. The pass is decided whatever happens here: a marker that cannot be written
  //    fails the next pass (SyncMarkers), and recovery writes it at the next start.
  Status ms = WriteCommitMarkers(touched);
  if (!ms.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (markers_error_.ok()) markers_error_ = ms;
  }
  times_.markers_us = log::TraceNowUs() - round_b_us;
  return Status::Ok();
}

}  // namespace ec::server
