#include "log/flusher.h"

#include <chrono>
#include <vector>

#include "log/partition_log.h"

namespace ec::log {

Flusher::Flusher(int64_t interval_ms) : interval_ms_(interval_ms), thread_([this] { Run(); }) {}

Flusher::~Flusher() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
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
  idle_cv_.wait(l, [&] { return syncing_ != log; });
}

uint64_t Flusher::sync_calls() const {
  std::lock_guard l(mu_);
  return sync_calls_;
}

void Flusher::Run() {
  using Clock = std::chrono::steady_clock;
  auto next_periodic = Clock::now() + std::chrono::milliseconds(interval_ms_ > 0 ? interval_ms_ : 1000);
  std::unique_lock l(mu_);
  while (true) {
    // Wait for urgent work or the periodic deadline. While we sleep or sync, more kSync appends
    // pile up behind the next fdatasync: that is the group commit.
    cv_.wait_until(l, next_periodic, [&] { return stop_ || !urgent_.empty(); });
    bool periodic = interval_ms_ > 0 && Clock::now() >= next_periodic;
    if (Clock::now() >= next_periodic) {
      next_periodic = Clock::now() + std::chrono::milliseconds(interval_ms_ > 0 ? interval_ms_ : 1000);
    }
    pass_.swap(urgent_);
    if (periodic || stop_) {
      pass_.insert(dirty_.begin(), dirty_.end());
      dirty_.clear();
    }
    while (!pass_.empty()) {
      // Taken one at a time under mu_, so a concurrent Forget() removes it from pass_ first.
      PartitionLog* log = *pass_.begin();
      pass_.erase(pass_.begin());
      syncing_ = log;
      ++sync_calls_;  // counted when issued, so it is exact once the appends it completes return
      l.unlock();
      Status s = log->Flush();  // failures are delivered to the waiting appends
      (void)s;
      l.lock();
      syncing_ = nullptr;
      idle_cv_.notify_all();
    }
    if (stop_ && urgent_.empty()) break;
  }
}

}  // namespace ec::log
