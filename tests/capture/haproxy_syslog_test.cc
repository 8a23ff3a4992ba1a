// Real software: HAProxy 2.6 in front of a test upstream logs each exchange with the JSON
// log-format of docs/gateways/haproxy.md to our syslog listener (UDP and TCP); the `haproxy`
// decoder turns the message into the canonical exchange.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "pipeline/gateways/haproxy.h"
#include "capture/syslog_listener.h"
#include "capture/test_upstream.h"
#include "json/document.h"
#include "json/writer.h"

namespace ec::capture {
namespace {

constexpr const char* kHaproxy = "/usr/sbin/haproxy";

struct Messages {
  std::mutex mu;
  std::vector<SyslogMessage> got;
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return got.size();
  }
};

TEST(HaproxyToSyslog, ExchangeArrivesDecodable) {
  if (access(kHaproxy, X_OK) != 0) GTEST_SKIP() << "haproxy is not installed (scripts/install-deps.sh)";
  testing::TestUpstream up;
  Messages m;
  SyslogListenerOptions so;
  so.udp_listen = "127.0.0.1:0";
  so.tcp_listen = "127.0.0.1:0";
  auto listener = SyslogListener::Start(
      so,
      [&](SyslogMessage&& msg) {
        std::lock_guard<std::mutex> lock(m.mu);
        m.got.push_back(std::move(msg));
      },
      [](std::string_view raw, const Status& why) { ADD_FAILURE() << why.ToString() << " " << raw; });
  ASSERT_TRUE(listener.ok()) << listener.status().ToString();

  std::string dir = std::filesystem::temp_directory_path() / ("ec-haproxy-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  uint16_t port = testing::FreePort();
  std::ofstream(dir + "/haproxy.cfg") << R"(global
    log 127.0.0.1:)" << (*listener)->udp_port() << R"( len 65535 format rfc5424 local0 info
    log tcp@127.0.0.1:)" << (*listener)->tcp_port() << R"( len 65535 format rfc5424 local1 info
    tune.bufsize 65536
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe_api
    bind 127.0.0.1:)" << port << R"(
    unique-id-format %{+X}o\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid
    option http-buffer-request
    http-request set-var(txn.method)   method
    http-request set-var(txn.path)     path
    http-request set-var(txn.query)    query
    http-request set-var(txn.reqhdrs)  req.hdrs
    http-request set-var(txn.reqbody)  req.body
    http-request set-var(txn.reqctype) req.hdr(content-type)
    http-response wait-for-body time 2s
    http-response set-var(txn.resbody)  res.body
    http-response set-var(txn.resctype) res.hdr(content-type)
    log-format '{"ts":"%trg","client":"%ci","method":"%[var(txn.method),json(utf8s)]","path":"%[var(txn.path),json(utf8s)]","query":"%[var(txn.query),json(utf8s)]","version":"%HV","req_headers_raw":"%[var(txn.reqhdrs),json(utf8s)]","req_content_type":"%[var(txn.reqctype),json(utf8s)]","req_body_b64":"%[var(txn.reqbody),base64]","status":%ST,"res_headers":{"content-type":"%[var(txn.resctype),json(utf8s)]"},"res_body_b64":"%[var(txn.resbody),base64]","Ta":%Ta,"Tr":%Tr,"frontend":"%f","backend":"%b","server":"%s","unique_id":"%ID"}'
    default_backend be_api
backend be_api
    server s1 127.0.0.1:)" << up.port() << "\n";
  pid_t pid = fork();
  if (pid == 0) {
    execl(kHaproxy, kHaproxy, "-db", "-q", "-f", (dir + "/haproxy.cfg").c_str(), nullptr);
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  int fd = -1;
  for (int i = 0; i < 100 && fd < 0; ++i) {
    fd = testing::ConnectTo(port);
    if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(fd, 0) << "haproxy did not start";
  std::string body = R"({"sku":"A1","qty":2})";
  ASSERT_TRUE(testing::WriteAll(fd, "POST /echo/orders?dry=false HTTP/1.1\r\nHost: shop.example\r\n"
                                    "Content-Type: application/json\r\nContent-Length: " +
                                        std::to_string(body.size()) + "\r\n\r\n" + body));
  std::string pending;
  std::string resp = testing::ReadOneResponse(fd, &pending);
  close(fd);
  EXPECT_NE(resp.find(body), std::string::npos);
  // Logged twice: once over UDP, once over TCP (LF framing).
  for (int i = 0; i < 300 && m.size() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  std::filesystem::remove_all(dir);
  ASSERT_EQ(m.size(), 2u);
  std::lock_guard<std::mutex> lock(m.mu);
  for (const SyslogMessage& msg : m.got) {
    EXPECT_EQ(msg.format, SyslogFormat::kRfc5424);
    EXPECT_EQ(msg.app_name, "haproxy");
    Arena arena;
    json::Value raw;
    ASSERT_TRUE(json::ParseInto(msg.msg, &arena, &raw).ok()) << msg.msg;
    ASSERT_TRUE(pipeline::gateways::LooksLikeHaproxy(raw));
    std::vector<json::Value> out;
    Status s = pipeline::gateways::DecodeHaproxy(raw, {}, &arena, &out);
    ASSERT_TRUE(s.ok()) << s.ToString();
    const json::Value& x = out[0];
    EXPECT_EQ(x.Find("request")->Find("method")->string(), "POST");
    EXPECT_EQ(x.Find("request")->Find("path")->string(), "/echo/orders");
    EXPECT_EQ(x.Find("request")->Find("query")->Find("dry")->string(), "false");
    EXPECT_EQ(x.Find("request")->Find("headers")->Find("host")->string(), "shop.example");
    EXPECT_EQ(json::ToJson(*x.Find("request")->Find("body")), body);
    EXPECT_EQ(x.Find("response")->Find("status")->number(), 200);
    EXPECT_EQ(json::ToJson(*x.Find("response")->Find("body")), body);
    EXPECT_EQ(x.Find("gateway")->Find("service")->string(), "be_api");
  }
}

}  // namespace
}  // namespace ec::capture
