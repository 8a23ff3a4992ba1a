#pragma once
// Syslog messages (RFC 5424 and the BSD format of RFC 3164) and TCP framing (RFC 6587).
// Pure functions and a small state machine: the listener does the I/O.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace ec::capture {

enum class SyslogFormat { kRfc5424, kRfc3164 };

struct SyslogMessage {
  SyslogFormat format = SyslogFormat::kRfc5424;
  int facility = 0;
  int severity = 0;
  std::string timestamp;         // as sent; empty for NILVALUE or when absent
  int64_t unix_ms = -1;          // the timestamp when it could be read (RFC 5424 only)
  std::string hostname;          // empty for NILVALUE
  std::string app_name;          // RFC 3164: the TAG without "[pid]"
  std::string procid;            // RFC 3164: the pid inside "[...]"
  std::string msgid;
  std::string structured_data;   // raw "[id k=\"v\"]..." text; empty for NILVALUE
  std::string msg;               // the payload: here an exchange in some supported format
};

struct SyslogParseOptions {
  // A payload that is not a JSON object or array ("{"/"[" after blanks) is malformed: every
  // supported exchange format is JSON.
  bool require_json_payload = true;
  // A line without PRI that starts with '{' or '[' is a bare JSON message (forwarders with
  // no-parse/raw templates, `nc`): taken as RFC 3164 CONTENT with the default PRI 13
  // (user.notice), as RFC 3164 4.3.3 tells a relay to treat a packet without PRI.
  bool accept_bare_json = true;
};

// Parses one message (no framing, trailing CR/LF/NUL ignored). RFC 5424 is recognised by the
// version digit after PRI; anything else with a valid PRI is read as RFC 3164.
// Errors: kParseError naming the column and quoting the offending text.
Result<SyslogMessage> ParseSyslog(std::string_view line, const SyslogParseOptions& options = {});

// A SyslogMessage as views into the parsed line (nothing copied; valid while the line is).
struct SyslogView {
  SyslogFormat format = SyslogFormat::kRfc5424;
  int facility = 0;
  int severity = 0;
  std::string_view timestamp;
  int64_t unix_ms = -1;
  std::string_view hostname;
  std::string_view app_name;
  std::string_view procid;
  std::string_view msgid;
  std::string_view structured_data;
  std::string_view msg;
};
// As ParseSyslog (same checks, errors and fields), without copying: the listener's fast path.
Result<SyslogView> ParseSyslogView(std::string_view line, const SyslogParseOptions& options = {});

// Splits a TCP byte stream into messages: octet counting ("LEN SP MSG") when a frame starts
// with a digit, otherwise LF-delimited (non-transparent framing); both may be mixed.
class SyslogFramer {
 public:
  // `frame` gets every complete message; `oversized` gets the first bytes of a message longer
  // than `max_message_bytes` (the rest is skipped) or a bad octet count.
  SyslogFramer(size_t max_message_bytes, std::function<void(std::string_view)> frame,
               std::function<void(std::string_view, const Status&)> bad);
  void Feed(std::string_view bytes);
  // End of stream: a last LF-less message is delivered.
  void Finish();

 private:
  size_t max_;
  std::function<void(std::string_view)> frame_;
  std::function<void(std::string_view, const Status&)> bad_;
  std::string buf_;
  size_t skip_ = 0;            // bytes of an oversized octet-counted frame still to drop
  bool skip_to_lf_ = false;    // dropping an oversized LF-delimited frame
};

}  // namespace ec::capture
