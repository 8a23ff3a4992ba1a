#include "log/journal.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>

#include "log/bytes.h"
#include "log/crc32c.h"
#include "log/partition_log.h"
#include "log/trace.h"

namespace ec::log {
namespace {

// Entry: u32 payload length, u32 CRC32C of (u64 file sequence, payload), payload. Payload:
// u8 type, u16 topic length, topic, i32 partition, data. The file's sequence number in the
// CRC makes bytes of another journal file (a recycled file, a stray copy) read as invalid.
constexpr size_t kEntryHeader = 8;
constexpr uint8_t kTypeBatches = 1;    // data: the batches of one append, as in the segment
constexpr uint8_t kTypeTombstone = 2;  // the topic was deleted (partition -1, no data)
constexpr uint8_t kTypeSeal = 3;       // the last entry of a file that a newer file follows
constexpr uint32_t kMaxPayload = 1u << 30;
constexpr uint64_t kPreallocateStep = 1 << 20;
// Zero fill per fdatasync. Buffered: 1 MiB, since the fdatasync writes the zeros back and the
// commits' journal syncs queue behind it. Direct writes: the zeros go out in 256 KiB direct
// writes (env.cc) before it, so its fdatasync has only the file's growth and the device flush;
// a step of 4 MiB takes a quarter of the fdatasyncs (each is a flush the disk serves between
// the commits' ones).
constexpr uint64_t kDirectPreallocateStep = 4 << 20;
// A direct-write file holds unsynced entries in memory (File::EnableDirectWrites): past this
// many unsynced bytes (lazy entries: acks=1, flush.ms) the sync thread writes and syncs them
// early, instead of an appending thread writing them out under mu_.
constexpr uint64_t kDirectUnsyncedBytes = 4 << 20;
// A checkpointed journal file kept for reuse as the next one (File::Recycle): its blocks are
// allocated and written, so the next file needs no zero fill. Not a journal file name: replay
// never reads it.
constexpr char kSpareName[] = "recycle.wal";

uint32_t EntryCrc(uint64_t seq, std::string_view payload) {
  char s[8];
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(seq >> (56 - 8 * i));
  return Crc32c(payload, Crc32c(std::string_view(s, 8)));
}

// Crc32c(batches, crc), for the batches of an append (RecordBatch v2, back to back) whose own
// CRCs are right: each covers its batch from the attributes (byte 21) on, so only the 21 bytes
// before are read and the rest is folded in with Crc32cCombine. The log validated every batch
// it appends (CRC included) or built it itself, and rewrote only bytes before 21 (base offset,
// leader epoch) or updated the CRC (LogAppendTime): reading the ~1 MiB of a pass's batches
// again here cost the commit thread a CRC pass over all of them. Whatever does not frame as a
// batch is read.
uint32_t ContinueCrcOverBatches(std::string_view batches, uint32_t crc) {
  constexpr size_t kCovered = 21;  // the batch CRC covers [21, end)
  constexpr size_t kHeader = 61;   // RecordBatch v2 header
  while (batches.size() >= kHeader) {
    const auto length = static_cast<int32_t>(bytes::LoadBe(batches.data() + 8, 4));
    if (length < static_cast<int32_t>(kHeader - 12) || static_cast<uint64_t>(length) + 12 > batches.size() ||
        batches[16] != 2)
      break;
    const size_t size = static_cast<size_t>(length) + 12;
    crc = Crc32c(batches.substr(0, kCovered), crc);
    crc = Crc32cCombine(crc, static_cast<uint32_t>(bytes::LoadBe(batches.data() + 17, 4)), size - kCovered);
    batches.remove_prefix(size);
  }
  return Crc32c(batches, crc);
}

// Parses "<20 digits>.wal"; 0 when it is not a journal file name.
uint64_t ParseFileName(const std::string& name) {
  if (name.size() != 24 || !name.ends_with(".wal")) return 0;
  uint64_t seq = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    seq = seq * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return seq;
}

struct Entry {
  uint8_t type;
  std::string topic;
  int32_t partition;
  std::string_view data;
  std::string where;
};

// Reads the journal files in order and calls `fn` per valid entry. A file ends at its first
// torn or invalid entry; a file that does not end with a seal entry ends the journal (its
// successors hold nothing acknowledged: a sync covering them covered this file first).
Status ForEachEntry(Env* env, const std::string& dir, const std::vector<uint64_t>& seqs,
                    const std::function<Status(const Entry&)>& fn) {
  std::string payload;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const std::string path = dir + "/" + Journal::FileName(seqs[i]);
    EC_ASSIGN_OR_RETURN(std::shared_ptr<File> f, env->OpenFile(path, false));
    const uint64_t size = f->Size();
    uint64_t pos = 0;
    bool sealed = false;
    while (pos + kEntryHeader <= size) {
      char h[kEntryHeader];
      EC_ASSIGN_OR_RETURN(size_t n, f->ReadAt(pos, kEntryHeader, h));
      if (n != kEntryHeader) break;
      const auto len = static_cast<uint32_t>(bytes::LoadBe(h, 4));
      const auto crc = static_cast<uint32_t>(bytes::LoadBe(h + 4, 4));
      if (len < 7 || len > kMaxPayload || pos + kEntryHeader + len > size) break;  // zeros, torn
      payload.resize(len);
      EC_ASSIGN_OR_RETURN(n, f->ReadAt(pos + kEntryHeader, len, payload.data()));
      if (n != len || EntryCrc(seqs[i], payload) != crc) break;
      Entry e;
      e.type = static_cast<uint8_t>(payload[0]);
      const auto topic_len = static_cast<uint16_t>(bytes::LoadBe(payload.data() + 1, 2));
      if (size_t{3} + topic_len + 4 > len) break;
      e.topic.assign(payload.data() + 3, topic_len);
      e.partition = static_cast<int32_t>(bytes::LoadBe(payload.data() + 3 + topic_len, 4));
      e.data = std::string_view(payload).substr(3 + topic_len + 4);
      e.where = "journal " + path + " at byte " + std::to_string(pos);
      sealed = e.type == kTypeSeal;
      if (!sealed) EC_RETURN_IF_ERROR(fn(e));
      pos += kEntryHeader + len;
      if (sealed) break;
    }
    if (!sealed) break;
  }
  return Status::Ok();
}

}  // namespace

namespace {
// The journal whose completions this thread is running outside the sync thread (a sync run by
// its requester, RunSyncsOnThisThread): Forget from inside one of them must not wait for it.
thread_local const Journal* completing_here = nullptr;
// RunSyncsOnThisThread's setting for this thread.
thread_local bool syncs_here = false;
}  // namespace

std::string Journal::FileName(uint64_t seq) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu.wal", static_cast<unsigned long long>(seq));
  return name;
}

void Journal::AppendEntry(std::string* out, uint64_t seq, uint8_t type, std::string_view topic,
                          int32_t partition, std::string_view data) {
  AppendEntryHead(out, seq, type, topic, partition, data);
  out->append(data);
}

void Journal::AppendEntryHead(std::string* out, uint64_t seq, uint8_t type, std::string_view topic,
                              int32_t partition, std::string_view data) {
  const size_t len = 3 + topic.size() + 4 + data.size();
  const size_t at = out->size();
  out->resize(at + kEntryHeader);
  out->push_back(static_cast<char>(type));
  bytes::PutBe(out, topic.size(), 2);
  out->append(topic);
  bytes::PutBe(out, static_cast<uint32_t>(partition), 4);
  // The CRC of (seq, payload) in two steps: the head's part of the payload, then `data` where
  // it lies (the same value EntryCrc gives for the payload in one piece); a batch entry's data
  // from the CRCs its batches carry.
  const uint32_t head_crc = EntryCrc(seq, std::string_view(*out).substr(at + kEntryHeader));
  const uint32_t crc = type == kTypeBatches ? ContinueCrcOverBatches(data, head_crc) : Crc32c(data, head_crc);
  char* h = out->data() + at;
  for (int i = 0; i < 4; ++i) h[i] = static_cast<char>(len >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) h[4 + i] = static_cast<char>(crc >> (24 - 8 * i));
}

Result<Journal::ReplayResult> Journal::Replay(Env* env, const std::string& dir, const RedoFn& redo) {
  ReplayResult out;
  EC_RETURN_IF_ERROR(env->CreateDirs(dir));
  EC_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(dir));
  std::vector<uint64_t> seqs;
  for (const std::string& n : names) {
    if (uint64_t seq = ParseFileName(n); seq > 0) {
      seqs.push_back(seq);
      out.files.push_back(n);
    }
  }
  std::sort(seqs.begin(), seqs.end());
  if (!seqs.empty()) out.next_seq = seqs.back() + 1;
  // Pass 1: where each topic was last deleted; pass 2: the entries after that.
  std::map<std::string, uint64_t> deleted_at;
  uint64_t index = 0;
  EC_RETURN_IF_ERROR(ForEachEntry(env, dir, seqs, [&](const Entry& e) {
    ++index;
    if (e.type == kTypeTombstone) deleted_at[e.topic] = index;
    return Status::Ok();
  }));
  index = 0;
  EC_RETURN_IF_ERROR(ForEachEntry(env, dir, seqs, [&](const Entry& e) -> Status {
    ++index;
    if (e.type != kTypeBatches) return Status::Ok();
    auto d = deleted_at.find(e.topic);
    if (d != deleted_at.end() && index < d->second) {
      ++out.skipped;
      return Status::Ok();
    }
    ++out.entries;
    return redo(e.topic, e.partition, e.data, e.where);
  }));
  return out;
}

Journal::Journal(Env* env, std::string dir, JournalOptions options)
    : env_(env), dir_(std::move(dir)), options_(options) {}

Status Journal::ZeroFill(File* f, uint64_t fill_bytes, bool direct) {
  // In steps (each synced), so the first appends' fdatasyncs write data only.
  const uint64_t step = direct ? kDirectPreallocateStep : kPreallocateStep;
  while (f->AllocatedSize() < fill_bytes) {
    EC_ASSIGN_OR_RETURN(uint64_t got, f->Preallocate(std::min(fill_bytes, f->AllocatedSize() + step)));
    if (got <= f->Size()) break;  // the Env does not preallocate
  }
  return f->Sync();
}

Result<std::shared_ptr<File>> Journal::CreateFile(uint64_t seq, uint64_t fill_bytes, bool* direct) {
  const std::string path = dir_ + "/" + FileName(seq);
  if (env_->FileExists(path)) EC_RETURN_IF_ERROR(env_->RemoveFile(path));  // never acknowledged
  std::shared_ptr<File> f;
  const std::string spare = dir_ + "/" + kSpareName;
  if (env_->FileExists(spare) && env_->RenameFile(spare, path).ok()) {
    // Its old entries carry the old file's sequence number in their CRC: read as invalid.
    Result<std::shared_ptr<File>> reused = env_->OpenFile(path, false);
    if (reused.ok() && (*reused)->Recycle().ok()) f = std::move(reused).value();
  }
  if (f == nullptr) {
    if (env_->FileExists(path)) EC_RETURN_IF_ERROR(env_->RemoveFile(path));
    EC_ASSIGN_OR_RETURN(f, env_->OpenFile(path, true));
  }
  // Before the zero fill, so its zeros bypass the page cache too. Refused (a filesystem
  // without O_DIRECT, FaultInjectionEnv): buffered writes, same contract.
  *direct = options_.direct_io && f->EnableDirectWrites();
  EC_RETURN_IF_ERROR(ZeroFill(f.get(), fill_bytes, *direct));
  EC_RETURN_IF_ERROR(env_->SyncDir(dir_));
  return f;
}

Status Journal::PrepareSpare(uint64_t fill_bytes) {
  // A spare left by an earlier run (the last checkpointed file, or the journal a restart
  // replayed) is extended; its old bytes stay (recycled files are read as invalid past their
  // new entries). A crash half-way leaves a shorter spare: still only a spare.
  const std::string path = dir_ + "/" + kSpareName;
  const bool existed = env_->FileExists(path);
  EC_ASSIGN_OR_RETURN(std::shared_ptr<File> f, env_->OpenFile(path, !existed));
  const bool direct = options_.direct_io && f->EnableDirectWrites();
  EC_RETURN_IF_ERROR(ZeroFill(f.get(), fill_bytes, direct));
  return existed ? Status::Ok() : env_->SyncDir(dir_);
}

Result<std::unique_ptr<Journal>> Journal::Start(Env* env, std::string dir, JournalOptions options,
                                                uint64_t first_seq,
                                                const std::vector<std::string>& old_files) {
  std::unique_ptr<Journal> j(new Journal(env, std::move(dir), options));
  EC_RETURN_IF_ERROR(env->CreateDirs(j->dir_));
  bool direct = false;
  const uint64_t fill = std::max(options.start_fill_bytes, options.preallocate_bytes);
  EC_ASSIGN_OR_RETURN(std::shared_ptr<File> f, j->CreateFile(first_seq, fill, &direct));
  j->files_.push_back({first_seq, std::move(f), 0, UINT64_MAX, direct});
  j->active_seq_.store(first_seq, std::memory_order_release);
  j->active_direct_.store(direct, std::memory_order_release);
  // Only now that the new file is durable: the old ones go (their content is in the partitions);
  // the newest is kept as the spare for the next file.
  for (size_t i = 0; i < old_files.size(); ++i) {
    const std::string path = j->dir_ + "/" + old_files[i];
    if (i + 1 == old_files.size() && !env->FileExists(j->dir_ + "/" + kSpareName) &&
        env->RenameFile(path, j->dir_ + "/" + kSpareName).ok())
      continue;
    EC_RETURN_IF_ERROR(env->RemoveFile(path));
  }
  if (!old_files.empty()) EC_RETURN_IF_ERROR(env->SyncDir(j->dir_));
  if (options.start_fill_bytes > options.preallocate_bytes) EC_RETURN_IF_ERROR(j->PrepareSpare(fill));
  Journal* p = j.get();
  j->sync_thread_ = std::thread([p] {
    pthread_setname_np(pthread_self(), "ec-log-sync");
    p->SyncLoop();
  });
  j->ckpt_thread_ = std::thread([p] {
    pthread_setname_np(pthread_self(), "ec-log-ckpt");
    p->CheckpointLoop();
  });
  return j;
}

Journal::~Journal() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  sync_cv_.notify_all();
  ckpt_cv_.notify_all();
  done_cv_.notify_all();
  if (ckpt_thread_.joinable()) ckpt_thread_.join();
  if (sync_thread_.joinable()) sync_thread_.join();
}

Status Journal::Write(PartitionLog* log, std::string_view batches, int64_t end_offset, int64_t sync_within_ms,
                      std::chrono::microseconds hold, bool deferred) {
  if (sync_within_ms < 0) sync_within_ms = options_.flush_interval_ms > 0 ? options_.flush_interval_ms : -1;
  if (sync_within_ms > (int64_t{1} << 40)) sync_within_ms = -1;  // Kafka's "never" (Long.MAX_VALUE)
  const bool held = sync_within_ms == 0 && hold.count() > 0;
  const bool urgent = sync_within_ms == 0 && !held && !deferred;
  // The entry's head (length, CRC over all of it, type, topic, partition) is built before mu_
  // is taken: ingest's appends and the pass's ten or so queue on mu_, which covers only the
  // write. A direct-write file (JournalOptions::direct_io) gets the head and then the caller's
  // batches, two copies into its buffer under mu_; otherwise the whole entry is built here
  // (a copy of the batches) and written with one write() under mu_. The CRC covers the active
  // file's sequence number: rebuilt under mu_ in the rare case a checkpoint switched files in
  // between.
  thread_local std::string entry;
  uint64_t seq = active_seq_.load(std::memory_order_acquire);
  bool whole = !active_direct_.load(std::memory_order_acquire);
  auto build = [&] {
    entry.clear();
    if (whole) {
      AppendEntry(&entry, seq, kTypeBatches, log->topic(), log->partition(), batches);
    } else {
      AppendEntryHead(&entry, seq, kTypeBatches, log->topic(), log->partition(), batches);
    }
  };
  build();
  std::lock_guard l(mu_);
  if (!failed_.ok()) return failed_;
  if (files_.back().seq != seq || files_.back().direct == whole) {
    seq = files_.back().seq;
    whole = !files_.back().direct;
    build();
  }
  const std::shared_ptr<File>& f = files_.back().file;
  Status ws = f->Append(entry);
  if (ws.ok() && !whole) ws = f->Append(batches);
  if (!ws.ok()) {
    failed_ = IoError("commit journal " + f->path() + ": " + ws.message());
    return failed_;
  }
  const size_t entry_size = whole ? entry.size() : entry.size() + batches.size();
  appended_ += entry_size;
  file_bytes_ += entry_size;
  // Every appending thread (HTTP, Kafka, pipeline) keeps one of these: one large append must
  // not pin its size for the thread's life (a pass's batches are ~100 KiB).
  if (entry.capacity() > (1u << 20)) std::string().swap(entry);
  pending_.push_back({appended_, log, end_offset});
  dirty_.insert(log);
  const bool first_of_file = oldest_since_ckpt_ == Clock::time_point::max();
  bool earlier_due = false;
  if (first_of_file || sync_within_ms > 0 || held) {
    const Clock::time_point now = Clock::now();
    if (first_of_file) oldest_since_ckpt_ = now;
    if (sync_within_ms > 0 || held) {
      // A held entry is a lazy one with a deadline of `hold`: the sync thread sleeps until it,
      // unless a RequestSync (the pass's commit) comes first and its sync covers the entry.
      const Clock::time_point due =
          now + (held ? std::chrono::duration_cast<Clock::duration>(hold) : std::chrono::milliseconds(sync_within_ms));
      if (due < lazy_due_) {
        lazy_due_ = due;
        // The sync thread is woken only if it would sleep past the new deadline. After a round
        // lazy_due_ is reset while the sync thread may still sleep until an older deadline: the
        // first lazy entry after each round (a pass's commit markers, kWritten with flush.ms)
        // woke it just to sleep again, once per pass. Asleep until an earlier time, or awake
        // (min: it looks at lazy_due_ under mu_ before it sleeps again), it needs no wake-up.
        earlier_due = due < sync_wakes_at_;
      }
    }
  }
  if (urgent) urgent_upto_ = appended_;
  bool wake_sync = earlier_due;
  if (!urgent && files_.back().direct && appended_ - std::max(synced_, urgent_upto_) >= kDirectUnsyncedBytes) {
    urgent_upto_ = appended_;
    wake_sync = true;
  }
  if (wake_sync) sync_cv_.notify_one();  // it may sleep until an older deadline
  bool wake_ckpt = first_of_file;
  if (file_bytes_ >= options_.checkpoint_bytes && !checkpoint_requested_) {
    checkpoint_requested_ = true;
    wake_ckpt = true;
  }
  if (!prealloc_due_ && options_.preallocate_bytes > 0) {
    const uint64_t size = f->Size(), allocated = f->AllocatedSize();
    if (allocated < size + options_.preallocate_bytes / 2) {
      prealloc_due_ = true;
      wake_ckpt = true;
    }
  }
  if (wake_ckpt) ckpt_cv_.notify_one();
  return Status::Ok();
}

Status Journal::RequestSync() {
  {
    std::unique_lock l(mu_);
    if (!failed_.ok()) return failed_;
    // Everything written so far (a Flush waits for lazy entries too).
    urgent_upto_ = appended_;
    if (urgent_upto_ <= synced_) return Status::Ok();
    if (syncs_here && !stop_ && completing_here == nullptr) {
      // This thread is about to wait for the sync anyway: it runs the round itself, so neither
      // the sync thread's wake-up nor its own wake-up by the completion waits for a core.
      // A round running elsewhere (another requester's, the sync thread's) is waited for here:
      // it may cover everything asked for; what it does not cover, the next round, run here,
      // does. Waking the sync thread instead cost three wake-ups (it, its wait for the running
      // round's end, this thread's by the completion) where this costs one.
      const uint64_t target = appended_;
      while (sync_running_ && failed_.ok() && !stop_) {
        ++round_end_waiters_;
        round_end_cv_.wait(l);
        --round_end_waiters_;
      }
      if (!failed_.ok()) return failed_;
      if (synced_ >= target) return Status::Ok();
      if (!stop_) {
        SyncRound(l, /*on_sync_thread=*/false);
        return failed_;
      }
    }
  }
  sync_cv_.notify_one();
  return Status::Ok();
}

Status Journal::WriteTombstone(const std::string& topic) {
  std::unique_lock l(mu_);
  if (!failed_.ok()) return failed_;
  buf_.clear();
  AppendEntry(&buf_, files_.back().seq, kTypeTombstone, topic, -1, {});
  if (Status s = files_.back().file->Append(buf_); !s.ok()) {
    failed_ = IoError("commit journal " + files_.back().file->path() + ": " + s.message());
    return failed_;
  }
  appended_ += buf_.size();
  file_bytes_ += buf_.size();
  const uint64_t end = urgent_upto_ = appended_;
  sync_cv_.notify_one();
  done_cv_.wait(l, [&] { return synced_ >= end || !failed_.ok() || stop_; });
  if (!failed_.ok()) return failed_;
  return synced_ >= end ? Status::Ok() : IoError("commit journal stopped before the tombstone of '" + topic + "' was synced");
}

void Journal::Forget(PartitionLog* log) {
  std::unique_lock l(mu_);
  auto erase = [&] {
    dirty_.erase(log);
    ckpt_logs_.erase(log);
    pending_.erase(std::remove_if(pending_.begin(), pending_.end(), [&](const Pending& p) { return p.log == log; }),
                   pending_.end());
  };
  erase();
  // A log destroyed from inside its own completion callback (on the sync thread) must not
  // wait for that callback.
  const std::thread::id self = std::this_thread::get_id();
  if (self != sync_thread_id_ && self != ckpt_thread_id_ && completing_here != this) done_cv_.wait(l, [&] { return !busy_.count(log); });
  erase();
}

Status Journal::Checkpoint() {
  std::unique_lock l(mu_);
  const uint64_t mine = ++ckpt_requested_seq_;
  ckpt_cv_.notify_one();
  done_cv_.wait(l, [&] { return ckpt_served_seq_ >= mine || stop_; });
  if (ckpt_served_seq_ < mine) return Status(ErrorCode::kUnavailable, "commit journal stopped before the checkpoint");
  return checkpoint_status_;
}

uint64_t Journal::sync_calls() const {
  std::lock_guard l(mu_);
  return sync_calls_;
}

uint64_t Journal::inline_sync_calls() const {
  std::lock_guard l(mu_);
  return inline_sync_calls_;
}

uint64_t Journal::sync_thread_wakeups() const {
  std::lock_guard l(mu_);
  return sync_thread_wakeups_;
}

bool Journal::sync_thread_sleeping() const {
  std::lock_guard l(mu_);
  return sync_wakes_at_ != Clock::time_point::min();
}

uint64_t Journal::checkpoints() const {
  std::lock_guard l(mu_);
  return checkpoints_;
}

uint64_t Journal::current_bytes() const {
  std::lock_guard l(mu_);
  return file_bytes_;
}

void Journal::SetCheckpointHookForTest(std::function<void(int)> hook) {
  std::lock_guard l(mu_);
  hook_ = std::move(hook);
}

void Journal::PauseCheckpoints(bool paused) {
  std::lock_guard l(mu_);
  paused_ = paused;
}

void Journal::RunSyncsOnThisThread(bool on) { syncs_here = on; }

bool Journal::RunsSyncsOnThisThread() { return syncs_here; }

bool Journal::SyncDue() const {
  return urgent_upto_ > synced_ || (lazy_due_ != Clock::time_point::max() && Clock::now() >= lazy_due_) ||
         (stop_ && appended_ > synced_);
}

void Journal::SyncRound(std::unique_lock<std::mutex>& l, bool on_sync_thread) {
  // Everything written so far goes into this sync (the group commit): entries written while
  // it runs wait for the next one. One round at a time (sync_running_), on whichever thread.
  sync_running_ = true;
  const uint64_t target = appended_;
  std::vector<std::shared_ptr<File>> files;
  for (const JournalFile& f : files_) {
    if (f.end > synced_ && f.start < target) files.push_back(f.file);
  }
  lazy_due_ = Clock::time_point::max();
  ++sync_calls_;
  if (!on_sync_thread) ++inline_sync_calls_;
  l.unlock();
  const int64_t trace_start_us = TraceEnabled() ? TraceNowUs() : 0;
  Status s;
  for (const std::shared_ptr<File>& f : files) {
    s = f->Sync();
    if (!s.ok()) {
      s = IoError("commit journal " + f->path() + ": " + s.message());
      break;
    }
  }
  if (trace_start_us != 0) {
    const long long dur_us = TraceNowUs() - trace_start_us;
    const unsigned long long bytes = target - synced_;  // synced_ moves only in a round: ours
    if (on_sync_thread) {
      // runq_us: how long this thread waited for a core since the last traced sync (its
      // wake-up for this one included, the completions it ran after the last one too).
      static thread_local int64_t last_runq_us = TraceThreadRunDelayUs();
      const int64_t runq_us = TraceThreadRunDelayUs();
      TraceLine("sync tp=journal-0 dur_us=%lld bytes=%llu runq_us=%lld", dur_us, bytes,
                static_cast<long long>(runq_us - last_runq_us));
      last_runq_us = runq_us;
    } else {
      TraceLine("sync tp=journal-0 dur_us=%lld bytes=%llu inline=1", dur_us, bytes);
    }
  }
  l.lock();
  // Completions: the highest end offset per partition (its entries are in its order).
  std::vector<std::pair<PartitionLog*, int64_t>> done;
  if (s.ok()) {
    synced_ = target;
    while (!pending_.empty() && pending_.front().end <= target) {
      const Pending& p = pending_.front();
      auto it = std::find_if(done.begin(), done.end(), [&](const auto& d) { return d.first == p.log; });
      if (it == done.end()) {
        done.emplace_back(p.log, p.end_offset);
      } else {
        it->second = std::max(it->second, p.end_offset);
      }
      pending_.pop_front();
    }
  } else {
    failed_ = s;
    for (const Pending& p : pending_) {
      if (std::find_if(done.begin(), done.end(), [&](const auto& d) { return d.first == p.log; }) == done.end())
        done.emplace_back(p.log, -1);
    }
    pending_.clear();
  }
  for (const auto& [log, end] : done) ++busy_[log];
  done_cv_.notify_all();  // synced_ moved (tombstones, checkpoints wait for it)
  l.unlock();
  const Journal* outer = completing_here;
  if (!on_sync_thread) completing_here = this;
  if (s.ok()) {
    // Every partition durable first, then the completions.
    std::vector<std::function<void()>> runs;
    for (const auto& [log, end] : done) {
      if (std::function<void()> run = log->AdvanceDurable(end)) runs.push_back(std::move(run));
    }
    for (auto& run : runs) run();
  } else {
    for (const auto& [log, end] : done) log->OnSyncFailed(s);
  }
  completing_here = outer;
  l.lock();
  for (const auto& [log, end] : done) {
    if (--busy_[log] == 0) busy_.erase(log);
  }
  sync_running_ = false;
  done_cv_.notify_all();
  // Requesters that found this round running wait for its end (RequestSync), as does a sync
  // thread that found it running (SyncLoop) or must now fail what still waits. They are woken
  // after mu_ is released, so they do not wake only to block on it.
  const bool wake_requesters = round_end_waiters_ > 0;
  const bool wake_sync_thread = !on_sync_thread && (sync_thread_waits_ || !failed_.ok());
  if (!wake_requesters && !wake_sync_thread) return;
  if (wake_sync_thread) sync_thread_waits_ = false;
  l.unlock();
  if (wake_requesters) round_end_cv_.notify_all();
  if (wake_sync_thread) sync_cv_.notify_one();
  l.lock();
}

void Journal::SyncLoop() {
  std::unique_lock l(mu_);
  sync_thread_id_ = std::this_thread::get_id();
  while (true) {
    if (sync_running_) {
      // A requester runs a round itself (RequestSync): what it does not cover waits for its end.
      // Meanwhile it counts as awake (sync_wakes_at_): it looks at the deadlines after that end.
      sync_thread_waits_ = true;
      sync_cv_.wait(l);
      ++sync_thread_wakeups_;
      continue;
    }
    const bool due = SyncDue();
    if (!failed_.ok() || (stop_ && !due)) break;
    if (!due) {
      // Write wakes it only for a deadline before this one (sync_wakes_at_).
      sync_wakes_at_ = lazy_due_;
      if (lazy_due_ != Clock::time_point::max()) {
        sync_cv_.wait_until(l, lazy_due_);
      } else {
        sync_cv_.wait(l);
      }
      sync_wakes_at_ = Clock::time_point::min();
      ++sync_thread_wakeups_;
      continue;
    }
    SyncRound(l, /*on_sync_thread=*/true);
  }
  if (!failed_.ok()) {
    // Fail whatever still waits; later writes are refused.
    std::vector<PartitionLog*> logs;
    for (const Pending& p : pending_) {
      if (std::find(logs.begin(), logs.end(), p.log) == logs.end()) logs.push_back(p.log);
    }
    pending_.clear();
    for (PartitionLog* log : logs) ++busy_[log];
    const Status s = failed_;
    l.unlock();
    for (PartitionLog* log : logs) log->OnSyncFailed(s);
    l.lock();
    for (PartitionLog* log : logs) {
      if (--busy_[log] == 0) busy_.erase(log);
    }
    done_cv_.notify_all();
  }
}

void Journal::CheckpointLoop() {
  std::unique_lock l(mu_);
  ckpt_thread_id_ = std::this_thread::get_id();
  while (!stop_) {
    const Clock::time_point age_due =
        oldest_since_ckpt_ == Clock::time_point::max() || options_.checkpoint_ms <= 0
            ? Clock::time_point::max()
            : oldest_since_ckpt_ + std::chrono::milliseconds(options_.checkpoint_ms);
    auto ready = [&] {
      return stop_ || checkpoint_requested_ || ckpt_requested_seq_ > ckpt_served_seq_ || prealloc_due_ ||
             Clock::now() >= age_due;
    };
    if (age_due == Clock::time_point::max()) {
      ckpt_cv_.wait(l, ready);
    } else {
      ckpt_cv_.wait_until(l, age_due, ready);
    }
    if (stop_) break;
    if (prealloc_due_) {
      prealloc_due_ = false;
      std::shared_ptr<File> f = files_.back().file;
      const uint64_t target = f->Size() + options_.preallocate_bytes;
      const uint64_t step = files_.back().direct ? kDirectPreallocateStep : kPreallocateStep;
      l.unlock();
      // In steps: one large zero write and its fdatasync would hold the disk while the commits'
      // fdatasyncs queue behind it.
      while (f->AllocatedSize() < target) {
        // Traced like a segment's zero fill: each step's fdatasync shares the disk with the
        // commits' journal syncs (bench/trace_passes.py lists the slow ones).
        const int64_t trace_start_us = TraceEnabled() ? TraceNowUs() : 0;
        Result<uint64_t> r = f->Preallocate(std::min(target, f->AllocatedSize() + step));
        if (trace_start_us != 0) {
          TraceLine("zero tp=journal-0 dur_us=%lld", static_cast<long long>(TraceNowUs() - trace_start_us));
        }
        if (!r.ok() || *r <= f->Size()) break;  // appends then simply grow the file
      }
      l.lock();
      continue;
    }
    const uint64_t serving = ckpt_requested_seq_;
    const bool explicit_request = serving > ckpt_served_seq_;
    const bool automatic = checkpoint_requested_ || Clock::now() >= age_due;
    if (!explicit_request && !automatic) continue;
    if (paused_ && !explicit_request) {
      checkpoint_requested_ = false;
      oldest_since_ckpt_ = Clock::time_point::max();  // re-armed by the next write
      continue;
    }
    checkpoint_requested_ = false;
    checkpoint_status_ = RunCheckpoint(l);
    ckpt_served_seq_ = serving;
    done_cv_.notify_all();
  }
  done_cv_.notify_all();
}

Status Journal::RunCheckpoint(std::unique_lock<std::mutex>& l) {
  if (!failed_.ok()) return failed_;
  const int64_t trace_start_us = TraceEnabled() ? TraceNowUs() : 0;
  // 1. A new file, durable (created, zero-filled, its directory synced) before it is used.
  const uint64_t seq = files_.back().seq + 1;
  l.unlock();
  bool direct = false;
  Result<std::shared_ptr<File>> created = CreateFile(seq, options_.preallocate_bytes, &direct);
  std::function<void(int)> hook = hook_;
  if (hook) hook(1);
  l.lock();
  if (!created.ok()) return created.status();
  // 2. Rotate: the old file ends with a seal entry (replay goes on to the next file only after
  //    a sealed one), then new entries go to the new file.
  buf_.clear();
  AppendEntry(&buf_, files_.back().seq, kTypeSeal, "", -1, {});
  if (Status s = files_.back().file->Append(buf_); !s.ok()) {
    failed_ = IoError("commit journal " + files_.back().file->path() + ": " + s.message());
    return failed_;
  }
  appended_ += buf_.size();
  const uint64_t old_end = appended_;
  files_.back().end = old_end;
  files_.push_back({seq, std::move(created).value(), old_end, UINT64_MAX, direct});
  active_seq_.store(seq, std::memory_order_release);
  active_direct_.store(direct, std::memory_order_release);
  file_bytes_ = 0;
  oldest_since_ckpt_ = Clock::time_point::max();
  // Writes to the old file while step 1 ran unlocked saw it still over checkpoint_bytes and
  // asked again; this checkpoint serves them. Left set, a second checkpoint ran right after
  // each one by size (trace: 96 ms, then 6 ms and ten more partition fdatasyncs for a file of
  // a few KiB).
  checkpoint_requested_ = false;
  ckpt_logs_.insert(dirty_.begin(), dirty_.end());
  dirty_.clear();
  // 3. The old file synced (its entries may still be waiting for the sync thread).
  if (synced_ < old_end) {
    urgent_upto_ = std::max(urgent_upto_, old_end);
    sync_cv_.notify_one();
    done_cv_.wait(l, [&] { return synced_ >= old_end || !failed_.ok() || stop_; });
    if (!failed_.ok()) return failed_;
    if (synced_ < old_end) return Status(ErrorCode::kUnavailable, "commit journal stopped during a checkpoint");
  }
  int step = 2;
  if (hook) {
    l.unlock();
    hook(step);
    l.lock();
  }
  // 4. Every partition written to the old file fdatasynced, one at a time (ten at once would
  //    stall the commits' journal syncs behind them).
  Status first;
  std::set<PartitionLog*> failed_logs;
  size_t synced_logs = 0;
  while (!ckpt_logs_.empty()) {
    PartitionLog* log = *ckpt_logs_.begin();
    ckpt_logs_.erase(ckpt_logs_.begin());
    ++busy_[log];
    l.unlock();
    Status s = log->SyncFiles();
    if (hook) hook(++step);
    l.lock();
    if (--busy_[log] == 0) busy_.erase(log);
    ++synced_logs;
    if (!s.ok()) {
      failed_logs.insert(log);
      if (first.ok()) first = s;
    }
    done_cv_.notify_all();  // Forget may wait for this partition
  }
  if (!first.ok()) {
    // The old files stay (replay covers these partitions); the next checkpoint retries them.
    dirty_.insert(failed_logs.begin(), failed_logs.end());
    return first;
  }
  // 5. The old files go: everything in them is durable in the partitions now.
  std::vector<uint64_t> doomed;
  while (files_.size() > 1) {
    doomed.push_back(files_.front().seq);
    files_.pop_front();
  }
  l.unlock();
  if (hook) hook(100);
  Status s;
  for (size_t i = 0; i < doomed.size(); ++i) {
    const std::string path = dir_ + "/" + FileName(doomed[i]);
    // The newest becomes the spare for the next checkpoint's file (no zero fill then).
    if (i + 1 == doomed.size() && !env_->FileExists(dir_ + "/" + kSpareName) &&
        env_->RenameFile(path, dir_ + "/" + kSpareName).ok())
      continue;
    Status r = env_->RemoveFile(path);
    if (s.ok()) s = r;
  }
  if (hook) hook(101);
  if (trace_start_us != 0) {
    TraceLine("checkpoint tp=journal-0 dur_us=%lld partitions=%zu", static_cast<long long>(TraceNowUs() - trace_start_us),
              synced_logs);
  }
  l.lock();
  ++checkpoints_;
  return s;
}

}  // namespace ec::log
