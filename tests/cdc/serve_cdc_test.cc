// `eventception serve` with changelogs: the real binary on free ports over a temp data dir.
// Exchanges in over HTTP; the changelog read back with kcat (compacted topic); the state
// through GET /v1/resources/...; the RocksDB state surviving a restart.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "json/document.h"
#include "server/serve_process.h"
#include "server/test_http_client.h"

namespace ec::cdc {
namespace {

using ec::server::testing::ClientResponse;
using ec::server::testing::RunCommand;
using ec::server::testing::ServeProcess;
using ec::server::testing::TestHttpClient;

const std::string kSpec = std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml";

std::string Exchange(const std::string& id, const std::string& time, const std::string& method,
                     const std::string& path, int status, const std::string& response_body) {
  return R"({"id":")" + id + R"(","time":")" + time + R"(","request":{"method":")" + method + R"(","path":"/api)" +
         path + R"(","headers":{"content-type":"application/json"},"body":{"customer":{"id":"c-1"},"items":[]}},)"
         R"("response":{"status":)" + std::to_string(status) +
         R"(,"headers":{"content-type":"application/json"},"body":)" + response_body + "}}";
}

class ServeCdcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ec_serve_cdc_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (server_) server_->Kill();
    std::filesystem::remove_all(dir_);
  }
  void Start() {
    server_ = std::make_unique<ServeProcess>(std::vector<std::string>{
        "--spec", kSpec, "--data-dir", (dir_ / "data").string(), "--http", "127.0.0.1:0", "--kafka", "127.0.0.1:0"});
    ASSERT_TRUE(server_->Start()) << server_->log();
    http_ = std::make_unique<TestHttpClient>(server_->http_port());
  }
  // Polls GET `target` until its body contains `want` (or 15 s pass).
  ClientResponse WaitFor(const std::string& target, const std::string& want) {
    ClientResponse r;
    for (int i = 0; i < 150; ++i) {
      r = http_->Request("GET", target);
      if (r.body.find(want) != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return r;
  }

  std::filesystem::path dir_;
  std::unique_ptr<ServeProcess> server_;
  std::unique_ptr<TestHttpClient> http_;
};

TEST_F(ServeCdcTest, ChangelogStateAndRestart) {
  Start();
  std::string batch = Exchange("s-1", "2026-11-27T10:00:01.000Z", "POST", "/orders", 201, R"({"id":"o-1","status":"placed"})") +
                      "\n" +
                      Exchange("s-2", "2026-11-27T10:00:02.000Z", "PUT", "/orders/o-1", 200, R"({"id":"o-1","status":"shipped"})") +
                      "\n" +
                      Exchange("s-3", "2026-11-27T10:00:03.000Z", "POST", "/orders", 201, R"({"id":"o-2","status":"placed"})") +
                      "\n" + Exchange("s-4", "2026-11-27T10:00:04.000Z", "DELETE", "/orders/o-2", 204, "null") + "\n";
  ClientResponse posted = http_->Request("POST", "/v1/exchanges", batch, {{"Content-Type", "application/x-ndjson"}});
  ASSERT_EQ(posted.status, 202) << posted.body;

  ClientResponse state = WaitFor("/v1/resources/order/o-1", "shipped");
  EXPECT_EQ(state.status, 200) << state.body;
  EXPECT_EQ(state.body, R"({"resource":"order","key":"o-1","state":{"id":"o-1","status":"shipped"},"ts_ms":1795773602000})");
  ClientResponse deleted = WaitFor("/v1/resources/order/o-2", "deleted");
  EXPECT_EQ(deleted.status, 404) << deleted.body;
  EXPECT_EQ(http_->Request("GET", "/v1/resources/order").body, R"({"resource":"order","keys":["o-1"],"next":null})");
  EXPECT_EQ(http_->Request("GET", "/v1/resources/nothing").status, 404);
  EXPECT_EQ(http_->Request("GET", "/v1/resources/order?limit=0").status, 400);

  // The changelog over the Kafka protocol: c, u, c, d and the tombstone, keyed.
  std::string out = RunCommand("kcat -C -b 127.0.0.1:" + std::to_string(server_->kafka_port()) +
                               " -t shop.orders.changelog -o beginning -e -q -f '%k|%s\\n' -Z 2>/dev/null");
  std::vector<std::string> lines;
  for (size_t pos = 0; pos < out.size();) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    if (nl > pos) lines.push_back(out.substr(pos, nl - pos));
    pos = nl + 1;
  }
  ASSERT_EQ(lines.size(), 5u) << out;
  EXPECT_EQ(lines[0].substr(0, 9), R"(o-1|{"op")");
  EXPECT_NE(lines[1].find(R"("op":"u")"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(R"("changes":[{"op":"replace","path":"/status","value":"shipped"}])"), std::string::npos);
  EXPECT_NE(lines[3].find(R"(o-2|{"op":"d")"), std::string::npos) << lines[3];
  EXPECT_EQ(lines[4], "o-2|NULL");
  // Created compacted: the log's topic metadata file (<data>/<topics dir>/<name>.conf).
  std::string conf;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ / "data")) {
    if (e.path().filename() == "shop.orders.changelog.conf") conf = RunCommand("cat '" + e.path().string() + "'");
  }
  EXPECT_NE(conf.find("cleanup.policy=compact"), std::string::npos) << conf;

  // The state survives a restart (RocksDB under the data dir).
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
  Start();
  EXPECT_EQ(http_->Request("GET", "/v1/resources/order/o-1").body,
            R"({"resource":"order","key":"o-1","state":{"id":"o-1","status":"shipped"},"ts_ms":1795773602000})");
  // A GET showing the known state after the restart emits nothing; one that differs emits r.
  std::string get = Exchange("s-5", "2026-11-27T10:00:05.000Z", "GET", "/orders/o-1", 200, R"({"id":"o-1","status":"shipped"})") +
                    "\n" +
                    Exchange("s-6", "2026-11-27T10:00:06.000Z", "GET", "/orders/o-1", 200, R"({"id":"o-1","status":"lost"})");
  ASSERT_EQ(http_->Request("POST", "/v1/exchanges", get, {{"Content-Type", "application/x-ndjson"}}).status, 202);
  EXPECT_EQ(WaitFor("/v1/resources/order/o-1", "lost").status, 200);
  out = RunCommand("kcat -C -b 127.0.0.1:" + std::to_string(server_->kafka_port()) +
                   " -t shop.orders.changelog -o beginning -e -q -f '%s\\n' 2>/dev/null");
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 6) << out;
  EXPECT_NE(out.find(R"("op":"r")"), std::string::npos) << out;
}

}  // namespace
}  // namespace ec::cdc
