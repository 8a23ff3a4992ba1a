#include "log/partition_log.h"

#include <algorithm>
#include <future>

#include "log/bytes.h"
#include "log/crc32c.h"
#include "log/flusher.h"
#include "log/journal.h"
#include "log/partition_log_impl.h"
#include "log/trace.h"

namespace ec::log {
namespace {

AppendResult Fail(LogError e, std::string message) {
  AppendResult r;
  r.error = e;
  r.message = std::move(message);
  return r;
}

LogError FromStatus(const Status& s) {
  switch (s.code()) {
    case ErrorCode::kUnsupported: return LogError::kUnsupportedForMessageFormat;
    case ErrorCode::kCorruption: return LogError::kCorruptMessage;
    case ErrorCode::kLimitExceeded: return LogError::kMessageTooLarge;
    default: return LogError::kStorageError;
  }
}

// producer.snapshot: i64 offset, u32 count, per producer {i64 pid, i16 epoch, i64 last ts,
// i64 txn first offset (-1), u8 n, n x {i32 first seq, i32 last seq, i64 first off, i64 last
// off, i64 ts}}, u32 CRC32C of everything before it.
std::string EncodeSnapshot(int64_t offset, const ProducerStateTable& table,
                           const std::vector<int64_t>& pids) {
  std::string out;
  bytes::PutBe(&out, static_cast<uint64_t>(offset), 8);
  bytes::PutBe(&out, pids.size(), 4);
  for (int64_t pid : pids) {
    const ProducerEntry* p = table.Find(pid);
    bytes::PutBe(&out, static_cast<uint64_t>(pid), 8);
    bytes::PutBe(&out, static_cast<uint16_t>(p->epoch), 2);
    bytes::PutBe(&out, static_cast<uint64_t>(p->last_timestamp), 8);
    bytes::PutBe(&out, static_cast<uint64_t>(p->txn_first_offset.value_or(-1)), 8);
    out.push_back(static_cast<char>(p->batches.size()));
    for (const ProducerBatch& b : p->batches) {
      bytes::PutBe(&out, static_cast<uint32_t>(b.first_seq), 4);
      bytes::PutBe(&out, static_cast<uint32_t>(b.last_seq), 4);
      bytes::PutBe(&out, static_cast<uint64_t>(b.first_offset), 8);
      bytes::PutBe(&out, static_cast<uint64_t>(b.last_offset), 8);
      bytes::PutBe(&out, static_cast<uint64_t>(b.timestamp), 8);
    }
  }
  bytes::PutBe(&out, Crc32c(out), 4);
  return out;
}

// Returns the snapshot's offset, or -1 if absent/corrupt (the caller then rescans the log).
int64_t DecodeSnapshot(std::string_view in, ProducerStateTable* table) {
  if (in.size() < 16) return -1;
  if (static_cast<uint32_t>(bytes::LoadBe(in.data() + in.size() - 4, 4)) !=
      Crc32c(in.substr(0, in.size() - 4)))
    return -1;
  in.remove_suffix(4);
  int64_t offset = bytes::LoadI64(in.data());
  uint32_t n = static_cast<uint32_t>(bytes::LoadBe(in.data() + 8, 4));
  size_t pos = 12;
  for (uint32_t i = 0; i < n; ++i) {
    if (in.size() - pos < 8 + 2 + 8 + 8 + 1) return -1;
    int64_t pid = bytes::LoadI64(in.data() + pos);
    int16_t epoch = bytes::LoadI16(in.data() + pos + 8);
    int64_t ts = bytes::LoadI64(in.data() + pos + 10);
    int64_t txn = bytes::LoadI64(in.data() + pos + 18);
    auto nb = static_cast<uint8_t>(in[pos + 26]);
    pos += 27;
    if (in.size() - pos < size_t{nb} * 32) return -1;
    for (uint8_t b = 0; b < nb; ++b) {
      const char* q = in.data() + pos;
      table->UpdateFields(pid, epoch, bytes::LoadI32(q), bytes::LoadI32(q + 4), bytes::LoadI64(q + 8),
                          bytes::LoadI64(q + 16), bytes::LoadI64(q + 24), 0);
      pos += 32;
    }
    if (nb == 0) table->UpdateFields(pid, epoch, -1, -1, 0, 0, ts, 0);
    if (txn >= 0) table->UpdateFields(pid, epoch, -1, -1, txn, txn, ts, kAttrTransactional);
  }
  return offset;
}

}  // namespace

namespace {

// Writes the producer snapshot for state as of `offset` (caller holds mu).
Status WriteSnapshot(Env* env, const std::string& dir, const ProducerStateTable& table,
                     int64_t offset) {
  std::vector<int64_t> pids = table.Ids();
  return env->WriteFileAtomically(dir + "/" + kProducerSnapshotFile,
                                  EncodeSnapshot(offset, table, pids));
}

// Where the zero-filled space ahead of `seg`'s end should reach (see SetPreallocateBytes), or
// 0 when none is wanted. Caller holds mu.
constexpr uint64_t kMinPreallocate = 64 * 1024;
constexpr uint64_t kPreallocateStep = 1 << 20;
uint64_t PreallocateTarget(const PartitionLog::Impl& d, const Segment& seg) {
  const uint64_t most = d.preallocate.load(std::memory_order_relaxed);
  if (most == 0) return 0;
  const uint64_t size = seg.size();
  const uint64_t ahead = std::min(most, std::max(kMinPreallocate, size));
  return std::min(size + ahead, static_cast<uint64_t>(std::max<int64_t>(d.config->segment_bytes, 0)));
}

// Whether the zero-filled space ahead of the active segment's end has fallen below half its
// target (the caller then asks for a top-up). Caller holds mu.
bool PreallocateDue(const PartitionLog::Impl& d) {
  const Segment& seg = *d.active();
  const uint64_t target = PreallocateTarget(d, seg);
  if (target <= seg.size()) return false;
  const uint64_t allocated = seg.log_file()->AllocatedSize();
  return allocated < target && allocated - std::min(allocated, seg.size()) < (target - seg.size()) / 2;
}

// Writes one batch (offsets assigned) to the active segment and tracks its producer state and,
// for an abort marker, the aborted transaction (its aborted.txn entry goes to `*aborted_buf`).
// Holds append_mu and mu.
Status WriteBatchLocked(PartitionLog::Impl& d, const RecordBatchView& v, std::string* aborted_buf) {
  EC_RETURN_IF_ERROR(d.active()->Append(v));
  if (v.is_control() && v.producer_id() >= 0) {
    const ProducerEntry* p = d.producers.Find(v.producer_id());
    auto key_set = v.Records();
    bool abort = key_set.ok() && !key_set->records().empty() && key_set->records()[0].key &&
                 ParseControlKey(*key_set->records()[0].key) == ControlType::kAbort;
    if (abort && p && p->txn_first_offset) {
      AbortedTxnEntry e{v.producer_id(), *p->txn_first_offset, v.base_offset()};
      d.aborted.push_back(e);
      bytes::PutBe(aborted_buf, static_cast<uint64_t>(e.producer_id), 8);
      bytes::PutBe(aborted_buf, static_cast<uint64_t>(e.first_offset), 8);
      bytes::PutBe(aborted_buf, static_cast<uint64_t>(e.last_offset), 8);
    }
  }
  d.producers.Update(v);
  return Status::Ok();
}

// Closes the active segment and starts a new one at the log end. Holds append_mu and mu.
Status RollLocked(Env* env, const std::string& dir, PartitionLog::Impl& d) {
  EC_RETURN_IF_ERROR(d.active()->Seal());
  if (d.aborted_file) EC_RETURN_IF_ERROR(d.aborted_file->Sync());
  int64_t base = d.leo;
  EC_RETURN_IF_ERROR(WriteSnapshot(env, dir, d.producers, base));
  EC_ASSIGN_OR_RETURN(std::unique_ptr<Segment> seg,
                      Segment::Create(env, dir, base, d.config->index_interval_bytes));
  d.segments[base] = std::move(seg);
  return Status::Ok();
}

}  // namespace

Status ReadResult::CopyTo(std::string* out) const {
  for (const FileSlice& s : slices) {
    size_t at = out->size();
    out->resize(at + s.size);
    EC_ASSIGN_OR_RETURN(size_t n, s.file->ReadAt(s.position, s.size, out->data() + at));
    if (n != s.size) {
      out->resize(at + n);
      return IoError("short read from " + s.file->path());
    }
  }
  return Status::Ok();
}

Status ReadResult::ReadInto(std::string* buffer) const {
  size_t need = 0;
  for (const FileSlice& s : slices) need += s.size;
  if (buffer->size() < need) buffer->resize(need);  // zero-fills only what the buffer gains
  size_t at = 0;
  for (const FileSlice& s : slices) {
    EC_ASSIGN_OR_RETURN(size_t n, s.file->ReadAt(s.position, s.size, buffer->data() + at));
    at += n;
    if (n != s.size) {
      buffer->resize(at);
      return IoError("short read from " + s.file->path());
    }
  }
  buffer->resize(need);  // shrinking writes nothing
  return Status::Ok();
}

PartitionLog::PartitionLog(Env* env, std::string dir, std::string topic, int32_t partition,
                           std::shared_ptr<const TopicConfig> config, Flusher* flusher)
    : env_(env),
      dir_(std::move(dir)),
      topic_(std::move(topic)),
      partition_(partition),
      flusher_(flusher),
      impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
}

PartitionLog::~PartitionLog() {
  if (flusher_) flusher_->Forget(this);
  if (journal_) journal_->Forget(this);
  // Clean close: sync, and snapshot producer state so the next open replays nothing.
  std::lock_guard a(impl_->append_mu);
  if (!impl_->failed && !impl_->segments.empty()) {
    Status s = impl_->active()->Seal();
    if (s.ok() && impl_->aborted_file) s = impl_->aborted_file->Sync();
    if (s.ok()) (void)WriteSnapshot(env_, dir_, impl_->producers, impl_->leo);
  }
  // Fail appends still waiting for a sync that will not come.
  std::deque<Impl::SyncWaiter> waiters;
  {
    std::lock_guard w(impl_->wait_mu);
    waiters.swap(impl_->sync_waiters);
  }
  for (auto& w : waiters) {
    if (w.end <= impl_->durable) {
      w.done(w.result);
    } else {
      w.done(Fail(LogError::kShuttingDown, "partition closed before the append was synced"));
    }
  }
}

Result<std::unique_ptr<PartitionLog>> PartitionLog::Open(Env* env, std::string dir,
                                                         std::string topic, int32_t partition,
                                                         std::shared_ptr<const TopicConfig> config,
                                                         Flusher* flusher) {
  std::unique_ptr<PartitionLog> log(
      new PartitionLog(env, std::move(dir), std::move(topic), partition, std::move(config), flusher));
  Impl& d = *log->impl_;
  const std::string& root = log->dir_;
  EC_RETURN_IF_ERROR(env->CreateDirs(root));
  EC_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(root));
  std::vector<int64_t> bases;
  for (const std::string& n : names) {
    int64_t base = Segment::ParseLogFileName(n);
    if (base >= 0) bases.push_back(base);
    // Leftovers of an interrupted compaction or atomic write.
    if (n.ends_with(".cleaned") || n.ends_with(".tmp")) (void)env->RemoveFile(root + "/" + n);
  }
  std::sort(bases.begin(), bases.end());
  int64_t stored_start = 0;
  if (env->FileExists(root + "/" + kLogStartFile)) {
    auto text = env->ReadFileToString(root + "/" + kLogStartFile);
    if (text.ok()) stored_start = std::atoll(text->c_str());
  }
  const int32_t interval = d.config->index_interval_bytes;
  for (size_t i = 0; i < bases.size(); ++i) {
    bool last = i + 1 == bases.size();
    EC_ASSIGN_OR_RETURN(std::unique_ptr<Segment> seg,
                        Segment::Open(env, root, bases[i], interval, /*recover=*/last));
    d.segments[bases[i]] = std::move(seg);
  }
  if (d.segments.empty()) {
    EC_ASSIGN_OR_RETURN(std::unique_ptr<Segment> seg,
                        Segment::Create(env, root, stored_start, interval));
    d.segments[stored_start] = std::move(seg);
  }
  // Everything recovered is synced now, so it counts as durable.
  EC_RETURN_IF_ERROR(d.active()->log_file()->Sync());
  d.leo = d.active()->next_offset();
  d.log_start = std::min<int64_t>(std::max(stored_start, d.segments.begin()->first), d.leo);
  {
    std::lock_guard w(d.wait_mu);
    d.durable = d.leo;
  }

  // Producer state: the last snapshot, then the batch headers after it. The abort markers met
  // on the way give their aborted.txn entries again: that file is synced with the segment,
  // never before it, so after a crash the segment may hold a marker whose entry was lost
  // (with the commit journal, the segment's unsynced tail can be seconds of appends).
  std::vector<AbortedTxnEntry> replayed_aborts;
  int64_t replay_from = d.log_start;
  if (env->FileExists(root + "/" + kProducerSnapshotFile)) {
    auto text = env->ReadFileToString(root + "/" + kProducerSnapshotFile);
    ProducerStateTable t;
    int64_t at = text.ok() ? DecodeSnapshot(*text, &t) : -1;
    if (at >= d.log_start && at <= d.leo) {
      d.producers = std::move(t);
      replay_from = at;
    }
  }
  for (auto it = d.segments.upper_bound(replay_from); it != d.segments.begin();) {
    --it;
    for (auto s = it; s != d.segments.end(); ++s) {
      const Segment& seg = *s->second;
      uint64_t pos = seg.LookupPosition(replay_from);
      while (pos < seg.size()) {
        EC_ASSIGN_OR_RETURN(BatchHeader h, seg.ReadHeader(pos, seg.size()));
        if (h.last_offset >= replay_from && (h.attributes & kAttrControl) && h.producer_id >= 0) {
          const ProducerEntry* p = d.producers.Find(h.producer_id);
          std::string marker;
          if (p && p->txn_first_offset && seg.ReadBatch(h, &marker).ok()) {
            auto v = RecordBatchView::ParseTrusted(marker);
            if (v.ok()) {
              auto set = v->Records();
              if (set.ok() && !set->records().empty() && set->records()[0].key &&
                  ParseControlKey(*set->records()[0].key) == ControlType::kAbort)
                replayed_aborts.push_back({h.producer_id, *p->txn_first_offset, h.base_offset});
            }
          }
        }
        if (h.last_offset >= replay_from) {
          d.producers.UpdateFields(h.producer_id, h.producer_epoch, h.base_sequence,
                                   h.last_sequence, h.base_offset, h.last_offset, h.max_timestamp,
                                   h.attributes);
        }
        pos += h.size;
      }
    }
    break;
  }

  // Aborted transactions: drop entries past the recovered end.
  EC_ASSIGN_OR_RETURN(d.aborted_file, env->OpenFile(root + "/" + kAbortedTxnFile, true));
  {
    uint64_t size = d.aborted_file->Size() / 24 * 24;
    std::string buf(size, '\0');
    EC_ASSIGN_OR_RETURN(size_t n, d.aborted_file->ReadAt(0, size, buf.data()));
    bool rewrite = n != d.aborted_file->Size();
    for (size_t i = 0; i + 24 <= n; i += 24) {
      AbortedTxnEntry e{bytes::LoadI64(buf.data() + i), bytes::LoadI64(buf.data() + i + 8),
                        bytes::LoadI64(buf.data() + i + 16)};
      if (e.last_offset >= d.leo) {
        rewrite = true;
        continue;
      }
      d.aborted.push_back(e);
    }
    for (const AbortedTxnEntry& e : replayed_aborts) {
      auto same = [&](const AbortedTxnEntry& a) { return a.producer_id == e.producer_id && a.last_offset == e.last_offset; };
      if (std::find_if(d.aborted.begin(), d.aborted.end(), same) != d.aborted.end()) continue;
      d.aborted.push_back(e);
      rewrite = true;
    }
    if (rewrite) {
      std::sort(d.aborted.begin(), d.aborted.end(),
                [](const AbortedTxnEntry& a, const AbortedTxnEntry& b) { return a.last_offset < b.last_offset; });
      std::string keep;
      for (const AbortedTxnEntry& e : d.aborted) {
        bytes::PutBe(&keep, static_cast<uint64_t>(e.producer_id), 8);
        bytes::PutBe(&keep, static_cast<uint64_t>(e.first_offset), 8);
        bytes::PutBe(&keep, static_cast<uint64_t>(e.last_offset), 8);
      }
      EC_RETURN_IF_ERROR(d.aborted_file->Truncate(0));
      EC_RETURN_IF_ERROR(d.aborted_file->Append(keep));
      EC_RETURN_IF_ERROR(d.aborted_file->Sync());
    }
  }
  return log;
}

void PartitionLog::AppendAsync(std::string batches, const AppendOptions& options,
                               AppendCallback done) {
  // The bytes are written before AppendInPlace returns, so `batches` may die with this frame.
  AppendInPlace(batches.data(), batches.size(), options, std::move(done));
}

void PartitionLog::AppendInPlace(char* data, size_t size, const AppendOptions& options,
                                 AppendCallback done) {
  const std::string_view batches(data, size);
  Impl& d = *impl_;
  std::shared_ptr<const TopicConfig> config = this->config();
  // Trace (EC_TRACE_PASSES): a durable append's line says how long it took to write (locks and
  // a roll included) and how long it then waited for the fdatasync that covered it.
  int64_t trace_start_us = 0;
  if (options.durability == Durability::kSync && TraceEnabled()) {
    trace_start_us = TraceNowUs();
    done = [done = std::move(done), trace_start_us, size, this](const AppendResult& r) {
      TraceLine("append tp=%s-%d bytes=%zu total_us=%lld ok=%d", topic_.c_str(), partition_, size,
                static_cast<long long>(TraceNowUs() - trace_start_us), r.ok() ? 1 : 0);
      done(r);
    };
  }
  // 1. Validate every batch before touching the log (all or nothing).
  std::vector<std::pair<size_t, size_t>> spans;  // (position, size) in `batches`
  int idempotent = 0;
  int64_t records = 0;
  Status s = ForEachBatch(batches, false, [&](const RecordBatchView& b) -> Status {
    if (b.size() > static_cast<size_t>(config->max_message_bytes))
      return LimitExceeded("batch of " + std::to_string(b.size()) +
                           " bytes exceeds max.message.bytes " +
                           std::to_string(config->max_message_bytes));
    if (b.record_count() <= 0 || b.last_offset_delta() != b.record_count() - 1)
      return Corruption("batch record count " + std::to_string(b.record_count()) +
                        " does not match lastOffsetDelta " + std::to_string(b.last_offset_delta()));
    if (b.producer_id() >= 0 && b.base_sequence() >= 0) ++idempotent;
    if (config->cleanup_compact && !b.is_control() && !options.all_keyed) {
      Status ks = b.ForEachRecord([](const Record& r) {
        if (!r.key) return InvalidArgument("compacted topic: every record needs a key");
        return Status::Ok();
      }, static_cast<size_t>(config->max_message_bytes) * 64);
      if (!ks.ok()) return ks;
    }
    records += b.record_count();
    spans.emplace_back(static_cast<size_t>(b.bytes().data() - batches.data()), b.size());
    return Status::Ok();
  }, /*verify_crc=*/!options.built_here);
  if (!s.ok()) {
    LogError e = s.code() == ErrorCode::kInvalidArgument ? LogError::kInvalidRecord : FromStatus(s);
    done(Fail(e, s.message()));
    return;
  }
  if (spans.empty()) {
    done(Fail(LogError::kCorruptMessage, "no record batch in the append"));
    return;
  }
  if (idempotent > 0 && spans.size() > 1) {
    done(Fail(LogError::kInvalidRecord, "an idempotent producer append must hold exactly one batch"));
    return;
  }

  AppendResult result;
  int64_t new_leo;
  bool release_cache = false;
  bool preallocate = false;
  bool held = false;  // a kSync append whose journal sync is held (SetSyncHold)
  {
    std::lock_guard a(d.append_mu);
    if (d.failed) {
      done(Fail(LogError::kStorageError, "partition " + topic_ + "-" + std::to_string(partition_) +
                                             " is offline after an I/O error"));
      return;
    }
    // 2. Idempotence.
    if (idempotent > 0) {
      auto v = RecordBatchView::ParseTrusted(std::string_view(batches).substr(spans[0].first));
      SequenceCheck check;
      {
        std::lock_guard l(d.mu);
        check = d.producers.Check(v->producer_id(), v->producer_epoch(), v->base_sequence(),
                                  v->last_sequence());
      }
      if (check.error != LogError::kNone) {
        done(Fail(check.error, "producer " + std::to_string(v->producer_id()) + " epoch " +
                                   std::to_string(v->producer_epoch()) + " sequence " +
                                   std::to_string(v->base_sequence())));
        return;
      }
      if (check.duplicate_of) {
        result.duplicate = true;
        result.base_offset = check.duplicate_of->first_offset;
        result.last_offset = check.duplicate_of->last_offset;
        std::lock_guard l(d.mu);
        result.log_start_offset = d.log_start;
        // A duplicate is as durable as the original: wait for it like any kSync append.
        new_leo = result.last_offset + 1;
        goto complete;
      }
    }
    {
      // 3. Offsets and timestamps.
      const int64_t now = env_->NowMs();
      const bool append_time = config->message_timestamp_type == TimestampType::kLogAppendTime;
      int64_t next = d.leo;
      result.base_offset = next;
      for (auto [pos, size] : spans) {
        char* p = data + pos;
        RecordBatchView::SetBaseOffset(p, next);
        RecordBatchView::SetPartitionLeaderEpoch(p, 0);
        if (append_time) RecordBatchView::SetLogAppendTime(p, size, now);
        next += bytes::LoadI32(p + 23) + 1;
      }
      result.last_offset = next - 1;
      if (append_time) result.log_append_time_ms = now;

      std::lock_guard l(d.mu);
      // 4. Roll by size, age or offset range.
      const Segment& act = *d.active();
      size_t total = batches.size();
      if (!act.empty() &&
          (act.size() + total > static_cast<uint64_t>(config->segment_bytes) ||
           now - act.created_ms() >= config->segment_ms || next - act.base_offset() > INT32_MAX)) {
        const int64_t roll_start_us = TraceEnabled() ? TraceNowUs() : 0;
        Status rs = RollLocked(env_, dir_, d);
        if (roll_start_us != 0) {
          TraceLine("roll tp=%s-%d dur_us=%lld", topic_.c_str(), partition_,
                    static_cast<long long>(TraceNowUs() - roll_start_us));
        }
        if (!rs.ok()) {
          d.failed = true;
          done(Fail(LogError::kStorageError, rs.message()));
          return;
        }
      }
      // 5. Write.
      Segment& seg = *d.active();
      uint64_t size_before = seg.size();
      std::string aborted_buf;
      for (auto [pos, size] : spans) {
        auto v = RecordBatchView::ParseTrusted(std::string_view(batches).substr(pos, size));
        Status ws = WriteBatchLocked(d, *v, &aborted_buf);
        if (!ws.ok()) {
          d.failed = true;
          (void)seg.log_file()->Truncate(size_before);
          done(Fail(LogError::kStorageError, ws.message()));
          return;
        }
      }
      if (journal_) {
        // The same bytes to the commit journal, in this partition's order (we hold append_mu).
        const size_t from = spans.front().first;
        const size_t to = spans.back().first + spans.back().second;
        const int64_t within = options.durability == Durability::kSync ? 0 : config->flush_ms;
        // Held (SetSyncHold): a deferred append's caller requests the sync itself, right away.
        held = within == 0 && !options.defer_journal_sync && d.sync_hold_us.load(std::memory_order_relaxed) > 0;
        Status js = journal_->Write(this, batches.substr(from, to - from), next, within,
                                    held ? std::chrono::microseconds(d.sync_hold_us.load(std::memory_order_relaxed))
                                         : std::chrono::microseconds(0),
                                    /*deferred=*/within == 0 && options.defer_journal_sync);
        if (!js.ok()) {
          d.failed = true;
          (void)seg.log_file()->Truncate(size_before);
          done(Fail(LogError::kStorageError, js.message()));
          return;
        }
      }
      if (!aborted_buf.empty()) {
        Status as = d.aborted_file->Append(aborted_buf);
        if (!as.ok()) d.failed = true;
        d.aborted_dirty = true;
      }
      d.leo = next;
      result.log_start_offset = d.log_start;
      new_leo = next;
      preallocate = PreallocateDue(d);
      if (uint64_t window = d.cache_window.load(std::memory_order_relaxed); window > 0) {
        d.bytes_since_release += seg.size() - size_before;
        if (d.bytes_since_release >= std::max<uint64_t>(window / 16, 1 << 20)) {
          d.bytes_since_release = 0;
          release_cache = true;
        }
      }
    }
  }
  if (release_cache) {
    if (flusher_) {
      flusher_->RequestRelease(this);
    } else {
      ReleaseCache();
    }
  }
  if (preallocate) {
    if (flusher_) {
      flusher_->RequestPreallocate(this);
    } else {
      (void)Preallocate();
    }
  }
  {
    // 6. Wake readers waiting for data.
    std::vector<std::function<void()>> fire;
    {
      std::lock_guard w(d.wait_mu);
      for (auto it = d.notifies.begin(); it != d.notifies.end();) {
        if (it->second.first < new_leo) {
          fire.push_back(std::move(it->second.second));
          it = d.notifies.erase(it);
        } else {
          ++it;
        }
      }
    }
    d.data_cv.notify_all();
    for (auto& f : fire) f();
  }
complete:
  // 7. Durability.
  if (options.durability == Durability::kSync) {
    {
      std::lock_guard w(d.wait_mu);
      if (d.durable < new_leo) {
        d.sync_waiters.push_back({new_leo, result, std::move(done)});
        done = nullptr;
      }
    }
    if (!done) {
      if (journal_) {
        // A held entry is synced by the next sync request or at its deadline (Journal::Write).
        if (!options.defer_journal_sync && !held) {
          Status js = journal_->RequestSync();
          if (!js.ok()) OnSyncFailed(js);
        }
      } else if (flusher_) {
        flusher_->RequestSync(this);
      } else {
        Status fs = Flush();
        (void)fs;
      }
      return;
    }
    done(result);
    return;
  }
  if (!result.duplicate) {
    if (journal_) {
      // The journal syncs it within flush.ms or its flush interval (flush.ms = 0: now).
      if (config->flush_ms == 0) (void)journal_->RequestSync();
    } else {
      d.dirty = true;
      if (flusher_) flusher_->MarkDirty(this, config->flush_ms);
    }
  }
  done(result);
}

AppendResult PartitionLog::Append(std::string batches, const AppendOptions& options) {
  std::promise<AppendResult> p;
  auto f = p.get_future();
  AppendAsync(std::move(batches), options, [&p](const AppendResult& r) { p.set_value(r); });
  return f.get();
}

Status PartitionLog::Flush() {
  if (journal_ == nullptr) return SyncFiles();
  // With the commit journal: wait until a journal sync covers everything appended so far (the
  // journal has every append's entry, so its next sync does).
  Impl& d = *impl_;
  std::promise<AppendResult> p;
  std::future<AppendResult> f = p.get_future();
  {
    // Under mu: OnSyncFailed sets `failed` before it takes the waiters, so a waiter added
    // here is either refused now or failed by it.
    std::lock_guard l(d.mu);
    if (d.failed) return IoError("partition " + topic_ + "-" + std::to_string(partition_) + " is offline after an I/O error");
    std::lock_guard w(d.wait_mu);
    const int64_t end = d.leo.load();
    if (d.durable >= end) return Status::Ok();
    AppendResult ok;
    ok.base_offset = ok.last_offset = end - 1;
    d.sync_waiters.push_back({end, ok, [&p](const AppendResult& r) { p.set_value(r); }});
  }
  if (Status s = journal_->RequestSync(); !s.ok()) OnSyncFailed(s);
  AppendResult r = f.get();
  return r.ok() ? Status::Ok() : IoError(r.message);
}

void PartitionLog::OnSyncFailed(const Status& status) {
  Impl& d = *impl_;
  {
    std::lock_guard l(d.mu);
    d.failed = true;
  }
  std::deque<Impl::SyncWaiter> waiters;
  {
    std::lock_guard w(d.wait_mu);
    waiters.swap(d.sync_waiters);
  }
  for (auto& w : waiters) w.done(Fail(LogError::kStorageError, status.message()));
}

Status PartitionLog::SyncFiles() {
  Impl& d = *impl_;
  std::shared_ptr<Segment> active;
  std::shared_ptr<File> aborted;
  int64_t end;
  {
    std::lock_guard l(d.mu);
    active = d.active();
    aborted = d.aborted_file;
    end = d.leo;
  }
  d.dirty = false;
  if (journal_ != nullptr) WriteBackInSteps(*active);
  Status s = active->log_file()->Sync();
  // The aborted-transaction file is synced only when it changed: one fdatasync per group.
  if (s.ok() && aborted && d.aborted_dirty.exchange(false)) s = aborted->Sync();
  if (!s.ok()) {
    OnSyncFailed(s);
    return s;
  }
  OnDurable(end);
  return Status::Ok();
}

void PartitionLog::WriteBackInSteps(const Segment& active) {
  // A checkpoint syncs seconds of appends at once (tens of MiB): one fdatasync of all of it
  // would hold the disk for ~100 ms and every commit's journal fdatasync would queue behind it
  // (the pass trace showed 45 ms journal syncs during checkpoints). Written back in steps of
  // kWriteBackStep, a journal sync waits behind one step at most; the fdatasync that follows
  // then has little left to write. Durability is unchanged: only that fdatasync counts.
  // 1 MiB (was 512 KiB): one device request per step either way (max_sectors 1280 KiB on the
  // project's VM), half the requests and waits; ec-log-ckpt 0.038-0.041 -> 0.034-0.036 CPU-s
  // per bench_server run, journal fdatasync p99 unchanged (4 traced pairs).
  constexpr uint64_t kWriteBackStep = 1 << 20;
  Impl& d = *impl_;
  const uint64_t size = active.size();
  uint64_t from = 0;
  if (d.written_back_segment.load(std::memory_order_relaxed) == active.base_offset()) {
    from = std::min(d.written_back.load(std::memory_order_relaxed), size);
  }
  const std::shared_ptr<File>& file = active.log_file();
  for (uint64_t at = from; at < size; at += kWriteBackStep) file->WriteBack(at, std::min(kWriteBackStep, size - at));
  d.written_back_segment.store(active.base_offset(), std::memory_order_relaxed);
  d.written_back.store(size, std::memory_order_relaxed);
}

Status PartitionLog::Redo(std::string_view batches, const std::string& where) {
  Impl& d = *impl_;
  std::lock_guard a(d.append_mu);
  std::lock_guard l(d.mu);
  const std::string name = topic_ + "-" + std::to_string(partition_);
  if (d.failed) return IoError(where + ": partition " + name + " is offline after an I/O error");
  std::string aborted_buf;
  std::string stored;
  Status s = ForEachBatch(batches, false, [&](const RecordBatchView& v) -> Status {
    const int64_t base = v.base_offset();
    if (v.last_offset() < d.log_start) return Status::Ok();  // removed by retention or DeleteRecords
    if (base < d.leo) {
      // Already in the partition (written back before the crash): it must be the same batch.
      auto it = d.segments.upper_bound(base);
      if (it != d.segments.begin()) --it;
      const Segment& seg = *it->second;
      const bool closed = std::next(it) != d.segments.end();
      HeaderScanner scan(seg, seg.size());
      uint64_t pos = seg.LookupPosition(base);
      bool same = false;
      while (pos < seg.size()) {
        auto h = scan.At(pos);
        if (!h.ok() || h->base_offset > base) break;
        if (h->base_offset == base) {
          same = h->size == v.size() && seg.ReadBatch(*h, &stored).ok() && stored == v.bytes();
          break;
        }
        pos += h->size;
      }
      // Compaction rewrites closed segments: their batches may differ or be gone.
      if (same || (closed && d.config->cleanup_compact)) return Status::Ok();
      return Corruption(where + ": the batch at offset " + std::to_string(base) + " of " + name +
                        " differs from the one the commit journal holds for it; the partition in " + dir_ +
                        " does not match the journal: restore the data directory from a backup");
    }
    if (base > d.leo) {
      return Corruption(where + ": the commit journal continues " + name + " at offset " + std::to_string(base) +
                        " but the partition in " + dir_ + " ends at " + std::to_string(d.leo.load()) +
                        " (records lost that a checkpoint had synced): restore the data directory from a backup");
    }
    // At the log end: appended exactly as journaled.
    const Segment& act = *d.active();
    if (!act.empty() && (act.size() + v.size() > static_cast<uint64_t>(d.config->segment_bytes) ||
                         v.last_offset() - act.base_offset() > INT32_MAX)) {
      EC_RETURN_IF_ERROR(RollLocked(env_, dir_, d));
    }
    EC_RETURN_IF_ERROR(WriteBatchLocked(d, v, &aborted_buf));
    d.leo = v.last_offset() + 1;
    return Status::Ok();
  });
  if (!aborted_buf.empty()) {
    Status as = d.aborted_file->Append(aborted_buf);
    d.aborted_dirty = true;
    if (!as.ok() && s.ok()) s = as;
  }
  if (!s.ok()) {
    if (s.code() != ErrorCode::kCorruption) d.failed = true;
    return s.code() == ErrorCode::kCorruption && !s.message().starts_with("journal ")
               ? Corruption(where + ": " + name + ": " + s.message())
               : s;
  }
  return Status::Ok();
}

bool PartitionLog::dirty() const { return impl_->dirty.load(); }

void PartitionLog::SetSyncHold(std::chrono::microseconds hold) {
  impl_->sync_hold_us.store(std::max<int64_t>(0, hold.count()), std::memory_order_relaxed);
}

void PartitionLog::SetPageCacheWindow(uint64_t bytes) {
  impl_->cache_window.store(bytes, std::memory_order_relaxed);
}

void PartitionLog::SetPreallocateBytes(uint64_t bytes) {
  impl_->preallocate.store(bytes, std::memory_order_relaxed);
  bool due;
  {
    std::lock_guard l(impl_->mu);
    due = !impl_->segments.empty() && !impl_->failed && PreallocateDue(*impl_);
  }
  if (!due) return;
  if (flusher_) {
    flusher_->RequestPreallocate(this);
  } else {
    (void)Preallocate();
  }
}

Status PartitionLog::Preallocate() {
  Impl& d = *impl_;
  std::shared_ptr<Segment> seg;
  uint64_t target;
  {
    std::lock_guard l(d.mu);
    if (d.segments.empty() || d.failed) return Status::Ok();
    seg = d.active();
    target = PreallocateTarget(d, *seg);
    const uint64_t allocated = seg->log_file()->AllocatedSize();
    if (target <= allocated) return Status::Ok();
    // At most kPreallocateStep per call: one large zero write and its fdatasync would hold the
    // disk while the appends' fdatasyncs queue behind it. A shortfall is topped up on the next
    // request (the next append asks again while less than half is left).
    target = std::min(target, std::max(allocated, seg->size()) + kPreallocateStep);
  }
  // Outside mu: appends go on meanwhile (the file orders them against the zero writes), and a
  // roll that seals this segment stops it (TrimPreallocation).
  Result<uint64_t> r = seg->log_file()->Preallocate(target);
  return r.ok() ? Status::Ok() : r.status();
}

void PartitionLog::ReleaseCache() {
  Impl& d = *impl_;
  const uint64_t window = d.cache_window.load(std::memory_order_relaxed);
  if (window == 0) return;
  std::shared_ptr<File> file;
  uint64_t size;
  {
    std::lock_guard l(d.mu);
    if (d.segments.empty()) return;
    file = d.active()->log_file();
    size = d.active()->size();
  }
  if (size <= window) return;
  // Pages still dirty or under writeback at the last call are retried: the range reaches two
  // windows further back (cheap where nothing is cached any more).
  uint64_t hi = size - window;
  uint64_t lo = hi > 2 * window ? hi - 2 * window : 0;
  file->ReleaseCache(lo, hi - lo);
}

void PartitionLog::OnDurable(int64_t offset) {
  if (std::function<void()> run = AdvanceDurable(offset)) run();
}

std::function<void()> PartitionLog::AdvanceDurable(int64_t offset) {
  Impl& d = *impl_;
  std::vector<Impl::SyncWaiter> ready;
  {
    std::lock_guard w(d.wait_mu);
    if (offset > d.durable) d.durable = offset;
    while (!d.sync_waiters.empty() && d.sync_waiters.front().end <= d.durable) {
      ready.push_back(std::move(d.sync_waiters.front()));
      d.sync_waiters.pop_front();
    }
    // Duplicates may register out of order: sweep the rest too.
    for (auto it = d.sync_waiters.begin(); it != d.sync_waiters.end();) {
      if (it->end <= d.durable) {
        ready.push_back(std::move(*it));
        it = d.sync_waiters.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (ready.empty()) return nullptr;
  return [ready = std::move(ready)]() mutable {
    for (auto& w : ready) w.done(w.result);
  };
}

ReadResult PartitionLog::Read(int64_t offset, size_t max_bytes, const ReadOptions& options) const {
  const Impl& d = *impl_;
  ReadResult out;
  std::vector<std::pair<std::shared_ptr<Segment>, uint64_t>> segs;  // segment, readable size
  uint64_t start_pos = 0;
  int64_t limit;
  {
    std::lock_guard l(d.mu);
    out.high_watermark = d.leo;
    auto unstable = d.producers.FirstUnstableOffset();
    out.last_stable_offset = unstable ? std::min<int64_t>(*unstable, d.leo) : d.leo.load();
    out.log_start_offset = d.log_start;
    if (offset < d.log_start || offset > d.leo) {
      out.error = LogError::kOffsetOutOfRange;
      out.message = "offset " + std::to_string(offset) + " outside [" +
                    std::to_string(d.log_start) + ", " + std::to_string(d.leo.load()) + "]";
      return out;
    }
    limit = options.isolation == IsolationLevel::kReadCommitted ? out.last_stable_offset
                                                                 : out.high_watermark;
    if (offset >= limit) return out;
    auto it = d.segments.upper_bound(offset);
    if (it != d.segments.begin()) --it;
    start_pos = it->second->LookupPosition(offset);
    for (; it != d.segments.end(); ++it) segs.emplace_back(it->second, it->second->size());
  }
  int64_t end_offset = offset;
  bool first_seg = true;
  bool done = false;
  for (auto& [seg, seg_size] : segs) {
    uint64_t pos = first_seg ? start_pos : 0;
    first_seg = false;
    FileSlice slice;
    HeaderScanner scan(*seg, seg_size);
    while (pos < seg_size) {
      auto h = scan.At(pos);
      if (!h.ok()) {
        out.error = LogError::kStorageError;
        out.message = h.status().message();
        return out;
      }
      if (h->last_offset < offset) {
        pos += h->size;
        continue;
      }
      if (h->base_offset >= limit) {
        done = true;
        break;
      }
      if (out.total_bytes + h->size > max_bytes && !(out.total_bytes == 0 && options.min_one_batch)) {
        done = true;
        break;
      }
      if (slice.size == 0) {
        slice.file = seg->log_file();
        slice.position = pos;
      }
      slice.size += h->size;
      out.total_bytes += h->size;
      end_offset = h->last_offset + 1;
      pos += h->size;
    }
    if (slice.size > 0) out.slices.push_back(std::move(slice));
    if (done) break;
  }
  if (options.isolation == IsolationLevel::kReadCommitted && out.total_bytes > 0) {
    std::lock_guard l(d.mu);
    for (const AbortedTxnEntry& e : d.aborted) {
      if (e.last_offset >= offset && e.first_offset < end_offset)
        out.aborted_transactions.push_back({e.producer_id, e.first_offset});
    }
  }
  return out;
}

int64_t PartitionLog::log_start_offset() const {
  std::lock_guard l(impl_->mu);
  return impl_->log_start;
}
int64_t PartitionLog::log_end_offset() const { return impl_->leo.load(); }
std::optional<int64_t> PartitionLog::OpenTransactionStart(int64_t producer_id) const {
  std::lock_guard l(impl_->mu);
  const ProducerEntry* p = impl_->producers.Find(producer_id);
  if (p == nullptr) return std::nullopt;
  return p->txn_first_offset;
}

bool PartitionLog::IsAborted(int64_t producer_id, int64_t offset) const {
  if (producer_id < 0) return false;
  std::lock_guard l(impl_->mu);
  for (const AbortedTxnEntry& e : impl_->aborted) {
    if (e.producer_id == producer_id && offset >= e.first_offset && offset < e.last_offset) return true;
  }
  return false;
}

int64_t PartitionLog::last_stable_offset() const {
  std::lock_guard l(impl_->mu);
  auto unstable = impl_->producers.FirstUnstableOffset();
  return unstable ? std::min<int64_t>(*unstable, impl_->leo) : impl_->leo.load();
}
int64_t PartitionLog::durable_offset() const {
  std::lock_guard w(impl_->wait_mu);
  return impl_->durable;
}

TimestampOffset PartitionLog::OffsetForTimestamp(int64_t timestamp_ms) const {
  const Impl& d = *impl_;
  std::vector<std::pair<std::shared_ptr<Segment>, uint64_t>> segs;
  int64_t start_offset = 0;
  int64_t log_start;
  {
    std::lock_guard l(d.mu);
    log_start = d.log_start;
    for (auto& [base, seg] : d.segments) {
      if (segs.empty() && seg->max_timestamp() < timestamp_ms) continue;
      if (segs.empty()) start_offset = seg->LookupTimestampStart(timestamp_ms);
      segs.emplace_back(seg, seg->size());
    }
  }
  std::string batch;
  bool first = true;
  for (auto& [seg, size] : segs) {
    uint64_t pos = first ? seg->LookupPosition(start_offset) : 0;
    first = false;
    while (pos < size) {
      auto h = seg->ReadHeader(pos, size);
      if (!h.ok()) return {};
      pos += h->size;
      if (h->max_timestamp < timestamp_ms || h->last_offset < log_start) continue;
      if (!seg->ReadBatch(*h, &batch).ok()) return {};
      auto view = RecordBatchView::ParseTrusted(batch);
      auto set = view->Records();
      if (!set.ok()) return {};
      for (const Record& r : set->records()) {
        if (r.timestamp >= timestamp_ms && r.offset >= log_start) return {r.offset, r.timestamp};
      }
    }
  }
  return {};
}

TimestampOffset PartitionLog::MaxTimestamp() const {
  std::lock_guard l(impl_->mu);
  TimestampOffset best;
  for (auto& [base, seg] : impl_->segments) {
    if (seg->max_timestamp() > best.timestamp) {
      best.timestamp = seg->max_timestamp();
      best.offset = seg->offset_of_max_timestamp();
    }
  }
  return best;
}

uint64_t PartitionLog::NotifyWhenPast(int64_t offset, std::function<void()> cb) {
  Impl& d = *impl_;
  uint64_t id;
  {
    std::lock_guard w(d.wait_mu);
    id = d.next_notify_id++;
    if (d.leo.load() <= offset) {
      d.notifies.emplace(id, std::make_pair(offset, std::move(cb)));
      return id;
    }
  }
  cb();
  return id;
}

bool PartitionLog::CancelNotify(uint64_t id) {
  std::lock_guard w(impl_->wait_mu);
  return impl_->notifies.erase(id) > 0;
}

bool PartitionLog::WaitPast(int64_t offset, std::chrono::milliseconds timeout) const {
  std::unique_lock w(impl_->wait_mu);
  return impl_->data_cv.wait_for(w, timeout, [&] { return impl_->leo.load() > offset; });
}

SequenceCheck PartitionLog::CheckSequence(int64_t producer_id, int16_t epoch, int32_t first_seq,
                                          int32_t last_seq) const {
  std::lock_guard l(impl_->mu);
  return impl_->producers.Check(producer_id, epoch, first_seq, last_seq);
}

int16_t PartitionLog::ProducerEpoch(int64_t producer_id) const {
  std::lock_guard l(impl_->mu);
  const ProducerEntry* p = impl_->producers.Find(producer_id);
  return p ? p->epoch : -1;
}

std::shared_ptr<const TopicConfig> PartitionLog::config() const {
  std::lock_guard l(impl_->mu);
  return impl_->config;
}

void PartitionLog::SetConfig(std::shared_ptr<const TopicConfig> config) {
  std::lock_guard l(impl_->mu);
  impl_->config = std::move(config);
}

size_t PartitionLog::segment_count() const {
  std::lock_guard l(impl_->mu);
  return impl_->segments.size();
}

uint64_t PartitionLog::size_bytes() const {
  std::lock_guard l(impl_->mu);
  uint64_t total = 0;
  for (auto& [base, seg] : impl_->segments) total += seg->size();
  return total;
}

// Removes the segments that lie wholly below `new_start` (never the active one) and moves
// the log start offset. Holds maintenance_mu and append_mu.
static Status DropBelow(Env* env, const std::string& dir, PartitionLog::Impl& d, int64_t new_start,
                        bool persist) {
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    std::lock_guard l(d.mu);
    if (new_start > d.log_start) d.log_start = new_start;
    while (d.segments.size() > 1) {
      auto first = d.segments.begin();
      auto second = std::next(first);
      if (second->first > d.log_start) break;
      doomed.push_back(first->second);
      d.segments.erase(first);
    }
    if (d.segments.begin()->first > d.log_start) d.log_start = d.segments.begin()->first;
  }
  for (auto& seg : doomed) EC_RETURN_IF_ERROR(seg->Delete());
  if (persist) {
    int64_t start;
    {
      std::lock_guard l(d.mu);
      start = d.log_start;
    }
    EC_RETURN_IF_ERROR(env->WriteFileAtomically(dir + "/" + kLogStartFile, std::to_string(start)));
  }
  return Status::Ok();
}

LogError PartitionLog::DeleteRecordsBefore(int64_t offset) {
  Impl& d = *impl_;
  std::lock_guard m(d.maintenance_mu);
  std::lock_guard a(d.append_mu);
  if (offset > d.leo || offset < 0) return LogError::kOffsetOutOfRange;
  if (offset <= log_start_offset()) return LogError::kNone;
  return DropBelow(env_, dir_, d, offset, true).ok() ? LogError::kNone : LogError::kStorageError;
}

Status PartitionLog::ApplyRetention(int64_t now_ms) {
  Impl& d = *impl_;
  std::lock_guard m(d.maintenance_mu);
  std::lock_guard a(d.append_mu);
  auto config = this->config();
  if (!config->cleanup_delete || d.failed) return Status::Ok();
  int64_t new_start = -1;
  {
    std::lock_guard l(d.mu);
    // An expired active segment is rolled so that it can go too (the log then stays empty).
    const Segment& act = *d.active();
    if (config->retention_ms >= 0 && !act.empty() &&
        act.max_timestamp() < now_ms - config->retention_ms) {
      EC_RETURN_IF_ERROR(RollLocked(env_, dir_, d));
    }
    uint64_t total = 0;
    for (auto& [base, seg] : d.segments) total += seg->size();
    for (auto it = d.segments.begin(); std::next(it) != d.segments.end(); ++it) {
      const Segment& seg = *it->second;
      bool expired = config->retention_ms >= 0 && seg.max_timestamp() < now_ms - config->retention_ms;
      bool too_big = config->retention_bytes >= 0 &&
                     static_cast<int64_t>(total) - config->retention_bytes >= static_cast<int64_t>(seg.size());
      if (!expired && !too_big) break;
      total -= seg.size();
      new_start = std::next(it)->first;
    }
  }
  if (new_start < 0) return Status::Ok();
  return DropBelow(env_, dir_, d, new_start, false);
}

Status PartitionLog::MaybeRollByAge(int64_t now_ms) {
  Impl& d = *impl_;
  std::lock_guard a(d.append_mu);
  std::lock_guard l(d.mu);
  if (d.failed) return Status::Ok();
  const Segment& act = *d.active();
  if (act.empty() || now_ms - act.created_ms() < d.config->segment_ms) return Status::Ok();
  return RollLocked(env_, dir_, d);
}

}  // namespace ec::log
