#pragma once
// The syslog listener: UDP datagrams and TCP streams (octet counting or LF framing, RFC 6587)
// of RFC 5424 / RFC 3164 messages whose MSG is an exchange in any supported format. Each good
// message goes to a callback (serve decodes it); a malformed or oversized one is counted and
// handed to the dead-letter callback. Nothing a peer sends can stop the listener.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "capture/syslog_parser.h"

namespace ec::capture {

struct SyslogListenerOptions {
  std::string udp_listen;               // HOST:PORT, empty = no UDP
  std::string tcp_listen;               // HOST:PORT, empty = no TCP
  size_t max_message_bytes = 256 << 10;  // longer messages are dead-lettered
  size_t max_connections = 256;          // more TCP peers are accepted and closed at once
  int idle_timeout_ms = 300000;          // a silent TCP peer is closed after this long
  SyslogParseOptions parse;
};

struct SyslogStats {
  uint64_t received = 0;    // messages framed (UDP datagrams + TCP frames)
  uint64_t delivered = 0;   // parsed and handed to the message callback
  uint64_t malformed = 0;   // not syslog, not JSON, or a bad frame
  uint64_t oversized = 0;   // longer than max_message_bytes
  uint64_t tcp_connections = 0;
  uint64_t tcp_refused = 0;  // over max_connections
};

class SyslogListener {
 public:
  // Both run on the listener's I/O thread, one call at a time, and must not block for long.
  using MessageFn = std::function<void(SyslogMessage&&)>;
  // The same message as views into the listener's read buffer, valid during the call only.
  using MessageViewFn = std::function<void(const SyslogView&)>;
  using DeadLetterFn = std::function<void(std::string_view raw, const Status& why)>;
  // Called on the I/O thread after the messages of one read (a TCP read, a recvmmsg round, a
  // peer's end) went to MessageFn: where a caller batching messages hands its batch on.
  using BatchEndFn = std::function<void()>;

  // Binds the configured sockets and starts the I/O thread. Errors: kInvalidArgument for a bad
  // address (quoted) or when neither UDP nor TCP is configured; kIoError when binding fails.
  static Result<std::unique_ptr<SyslogListener>> Start(const SyslogListenerOptions& options,
                                                       MessageFn on_message,
                                                       DeadLetterFn on_dead_letter,
                                                       BatchEndFn on_batch_end = nullptr);
  // As Start, handing each message over as views: no copy of the message per call.
  static Result<std::unique_ptr<SyslogListener>> StartViews(const SyslogListenerOptions& options,
                                                            MessageViewFn on_message,
                                                            DeadLetterFn on_dead_letter,
                                                            BatchEndFn on_batch_end = nullptr);
  ~SyslogListener();  // Stop()

  uint16_t udp_port() const;  // 0 when not listening
  uint16_t tcp_port() const;
  SyslogStats stats() const;
  void Stop();

  struct Impl;

 private:
  static Result<std::unique_ptr<SyslogListener>> StartWith(const SyslogListenerOptions& options,
                                                           MessageFn on_message, MessageViewFn on_message_view,
                                                           DeadLetterFn on_dead_letter, BatchEndFn on_batch_end);
  explicit SyslogListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ec::capture
