// Replay through the real binary: after an event definition is added by PUT, a replay emits
// exactly the events the new definition would have emitted for the earlier history, with the
// ids a live run gives (checked against a server that had the definition from the start);
// --into a fresh topic; a resource rebuild (server job and offline CLI) gives the live state;
// the offline CLI refuses a data dir a server holds.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "server/reload_test_support.h"
#include "server/serve_process.h"
#include "server/test_http_client.h"

namespace ec::server::testing {
namespace {

namespace fs = std::filesystem;

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ec_replay_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<ServeProcess> Serve(const fs::path& spec, const fs::path& data) {
    auto p = std::make_unique<ServeProcess>(std::vector<std::string>{
        "--spec", spec.string(), "--data-dir", data.string(), "--http", "127.0.0.1:0", "--kafka", "127.0.0.1:0"});
    EXPECT_TRUE(p->Start()) << p->log();
    return p;
  }

  // Creates [from, to); updates of orders [from, from + updates) with total 7.
  static void Send(uint16_t port, int from, int to, int updates = 0) {
    std::string body;
    for (int i = from; i < to; ++i) body += OrderExchange(i) + "\n";
    for (int i = from; i < from + updates; ++i) body += OrderExchange(i, true, 7) + "\n";
    TestHttpClient c(port);
    ClientResponse r = c.Request("POST", "/v1/exchanges", body, {{"content-type", "application/x-ndjson"}});
    ASSERT_TRUE(r.status == 200 || r.status == 202) << r.status << " " << r.body;
  }

  // Runs a replay job and waits for it; returns its final status JSON.
  static std::string Replay(uint16_t port, const std::string& request) {
    TestHttpClient c(port);
    ClientResponse r = c.Request("POST", "/v1/replay", request, {{"content-type", "application/json"}});
    EXPECT_EQ(r.status, 202) << r.body;
    auto doc = json::Parse(r.body);
    if (!doc.ok() || (*doc)->root().Find("id") == nullptr) return r.body;
    std::string id((*doc)->root().Find("id")->string());
    for (int i = 0; i < 1500; ++i) {
      ClientResponse s = c.Request("GET", "/v1/replay/" + id);
      if (s.body.find("\"state\":\"running\"") == std::string::npos) return s.body;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "timeout";
  }

  // key -> state JSON of every live key of resource `order`.
  static std::map<std::string, std::string> States(uint16_t port) {
    std::map<std::string, std::string> out;
    TestHttpClient c(port);
    ClientResponse keys = c.Request("GET", "/v1/resources/order?limit=1000");
    auto doc = json::Parse(keys.body);
    if (!doc.ok()) return out;
    const json::Value* list = (*doc)->root().Find("keys");
    if (list == nullptr) return out;
    for (const json::Value& k : list->array()) {
      std::string key(k.string());
      out[key] = c.Request("GET", "/v1/resources/order/" + key).body;
    }
    return out;
  }

  // The resource state once `n` keys are there and two reads agree. The state store is applied
  // just after a pass's transaction commits, so a read right after the events are visible may
  // not show that pass yet.
  static std::map<std::string, std::string> SettledStates(uint16_t port, size_t n) {
    std::map<std::string, std::string> last;
    for (int i = 0; i < 500; ++i) {
      std::map<std::string, std::string> now = States(port);
      if (now.size() == n && now == last) return now;
      last = std::move(now);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return last;
  }

  // exchange id -> ce_id of `recs`.
  static std::map<std::string, std::string> Ids(const std::vector<TopicRecord>& recs) {
    std::map<std::string, std::string> m;
    for (const TopicRecord& r : recs) m[r.exchange] = r.ce_id;
    return m;
  }

  fs::path dir_;
};

TEST_F(ReplayTest, AddedDefinitionIntoAndRebuild) {
  fs::path v1 = dir_ / "shop.yaml";
  WriteText(v1, OrdersSpec("1"));
  const std::string v2 = OrdersSpec("2", ExtraEvent("order.audited", "audit"));
  auto serve = Serve(v1, dir_ / "data");
  uint16_t port = serve->http_port();
  Send(port, 0, 30, 10);
  ASSERT_EQ(WaitTopic(port, "orders", 30).size(), 30u);
  ASSERT_EQ(WaitTopic(port, "orders.changelog", 40).size(), 40u);  // 30 c + 10 u

  TestHttpClient c(port);
  ASSERT_EQ(c.Request("PUT", "/v1/specs/shop", v2).status, 200);
  Send(port, 30, 40);
  ASSERT_EQ(WaitTopic(port, "audit", 10).size(), 10u);

  // The replay ends where the switch happened: exactly exchanges 0..29 get their audit event.
  std::string done = Replay(port, R"({"from":"earliest","event":"order.audited"})");
  ASSERT_NE(done.find("\"state\":\"done\""), std::string::npos) << done;
  EXPECT_NE(done.find("\"written\":30"), std::string::npos) << done;
  std::vector<TopicRecord> audit = ReadTopic(port, "audit");
  std::map<std::string, int> count = CountByExchange(audit);
  ASSERT_EQ(audit.size(), 40u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(count["c" + std::to_string(1000 + i) + "-0"], 1) << i;
  for (const TopicRecord& r : audit) EXPECT_EQ(r.ce_type, "order.audited");
  EXPECT_EQ(ReadTopic(port, "orders").size(), 40u);  // other types are not written again

  // --into a fresh topic: the same events (same ids) in one new topic.
  done = Replay(port, R"({"from":0,"event":"order.audited","into":"audit.backfill"})");
  ASSERT_NE(done.find("\"state\":\"done\""), std::string::npos) << done;
  std::vector<TopicRecord> backfill = ReadTopic(port, "audit.backfill");
  EXPECT_EQ(backfill.size(), 30u);
  std::map<std::string, std::string> ids = Ids(audit);
  for (const auto& [x, id] : Ids(backfill)) EXPECT_EQ(ids[x], id) << x;

  // Bad requests.
  EXPECT_EQ(c.Request("POST", "/v1/replay", R"({"from":"earliest","event":"no.such"})").status, 400);
  EXPECT_EQ(c.Request("POST", "/v1/replay", R"({"from":5,"resource":"order"})").status, 400);
  EXPECT_EQ(c.Request("POST", "/v1/replay", R"({"from":"yesterday"})").status, 400);

  // Rebuild in the server: same state as the live run, and nothing written to the changelog.
  std::map<std::string, std::string> live = SettledStates(port, 40);
  ASSERT_EQ(live.size(), 40u);
  done = Replay(port, R"({"from":"earliest","resource":"order"})");
  ASSERT_NE(done.find("\"state\":\"done\""), std::string::npos) << done;
  EXPECT_NE(done.find("\"exchanges\":50"), std::string::npos) << done;
  EXPECT_EQ(States(port), live);
  EXPECT_EQ(ReadTopic(port, "orders.changelog").size(), 50u);  // 40 c + 10 u, nothing new
  // With snapshot: one `r` record per live key.
  done = Replay(port, R"({"from":"earliest","resource":"order","snapshot":true})");
  ASSERT_NE(done.find("\"state\":\"done\""), std::string::npos) << done;
  std::vector<TopicRecord> changelog = ReadTopic(port, "orders.changelog");
  ASSERT_EQ(changelog.size(), 90u);
  for (size_t i = 50; i < changelog.size(); ++i) {
    EXPECT_NE(changelog[i].value.find("\"op\":\"r\",\"before\":null"), std::string::npos) << changelog[i].value;
  }
  // The pipeline goes on after a rebuild.
  Send(port, 40, 45);
  EXPECT_EQ(WaitTopic(port, "audit", 45).size(), 45u);
  live = SettledStates(port, 45);
  ASSERT_EQ(live.size(), 45u);

  // The offline CLI refuses the data dir while the server holds it and points to --server.
  std::string out = RunCommand(std::string(EC_BINARY) + " replay --from earliest --resource order --data-dir " +
                               (dir_ / "data").string() + " --spec " + v1.string() + " 2>&1; echo rc=$?");
  EXPECT_NE(out.find("--server"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=1"), std::string::npos) << out;
  // Through the server with the CLI.
  out = RunCommand(std::string(EC_BINARY) + " replay --server http://127.0.0.1:" + std::to_string(port) +
                   " --from earliest --event order.audited --into audit.cli 2>&1; echo rc=$?");
  EXPECT_NE(out.find("\"state\":\"done\""), std::string::npos) << out;
  EXPECT_NE(out.find("rc=0"), std::string::npos) << out;
  EXPECT_EQ(ReadTopic(port, "audit.cli").size(), 30u);
  EXPECT_EQ(serve->Stop(), 0) << serve->log();

  // Offline rebuild on the stopped server's data dir gives the same state.
  out = RunCommand(std::string(EC_BINARY) + " replay --from earliest --resource order --data-dir " +
                   (dir_ / "data").string() + " --spec " + v1.string() + " 2>&1; echo rc=$?");
  EXPECT_NE(out.find("rc=0"), std::string::npos) << out;
  serve = Serve(v1, dir_ / "data");
  EXPECT_EQ(States(serve->http_port()), live);
  EXPECT_EQ(serve->Stop(), 0) << serve->log();

  // A live run that had the definition from the start gives the same ids.
  fs::path ref_spec = dir_ / "ref.yaml";
  WriteText(ref_spec, v2);
  auto ref = Serve(ref_spec, dir_ / "ref");
  Send(ref->http_port(), 0, 30, 10);
  Send(ref->http_port(), 30, 40);
  std::vector<TopicRecord> ref_audit = WaitTopic(ref->http_port(), "audit", 40);
  ASSERT_EQ(ref_audit.size(), 40u);
  EXPECT_EQ(Ids(ref_audit), ids);
  EXPECT_EQ(ref->Stop(), 0) << ref->log();
}

}  // namespace
}  // namespace ec::server::testing
