// The capture entry points inside `eventception serve` (the real binary on free ports): the
// syslog listener, the capture proxy, POST /v1/ingest/firehose and tailed files. Each test
// follows exchanges from the wire to a topic, read back with kcat.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "capture/base64.h"
#include "json/document.h"
#include "server/http/gzip.h"
#include "server/serve_process.h"
#include "server/test_http_client.h"
#include "serve_helpers.h"
#include "test_upstream.h"

namespace ec::capture {
namespace {

using server::testing::ClientResponse;
using server::testing::ServeProcess;
using testing::Consume;
using testing::Keys;
using testing::kSpec;
using testing::Message;
using testing::OrderExchange;
using testing::PortFromLog;
using testing::WaitFor;
using server::testing::TestHttpClient;

class ServeSourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ec_sources_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (server_) server_->Kill();
    std::filesystem::remove_all(dir_);
  }
  void Start(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--spec", kSpec, "--data-dir", (dir_ / "data").string(),
                                     "--http", "127.0.0.1:0", "--kafka", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ServeProcess>(args);
    ASSERT_TRUE(server_->Start()) << server_->log();
    for (int i = 0; i < 100 && server_->log().find("Send an exchange") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::filesystem::path dir_;
  std::unique_ptr<ServeProcess> server_;
};

TEST_F(ServeSourcesTest, SyslogOverTcpAndUdpBecomesEventsAndBadLinesAreDeadLettered) {
  Start({"--syslog-udp", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0"});
  uint16_t tcp = PortFromLog(server_->log(), "Syslog listening on.* tcp 127\\.0\\.0\\.1:(\\d+)");
  uint16_t udp = PortFromLog(server_->log(), "Syslog listening on udp 127\\.0\\.0\\.1:(\\d+)");
  ASSERT_NE(tcp, 0) << server_->log();
  ASSERT_NE(udp, 0) << server_->log();

  // TCP: one octet-counted RFC 5424 frame (as syslog-ng/rsyslog send, LF included in the
  // count), one LF-framed RFC 3164 line, one malformed line, one JSON that no decoder takes.
  std::string m1 = "<134>1 2026-11-27T10:15:30.123456+00:00 gw nginx - - - " + OrderExchange("sx-1", "o-s1") + "\n";
  std::string bytes = std::to_string(m1.size()) + " " + m1;
  bytes += "<190>Nov 27 10:15:31 gw nginx: " + OrderExchange("sx-2", "o-s2") + "\n";
  bytes += "this is not syslog at all\n";
  bytes += "<134>1 - gw app - - - {\"neither\":\"an exchange\"}\n";
  int fd = testing::ConnectTo(tcp);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::WriteAll(fd, bytes));
  close(fd);
  // UDP: one datagram, RFC 3164 (nginx's access_log syslog: output).
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(udp);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string dgram = "<190>Nov 27 10:15:32 gw nginx: " + OrderExchange("sx-3", "o-s3");
  ASSERT_EQ(sendto(u, dgram.data(), dgram.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a),
            static_cast<ssize_t>(dgram.size()));
  close(u);

  std::vector<Message> events = WaitFor(server_->kafka_port(), "shop.order.placed", 3);
  EXPECT_EQ(Keys(events), (std::set<std::string>{"o-s1", "o-s2", "o-s3"})) << server_->log();
  std::vector<Message> dlq = WaitFor(server_->kafka_port(), "eventception.dlq", 2);
  ASSERT_EQ(dlq.size(), 2u) << server_->log();
  std::string all = dlq[0].payload + dlq[1].payload;
  EXPECT_NE(all.find("this is not syslog at all"), std::string::npos) << all;
  EXPECT_NE(all.find("neither"), std::string::npos) << all;
  TestHttpClient http(server_->http_port());
  ClientResponse metrics = http.Request("GET", "/metrics");
  EXPECT_NE(metrics.body.find("eventception_syslog_malformed_total{reason=\"malformed\"} 1"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("eventception_syslog_messages_total 4"), std::string::npos) << metrics.body;
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

// The listener hands messages to the ingest queue in packed batches of up to 256: a burst of
// 700 in one write spans three batches (and reads of any size); every message becomes exactly
// one event, the one with its own key.
TEST_F(ServeSourcesTest, SyslogBurstAcrossPackedBatchesLosesAndRepeatsNothing) {
  Start({"--syslog-tcp", "127.0.0.1:0"});
  uint16_t tcp = PortFromLog(server_->log(), "Syslog listening on.* tcp 127\\.0\\.0\\.1:(\\d+)");
  ASSERT_NE(tcp, 0) << server_->log();
  const int n = 700;
  std::string bytes;
  std::set<std::string> want;
  for (int i = 0; i < n; ++i) {
    const std::string key = "o-b" + std::to_string(i);
    std::string m = "<134>1 2026-11-27T10:15:30Z gw nginx - - - " + OrderExchange("bx-" + std::to_string(i), key) + "\n";
    bytes += std::to_string(m.size()) + " " + m;
    want.insert(key);
  }
  int fd = testing::ConnectTo(tcp);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::WriteAll(fd, bytes));
  close(fd);
  std::vector<Message> events = WaitFor(server_->kafka_port(), "shop.order.placed", n);
  EXPECT_EQ(events.size(), static_cast<size_t>(n)) << server_->log();
  EXPECT_EQ(Keys(events), want);
  TestHttpClient http(server_->http_port());
  ClientResponse metrics = http.Request("GET", "/metrics");
  EXPECT_NE(metrics.body.find("eventception_syslog_messages_total 700\n"), std::string::npos) << metrics.body;
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

TEST_F(ServeSourcesTest, CaptureProxyInsideServeRecordsIntoTheLocalPipeline) {
  testing::TestUpstream upstream;
  Start({"--proxy-listen", "127.0.0.1:0", "--proxy-upstream", upstream.url()});
  uint16_t proxy = PortFromLog(server_->log(), "Capture proxy listening on 127\\.0\\.0\\.1:(\\d+)");
  ASSERT_NE(proxy, 0) << server_->log();
  TestHttpClient client(proxy);
  std::string order = R"({"customer":{"id":"c-7"},"items":[{"sku":"B2","price":10,"qty":3}],"currency":"EUR"})";
  ClientResponse r = client.Request("POST", "/api/orders", order,
                                    {{"Content-Type", "application/json"}, {"X-Order-Id", "o-proxy-1"}});
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"id":"o-proxy-1","status":"placed"})");
  std::vector<Message> events = WaitFor(server_->kafka_port(), "shop.order.placed", 1);
  ASSERT_EQ(events.size(), 1u) << server_->log();
  EXPECT_EQ(events[0].key, "o-proxy-1");
  EXPECT_EQ(events[0].payload, R"({"orderId":"o-proxy-1","customer":"c-7","items":1,"total":30,"currency":"EUR"})");
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

TEST_F(ServeSourcesTest, CaptureProxyUnderConcurrentKeepAliveLoadLosesNoExchange) {
  testing::TestUpstream upstream;
  Start({"--proxy-listen", "127.0.0.1:0", "--proxy-upstream", upstream.url()});
  uint16_t proxy = PortFromLog(server_->log(), "Capture proxy listening on 127\\.0\\.0\\.1:(\\d+)");
  ASSERT_NE(proxy, 0) << server_->log();
  constexpr int kClients = 8, kPerClient = 25;
  std::atomic<int> created{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      TestHttpClient client(proxy);  // one keep-alive connection per client
      for (int i = 0; i < kPerClient; ++i) {
        std::string id = "o-load-" + std::to_string(c) + "-" + std::to_string(i);
        ClientResponse r = client.Request("POST", "/api/orders",
                                          R"({"customer":{"id":"c-l"},"items":[{"sku":"L","price":1,"qty":1}],"currency":"EUR"})",
                                          {{"Content-Type", "application/json"}, {"X-Order-Id", id}});
        if (r.status == 201 && r.body.find(id) != std::string::npos) created++;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(created.load(), kClients * kPerClient);
  std::vector<Message> events = WaitFor(server_->kafka_port(), "shop.order.placed", kClients * kPerClient, 30);
  std::set<std::string> keys = Keys(events);
  EXPECT_EQ(events.size(), size_t(kClients * kPerClient));
  EXPECT_EQ(keys.size(), size_t(kClients * kPerClient));
  EXPECT_TRUE(keys.count("o-load-7-24") && keys.count("o-load-0-0"));
  TestHttpClient http(server_->http_port());
  EXPECT_NE(http.Request("GET", "/metrics").body.find("eventception_proxy_captures_dropped_total 0"), std::string::npos);
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

std::string Firehose(const std::string& request_id, const std::vector<std::string>& records) {
  std::string body = R"({"requestId":")" + request_id + R"(","timestamp":1795743453000,"records":[)";
  for (size_t i = 0; i < records.size(); ++i) {
    if (i) body += ",";
    body += R"({"data":")";
    AppendBase64(records[i], &body);
    body += R"("})";
  }
  return body + "]}";
}

TEST_F(ServeSourcesTest, FirehoseDeliveriesAreAuthenticatedAnsweredAndDecoded) {
  Start({"--firehose-access-key", "k-secret"});
  TestHttpClient http(server_->http_port());
  std::string access1 = R"({"requestId":"apigw-1","httpMethod":"POST","path":"/api/orders","status":"201","requestTimeEpoch":1795743453123,"responseLatency":"12","ip":"203.0.113.9","apiId":"a1b2","stage":"prod"})";
  std::string access2 = R"({"httpMethod":"GET","path":"/api/orders/o-9","status":200,"requestTimeEpoch":1795743453200})";
  std::string body = Firehose("fh-req-1", {access1, access2});
  std::vector<std::pair<std::string, std::string>> h = {{"Content-Type", "application/json"},
                                                        {"X-Amz-Firehose-Request-Id", "fh-req-1"}};
  // No key: 401; wrong key: 403; both in Firehose's response shape.
  ClientResponse r = http.Request("POST", "/v1/ingest/firehose", body, h);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.body.rfind(R"({"requestId":"fh-req-1","timestamp":)", 0), 0u) << r.body;
  EXPECT_NE(r.body.find(R"("errorMessage":)"), std::string::npos) << r.body;
  auto wrong = h;
  wrong.emplace_back("X-Amz-Firehose-Access-Key", "nope");
  r = http.Request("POST", "/v1/ingest/firehose", body, wrong);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(Consume(server_->kafka_port(), "api-logs").size(), 0u);

  h.emplace_back("X-Amz-Firehose-Access-Key", "k-secret");
  r = http.Request("POST", "/v1/ingest/firehose", body, h);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("content-type").rfind("application/json", 0), 0u);
  EXPECT_TRUE(std::regex_match(r.body, std::regex(R"(\{"requestId":"fh-req-1","timestamp":\d{13}\})"))) << r.body;

  // A CloudWatch Logs subscription payload (gzip), with a control message beside it.
  std::string cw = R"({"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":[)"
                   R"({"id":"3720","timestamp":1795743454000,"message":"{\"httpMethod\":\"DELETE\",\"path\":\"/api/orders/o-3\",\"status\":204,\"requestTimeEpoch\":1795743454000}"}]})";
  std::string control = R"({"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]})";
  auto gz = server::Gzip(cw);
  auto gz_control = server::Gzip(control);
  ASSERT_TRUE(gz.ok() && gz_control.ok());
  r = http.Request("POST", "/v1/ingest/firehose", Firehose("fh-req-2", {*gz, *gz_control}), h);
  ASSERT_EQ(r.status, 200) << r.body;
  // Not JSON: 400 in the same shape.
  r = http.Request("POST", "/v1/ingest/firehose", "{\"requestId\":\"fh-3\",\"records\":5", h);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("errorMessage"), std::string::npos);

  std::vector<Message> raw = WaitFor(server_->kafka_port(), "api-logs", 3);
  ASSERT_EQ(raw.size(), 3u) << server_->log();
  // Ids: API Gateway's requestId; else the Firehose request id and record index; else the
  // CloudWatch event id.
  EXPECT_EQ(Keys(raw), (std::set<std::string>{"apigw-1", "fh-req-1-1", "3720"}));
  EXPECT_NE(raw[0].payload.find(R"("kind":"aws-apigw")"), std::string::npos) << raw[0].payload;
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

TEST_F(ServeSourcesTest, TailedFileSurvivesRenameAndCopytruncateWithoutLossOrDuplicates) {
  std::string path = (dir_ / "gw.ndjson").string();
  std::ofstream(path) << OrderExchange("f-1", "o-f1") << "\n";
  Start({"--follow-file", path});
  auto append = [&](const std::string& id) {
    std::ofstream out(path, std::ios::app);
    out << OrderExchange("f-" + id, "o-f" + id) << "\n";
  };
  append("2");
  ASSERT_EQ(WaitFor(server_->kafka_port(), "shop.order.placed", 2).size(), 2u) << server_->log();
  // logrotate's default: rename away, new file at the path; the writer's last line goes to the
  // old file after the rename.
  std::filesystem::rename(path, path + ".1");
  {
    std::ofstream old(path + ".1", std::ios::app);
    old << OrderExchange("f-3", "o-f3") << "\n";
  }
  append("4");
  append("5");
  ASSERT_EQ(WaitFor(server_->kafka_port(), "shop.order.placed", 5).size(), 5u) << server_->log();
  // copytruncate: the content is copied elsewhere, the file truncated in place, then written again.
  std::filesystem::copy_file(path, path + ".2");
  std::filesystem::resize_file(path, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  append("6");
  ASSERT_EQ(WaitFor(server_->kafka_port(), "shop.order.placed", 6).size(), 6u) << server_->log();
  // Restart: the position is durable, nothing is read twice; new lines still arrive.
  ASSERT_EQ(server_->Stop(), 0) << server_->log();
  append("7");
  server_ = std::make_unique<ServeProcess>(std::vector<std::string>{
      "--spec", kSpec, "--data-dir", (dir_ / "data").string(), "--http", "127.0.0.1:0", "--kafka",
      "127.0.0.1:0", "--follow-file", path});
  ASSERT_TRUE(server_->Start()) << server_->log();
  std::vector<Message> events = WaitFor(server_->kafka_port(), "shop.order.placed", 7);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  events = Consume(server_->kafka_port(), "shop.order.placed");
  EXPECT_EQ(events.size(), 7u);
  EXPECT_EQ(Keys(events), (std::set<std::string>{"o-f1", "o-f2", "o-f3", "o-f4", "o-f5", "o-f6", "o-f7"}));
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

}  // namespace
}  // namespace ec::capture

namespace ec::capture {
namespace {

std::string HarEntry(const std::string& order_id) {
  return R"({"startedDateTime":"2026-11-27T10:15:30.123Z","time":12,"request":{"method":"POST","url":"https://shop.example.com/api/orders",)"
         R"("httpVersion":"HTTP/1.1","headers":[{"name":"Content-Type","value":"application/json"}],"queryString":[],)"
         R"("postData":{"mimeType":"application/json","text":"{\"customer\":{\"id\":\"c-har\"},\"items\":[{\"sku\":\"H\",\"price\":3,\"qty\":3}],\"currency\":\"EUR\"}"}},)"
         R"("response":{"status":201,"statusText":"Created","httpVersion":"HTTP/1.1","headers":[{"name":"Content-Type","value":"application/json"}],)"
         R"("content":{"size":30,"mimeType":"application/json","text":"{\"id\":\")" + order_id + R"(\",\"status\":\"placed\"}"}},)"
         R"("cache":{},"timings":{"send":0,"wait":12,"receive":0}})";
}

// Writes a pretty-printed HAR file (two entries) and an NDJSON file (two exchanges, one bad line).
void WriteInputs(const std::filesystem::path& dir, const std::string& tag) {
  std::ofstream(dir / "session.har") << "{\n  \"log\": {\n    \"version\": \"1.2\",\n    \"creator\": {\"name\": \"test\", \"version\": \"1\"},\n    \"entries\": [\n      "
                                     << HarEntry("o-" + tag + "-h1") << ",\n      " << HarEntry("o-" + tag + "-h2") << "\n    ]\n  }\n}\n";
  std::ofstream(dir / "exchanges.ndjson") << OrderExchange(tag + "-n1", "o-" + tag + "-n1") << "\n"
                                          << "not json\n"
                                          << OrderExchange(tag + "-n2", "o-" + tag + "-n2") << "\n";
}

TEST_F(ServeSourcesTest, IngestCommandBulkLoadsHarAndNdjsonToARunningServer) {
  Start({});
  WriteInputs(dir_, "blk");
  std::string out = server::testing::RunCommand(
      std::string(EC_BINARY) + " ingest " + (dir_ / "session.har").string() + " " + (dir_ / "exchanges.ndjson").string() +
      " --server http://127.0.0.1:" + std::to_string(server_->http_port()) + " 2>&1; echo rc=$?");
  EXPECT_NE(out.find("4 records sent from 2 file(s), 1 lines skipped"), std::string::npos) << out;
  EXPECT_NE(out.find("exchanges.ndjson:2: skipped"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=3"), std::string::npos) << out;  // a skipped line is reported in the status
  std::vector<Message> events = WaitFor(server_->kafka_port(), "shop.order.placed", 4);
  EXPECT_EQ(Keys(events), (std::set<std::string>{"o-blk-h1", "o-blk-h2", "o-blk-n1", "o-blk-n2"})) << server_->log();
  EXPECT_EQ(server_->Stop(), 0);
}

TEST_F(ServeSourcesTest, IngestCommandLoadsOfflineIntoADataDir) {
  WriteInputs(dir_, "off");
  std::string out = server::testing::RunCommand(
      std::string(EC_BINARY) + " ingest " + (dir_ / "session.har").string() + " " + (dir_ / "exchanges.ndjson").string() +
      " --data-dir " + (dir_ / "data").string() + " 2>&1; echo rc=$?");
  EXPECT_NE(out.find("4 records sent"), std::string::npos) << out;
  // A server is unreachable: the command retries, then fails clearly.
  std::string down = server::testing::RunCommand(std::string(EC_BINARY) + " ingest " + (dir_ / "exchanges.ndjson").string() +
                                                 " --server http://127.0.0.1:" + std::to_string(testing::FreePort()) +
                                                 " --attempts 2 --quiet 2>&1; echo rc=$?");
  EXPECT_NE(down.find("rc=1"), std::string::npos) << down;
  EXPECT_NE(down.find("POST http://127.0.0.1:"), std::string::npos) << down;
  Start({});
  std::vector<Message> events = WaitFor(server_->kafka_port(), "shop.order.placed", 4);
  EXPECT_EQ(Keys(events), (std::set<std::string>{"o-off-h1", "o-off-h2", "o-off-n1", "o-off-n2"})) << server_->log();
  EXPECT_EQ(server_->Stop(), 0);
}

}  // namespace
}  // namespace ec::capture
