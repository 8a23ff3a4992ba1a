#pragma once
// The webhook dispatcher: one worker thread per subscription reads its topics from the log,
// keeps a bounded window of events in RAM, and sends its deliveries asynchronously from its own
// event loop (woken by the log's append notification, never polling). Ordering is per key (per topic partition): only the oldest undelivered event of a key
// is ever in flight, so a failing key waits alone while other keys go on. A position is
// committed (durably) only when every event before it was delivered or dead-lettered, so a
// restart, even after kill -9, redelivers rather than loses (at-least-once; receivers
// de-duplicate on webhook-id, the CloudEvent id).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "delivery/attempt_log.h"
#include "delivery/event_log.h"
#include "delivery/http_client.h"
#include "delivery/retry_policy.h"
#include "delivery/ssrf_guard.h"
#include "delivery/subscription.h"
#include "delivery/subscription_store.h"
#include "json/value.h"

namespace ec::delivery {

inline constexpr std::string_view kDeliveryDeadLetterTopic = "eventception.dlq";

struct DispatcherOptions {
  std::filesystem::path dir;                  // where the store lives (<data-dir>/delivery)
  RetryPolicy retry;
  size_t sender_threads = 4;                  // unused: each worker sends from its own loop
  size_t max_buffered_per_stream = 1024;      // events of one topic partition held in RAM
  size_t attempts_kept = 200;                 // delivery log ring per subscription
  size_t response_excerpt_bytes = 256;
  size_t read_batch = 256;                    // records per log read
  std::chrono::milliseconds commit_interval{100};
  // Coalescing: after a read of new records, records appended within this time wait in the log
  // and are read together when one hold timer fires, so a stream of appends costs a wake-up
  // per batch instead of one per event (the append notification, the receiver's, the
  // response's). Held only when a hold should gather several: after a read of 2 to 31
  // records, or of one while records come at least two per coalesce_max. A record that
  // arrives when none was read recently goes at once; a key's next event and retries are never
  // held. 0: every record is read and sent at once. At most the added latency of one event.
  std::chrono::microseconds coalesce_max{250};
  std::chrono::milliseconds topic_scan_interval{1000};
  std::vector<Cidr> allow;                    // --webhook-allow: exceptions to the SSRF guard
  std::string tls_ca_file;                    // https: CA PEM for every subscription that
                                              // names none; empty: the system trust store
  std::string dead_letter_topic{kDeliveryDeadLetterTopic};
  std::function<int64_t()> clock_ms;          // wall clock (ms since epoch); default: system
  std::function<double()> random;             // [0, 1) for jitter; default: a PRNG
};

// A subscription's state as reported by the API.
struct StreamPosition {
  std::string topic;
  int32_t partition = 0;
  int64_t committed = 0;  // next offset to deliver, durable
  int64_t end = 0;        // log end offset (lag = end - committed)
};
struct SubscriptionStatus {
  std::vector<StreamPosition> positions;
  uint64_t delivered = 0, failed_attempts = 0, dead_lettered = 0, filtered_out = 0;
  int in_flight = 0;
  size_t buffered = 0;  // events held in RAM (bounded by max_buffered_per_stream per stream)
};

class Dispatcher {
 public:
  // `log` must outlive the Dispatcher.
  Dispatcher(EventLog* log, DispatcherOptions options);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Loads the stored subscriptions and starts their workers. kIoError/kCorruption from the store.
  Status Start();
  // Stops every worker after its in-flight requests finish, saving positions.
  void Stop();

  // Creates from a POST body; the answer includes the secret (the only time it is shown).
  Result<std::string> CreateJson(const json::Value& body);
  // Adds a subscription (id assigned when empty). Errors: kInvalidArgument (url, filter),
  // kAlreadyExists (id taken).
  Result<Subscription> Create(Subscription sub);
  std::vector<Subscription> List() const;
  Result<Subscription> Get(const std::string& id) const;
  // Applies a PATCH body; the worker restarts from its committed positions.
  Result<Subscription> Update(const std::string& id, const json::Value& patch);
  Status Delete(const std::string& id);
  // Pause/resume; resuming also clears a disabled state.
  Status SetPaused(const std::string& id, bool paused);
  // Moves every position of `id` (or those of `topic` when given) to `offset`, or to the first
  // offset at or after `time_ms`; events after it are delivered again.
  Status Replay(const std::string& id, std::optional<int64_t> offset,
                std::optional<int64_t> time_ms, const std::string& topic);
  Result<std::vector<AttemptRecord>> Attempts(const std::string& id, size_t limit) const;
  Result<SubscriptionStatus> GetStatus(const std::string& id) const;

  const DispatcherOptions& options() const { return options_; }

 private:
  class Worker;
  Status SaveLocked();
  Status StartWorkerLocked(const Subscription& sub);
  void OnDisabled(const std::string& id, const std::string& reason);

  EventLog* log_;
  DispatcherOptions options_;
  std::unique_ptr<SubscriptionStore> store_;
  HttpClientOptions http_options_;  // each worker runs its own client on its own loop
  mutable std::mutex mu_;
  std::vector<Subscription> subs_;
  std::map<std::string, std::unique_ptr<Worker>> workers_;
  bool started_ = false;
};

}  // namespace ec::delivery
