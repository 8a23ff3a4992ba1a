// A spec reload keeps the per-operation and per-event counters (/metrics, /v1/specs): the new
// set's counters continue from the old set's for the same operation and event, instead of
// starting again at 0 (they are exposed as monotonic Prometheus counters).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "server/reload_test_support.h"
#include "server/serve_process.h"
#include "server/test_http_client.h"

namespace ec::server::testing {
namespace {

namespace fs = std::filesystem;

// The value of the /metrics line that starts with `series` (name and labels), or -1.
int64_t MetricValue(uint16_t port, const std::string& series) {
  TestHttpClient c(port);
  std::string text = c.Request("GET", "/metrics").body;
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atoll(text.c_str() + at + series.size() + 2);
}

// Polls until the series reaches `want` (the pipeline counts after its pass); returns the last value.
int64_t WaitMetric(uint16_t port, const std::string& series, int64_t want) {
  int64_t v = -1;
  for (int i = 0; i < 500 && v < want; ++i) {
    v = MetricValue(port, series);
    if (v < want) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return v;
}

TEST(ReloadCounters, CountersContinueAcrossAReload) {
  fs::path dir = fs::temp_directory_path() / ("ec_reload_counters_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  WriteText(dir / "orders.yaml", OrdersSpec("1"));
  ServeProcess serve({"--spec", (dir / "orders.yaml").string(), "--data-dir", (dir / "data").string(), "--http",
                      "127.0.0.1:0", "--kafka", "127.0.0.1:0"});
  ASSERT_TRUE(serve.Start()) << serve.log();
  const uint16_t port = serve.http_port();
  const std::string matched = R"(eventception_operation_matched_total{api="Orders",operation="createOrder"})";
  const std::string emitted = R"(eventception_emitted_total{type="order.placed",topic="orders",operation="createOrder"})";
  auto send = [&](int from, int to) {
    std::string body;
    for (int i = from; i < to; ++i) body += OrderExchange(i) + "\n";
    TestHttpClient c(port);
    ClientResponse r = c.Request("POST", "/v1/exchanges", body, {{"content-type", "application/x-ndjson"}});
    ASSERT_TRUE(r.status == 200 || r.status == 202) << r.status << " " << r.body;
  };

  send(0, 20);
  ASSERT_EQ(WaitMetric(port, matched, 20), 20);
  ASSERT_EQ(WaitMetric(port, emitted, 20), 20);
  TestHttpClient c(port);
  // Same operation and event; an extra event definition is new and starts at 0.
  ClientResponse put = c.Request("PUT", "/v1/specs/orders", OrdersSpec("2", ExtraEvent("order.audited", "audit")),
                                 {{"content-type", "application/yaml"}});
  ASSERT_EQ(put.status, 200) << put.body;
  send(20, 30);
  EXPECT_EQ(WaitMetric(port, matched, 30), 30);
  EXPECT_EQ(WaitMetric(port, emitted, 30), 30);
  const std::string audited = R"(eventception_emitted_total{type="order.audited",topic="audit",operation="createOrder"})";
  EXPECT_EQ(WaitMetric(port, audited, 10), 10);
  // Nothing more arrives: the counters stay (a poll past the target would hide a double count).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(MetricValue(port, matched), 30);
  EXPECT_EQ(MetricValue(port, emitted), 30);
  serve.Stop();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ec::server::testing
