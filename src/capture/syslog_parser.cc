#include "capture/syslog_parser.h"

#include <cctype>
#include <cstring>

#include "capture/exchange_parts.h"

namespace ec::capture {
namespace {

std::string Quote(std::string_view s) {
  if (s.size() > 40) s = s.substr(0, 40);
  std::string out = "\"";
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20) {
      out += "\\x";
      out += "0123456789abcdef"[(c >> 4) & 15];
      out += "0123456789abcdef"[c & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

Status ErrorAt(std::string_view line, size_t pos, std::string_view what) {
  return ParseError("syslog column " + std::to_string(pos + 1) + ": " + std::string(what) +
                    " at " + Quote(line.substr(pos)));
}

// Reads a space-free token (RFC 5424 header fields); returns false when empty.
bool Token(std::string_view line, size_t* pos, std::string_view* out) {
  size_t start = *pos;
  while (*pos < line.size() && line[*pos] != ' ') ++*pos;
  *out = line.substr(start, *pos - start);
  return !out->empty();
}

std::string_view Nil(std::string_view v) { return v == "-" ? std::string_view() : v; }

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool IsBsdTimestamp(std::string_view s) {
  // "Mmm dd hh:mm:ss" with dd space-padded.
  if (s.size() < 15) return false;
  bool month = false;
  for (const char* m : kMonths) month = month || s.substr(0, 3) == m;
  auto d = [&](size_t i) { return std::isdigit(static_cast<unsigned char>(s[i])) != 0; };
  return month && s[3] == ' ' && (s[4] == ' ' || d(4)) && d(5) && s[6] == ' ' && d(7) && d(8) &&
         s[9] == ':' && d(10) && d(11) && s[12] == ':' && d(13) && d(14);
}

Status CheckPayload(std::string_view line, size_t pos, const SyslogView& m,
                    const SyslogParseOptions& options) {
  if (!options.require_json_payload) return Status::Ok();
  size_t i = 0;
  while (i < m.msg.size() && (m.msg[i] == ' ' || m.msg[i] == '\t')) ++i;
  if (i == m.msg.size()) return ErrorAt(line, line.size(), "empty message, expected an exchange (JSON)");
  if (m.msg[i] != '{' && m.msg[i] != '[') {
    return ErrorAt(line, pos + i, "the message is not JSON (expected an exchange object)");
  }
  return Status::Ok();
}

Status Parse5424(std::string_view line, size_t pos, SyslogView* m) {
  m->format = SyslogFormat::kRfc5424;
  // VERSION SP
  while (pos < line.size() && std::isdigit(static_cast<unsigned char>(line[pos]))) ++pos;
  if (pos >= line.size() || line[pos] != ' ') return ErrorAt(line, pos, "expected a space after VERSION");
  ++pos;
  std::string_view fields[5];
  const char* names[5] = {"TIMESTAMP", "HOSTNAME", "APP-NAME", "PROCID", "MSGID"};
  const size_t timestamp_pos = pos;
  for (int i = 0; i < 5; ++i) {
    if (!Token(line, &pos, &fields[i])) {
      return ErrorAt(line, pos, std::string("expected ") + names[i]);
    }
    if (pos >= line.size() || line[pos] != ' ') {
      return ErrorAt(line, pos, std::string("expected a space after ") + names[i]);
    }
    ++pos;
  }
  m->timestamp = Nil(fields[0]);
  if (!m->timestamp.empty() && !ParseRfc3339Millis(m->timestamp, &m->unix_ms)) {
    return ErrorAt(line, timestamp_pos, "TIMESTAMP is not RFC 3339");
  }
  m->hostname = Nil(fields[1]);
  m->app_name = Nil(fields[2]);
  m->procid = Nil(fields[3]);
  m->msgid = Nil(fields[4]);
  // STRUCTURED-DATA: "-" or one or more [SD-ID *(SP PARAM="VALUE")], values escape \" \\ \].
  if (pos < line.size() && line[pos] == '-') {
    ++pos;
  } else if (pos < line.size() && line[pos] == '[') {
    size_t start = pos;
    while (pos < line.size() && line[pos] == '[') {
      bool in_value = false;
      ++pos;
      for (;; ++pos) {
        if (pos >= line.size()) return ErrorAt(line, start, "unterminated STRUCTURED-DATA");
        char c = line[pos];
        if (in_value && c == '\\' && pos + 1 < line.size()) {
          ++pos;
        } else if (c == '"') {
          in_value = !in_value;
        } else if (c == ']' && !in_value) {
          ++pos;
          break;
        }
      }
    }
    m->structured_data = line.substr(start, pos - start);
  } else {
    return ErrorAt(line, pos, "expected STRUCTURED-DATA ('-' or '[')");
  }
  if (pos < line.size()) {
    if (line[pos] != ' ') return ErrorAt(line, pos, "expected a space before MSG");
    ++pos;
  }
  std::string_view msg = line.substr(pos);
  if (msg.substr(0, 3) == "\xEF\xBB\xBF") msg.remove_prefix(3);  // the UTF-8 BOM of RFC 5424
  m->msg = msg;
  return Status::Ok();
}

Status Parse3164(std::string_view line, size_t pos, SyslogView* m) {
  m->format = SyslogFormat::kRfc3164;
  std::string_view rest = line.substr(pos);
  if (IsBsdTimestamp(rest)) {
    m->timestamp = rest.substr(0, 15);
    rest.remove_prefix(15);
    if (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
    // HOSTNAME then TAG, or only TAG (some senders leave the host out).
    size_t sp = rest.find(' ');
    std::string_view first = rest.substr(0, sp);
    bool first_is_tag = !first.empty() && (first.back() == ':' || first.find('[') != std::string_view::npos);
    if (!first_is_tag && sp != std::string_view::npos) {
      m->hostname = first;
      rest.remove_prefix(sp + 1);
    }
  }
  // TAG: up to 32 alphanumerics (we accept any non-space run) ended by ':' or '['.
  size_t i = 0;
  while (i < rest.size() && i < 48 && rest[i] != ':' && rest[i] != '[' && rest[i] != ' ' &&
         rest[i] != '{')
    ++i;
  if (i > 0 && i < rest.size() && (rest[i] == ':' || rest[i] == '[')) {
    m->app_name = rest.substr(0, i);
    if (rest[i] == '[') {
      size_t close = rest.find(']', i);
      if (close == std::string_view::npos) return ErrorAt(line, line.size() - rest.size() + i, "unterminated [PID]");
      m->procid = rest.substr(i + 1, close - i - 1);
      i = close + 1;
    }
    if (i < rest.size() && rest[i] == ':') ++i;
    if (i < rest.size() && rest[i] == ' ') ++i;
    rest.remove_prefix(i);
  }
  m->msg = rest;
  return Status::Ok();
}

}  // namespace

Result<SyslogView> ParseSyslogView(std::string_view line, const SyslogParseOptions& options) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == '\0')) {
    line.remove_suffix(1);
  }
  if (options.accept_bare_json && !line.empty() && (line[0] == '{' || line[0] == '[')) {
    SyslogView bare;
    bare.format = SyslogFormat::kRfc3164;
    bare.facility = 1;
    bare.severity = 5;
    bare.msg = line;
    return bare;
  }
  if (line.empty() || line[0] != '<') return ErrorAt(line, 0, "expected '<PRI>'");
  size_t pos = 1;
  int pri = 0;
  while (pos < line.size() && pos <= 4 && std::isdigit(static_cast<unsigned char>(line[pos]))) {
    pri = pri * 10 + (line[pos] - '0');
    ++pos;
  }
  if (pos == 1 || pos > 4 || pos >= line.size() || line[pos] != '>' || pri > 191) {
    return ErrorAt(line, 0, "expected '<PRI>' with PRI from 0 to 191");
  }
  ++pos;
  SyslogView m;
  m.facility = pri / 8;
  m.severity = pri % 8;
  // RFC 5424: VERSION (1-2 digits, not starting with 0) then a space.
  bool v5424 = pos + 1 < line.size() && line[pos] >= '1' && line[pos] <= '9' &&
               (line[pos + 1] == ' ' ||
                (std::isdigit(static_cast<unsigned char>(line[pos + 1])) && pos + 2 < line.size() &&
                 line[pos + 2] == ' '));
  Status s = v5424 ? Parse5424(line, pos, &m) : Parse3164(line, pos, &m);
  if (!s.ok()) return s;
  size_t msg_pos = line.size() - m.msg.size();
  EC_RETURN_IF_ERROR(CheckPayload(line, msg_pos, m, options));
  return m;
}

Result<SyslogMessage> ParseSyslog(std::string_view line, const SyslogParseOptions& options) {
  EC_ASSIGN_OR_RETURN(SyslogView v, ParseSyslogView(line, options));
  SyslogMessage m;
  m.format = v.format;
  m.facility = v.facility;
  m.severity = v.severity;
  m.timestamp.assign(v.timestamp);
  m.unix_ms = v.unix_ms;
  m.hostname.assign(v.hostname);
  m.app_name.assign(v.app_name);
  m.procid.assign(v.procid);
  m.msgid.assign(v.msgid);
  m.structured_data.assign(v.structured_data);
  m.msg.assign(v.msg);
  return m;
}

SyslogFramer::SyslogFramer(size_t max_message_bytes, std::function<void(std::string_view)> frame,
                           std::function<void(std::string_view, const Status&)> bad)
    : max_(max_message_bytes), frame_(std::move(frame)), bad_(std::move(bad)) {}

void SyslogFramer::Feed(std::string_view bytes) {
  buf_.append(bytes);
  size_t pos = 0;
  for (;;) {
    if (skip_ > 0) {
      size_t n = std::min(skip_, buf_.size() - pos);
      skip_ -= n;
      pos += n;
      if (skip_ > 0) break;
      continue;
    }
    if (skip_to_lf_) {
      size_t lf = buf_.find('\n', pos);
      if (lf == std::string::npos) {
        pos = buf_.size();
        break;
      }
      pos = lf + 1;
      skip_to_lf_ = false;
      continue;
    }
    if (pos >= buf_.size()) break;
    char c = buf_[pos];
    if (c == '\n' || c == '\r' || c == '\0') {  // blank line between frames
      ++pos;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      // Octet counting: MSG-LEN SP SYSLOG-MSG.
      size_t sp = pos;
      while (sp < buf_.size() && sp - pos < 10 && std::isdigit(static_cast<unsigned char>(buf_[sp]))) ++sp;
      if (sp >= buf_.size()) break;  // need more
      if (buf_[sp] != ' ' || sp - pos >= 10) {
        bad_(std::string_view(buf_).substr(pos, std::min<size_t>(64, buf_.size() - pos)),
             ParseError("syslog octet count is not digits followed by a space"));
        skip_to_lf_ = true;  // resynchronise on the next line
        continue;
      }
      size_t len = std::stoull(buf_.substr(pos, sp - pos));
      if (len > max_) {
        bad_(std::string_view(buf_).substr(sp + 1, std::min<size_t>(64, buf_.size() - sp - 1)),
             LimitExceeded("syslog message of " + std::to_string(len) + " bytes exceeds the limit of " +
                           std::to_string(max_)));
        skip_ = len;
        pos = sp + 1;
        continue;
      }
      if (buf_.size() - (sp + 1) < len) break;  // need more
      frame_(std::string_view(buf_).substr(sp + 1, len));
      pos = sp + 1 + len;
      continue;
    }
    size_t lf = buf_.find('\n', pos);
    if (lf == std::string::npos) {
      if (buf_.size() - pos > max_) {
        bad_(std::string_view(buf_).substr(pos, 64),
             LimitExceeded("syslog line longer than the limit of " + std::to_string(max_) + " bytes"));
        skip_to_lf_ = true;
        pos = buf_.size();
      }
      break;
    }
    if (lf - pos > max_) {
      bad_(std::string_view(buf_).substr(pos, 64),
           LimitExceeded("syslog line longer than the limit of " + std::to_string(max_) + " bytes"));
    } else {
      frame_(std::string_view(buf_).substr(pos, lf - pos));
    }
    pos = lf + 1;
  }
  buf_.erase(0, pos);
}

void SyslogFramer::Finish() {
  if (!buf_.empty() && skip_ == 0 && !skip_to_lf_) {
    if (!std::isdigit(static_cast<unsigned char>(buf_[0]))) {
      frame_(buf_);
    } else {
      bad_(std::string_view(buf_).substr(0, 64), ParseError("syslog stream ended inside an octet-counted frame"));
    }
  }
  buf_.clear();
}

}  // namespace ec::capture
