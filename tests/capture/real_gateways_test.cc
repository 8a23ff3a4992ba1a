// Real software in front of `eventception serve` (Debian packages, started and stopped here on
// free 127.0.0.1 ports): nginx + lua-nginx-module shipping full exchanges to HTTP ingest and to
// the syslog listener, syslog-ng forwarding exchange lines, kcat producing Kong kafka-log
// messages. Each test follows one client request (or gateway line) to the CloudEvent on
// shop.order.placed, read back with kcat.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "child_process.h"
#include "serve_helpers.h"
#include "server/serve_process.h"
#include "test_upstream.h"

namespace ec::capture {
namespace {

using server::testing::ServeProcess;
using testing::ChildProcess;
using testing::Keys;
using testing::kSpec;
using testing::Message;
using testing::PortFromLog;
using testing::WaitFor;

constexpr const char* kNginx = "/usr/sbin/nginx";
constexpr const char* kLuaModule = "/usr/lib/nginx/modules/ngx_http_lua_module.so";
constexpr const char* kSyslogNg = "/usr/sbin/syslog-ng";
constexpr const char* kKcat = "/usr/bin/kcat";

bool Exists(const char* path) { return access(path, R_OK) == 0; }

class RealGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ec_real_gw_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    gateway_.reset();
    if (server_) server_->Kill();
    std::filesystem::remove_all(dir_);
  }
  void StartServe(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--spec", kSpec, "--data-dir", (dir_ / "data").string(),
                                     "--http", "127.0.0.1:0", "--kafka", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ServeProcess>(args);
    ASSERT_TRUE(server_->Start()) << server_->log();
    for (int i = 0; i < 100 && server_->log().find("Send an exchange") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // Waits until `port` accepts connections (the gateway is up).
  bool WaitListening(uint16_t port) {
    for (int i = 0; i < 200; ++i) {
      int fd = testing::ConnectTo(port);
      if (fd >= 0) {
        close(fd);
        return true;
      }
      if (gateway_ && !gateway_->running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }

  std::filesystem::path dir_;
  std::unique_ptr<ServeProcess> server_;
  std::unique_ptr<ChildProcess> gateway_;
};

// nginx in front of the upstream; `sink` is "HOST PORT PATH" for the Lua POST (or empty),
// `syslog_port` the UDP port of access_log syslog: (or 0).
std::string NginxConf(const std::filesystem::path& dir, uint16_t listen, uint16_t upstream,
                      const std::string& sink, uint16_t syslog_port) {
  std::string d = dir.string();
  std::string conf;
  if (geteuid() == 0) conf += "user root;\n";
  conf += "worker_processes 1;\ndaemon off;\npid " + d + "/nginx.pid;\nerror_log " + d + "/error.log info;\n";
  conf += "load_module /usr/lib/nginx/modules/ndk_http_module.so;\n";
  conf += std::string("load_module ") + kLuaModule + ";\n";
  conf += "events { worker_connections 64; }\nhttp {\n";
  for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    conf += std::string("  ") + t + "_temp_path " + d + "/tmp_" + t + ";\n";
  }
  conf += "  access_log off;\n  lua_package_path \"" + std::string(EC_SOURCE_DIR) + "/tests/capture/nginx/?.lua;;\";\n";
  conf += "  log_format apijson_lua escape=none '$apilog_json';\n";
  conf += "  upstream api { server 127.0.0.1:" + std::to_string(upstream) + "; keepalive 4; }\n";
  conf += "  server {\n    listen 127.0.0.1:" + std::to_string(listen) + ";\n";
  conf += "    client_body_buffer_size 1m;\n    set $apilog_json \"\";\n    set $apilog_sink \"" + sink + "\";\n";
  conf += "    location / {\n      proxy_pass http://api;\n      proxy_http_version 1.1;\n";
  conf += "      proxy_set_header Connection \"\";\n      proxy_set_header Accept-Encoding \"\";\n";
  conf += "      access_by_lua_block { require(\"apilog\").access() }\n";
  conf += "      body_filter_by_lua_block { require(\"apilog\").body_filter() }\n";
  conf += "      log_by_lua_block { require(\"apilog\").log() }\n";
  if (syslog_port != 0) {
    conf += "      access_log syslog:server=127.0.0.1:" + std::to_string(syslog_port) +
            ",facility=local7,tag=nginx,severity=info apijson_lua;\n";
  }
  conf += "    }\n  }\n}\n";
  return conf;
}

// One order through nginx; returns the response (status line included).
std::string OrderThrough(uint16_t port, const std::string& order_id) {
  int fd = testing::ConnectTo(port);
  if (fd < 0) return "";
  std::string body = R"({"customer":{"id":"c-ng"},"items":[{"sku":"N1","price":7,"qty":2}],"currency":"EUR"})";
  testing::WriteAll(fd, "POST /api/orders HTTP/1.1\r\nHost: shop.example.com\r\nContent-Type: application/json\r\n"
                        "X-Order-Id: " + order_id + "\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body);
  std::string pending;
  std::string resp = testing::ReadOneResponse(fd, &pending);
  close(fd);
  return resp;
}


TEST_F(RealGatewayTest, NginxWithLuaShipsFullExchangesToHttpIngest) {
  if (!Exists(kNginx) || !Exists(kLuaModule)) GTEST_SKIP() << "nginx / libnginx-mod-http-lua not installed (scripts/install-deps.sh)";
  testing::TestUpstream upstream;
  StartServe({});
  uint16_t port = testing::FreePort();
  std::ofstream(dir_ / "nginx.conf") << NginxConf(dir_, port, upstream.port(),
                                                  "127.0.0.1 " + std::to_string(server_->http_port()) +
                                                      " /v1/exchanges?format=nginx", 0);
  gateway_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{kNginx, "-p", dir_.string(), "-c", (dir_ / "nginx.conf").string(), "-e",
                               (dir_ / "error.log").string()},
      (dir_ / "nginx.out").string());
  ASSERT_TRUE(gateway_->Start());
  ASSERT_TRUE(WaitListening(port)) << gateway_->log();
  std::string resp = OrderThrough(port, "o-ng-http");
  ASSERT_NE(resp.find("201 Created"), std::string::npos) << resp;
  std::vector<Message> events = WaitFor(server_->kafka_port(), "shop.order.placed", 1);
  ASSERT_EQ(events.size(), 1u) << server_->log() << gateway_->log();
  EXPECT_EQ(events[0].key, "o-ng-http");
  EXPECT_EQ(events[0].payload, R"({"orderId":"o-ng-http","customer":"c-ng","items":1,"total":14,"currency":"EUR"})");
  // The raw exchange carries nginx's request id and the gateway kind.
  std::vector<Message> raw = testing::Consume(server_->kafka_port(), "api-logs");
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_NE(raw[0].payload.find(R"("kind":"nginx")"), std::string::npos) << raw[0].payload;
  gateway_->Stop();
  EXPECT_EQ(server_->Stop(), 0);
}

TEST_F(RealGatewayTest, NginxWithLuaLogsFullExchangesToTheSyslogListener) {
  if (!Exists(kNginx) || !Exists(kLuaModule)) GTEST_SKIP() << "nginx / libnginx-mod-http-lua not installed (scripts/install-deps.sh)";
  testing::TestUpstream upstream;
  StartServe({"--syslog-udp", "127.0.0.1:0", "--syslog-format", "nginx"});
  uint16_t udp = PortFromLog(server_->log(), "Syslog listening on udp 127\\.0\\.0\\.1:(\\d+)");
  ASSERT_NE(udp, 0) << server_->log();
  uint16_t port = testing::FreePort();
  std::ofstream(dir_ / "nginx.conf") << NginxConf(dir_, port, upstream.port(), "", udp);
  gateway_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{kNginx, "-p", dir_.string(), "-c", (dir_ / "nginx.conf").string(), "-e",
                               (dir_ / "error.log").string()},
      (dir_ / "nginx.out").string());
  ASSERT_TRUE(gateway_->Start());
  ASSERT_TRUE(WaitListening(port)) << gateway_->log();
  std::string resp = OrderThrough(port, "o-ng-syslog");
  ASSERT_NE(resp.find("201 Created"), std::string::npos) << resp;
  std::vector<Message> events = WaitFor(server_->kafka_port(), "shop.order.placed", 1);
  ASSERT_EQ(events.size(), 1u) << server_->log();
  EXPECT_EQ(events[0].key, "o-ng-syslog");
  EXPECT_EQ(events[0].payload, R"({"orderId":"o-ng-syslog","customer":"c-ng","items":1,"total":14,"currency":"EUR"})");
  gateway_->Stop();
  EXPECT_EQ(server_->Stop(), 0);
}

TEST_F(RealGatewayTest, SyslogNgForwardsExchangeLinesToTheListener) {
  if (!Exists(kSyslogNg)) GTEST_SKIP() << "syslog-ng is not installed (syslog-ng-core; scripts/install-deps.sh)";
  StartServe({"--syslog-tcp", "127.0.0.1:0"});
  uint16_t tcp = PortFromLog(server_->log(), "Syslog listening on tcp 127\\.0\\.0\\.1:(\\d+)");
  ASSERT_NE(tcp, 0) << server_->log();
  // A gateway writes NDJSON; syslog-ng tails it and forwards RFC 5424, octet-counted, over TCP.
  std::string file = (dir_ / "exchanges.ndjson").string();
  std::ofstream(file).close();
  std::string d = dir_.string();
  std::ofstream(dir_ / "syslog-ng.conf")
      << "@version: 3.38\n"
         "options { keep-hostname(yes); log-msg-size(1048576); stats-freq(0); frac-digits(6); };\n"
         "source s_file { file(\"" << file << "\" flags(no-parse) follow-freq(0.1) log-msg-size(1048576)); };\n"
         "destination d_us { syslog(\"127.0.0.1\" port(" << tcp << ") transport(\"tcp\")); };\n"
         "log { source(s_file); destination(d_us); };\n";
  gateway_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{kSyslogNg, "-F", "--no-caps", "-f", d + "/syslog-ng.conf", "-R", d + "/persist", "-p",
                               d + "/syslog-ng.pid", "-c", d + "/syslog-ng.ctl"},
      d + "/syslog-ng.out");
  ASSERT_TRUE(gateway_->Start());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(gateway_->running()) << gateway_->log();
  {
    std::ofstream out(file, std::ios::app);
    out << testing::OrderExchange("sng-1", "o-sng-1") << "\n" << testing::OrderExchange("sng-2", "o-sng-2") << "\n";
  }
  std::vector<Message> events = WaitFor(server_->kafka_port(), "shop.order.placed", 2);
  EXPECT_EQ(Keys(events), (std::set<std::string>{"o-sng-1", "o-sng-2"})) << server_->log() << gateway_->log();
  gateway_->Stop();
  EXPECT_EQ(server_->Stop(), 0);
}

TEST_F(RealGatewayTest, KcatProducesKongKafkaLogMessagesIntoApiLogs) {
  if (!Exists(kKcat)) GTEST_SKIP() << "kcat is not installed (scripts/install-deps.sh)";
  StartServe({});
  // Kong's kafka-log message: the log serializer JSON, bodies added by custom_fields_by_lua.
  std::string msg =
      R"({"request":{"method":"POST","uri":"/api/orders","url":"http://shop.example.com:8000/api/orders","size":120,)"
      R"("querystring":{},"headers":{"content-type":"application/json","host":"shop.example.com","authorization":"Bearer k-secret"},)"
      R"("body":"{\"customer\":{\"id\":\"c-kong\"},\"items\":[{\"sku\":\"K1\",\"price\":5,\"qty\":4}],\"currency\":\"EUR\"}"},)"
      R"("response":{"status":201,"size":60,"headers":{"content-type":"application/json"},"body":"{\"id\":\"o-kong-1\",\"status\":\"placed\"}"},)"
      R"("started_at":1795743453123,"latencies":{"request":12,"kong":2,"proxy":10},"client_ip":"203.0.113.7",)"
      R"("service":{"name":"shop","host":"shop.internal"},"route":{"paths":["/api"]},"upstream_uri":"/api/orders"})";
  std::ofstream(dir_ / "kong.ndjson") << msg << "\n";
  std::string out = testing::RunCommand(std::string(kKcat) + " -P -b 127.0.0.1:" + std::to_string(server_->kafka_port()) +
                                        " -t api-logs -H eventception-format=kong -l " + (dir_ / "kong.ndjson").string() + " 2>&1");
  std::vector<Message> events = WaitFor(server_->kafka_port(), "shop.order.placed", 1);
  ASSERT_EQ(events.size(), 1u) << out << server_->log();
  EXPECT_EQ(events[0].key, "o-kong-1");
  EXPECT_EQ(events[0].payload, R"({"orderId":"o-kong-1","customer":"c-kong","items":1,"total":20,"currency":"EUR"})");
  // Redacted before disk: the Authorization header never reached api-logs.
  std::string grep = testing::RunCommand("grep -rl 'k-secret' " + (dir_ / "data").string() + " 2>/dev/null");
  EXPECT_EQ(grep, "");
  EXPECT_EQ(server_->Stop(), 0);
}

}  // namespace
}  // namespace ec::capture
