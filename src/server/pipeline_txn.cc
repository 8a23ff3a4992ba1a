#include "server/pipeline_txn.h"

#include <future>

#include "log/log_manager.h"

namespace ec::server {

PipelineTxn::~PipelineTxn() { (void)WaitMarkers(); }

Status PipelineTxn::WaitMarkers() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return markers_pending_ == 0; });
  Status s = markers_error_;
  markers_error_ = Status::Ok();
  return s;
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
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Status result;
    writer_->WriteMarkersAsync(open, txn_, /*commit=*/!undecided, [&](Status s) {
      std::lock_guard<std::mutex> lock(mu);
      result = std::move(s);
      done = true;
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    EC_RETURN_IF_ERROR(result);
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
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status result;
  writer_->WriteMarkersAsync(touched, txn_, /*commit=*/false, [&](Status s) {
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(s);
    done = true;
    cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
  }
  EC_RETURN_IF_ERROR(result);
  if (logs_->group_offsets()->HasOpenTransaction(txn_.producer_id)) {
    return logs_->group_offsets()->EndTransaction(txn_.producer_id, txn_.epoch, false, log::Durability::kSync);
  }
  return Status::Ok();
}

Status PipelineTxn::CommitPass(const std::string& group, const std::vector<log::OffsetCommitEntry>& positions,
                               const std::vector<pipeline::OutputRecord>& outputs) {
  log::GroupOffsets* offsets = logs_->group_offsets();
  std::set<TopicWriter::TopicPartition> touched;
  // 1. The offset record opens the transaction on __consumer_offsets: written before any
  //    output, its fdatasync runs in the same group-commit round as the outputs'.
  std::promise<Status> offsets_done;
  std::future<Status> offsets_future = offsets_done.get_future();
  offsets->CommitTransactionalAsync(group, positions, txn_.producer_id, txn_.epoch, log::Durability::kSync,
                                    [&offsets_done](Status st) { offsets_done.set_value(std::move(st)); });
  // 2. Outputs, durable.
  Status s = writer_->AppendTransactional(outputs, txn_, /*sync=*/true, &touched);
  Status os = offsets_future.get();
  if (s.ok()) s = os;
  // The previous pass's markers must be durable before this pass decides.
  if (s.ok()) s = WaitMarkers();
  if (s.ok() && crash_before_decision) return Status(ErrorCode::kUnavailable, "test hook: stopped before the decision");
  if (!s.ok()) {
    Status a = Abort(touched);
    if (!a.ok()) return Status(s.code(), s.message() + "; the abort failed too: " + a.message());
    return s;
  }
  // 3. The decision.
  EC_RETURN_IF_ERROR(offsets->EndTransaction(txn_.producer_id, txn_.epoch, /*commit=*/true, log::Durability::kSync));
  // 4. Markers: written now (visible to read_committed readers), durable before the next decision.
  if (!touched.empty()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++markers_pending_;
    }
    writer_->WriteMarkersAsync(touched, txn_, /*commit=*/true, [this](Status ms) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!ms.ok() && markers_error_.ok()) markers_error_ = ms;
      if (--markers_pending_ == 0) cv_.notify_all();
    });
  }
  return Status::Ok();
}

}  // namespace ec::server
