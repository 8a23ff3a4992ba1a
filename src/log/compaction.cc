// PartitionLog::Compact: keeps the latest record per key in closed segments
// (cleanup.policy=compact). docs/log-format.md, "Compaction", states the rules.

#include <unordered_map>

#include "log/partition_log.h"
#include "log/partition_log_impl.h"
#include "log/record_batch_builder.h"

namespace ec::log {
namespace {

constexpr size_t kMaxDecompressed = 256u << 20;

// Rewrites `seg` keeping only records for which `keep` is true. Batches whose records all
// survive are copied byte for byte; others are rebuilt with the same compression, producer
// fields and offsets. Writes "<stem>.log.cleaned" and returns its size.
Status RewriteSegment(Env* env, const Segment& seg, uint64_t seg_size,
                      const std::function<bool(const RecordBatchView&, const Record&)>& keep, bool* changed) {
  *changed = false;
  EC_ASSIGN_OR_RETURN(std::shared_ptr<File> out, env->OpenFile(seg.stem() + ".log.cleaned", true));
  EC_RETURN_IF_ERROR(out->Truncate(0));
  std::string batch;
  uint64_t pos = 0;
  while (pos < seg_size) {
    EC_ASSIGN_OR_RETURN(BatchHeader h, seg.ReadHeader(pos, seg_size));
    pos += h.size;
    EC_RETURN_IF_ERROR(seg.ReadBatch(h, &batch));
    auto view = RecordBatchView::ParseTrusted(batch);
    if (view->is_control()) {
      EC_RETURN_IF_ERROR(out->Append(batch));
      continue;
    }
    EC_ASSIGN_OR_RETURN(RecordSet set, view->Records(kMaxDecompressed));
    std::vector<const Record*> kept;
    for (const Record& r : set.records()) {
      if (keep(*view, r)) kept.push_back(&r);
    }
    if (kept.size() == set.records().size()) {
      EC_RETURN_IF_ERROR(out->Append(batch));
      continue;
    }
    *changed = true;
    if (kept.empty()) continue;
    BatchBuilderOptions o;
    o.compression = view->compression();
    o.base_offset = view->base_offset();
    o.producer_id = view->producer_id();
    o.producer_epoch = view->producer_epoch();
    o.base_sequence = view->base_sequence();
    o.transactional = view->is_transactional();
    o.partition_leader_epoch = view->partition_leader_epoch();
    o.last_offset_delta = view->last_offset_delta();
    if (view->timestamp_type() == TimestampType::kLogAppendTime) {
      o.timestamp_type = TimestampType::kLogAppendTime;
      o.log_append_time = view->max_timestamp();
    }
    RecordBatchBuilder b(o);
    for (const Record* r : kept) {
      b.AddWithOffsetDelta(static_cast<int32_t>(r->offset - view->base_offset()), r->key, r->value,
                           r->timestamp, r->headers);
    }
    EC_ASSIGN_OR_RETURN(std::string rebuilt, b.Build());
    EC_RETURN_IF_ERROR(out->Append(rebuilt));
  }
  return out->Sync();
}

}  // namespace

Status PartitionLog::Compact(int64_t now_ms) {
  Impl& d = *impl_;
  std::lock_guard m(d.maintenance_mu);
  auto config = this->config();
  if (!config->cleanup_compact) return Status::Ok();
  // Closed segments old enough for min.compaction.lag.ms, oldest first.
  // Only below the last stable offset: an open transaction's records may still be aborted.
  std::vector<std::pair<std::shared_ptr<Segment>, uint64_t>> segs;
  std::vector<AbortedTxnEntry> aborted;
  {
    std::lock_guard l(d.mu);
    if (d.failed) return Status::Ok();
    auto unstable = d.producers.FirstUnstableOffset();
    const int64_t lso = unstable ? std::min<int64_t>(*unstable, d.leo) : d.leo.load();
    for (auto it = d.segments.begin(); std::next(it) != d.segments.end(); ++it) {
      if (it->second->max_timestamp() > now_ms - config->min_compaction_lag_ms) break;
      if (std::next(it)->first > lso) break;
      segs.emplace_back(it->second, it->second->size());
    }
    aborted = d.aborted;
  }
  // Records of aborted transactions are never visible to read_committed consumers: they
  // neither supersede a committed record of their key nor survive cleaning.
  auto is_aborted = [&aborted](const RecordBatchView& b, int64_t offset) {
    if (!b.is_transactional() || b.producer_id() < 0) return false;
    for (const AbortedTxnEntry& e : aborted) {
      if (e.producer_id == b.producer_id() && offset >= e.first_offset && offset < e.last_offset) return true;
    }
    return false;
  };
  if (segs.empty()) return Status::Ok();

  // Pass 1: the latest offset of every key in the cleanable range.
  std::unordered_map<std::string, int64_t> latest;
  std::string batch;
  for (auto& [seg, size] : segs) {
    uint64_t pos = 0;
    while (pos < size) {
      EC_ASSIGN_OR_RETURN(BatchHeader h, seg->ReadHeader(pos, size));
      pos += h.size;
      if (h.attributes & kAttrControl) continue;
      EC_RETURN_IF_ERROR(seg->ReadBatch(h, &batch));
      auto view = RecordBatchView::ParseTrusted(batch);
      EC_ASSIGN_OR_RETURN(RecordSet set, view->Records(kMaxDecompressed));
      for (const Record& r : set.records()) {
        if (r.key && !is_aborted(*view, r.offset)) latest[std::string(*r.key)] = r.offset;
      }
    }
  }

  // Pass 2: rewrite each segment and swap it in.
  auto keep = [&](const RecordBatchView& b, const Record& r) {
    if (is_aborted(b, r.offset)) return false;
    if (!r.key) return true;
    auto it = latest.find(std::string(*r.key));
    if (it != latest.end() && it->second != r.offset) return false;  // superseded
    // A tombstone stays for delete.retention.ms after its timestamp so that consumers that are
    // behind still see the delete.
    if (!r.value && r.timestamp + config->delete_retention_ms <= now_ms) return false;
    return true;
  };
  for (auto& [seg, size] : segs) {
    bool changed = false;
    Status s = RewriteSegment(env_, *seg, size, keep, &changed);
    const std::string cleaned = seg->stem() + ".log.cleaned";
    if (!s.ok() || !changed) {
      (void)env_->RemoveFile(cleaned);
      EC_RETURN_IF_ERROR(s);
      continue;
    }
    // Old indexes go first, so a crash before the new ones exist forces a rebuild on open.
    (void)env_->RemoveFile(seg->stem() + ".index");
    (void)env_->RemoveFile(seg->stem() + ".timeindex");
    EC_RETURN_IF_ERROR(env_->RenameFile(cleaned, seg->stem() + ".log"));
    EC_RETURN_IF_ERROR(env_->SyncDir(dir_));
    EC_ASSIGN_OR_RETURN(std::unique_ptr<Segment> fresh,
                        Segment::Open(env_, dir_, seg->base_offset(), config->index_interval_bytes,
                                      /*recover=*/false));
    EC_RETURN_IF_ERROR(fresh->Seal());
    std::lock_guard l(d.mu);
    d.segments[seg->base_offset()] = std::move(fresh);
  }
  return Status::Ok();
}

}  // namespace ec::log
