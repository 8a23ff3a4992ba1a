#pragma once
// The Kafka-protocol broker: one node serving the LogManager's topics to any Kafka client.
// Keeps Boost.Asio out of this header (the implementation lives behind a pointer).
//
// Usage: Server s(options, log_manager); s.Start(); ... s.bound_port(); s.Stop();
// Threading: Start/Stop from one thread; every other method is thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace ec::log {
class LogManager;
class RecordSet;
}  // namespace ec::log

namespace ec::kafka {

struct ListenerAddress {
  std::string host = "127.0.0.1";
  uint16_t port = 9092;  // 0 = any free port (bound_port() tells which)
};

// Parses "host:port" (IPv6 as "[::1]:9092"). Errors name the text and the expected form.
Result<ListenerAddress> ParseListenerAddress(const std::string& text);

// One record handed to (or returned by) a produce interceptor.
struct InterceptedRecord {
  std::optional<std::string> key;    // nullopt = null
  std::optional<std::string> value;  // nullopt = null (tombstone)
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  int64_t timestamp_ms = 0;
};

// What an interceptor decides for one produced batch.
struct InterceptDecision {
  // Non-zero: reject the whole partition's produce with this Kafka error code (e.g. 87
  // INVALID_RECORD); `error_message` is returned to clients that read it (Produce v8+).
  int16_t kafka_error = 0;
  std::string error_message;
  // Appended instead of the produced records (as one uncompressed batch, with the producer's
  // acks). May be empty: then nothing is written and the produce succeeds.
  std::vector<InterceptedRecord> records;
};

// Called on the broker's I/O thread for every batch produced to a matching topic, after the
// batch passed CRC and format validation. Must be thread-safe; should be quick.
using InterceptFn = std::function<InterceptDecision(const std::string& topic, int32_t partition,
                                                    const std::vector<InterceptedRecord>& records)>;

struct ProduceInterceptor {
  // Topic name globs ('*' matches any run of characters), e.g. {"api-logs", "api-logs.*"}.
  std::vector<std::string> topic_patterns;
  InterceptFn fn;
};

struct ServerOptions {
  std::vector<ListenerAddress> listeners = {ListenerAddress{}};
  // Address clients are told to connect to (Metadata, FindCoordinator). Empty host = the first
  // listener's host; port 0 = the first listener's bound port.
  std::string advertised_host;
  uint16_t advertised_port = 0;
  int32_t node_id = 0;
  std::string cluster_id = "eventception";
  int io_threads = 1;
  // Largest request frame accepted; a larger size prefix closes that connection.
  int32_t max_frame_bytes = 100 * 1024 * 1024;
  // A connection keeps its request buffer between requests (no allocation per request) while
  // it is at most this large; a larger one is freed after its request.
  size_t frame_buffer_keep_bytes = 2 * 1024 * 1024;
  // Requests read ahead of their responses per connection (pipelining window).
  int max_inflight_per_connection = 100;
  int max_connections = 20000;
  bool auto_create_topics = true;
  int32_t default_partitions = 1;
  // Consumer groups (Kafka's group.min/max.session.timeout.ms, group.initial.rebalance.delay.ms).
  int32_t group_min_session_timeout_ms = 1000;
  int32_t group_max_session_timeout_ms = 1800000;
  int32_t group_initial_rebalance_delay_ms = 0;
  // Upper bound of Fetch max_wait_ms honoured (long-poll).
  int32_t max_fetch_wait_ms = 30000;
  std::vector<ProduceInterceptor> interceptors;
};

class Server {
 public:
  // `logs` is not owned and must outlive the server.
  Server(ServerOptions options, log::LogManager* logs);
  ~Server();  // Stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener and starts the I/O threads. Errors: Unavailable (address in use or
  // not bindable, naming it), InvalidArgument (bad option).
  Status Start();
  // Closes listeners and connections, cancels waits, joins threads. Idempotent.
  void Stop();

  // Port of listener `i` after Start() (the real one when configured as 0).
  uint16_t bound_port(size_t i = 0) const;
  // Connections currently open.
  size_t connection_count() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ec::kafka
