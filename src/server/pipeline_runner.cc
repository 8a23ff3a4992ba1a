#include "server/pipeline_runner.h"

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <chrono>

#include <cstdlib>
#include <thread>

#include "base/clock.h"
#include "cdc/state_topic.h"
#include "cdc/txn_state_store.h"
#include "json/compact_parser.h"
#include "json/document.h"
#include "log/journal.h"
#include "log/log_manager.h"
#include "log/record_batch.h"
#include "log/trace.h"
#include "pipeline/exchange.h"
#include "server/background_priority.h"
#include "server/metrics.h"
#include "server/pipeline_txn.h"
#include "server/topic_writer.h"

namespace ec::server {
namespace {

// Microseconds on the wall clock (the records' append times are wall-clock milliseconds).
int64_t WallClockUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// This thread's CPU time: with the wall time of the same span it tells a pass that computed
// long (a pause in the code) from one that waited (preempted, on a lock, or in the read-more
// loop below while the pass before commits) (the trace's process_cpu_us).
int64_t ThreadCpuUs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

std::string_view HeaderValue(const log::Record& r, std::string_view name) {
  for (const log::RecordHeader& h : r.headers) {
    if (h.key == name && h.value) return *h.value;
  }
  return {};
}

// Calls fn(time, count) for each run of equal times in `times` (a pass's records' append times:
// the records of one append share one, ~1000 per POST at full rate).
template <typename Fn>
void ForEachRunOfEqualTimes(const std::vector<int64_t>& times, Fn fn) {
  for (size_t i = 0; i < times.size();) {
    size_t j = i + 1;
    while (j < times.size() && times[j] == times[i]) ++j;
    fn(times[i], j - i);
    i = j;
  }
}

}  // namespace

PipelineRunner::PipelineRunner(RunnerOptions options, log::LogManager* logs,
                               const pipeline::Processor* processor, TopicWriter* writer,
                               MetricsRegistry* metrics)
    : options_(std::move(options)), logs_(logs), processor_(processor), writer_(writer), metrics_(metrics) {
  matched_ = metrics_->GetCounter("eventception_matched_total", "Exchanges matched to an operation");
  unmatched_ = metrics_->GetCounter("eventception_unmatched_total", "Exchanges that matched no operation");
  processed_counter_ = metrics_->GetCounter("eventception_processed_total", "Raw records processed by the pipeline");
  lag_gauge_ = metrics_->GetGauge("eventception_processing_lag_records", "Raw records not yet processed");
  aborted_ = metrics_->GetCounter("eventception_pipeline_aborted_total",
                                  "Pipeline transactions aborted (at restart after a crash, or on an append error)");
  latency_ = metrics_->GetHistogram("eventception_end_to_end_latency_seconds",
                                    "From the raw append to the outputs being durable",
                                    MetricsRegistry::LatencyBuckets());
  const char* pass_help =
      "Pipeline passes: time per phase (queue = the oldest record's wait from its append to the pass's start; "
      "process = reading and processing, including records taken in while the pass before commits; "
      "commit = from the end of processing, including the wait for the pass before to finish committing when "
      "passes overlap, to the pass's decision and markers; state = the state store commit after it)";
  auto phase = [&](const char* name) {
    return metrics_->GetHistogram("eventception_pipeline_pass_seconds", pass_help, MetricsRegistry::LatencyBuckets(),
                                  {{"phase", name}});
  };
  pass_queue_ = phase("queue");
  pass_process_ = phase("process");
  pass_commit_ = phase("commit");
  pass_state_ = phase("state");
}

PipelineRunner::~PipelineRunner() { Stop(); }

Status PipelineRunner::Recover() {
  std::lock_guard<std::mutex> pass(pass_mu_);
  if (recovered_) return Status::Ok();
  if (options_.exactly_once) {
    txn_ = std::make_unique<PipelineTxn>(logs_, writer_);
    if (const char* n = std::getenv("EC_TEST_STALL_BEFORE_DECISION")) exit_before_decision_at_ = std::atoll(n);
    size_t aborted = 0, committed = 0;
    Status s = txn_->Recover(&aborted, &committed);
    if (!s.ok()) return Status(s.code(), "exactly-once recovery: " + s.message());
    if (aborted > 0) aborted_->Inc();
  }
  if (state_ != nullptr) {
    std::shared_ptr<log::PartitionLog> state_log = logs_->GetPartition(cdc::kStateTopic, 0);
    if (state_log != nullptr) {
      Result<size_t> n = cdc::CatchUpStateStore(state_->base(), *state_log);
      if (!n.ok()) return Status(n.status().code(), "state store catch-up: " + n.status().message());
    }
  }
  recovered_ = true;
  return Status::Ok();
}

void PipelineRunner::Start() {
  stop_ = false;
  if (Status s = Recover(); !s.ok()) {
    // Processing without recovery could expose a half-written pass: stay stopped.
    metrics_->GetCounter("eventception_errors_total", "Failures by pipeline stage", {{"stage", "recovery"}})->Inc();
    std::fprintf(stderr, "eventception: pipeline not started: %s\n", s.message().c_str());
    return;
  }
  RefreshSources();
  {
    std::lock_guard<std::mutex> lock(swap_mu_);
    running_ = true;
  }
  {
    std::lock_guard<std::mutex> lock(commit_mu_);
    committer_stop_ = false;
  }
  committer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ec-commit");
    // It waits for each journal sync it requests (round A, round B): it runs them itself, so
    // neither the sync thread's wake-up nor its own waits for a core (Journal::RequestSync).
    log::Journal::RunSyncsOnThisThread(true);
    RunCommitter();
  });
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ec-pipeline");  // for top/perf and the benchmark
    Run();
  });
}

void PipelineRunner::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();  // Run finishes the pass in flight before it returns
  {
    std::lock_guard<std::mutex> lock(commit_mu_);
    committer_stop_ = true;
  }
  commit_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
  if (txn_) (void)txn_->WaitMarkers();
  // No pass follows the input's appends now: their syncs are not held any more.
  for (Source& src : sources_) {
    src.log->SetSyncHold(std::chrono::microseconds(0));
    src.held = false;  // a restart sets it again with its first pass that met no backlog
  }
  log::TraceFlush();
  // A swap requested while the thread was stopping is applied here so its caller returns.
  std::lock_guard<std::mutex> pass(pass_mu_);
  {
    std::lock_guard<std::mutex> lock(swap_mu_);
    running_ = false;
  }
  ApplyPendingSwap();
}

const pipeline::Processor* PipelineRunner::SwapProcessor(const pipeline::Processor* processor) {
  std::unique_lock<std::mutex> lock(swap_mu_);
  if (!running_) {
    lock.unlock();
    std::lock_guard<std::mutex> pass(pass_mu_);
    const pipeline::Processor* old = processor_;
    processor_ = processor;
    return old;
  }
  // The runner thread installs it before its next pass, once the pass in flight is finished
  // (committed or aborted), so the caller finds every processed pass committed; waiting here
  // (rather than taking pass_mu_) cannot be starved by a busy runner re-taking the mutex.
  pending_ = processor;
  uint64_t ticket = ++swaps_requested_;
  const pipeline::Processor* old = processor_;
  swap_cv_.wait(lock, [&] { return swaps_applied_ >= ticket; });
  return old;
}

const pipeline::Processor* PipelineRunner::processor() const {
  std::lock_guard<std::mutex> pass(pass_mu_);
  return processor_;
}

bool PipelineRunner::SwapPending() {
  std::lock_guard<std::mutex> lock(swap_mu_);
  return swaps_applied_ != swaps_requested_;
}

void PipelineRunner::ApplyPendingSwap() {
  std::lock_guard<std::mutex> lock(swap_mu_);
  if (swaps_applied_ == swaps_requested_) return;
  processor_ = pending_;
  pending_ = nullptr;
  swaps_applied_ = swaps_requested_;
  swap_cv_.notify_all();
}

void PipelineRunner::RefreshSources() {
  if (options_.background_nice > 0) (void)LowerBackgroundThreads(options_.background_nice);
  std::string prefix = options_.raw_topic + ".";
  for (const log::TopicInfo& t : logs_->ListTopics()) {
    if (t.name != options_.raw_topic && t.name.rfind(prefix, 0) != 0) continue;
    for (int32_t p = 0; p < t.partitions; ++p) {
      bool known = false;
      for (const Source& s : sources_) known = known || (s.topic == t.name && s.partition == p);
      if (known) continue;
      Source s;
      s.topic = t.name;
      s.partition = p;
      s.log = logs_->GetPartition(t.name, p);
      if (s.log == nullptr) continue;
      auto committed = logs_->group_offsets()->Fetch(kPipelineGroup, t.name, p);
      s.position = committed ? committed->offset : s.log->log_start_offset();
      s.read = s.position;
      if (options_.exactly_once && logs_->journal() != nullptr) {
        s.log->SetSyncHold(std::chrono::microseconds(options_.input_sync_hold_us));
        s.held = true;
      }
      std::lock_guard<std::mutex> pass(pass_mu_);
      sources_.push_back(std::move(s));
    }
  }
}

void PipelineRunner::Run() {
  auto last_refresh = std::chrono::steady_clock::now();
  while (!stop_) {
    bool progressed = false;
    for (Source& s : sources_) progressed |= Pass(&s);
    int64_t lag = 0;
    int64_t wait_from = 0;
    {
      std::lock_guard<std::mutex> pass(pass_mu_);
      for (const Source& s : sources_) lag += std::max<int64_t>(0, s.log->log_end_offset() - s.position);
      if (!sources_.empty()) wait_from = sources_.front().read;
    }
    lag_.store(lag, std::memory_order_relaxed);
    lag_gauge_->Set(static_cast<double>(lag));
    auto now = std::chrono::steady_clock::now();
    if (now - last_refresh > std::chrono::seconds(1)) {
      RefreshSources();
      last_refresh = now;
    }
    if (sources_.empty()) {
      std::lock_guard<std::mutex> pass(pass_mu_);
      ApplyPendingSwap();
    }
    if (!progressed && !sources_.empty()) {
      // Sleep until the first source has data past what is read (most deployments have one)
      // or 50 ms pass; a pass in flight meanwhile is finished by the next Pass.
      sources_.front().log->WaitPast(wait_from, std::chrono::milliseconds(50));
    } else if (sources_.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::lock_guard<std::mutex> pass(pass_mu_);
  bool aborted = false;
  FinishInFlight(&aborted);
}

bool PipelineRunner::Pass(Source* src) {
  std::lock_guard<std::mutex> pass(pass_mu_);
  bool aborted = false;
  if (SwapPending()) {
    // The old processor's passes are committed (or aborted) before the new one is used.
    FinishInFlight(&aborted);
    ApplyPendingSwap();
    if (aborted) return false;
  }
  if (src->read < src->log->log_start_offset()) {
    FinishInFlight(&aborted);
    if (src->read < src->log->log_start_offset()) src->position = src->read = src->log->log_start_offset();
    return false;
  }
  if (src->read >= src->log->log_end_offset()) {
    FinishInFlight(&aborted, /*block=*/false);  // nothing to read: finish a pass whose commit is done
    return false;
  }
  const int64_t read_us = WallClockUs();
  log::ReadResult rr = src->log->Read(src->read, options_.max_read_bytes);
  if (rr.error == log::LogError::kOffsetOutOfRange) {
    FinishInFlight(&aborted);
    src->position = src->read = src->log->log_start_offset();
    return false;
  }
  if (rr.error != log::LogError::kNone || rr.slices.empty()) return false;
  // The read buffer is kept between passes (up to max_read_bytes plus a batch), so a pass does
  // not allocate and page-fault in a fresh megabyte; with a pass in flight there are two.
  const int64_t start_us = WallClockUs();
  const int64_t start_cpu_us = log::TraceEnabled() ? ThreadCpuUs() : 0;
  const int64_t start_runq_us = log::TraceEnabled() ? log::TraceThreadRunDelayUs() : 0;
  auto job = std::make_unique<PassJob>();
  job->out.swap(spare_out_);  // empty, with the capacity of a pass before
  job->src = src;
  job->read_us = read_us;
  job->start_us = start_us;
  job->bytes.swap(read_buffer_);
  std::string& bytes = job->bytes;
  if (!rr.ReadInto(&bytes).ok()) {  // no zero fill of the kept buffer first
    read_buffer_.swap(job->bytes);
    return false;
  }

  std::vector<pipeline::OutputRecord>& out = job->out;
  pipeline::ProcessStats& stats = job->stats;
  const int64_t from = src->read;
  int64_t next = from;
  std::vector<int64_t>& append_times = job->append_times;
  std::vector<json::Value> exchanges;
  pipeline::DecodeOptions dopts;
  dopts.max_record_bytes = options_.max_record_bytes;
  dopts.max_depth = options_.max_json_depth;
  dopts.redact = processor_->specs().redact_paths();
  json::ParseOptions popts;
  popts.max_depth = options_.max_json_depth;
  int64_t skip_below = from;
  auto walk_records = [&](const std::string& buffer) {
    return log::ForEachBatch(buffer, true, [&](const log::RecordBatchView& batch) -> Status {
      if (batch.is_control()) {
        next = std::max(next, batch.last_offset() + 1);
        return Status::Ok();
      }
      // processed_ is added to once per batch: a locked increment per record waited for the
      // record before's output stores (reused records' cold strings) to leave the store buffer.
      uint64_t batch_records = 0;
      Status s = batch.ForEachRecord([&](const log::Record& rec) -> Status {
        if (rec.offset < skip_below) return Status::Ok();
        next = rec.offset + 1;
        append_times.push_back(rec.timestamp);
        ++batch_records;
        if (!rec.value) return Status::Ok();  // a tombstone is not an exchange
        // Each record is parsed and processed in a scratch arena of its own, released after
        // it: what Process appends owns its bytes (OutputRecord), and the arena holds only
        // temporaries (processor.h). Its one block (base/arena.cc keeps released blocks per
        // thread) is the same memory for every record, warm in L1/L2; a pass arena of
        // megabytes had every record's tree written into lines not touched before (perf on
        // serve: a cache miss per 64 bytes written, in the parser's and builder's stores).
        Arena arena(kRecordArenaBytes);
        exchanges.clear();
        Status s;
        if (!HeaderValue(rec, kDecodedHeader).empty()) {
          // Ingest stored this as AppendJson text: the compact parser reads it in one walk (no
          // simdjson tape and tree conversion); what it declines goes to ParseInto, which says why.
          json::Value v;
          if (!json::ParseCompactInto(*rec.value, &arena, &v, popts.max_depth)) {
            s = json::ParseInto(*rec.value, &arena, &v, popts);
          }
          if (s.ok()) exchanges.push_back(v);
        } else {
          std::string_view format = HeaderValue(rec, kFormatHeader);
          s = pipeline::DecodeBytes(*rec.value, format.empty() ? "detect" : format, dopts, &arena, &exchanges);
        }
        if (!s.ok()) {
          pipeline::DeadLetter dl;
          dl.stage = "decode";
          dl.error = &s;
          dl.raw_text = *rec.value;
          dl.format = HeaderValue(rec, kFormatHeader);
          dl.timestamp_ms = rec.timestamp;
          out.push_back(pipeline::MakeDeadLetter(dl, processor_->options().dead_letter_topic));
          stats.dead_letters++;
          return Status::Ok();
        }
        for (const json::Value& x : exchanges) processor_->Process(x, &arena, &out, &stats);
        return Status::Ok();
      });
      processed_.fetch_add(batch_records, std::memory_order_relaxed);
      return s;
    });
  };
  // A corrupt tail stops a walk at the last good record; `next` says where.
  bool clean = walk_records(bytes).ok();
  if (inflight_) {
    std::lock_guard<std::mutex> lock(commit_mu_);
    if (!commit_done_) overlapped_.fetch_add(1, std::memory_order_relaxed);
  }
  // While the pass before is still committing, this pass could only wait: it takes what is
  // appended meanwhile instead (up to one read's worth of bytes), so those records ride this
  // pass rather than the one after it, a whole commit later.
  if (clean && inflight_ && options_.overlap_passes) {
    size_t taken = bytes.size();
    Doorbell& bell = *doorbell_;
    while (taken < options_.max_read_bytes) {
      uint64_t rung;
      {
        std::lock_guard<std::mutex> lock(bell.mu);
        rung = bell.rings;  // read first: a ring after this (commit end, new records) ends the wait
      }
      {
        std::lock_guard<std::mutex> lock(commit_mu_);
        if (commit_done_) break;
      }
      if (next >= src->log->log_end_offset()) {
        // Nothing new yet: sleep until records arrive or the commit ends. (It looked again
        // every 250 us before: ~4 wake-ups per millisecond of every commit, each a futex
        // timeout and a switch, mostly finding nothing.)
        const uint64_t id = src->log->NotifyWhenPast(next, [bell = doorbell_] { bell->Ring(); });
        {
          std::unique_lock<std::mutex> lock(bell.mu);
          bell.cv.wait(lock, [&] { return bell.rings != rung; });
        }
        src->log->CancelNotify(id);
        continue;
      }
      log::ReadResult more = src->log->Read(next, options_.max_read_bytes - taken);
      if (more.error != log::LogError::kNone || more.slices.empty()) break;
      std::string& extra = job->extra_bytes.emplace_back();
      if (!more.CopyTo(&extra).ok()) break;
      taken += extra.size();
      skip_below = next;
      const int64_t before = next;
      clean = walk_records(extra).ok();
      if (!clean || next == before) break;
    }
  }
  if (next == from) {
    read_buffer_.swap(job->bytes);
    return false;
  }
  // The CPU and run-queue figures are read inside the wall-clock span, so neither counts a
  // preemption between the clock reads that the span does not.
  if (log::TraceEnabled()) {
    job->process_cpu_us = ThreadCpuUs() - start_cpu_us;
    job->process_runq_us = log::TraceThreadRunDelayUs() - start_runq_us;
  }
  job->processed_us = WallClockUs();
  job->next = next;
  job->dead_letter_topic = processor_->options().dead_letter_topic;
  // This pass was read and processed while the pass before committed. Its log writes start
  // only once that pass is finished: decided (then its state generation is committed), or
  // aborted (then this pass, built over its state, is dropped and both are read again).
  FinishInFlight(&aborted);
  job->wait_us = WallClockUs() - job->processed_us;
  if (aborted) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return false;  // retried from the committed position
  }
  if (state_ != nullptr) {
    if (state_->has_frozen()) (void)CommitFrozenState();  // a state commit that failed before
    cdc::StateRecords(state_->Pending(), &job->out);
    if (Status fs = state_->Freeze(); !fs.ok()) {
      metrics_->GetCounter("eventception_errors_total", "Failures by pipeline stage", {{"stage", "state"}})->Inc();
      state_->Discard();
      return false;  // read again
    }
  }
  src->read = next;
  // A pass whose read came back at least half full met a backlog: the pipeline is behind, so
  // it is throughput that counts, and on two cores an overlapped pass only contends with its
  // own commit (and ingest) for the CPU: +40% CPU on ec-pipeline at full rate, no gain in
  // lines/s (docs/ingest-performance.md). Such a pass is committed before the next one starts;
  // the overlap is kept for the small passes of a pipeline that keeps up, where records
  // arriving during a commit would otherwise wait for it.
  const bool backlog = job->bytes.size() >= options_.max_read_bytes / 2;
  // The input's sync hold pays only while the pass that reads an append follows it at once: in
  // a backlog that pass is seconds of records away, and a held 202 would just wait for some
  // other pass's sync (ingest's full-rate requests slower, more passes per line).
  if (src->held != !backlog && options_.exactly_once && logs_->journal() != nullptr) {
    src->held = !backlog;
    src->log->SetSyncHold(std::chrono::microseconds(src->held ? options_.input_sync_hold_us : 0));
  }
  HandOff(std::move(job));
  if (!options_.overlap_passes || backlog) {
    FinishInFlight(&aborted);
    if (aborted) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

void PipelineRunner::HandOff(std::unique_ptr<PassJob> job) {
  inflight_ = std::move(job);
  {
    std::lock_guard<std::mutex> lock(commit_mu_);
    commit_job_ = inflight_.get();
    commit_done_ = false;
  }
  commit_cv_.notify_all();
}

void PipelineRunner::RunCommitter() {
  std::unique_lock<std::mutex> lock(commit_mu_);
  while (true) {
    commit_cv_.wait(lock, [&] { return committer_stop_ || commit_job_ != nullptr; });
    if (commit_job_ == nullptr) break;  // stopping, nothing handed over
    PassJob* job = commit_job_;
    commit_job_ = nullptr;
    lock.unlock();
    CommitLog(job);
    lock.lock();
    commit_done_ = true;
    lock.unlock();
    // Notified after the unlock: woken under the lock, the pipeline thread ran only to block
    // on commit_mu_ and was woken a second time by the unlock.
    commit_cv_.notify_all();
    doorbell_->Ring();  // the pipeline thread may be taking in records (Pass)
    lock.lock();
  }
}

void PipelineRunner::CommitLog(PassJob* job) {
  const Source* src = job->src;  // topic, partition and log only: fixed while the source exists
  std::vector<log::OffsetCommitEntry> positions = {
      log::OffsetCommitEntry{src->topic, src->partition, {job->next, -1, "", WallClockMs()}}};
  const int64_t start_runq_us = log::TraceEnabled() ? log::TraceThreadRunDelayUs() : 0;
  if (txn_) {
    ++passes_;
    txn_->crash_before_decision = passes_ == exit_before_decision_at_;
    txn_->fail_before_decision =
        options_.test_fail_every_nth_commit > 0 && passes_ % options_.test_fail_every_nth_commit == 0;
    job->status = txn_->CommitPass(kPipelineGroup, positions, job->out);
    while (txn_->crash_before_decision) {
      // Test hook: the pass stays open (its outputs written, no decision) until the process is
      // killed, so tests can look at an open transaction and then at its abort.
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (!job->status.ok()) {
      aborted_->Inc();
      return;
    }
    job->committed_us = WallClockUs();
    const PipelineTxn::Times& t = txn_->last_times();
    job->round_a_us = t.round_a_us;
    job->round_b_us = t.round_b_us;
    job->markers_us = t.markers_us;
    job->partitions = t.partitions;
    if (log::TraceEnabled()) job->commit_runq_us = log::TraceThreadRunDelayUs() - start_runq_us;
    return;
  }
  job->status = writer_->Append(job->out);
  if (!job->status.ok()) return;
  // As in PipelineTxn::CommitPass: the position is made durable only over durable input.
  Status c = src->log->durable_offset() >= job->next ? Status::Ok() : src->log->Flush();
  if (c.ok()) c = logs_->group_offsets()->Commit(kPipelineGroup, positions, log::Durability::kSync);
  job->committed_us = WallClockUs();
  if (!c.ok()) {
    metrics_->GetCounter("eventception_errors_total", "Failures by pipeline stage", {{"stage", "commit"}})->Inc();
  }
}

void PipelineRunner::FinishInFlight(bool* aborted, bool block) {
  *aborted = false;
  if (!inflight_) return;
  {
    std::unique_lock<std::mutex> lock(commit_mu_);
    if (!block && !commit_done_) return;
    commit_cv_.wait(lock, [&] { return commit_done_; });
    commit_done_ = false;
  }
  std::unique_ptr<PassJob> job = std::move(inflight_);
  Source* src = job->src;
  if (read_buffer_.capacity() < job->bytes.capacity()) read_buffer_.swap(job->bytes);
  if (!job->status.ok()) {
    metrics_->GetCounter("eventception_errors_total", "Failures by pipeline stage", {{"stage", "append"}})->Inc();
    // Nothing of the pass is committed; the open pass (if any) was built over its state.
    if (state_ != nullptr) {
      state_->DiscardFrozen();
      state_->Discard();
    }
    src->read = src->position;
    *aborted = true;
    return;
  }
  src->position = job->next;
  const int64_t state_start_us = WallClockUs();
  (void)CommitFrozenState();
  const int64_t end_us = WallClockUs();
  // The outputs were durable and committed (visible to read_committed readers) when the log
  // transaction ended; the state store's checkpoint after it is not part of their latency.
  const int64_t now = job->committed_us / 1000;
  // One observation per run of equal append times (the records of one append, ~1000 per
  // POST): the same counts and sum as one Observe per record, without an atomic
  // read-modify-write pair per record.
  ForEachRunOfEqualTimes(job->append_times, [&](int64_t t, size_t n) {
    latency_->ObserveRepeated(std::max<int64_t>(0, now - t) / 1000.0, n);
  });
  if (!job->append_times.empty()) {
    pass_queue_->Observe(std::max<int64_t>(0, job->start_us - job->append_times.front() * 1000) / 1e6);
  }
  pass_process_->Observe((job->processed_us - job->start_us) / 1e6);
  pass_commit_->Observe((job->committed_us - job->processed_us) / 1e6);
  pass_state_->Observe((end_us - state_start_us) / 1e6);
  processed_counter_->Inc(job->append_times.size());
  Account(job->out, job->stats, job->dead_letter_topic);
  if (log::TraceEnabled()) TracePass(*job, end_us);
  // The records are written: their storage goes back to Process on this thread (processor.h).
  pipeline::RecycleOutputRecords(&job->out);  // leaves it empty, its capacity kept
  if (job->out.capacity() > spare_out_.capacity()) spare_out_.swap(job->out);
  last_pass_end_us_ = end_us;
}

void PipelineRunner::TracePass(const PassJob& job, int64_t end_us) {
  // The records' append times (ms) as runs "time:count": with the pass's commit time they give
  // every record's latency (bench/trace_passes.py).
  const std::vector<int64_t>& append_times = job.append_times;
  size_t read_bytes = job.bytes.size();
  for (const std::string& extra : job.extra_bytes) read_bytes += extra.size();
  std::string appends;
  ForEachRunOfEqualTimes(append_times, [&](int64_t t, size_t n) {
    if (!appends.empty()) appends += ',';
    appends += std::to_string(t) + ':' + std::to_string(n);
  });
  const int64_t oldest = append_times.empty() ? 0 : job.read_us - append_times.front() * 1000;
  // commit_us runs from the end of processing: wait_us of it waited for the pass before.
  // state_us: from the commit's end to the end of this pass's finish (with overlapped passes
  // the finish comes when the next pass is processed, or the pipeline is idle).
  log::TraceLine(
      "pass src=%s-%d start_us=%lld gap_us=%lld records=%zu oldest_age_us=%lld read_us=%lld process_us=%lld "
      "process_cpu_us=%lld process_runq_us=%lld commit_runq_us=%lld "
      "commit_us=%lld wait_us=%lld round_a_us=%lld round_b_us=%lld markers_us=%lld state_us=%lld committed_us=%lld "
      "read_bytes=%zu outputs=%zu partitions=%zu appends=%s",
      job.src->topic.c_str(), job.src->partition, static_cast<long long>(job.read_us),
      static_cast<long long>(last_pass_end_us_ == 0 ? 0 : job.read_us - last_pass_end_us_), append_times.size(),
      static_cast<long long>(oldest), static_cast<long long>(job.start_us - job.read_us),
      static_cast<long long>(job.processed_us - job.start_us), static_cast<long long>(job.process_cpu_us),
      static_cast<long long>(job.process_runq_us), static_cast<long long>(job.commit_runq_us),
      static_cast<long long>(job.committed_us - job.processed_us), static_cast<long long>(job.wait_us),
      static_cast<long long>(job.round_a_us), static_cast<long long>(job.round_b_us),
      static_cast<long long>(job.markers_us), static_cast<long long>(end_us - job.committed_us),
      static_cast<long long>(job.committed_us), read_bytes, job.out.size(), job.partitions, appends.c_str());
}

Status PipelineRunner::CommitFrozenState() {
  if (state_ == nullptr || !state_->has_frozen()) return Status::Ok();
  std::shared_ptr<log::PartitionLog> state_log = logs_->GetPartition(cdc::kStateTopic, 0);
  // Only this runner writes the state topic and no pass is in flight now, so its end (after
  // the decided pass's marker) is where the store stands.
  Status s = state_->CommitFrozen(cdc::kStateCheckpoint, state_log != nullptr ? state_log->log_end_offset() : 0);
  if (!s.ok()) {
    metrics_->GetCounter("eventception_errors_total", "Failures by pipeline stage", {{"stage", "state"}})->Inc();
  }
  return s;
}

Status PipelineRunner::CommitStateAfterAppend() {
  if (state_ == nullptr) return Status::Ok();
  std::shared_ptr<log::PartitionLog> state_log = logs_->GetPartition(cdc::kStateTopic, 0);
  if (state_log == nullptr) return Status::Ok();
  // Only this runner writes the state topic, so its end (after this pass's marker) is where the
  // store stands. A failure keeps the overlay: the next pass's commit writes it again.
  Status s = state_->Commit(cdc::kStateCheckpoint, state_log->log_end_offset());
  if (!s.ok()) {
    metrics_->GetCounter("eventception_errors_total", "Failures by pipeline stage", {{"stage", "state"}})->Inc();
  }
  return Status::Ok();
}

void PipelineRunner::Account(const std::vector<pipeline::OutputRecord>& out, const pipeline::ProcessStats& stats,
                             const std::string& dlq) {
  matched_->Inc(stats.matched);
  unmatched_->Inc(stats.unmatched);
  for (const pipeline::OutputRecord& r : out) {
    if (r.topic != dlq) continue;
    const std::string stage(r.header("eventception-stage").value_or("unknown"));
    metrics_->GetCounter("eventception_errors_total", "Failures by pipeline stage", {{"stage", stage}})->Inc();
  }
}

Result<size_t> PipelineRunner::ProcessExchange(const json::Value& exchange) {
  std::lock_guard<std::mutex> pass(pass_mu_);
  bool aborted = false;
  FinishInFlight(&aborted);  // the pass in flight is committed (or aborted) first
  Arena arena;
  std::vector<pipeline::OutputRecord> out;
  pipeline::ProcessStats stats;
  processor_->Process(exchange, &arena, &out, &stats);
  const size_t written = out.size();  // without the state records
  if (state_ != nullptr) cdc::StateRecords(state_->Pending(), &out);
  if (Status s = writer_->Append(out); !s.ok()) {
    if (state_ != nullptr) state_->Discard();
    return s;
  }
  (void)CommitStateAfterAppend();
  Account(out, stats, processor_->options().dead_letter_topic);
  return written;
}

Result<size_t> PipelineRunner::ProcessRaw(std::string_view text, std::string_view format) {
  std::lock_guard<std::mutex> pass(pass_mu_);
  bool aborted = false;
  FinishInFlight(&aborted);  // the pass in flight is committed (or aborted) first
  Arena arena;
  std::vector<json::Value> exchanges;
  pipeline::DecodeOptions dopts;
  dopts.max_record_bytes = options_.max_record_bytes;
  dopts.max_depth = options_.max_json_depth;
  dopts.redact = processor_->specs().redact_paths();
  EC_RETURN_IF_ERROR(pipeline::DecodeBytes(text, format.empty() ? "detect" : format, dopts, &arena, &exchanges));
  std::vector<pipeline::OutputRecord> out;
  pipeline::ProcessStats stats;
  for (const json::Value& x : exchanges) processor_->Process(x, &arena, &out, &stats);
  const size_t written = out.size();  // without the state records
  if (state_ != nullptr) cdc::StateRecords(state_->Pending(), &out);
  if (Status s = writer_->Append(out); !s.ok()) {
    if (state_ != nullptr) state_->Discard();
    return s;
  }
  (void)CommitStateAfterAppend();
  Account(out, stats, processor_->options().dead_letter_topic);
  return written;
}

}  // namespace ec::server
