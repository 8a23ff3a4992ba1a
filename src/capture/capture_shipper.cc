#include "capture/capture_shipper.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace ec::capture {
namespace {

class CallbackSink : public CaptureSink {
 public:
  explicit CallbackSink(std::function<Status(std::span<const std::string>)> fn)
      : fn_(std::move(fn)) {}
  Status Ship(std::span<const std::string> lines) override { return fn_(lines); }

 private:
  std::function<Status(std::span<const std::string>)> fn_;
};

bool Retryable(const Status& s) {
  return s.code() == ErrorCode::kUnavailable || s.code() == ErrorCode::kIoError ||
         s.code() == ErrorCode::kTimeout;
}

}  // namespace

std::unique_ptr<CaptureSink> MakeCallbackSink(
    std::function<Status(std::span<const std::string>)> fn) {
  return std::make_unique<CallbackSink>(std::move(fn));
}

CaptureShipper::CaptureShipper(std::unique_ptr<CaptureSink> sink, ShipperOptions options)
    : sink_(std::move(sink)), options_(options) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ec-shipper");  // for top/perf and the benchmark
    Run();
  });
}

CaptureShipper::~CaptureShipper() { Stop(); }

bool CaptureShipper::Offer(std::string line) {
  offered_.fetch_add(1, std::memory_order_relaxed);
  bool notify = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (options_.wait_when_full) {
      room_cv_.wait(lock, [&] {
        return stopping_ || queue_.empty() ||
               (queue_.size() < options_.max_queue_items &&
                queue_bytes_ + line.size() <= options_.max_queue_bytes);
      });
    }
    if (stopping_ || queue_.size() >= options_.max_queue_items ||
        queue_bytes_ + line.size() > options_.max_queue_bytes) {
      dropped_full_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_bytes_ += line.size();
    queue_.push_back(std::move(line));
    // Wake the shipper only when it sleeps waiting for work (lingering it wakes by itself).
    notify = consumer_waiting_ || queue_.size() >= options_.max_batch_items;
  }
  if (notify) cv_.notify_one();
  return true;
}

void CaptureShipper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  room_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ShipperStats CaptureShipper::stats() const {
  ShipperStats s;
  s.offered = offered_.load();
  s.shipped = shipped_.load();
  s.dropped_queue_full = dropped_full_.load();
  s.dropped_failed = dropped_failed_.load();
  s.ship_errors = ship_errors_.load();
  std::lock_guard<std::mutex> lock(mu_);
  s.queued = queue_.size();
  return s;
}

void CaptureShipper::Run() {
  using Clock = std::chrono::steady_clock;
  std::vector<std::string> batch;
  Clock::time_point stop_deadline = Clock::time_point::max();
  for (;;) {
    batch.clear();
    bool stopping;
    {
      std::unique_lock<std::mutex> lock(mu_);
      consumer_waiting_ = true;
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      consumer_waiting_ = false;
      if (!stopping_ && options_.linger_ms > 0 && queue_.size() < options_.max_batch_items) {
        cv_.wait_for(lock, std::chrono::milliseconds(options_.linger_ms),
                     [&] { return stopping_ || queue_.size() >= options_.max_batch_items; });
      }
      stopping = stopping_;
      if (stopping && stop_deadline == Clock::time_point::max()) {
        stop_deadline = Clock::now() + std::chrono::milliseconds(options_.stop_flush_timeout_ms);
      }
      if (queue_.empty()) return;  // stopping and drained
      if (stopping && Clock::now() >= stop_deadline) {
        dropped_failed_.fetch_add(queue_.size());
        queue_.clear();
        queue_bytes_ = 0;
        return;
      }
      size_t bytes = 0;
      while (!queue_.empty() && batch.size() < options_.max_batch_items &&
             (batch.empty() || bytes + queue_.front().size() <= options_.max_batch_bytes)) {
        bytes += queue_.front().size();
        queue_bytes_ -= queue_.front().size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (options_.wait_when_full) room_cv_.notify_all();
    int backoff_ms = options_.initial_backoff_ms;
    for (int attempt = 1;; ++attempt) {
      Status s = sink_->Ship(batch);
      if (s.ok()) {
        shipped_.fetch_add(batch.size());
        break;
      }
      ship_errors_.fetch_add(1);
      bool give_up = !Retryable(s) || attempt >= options_.max_attempts;
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_ && Clock::now() >= stop_deadline) give_up = true;
      if (give_up) {
        dropped_failed_.fetch_add(batch.size());
        break;
      }
      // Sleep, but wake early for Stop() so shutdown stays bounded.
      cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_; });
      if (stopping_ && stop_deadline == Clock::time_point::max()) {
        stop_deadline = Clock::now() + std::chrono::milliseconds(options_.stop_flush_timeout_ms);
      }
      backoff_ms = std::min(backoff_ms * 2, options_.max_backoff_ms);
    }
  }
}

}  // namespace ec::capture
