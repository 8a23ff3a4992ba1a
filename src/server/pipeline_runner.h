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

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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
    int64_t position = 0;
  };
  void Run();
  void RefreshSources();
  // Processes what is available on `src`; returns whether anything was read.
  bool Pass(Source* src);
  void Account(const std::vector<pipeline::OutputRecord>& out, const pipeline::ProcessStats& stats);
  // One line per pass in the trace (EC_TRACE_PASSES, log/trace.h).
  void TracePass(const Source& src, int64_t read_us, int64_t start_us, int64_t processed_us, int64_t end_us,
                 size_t read_bytes, size_t outputs, const std::vector<int64_t>& append_times);
  // Installs a pending SwapProcessor (caller holds pass_mu_).
  void ApplyPendingSwap();

  // Appends `out` (plus the pass's state records) and commits `position` for `src`, the way
  // the guarantee says; then commits the state overlay. On error nothing is committed.
  Status CommitPass(Source* src, int64_t position, std::vector<pipeline::OutputRecord>* out);
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
  std::vector<Source> sources_;  // runner thread only
  std::string read_buffer_;      // runner thread only (Pass)
  int64_t committed_us_ = 0;     // runner thread only: when CommitPass's commit ended
  int64_t last_pass_end_us_ = 0; // runner thread only: when the last pass ended (trace)
  std::atomic<int64_t> lag_{0};
  std::atomic<uint64_t> processed_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;

  Counter* matched_;
  Counter* unmatched_;
  Counter* processed_counter_;
  Gauge* lag_gauge_;
  Histogram* latency_;
  // Where a pass's records wait (docs/ingest-performance.md): from the oldest record's append to
  // the pass's start (queued behind the pass before), processing, and the commit (outputs,
  // position, decision and markers durable), and the state store's checkpoint after it.
  Histogram* pass_queue_;
  Histogram* pass_process_;
  Histogram* pass_commit_;
  Histogram* pass_state_;
};

}  // namespace ec::server
