#include "log/group_offsets.h"

#include <chrono>
#include <future>

#include "log/bytes.h"
#include "log/record_batch_builder.h"

namespace ec::log {
namespace {

// Key: i16 version (1), u16 group length, group, u16 topic length, topic, i32 partition.
// Value: i16 version (1), i64 offset, i32 leader epoch, i64 commit time, u32 metadata length,
// metadata. A null value deletes the key.
constexpr int16_t kFormatVersion = 1;

std::string EncodeKey(const std::string& group, const std::string& topic, int32_t partition) {
  std::string k;
  bytes::PutBe(&k, kFormatVersion, 2);
  bytes::PutBe(&k, group.size(), 2);
  k += group;
  bytes::PutBe(&k, topic.size(), 2);
  k += topic;
  bytes::PutBe(&k, static_cast<uint32_t>(partition), 4);
  return k;
}

bool DecodeKey(std::string_view k, std::string* group, std::string* topic, int32_t* partition) {
  if (k.size() < 2 + 2 || bytes::LoadI16(k.data()) != kFormatVersion) return false;
  size_t pos = 2;
  auto str = [&](std::string* out) {
    if (k.size() - pos < 2) return false;
    size_t n = bytes::LoadBe(k.data() + pos, 2);
    pos += 2;
    if (k.size() - pos < n) return false;
    out->assign(k.substr(pos, n));
    pos += n;
    return true;
  };
  if (!str(group) || !str(topic) || k.size() - pos != 4) return false;
  *partition = bytes::LoadI32(k.data() + pos);
  return true;
}

std::string EncodeValue(const CommittedOffset& c) {
  std::string v;
  bytes::PutBe(&v, kFormatVersion, 2);
  bytes::PutBe(&v, static_cast<uint64_t>(c.offset), 8);
  bytes::PutBe(&v, static_cast<uint32_t>(c.leader_epoch), 4);
  bytes::PutBe(&v, static_cast<uint64_t>(c.commit_time_ms), 8);
  bytes::PutBe(&v, c.metadata.size(), 4);
  v += c.metadata;
  return v;
}

bool DecodeValue(std::string_view v, CommittedOffset* c) {
  if (v.size() < 26 || bytes::LoadI16(v.data()) != kFormatVersion) return false;
  c->offset = bytes::LoadI64(v.data() + 2);
  c->leader_epoch = bytes::LoadI32(v.data() + 10);
  c->commit_time_ms = bytes::LoadI64(v.data() + 14);
  size_t n = bytes::LoadBe(v.data() + 22, 4);
  if (v.size() - 26 != n) return false;
  c->metadata.assign(v.substr(26));
  return true;
}

Status FromAppend(const AppendResult& r) {
  if (r.ok()) return Status::Ok();
  return IoError("storing group offsets: " + std::string(LogErrorName(r.error)) + ": " + r.message);
}

}  // namespace

Result<std::unique_ptr<GroupOffsets>> GroupOffsets::Open(std::shared_ptr<PartitionLog> log) {
  std::unique_ptr<GroupOffsets> g(new GroupOffsets(std::move(log)));
  EC_RETURN_IF_ERROR(g->Load());
  return g;
}

Status GroupOffsets::Load() {
  int64_t offset = log_->log_start_offset();
  const int64_t end = log_->log_end_offset();
  while (offset < end) {
    ReadResult rr = log_->Read(offset, 1 << 20);
    if (rr.error != LogError::kNone) return IoError("reading group offsets: " + rr.message);
    if (rr.total_bytes == 0) break;
    std::string bytes;
    EC_RETURN_IF_ERROR(rr.CopyTo(&bytes));
    EC_RETURN_IF_ERROR(ForEachBatch(bytes, true, [&](const RecordBatchView& b) -> Status {
      offset = b.last_offset() + 1;
      if (b.is_control()) {
        // A transaction marker: apply or drop that producer's pending offsets.
        auto it = pending_.find(b.producer_id());
        if (it == pending_.end()) return Status::Ok();
        bool commit = false;
        EC_RETURN_IF_ERROR(b.ForEachRecord([&](const Record& r) -> Status {
          if (r.key) commit = ParseControlKey(*r.key) == ControlType::kCommit;
          return Status::Ok();
        }));
        if (commit) {
          for (const PendingCommit& c : it->second) ApplyLocked(c);
        }
        pending_.erase(it);
        return Status::Ok();
      }
      const bool txn = b.is_transactional() && b.producer_id() >= 0;
      return b.ForEachRecord([&](const Record& r) -> Status {
        std::string group, topic;
        int32_t partition;
        if (!r.key || !DecodeKey(*r.key, &group, &topic, &partition)) return Status::Ok();
        if (txn) {
          CommittedOffset c;
          if (r.value && DecodeValue(*r.value, &c)) {
            pending_[b.producer_id()].push_back({r.offset, group, topic, partition, std::move(c)});
          }
          return Status::Ok();
        }
        if (!r.value) {
          auto it = offsets_.find(group);
          if (it != offsets_.end()) {
            it->second.erase({topic, partition});
            if (it->second.empty()) offsets_.erase(it);
          }
          return Status::Ok();
        }
        CommittedOffset c;
        if (DecodeValue(*r.value, &c)) offsets_[group][{topic, partition}] = {r.offset, std::move(c)};
        return Status::Ok();
      });
    }));
  }
  return Status::Ok();
}

void GroupOffsets::CommitAsync(const std::string& group, const std::vector<OffsetCommitEntry>& entries,
                               Durability durability, std::function<void(Status)> done) {
  if (entries.empty()) {
    done(Status::Ok());
    return;
  }
  RecordBatchBuilder b;
  for (const OffsetCommitEntry& e : entries) {
    if (static_cast<int64_t>(e.committed.metadata.size()) > max_metadata_bytes) {
      done(LimitExceeded("offset metadata of " + std::to_string(e.committed.metadata.size()) +
                         " bytes exceeds offset.metadata.max.bytes " +
                         std::to_string(max_metadata_bytes)));
      return;
    }
    b.Add(EncodeKey(group, e.topic, e.partition), EncodeValue(e.committed), e.committed.commit_time_ms);
  }
  auto batch = b.Build();
  if (!batch.ok()) {
    done(batch.status());
    return;
  }
  // Memory changes only once the batch is stored; the log offset orders concurrent commits
  // the way recovery will replay them.
  log_->AppendAsync(std::move(*batch), {durability},
                    [this, group, entries, done = std::move(done)](const AppendResult& r) {
                      Status s = FromAppend(r);
                      if (s.ok()) {
                        std::lock_guard l(mu_);
                        auto& m = offsets_[group];
                        for (const OffsetCommitEntry& e : entries) {
                          Slot& slot = m[{e.topic, e.partition}];
                          if (slot.log_offset <= r.base_offset) slot = {r.base_offset, e.committed};
                        }
                      }
                      done(s);
                    });
}

Status GroupOffsets::Commit(const std::string& group, const std::vector<OffsetCommitEntry>& entries,
                            Durability durability) {
  std::promise<Status> p;
  auto f = p.get_future();
  CommitAsync(group, entries, durability, [&p](Status s) { p.set_value(std::move(s)); });
  return f.get();
}

void GroupOffsets::ApplyLocked(const PendingCommit& c) {
  Slot& slot = offsets_[c.group][{c.topic, c.partition}];
  if (slot.log_offset <= c.log_offset) slot = {c.log_offset, c.committed};
}

Status GroupOffsets::CommitTransactional(const std::string& group,
                                         const std::vector<OffsetCommitEntry>& entries,
                                         int64_t producer_id, int16_t producer_epoch,
                                         Durability durability) {
  std::promise<Status> p;
  auto f = p.get_future();
  CommitTransactionalAsync(group, entries, producer_id, producer_epoch, durability,
                           [&p](Status s) { p.set_value(std::move(s)); });
  return f.get();
}

void GroupOffsets::CommitTransactionalAsync(const std::string& group,
                                            const std::vector<OffsetCommitEntry>& entries,
                                            int64_t producer_id, int16_t producer_epoch,
                                            Durability durability, std::function<void(Status)> done,
                                            bool defer_journal_sync) {
  if (entries.empty()) {
    done(Status::Ok());
    return;
  }
  BatchBuilderOptions o;
  o.producer_id = producer_id;
  o.producer_epoch = producer_epoch;
  o.transactional = true;
  RecordBatchBuilder b(o);
  for (const OffsetCommitEntry& e : entries) {
    if (static_cast<int64_t>(e.committed.metadata.size()) > max_metadata_bytes) {
      done(LimitExceeded("offset metadata of " + std::to_string(e.committed.metadata.size()) +
                         " bytes exceeds offset.metadata.max.bytes " + std::to_string(max_metadata_bytes)));
      return;
    }
    b.Add(EncodeKey(group, e.topic, e.partition), EncodeValue(e.committed), e.committed.commit_time_ms);
  }
  auto batch = b.Build();
  if (!batch.ok()) {
    done(batch.status());
    return;
  }
  // Pending (not visible to Fetch) once `done` runs; EndTransaction must wait for it.
  log_->AppendAsync(std::move(*batch), {durability, defer_journal_sync},
                    [this, group, entries, producer_id, done = std::move(done)](const AppendResult& r) {
                      Status s = FromAppend(r);
                      if (s.ok()) {
                        std::lock_guard l(mu_);
                        auto& pending = pending_[producer_id];
                        for (size_t i = 0; i < entries.size(); ++i) {
                          pending.push_back({r.base_offset + static_cast<int64_t>(i), group, entries[i].topic,
                                             entries[i].partition, entries[i].committed});
                        }
                      }
                      done(s);
                    });
}

Status GroupOffsets::EndTransaction(int64_t producer_id, int16_t producer_epoch, bool commit,
                                    Durability durability) {
  std::string marker = RecordBatchBuilder::MakeControlBatch(
      producer_id, producer_epoch, commit ? ControlType::kCommit : ControlType::kAbort, 0,
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  AppendResult r = log_->Append(std::move(marker), {durability});
  EC_RETURN_IF_ERROR(FromAppend(r));
  std::lock_guard l(mu_);
  auto it = pending_.find(producer_id);
  if (it == pending_.end()) return Status::Ok();
  if (commit) {
    for (const PendingCommit& c : it->second) ApplyLocked(c);
  }
  pending_.erase(it);
  return Status::Ok();
}

bool GroupOffsets::HasOpenTransaction(int64_t producer_id) const {
  return log_->OpenTransactionStart(producer_id).has_value();
}

Status GroupOffsets::WriteTombstones(
    const std::vector<std::tuple<std::string, std::string, int32_t>>& keys) {
  if (keys.empty()) return Status::Ok();
  RecordBatchBuilder b;
  for (const auto& [group, topic, partition] : keys)
    b.Add(EncodeKey(group, topic, partition), std::nullopt, 0);
  EC_ASSIGN_OR_RETURN(std::string batch, b.Build());
  AppendResult r = log_->Append(std::move(batch), {Durability::kSync});
  EC_RETURN_IF_ERROR(FromAppend(r));
  std::lock_guard l(mu_);
  for (const auto& [group, topic, partition] : keys) {
    auto g = offsets_.find(group);
    if (g == offsets_.end()) continue;
    g->second.erase({topic, partition});
    if (g->second.empty()) offsets_.erase(g);
  }
  return Status::Ok();
}

Status GroupOffsets::DeleteGroup(const std::string& group) {
  std::vector<std::tuple<std::string, std::string, int32_t>> keys;
  {
    std::lock_guard l(mu_);
    auto g = offsets_.find(group);
    if (g == offsets_.end()) return Status::Ok();
    for (const auto& [tp, slot] : g->second) keys.emplace_back(group, tp.first, tp.second);
  }
  return WriteTombstones(keys);
}

Status GroupOffsets::DeleteOffsets(const std::string& group,
                                   const std::vector<std::pair<std::string, int32_t>>& partitions) {
  std::vector<std::tuple<std::string, std::string, int32_t>> keys;
  for (const auto& [topic, partition] : partitions) keys.emplace_back(group, topic, partition);
  return WriteTombstones(keys);
}

Status GroupOffsets::DeleteTopic(const std::string& topic) {
  std::vector<std::tuple<std::string, std::string, int32_t>> keys;
  {
    std::lock_guard l(mu_);
    for (const auto& [group, m] : offsets_) {
      for (const auto& [tp, slot] : m) {
        if (tp.first == topic) keys.emplace_back(group, tp.first, tp.second);
      }
    }
  }
  return WriteTombstones(keys);
}

std::optional<CommittedOffset> GroupOffsets::Fetch(const std::string& group, const std::string& topic,
                                                   int32_t partition) const {
  std::lock_guard l(mu_);
  auto g = offsets_.find(group);
  if (g == offsets_.end()) return std::nullopt;
  auto it = g->second.find({topic, partition});
  if (it == g->second.end()) return std::nullopt;
  return it->second.committed;
}

std::map<std::pair<std::string, int32_t>, CommittedOffset> GroupOffsets::FetchAll(
    const std::string& group) const {
  std::lock_guard l(mu_);
  std::map<std::pair<std::string, int32_t>, CommittedOffset> out;
  auto g = offsets_.find(group);
  if (g == offsets_.end()) return out;
  for (const auto& [tp, slot] : g->second) out[tp] = slot.committed;
  return out;
}

std::vector<std::string> GroupOffsets::ListGroups() const {
  std::lock_guard l(mu_);
  std::vector<std::string> out;
  for (const auto& [g, m] : offsets_) out.push_back(g);
  return out;
}

}  // namespace ec::log
