#include "log/flusher.h"

#include <pthread.h>

#include <chrono>

#include "log/partition_log.h"
#include "log/trace.h"

namespace ec::log {

Flusher::Flusher(int64_t interval_ms, int sync_threads) : interval_ms_(interval_ms) {
  if (sync_threads < 1) sync_threads = 1;
  for (int i = 0; i < sync_threads; ++i) {
    threads_.emplace_back([this, i] {
      pthread_setname_np(pthread_self(), "ec-log-sync");  // for top/perf and the benchmark
      Run(i == 0);
    });
  }
}

Flusher::~Flusher() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void Flusher::RequestSync(PartitionLog* log) {
  {
    std::lock_guard l(mu_);
    urgent_.insert(log);
  }
  cv_.notify_one();
}

void Flusher::RequestRelease(PartitionLog* log) {
  {
    std::lock_guard l(mu_);
    if (!release_.insert(log).second) return;  // already queued
  }
  cv_.notify_one();
}

void Flusher::RequestPreallocate(PartitionLog* log) {
  {
    std::lock_guard l(mu_);
    if (!preallocate_.insert(log).second) return;  // already queued
  }
  cv_.notify_one();
}

void Flusher::MarkDirty(PartitionLog* log, int64_t flush_ms) {
  int64_t ms = flush_ms >= 0 ? flush_ms : interval_ms_;
  if (ms < 0 || (ms == 0 && flush_ms < 0)) ms = -1;  // interval <= 0: only at stop
  if (ms > (int64_t{1} << 40)) ms = -1;  // Kafka's default flush.ms is Long.MAX_VALUE: never
  bool wake = false;
  {
    std::lock_guard l(mu_);
    // The deadline counts from the first unsynced write: keep an existing earlier one.
    auto deadline = ms < 0 ? Clock::time_point::max() : Clock::now() + std::chrono::milliseconds(ms);
    auto [it, inserted] = dirty_.emplace(log, deadline);
    if (!inserted && deadline < it->second) it->second = deadline;
    if (deadline < next_due_ && !rewake_) wake = rewake_ = true;
  }
  if (wake) cv_.notify_all();  // the periodic owner may sleep past the new deadline
}

Flusher::Clock::time_point Flusher::CollectDueLocked(Clock::time_point now) {
  Clock::time_point next = Clock::time_point::max();
  for (auto it = dirty_.begin(); it != dirty_.end();) {
    if (it->second <= now) {
      pass_.insert(it->first);
      it = dirty_.erase(it);
    } else {
      next = std::min(next, it->second);
      ++it;
    }
  }
  return next;
}

void Flusher::Forget(PartitionLog* log) {
  std::unique_lock l(mu_);
  urgent_.erase(log);
  release_.erase(log);
  preallocate_.erase(log);
  dirty_.erase(log);
  pass_.erase(log);
  idle_cv_.wait(l, [&] { return !syncing_.count(log); });
}

uint64_t Flusher::sync_calls() const {
  std::lock_guard l(mu_);
  return sync_calls_;
}

void Flusher::Run(bool periodic_owner) {
  std::unique_lock l(mu_);
  while (true) {
    // Wait for urgent work (or, for the thread that owns it, the next flush deadline). Appends
    // arriving while the syncs run pile up behind the next one: that is the group commit.
    auto ready = [&] {
      return stop_ || !urgent_.empty() || !pass_.empty() || !preallocate_.empty() || !release_.empty();
    };
    if (periodic_owner) {
      next_due_ = CollectDueLocked(Clock::now());
      rewake_ = false;
      auto woken = [&] { return ready() || rewake_; };
      if (next_due_ == Clock::time_point::max()) {
        cv_.wait(l, woken);
      } else {
        cv_.wait_until(l, next_due_, woken);
      }
      next_due_ = CollectDueLocked(Clock::now());
      rewake_ = false;
    } else {
      cv_.wait(l, ready);
    }
    if (stop_) {
      for (auto& [log, due] : dirty_) pass_.insert(log);
      dirty_.clear();
      release_.clear();
      preallocate_.clear();
    }
    if (urgent_.empty() && pass_.empty() && preallocate_.empty() && release_.empty()) {
      if (stop_) break;
      continue;
    }
    // Taken one at a time under mu_, so a concurrent Forget() removes it from the sets first.
    // Syncs come first (appends wait for them); then preallocation (it keeps later syncs
    // cheap); a release is only advice to the OS.
    const bool sync = !urgent_.empty() || !pass_.empty();
    const bool preallocate = !sync && !preallocate_.empty();
    std::set<PartitionLog*>& from = !urgent_.empty() ? urgent_
                                    : !pass_.empty() ? pass_
                                    : preallocate  ? preallocate_
                                                   : release_;
    PartitionLog* log = *from.begin();
    from.erase(from.begin());
    if (sync) {
      pass_.erase(log);
      ++sync_calls_;  // counted when issued, so it is exact once the appends it completes return
    }
    ++syncing_[log];
    if (!urgent_.empty() || !pass_.empty() || !preallocate_.empty() || !release_.empty())
      cv_.notify_one();  // wake a peer
    l.unlock();
    const int64_t trace_start_us = TraceEnabled() ? TraceNowUs() : 0;
    if (preallocate) {
      (void)log->Preallocate();  // on failure appends simply grow the file
    } else if (!sync) {
      log->ReleaseCache();
    } else {
      Status s = log->Flush();  // failures are delivered to the waiting appends
      (void)s;
    }
    if (trace_start_us != 0) {
      TraceLine("%s tp=%s-%d dur_us=%lld", preallocate ? "zero" : !sync ? "release" : "sync", log->topic().c_str(),
                log->partition(), static_cast<long long>(TraceNowUs() - trace_start_us));
    }
    l.lock();
    if (--syncing_[log] == 0) syncing_.erase(log);
    idle_cv_.notify_all();
  }
}

}  // namespace ec::log
