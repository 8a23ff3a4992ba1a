// Delivery over the real log (LogManager): the HTTP handlers (subscriptions, records with
// long-poll, SSE with Last-Event-ID, consumer commits) and a kill -9 of a process in the middle
// of delivering, after which a restart delivers every event at least once, in order per key.
#include "delivery/api.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "delivery/log_event_log.h"
#include "delivery/test_receiver.h"
#include "json/document.h"
#include "log/log_manager.h"
#include "log/record_batch_builder.h"

namespace ec::delivery {
namespace {

using std::chrono::milliseconds;
using testing::ReceivedRequest;
using testing::Reply;
using testing::TestReceiver;

bool WaitFor(const std::function<bool()>& cond, milliseconds limit = milliseconds(15000)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return cond();
}

std::unique_ptr<log::LogManager> OpenLog(const std::filesystem::path& dir) {
  log::LogManagerOptions o;
  o.data_dir = (dir / "log").string();
  o.maintenance_interval_ms = 0;
  auto m = log::LogManager::Open(o);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(*m);
}

AppendRecord Event(const std::string& topic, const std::string& id, const std::string& key,
                   const std::string& data) {
  AppendRecord r;
  r.topic = topic;
  r.key = key;
  r.headers = {{"ce_specversion", "1.0"}, {"ce_id", id}, {"ce_source", "https://shop"},
               {"ce_type", "shop.order.placed"}, {"content-type", "application/json"}};
  r.value = data;
  r.timestamp_ms = 1700000000000;
  return r;
}

ApiRequest Req(std::string method, std::vector<std::pair<std::string, std::string>> params,
               std::string query = "", std::string body = "") {
  ApiRequest r;
  r.method = std::move(method);
  r.params = std::move(params);
  r.query = std::move(query);
  r.body = std::move(body);
  return r;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ec_api_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    logs_ = OpenLog(dir_);
    elog_ = std::make_unique<LogEventLog>(logs_.get());
    DispatcherOptions o;
    o.dir = dir_ / "delivery";
    o.allow.push_back(*ParseCidr("127.0.0.1/32"));
    o.retry.initial_backoff = milliseconds(10);
    o.commit_interval = milliseconds(10);
    o.topic_scan_interval = milliseconds(20);
    dispatcher_ = std::make_unique<Dispatcher>(elog_.get(), o);
    ASSERT_TRUE(dispatcher_->Start().ok());
    api_ = std::make_unique<DeliveryApi>(dispatcher_.get(), elog_.get(), logs_->group_offsets());
  }
  void TearDown() override {
    api_.reset();
    dispatcher_.reset();
    elog_.reset();
    logs_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<log::LogManager> logs_;
  std::unique_ptr<LogEventLog> elog_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<DeliveryApi> api_;
};

TEST_F(ApiTest, SubscriptionLifecycleOverTheApi) {
  std::mutex mu;
  std::vector<std::string> got;
  TestReceiver rx([&](const ReceivedRequest& r) {
    std::lock_guard lock(mu);
    got.push_back(r.Header("webhook-id"));
    return Reply{};
  });
  auto created = api_->CreateSubscription(
      Req("POST", {}, "", "{\"url\":\"" + rx.Url() + "\",\"types\":[\"shop.*\"],\"start\":\"earliest\"}"));
  ASSERT_EQ(created.status, 201) << created.body;
  auto doc = json::Parse(created.body);
  ASSERT_TRUE(doc.ok());
  std::string id(doc.value()->root().Find("id")->string());
  std::string secret(doc.value()->root().Find("secret")->string());
  EXPECT_TRUE(secret.starts_with("whsec_"));

  ASSERT_TRUE(elog_->Append(Event("orders", "e1", "k", "{\"a\":1}")).ok());
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return got.size() == 1;
  }));
  ASSERT_TRUE(WaitFor([&] {
    auto st = dispatcher_->GetStatus(id);
    return st.ok() && st->delivered == 1;
  }));
  auto list = api_->ListSubscriptions(Req("GET", {}));
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find(secret), std::string::npos);  // never returned again
  EXPECT_NE(list.body.find(id), std::string::npos);
  auto one = api_->GetSubscription(Req("GET", {{"id", id}}));
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.body.find("whsec_"), std::string::npos);
  EXPECT_NE(one.body.find("\"delivered\":1"), std::string::npos) << one.body;
  auto attempts = api_->Attempts(Req("GET", {{"id", id}}, "limit=10"));
  EXPECT_EQ(attempts.status, 200);
  EXPECT_NE(attempts.body.find("\"status\":200"), std::string::npos) << attempts.body;
  auto patched = api_->PatchSubscription(Req("PATCH", {{"id", id}}, "", "{\"max_in_flight\":2}"));
  EXPECT_EQ(patched.status, 200) << patched.body;
  EXPECT_NE(patched.body.find("\"max_in_flight\":2"), std::string::npos);
  auto bad = api_->PatchSubscription(Req("PATCH", {{"id", id}}, "", "{\"mode\":\"xml\"}"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("\\\"xml\\\""), std::string::npos) << bad.body;
  EXPECT_EQ(api_->Pause(Req("POST", {{"id", id}}), true).status, 200);
  auto replay = api_->Replay(Req("POST", {{"id", id}}, "", "{\"offset\":0}"));
  EXPECT_EQ(replay.status, 202) << replay.body;
  EXPECT_EQ(api_->Pause(Req("POST", {{"id", id}}), false).status, 200);
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return got.size() == 2;  // replayed
  }));
  EXPECT_EQ(api_->DeleteSubscription(Req("DELETE", {{"id", id}})).status, 204);
  EXPECT_EQ(api_->GetSubscription(Req("GET", {{"id", id}})).status, 404);
  auto invalid = api_->CreateSubscription(Req("POST", {}, "", "{\"url\":\"http://127.0.0.1:1/\","
                                                              "\"secret\":\"whsec_short\"}"));
  EXPECT_EQ(invalid.status, 400) << invalid.body;
  EXPECT_EQ(api_->Routes().size(), 13u);
}

TEST_F(ApiTest, RecordsWithLongPoll) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(elog_->Append(Event("orders", "e" + std::to_string(i), "k",
                                    "{\"n\":" + std::to_string(i) + "}")).ok());
  }
  auto res = api_->Records(Req("GET", {{"topic", "orders"}}, "offset=1&limit=5"));
  ASSERT_EQ(res.status, 200) << res.body;
  auto doc = json::Parse(res.body);
  ASSERT_TRUE(doc.ok()) << res.body;
  const json::Value& root = doc.value()->root();
  ASSERT_EQ(root.Find("records")->size(), 2u);
  EXPECT_EQ(root.Find("records")->At(0)->Find("offset")->number(), 1);
  EXPECT_EQ(root.Find("records")->At(0)->Find("value")->Find("n")->number(), 1);
  EXPECT_EQ(root.Find("records")->At(0)->Find("headers")->Find("ce_id")->string(), "e1");
  EXPECT_EQ(root.Find("next_offset")->number(), 3);
  EXPECT_EQ(root.Find("high_watermark")->number(), 3);

  // Nothing new: waits wait_ms, then answers empty.
  auto t0 = std::chrono::steady_clock::now();
  auto empty = api_->Records(Req("GET", {{"topic", "orders"}}, "offset=3&wait_ms=200"));
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(empty.status, 200);
  EXPECT_NE(empty.body.find("\"records\":[]"), std::string::npos);
  EXPECT_GE(waited, milliseconds(190));
  // A record appended while waiting ends the wait early.
  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(100));
    ASSERT_TRUE(elog_->Append(Event("orders", "e3", "k", "{\"n\":3}")).ok());
  });
  t0 = std::chrono::steady_clock::now();
  auto late = api_->Records(Req("GET", {{"topic", "orders"}}, "offset=3&wait_ms=5000"));
  waited = std::chrono::steady_clock::now() - t0;
  writer.join();
  EXPECT_NE(late.body.find("\"ce_id\":\"e3\""), std::string::npos) << late.body;
  EXPECT_LT(waited, milliseconds(4500));  // woke before wait_ms=5000
  EXPECT_EQ(api_->Records(Req("GET", {{"topic", "nope"}})).status, 404);
  EXPECT_EQ(api_->Records(Req("GET", {{"topic", "orders"}}, "offset=x")).status, 400);
}

TEST_F(ApiTest, ServerSentEventsResumeWithLastEventId) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(elog_->Append(Event("orders", "e" + std::to_string(i), "k", "{}")).ok());
  }
  auto first = api_->Stream(Req("GET", {{"topic", "orders"}}, "offset=earliest&wait_ms=100"));
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.content_type, "text/event-stream");
  EXPECT_TRUE(first.body.starts_with("retry: 1000\n\n"));
  EXPECT_NE(first.body.find("id: 0:1\nevent: shop.order.placed\ndata: {"), std::string::npos)
      << first.body;
  EXPECT_NE(first.body.find("id: 0:3\n"), std::string::npos);
  ASSERT_TRUE(elog_->Append(Event("orders", "e3", "k", "{}")).ok());
  ApiRequest again = Req("GET", {{"topic", "orders"}}, "wait_ms=100");
  again.headers = {{"last-event-id", "0:2"}};
  auto second = api_->Stream(again);
  EXPECT_EQ(second.body.find("\"ce_id\":\"e1\""), std::string::npos);
  EXPECT_NE(second.body.find("\"ce_id\":\"e2\""), std::string::npos) << second.body;
  EXPECT_NE(second.body.find("id: 0:4\n"), std::string::npos);
  again.headers = {{"last-event-id", "garbage"}};
  EXPECT_EQ(api_->Stream(again).status, 400);
}

TEST_F(ApiTest, ConsumerGroupCommitAndRead) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(elog_->Append(Event("orders", "e", "k", "{}")).ok());
  auto c = api_->Commit(Req("POST", {{"group", "g1"}}, "",
                            "{\"offsets\":[{\"topic\":\"orders\",\"partition\":0,\"offset\":3}]}"));
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_NE(c.body.find("\"offset\":3,\"lag\":2"), std::string::npos) << c.body;
  auto g = api_->GroupPositions(Req("GET", {{"group", "g1"}}));
  EXPECT_NE(g.body.find("\"offset\":3"), std::string::npos);
  // Reading with group= and no offset starts at the committed position.
  auto recs = api_->Records(Req("GET", {{"topic", "orders"}}, "group=g1"));
  EXPECT_NE(recs.body.find("\"offset\":3"), std::string::npos) << recs.body;
  EXPECT_EQ(recs.body.find("\"offset\":2,"), std::string::npos);
  EXPECT_EQ(api_->Commit(Req("POST", {{"group", "g1"}}, "", "{}")).status, 400);
}

// The dispatcher learns of appends from the log's notification instead of polling: it fires
// inline when the record exists already, on the append otherwise, once, and not after a cancel.
TEST_F(ApiTest, LogNotifiesReadersOfAnAppend) {
  std::atomic<int> fired{0};
  EXPECT_EQ(elog_->NotifyWhenPast("nope", 0, 0, [&] { fired++; }), 0u);  // no such partition
  ASSERT_TRUE(elog_->Append(Event("notify", "e0", "k", "{}")).ok());
  EXPECT_NE(elog_->NotifyWhenPast("notify", 0, 0, [&] { fired++; }), 0u);
  EXPECT_EQ(fired.load(), 1);  // offset 0 exists: inline
  uint64_t pending = elog_->NotifyWhenPast("notify", 0, 1, [&] { fired++; });
  uint64_t cancelled = elog_->NotifyWhenPast("notify", 0, 1, [&] { fired += 100; });
  uint64_t later = elog_->NotifyWhenPast("notify", 0, 2, [&] { fired += 10; });
  EXPECT_NE(pending, 0u);
  EXPECT_EQ(fired.load(), 1);
  elog_->CancelNotify("notify", 0, cancelled);
  ASSERT_TRUE(elog_->Append(Event("notify", "e1", "k", "{}")).ok());
  EXPECT_EQ(fired.load(), 2);  // offset 1 now exists; offset 2 does not yet
  ASSERT_TRUE(elog_->Append(Event("notify", "e2", "k", "{}")).ok());
  ASSERT_TRUE(elog_->Append(Event("notify", "e3", "k", "{}")).ok());
  EXPECT_EQ(fired.load(), 12);  // each fired exactly once
  elog_->CancelNotify("notify", 0, later);  // already fired: a no-op
}

TEST(ParseTimeTest, Rfc3339) {
  EXPECT_EQ(ParseTimeMs("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(ParseTimeMs("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_FALSE(ParseTimeMs("yesterday").has_value());
}

// A child process appends events and delivers them; it is SIGKILLed mid-delivery. A restart on
// the same data directory must deliver every event at least once, in order per key.
TEST(KillTest, KillDuringDeliveryLosesNothing) {
  constexpr int kEvents = 3000;
  constexpr int kKeys = 4;
  auto dir = std::filesystem::temp_directory_path() / ("ec_kill_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::mutex mu;
  std::vector<std::string> got;
  TestReceiver rx([&](const ReceivedRequest& r) {
    std::lock_guard lock(mu);
    got.push_back(r.Header("webhook-id"));
    return Reply{};
  });
  auto count = [&] {
    std::lock_guard lock(mu);
    return got.size();
  };
  auto options = [&] {
    DispatcherOptions o;
    o.dir = dir / "delivery";
    o.allow.push_back(*ParseCidr("127.0.0.1/32"));
    o.commit_interval = milliseconds(20);
    return o;
  };
  std::string sub_json = "{\"url\":\"" + rx.Url() + "\",\"start\":\"earliest\",\"max_in_flight\":8}";
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto logs = OpenLog(dir);
    if (!logs || !logs->CreateTopic("orders", 1).ok()) _exit(2);
    auto part = logs->GetPartition("orders", 0);
    for (int i = 0; i < kEvents; i += 100) {
      log::RecordBatchBuilder b;
      for (int j = i; j < i + 100; ++j) {
        std::string id = "k" + std::to_string(j % kKeys) + "-" + std::to_string(j);
        std::vector<std::string> vals = {"1.0", id, "https://shop", "shop.order.placed",
                                         "application/json"};
        std::vector<log::RecordHeader> h = {{"ce_specversion", vals[0]}, {"ce_id", vals[1]},
                                            {"ce_source", vals[2]}, {"ce_type", vals[3]},
                                            {"content-type", vals[4]}};
        std::string key = "k" + std::to_string(j % kKeys);
        b.Add(key, std::string_view("{}"), 1, h);
      }
      if (!part->Append(*b.Build(), {log::Durability::kSync}).ok()) _exit(3);
    }
    LogEventLog elog(logs.get());
    Dispatcher d(&elog, options());
    if (!d.Start().ok()) _exit(4);
    auto doc = json::Parse(sub_json);
    if (!d.CreateJson((*doc)->root()).ok()) _exit(5);
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ASSERT_TRUE(WaitFor([&] { return count() >= kEvents / 3; }, milliseconds(60000)))
      << "child delivered only " << count();
  ::kill(child, SIGKILL);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited with " << WEXITSTATUS(wstatus);
  size_t before_restart = count();
  ASSERT_LT(before_restart, static_cast<size_t>(kEvents)) << "killed too late to test anything";
  {
    auto logs = OpenLog(dir);
    LogEventLog elog(logs.get());
    Dispatcher d(&elog, options());
    ASSERT_TRUE(d.Start().ok());
    ASSERT_EQ(d.List().size(), 1u);  // the subscription survived
    ASSERT_TRUE(WaitFor([&] {
      std::lock_guard lock(mu);
      return std::set<std::string>(got.begin(), got.end()).size() == kEvents;
    }, milliseconds(60000)));
    d.Stop();
  }
  std::lock_guard lock(mu);
  // In order per key: when an event first arrives, every earlier event of its key has arrived.
  std::map<std::string, int> highest;  // key -> highest sequence seen
  std::set<std::string> seen;
  for (const std::string& id : got) {
    std::string key = id.substr(0, id.find('-'));
    int seq = std::stoi(id.substr(id.find('-') + 1));
    if (!seen.insert(id).second) continue;  // a redelivery
    int prev = highest.count(key) ? highest[key] : seq - kKeys;
    EXPECT_EQ(seq, prev + kKeys) << "event " << id << " arrived before its predecessor";
    highest[key] = std::max(prev, seq);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kEvents));
  std::printf("kill -9 after %zu deliveries; %zu redelivered after restart\n", before_restart,
              got.size() - kEvents);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ec::delivery
