// Spec reload through the real binary: PUT /v1/specs/{name} and SIGHUP switch the running
// spec set at a clean position (each exchange is processed once, by the old or the new set),
// a spec that does not compile is refused with 422 and file:line:col errors, and a PUT spec
// survives a restart.

#include <gtest/gtest.h>
#include <signal.h>

#include <dirent.h>

#include <filesystem>

#include "server/reload_test_support.h"
#include "server/serve_process.h"
#include "server/test_http_client.h"

namespace ec::server::testing {
namespace {

namespace fs = std::filesystem;

// The pid of the process whose command line contains `needle` (a unique temp path), or -1.
pid_t PidWith(const std::string& needle) {
  DIR* d = opendir("/proc");
  pid_t found = -1;
  while (dirent* e = d != nullptr ? readdir(d) : nullptr) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0 || pid == getpid()) continue;
    std::ifstream in("/proc/" + std::string(e->d_name) + "/cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find(needle) != std::string::npos && cmd.find("serve") != std::string::npos) found = pid;
  }
  if (d != nullptr) closedir(d);
  return found;
}

class SpecReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ec_reload_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    spec_ = dir_ / "shop.yaml";
    WriteText(spec_, OrdersSpec("1"));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<ServeProcess> Serve() {
    auto p = std::make_unique<ServeProcess>(std::vector<std::string>{
        "--spec", spec_.string(), "--data-dir", (dir_ / "data").string(), "--http", "127.0.0.1:0", "--kafka",
        "127.0.0.1:0"});
    EXPECT_TRUE(p->Start()) << p->log();
    return p;
  }

  void Send(uint16_t port, int from, int to) {
    std::string body;
    for (int i = from; i < to; ++i) body += OrderExchange(i) + "\n";
    TestHttpClient c(port);
    ClientResponse r = c.Request("POST", "/v1/exchanges", body, {{"content-type", "application/x-ndjson"}});
    ASSERT_TRUE(r.status == 200 || r.status == 202) << r.status << " " << r.body;
  }

  static std::string Xid(int i) { return "c" + std::to_string(1000 + i) + "-0"; }

  // Exactly the exchanges [from, to) appear in `recs`, once each.
  static void ExpectExactly(const std::vector<TopicRecord>& recs, int from, int to, const std::string& what) {
    std::map<std::string, int> m = CountByExchange(recs);
    EXPECT_EQ(m.size(), static_cast<size_t>(to - from)) << what;
    for (int i = from; i < to; ++i) EXPECT_EQ(m[Xid(i)], 1) << what << " " << Xid(i);
  }

  fs::path dir_, spec_;
};

// Redaction happens at ingest, before anything reaches disk: a reload's redaction paths apply to
// the next request, over HTTP and over the Kafka protocol alike (they share the spec set in force).
TEST_F(SpecReloadTest, PutChangesRedactionAtIngest) {
  auto serve = Serve();
  uint16_t port = serve->http_port();
  auto exchange_with_secret = [](int i) {
    std::string x = OrderExchange(i);
    x.replace(x.find("\"headers\":{}"), 12, "\"headers\":{\"x-secret\":\"s3cr3t-" + std::to_string(i) + "\"}");
    return x;
  };
  TestHttpClient c(port);
  ASSERT_EQ(c.Request("POST", "/v1/exchanges", exchange_with_secret(0), {{"content-type", "application/json"}}).status,
            202);
  std::string spec = OrdersSpec("2");
  spec.replace(spec.find("x-eventception:\n"), 16, "x-eventception:\n  redact: [request.headers.x-secret]\n");
  ClientResponse put = c.Request("PUT", "/v1/specs/shop", spec, {{"content-type", "application/yaml"}});
  ASSERT_EQ(put.status, 200) << put.body;
  ASSERT_EQ(c.Request("POST", "/v1/exchanges", exchange_with_secret(1), {{"content-type", "application/json"}}).status,
            202);
  std::vector<TopicRecord> raw = WaitTopic(port, "api-logs", 2);
  ASSERT_EQ(raw.size(), 2u);
  // Before the reload the header was kept as sent; after it, only the marker reaches the log.
  EXPECT_NE(raw[0].value.find("s3cr3t-0"), std::string::npos) << raw[0].value;
  EXPECT_EQ(raw[1].value.find("s3cr3t-1"), std::string::npos) << raw[1].value;
  EXPECT_NE(raw[1].value.find("\"x-secret\":\"[REDACTED]\""), std::string::npos) << raw[1].value;
}

TEST_F(SpecReloadTest, PutSighupBadSpecRestart) {
  auto serve = Serve();
  uint16_t port = serve->http_port();
  Send(port, 0, 30);
  ASSERT_EQ(WaitTopic(port, "orders", 30).size(), 30u);

  // PUT adds an event definition: exchanges after the switch produce it, those before don't.
  TestHttpClient c(port);
  ClientResponse put = c.Request("PUT", "/v1/specs/shop", OrdersSpec("2", ExtraEvent("order.audited", "audit")),
                                 {{"content-type", "application/yaml"}});
  ASSERT_EQ(put.status, 200) << put.body;
  Send(port, 30, 60);
  ExpectExactly(WaitTopic(port, "orders", 60), 0, 60, "orders");
  ExpectExactly(WaitTopic(port, "audit", 30), 30, 60, "audit");

  // A spec that does not compile: 422 with file:line:col, and the running one stays.
  std::string bad = OrdersSpec("3", ExtraEvent("order.broken", "broken"));
  bad.replace(bad.find("response.body.total}"), 20, "response.body.total +}");  // a syntax error
  ClientResponse refused = c.Request("PUT", "/v1/specs/shop", bad, {{"content-type", "application/yaml"}});
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_NE(refused.body.find("shop:"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("\"errors\":[\"shop:"), std::string::npos) << refused.body;
  Send(port, 60, 70);
  ExpectExactly(WaitTopic(port, "audit", 40), 30, 70, "audit after a refused PUT");
  EXPECT_TRUE(ReadTopic(port, "broken").empty());
  EXPECT_NE(c.Request("GET", "/metrics").body.find(
                "eventception_spec_reloads_total{trigger=\"put\",result=\"error\"} 1"),
            std::string::npos);

  // A restart keeps the PUT spec (it is newer than the --spec file).
  EXPECT_EQ(serve->Stop(), 0) << serve->log();
  serve = Serve();
  port = serve->http_port();
  Send(port, 70, 80);
  ExpectExactly(WaitTopic(port, "audit", 50), 30, 80, "audit after restart");

  // SIGHUP with the file changed on disk (now newer than the PUT spec): it takes effect.
  WriteText(spec_, OrdersSpec("4", ExtraEvent("order.noted", "notes")));
  fs::last_write_time(spec_, fs::file_time_type::clock::now() + std::chrono::seconds(5));
  ASSERT_EQ(kill(PidWith((dir_ / "data").string()), SIGHUP), 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (serve->log().find("specs reloaded (SIGHUP)") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_NE(serve->log().find("specs reloaded (SIGHUP)"), std::string::npos) << serve->log();
  Send(port, 80, 90);
  ExpectExactly(WaitTopic(port, "notes", 10), 80, 90, "notes");
  ExpectExactly(WaitTopic(port, "orders", 90), 0, 90, "orders at the end");
  // The file no longer has order.audited: exchanges after the SIGHUP produce none.
  ExpectExactly(ReadTopic(port, "audit"), 30, 80, "audit at the end");

  // A broken file on SIGHUP: logged, counted, the running set stays.
  WriteText(spec_, "openapi: 3.1.0\ninfo: {title: x\n");
  fs::last_write_time(spec_, fs::file_time_type::clock::now() + std::chrono::seconds(10));
  ASSERT_EQ(kill(PidWith((dir_ / "data").string()), SIGHUP), 0);
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (serve->log().find("spec reload (SIGHUP) refused") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(serve->log().find("spec reload (SIGHUP) refused"), std::string::npos) << serve->log();
  EXPECT_NE(c.Request("GET", "/metrics").body.find(""), std::string::npos);
  TestHttpClient c2(port);
  EXPECT_NE(c2.Request("GET", "/metrics").body.find(
                "eventception_spec_reloads_total{trigger=\"sighup\",result=\"error\"} 1"),
            std::string::npos);
  Send(port, 90, 95);
  ExpectExactly(WaitTopic(port, "notes", 15), 80, 95, "notes after a refused SIGHUP");
  EXPECT_EQ(serve->Stop(), 0) << serve->log();
}

}  // namespace
}  // namespace ec::server::testing
