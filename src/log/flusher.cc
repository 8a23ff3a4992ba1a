#include "log/flusher.h"

#include <chrono>

#include "log/partition_log.h"

namespace ec::log {

Flusher::Flusher(int64_t interval_ms, int sync_threads) : interval_ms_(interval_ms) {
  if (sync_threads < 1) sync_threads = 1;
  for (int i = 0; i < sync_threads; ++i) threads_.emplace_back([this, i] { Run(i == 0); });
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

void Flusher::MarkDirty(PartitionLog* log) {
  std::lock_guard l(mu_);
  dirty_.insert(log);
}

void Flusher::Forget(PartitionLog* log) {
  std::unique_lock l(mu_);
  urgent_.erase(log);
  dirty_.erase(log);
  pass_.erase(log);
  idle_cv_.wait(l, [&] { return !syncing_.count(log); });
}

uint64_t Flusher::sync_calls() const {
  std::lock_guard l(mu_);
  return sync_calls_;
}

void Flusher::Run(bool periodic_owner) {
  using Clock = std::chrono::steady_clock;
  const auto period = std::chrono::milliseconds(interval_ms_ > 0 ? interval_ms_ : 1000);
  auto next_periodic = Clock::now() + period;
  std::unique_lock l(mu_);
  while (true) {
    // Wait for urgent work (or, for the thread that owns it, the periodic deadline). Appends
    // arriving while the syncs run pile up behind the next one: that is the group commit.
    auto ready = [&] { return stop_ || !urgent_.empty() || !pass_.empty(); };
    if (periodic_owner) {
      cv_.wait_until(l, next_periodic, ready);
      if (interval_ms_ > 0 && Clock::now() >= next_periodic) {
        pass_.insert(dirty_.begin(), dirty_.end());
        dirty_.clear();
        next_periodic = Clock::now() + period;
      }
    } else {
      cv_.wait(l, ready);
    }
    if (stop_) {
      pass_.insert(dirty_.begin(), dirty_.end());
      dirty_.clear();
    }
    if (urgent_.empty() && pass_.empty()) {
      if (stop_) break;
      continue;
    }
    // Taken one at a time under mu_, so a concurrent Forget() removes it from the sets first.
    std::set<PartitionLog*>& from = urgent_.empty() ? pass_ : urgent_;
    PartitionLog* log = *from.begin();
    from.erase(from.begin());
    pass_.erase(log);
    ++syncing_[log];
    ++sync_calls_;  // counted when issued, so it is exact once the appends it completes return
    if (!urgent_.empty() || !pass_.empty()) cv_.notify_one();  // more work: wake a peer
    l.unlock();
    Status s = log->Flush();  // failures are delivered to the waiting appends
    (void)s;
    l.lock();
    if (--syncing_[log] == 0) syncing_.erase(log);
    idle_cv_.notify_all();
  }
}

}  // namespace ec::log
