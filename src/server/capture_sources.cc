#include "server/capture_sources.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "capture/capture_shipper.h"
#include "capture/captured_exchange.h"
#include "capture/proxy.h"
#include "capture/syslog_listener.h"
#include "log/bytes.h"
#include "server/local_ingest.h"
#include "server/metrics.h"

namespace ec::server {
namespace {

// Dead letters travel through a string queue as "<reason>\0<raw message>".
std::string PackDeadLetter(std::string_view raw, const Status& why) {
  std::string out = why.message();
  out.push_back('\0');
  out.append(raw);
  return out;
}

// Syslog messages travel to the shipper packed: "<u32 size><message>" repeated, up to
// kPackedMessages messages or kPackedBytes per string. One allocation per batch instead of one per
// message, and the memory is freed (on the shipper thread) a batch at a time: per-message strings
// allocated on the listener and freed on the shipper grew and shrank the listener's heap
// (sysmalloc, page faults: most of the listener thread's CPU).
constexpr size_t kPackedMessages = 256;
constexpr size_t kPackedBytes = 256 << 10;

struct SyslogPacker {
  capture::CaptureShipper* queue;
  std::string batch;  // listener thread only
  size_t messages = 0;

  void Add(std::string_view msg) {
    if (batch.empty()) batch.reserve(kPackedBytes + msg.size() + 4);
    log::bytes::PutBe(&batch, msg.size(), 4);
    batch.append(msg);
    if (++messages >= kPackedMessages || batch.size() >= kPackedBytes) Flush();
  }
  void Flush() {
    if (messages == 0) return;
    queue->Offer(std::move(batch));
    batch = std::string();
    messages = 0;
  }
};

// Appends the messages of a packed batch to `out` (views into `packed`).
void UnpackSyslog(std::string_view packed, std::vector<std::string_view>* out) {
  size_t at = 0;
  while (at + 4 <= packed.size()) {
    const size_t n = log::bytes::LoadBe(packed.data() + at, 4);
    at += 4;
    if (at + n > packed.size()) break;  // cannot happen: SyslogPacker wrote it
    out->push_back(packed.substr(at, n));
    at += n;
  }
}

}  // namespace

CaptureSources::CaptureSources(SyslogSourceConfig syslog, ProxySourceConfig proxy,
                               LocalIngest* syslog_ingest, LocalIngest* proxy_ingest,
                               MetricsRegistry* metrics)
    : syslog_config_(std::move(syslog)),
      proxy_config_(std::move(proxy)),
      syslog_ingest_(syslog_ingest),
      proxy_ingest_(proxy_ingest),
      metrics_(metrics) {}

CaptureSources::~CaptureSources() { Stop(); }

Status CaptureSources::Start() {
  if (syslog_config_.enabled()) {
    LocalIngest* ingest = syslog_ingest_;
    std::string format = syslog_config_.format;
    capture::ShipperOptions so;
    // Queue items are packed batches of up to kPackedMessages messages: the bound stays
    // syslog.queue messages (rounded up to a whole batch).
    so.max_queue_items = std::max<size_t>(1, (syslog_config_.queue + kPackedMessages - 1) / kPackedMessages);
    so.max_queue_bytes = std::max<size_t>(so.max_queue_bytes, syslog_config_.max_message_bytes * 4);
    // A TCP read packs ~45 lines of ~1.4 KiB; a ship takes packed batches up to ~384 KiB
    // (~270 lines: one record batch, one append, no copy), waiting linger_ms for more as before.
    so.max_batch_items = 64;
    so.max_batch_bytes = 384 << 10;
    so.wait_when_full = true;
    so.max_attempts = 1 << 30;  // an append failure is retried until Stop()
    so.stop_flush_timeout_ms = 10000;
    syslog_queue_ = std::make_unique<capture::CaptureShipper>(
        capture::MakeCallbackSink([ingest, format](std::span<const std::string> packed) -> Status {
          std::vector<std::string_view> lines;
          for (const std::string& p : packed) UnpackSyslog(p, &lines);
          Result<LocalIngestResult> r = ingest->AppendViews(lines, format);
          return r.status();
        }),
        so);
    capture::ShipperOptions dso;
    dso.max_queue_items = 10000;
    dso.max_batch_items = 100;
    dead_letter_queue_ = std::make_unique<capture::CaptureShipper>(
        capture::MakeCallbackSink([ingest, format](std::span<const std::string> packed) -> Status {
          for (const std::string& p : packed) {
            size_t nul = p.find('\0');
            std::string_view reason(p.data(), nul == std::string::npos ? p.size() : nul);
            std::string_view raw = nul == std::string::npos ? std::string_view() : std::string_view(p).substr(nul + 1);
            EC_RETURN_IF_ERROR(ingest->DeadLetter(raw, ParseError("syslog: " + std::string(reason)), format));
          }
          return Status::Ok();
        }),
        dso);
    Counter* messages = metrics_->GetCounter("eventception_syslog_messages_total",
                                             "Syslog messages received and queued for ingest");
    Counter* malformed = metrics_->GetCounter("eventception_syslog_malformed_total",
                                              "Syslog messages dead-lettered, by reason", {{"reason", "malformed"}});
    Counter* oversized = metrics_->GetCounter("eventception_syslog_malformed_total",
                                              "Syslog messages dead-lettered, by reason", {{"reason", "oversized"}});
    capture::SyslogListenerOptions lo;
    lo.udp_listen = syslog_config_.udp;
    lo.tcp_listen = syslog_config_.tcp;
    lo.max_message_bytes = syslog_config_.max_message_bytes;
    capture::CaptureShipper* dead = dead_letter_queue_.get();
    auto packer = std::make_shared<SyslogPacker>(SyslogPacker{syslog_queue_.get(), {}, 0});
    auto listener = capture::SyslogListener::StartViews(
        lo,
        [packer, messages](const capture::SyslogView& m) {
          messages->Inc();
          packer->Add(m.msg);
        },
        [dead, malformed, oversized](std::string_view raw, const Status& why) {
          (why.code() == ErrorCode::kLimitExceeded ? oversized : malformed)->Inc();
          // An oversized message is dead-lettered by its first bytes only.
          dead->Offer(PackDeadLetter(raw.substr(0, 64 << 10), why));
        },
        [packer] { packer->Flush(); });
    if (!listener.ok()) return Status(listener.status().code(), "syslog.udp/syslog.tcp: " + listener.status().message());
    syslog_ = std::move(listener).value();
  }
  if (proxy_config_.enabled()) {
    LocalIngest* ingest = proxy_ingest_;
    capture::ShipperOptions so;
    so.max_queue_items = proxy_config_.queue;
    proxy_queue_ = std::make_unique<capture::CaptureShipper>(
        capture::MakeCallbackSink([ingest](std::span<const std::string> lines) -> Status {
          return ingest->AppendTexts(lines, "canonical").status();
        }),
        so);
    Counter* captured = metrics_->GetCounter("eventception_proxy_exchanges_total",
                                             "Exchanges the capture proxy recorded");
    Counter* dropped = metrics_->GetCounter("eventception_proxy_captures_dropped_total",
                                            "Captures dropped because the ingest queue was full");
    capture::ProxyOptions po;
    po.listen = proxy_config_.listen;
    po.upstream = proxy_config_.upstream;
    po.max_body_bytes = proxy_config_.max_body_bytes;
    po.threads = proxy_config_.threads;
    capture::CaptureShipper* queue = proxy_queue_.get();
    auto proxy = capture::CaptureProxy::Start(po, [queue, captured, dropped](capture::CapturedExchange&& x) {
      captured->Inc();
      if (!queue->Offer(capture::ToExchangeJson(x))) dropped->Inc();
    });
    if (!proxy.ok()) return Status(proxy.status().code(), "proxy.listen/proxy.upstream: " + proxy.status().message());
    proxy_ = std::move(proxy).value();
  }
  return Status::Ok();
}

void CaptureSources::Stop() {
  if (proxy_) proxy_->Stop();
  if (syslog_) syslog_->Stop();
  if (proxy_queue_) proxy_queue_->Stop();
  if (syslog_queue_) syslog_queue_->Stop();
  if (dead_letter_queue_) dead_letter_queue_->Stop();
}

uint16_t CaptureSources::syslog_udp_port() const { return syslog_ ? syslog_->udp_port() : 0; }
uint16_t CaptureSources::syslog_tcp_port() const { return syslog_ ? syslog_->tcp_port() : 0; }
uint16_t CaptureSources::proxy_port() const { return proxy_ ? proxy_->port() : 0; }

std::string CaptureSources::Describe() const {
  std::string out;
  auto host = [](const std::string& addr) { return addr.substr(0, addr.rfind(':')); };
  if (syslog_) {
    out += "  Syslog listening on";
    if (!syslog_config_.udp.empty()) out += " udp " + host(syslog_config_.udp) + ":" + std::to_string(syslog_udp_port());
    if (!syslog_config_.tcp.empty()) out += " tcp " + host(syslog_config_.tcp) + ":" + std::to_string(syslog_tcp_port());
    out += " (format " + syslog_config_.format + ")\n";
  }
  if (proxy_) {
    out += "  Capture proxy listening on " + proxy_->address() + ", forwarding to " + proxy_config_.upstream + "\n";
  }
  return out;
}

}  // namespace ec::server
