// read_committed over the Kafka protocol with the real binary and real clients: a pass held
// open before its decision (test hook EC_TEST_STALL_BEFORE_DECISION) is invisible to
// read_committed consumers (librdkafka and kcat), visible to read_uncommitted ones, and the
// read_committed end offset (ListOffsets) is the last stable offset; after kill -9 and a
// restart the pass is aborted and run again, and read_committed consumers see each change
// record exactly once while read_uncommitted ones also see the aborted attempt.

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "server/serve_process.h"
#include "server/test_http_client.h"

namespace ec::cdc {
namespace {

using ec::server::testing::ClientResponse;
using ec::server::testing::RunCommand;
using ec::server::testing::ServeProcess;
using ec::server::testing::TestHttpClient;

const std::string kSpec = std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml";
const char kTopic[] = "shop.orders.changelog";
constexpr int kOrders = 10;

std::string Orders() {
  std::string out;
  for (int i = 0; i < kOrders; ++i) {
    std::string oid = "o-" + std::to_string(i);
    out += R"({"id":"rc-)" + std::to_string(i) + R"(","time":"2026-11-27T10:00:0)" + std::to_string(i) +
           R"(.000Z","request":{"method":"POST","path":"/api/orders","headers":{"content-type":"application/json"},)"
           R"("body":{"customer":{"id":"c-1"},"items":[]}},"response":{"status":201,"headers":{"content-type":"application/json"},)"
           R"("body":{"id":")" + oid + R"(","status":"placed"}}})" + "\n";
  }
  return out;
}

rd_kafka_t* Consumer(uint16_t port, const std::string& isolation) {
  char err[512];
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  auto set = [&](const char* k, const std::string& v) { rd_kafka_conf_set(c, k, v.c_str(), err, sizeof(err)); };
  set("bootstrap.servers", "127.0.0.1:" + std::to_string(port));
  set("group.id", "eos-rc-" + isolation);
  set("isolation.level", isolation);
  set("enable.partition.eof", "true");
  set("enable.auto.commit", "false");
  return rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
}

// The keys librdkafka delivers from the start of kTopic-0 until the end (as that client sees it).
std::vector<std::string> ConsumeKeys(uint16_t port, const std::string& isolation) {
  rd_kafka_t* rk = Consumer(port, isolation);
  std::vector<std::string> keys;
  if (rk == nullptr) return keys;
  rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, kTopic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, l);
  rd_kafka_topic_partition_list_destroy(l);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
    if (!m->err && m->payload != nullptr) keys.emplace_back(static_cast<const char*>(m->key), m->key_len);
    rd_kafka_message_destroy(m);
    if (eof) break;
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return keys;
}

// High watermark as ListOffsets(latest) answers it for this isolation level.
int64_t EndOffset(uint16_t port, const std::string& isolation) {
  rd_kafka_t* rk = Consumer(port, isolation);
  int64_t lo = -1, hi = -1;
  rd_kafka_query_watermark_offsets(rk, kTopic, 0, &lo, &hi, 10000);
  rd_kafka_destroy(rk);
  return hi;
}

size_t KcatCount(uint16_t port, const std::string& isolation) {
  std::string out = RunCommand("kcat -C -b 127.0.0.1:" + std::to_string(port) + " -t " + kTopic +
                               " -X isolation.level=" + isolation + " -o beginning -e -q -f '%k|%s\\n' 2>/dev/null");
  size_t n = 0;
  for (size_t pos = 0; (pos = out.find("|{", pos)) != std::string::npos; ++pos) ++n;  // tombstones excluded
  return n;
}

TEST(EosReadCommitted, AnAbortedPassIsInvisibleToReadCommittedConsumers) {
  const auto dir = std::filesystem::temp_directory_path() / ("ec_eos_rc_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::vector<std::string> args = {"--spec", kSpec, "--data-dir", (dir / "data").string(), "--http", "127.0.0.1:0",
                                   "--kafka", "127.0.0.1:0"};
  // 1. The first pass writes its outputs and stays open.
  setenv("EC_TEST_STALL_BEFORE_DECISION", "1", 1);
  ServeProcess stalled(args);
  ASSERT_TRUE(stalled.Start()) << stalled.log();
  unsetenv("EC_TEST_STALL_BEFORE_DECISION");
  TestHttpClient http(stalled.http_port());
  ClientResponse r = http.Request("POST", "/v1/exchanges", Orders(), {{"Content-Type", "application/x-ndjson"}});
  ASSERT_EQ(r.status, 202) << r.body;
  const uint16_t port = stalled.kafka_port();
  // The uncommitted change records are in the log (read_uncommitted sees them)...
  std::vector<std::string> uncommitted;
  for (int i = 0; i < 100 && uncommitted.size() < kOrders; ++i) {
    uncommitted = ConsumeKeys(port, "read_uncommitted");
    if (uncommitted.size() < kOrders) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(uncommitted.size(), static_cast<size_t>(kOrders));
  // ...but not below the last stable offset: read_committed consumers get nothing yet.
  EXPECT_EQ(ConsumeKeys(port, "read_committed").size(), 0u);
  EXPECT_EQ(KcatCount(port, "read_committed"), 0u);
  EXPECT_EQ(KcatCount(port, "read_uncommitted"), static_cast<size_t>(kOrders));
  EXPECT_EQ(EndOffset(port, "read_committed"), 0);  // ListOffsets(latest) = LSO
  EXPECT_EQ(EndOffset(port, "read_uncommitted"), kOrders);
  EXPECT_EQ(http.Request("GET", "/v1/resources/order/o-1").status, 404);  // state not committed either
  stalled.Kill();

  // 2. Restart: the open pass is aborted and run again.
  ServeProcess server(args);
  ASSERT_TRUE(server.Start()) << server.log();
  TestHttpClient http2(server.http_port());
  ClientResponse s;
  for (int i = 0; i < 150; ++i) {
    s = http2.Request("GET", "/v1/resources/order/o-9");
    if (s.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(s.status, 200) << s.body;
  const uint16_t port2 = server.kafka_port();
  std::vector<std::string> committed = ConsumeKeys(port2, "read_committed");
  EXPECT_EQ(committed.size(), static_cast<size_t>(kOrders));
  EXPECT_EQ(std::set<std::string>(committed.begin(), committed.end()).size(), static_cast<size_t>(kOrders));
  EXPECT_EQ(ConsumeKeys(port2, "read_uncommitted").size(), 2u * kOrders);  // the aborted attempt too
  EXPECT_EQ(KcatCount(port2, "read_committed"), static_cast<size_t>(kOrders));
  EXPECT_EQ(KcatCount(port2, "read_uncommitted"), 2u * kOrders);
  // Offsets: 10 aborted records + abort marker + 10 committed records + commit marker.
  EXPECT_EQ(EndOffset(port2, "read_committed"), 2 * kOrders + 2);
  EXPECT_EQ(server.Stop(), 0) << server.log();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ec::cdc
