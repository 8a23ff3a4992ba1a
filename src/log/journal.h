#pragma once
// Journal: the broker-wide commit journal (a write-ahead log in <data_dir>/.journal/, see
// docs/log-format.md "Commit journal"). With it, every append to any partition is also written
// here, and a durable append (Durability::kSync) completes when ONE fdatasync of the journal
// covers its entry, instead of an fdatasync of each partition file it touched: a pipeline pass
// that writes ten partitions waits for one sync, not ten. The partition files are fdatasynced
// lazily, at checkpoints (journal size or age), on a thread of their own; then the journal
// starts a new file and the old one is deleted. LogManager::Open replays the journal into the
// partitions (Replay) before anything reads them.
//
// Threading: thread-safe. Lock order: a partition's append lock, then the journal's.
// Completions (PartitionLog::OnDurable) run on the journal's sync thread, or on a thread that
// runs its own syncs (RunSyncsOnThisThread).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"
#include "log/env.h"

namespace ec::log {

class PartitionLog;

struct JournalOptions {
  // Checkpoint when this many bytes were journaled since the last one...
  uint64_t checkpoint_bytes = 64ull << 20;
  // ...or when the oldest entry since the last one is this old (ms).
  int64_t checkpoint_ms = 5000;
  // kWritten entries are synced at most this long after they were written (<= 0: only with
  // the next durable append or Flush).
  int64_t flush_interval_ms = 1000;
  // Zero-filled space kept ahead of the journal's end (written on the checkpoint thread), so
  // its fdatasync writes data only, as for segments (docs/log-format.md).
  uint64_t preallocate_bytes = 8ull << 20;
  // Zeros written at Start into the first file AND into a spare for the first checkpoint's file
  // (`recycle.wal`), each up to this size (0 or less than preallocate_bytes: preallocate_bytes,
  // no spare). A long-running journal recycles its files and writes no zeros at all; a fresh
  // one (a new data dir, or a restart after a short run) would otherwise zero-fill its first
  // two files in steps while traffic runs, and each step's fdatasync delays the commits' syncs
  // (docs/log-format.md, "Commit journal"). Set it to checkpoint_bytes + preallocate_bytes to
  // reach that steady state before the first append.
  uint64_t start_fill_bytes = 0;
  // Journal files are written with direct I/O (File::EnableDirectWrites): nothing reads them
  // until a replay, so their bytes need not pass through the page cache. An entry is copied
  // into the file's buffer; the sync thread writes everything buffered with one direct write
  // and fdatasyncs (a device cache flush, since no page is dirty). Per synced byte this saves
  // the page-cache copy, dirtying and writeback (docs/log-format.md, "Commit journal").
  // Off, or refused by the filesystem: buffered writes as before.
  bool direct_io = true;
};

class Journal {
 public:
  // Called by Replay for each entry to apply, in journal order. `where` names the journal file
  // and byte position for error messages.
  using RedoFn = std::function<Status(const std::string& topic, int32_t partition,
                                      std::string_view batches, const std::string& where)>;
  struct ReplayResult {
    std::vector<std::string> files;  // journal file names found (to delete after the redo)
    uint64_t next_seq = 1;           // the sequence number of the next journal file
    uint64_t entries = 0;            // entries handed to `redo`
    uint64_t skipped = 0;            // entries of topics deleted after them (tombstones)
  };
  // Reads every journal file in `dir` (oldest first) up to its first torn or invalid entry and
  // calls `redo` for each batch entry not followed by a tombstone of its topic.
  static Result<ReplayResult> Replay(Env* env, const std::string& dir, const RedoFn& redo);

  // Starts the journal in `dir`: creates journal file `first_seq` (preallocated, synced, its
  // directory synced), then deletes `old_files` (whose content the caller has made durable in
  // the partitions). Starts the sync and checkpoint threads.
  static Result<std::unique_ptr<Journal>> Start(Env* env, std::string dir, JournalOptions options,
                                                uint64_t first_seq,
                                                const std::vector<std::string>& old_files);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Writes the entry of an append of `log` (its batches, offsets assigned, as written to the
  // segment, each with a right CRC: the entry's CRC is derived from them); `end_offset` is the
  // log end after it. Called under the partition's append lock,
  // so a partition's entries are in its order. Once a journal fdatasync covers the entry,
  // log's durable offset moves to end_offset on the sync thread. `sync_within_ms`: 0 = someone
  // waits for it (call RequestSync after releasing the partition's locks); > 0 = synced at most
  // this long after (the topic's flush.ms); < 0 = within flush_interval_ms. Any sync covers
  // every entry before it.
  //
  // `hold` (with sync_within_ms 0 only): someone waits, but a sync request is expected within
  // `hold` anyway (the pipeline's pass over the records just written, whose commit syncs the
  // journal: PartitionLog::SetSyncHold). The entry is then not urgent: it is synced by the
  // first RequestSync, or `hold` after it was written, whichever comes first, so one
  // fdatasync covers both instead of two in a row (the caller does not call RequestSync).
  //
  // `deferred` (with sync_within_ms 0): the caller requests the sync itself (RequestSync) once
  // it has written everything it waits for (AppendOptions::defer_journal_sync). The entry is
  // not marked urgent here: a sync thread that was not asleep (finishing the completions of the
  // sync before) would otherwise start a sync at once that covers the first entries of a
  // pass's round A only, and the rest would wait for a second one.
  Status Write(PartitionLog* log, std::string_view batches, int64_t end_offset, int64_t sync_within_ms,
               std::chrono::microseconds hold = std::chrono::microseconds(0), bool deferred = false);
  // Wakes the sync thread to sync every entry written so far. Errors: the journal failed.
  // On a thread that RunSyncsOnThisThread(true) marked, the round runs here instead,
  // completions included, before it returns: the caller was going to wait for it, and this
  // way neither the sync thread's wake-up nor the caller's own wake-up by the completion waits
  // for a core. Rounds stay one at a time: while one runs (on another marked thread or the
  // sync thread), a marked caller waits for its end and returns if it covered everything
  // written before the call, else runs the next round itself; an unmarked caller's request
  // goes into the sync thread's next round.
  Status RequestSync();
  // Marks (or unmarks) the calling thread as one that runs its own sync rounds in RequestSync
  // (for every Journal). For a thread that waits for each sync it requests and holds no lock a
  // completion takes while it calls RequestSync: the pipeline's commit thread. Not for a thread
  // that must not block in fdatasync (an event loop) nor for one that appends under a lock.
  static void RunSyncsOnThisThread(bool on);
  static bool RunsSyncsOnThisThread();
  // RunSyncsOnThisThread(on) for a scope; the thread's setting before it is restored after.
  class SyncsOnThisThread {
   public:
    explicit SyncsOnThisThread(bool on = true) : before_(RunsSyncsOnThisThread()) { RunSyncsOnThisThread(on); }
    ~SyncsOnThisThread() { RunSyncsOnThisThread(before_); }
    SyncsOnThisThread(const SyncsOnThisThread&) = delete;
    SyncsOnThisThread& operator=(const SyncsOnThisThread&) = delete;

   private:
    const bool before_;
  };
  // Journals and syncs a tombstone for `topic`: at replay, its entries before the tombstone
  // are skipped (a topic deleted and created again must not get the old one's records).
  Status WriteTombstone(const std::string& topic);
  // Removes `log` before it is destroyed; waits for a checkpoint sync or completion of it in
  // progress on another thread.
  void Forget(PartitionLog* log);
  // Checkpoints now and waits for it (tests; also LogManager at a clean shutdown).
  Status Checkpoint();

  uint64_t sync_calls() const;
  // Of those, the rounds run by a requester (RunSyncsOnThisThread) rather than the sync thread.
  uint64_t inline_sync_calls() const;
  // How often the sync thread returned from a wait (woken, or its deadline passed).
  uint64_t sync_thread_wakeups() const;
  // Whether the sync thread sleeps in its wait for work (tests: counting its wake-ups from
  // there, not from a start it has not got to yet on a loaded machine).
  bool sync_thread_sleeping() const;
  uint64_t checkpoints() const;
  // Bytes in the current journal file.
  uint64_t current_bytes() const;
  // Test hook: run no checkpoint from now on (only syncs), to crash with a full journal.
  void PauseCheckpoints(bool paused);
  // Test hook: called on the checkpoint thread at each step of a checkpoint (1: new file
  // created; 2: rotated, old file synced; 3, 4, ...: after each partition's sync; 100: before
  // the old files are deleted; 101: after), so a test can crash it half-way.
  void SetCheckpointHookForTest(std::function<void(int step)> hook);

  static std::string FileName(uint64_t seq);

 private:
  struct JournalFile {
    uint64_t seq;
    std::shared_ptr<File> file;
    uint64_t start;  // logical position of its first byte
    uint64_t end;    // logical position after its last entry (UINT64_MAX while active)
    bool direct;     // written with direct I/O (File::EnableDirectWrites accepted)
  };
  struct Pending {
    uint64_t end;
    PartitionLog* log;
    int64_t end_offset;
  };
  using Clock = std::chrono::steady_clock;

  Journal(Env* env, std::string dir, JournalOptions options);
  void SyncLoop();
  // A sync is due: urgent entries, a lazy deadline passed, or entries left at stop.
  bool SyncDue() const;
  // One sync round with mu_ held via `l` (released during the fdatasync and the completions):
  // everything appended so far synced, synced_ moved, completions run on this thread.
  void SyncRound(std::unique_lock<std::mutex>& l, bool on_sync_thread);
  void CheckpointLoop();
  // One checkpoint: rotate, wait for the old file's sync, sync the partitions, delete the file.
  Status RunCheckpoint(std::unique_lock<std::mutex>& l);
  // `*direct`: the file takes direct writes (JournalOptions::direct_io, File::EnableDirectWrites).
  // Zero-filled up to `fill_bytes` (Start: the start fill; a checkpoint: preallocate_bytes).
  Result<std::shared_ptr<File>> CreateFile(uint64_t seq, uint64_t fill_bytes, bool* direct);
  // Opens (or creates) the spare file and zero-fills it up to `fill_bytes` (Start).
  Status PrepareSpare(uint64_t fill_bytes);
  // Zero-fills `f` from its allocated end up to `fill_bytes` in steps, then syncs it.
  static Status ZeroFill(File* f, uint64_t fill_bytes, bool direct);
  // Appends an entry of journal file `seq` to `out`.
  static void AppendEntry(std::string* out, uint64_t seq, uint8_t type, std::string_view topic,
                          int32_t partition, std::string_view data);
  // The same entry without `data` itself (it follows the head in the file): CRC over both.
  static void AppendEntryHead(std::string* out, uint64_t seq, uint8_t type, std::string_view topic,
                              int32_t partition, std::string_view data);

  Env* env_;
  const std::string dir_;
  const JournalOptions options_;
  mutable std::mutex mu_;
  std::condition_variable sync_cv_;    // wakes the sync thread
  std::condition_variable ckpt_cv_;    // wakes the checkpoint thread
  std::condition_variable done_cv_;    // synced_ moved, a callback or checkpoint finished
  std::deque<JournalFile> files_;      // oldest first; back = active
  std::string buf_;                    // tombstone or seal entry being written (reused)
  std::atomic<uint64_t> active_seq_{0};  // files_.back().seq, read by Write before it locks mu_
  std::atomic<bool> active_direct_{false};  // files_.back().direct, likewise
  uint64_t appended_ = 0;              // logical end of the journal
  uint64_t synced_ = 0;                // everything below is durable
  uint64_t urgent_upto_ = 0;           // urgent entries end here
  uint64_t file_bytes_ = 0;            // bytes in the active file
  Clock::time_point lazy_due_ = Clock::time_point::max();   // when the lazy entries are due
  Clock::time_point oldest_since_ckpt_ = Clock::time_point::max();  // first entry of the file
  std::deque<Pending> pending_;
  std::set<PartitionLog*> dirty_;       // partitions written to the active file
  std::set<PartitionLog*> ckpt_logs_;   // partitions the running checkpoint still has to sync
  std::map<PartitionLog*, int> busy_;   // callbacks / checkpoint syncs running per partition
  bool prealloc_due_ = false;
  bool checkpoint_requested_ = false;   // by size (Write)
  uint64_t ckpt_requested_seq_ = 0;     // explicit Checkpoint() calls so far
  uint64_t ckpt_served_seq_ = 0;        // of those, finished
  Status checkpoint_status_;
  bool paused_ = false;
  std::function<void(int)> hook_;
  Status failed_;                       // a journal write or sync failed: nothing more
  bool sync_running_ = false;           // a SyncRound is running (one at a time)
  bool sync_thread_waits_ = false;      // the sync thread waits for a requester's round to end
  std::condition_variable round_end_cv_;  // a round ended (requesters that found it running wait)
  int round_end_waiters_ = 0;           // requesters waiting on round_end_cv_
  // When the sleeping sync thread wakes by itself (its wait's deadline; max: untimed), or min
  // while it is awake. Write wakes it only for a lazy deadline before this.
  Clock::time_point sync_wakes_at_ = Clock::time_point::min();
  uint64_t sync_calls_ = 0;
  uint64_t inline_sync_calls_ = 0;
  uint64_t sync_thread_wakeups_ = 0;
  uint64_t checkpoints_ = 0;
  bool stop_ = false;
  std::thread::id sync_thread_id_;
  std::thread::id ckpt_thread_id_;
  std::thread sync_thread_;
  std::thread ckpt_thread_;
};

}  // namespace ec::log
