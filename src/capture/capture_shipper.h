#pragma once
// The bounded hand-off between the capture proxy and wherever captures go. The proxy offers
// each capture without ever waiting; one shipper thread drains batches into a CaptureSink.
// When the queue is full the capture is dropped and counted: forwarding is never blocked.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "base/status.h"

namespace ec::capture {

// Receives batches of captures (one JSON exchange per string, no newline) on the shipper
// thread. kUnavailable/kIoError/kTimeout mean "retry later"; any other error drops the batch.
class CaptureSink {
 public:
  virtual ~CaptureSink() = default;
  virtual Status Ship(std::span<const std::string> lines) = 0;
};

// A sink that calls a function (the in-process `--local` target that `serve` wires).
std::unique_ptr<CaptureSink> MakeCallbackSink(
    std::function<Status(std::span<const std::string>)> fn);

struct ShipperOptions {
  size_t max_queue_items = 10000;
  size_t max_queue_bytes = 64u << 20;
  size_t max_batch_items = 500;
  size_t max_batch_bytes = 4u << 20;
  int max_attempts = 5;            // per batch, then it is dropped and counted
  int initial_backoff_ms = 100;    // doubled per retry
  int max_backoff_ms = 5000;
  int stop_flush_timeout_ms = 2000;  // Stop() gives the queue this long to drain
  // Offer() waits for room instead of dropping (the syslog listener: TCP peers then feel
  // back-pressure). Never set for the proxy, whose forwarding must not wait.
  bool wait_when_full = false;
  // After the first capture of a batch, the shipper waits up to this long for more before
  // shipping (fewer, larger batches; no wake-up per capture). 0 ships at once.
  int linger_ms = 5;
};

struct ShipperStats {
  uint64_t offered = 0;
  uint64_t shipped = 0;
  uint64_t dropped_queue_full = 0;  // the queue was full when offered
  uint64_t dropped_failed = 0;      // the sink refused them or retries ran out
  uint64_t ship_errors = 0;         // failed Ship() calls, retried or not
  uint64_t queued = 0;              // waiting right now
};

class CaptureShipper {
 public:
  // Starts the shipper thread.
  CaptureShipper(std::unique_ptr<CaptureSink> sink, ShipperOptions options);
  ~CaptureShipper();  // Stop()
  CaptureShipper(const CaptureShipper&) = delete;
  CaptureShipper& operator=(const CaptureShipper&) = delete;

  // Queues one capture. Never waits for the sink; returns false (and counts a drop) when full
  // (with wait_when_full: waits for room, and drops only once stopping).
  bool Offer(std::string line);
  // Ships what is queued (bounded by stop_flush_timeout_ms), then joins the thread.
  void Stop();
  ShipperStats stats() const;

 private:
  void Run();

  std::unique_ptr<CaptureSink> sink_;
  const ShipperOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable room_cv_;  // signalled when the shipper takes a batch
  std::deque<std::string> queue_;  // guarded by mu_
  size_t queue_bytes_ = 0;         // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  bool consumer_waiting_ = false;  // the shipper sleeps until notified; guarded by mu_
  std::atomic<uint64_t> offered_{0}, shipped_{0}, dropped_full_{0}, dropped_failed_{0},
      ship_errors_{0};
  std::thread thread_;
};

}  // namespace ec::capture
