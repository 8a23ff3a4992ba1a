#pragma once
// Follows the two byte streams of one proxied HTTP/1.1 connection and turns them into
// CapturedExchanges. It only observes: the proxy forwards every byte unchanged whatever the
// tracker thinks of them. Requests and responses are paired in order (pipelining works);
// after a 101 Switching Protocols (or a 2xx to CONNECT) the connection is a tunnel and
// nothing more is parsed. Bytes that are not HTTP/1.1 also turn the tracker off ("raw"), so a
// confused tracker can lose captures but never affect forwarding. Not thread-safe: the proxy
// calls it from the connection's strand only.

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "capture/captured_exchange.h"

namespace ec::capture {

struct TrackerOptions {
  size_t max_body_bytes = 1 << 20;     // captured per body; the rest is only counted
  size_t max_header_bytes = 64 << 10;  // a longer header stops tracking (still forwarded)
  size_t max_pending = 64;             // pipelined requests awaiting responses
  std::string client_ip;
};

class ExchangeTracker {
 public:
  using Emit = std::function<void(CapturedExchange&&)>;
  // `emit` receives every completed exchange, on the caller's thread.
  ExchangeTracker(TrackerOptions options, Emit emit);
  ~ExchangeTracker();

  void OnClientBytes(std::string_view bytes);
  void OnUpstreamBytes(std::string_view bytes);
  // The upstream closed its side: completes a read-until-close response.
  void OnUpstreamEof();
  // The connection is gone: requests without a response are emitted with status 0.
  void OnClose();

  bool raw() const;       // tracking stopped (tunnel, or bytes that are not HTTP/1.1)
  bool tunnel() const;    // an upgrade or CONNECT was accepted
  uint64_t parse_errors() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Wall-clock milliseconds since the Unix epoch, and a steady clock in microseconds.
int64_t NowUnixMs();
int64_t NowSteadyUs();

}  // namespace ec::capture
