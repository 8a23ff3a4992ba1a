#pragma once
// The capture proxy: an HTTP/1.1 reverse proxy that forwards every byte unchanged, in both
// directions, and records each exchange it sees (docs/gateways/capture-proxy.md).
//
// Each client connection gets its own upstream connection, so keep-alive, pipelining,
// chunked bodies, 100-continue and protocol upgrades (WebSocket) pass through as they are;
// bodies stream (a fixed buffer per direction, never a whole body). Each I/O thread runs its
// own epoll loop over its connections (no locks, no per-request timers); bytes are forwarded
// first and then shown to the recorder (ExchangeTracker), which hands each exchange to a
// callback that must not block (normally CaptureShipper::Offer). The only bytes the proxy ever writes itself are a
// "502 Bad Gateway" when the upstream cannot be reached.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "capture/captured_exchange.h"

namespace ec::capture {

struct ProxyOptions {
  std::string listen = "127.0.0.1:0";  // HOST:PORT; port 0 picks a free port
  std::string upstream;                // http://HOST:PORT (no path: requests go as sent)
  size_t max_body_bytes = 1 << 20;     // captured per body; forwarding is never limited
  size_t max_header_bytes = 64 << 10;  // longer headers are forwarded but not recorded
  size_t io_buffer_bytes = 64 << 10;   // per direction per connection
  size_t max_connections = 10000;      // more are accepted and closed at once
  int threads = 2;                     // I/O threads (each owns the connections it accepts)
  int connect_timeout_ms = 5000;       // to the upstream, then 502
};

struct ProxyStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_active = 0;
  uint64_t connections_refused = 0;       // over max_connections
  uint64_t accept_pauses = 0;             // accept() out of descriptors/memory: paused 100 ms
  uint64_t upstream_connect_failures = 0;  // answered 502
  uint64_t exchanges = 0;                  // handed to the capture callback
  uint64_t untracked_connections = 0;      // bytes that were not HTTP/1.1: forwarded, not recorded
  uint64_t tunnels = 0;                    // upgrades / CONNECT passed through
  uint64_t bytes_client_to_upstream = 0;
  uint64_t bytes_upstream_to_client = 0;
};

class CaptureProxy {
 public:
  // Called on an I/O thread for every exchange; must return quickly and never block.
  using CaptureFn = std::function<void(CapturedExchange&&)>;

  // Binds, resolves the upstream and starts the I/O threads. Errors: kInvalidArgument for a
  // bad address or URL (quoted), kIoError when the listen address cannot be bound.
  static Result<std::unique_ptr<CaptureProxy>> Start(const ProxyOptions& options, CaptureFn capture);
  ~CaptureProxy();  // Stop()

  // The bound port (useful with port 0) and "HOST:PORT".
  uint16_t port() const;
  std::string address() const;
  ProxyStats stats() const;
  // Closes the listener and every connection, then joins the I/O threads.
  void Stop();

  struct Impl;

 private:
  explicit CaptureProxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits "HOST:PORT" ("[::1]:80" too). kInvalidArgument quoting `text` otherwise.
Status ParseHostPort(std::string_view text, std::string* host, uint16_t* port);
// Splits "http://HOST[:PORT][/]" (port defaults to 80). Other schemes and paths are refused.
Status ParseHttpUrl(std::string_view url, std::string* host, uint16_t* port);

}  // namespace ec::capture
