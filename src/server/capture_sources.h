#pragma once
// The capture entry points `serve` runs in-process (docs/configuration.md, "Capture sources"):
// the syslog listener and the capture proxy. Both record into the local raw topic through
// LocalIngest (no HTTP hop). Syslog messages wait in a bounded queue (the listener waits when
// it is full, so TCP peers feel back-pressure); proxy captures are dropped and counted when the
// queue is full, so forwarding never waits. Malformed syslog lines are counted
// (eventception_syslog_malformed_total) and dead-lettered, never fatal.

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "server/source_config.h"

namespace ec::capture {
class CaptureProxy;
class CaptureShipper;
class SyslogListener;
}  // namespace ec::capture

namespace ec::server {

class LocalIngest;
class MetricsRegistry;

class CaptureSources {
 public:
  // `syslog_ingest` and `proxy_ingest` must outlive this object (they may be the same).
  CaptureSources(SyslogSourceConfig syslog, ProxySourceConfig proxy, LocalIngest* syslog_ingest,
                 LocalIngest* proxy_ingest, MetricsRegistry* metrics);
  ~CaptureSources();  // Stop()

  // Starts what is configured. Errors name the option (syslog.udp, proxy.upstream, ...).
  Status Start();
  // Stops accepting, then appends what is queued (bounded), then joins.
  void Stop();

  uint16_t syslog_udp_port() const;
  uint16_t syslog_tcp_port() const;
  uint16_t proxy_port() const;
  // Banner lines, e.g. "  syslog on udp 127.0.0.1:5514, tcp 127.0.0.1:5514\n"; empty if none.
  std::string Describe() const;

 private:
  SyslogSourceConfig syslog_config_;
  ProxySourceConfig proxy_config_;
  LocalIngest* syslog_ingest_;
  LocalIngest* proxy_ingest_;
  MetricsRegistry* metrics_;
  std::unique_ptr<capture::CaptureShipper> syslog_queue_;
  std::unique_ptr<capture::CaptureShipper> dead_letter_queue_;
  std::unique_ptr<capture::SyslogListener> syslog_;
  std::unique_ptr<capture::CaptureShipper> proxy_queue_;
  std::unique_ptr<capture::CaptureProxy> proxy_;
};

}  // namespace ec::server
