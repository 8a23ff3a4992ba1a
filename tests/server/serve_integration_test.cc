// Integration tests: the real binary on free ports over a temp data dir, HTTP ingest with our
// test client, events read back with kcat (an independent Kafka client).

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <fstream>
#include <thread>

#include "delivery/signature.h"
#include "delivery/test_receiver.h"
#include "json/document.h"
#include "server/http/gzip.h"
#include "server/serve_process.h"
#include "server/test_http_client.h"

namespace ec::server {
namespace {

using testing::RunCommand;
using testing::ServeProcess;
using testing::ClientResponse;
using testing::TestHttpClient;

const std::string kSpec = std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml";

std::string OrderExchange(const std::string& id, const std::string& order_id) {
  return R"({"id":")" + id + R"(","time":"2026-11-27T10:15:30.123Z","latency_ms":12.5,)"
         R"("request":{"method":"POST","path":"/api/orders","headers":{"Content-Type":"application/json","Authorization":"Bearer s3cret-token"},)"
         R"("body":{"customer":{"id":"c-1"},"items":[{"sku":"A1","price":12.5,"qty":2}],"currency":"EUR"}},)"
         R"("response":{"status":201,"headers":{"content-type":"application/json"},"body":{"id":")" +
         order_id + R"(","status":"placed"}}})";
}

struct KafkaMessage {
  std::string key;
  std::string payload;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Every message of `topic` via kcat (-e: exit at the end).
std::vector<KafkaMessage> Consume(uint16_t port, const std::string& topic) {
  std::string out = RunCommand("kcat -C -b 127.0.0.1:" + std::to_string(port) + " -t " + topic +
                               " -o beginning -e -J -q 2>/dev/null");
  std::vector<KafkaMessage> msgs;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    std::string line = out.substr(pos, nl - pos);
    pos = nl + 1;
    auto doc = json::Parse(line);
    if (!doc.ok() || !(*doc)->root().is_object()) continue;
    const json::Value& m = (*doc)->root();
    KafkaMessage k;
    if (const json::Value* v = m.Find("key"); v && v->is_string()) k.key = std::string(v->string());
    if (const json::Value* v = m.Find("payload"); v && v->is_string()) k.payload = std::string(v->string());
    if (const json::Value* h = m.Find("headers"); h && h->is_array()) {
      for (size_t i = 0; i + 1 < h->size(); i += 2) {
        k.headers.emplace_back(std::string(h->At(i)->string()),
                               h->At(i + 1)->is_string() ? std::string(h->At(i + 1)->string()) : "");
      }
    }
    msgs.push_back(std::move(k));
  }
  return msgs;
}

// Polls until `topic` has at least `n` messages (or 15 s pass).
std::vector<KafkaMessage> WaitFor(uint16_t port, const std::string& topic, size_t n) {
  std::vector<KafkaMessage> msgs;
  for (int i = 0; i < 150; ++i) {
    msgs = Consume(port, topic);
    if (msgs.size() >= n) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return msgs;
}

std::string HeaderOf(const KafkaMessage& m, const std::string& name) {
  for (auto& [k, v] : m.headers) {
    if (k == name) return v;
  }
  return "<absent>";
}

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ec_serve_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    config_ = (dir_ / "config.yaml").string();
    std::ofstream(config_) << "limits:\n  max_body_bytes: 1MiB\n  max_record_bytes: 256KiB\n  max_json_depth: 32\n";
  }
  void TearDown() override {
    if (server_) server_->Kill();
    std::filesystem::remove_all(dir_);
  }

  void StartServer() {
    server_ = std::make_unique<ServeProcess>(std::vector<std::string>{
        "--spec", kSpec, "--config", config_, "--data-dir", (dir_ / "data").string(), "--http",
        "127.0.0.1:0", "--kafka", "127.0.0.1:0"});
    ASSERT_TRUE(server_->Start()) << server_->log();
    http_ = std::make_unique<TestHttpClient>(server_->http_port());
  }

  ClientResponse Post(const std::string& body, const std::string& target = "/v1/exchanges",
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Content-Type", "application/json");
    return http_->Request("POST", target, body, headers);
  }

  std::filesystem::path dir_;
  std::string config_;
  std::unique_ptr<ServeProcess> server_;
  std::unique_ptr<TestHttpClient> http_;
};

TEST_F(ServeTest, ExchangeBecomesEventReadableWithKcat) {
  StartServer();
  // The start-up hint is written after the "listening" line StartServer waits for: poll.
  const std::string hint = "kcat -C -b 127.0.0.1:" + std::to_string(server_->kafka_port());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server_->log().find(hint) == std::string::npos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_NE(server_->log().find(hint), std::string::npos) << server_->log();
  ClientResponse r = Post(OrderExchange("ex-1", "o-1001"));
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.body, R"({"accepted":1,"rejected":[]})");

  std::vector<KafkaMessage> events = WaitFor(server_->kafka_port(), "shop.order.placed", 1);
  ASSERT_EQ(events.size(), 1u) << server_->log();
  EXPECT_EQ(events[0].key, "o-1001");
  EXPECT_EQ(events[0].payload,
            R"({"orderId":"o-1001","customer":"c-1","items":1,"total":25,"currency":"EUR"})");
  EXPECT_EQ(HeaderOf(events[0], "ce_type"), "shop.order.placed");
  EXPECT_EQ(HeaderOf(events[0], "ce_specversion"), "1.0");
  EXPECT_EQ(HeaderOf(events[0], "ce_subject"), "customer/c-1");

  // Redaction happened before disk: the token is nowhere in the data dir.
  std::string grep = RunCommand("grep -rl 's3cret-token' " + (dir_ / "data").string() + " 2>/dev/null");
  EXPECT_EQ(grep, "");
  std::vector<KafkaMessage> raw = Consume(server_->kafka_port(), "api-logs");
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_NE(raw[0].payload.find("[REDACTED]"), std::string::npos) << raw[0].payload;

  // Admin API and metrics see it.
  ClientResponse streams = http_->Request("GET", "/v1/streams");
  EXPECT_EQ(streams.status, 200);
  EXPECT_NE(streams.body.find(R"("type":"shop.order.placed","topic":"shop.order.placed")"), std::string::npos) << streams.body;
  ClientResponse metrics = http_->Request("GET", "/metrics");
  EXPECT_NE(metrics.body.find("eventception_ingested_total{source=\"http\"} 1"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("eventception_emitted_total{type=\"shop.order.placed\",topic=\"shop.order.placed\",operation=\"createOrder\"} 1"),
            std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("eventception_end_to_end_latency_seconds_count"), std::string::npos);
  // Where records wait: the request's durable append (observed before the 202), and each phase
  // of the pass that processed it (observed by the runner thread after the commit: polled).
  EXPECT_NE(metrics.body.find("eventception_ingest_append_seconds_count 1\n"), std::string::npos) << metrics.body;
  for (const char* phase : {"queue", "process", "commit", "state"}) {
    const std::string line = std::string("eventception_pipeline_pass_seconds_count{phase=\"") + phase + "\"} 1\n";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (metrics.body.find(line) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      metrics = http_->Request("GET", "/metrics");
    }
    EXPECT_NE(metrics.body.find(line), std::string::npos) << metrics.body;
  }
  ClientResponse topics = http_->Request("GET", "/v1/topics/shop.order.placed");
  // The event and its transaction's commit marker (exactly-once processing, docs/exactly-once.md).
  EXPECT_NE(topics.body.find(R"("high_watermark":2)"), std::string::npos) << topics.body;
  ClientResponse spec = http_->Request("GET", "/v1/openapi.json");
  EXPECT_EQ(spec.status, 200);
  EXPECT_TRUE(json::Parse(spec.body).ok());
  EXPECT_EQ(http_->Request("GET", "/readyz").status, 200);
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

TEST_F(ServeTest, BadInputIsRejectedClearlyAndTheServerKeepsServing) {
  StartServer();
  ClientResponse broken = Post("{\"request\": {\"method\": \"GET\",,}}");
  EXPECT_EQ(broken.status, 400);
  EXPECT_NE(broken.body.find("line 1, column"), std::string::npos) << broken.body;

  ClientResponse wrong = Post(R"({"request": {"method": 42, "path": ["x"]}, "response": {"status": "ok"}})");
  EXPECT_EQ(wrong.status, 422) << wrong.body;
  EXPECT_NE(wrong.body.find(R"("index":0)"), std::string::npos) << wrong.body;

  ClientResponse huge = Post(std::string(2 << 20, ' '));
  EXPECT_EQ(huge.status, 413) << huge.body;

  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "[";
  for (int i = 0; i < 200; ++i) deep += "]";
  ClientResponse too_deep = Post(R"({"request":{"method":"POST","path":"/api/orders","body":)" + deep +
                                 R"(},"response":{"status":201}})");
  EXPECT_EQ(too_deep.status / 100, 4) << too_deep.body;

  ClientResponse fmt = Post(OrderExchange("ex-2", "o-2"), "/v1/exchanges?format=cobol");
  EXPECT_EQ(fmt.status, 400);
  EXPECT_NE(fmt.body.find("cobol"), std::string::npos);

  // NDJSON with one bad line, gzip-compressed: the good lines are stored.
  std::string nd = OrderExchange("ex-3", "o-3") + "\n{oops\n" + OrderExchange("ex-4", "o-4") + "\n";
  Result<std::string> gz = Gzip(nd);
  ASSERT_TRUE(gz.ok());
  ClientResponse mixed = Post(*gz, "/v1/exchanges", {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(mixed.status, 202) << mixed.body;
  EXPECT_NE(mixed.body.find(R"("accepted":2)"), std::string::npos) << mixed.body;
  EXPECT_NE(mixed.body.find(R"("index":1)"), std::string::npos) << mixed.body;

  // Raw garbage on the socket.
  TestHttpClient raw(server_->http_port());
  EXPECT_EQ(raw.Raw("GARBAGE / HTTP/9\r\n\r\n").status / 100, 4);

  EXPECT_EQ(WaitFor(server_->kafka_port(), "shop.order.placed", 2).size(), 2u);
  TestHttpClient after(server_->http_port());
  EXPECT_EQ(after.Request("GET", "/healthz").status, 200);
  EXPECT_EQ(server_->Stop(), 0);
}

// A number ingest accepts in any spelling reaches the pipeline in AppendJson's: -9.914777326966786e18
// is stored as -9914777326966786000, a negative integer of 19 digits below -2^63 that simdjson
// alone refuses. The pipeline reads it as the double JSON.parse gives (it was dead-lettered).
TEST_F(ServeTest, NumbersIngestStoresAreReadBackByThePipeline) {
  StartServer();
  std::string body = OrderExchange("ex-big", "o-big");
  const std::string price = R"("price":12.5)";
  ASSERT_NE(body.find(price), std::string::npos);
  body.replace(body.find(price), price.size(), R"("price":-9.914777326966786e18)");
  ClientResponse r = Post(body);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.body, R"({"accepted":1,"rejected":[]})");
  std::vector<KafkaMessage> events = WaitFor(server_->kafka_port(), "shop.order.placed", 1);
  ASSERT_EQ(events.size(), 1u) << server_->log();
  EXPECT_EQ(events[0].payload,
            R"({"orderId":"o-big","customer":"c-1","items":1,"total":-19829554653933572000,"currency":"EUR"})");
  std::vector<KafkaMessage> raw = Consume(server_->kafka_port(), "api-logs");
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_NE(raw[0].payload.find("-9914777326966786000"), std::string::npos) << raw[0].payload;
  EXPECT_EQ(Consume(server_->kafka_port(), "eventception.dlq").size(), 0u);
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

TEST_F(ServeTest, ExpressionErrorsBecomeDeadLettersThatCanBeReplayedAndPurged) {
  StartServer();
  // No customer and no items: `subject` and the large-order `when` fail on missing fields.
  std::string bad = R"({"id":"ex-dl","request":{"method":"POST","path":"/api/orders","headers":{"content-type":"application/json"},"body":{"note":"no customer"}},"response":{"status":201,"headers":{"content-type":"application/json"},"body":{"id":"o-dl","status":"placed"}}})";
  ASSERT_EQ(Post(bad).status, 202);
  std::vector<KafkaMessage> dlq = WaitFor(server_->kafka_port(), "eventception.dlq", 1);
  ASSERT_GE(dlq.size(), 1u) << server_->log();
  EXPECT_NE(HeaderOf(dlq[0], "eventception-stage"), "<absent>");

  ClientResponse list = http_->Request("GET", "/v1/dead-letters?limit=10");
  ASSERT_EQ(list.status, 200);
  EXPECT_NE(list.body.find("\"exchange_id\":\"ex-dl\""), std::string::npos) << list.body;
  ClientResponse one = http_->Request("GET", "/v1/dead-letters/0/0");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(http_->Request("GET", "/v1/dead-letters/0/999").status, 404);

  // Replay runs the same exchange again: it fails the same way, so new dead letters appear.
  size_t before = dlq.size();
  ClientResponse replay = http_->Request("POST", "/v1/dead-letters/0/0/replay");
  EXPECT_EQ(replay.status, 200) << replay.body;
  EXPECT_NE(replay.body.find("\"records_written\":"), std::string::npos);
  EXPECT_GT(WaitFor(server_->kafka_port(), "eventception.dlq", before + 1).size(), before);

  ClientResponse purge = http_->Request("DELETE", "/v1/dead-letters");
  EXPECT_EQ(purge.status, 200);
  EXPECT_NE(purge.body.find("\"purged\":"), std::string::npos);
  ClientResponse empty = http_->Request("GET", "/v1/dead-letters");
  EXPECT_NE(empty.body.find("\"dead_letters\":[]"), std::string::npos) << empty.body;
  EXPECT_EQ(server_->Stop(), 0);
}

TEST_F(ServeTest, KafkaProducedExchangesAreIngested) {
  StartServer();
  std::string ex = R"({"id":"ex-k1","request":{"method":"POST","path":"/api/customers","headers":{"content-type":"application/json","cookie":"session=abc"},"body":{"email":"a@b.c","tier":"Gold","password":"pw"}},"response":{"status":201,"headers":{"content-type":"application/json"},"body":{"id":"c-77","email":"a@b.c","tier":"Gold"}}})";
  std::string file = (dir_ / "produce.ndjson").string();
  std::ofstream(file) << ex << "\n";
  RunCommand("kcat -P -b 127.0.0.1:" + std::to_string(server_->kafka_port()) +
             " -t api-logs.web -H eventception-format=canonical -l " + file + " 2>&1");
  std::vector<KafkaMessage> events = WaitFor(server_->kafka_port(), "shop.customer.signed-up", 1);
  ASSERT_EQ(events.size(), 1u) << server_->log();
  EXPECT_EQ(events[0].payload, R"({"customerId":"c-77","tier":"gold"})");
  // The stored raw record is canonical and redacted.
  std::vector<KafkaMessage> raw = Consume(server_->kafka_port(), "api-logs.web");
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_EQ(raw[0].payload.find("session=abc"), std::string::npos) << raw[0].payload;

  // An undecodable record is refused to the producer, not dropped silently.
  std::string bad_file = (dir_ / "bad.ndjson").string();
  std::ofstream(bad_file) << "this is not json\n";
  std::string out = RunCommand("kcat -P -b 127.0.0.1:" + std::to_string(server_->kafka_port()) +
                               " -t api-logs.web -l " + bad_file + " 2>&1");
  EXPECT_NE(out.find("Delivery failed"), std::string::npos) << out;
  EXPECT_EQ(Consume(server_->kafka_port(), "api-logs.web").size(), 1u);
  EXPECT_EQ(server_->Stop(), 0);
}

TEST_F(ServeTest, RestartResumesAtTheCommittedPosition) {
  StartServer();
  ASSERT_EQ(Post(OrderExchange("ex-r1", "o-r1")).status, 202);
  ASSERT_EQ(WaitFor(server_->kafka_port(), "shop.order.placed", 1).size(), 1u);
  ASSERT_EQ(server_->Stop(), 0);

  StartServer();  // same data dir
  ASSERT_EQ(Post(OrderExchange("ex-r2", "o-r2")).status, 202);
  std::vector<KafkaMessage> events = WaitFor(server_->kafka_port(), "shop.order.placed", 2);
  ASSERT_EQ(events.size(), 2u);
  // Give a wrongly restarted pipeline time to re-emit the first event; it must not.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  events = Consume(server_->kafka_port(), "shop.order.placed");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].key, "o-r1");
  EXPECT_EQ(events[1].key, "o-r2");
  ClientResponse metrics = http_->Request("GET", "/metrics");
  EXPECT_NE(metrics.body.find("eventception_processed_total 1\n"), std::string::npos) << metrics.body;
  EXPECT_EQ(server_->Stop(), 0);
}

TEST_F(ServeTest, StructuredModePerTopicFromTheConfigFile) {
  std::ofstream(config_) << "topics:\n  shop.order.placed: {cloudevents_mode: structured, partitions: 2}\n";
  StartServer();
  ASSERT_EQ(Post(OrderExchange("ex-s1", "o-s1")).status, 202);
  std::vector<KafkaMessage> events = WaitFor(server_->kafka_port(), "shop.order.placed", 1);
  ASSERT_EQ(events.size(), 1u) << server_->log();
  auto ce = json::Parse(events[0].payload);
  ASSERT_TRUE(ce.ok()) << events[0].payload;
  const json::Value& root = (*ce)->root();
  EXPECT_EQ(root.Find("specversion")->string(), "1.0");
  EXPECT_EQ(root.Find("type")->string(), "shop.order.placed");
  EXPECT_EQ(root.Find("data")->Find("orderId")->string(), "o-s1");
  EXPECT_EQ(events[0].key, "o-s1");
  ClientResponse topic = http_->Request("GET", "/v1/topics/shop.order.placed");
  EXPECT_NE(topic.body.find(R"("partition":1)"), std::string::npos) << topic.body;
  EXPECT_EQ(server_->Stop(), 0);
}

TEST(ServeCommandTest, SpecErrorsAndBadFlagsFailAtStart) {
  std::string dir = std::filesystem::temp_directory_path() / ("ec_serve_bad_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string bad_config = dir + "/bad.yaml";
  std::ofstream(bad_config) << "limits:\n  max_body_bytes: lots\n";
  ServeProcess p({"--spec", kSpec, "--config", bad_config, "--data-dir", dir + "/data", "--http", "127.0.0.1:0", "--kafka", "127.0.0.1:0"});
  EXPECT_FALSE(p.Start());
  EXPECT_NE(p.log().find("bad.yaml:2:19"), std::string::npos) << p.log();
  EXPECT_EQ(p.exit_code(), 2);
  ServeProcess q({"--spec", dir + "/missing.yaml", "--data-dir", dir + "/data", "--http", "127.0.0.1:0", "--kafka", "127.0.0.1:0"});
  EXPECT_FALSE(q.Start());
  EXPECT_NE(q.log().find("missing.yaml"), std::string::npos) << q.log();
  EXPECT_EQ(q.exit_code(), 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ec::server

namespace ec::server {
namespace {

// Webhooks through `serve`: a subscription made over the admin API receives the event, signed
// per Standard Webhooks, and the signature verifies with the secret shown once at creation.
TEST_F(ServeTest, WebhookSubscriptionReceivesSignedEvents) {
  std::mutex mu;
  std::vector<delivery::testing::ReceivedRequest> got;
  delivery::testing::TestReceiver receiver([&](const delivery::testing::ReceivedRequest& r) {
    std::lock_guard lock(mu);
    got.push_back(r);
    return delivery::testing::Reply{204, "", {}, {}};
  });
  server_ = std::make_unique<ServeProcess>(std::vector<std::string>{
      "--spec", kSpec, "--config", config_, "--data-dir", (dir_ / "data").string(), "--http", "127.0.0.1:0",
      "--kafka", "127.0.0.1:0", "--webhook-allow", "127.0.0.1/32"});
  ASSERT_TRUE(server_->Start()) << server_->log();
  http_ = std::make_unique<TestHttpClient>(server_->http_port());

  ClientResponse sub = Post(R"({"url":")" + receiver.Url("/hook") + R"(","types":["shop.order.*"]})",
                            "/v1/subscriptions");
  ASSERT_EQ(sub.status, 201) << sub.body;
  auto sub_doc = json::Parse(sub.body);
  ASSERT_TRUE(sub_doc.ok());
  std::string secret(sub_doc.value()->root().Find("secret")->string());
  std::string id(sub_doc.value()->root().Find("id")->string());
  // The secret is shown once: reading the subscription back does not return it.
  ClientResponse again = http_->Request("GET", "/v1/subscriptions/" + id);
  EXPECT_EQ(again.body.find(secret), std::string::npos) << again.body;

  ASSERT_EQ(Post(OrderExchange("ex-w1", "o-2001")).status, 202);
  for (int i = 0; i < 150; ++i) {
    {
      std::lock_guard lock(mu);
      if (!got.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::lock_guard lock(mu);
  ASSERT_EQ(got.size(), 1u) << server_->log();
  const auto& r = got[0];
  EXPECT_EQ(r.Header("ce-type"), "shop.order.placed");
  EXPECT_EQ(r.body, R"({"orderId":"o-2001","customer":"c-1","items":1,"total":25,"currency":"EUR"})");
  EXPECT_EQ(r.Header("webhook-id"), r.Header("ce-id"));
  Status verified = delivery::Verify(secret, r.Header("webhook-id"), r.Header("webhook-timestamp"),
                                     r.Header("webhook-signature"), r.body, std::time(nullptr));
  EXPECT_TRUE(verified.ok()) << verified.ToString();
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

// Without --webhook-allow, a loopback receiver is refused by the SSRF guard.
TEST_F(ServeTest, WebhooksToLoopbackAreRefusedUnlessAllowed) {
  StartServer();
  ClientResponse sub = Post(R"({"url":"http://127.0.0.1:9/hook","types":["shop.*"]})", "/v1/subscriptions");
  EXPECT_EQ(sub.status, 400) << sub.body;
  EXPECT_NE(sub.body.find("127.0.0.1"), std::string::npos) << sub.body;
}

}  // namespace
}  // namespace ec::server
