#pragma once
// The pipeline runner: one thread that consumes the raw topic (and every `api-logs.*` topic)
// from the position committed under the consumer group "eventception.pipeline", runs the
// Processor on each exchange and writes the output records (events, changelog records, dead
// letters) and the changelog state.
//
// Exactly once (processing.guarantee: exactly_once, the default; docs/exactly-once.md): each
// pass is one transaction (pipeline_txn.h) holding its outputs, its state-topic records and
// its new input position; the state store gets the pass's state only after the commit. A
// restart first finishes or aborts what a crash left open, so read_committed consumers see
// every output exactly once.
// At least once: outputs are appended, then the position is committed; a crash between the
// two repeats the pass (event ids are deterministic, so consumers can drop the duplicates).
//
// Overlapped passes (RunnerOptions::overlap_passes): a second thread (`ec-commit`) commits each
// pass while the pipeline thread reads and processes the next one over the committing pass's
// frozen state generation; the next pass's outputs are handed over only once the pass before
// is finished, so the log writes keep the serial order (docs/exactly-once.md "Overlapped
// passes").

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/arena.h"
#include "base/status.h"
#include "json/value.h"
#include "pipeline/processor.h"

namespace ec::log {
class LogManager;
class PartitionLog;
}  // namespace ec::log
namespace ec::cdc {
class TxnStateStore;
}

namespace ec::server {

class MetricsRegistry;
class Counter;
class Gauge;
class Histogram;
class TopicWriter;
class PipelineTxn;

inline constexpr char kPipelineGroup[] = "eventception.pipeline";
// Header on raw records that ingest already decoded and redacted (value = canonical exchange).
inline constexpr char kDecodedHeader[] = "eventception-decoded";
// Header naming the format of a raw record produced by a Kafka client.
inline constexpr char kFormatHeader[] = "eventception-format";

struct RunnerOptions {
  std::string raw_topic = "api-logs";
  size_t max_read_bytes = 1 << 20;  // per partition and pass
  size_t max_record_bytes = 1 << 20;
  uint32_t max_json_depth = 64;
  // processing.guarantee: true = exactly_once (transactional passes), false = at_least_once.
  bool exactly_once = true;
  // processing.overlap_passes: pass N+1 is read and processed while pass N commits (on the
  // committer thread); N+1's writes to the log still start only after N is decided
  // (docs/exactly-once.md "Overlapped passes"). A pass whose read was at least half of
  // max_read_bytes (a backlog) commits before the next one reads, as with false (every pass
  // commits before the next reads). On by default: with that rule it costs no pipeline CPU
  // and shortens the wait of records that arrive during a commit (docs/ingest-performance.md).
  bool overlap_passes = true;
  // Exactly once, with the commit journal: a durable append to an input partition (ingest's
  // 202) may wait this long for the journal sync of the pass that reads it (round A), instead
  // of taking an fdatasync of its own that the pass's round A then queues behind
  // (PartitionLog::SetSyncHold; 0 = off). The append is acknowledged only once synced, as
  // before. It lowers the end-to-end p99 of one sender that waits for each 202 (5.8-6.1 ms
  // against 7.1-8.8 at 65,000 lines/s), but makes each 202 about a pass slower, which lowers
  // what such a sender sends, and made no difference to four connections in an open loop
  // (docs/ingest-performance.md, "Round 12"): off unless processing.input_sync_hold_us sets it.
  int64_t input_sync_hold_us = 0;
  // processing.background_nice: the nice value the server's background threads (RocksDB's
  // flushes and compactions, the state store's writer, the journal's checkpointer) are lowered
  // to, checked once a second while the runner runs (background_priority.h; 0 = left as they
  // are). Off by default: measured only on a shared, loaded machine so far, where it lowered
  // the half-rate p99 in 12 of 16 pairs at load 2-6 and was noise at load 9-13
  // (docs/configuration.md).
  int background_nice = 0;
  // Test hook (exactly once): every n-th log transaction fails before its decision and is
  // aborted (0 = never).
  int64_t test_fail_every_nth_commit = 0;
};

class PipelineRunner {
 public:
  // Nothing is owned; all must outlive the runner.
  PipelineRunner(RunnerOptions options, log::LogManager* logs, const pipeline::Processor* processor,
                 TopicWriter* writer, MetricsRegistry* metrics);
  ~PipelineRunner();

  // The changelog state the processor's CDC stage writes to (its overlay is committed with each
  // pass). Call before Start; null = no changelog state.
  void SetStateStore(cdc::TxnStateStore* state) { state_ = state; }
  // Exactly once: finishes (commits or aborts) the transactions a crash left open and catches
  // the state store up with the committed state topic. Start calls it if it was not called.
  Status Recover();
  void Start();
  // Finishes the pass in progress (its outputs and commit), then stops.
  void Stop();

  // Raw records not processed yet, over every source partition.
  int64_t Lag() const { return lag_.load(std::memory_order_relaxed); }
  // Raw records processed since start.
  uint64_t processed() const { return processed_.load(std::memory_order_relaxed); }
  // Passes whose processing ended while the pass before was still committing (overlapped), and
  // passes dropped after processing because the pass before them was aborted.
  uint64_t overlapped_passes() const { return overlapped_.load(std::memory_order_relaxed); }
  uint64_t dropped_passes() const { return dropped_.load(std::memory_order_relaxed); }

  // Replaces the processor (and with it its stages: the CDC stage and the definitions) at a clean
  // position: the pass in progress finishes and commits with the old processor, the next pass
  // starts with `processor`. Thread-safe; blocks until the runner no longer uses the old one
  // (then the caller may destroy it). When the runner is not running it takes effect at once.
  // Returns the processor it replaced. `processor` is not owned and must outlive its use.
  const pipeline::Processor* SwapProcessor(const pipeline::Processor* processor);
  // The processor in use (for callers that need its specs or options).
  const pipeline::Processor* processor() const;

  // Runs one exchange (already canonical) through the processor and appends its outputs: used
  // by dead-letter replay. Returns how many records were written.
  Result<size_t> ProcessExchange(const json::Value& exchange);
  // Decodes raw record text in `format` and processes it (replay of a decode dead letter).
  Result<size_t> ProcessRaw(std::string_view text, std::string_view format);

 private:
  struct Source {
    std::string topic;
    int32_t partition = 0;
    std::shared_ptr<log::PartitionLog> log;
    int64_t position = 0;  // committed (the last decided pass's end)
    int64_t read = 0;      // where the next pass reads: position, or the end of the pass in flight
    bool held = false;     // its durable appends' syncs are held (RunnerOptions::input_sync_hold_us)
  };
  // A processed pass, handed to the committer thread (its log transaction), then finished by
  // the pipeline thread (position, state commit, metrics). Owns everything its outputs were
  // built from.
  struct PassJob {
    Source* src = nullptr;
    int64_t next = 0;  // the source position after the pass
    std::string bytes;  // the raw records read
    std::vector<std::string> extra_bytes;  // read while the pass before committed (see Pass)
    std::vector<pipeline::OutputRecord> out;
    pipeline::ProcessStats stats;
    std::vector<int64_t> append_times;
    std::string dead_letter_topic;
    int64_t read_us = 0, start_us = 0, processed_us = 0, wait_us = 0;
    int64_t process_cpu_us = 0;  // this thread's CPU time in processing (traced runs only)
    // Traced runs only: how long the pipeline thread was runnable but not running (waiting for
    // a core) during processing, and the committer thread during the commit; with the CPU time
    // they tell a pass that was preempted from one that waited for I/O or the pass before.
    int64_t process_runq_us = 0;
    int64_t commit_runq_us = 0;
    // Set by the committer thread (read after done):
    Status status;
    int64_t committed_us = 0;
    int64_t round_a_us = 0, round_b_us = 0, markers_us = 0;
    size_t partitions = 0;
  };
  void Run();
  void RefreshSources();
  // Processes what is available on `src`; returns whether anything was read.
  bool Pass(Source* src);
  void Account(const std::vector<pipeline::OutputRecord>& out, const pipeline::ProcessStats& stats,
               const std::string& dead_letter_topic);
  // One line per pass in the trace (EC_TRACE_PASSES, log/trace.h).
  void TracePass(const PassJob& job, int64_t end_us);
  // Installs a pending SwapProcessor (caller holds pass_mu_ and has finished the pass in flight).
  void ApplyPendingSwap();
  bool SwapPending();

  // The committer thread: runs the log side of each handed-over pass (CommitLog), one at a time.
  void RunCommitter();
  // Appends the job's outputs (its state records included) and commits its position, the way
  // the guarantee says. On error nothing is committed (exactly once: aborted).
  void CommitLog(PassJob* job);
  // Hands `job` to the committer (caller holds pass_mu_; no pass in flight).
  void HandOff(std::unique_ptr<PassJob> job);
  // Waits for the pass in flight, if any, and finishes it (caller holds pass_mu_): on success
  // its source position moves and its frozen state generation is committed; on failure both
  // state generations (the frozen one and the open pass's) are discarded, the source is read
  // again from the committed position, and `*aborted` is set: the caller drops the pass it has
  // processed (it was built over the aborted one's state). `block` false: only when done.
  void FinishInFlight(bool* aborted, bool block = true);
  // Commits the frozen state generation with the state topic's end as its checkpoint.
  Status CommitFrozenState();
  // Commits the state overlay after a non-transactional append (replay) .
  Status CommitStateAfterAppend();

  RunnerOptions options_;
  log::LogManager* logs_;
  cdc::TxnStateStore* state_ = nullptr;
  std::unique_ptr<PipelineTxn> txn_;
  bool recovered_ = false;
  int64_t exit_before_decision_at_ = -1;  // test hook (EC_TEST_STALL_BEFORE_DECISION): pass number
  int64_t passes_ = 0;
  Counter* aborted_;
  // pass_mu_ is held for a whole pass (and by ProcessExchange/ProcessRaw), so processor_ only
  // changes between passes. swap_mu_ guards the hand-over of a pending processor.
  mutable std::mutex pass_mu_;
  const pipeline::Processor* processor_;
  std::mutex swap_mu_;
  std::condition_variable swap_cv_;
  const pipeline::Processor* pending_ = nullptr;
  uint64_t swaps_requested_ = 0;
  uint64_t swaps_applied_ = 0;
  bool running_ = false;  // the runner thread is (about to be) in Run; under swap_mu_
  TopicWriter* writer_;
  MetricsRegistry* metrics_;
  // Runner thread (Run reads positions under pass_mu_); a deque, so that a Source stays where
  // it is while a pass of it is in flight and RefreshSources adds others.
  std::deque<Source> sources_;
  std::string read_buffer_;      // a spare read buffer (under pass_mu_), reused by the next pass
  // A finished pass's output vector, emptied, whose capacity the next pass reuses: grown from
  // empty in every pass it was reallocated several times, each time into fresh pages
  // (thousands of 150-byte records: page faults showed in perf as ~2% of this thread).
  std::vector<pipeline::OutputRecord> spare_out_;
  // A record's scratch arena (Pass): one block, the largest base/arena.cc keeps per thread
  // for reuse; a record needing more takes further blocks for itself.
  static constexpr size_t kRecordArenaBytes = 64 << 10;
  int64_t last_pass_end_us_ = 0; // under pass_mu_: when the last pass ended (trace)
  // The pass in flight (under pass_mu_); the committer owns its contents from HandOff until it
  // sets commit_done_ (under commit_mu_).
  std::unique_ptr<PassJob> inflight_;
  // Wakes the pipeline thread while it takes in records during a commit (Pass): rung by the
  // input's append (PartitionLog::NotifyWhenPast) and by the committer at the commit's end.
  // Shared: a notification already fired may still run on the appending thread after the
  // pipeline thread stopped waiting for it.
  struct Doorbell {
    std::mutex mu;
    std::condition_variable cv;
    uint64_t rings = 0;
    void Ring() {
      {
        std::lock_guard<std::mutex> lock(mu);
        ++rings;
      }
      cv.notify_one();
    }
  };
  std::shared_ptr<Doorbell> doorbell_ = std::make_shared<Doorbell>();
  std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  PassJob* commit_job_ = nullptr;  // handed over, not yet taken
  bool commit_done_ = false;
  bool committer_stop_ = false;
  std::thread committer_;
  std::atomic<int64_t> lag_{0};
  std::atomic<uint64_t> processed_{0};
  std::atomic<uint64_t> overlapped_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;

  Counter* matched_;
  Counter* unmatched_;
  Counter* processed_counter_;
  Gauge* lag_gauge_;
  Histogram* latency_;
  // Where a pass's records wait (docs/ingest-performance.md): from the oldest record's append to
  // the pass's start (queued behind the pass before), processing, and the commit (from the end
  // of processing: the wait for the pass before to finish committing, then outputs, position,
  // decision and markers durable), and the state store's checkpoint after it.
  Histogram* pass_queue_;
  Histogram* pass_process_;
  Histogram* pass_commit_;
  Histogram* pass_state_;
};

}  // namespace ec::server
