#include "rocks/rate_limiter.h"

#include <rocksdb/env.h>
#include <rocksdb/rate_limiter.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace ec::rocks {
namespace {

using Clock = std::chrono::steady_clock;

class SteppedRateLimiter final : public rocksdb::RateLimiter {
 public:
  SteppedRateLimiter(int64_t bytes_per_second, int64_t refill_period_us)
      : rocksdb::RateLimiter(Mode::kWritesOnly), period_us_(std::max<int64_t>(refill_period_us, 1)), last_(Clock::now()) {
    std::lock_guard lock(mu_);
    SetRateLocked(bytes_per_second);
    available_ = static_cast<double>(burst_);
  }

  void SetBytesPerSecond(int64_t bytes_per_second) override {
    std::lock_guard lock(mu_);
    Refill();
    SetRateLocked(bytes_per_second);
    cv_.notify_all();  // the waiters' deadlines were computed at the old rate
  }

  using rocksdb::RateLimiter::Request;
  void Request(const int64_t bytes, const rocksdb::Env::IOPriority pri, rocksdb::Statistics* /*stats*/) override {
    std::unique_lock lock(mu_);
    const int64_t want = std::clamp<int64_t>(bytes, 0, burst_);
    const bool urgent = pri >= rocksdb::Env::IO_HIGH;
    if (urgent) ++urgent_waiting_;
    for (;;) {
      Refill();
      if ((urgent || urgent_waiting_ == 0) && available_ >= static_cast<double>(want)) break;
      // Until the bucket holds `want` at this rate; a compaction behind a waiting flush checks
      // again a period later. Never a wait without a deadline (the header says why).
      const double missing = std::max(static_cast<double>(want) - available_, 0.0);
      const int64_t wait_us = missing > 0 ? static_cast<int64_t>(missing * 1e6 / static_cast<double>(rate_)) + 1 : period_us_;
      cv_.wait_for(lock, std::chrono::microseconds(std::clamp<int64_t>(wait_us, 50, 1'000'000)));
    }
    available_ -= static_cast<double>(want);
    if (urgent && --urgent_waiting_ == 0) cv_.notify_all();  // compactions held back may go
    const size_t slot = std::min<size_t>(static_cast<size_t>(pri), rocksdb::Env::IO_TOTAL - 1);
    bytes_through_[slot] += want;
    requests_[slot] += 1;
  }

  int64_t GetSingleBurstBytes() const override {
    std::lock_guard lock(mu_);
    return burst_;
  }
  int64_t GetTotalBytesThrough(const rocksdb::Env::IOPriority pri) const override {
    std::lock_guard lock(mu_);
    return Sum(bytes_through_, pri);
  }
  int64_t GetTotalRequests(const rocksdb::Env::IOPriority pri) const override {
    std::lock_guard lock(mu_);
    return Sum(requests_, pri);
  }
  int64_t GetBytesPerSecond() const override {
    std::lock_guard lock(mu_);
    return rate_;
  }

 private:
  using Totals = std::array<int64_t, rocksdb::Env::IO_TOTAL>;

  static int64_t Sum(const Totals& totals, rocksdb::Env::IOPriority pri) {
    if (pri < rocksdb::Env::IO_TOTAL) return totals[static_cast<size_t>(pri)];
    int64_t sum = 0;
    for (int64_t v : totals) sum += v;
    return sum;
  }

  void SetRateLocked(int64_t bytes_per_second) {
    rate_ = std::max<int64_t>(bytes_per_second, 1);
    burst_ = std::max<int64_t>(rate_ * period_us_ / 1'000'000, 1);
    available_ = std::min(available_, static_cast<double>(burst_));
  }

  // Adds what the time since the last call is worth; a double keeps the fractions a slow rate
  // or frequent calls would otherwise lose.
  void Refill() {
    const Clock::time_point now = Clock::now();
    const double seconds = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    available_ = std::min(available_ + seconds * static_cast<double>(rate_), static_cast<double>(burst_));
  }

  const int64_t period_us_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t rate_ = 1;
  int64_t burst_ = 1;
  double available_ = 0;
  Clock::time_point last_;
  int urgent_waiting_ = 0;
  Totals bytes_through_{};
  Totals requests_{};
};

}  // namespace

std::shared_ptr<rocksdb::RateLimiter> NewSteppedRateLimiter(int64_t bytes_per_second, int64_t refill_period_us) {
  return std::make_shared<SteppedRateLimiter>(bytes_per_second, refill_period_us);
}

}  // namespace ec::rocks
