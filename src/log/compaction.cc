// PartitionLog::Compact: keeps the latest record per key in closed segments
// (cleanup.policy=compact). docs/log-format.md, "Compaction", states the rules.

#include <algorithm>

#include "log/offset_map.h"
#include "log/partition_log.h"
#include "log/partition_log_impl.h"
#include "log/record_batch_builder.h"

namespace ec::log {
namespace {

constexpr size_t kMaxDecompressed = 256u << 20;

// Rewrites `seg` keeping only records for which `keep` is true. Batches whose records all
// survive are copied byte for byte; others are rebuilt with the same compression, producer
// fields and offsets. Nothing is written while every batch survives: "<stem>.log.cleaned" is
// created at the first batch that changes, with the bytes before it copied over, so a segment
// the round leaves as it is costs reads only, not a rewrite of its bytes through the page cache
// and an fdatasync. When something changed (`*changed`), the file is synced and `*fresh` has
// tracked its batches (Segment::StartRewrite: its indexes, without reading the file back).
// From the first batch at or past `unchanged_from` on, every record stays (`keep` only drops
// records below it): those batches are not read and decoded, but copied as they are (within the
// kernel where it can, File::AppendFrom), or not at all when nothing before them changed.
Status RewriteSegment(Env* env, const Segment& seg, uint64_t seg_size,
                      const std::function<bool(const RecordBatchView&, const Record&)>& keep,
                      int64_t unchanged_from, bool* changed, Segment* fresh) {
  *changed = false;
  std::shared_ptr<File> out;  // opened at the first change
  // The batches before the first change have the positions they have in `seg`.
  auto emit = [&](std::string_view bytes, BatchHeader h) -> Status {
    if (out != nullptr) {
      h.position = static_cast<uint32_t>(out->Size());
      EC_RETURN_IF_ERROR(out->Append(bytes));
    }
    fresh->TrackRewritten(h);
    return Status::Ok();
  };
  auto start_output = [&](uint64_t upto) -> Status {
    *changed = true;
    EC_ASSIGN_OR_RETURN(out, env->OpenFile(seg.stem() + ".log.cleaned", true));
    EC_RETURN_IF_ERROR(out->Truncate(0));
    // The unchanged batches before `upto`, as stored.
    return out->AppendFrom(*seg.log_file(), 0, upto);
  };
  std::string batch;
  uint64_t pos = 0;
  while (pos < seg_size) {
    EC_ASSIGN_OR_RETURN(BatchHeader h, seg.ReadHeader(pos, seg_size));
    const uint64_t at = pos;
    if (h.base_offset >= unchanged_from) {
      if (out == nullptr) return Status::Ok();  // the whole segment stays as it is
      EC_RETURN_IF_ERROR(out->AppendFrom(*seg.log_file(), at, seg_size - at));
      // Their headers, for the indexes (each at its place in the new file).
      const int64_t shift = static_cast<int64_t>(out->Size()) - static_cast<int64_t>(seg_size);
      HeaderScanner scan(seg, seg_size);
      while (pos < seg_size) {
        EC_ASSIGN_OR_RETURN(BatchHeader t, scan.At(pos));
        pos += t.size;
        t.position = static_cast<uint32_t>(static_cast<int64_t>(t.position) + shift);
        fresh->TrackRewritten(t);
      }
      break;
    }
    pos += h.size;
    EC_RETURN_IF_ERROR(seg.ReadBatch(h, &batch));
    auto view = RecordBatchView::ParseTrusted(batch);
    if (view->is_control()) {
      EC_RETURN_IF_ERROR(emit(batch, h));
      continue;
    }
    EC_ASSIGN_OR_RETURN(RecordSet set, view->Records(kMaxDecompressed));
    std::vector<const Record*> kept;
    for (const Record& r : set.records()) {
      if (keep(*view, r)) kept.push_back(&r);
    }
    if (kept.size() == set.records().size()) {
      EC_RETURN_IF_ERROR(emit(batch, h));
      continue;
    }
    if (out == nullptr) EC_RETURN_IF_ERROR(start_output(at));
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
    EC_ASSIGN_OR_RETURN(RecordBatchView rv, RecordBatchView::ParseTrusted(rebuilt));
    EC_RETURN_IF_ERROR(emit(rebuilt, HeaderFromView(rv, 0)));
  }
  if (out == nullptr) return Status::Ok();
  return out->Sync();
}

}  // namespace

Status PartitionLog::Compact(int64_t now_ms, size_t map_bytes) {
  Impl& d = *impl_;
  std::lock_guard m(d.maintenance_mu);
  auto config = this->config();
  if (!config->cleanup_compact) return Status::Ok();
  // Closed segments old enough for min.compaction.lag.ms, oldest first, each with where it
  // ends (the next segment's base). Only below the last stable offset: an open transaction's
  // records may still be aborted.
  struct Cleanable {
    std::shared_ptr<Segment> seg;
    uint64_t size;
    int64_t end;
  };
  std::vector<Cleanable> segs;
  std::vector<AbortedTxnEntry> aborted;
  {
    std::lock_guard l(d.mu);
    if (d.failed) return Status::Ok();
    auto unstable = d.producers.FirstUnstableOffset();
    const int64_t lso = unstable ? std::min<int64_t>(*unstable, d.leo) : d.leo.load();
    for (auto it = d.segments.begin(); std::next(it) != d.segments.end(); ++it) {
      if (it->second->max_timestamp() > now_ms - config->min_compaction_lag_ms) break;
      if (std::next(it)->first > lso) break;
      segs.push_back({it->second, it->second->size(), std::next(it)->first});
    }
    aborted = d.aborted;
  }
  if (segs.empty()) return Status::Ok();

  // Is a round due? The dirty part (from clean_offset on, never mapped) must be at least
  // min.cleanable.dirty.ratio of the cleanable bytes (Kafka's rule: each round rewrites the
  // whole cleanable range, so cleaning at every new segment would cost O(log size) each time),
  // or a tombstone kept by an earlier round must have outlived delete.retention.ms.
  uint64_t total_bytes = 0, dirty_bytes = 0;
  for (const Cleanable& c : segs) {
    total_bytes += c.size;
    if (c.end > d.clean_offset) dirty_bytes += c.size;
  }
  const bool tombstones_due = d.tombstone_expiry_ms <= now_ms;
  if (dirty_bytes == 0 && !tombstones_due) return Status::Ok();
  // A round whose map filled up goes on at the next call, whatever the ratio.
  if (!tombstones_due && !d.cleaning_unfinished && total_bytes > 0 &&
      static_cast<double>(dirty_bytes) < config->min_cleanable_dirty_ratio * static_cast<double>(total_bytes))
    return Status::Ok();

  // Records of aborted transactions are never visible to read_committed consumers: they
  // neither supersede a committed record of their key nor survive cleaning.
  auto is_aborted = [&aborted](const RecordBatchView& b, int64_t offset) {
    if (!b.is_transactional() || b.producer_id() < 0) return false;
    for (const AbortedTxnEntry& e : aborted) {
      if (e.producer_id == b.producer_id() && offset >= e.first_offset && offset < e.last_offset) return true;
    }
    return false;
  };

  // Pass 1: the latest offset of each key of the dirty records, from clean_offset on, until the
  // map's budget is spent. map_end: the first offset not mapped.
  OffsetMap latest(map_bytes);
  const int64_t map_start = std::max(d.clean_offset, segs.front().seg->base_offset());
  int64_t map_end = segs.back().end;
  std::string batch;
  bool full = false;
  for (const Cleanable& c : segs) {
    if (full) break;
    if (c.end <= map_start) continue;
    // The batches before map_start were mapped by earlier rounds: start at the index entry
    // before it instead of walking their headers from the segment's start.
    uint64_t pos = c.seg->LookupPosition(map_start);
    while (pos < c.size && !full) {
      EC_ASSIGN_OR_RETURN(BatchHeader h, c.seg->ReadHeader(pos, c.size));
      pos += h.size;
      if (h.attributes & kAttrControl) continue;
      if (h.last_offset < map_start) continue;
      EC_RETURN_IF_ERROR(c.seg->ReadBatch(h, &batch));
      auto view = RecordBatchView::ParseTrusted(batch);
      EC_ASSIGN_OR_RETURN(RecordSet set, view->Records(kMaxDecompressed));
      for (const Record& r : set.records()) {
        if (r.offset < map_start || !r.key || is_aborted(*view, r.offset)) continue;
        if (!latest.Put(*r.key, r.offset)) {
          map_end = r.offset;
          full = true;
          break;
        }
      }
    }
  }

  // Pass 2: rewrite each segment that holds records below map_end, and swap it in. A record
  // goes if its key has a later record in the map. A tombstone goes once it is older than
  // delete.retention.ms, but only below map_end: every record of its key before it has then
  // been dropped by this round or an earlier one, so nothing older comes back.
  int64_t next_expiry = INT64_MAX;
  auto keep = [&](const RecordBatchView& b, const Record& r) {
    if (is_aborted(b, r.offset)) return false;
    if (!r.key) return true;
    if (latest.Get(*r.key) > r.offset) return false;  // superseded
    if (!r.value && r.offset < map_end) {
      // A consumer that is behind still sees the delete for delete.retention.ms.
      if (r.timestamp + config->delete_retention_ms <= now_ms) return false;
      next_expiry = std::min(next_expiry, r.timestamp + config->delete_retention_ms);
    }
    return true;
  };
  // Records at or past map_end stay (nothing mapped is later than them, and tombstones there
  // wait), unless an aborted transaction reaches past them.
  int64_t unchanged_from = map_end;
  for (const AbortedTxnEntry& e : aborted) unchanged_from = std::max(unchanged_from, e.last_offset);
  for (const Cleanable& c : segs) {
    if (c.seg->base_offset() >= map_end) break;
    bool changed = false;
    std::unique_ptr<Segment> fresh = Segment::StartRewrite(env_, dir_, c.seg->base_offset(), config->index_interval_bytes);
    Status s = RewriteSegment(env_, *c.seg, c.size, keep, unchanged_from, &changed, fresh.get());
    const std::string cleaned = c.seg->stem() + ".log.cleaned";
    if (!s.ok()) {
      (void)env_->RemoveFile(cleaned);
      return s;
    }
    if (!changed) continue;  // nothing was written
    // Old indexes go first, so a crash before the new ones exist forces a rebuild on open.
    (void)env_->RemoveFile(c.seg->stem() + ".index");
    (void)env_->RemoveFile(c.seg->stem() + ".timeindex");
    EC_RETURN_IF_ERROR(env_->RenameFile(cleaned, c.seg->stem() + ".log"));
    EC_RETURN_IF_ERROR(env_->SyncDir(dir_));
    // Its indexes from the batches written, as an open would rebuild them (they were removed
    // above) without reading the new file back.
    EC_RETURN_IF_ERROR(fresh->FinishRewrite());
    EC_RETURN_IF_ERROR(fresh->Seal());
    std::lock_guard l(d.mu);
    d.segments[c.seg->base_offset()] = std::move(fresh);
  }
  d.clean_offset = std::max(d.clean_offset, map_end);
  d.tombstone_expiry_ms = next_expiry;
  d.cleaning_unfinished = full;
  ++d.compaction_rounds;
  return Status::Ok();
}

uint64_t PartitionLog::compaction_rounds() const {
  std::lock_guard m(impl_->maintenance_mu);
  return impl_->compaction_rounds;
}

}  // namespace ec::log
