// Syslog: RFC 5424 / RFC 3164 parsing, RFC 6587 framing, and the listener over UDP and TCP.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "capture/syslog_listener.h"
#include "capture/syslog_parser.h"
#include "capture/test_upstream.h"

namespace ec::capture {
namespace {

constexpr std::string_view kExchange = R"({"request":{"method":"GET","path":"/a"},"response":{"status":200}})";

TEST(SyslogParse, Rfc5424FromHaproxy) {
  // As HAProxy 2.6 sends it (recipe 2): HOSTNAME "-", no STRUCTURED-DATA.
  std::string line = "<134>1 2026-11-27T01:39:28.580031+00:00 - haproxy 12425 - - " +
                     std::string(kExchange) + "\n";
  auto m = ParseSyslog(line);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->format, SyslogFormat::kRfc5424);
  EXPECT_EQ(m->facility, 16);  // local0
  EXPECT_EQ(m->severity, 6);   // info
  EXPECT_EQ(m->hostname, "");
  EXPECT_EQ(m->app_name, "haproxy");
  EXPECT_EQ(m->procid, "12425");
  EXPECT_EQ(m->msgid, "");
  EXPECT_EQ(m->unix_ms, 1795743568580);
  EXPECT_EQ(m->msg, kExchange);
}

TEST(SyslogParse, Rfc5424WithStructuredDataAndBom) {
  std::string line = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
                     "[exampleSDID@32473 iut=\"3\" eventSource=\"Appl\\]ication\"][x@1 a=\"b\"] "
                     "\xEF\xBB\xBF" + std::string(kExchange);
  auto m = ParseSyslog(line);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->facility, 20);
  EXPECT_EQ(m->severity, 5);
  EXPECT_EQ(m->hostname, "mymachine.example.com");
  EXPECT_EQ(m->msgid, "ID47");
  EXPECT_EQ(m->structured_data,
            "[exampleSDID@32473 iut=\"3\" eventSource=\"Appl\\]ication\"][x@1 a=\"b\"]");
  EXPECT_EQ(m->msg, kExchange);
  EXPECT_EQ(m->unix_ms, 1065910455003);
}

TEST(SyslogParse, Rfc3164FromNginx) {
  // As nginx sends it (recipe 1).
  std::string line = "<190>Nov 27 01:37:33 vm nginx: " + std::string(kExchange);
  auto m = ParseSyslog(line);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->format, SyslogFormat::kRfc3164);
  EXPECT_EQ(m->facility, 23);
  EXPECT_EQ(m->severity, 6);
  EXPECT_EQ(m->timestamp, "Nov 27 01:37:33");
  EXPECT_EQ(m->hostname, "vm");
  EXPECT_EQ(m->app_name, "nginx");
  EXPECT_EQ(m->msg, kExchange);

  auto pid = ParseSyslog("<13>Feb  5 17:32:18 10.0.0.99 app[4242]: " + std::string(kExchange));
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  EXPECT_EQ(pid->hostname, "10.0.0.99");
  EXPECT_EQ(pid->app_name, "app");
  EXPECT_EQ(pid->procid, "4242");
  EXPECT_EQ(pid->msg, kExchange);

  auto no_host = ParseSyslog("<13>Feb  5 17:32:18 tag: " + std::string(kExchange));
  ASSERT_TRUE(no_host.ok());
  EXPECT_EQ(no_host->hostname, "");
  EXPECT_EQ(no_host->app_name, "tag");

  auto bare = ParseSyslog("<13>" + std::string(kExchange));
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->msg, kExchange);
}

TEST(SyslogParse, MalformedLinesSayWhereAndWhat) {
  struct Case {
    std::string line;
    std::string want;
  } cases[] = {
      {"no pri " + std::string(kExchange), "column 1: expected '<PRI>'"},
      {"<192>1 - - - - - - {}", "PRI from 0 to 191"},
      {"<13>1 yesterday host app - - - {}", "column 7: TIMESTAMP is not RFC 3339 at \"yesterday"},
      {"<13>1 2026-11-27T01:39:28Z host app", "expected a space after APP-NAME"},
      {"<13>1 2026-11-27T01:39:28Z h a p m [unterminated {}", "unterminated STRUCTURED-DATA"},
      {"<13>1 2026-11-27T01:39:28Z h a p m x {}", "expected STRUCTURED-DATA"},
      {"<13>1 2026-11-27T01:39:28Z h a p m - plain text", "not JSON"},
      {"<13>Nov 27 01:37:33 vm nginx: ", "empty message"},
  };
  for (const Case& c : cases) {
    auto m = ParseSyslog(c.line);
    ASSERT_FALSE(m.ok()) << c.line;
    EXPECT_EQ(m.status().code(), ErrorCode::kParseError);
    EXPECT_NE(m.status().message().find(c.want), std::string::npos)
        << c.line << " -> " << m.status().message();
  }
  // A bare JSON line (no PRI) is RFC 3164 content with the default PRI 13; without the option
  // it is malformed.
  auto bare = ParseSyslog(kExchange);
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  EXPECT_EQ(bare->msg, kExchange);
  EXPECT_EQ(bare->facility * 8 + bare->severity, 13);
  SyslogParseOptions strict;
  strict.accept_bare_json = false;
  EXPECT_FALSE(ParseSyslog(kExchange, strict).ok());
  SyslogParseOptions any;
  any.require_json_payload = false;
  EXPECT_TRUE(ParseSyslog("<13>1 2026-11-27T01:39:28Z h a p m - plain text", any).ok());
}

// The listener's fast path parses into views; every field and every error is ParseSyslog's.
TEST(SyslogParse, ViewsAgreeWithCopies) {
  const std::string lines[] = {
      "<134>1 2026-11-27T01:39:28.580031+00:00 vm haproxy 1234 ID47 - " + std::string(kExchange) + "\n",
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" "
      "eventSource=\"App\\\"lication\"][x@1 a=\"]\"] \xEF\xBB\xBF" + std::string(kExchange),
      "<190>Nov 27 01:37:33 vm nginx[77]: " + std::string(kExchange) + "\r\n",
      "<190>Nov  7 01:37:33 nginx: " + std::string(kExchange),
      "<13>nginx " + std::string(kExchange),
      std::string(kExchange) + "\n",
      "no pri " + std::string(kExchange),
      "<192>1 - - - - - - {}",
      "<13>1 yesterday host app - - - {}",
      "<13>1 2026-11-27T01:39:28Z h a p m [unterminated {}",
      "<13>1 2026-11-27T01:39:28Z h a p m - plain text",
      "<13>Nov 27 01:37:33 vm nginx: ",
      "<13>Nov 27 01:37:33 vm nginx[12: {}",
  };
  for (const std::string& line : lines) {
    Result<SyslogMessage> m = ParseSyslog(line);
    Result<SyslogView> v = ParseSyslogView(line);
    ASSERT_EQ(m.ok(), v.ok()) << line;
    if (!m.ok()) {
      EXPECT_EQ(m.status().ToString(), v.status().ToString());
      continue;
    }
    EXPECT_EQ(m->format, v->format) << line;
    EXPECT_EQ(m->facility, v->facility);
    EXPECT_EQ(m->severity, v->severity);
    EXPECT_EQ(m->timestamp, v->timestamp);
    EXPECT_EQ(m->unix_ms, v->unix_ms);
    EXPECT_EQ(m->hostname, v->hostname);
    EXPECT_EQ(m->app_name, v->app_name);
    EXPECT_EQ(m->procid, v->procid);
    EXPECT_EQ(m->msgid, v->msgid);
    EXPECT_EQ(m->structured_data, v->structured_data);
    EXPECT_EQ(m->msg, v->msg);
    EXPECT_EQ(v->msg.substr(0, 1), "{") << line;
    // Views into the line itself.
    EXPECT_GE(v->msg.data(), line.data());
    EXPECT_LE(v->msg.data() + v->msg.size(), line.data() + line.size());
  }
}

struct Frames {
  std::vector<std::string> good, bad;
  SyslogFramer Make(size_t max) {
    return SyslogFramer(
        max, [this](std::string_view f) { good.emplace_back(f); },
        [this](std::string_view f, const Status&) { bad.emplace_back(f); });
  }
};

TEST(SyslogFraming, OctetCountingAndNewlinesMixedAtEverySplitPoint) {
  std::string a = "<134>1 - - haproxy 1 - - {\"a\":1}";
  std::string b = "<190>Nov 27 01:37:33 vm nginx: {\"b\":2}";
  std::string stream = std::to_string(a.size()) + " " + a + b + "\n" + std::to_string(b.size()) +
                       " " + b + "\r\n" + a + "\n";
  for (size_t split = 0; split <= stream.size(); ++split) {
    Frames f;
    SyslogFramer framer = f.Make(1024);
    framer.Feed(stream.substr(0, split));
    framer.Feed(stream.substr(split));
    framer.Finish();
    ASSERT_EQ(f.good.size(), 4u) << split;
    EXPECT_EQ(f.good[0], a);
    EXPECT_EQ(f.good[1], b);
    EXPECT_EQ(f.good[2], b);
    EXPECT_EQ(f.good[3], a);
    EXPECT_TRUE(f.bad.empty());
  }
}

TEST(SyslogFraming, OversizedFramesAreSkippedNotFatal) {
  Frames f;
  SyslogFramer framer = f.Make(16);
  std::string big(40, 'x');
  framer.Feed("40 " + big + "5 <1>{}" + "<1>" + big + "\n<1>{}\n");
  framer.Finish();
  ASSERT_EQ(f.bad.size(), 2u);
  ASSERT_EQ(f.good.size(), 2u);
  EXPECT_EQ(f.good[0], "<1>{}");
  EXPECT_EQ(f.good[1], "<1>{}");
  // A line with no end at all: dropped once it passes the limit, the next line survives.
  Frames g;
  SyslogFramer framer2 = g.Make(16);
  for (int i = 0; i < 10; ++i) framer2.Feed("yyyyyyyyyy");
  framer2.Feed("\n<1>{}\n");
  EXPECT_EQ(g.bad.size(), 1u);
  ASSERT_EQ(g.good.size(), 1u);
  EXPECT_EQ(g.good[0], "<1>{}");
}

struct Received {
  std::mutex mu;
  std::vector<SyslogMessage> messages;
  std::vector<std::string> dead;
  size_t total() {
    std::lock_guard<std::mutex> lock(mu);
    return messages.size() + dead.size();
  }
  bool WaitFor(size_t n) {
    for (int i = 0; i < 500 && total() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return total() >= n;
  }
};

std::unique_ptr<SyslogListener> StartListener(Received* r, size_t max_message = 256 << 10) {
  SyslogListenerOptions o;
  o.udp_listen = "127.0.0.1:0";
  o.tcp_listen = "127.0.0.1:0";
  o.max_message_bytes = max_message;
  o.max_connections = 4;
  auto l = SyslogListener::Start(
      o,
      [r](SyslogMessage&& m) {
        std::lock_guard<std::mutex> lock(r->mu);
        r->messages.push_back(std::move(m));
      },
      [r](std::string_view raw, const Status& why) {
        std::lock_guard<std::mutex> lock(r->mu);
        r->dead.emplace_back(why.message());
      });
  EXPECT_TRUE(l.ok()) << l.status().ToString();
  return l.ok() ? std::move(l).value() : nullptr;
}

void SendUdp(uint16_t port, std::string_view datagram) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  close(fd);
}

TEST(SyslogListener, UdpDatagramsIncludingMalformed) {
  Received r;
  auto l = StartListener(&r);
  ASSERT_TRUE(l);
  std::string body(30000, 'z');  // nginx/HAProxy lines carry bodies: large datagrams
  std::string big = "<190>Nov 27 01:37:33 vm nginx: {\"body\":\"" + body + "\"}";
  SendUdp(l->udp_port(), "<134>1 2026-11-27T01:39:28.580031+00:00 - haproxy 1 - - " + std::string(kExchange) + "\n");
  SendUdp(l->udp_port(), big);
  SendUdp(l->udp_port(), "garbage, not syslog");
  ASSERT_TRUE(r.WaitFor(3));
  std::lock_guard<std::mutex> lock(r.mu);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].msg, kExchange);
  EXPECT_EQ(r.messages[1].msg.size(), body.size() + 11);  // {"body":"..."}
  ASSERT_EQ(r.dead.size(), 1u);
  SyslogStats s = l->stats();
  EXPECT_EQ(s.received, 3u);
  EXPECT_EQ(s.delivered, 2u);
  EXPECT_EQ(s.malformed, 1u);
}

// A burst queues many datagrams at once: the listener takes them several per recvmmsg call,
// every one delivered, in the order sent, each with its own length.
TEST(SyslogListener, UdpBurstDeliversEveryDatagramInOrder) {
  Received r;
  auto l = StartListener(&r);
  ASSERT_TRUE(l);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(l->udp_port());
  const int n = 100;  // well within the default socket buffer even if the listener is slow
  for (int i = 0; i < n; ++i) {
    std::string d = "<134>1 2026-11-27T01:39:28Z - haproxy 1 - - {\"n\":" + std::to_string(i) + ",\"pad\":\"" +
                    std::string(static_cast<size_t>(i % 50), 'p') + "\"}";
    ASSERT_EQ(sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a),
              static_cast<ssize_t>(d.size()));
  }
  close(fd);
  ASSERT_TRUE(r.WaitFor(n));
  std::lock_guard<std::mutex> lock(r.mu);
  ASSERT_EQ(r.messages.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(r.messages[static_cast<size_t>(i)].msg,
              "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(static_cast<size_t>(i % 50), 'p') + "\"}");
  }
  EXPECT_TRUE(r.dead.empty());
}

TEST(SyslogListener, TcpBothFramingsOversizedAndConnectionLimit) {
  Received r;
  auto l = StartListener(&r, 1024);
  ASSERT_TRUE(l);
  std::string a = "<134>1 2026-11-27T01:39:28Z - haproxy 1 - - " + std::string(kExchange);
  std::string b = "<190>Nov 27 01:37:33 vm nginx: " + std::string(kExchange);
  int fd = testing::ConnectTo(l->tcp_port());
  ASSERT_GE(fd, 0);
  std::string stream = std::to_string(a.size()) + " " + a + b + "\n" + "not syslog\n" +
                       "2000 " + std::string(2000, 'q') + a + "\n";
  // Byte by byte in the worst case: send in small pieces.
  for (size_t i = 0; i < stream.size(); i += 7) {
    ASSERT_TRUE(testing::WriteAll(fd, stream.substr(i, 7)));
  }
  ASSERT_TRUE(r.WaitFor(5));
  close(fd);
  {
    std::lock_guard<std::mutex> lock(r.mu);
    ASSERT_EQ(r.messages.size(), 3u);
    EXPECT_EQ(r.messages[0].app_name, "haproxy");
    EXPECT_EQ(r.messages[1].app_name, "nginx");
    EXPECT_EQ(r.messages[2].msg, kExchange);
    ASSERT_EQ(r.dead.size(), 2u);
  }
  SyslogStats s = l->stats();
  EXPECT_EQ(s.malformed, 1u);
  EXPECT_EQ(s.oversized, 1u);

  // Connection limit: 4 are served, the 5th is closed at once; the listener goes on.
  std::vector<int> fds;
  for (int i = 0; i < 4; ++i) fds.push_back(testing::ConnectTo(l->tcp_port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int extra = testing::ConnectTo(l->tcp_port());
  char c;
  EXPECT_EQ(read(extra, &c, 1), 0);  // closed by the listener
  close(extra);
  ASSERT_TRUE(testing::WriteAll(fds[0], b + "\n"));
  ASSERT_TRUE(r.WaitFor(6));
  for (int f : fds) close(f);
  EXPECT_EQ(l->stats().tcp_refused, 1u);
}

// StartViews (what serve uses): the same messages and dead letters, handed over as views.
TEST(SyslogListener, ViewsOverUdpAndTcp) {
  Received r;
  SyslogListenerOptions o;
  o.udp_listen = "127.0.0.1:0";
  o.tcp_listen = "127.0.0.1:0";
  auto l = SyslogListener::StartViews(
      o,
      [&r](const SyslogView& v) {
        SyslogMessage m;
        m.hostname.assign(v.hostname);
        m.app_name.assign(v.app_name);
        m.msg.assign(v.msg);
        std::lock_guard<std::mutex> lock(r.mu);
        r.messages.push_back(std::move(m));
      },
      [&r](std::string_view, const Status& why) {
        std::lock_guard<std::mutex> lock(r.mu);
        r.dead.emplace_back(why.message());
      });
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  SendUdp((*l)->udp_port(), "<134>1 2026-11-27T01:39:28.580031+00:00 vm haproxy 1 - - " + std::string(kExchange));
  ASSERT_TRUE(r.WaitFor(1));
  SendUdp((*l)->udp_port(), "garbage, not syslog");
  ASSERT_TRUE(r.WaitFor(2));
  int fd = testing::ConnectTo((*l)->tcp_port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::WriteAll(fd, "<190>Nov 27 01:37:33 web nginx: " + std::string(kExchange) + "\n"));
  ASSERT_TRUE(r.WaitFor(3));
  close(fd);
  std::lock_guard<std::mutex> lock(r.mu);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].hostname, "vm");
  EXPECT_EQ(r.messages[0].msg, kExchange);
  EXPECT_EQ(r.messages[1].hostname, "web");
  EXPECT_EQ(r.messages[1].app_name, "nginx");
  EXPECT_EQ(r.messages[1].msg, kExchange);
  ASSERT_EQ(r.dead.size(), 1u);
  EXPECT_EQ((*l)->stats().malformed, 1u);
}

TEST(SyslogListener, BadAddressesAreRefused) {
  SyslogListenerOptions o;
  auto none = SyslogListener::Start(o, [](SyslogMessage&&) {}, [](std::string_view, const Status&) {});
  EXPECT_FALSE(none.ok());
  o.udp_listen = "localhost:99999";
  auto bad = SyslogListener::Start(o, [](SyslogMessage&&) {}, [](std::string_view, const Status&) {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"99999\""), std::string::npos);
}

}  // namespace
}  // namespace ec::capture
