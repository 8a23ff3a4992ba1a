// The webhook dispatcher against real HTTP receivers on 127.0.0.1: signatures verified as a
// receiver would, retries, timeouts, 410, dead letters, ordering per key, SSRF, pause/replay,
// bounded memory and restart from durable positions.
#include "delivery/dispatcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl.hpp>
#include <cstdio>
#include <filesystem>
#include <random>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "delivery/memory_event_log.h"
#include "delivery/signature.h"
#include "delivery/test_receiver.h"
#include "json/document.h"

namespace ec::delivery {
namespace {

using std::chrono::milliseconds;
using testing::ReceivedRequest;
using testing::Reply;
using testing::TestReceiver;

int64_t NowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Records what a receiver got, verifying each signature with the subscription's secret.
struct Inbox {
  std::mutex mu;
  std::string secret;
  std::vector<ReceivedRequest> requests;
  int bad_signatures = 0;
  std::map<std::string, int> tries;  // per webhook-id

  void Add(const ReceivedRequest& r) {
    std::lock_guard lock(mu);
    Status s = Verify(secret, r.Header("webhook-id"), r.Header("webhook-timestamp"),
                      r.Header("webhook-signature"), r.body, NowS());
    if (!s.ok()) bad_signatures++;
    tries[r.Header("webhook-id")]++;
    requests.push_back(r);
  }
  size_t size() {
    std::lock_guard lock(mu);
    return requests.size();
  }
  std::vector<ReceivedRequest> Snapshot() {
    std::lock_guard lock(mu);
    return requests;
  }
};

bool WaitFor(const std::function<bool()>& cond, milliseconds limit = milliseconds(10000)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return cond();
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ec_dispatch_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    options_.dir = dir_;
    options_.allow.push_back(*ParseCidr("127.0.0.1/32"));
    options_.retry.initial_backoff = milliseconds(20);
    options_.retry.max_backoff = milliseconds(100);
    options_.retry.max_attempts = 5;
    options_.retry.request_timeout = milliseconds(2000);
    options_.commit_interval = milliseconds(10);
    options_.topic_scan_interval = milliseconds(20);
  }
  void TearDown() override {
    dispatcher_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartDispatcher() {
    dispatcher_ = std::make_unique<Dispatcher>(&log_, options_);
    ASSERT_TRUE(dispatcher_->Start().ok());
  }

  // Creates a subscription from JSON text with the receiver URL substituted for $URL.
  Subscription Subscribe(const std::string& url, const std::string& extra = "",
                         Inbox* inbox = nullptr) {
    std::string text = "{\"url\":\"" + url + "\",\"start\":\"earliest\"" + extra + "}";
    auto doc = json::Parse(text);
    EXPECT_TRUE(doc.ok());
    auto sub = SubscriptionFromJson((*doc)->root(), nullptr);
    EXPECT_TRUE(sub.ok()) << sub.status().ToString();
    if (inbox) {
      std::lock_guard lock(inbox->mu);
      inbox->secret = sub->secret;
    }
    auto created = dispatcher_->Create(*sub);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return *created;
  }

  void AppendEvent(const std::string& topic, const std::string& id, const std::string& key,
                   const std::string& data = "{\"n\":1}", const std::string& type = "") {
    AppendRecord r;
    r.topic = topic;
    r.key = key.empty() ? std::nullopt : std::optional<std::string>(key);
    r.headers = {{"ce_specversion", "1.0"},
                 {"ce_id", id},
                 {"ce_source", "https://shop.example.com"},
                 {"ce_type", type.empty() ? topic : type},
                 {"content-type", "application/json"}};
    r.value = data;
    r.timestamp_ms = 1000;
    ASSERT_TRUE(log_.Append(r).ok());
  }

  std::vector<SourceRecord> DeadLetters() {
    auto recs = log_.Read(std::string(kDeliveryDeadLetterTopic), 0, 0, 10000, 1 << 30);
    return recs.ok() ? *recs : std::vector<SourceRecord>{};
  }

  std::filesystem::path dir_;
  DispatcherOptions options_;
  MemoryEventLog log_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, DeliversSignedBinaryEventsInOrderOverKeepAlive) {
  Inbox inbox;
  TestReceiver rx([&](const ReceivedRequest& r) {
    inbox.Add(r);
    return Reply{};
  });
  StartDispatcher();
  auto sub = Subscribe(rx.Url(), ",\"types\":[\"shop.order.*\"],\"max_in_flight\":1", &inbox);
  for (int i = 0; i < 50; ++i) AppendEvent("shop.order.placed", "ev-" + std::to_string(i), "k");
  AppendEvent("shop.cart.updated", "other", "k");  // filtered out by the type glob
  ASSERT_TRUE(WaitFor([&] { return inbox.size() >= 50; }));
  std::this_thread::sleep_for(milliseconds(100));
  auto got = inbox.Snapshot();
  ASSERT_EQ(got.size(), 50u);
  EXPECT_EQ(inbox.bad_signatures, 0);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(got[i].Header("webhook-id"), "ev-" + std::to_string(i));
    EXPECT_EQ(got[i].Header("ce-id"), "ev-" + std::to_string(i));
    EXPECT_EQ(got[i].Header("ce-type"), "shop.order.placed");
    EXPECT_EQ(got[i].Header("ce-specversion"), "1.0");
    EXPECT_EQ(got[i].Header("content-type"), "application/json");
    EXPECT_EQ(got[i].body, "{\"n\":1}");
  }
  EXPECT_LE(rx.connections(), 2);  // keep-alive: one connection reused
  auto status = dispatcher_->GetStatus(sub.id);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->delivered, 50u);
  ASSERT_TRUE(WaitFor([&] {
    auto st = dispatcher_->GetStatus(sub.id);
    if (!st.ok()) return false;
    for (const auto& p : st->positions) {
      if (p.topic == "shop.order.placed") return p.committed == 50;
    }
    return false;
  }));
}

// The client writes each request as one block of bytes: a later header of the same name wins,
// a caller's Host/User-Agent replaces ours, Content-Length and Connection are always its own,
// and a value with CR or LF (header injection) fails the request instead of being sent.
TEST(HttpClientTest, SerializesHeadersOnceAndRefusesLineBreaks) {
  std::mutex mu;
  std::vector<ReceivedRequest> got;
  TestReceiver rx([&](const ReceivedRequest& r) {
    std::lock_guard lock(mu);
    got.push_back(r);
    return Reply{200, "fine"};
  });
  HttpClientOptions o;
  o.guard = SsrfGuard({*ParseCidr("127.0.0.1/32")});
  HttpClient client(o);
  ClientRequest req;
  req.url = *ParseUrl(rx.Url() + "?q=1");
  req.headers = {{"x-a", "1"},          {"X-A", "2"},        {"user-agent", "mine/2"},
                 {"content-length", "999"}, {"connection", "close"}};
  req.body = "hello";
  for (int i = 0; i < 3; ++i) {
    auto res = client.Send(req);
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "fine");
  }
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].method, "POST");
    EXPECT_EQ(got[0].target, "/hook?q=1");
    EXPECT_EQ(got[0].body, "hello");
    EXPECT_EQ(got[0].Header("x-a"), "2");
    EXPECT_EQ(got[0].Header("user-agent"), "mine/2");
    EXPECT_EQ(got[0].Header("content-length"), "5");
    EXPECT_EQ(got[0].Header("host"), "127.0.0.1:" + rx.Url().substr(17, rx.Url().find('/', 17) - 17));
  }
  EXPECT_EQ(client.connections_opened(), 1u);  // keep-alive despite the caller's "close"
  req.headers = {{"x-evil", "a\r\nx-injected: 1"}};
  auto bad = client.Send(req);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("x-evil"), std::string::npos);
  std::lock_guard lock(mu);
  EXPECT_EQ(got.size(), 3u);
}

// An IP-literal URL connects without resolving, and the SSRF guard still decides: refused
// (no connection opened, the callback after SendAsync returned) unless the address is allowed.
TEST(HttpClientTest, IpLiteralSkipsResolutionButNotTheGuard) {
  TestReceiver rx([&](const ReceivedRequest& r) { return Reply{204, ""}; });
  ClientRequest req;
  req.url = *ParseUrl(rx.Url());
  req.body = "x";
  {
    HttpClient refusing{HttpClientOptions{}};
    auto res = refusing.Send(req);
    ASSERT_FALSE(res.ok());
    EXPECT_EQ(res.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(res.status().message().find("SSRF"), std::string::npos) << res.status().ToString();
    EXPECT_EQ(refusing.connections_opened(), 0u);
  }
  HttpClientOptions o;
  o.guard = SsrfGuard({*ParseCidr("127.0.0.1/32")});
  HttpClient client(o);
  auto ok = client.Send(req);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->status, 204);
  EXPECT_EQ(client.connections_opened(), 1u);
  EXPECT_EQ(rx.connections(), 1);
}

// A raw HTTP/1.1 server for the client's response parsing: each request (header and
// Content-Length body) on any connection is answered with the next canned response, written
// in the given pieces with a pause between them (a response split across reads); a step may
// close the connection after its response.
class CannedServer {
 public:
  struct Step {
    std::vector<std::string> pieces;
    bool close_after = false;
  };
  explicit CannedServer(std::vector<Step> steps) : steps_(std::move(steps)) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listen_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~CannedServer() {
    ::shutdown(listen_, SHUT_RDWR);
    thread_.join();
    ::close(listen_);
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  int answered() const { return answered_.load(); }
  int closed() const { return closed_.load(); }

 private:
  void Run() {
    size_t next = 0;
    while (next < steps_.size()) {
      int c = ::accept(listen_, nullptr, nullptr);
      if (c < 0) return;
      std::string in;
      char buf[4096];
      bool open = true;
      while (open && next < steps_.size()) {
        size_t end;
        while ((end = in.find("\r\n\r\n")) == std::string::npos || !Complete(in, end)) {
          ssize_t n = ::recv(c, buf, sizeof buf, 0);
          if (n <= 0) {
            open = false;
            break;
          }
          in.append(buf, static_cast<size_t>(n));
        }
        if (!open) break;
        in.erase(0, end + 4 + Length(in, end));
        const Step& step = steps_[next++];
        for (size_t i = 0; i < step.pieces.size(); ++i) {
          if (i > 0) std::this_thread::sleep_for(milliseconds(20));
          (void)!::send(c, step.pieces[i].data(), step.pieces[i].size(), MSG_NOSIGNAL);
        }
        answered_++;
        if (step.close_after) open = false;
      }
      ::close(c);
      closed_++;
    }
  }
  static size_t Length(const std::string& in, size_t end) {
    size_t at = in.find("Content-Length: ");
    return at < end ? std::stoul(in.substr(at + 16)) : 0;
  }
  static bool Complete(const std::string& in, size_t end) {
    return in.size() >= end + 4 + Length(in, end);
  }
  std::vector<Step> steps_;
  int listen_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> answered_{0}, closed_{0};
  std::thread thread_;
};

// The client's response reading: a chunked body split across reads (headers kept, names
// lower-cased), a keep-alive connection the peer closes while idle (the next request goes again
// on a fresh one), a body delimited by the end of the connection, and a malformed response.
TEST(HttpClientTest, ReadsChunkedCloseDelimitedAndRetriesAClosedPooledConnection) {
  CannedServer server({
      {{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nRetry-After: 7\r\n\r\n5\r\nhel",
        "lo\r\n6\r\n world\r\n", "0\r\n\r\n"}},
      {{"HTTP/1.1 204 No Content\r\n\r\n"}, /*close_after=*/true},
      {{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}},
      {{"HTTP/1.1 503 Unavailable\r\nConnection: close\r\n\r\nuntil ", "the end"}, true},
      {{"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"}, true},
  });
  HttpClientOptions o;
  o.guard = SsrfGuard({*ParseCidr("127.0.0.1/32")});
  HttpClient client(o);
  ClientRequest req;
  req.url = *ParseUrl(server.Url());
  req.body = "{}";
  auto chunked = client.Send(req);
  ASSERT_TRUE(chunked.ok()) << chunked.status().ToString();
  EXPECT_EQ(chunked->status, 200);
  EXPECT_EQ(chunked->body, "hello world");
  EXPECT_EQ(chunked->Header("retry-after"), "7");
  auto empty = client.Send(req);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->status, 204);
  EXPECT_EQ(client.connections_opened(), 1u);
  // The server closes that connection after answering; the client finds out on reuse.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server.closed() < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(server.closed(), 1);
  auto again = client.Send(req);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(again->body, "ok");
  EXPECT_EQ(client.connections_opened(), 2u);
  auto until_close = client.Send(req);
  ASSERT_TRUE(until_close.ok()) << until_close.status().ToString();
  EXPECT_EQ(until_close->status, 503);
  EXPECT_EQ(until_close->body, "until the end");
  auto bad = client.Send(req);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kUnavailable) << bad.status().ToString();
  // The server counts a step after sending it, so the client can have read the last response
  // before the count moves: wait for it.
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server.answered() < 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(server.answered(), 5);
}

// MemoryEventLog's append notification: inline when the record exists, once on the append
// otherwise, never after a cancel.
TEST(MemoryEventLogTest, NotifiesOnAppend) {
  MemoryEventLog log;
  int fired = 0;
  EXPECT_EQ(log.NotifyWhenPast("t", 0, 0, [&] { fired++; }), 0u);  // no topic yet
  AppendRecord a;
  a.topic = "t";
  ASSERT_TRUE(log.Append(a).ok());
  log.NotifyWhenPast("t", 0, 0, [&] { fired++; });
  EXPECT_EQ(fired, 1);
  log.NotifyWhenPast("t", 0, 1, [&] { fired++; });
  uint64_t c = log.NotifyWhenPast("t", 0, 1, [&] { fired += 100; });
  log.CancelNotify("t", 0, c);
  AppendRecord other;
  other.topic = "u";
  ASSERT_TRUE(log.Append(other).ok());  // another topic: no wake
  EXPECT_EQ(fired, 1);
  ASSERT_TRUE(log.Append(a).ok());
  ASSERT_TRUE(log.Append(a).ok());
  EXPECT_EQ(fired, 2);
}

TEST_F(DispatcherTest, StructuredModeAuthAndCustomHeaders) {
  Inbox inbox;
  TestReceiver rx([&](const ReceivedRequest& r) {
    inbox.Add(r);
    return Reply{};
  });
  StartDispatcher();
  Subscribe(rx.Url(),
            ",\"mode\":\"structured\",\"auth\":{\"type\":\"basic\",\"username\":\"u\","
            "\"password\":\"p\"},\"headers\":{\"X-Tenant\":\"t1\"}",
            &inbox);
  AppendEvent("shop.order.placed", "ev-s", "k", "{\"total\":25}");
  ASSERT_TRUE(WaitFor([&] { return inbox.size() >= 1; }));
  auto r = inbox.Snapshot()[0];
  EXPECT_EQ(inbox.bad_signatures, 0);
  EXPECT_EQ(r.Header("content-type"), "application/cloudevents+json; charset=utf-8");
  EXPECT_EQ(r.Header("authorization"), "Basic dTpw");
  EXPECT_EQ(r.Header("x-tenant"), "t1");
  auto doc = json::Parse(r.body);
  ASSERT_TRUE(doc.ok()) << r.body;
  EXPECT_EQ((*doc)->root().Find("id")->string(), "ev-s");
  EXPECT_EQ((*doc)->root().Find("data")->Find("total")->number(), 25);
}

TEST_F(DispatcherTest, RetriesFailuresWithBackoffThenDelivers) {
  Inbox inbox;
  std::atomic<int> calls{0};
  TestReceiver rx([&](const ReceivedRequest& r) {
    inbox.Add(r);
    return ++calls <= 2 ? Reply{503, "busy"} : Reply{};
  });
  options_.retry.initial_backoff = milliseconds(100);
  options_.retry.max_backoff = milliseconds(1000);
  options_.retry.jitter = 0;
  StartDispatcher();
  auto sub = Subscribe(rx.Url(), "", &inbox);
  AppendEvent("t", "ev-r", "k");
  ASSERT_TRUE(WaitFor([&] { return inbox.size() >= 3; }));
  auto got = inbox.Snapshot();
  EXPECT_EQ(inbox.bad_signatures, 0);
  for (auto& r : got) EXPECT_EQ(r.Header("webhook-id"), "ev-r");  // stable across retries
  // Backoff without jitter: 100 ms, then 200 ms.
  auto gap1 = std::chrono::duration_cast<milliseconds>(got[1].at - got[0].at).count();
  auto gap2 = std::chrono::duration_cast<milliseconds>(got[2].at - got[1].at).count();
  EXPECT_GE(gap1, 95);
  EXPECT_LT(gap1, 2500);  // generous: CI machines are loaded
  EXPECT_GE(gap2, 195);
  EXPECT_LT(gap2, 3000);
  // The receiver sees the request before the dispatcher logs the attempt's answer.
  std::vector<AttemptRecord> attempts;
  ASSERT_TRUE(WaitFor([&] {
    auto a = dispatcher_->Attempts(sub.id, 10);
    if (a.ok()) attempts = *a;
    return attempts.size() >= 3;
  }));
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(attempts[0].status, 503);
  EXPECT_EQ(attempts[0].result, "retry");
  EXPECT_EQ(attempts[0].response, "busy");
  EXPECT_EQ(attempts[2].result, "delivered");
  EXPECT_TRUE(DeadLetters().empty());
}

TEST_F(DispatcherTest, HonoursRetryAfter) {
  Inbox inbox;
  std::atomic<int> calls{0};
  TestReceiver rx([&](const ReceivedRequest& r) {
    inbox.Add(r);
    if (++calls == 1) return Reply{429, "slow down", {{"Retry-After", "1"}}};
    return Reply{};
  });
  StartDispatcher();
  Subscribe(rx.Url(), "", &inbox);
  AppendEvent("t", "ev-429", "k");
  ASSERT_TRUE(WaitFor([&] { return inbox.size() >= 2; }));
  auto got = inbox.Snapshot();
  auto gap = std::chrono::duration_cast<milliseconds>(got[1].at - got[0].at).count();
  EXPECT_GE(gap, 990);  // the policy alone would have waited ~20 ms
  EXPECT_LT(gap, 6000);
}

TEST_F(DispatcherTest, TimeoutIsRetried) {
  Inbox inbox;
  std::atomic<int> calls{0};
  TestReceiver rx([&](const ReceivedRequest& r) {
    inbox.Add(r);
    if (++calls == 1) return Reply{200, "late", {}, milliseconds(600)};
    return Reply{};
  });
  options_.retry.request_timeout = milliseconds(150);
  StartDispatcher();
  auto sub = Subscribe(rx.Url(), "", &inbox);
  AppendEvent("t", "ev-t", "k");
  ASSERT_TRUE(WaitFor([&] {
    auto st = dispatcher_->GetStatus(sub.id);
    return st.ok() && st->delivered == 1;
  }));
  auto attempts = *dispatcher_->Attempts(sub.id, 10);
  ASSERT_GE(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].status, 0);
  EXPECT_NE(attempts[0].error.find("within 150 ms"), std::string::npos) << attempts[0].error;
  EXPECT_EQ(attempts.back().result, "delivered");
}

TEST_F(DispatcherTest, GoneDeadLettersAndDisablesTheEndpoint) {
  Inbox inbox;
  TestReceiver rx([&](const ReceivedRequest& r) {
    inbox.Add(r);
    return Reply{410, "gone"};
  });
  StartDispatcher();
  auto sub = Subscribe(rx.Url(), "", &inbox);
  AppendEvent("t", "ev-g", "k");
  AppendEvent("t", "ev-g2", "k");
  ASSERT_TRUE(WaitFor([&] { return DeadLetters().size() == 1; }));
  ASSERT_TRUE(WaitFor([&] { return !dispatcher_->Get(sub.id)->disabled_reason.empty(); }));
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(inbox.size(), 1u);  // disabled: the second event waits
  EXPECT_NE(dispatcher_->Get(sub.id)->disabled_reason.find("410"), std::string::npos);
  auto dl = DeadLetters()[0];
  auto doc = json::Parse(*dl.value);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)->root().Find("stage")->string(), "delivery");
  EXPECT_EQ((*doc)->root().Find("subscription")->string(), sub.id);
  EXPECT_EQ((*doc)->root().Find("event")->Find("id")->string(), "ev-g");
  EXPECT_EQ((*doc)->root().Find("attempts")->size(), 1u);
  EXPECT_EQ((*doc)->root().Find("attempts")->At(0)->Find("status")->number(), 410);
  // Resuming re-enables it: the second event is attempted (and dead-lettered again).
  ASSERT_TRUE(dispatcher_->SetPaused(sub.id, false).ok());
  ASSERT_TRUE(WaitFor([&] { return DeadLetters().size() == 2; }));
}

TEST_F(DispatcherTest, OtherClientErrorsAreFinalAfterOneAttempt) {
  Inbox inbox;
  TestReceiver rx([&](const ReceivedRequest& r) {
    inbox.Add(r);
    return r.Header("webhook-id") == "bad" ? Reply{400, "no"} : Reply{};
  });
  StartDispatcher();
  auto sub = Subscribe(rx.Url(), "", &inbox);
  AppendEvent("t", "bad", "k");
  AppendEvent("t", "good", "k");
  ASSERT_TRUE(WaitFor([&] { return inbox.size() >= 2; }));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(inbox.tries["bad"], 1);
  EXPECT_EQ(DeadLetters().size(), 1u);
  EXPECT_TRUE(dispatcher_->Get(sub.id)->disabled_reason.empty());
}

TEST_F(DispatcherTest, ExhaustedRetriesGoToDeadLetterWithHistory) {
  TestReceiver rx([&](const ReceivedRequest& r) { return Reply{500, "boom"}; });
  options_.retry.max_attempts = 3;
  StartDispatcher();
  auto sub = Subscribe(rx.Url());
  AppendEvent("t", "ev-x", "k");
  ASSERT_TRUE(WaitFor([&] { return DeadLetters().size() == 1; }));
  auto doc = json::Parse(*DeadLetters()[0].value);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)->root().Find("attempts")->size(), 3u);
  EXPECT_NE((*doc)->root().Find("error")->string().find("500"), std::string::npos);
  ASSERT_TRUE(WaitFor([&] {
    auto st = dispatcher_->GetStatus(sub.id);
    return st.ok() && st->positions.size() == 1 && st->positions[0].committed == 1;
  }));
}

TEST_F(DispatcherTest, FailingKeyDoesNotBlockOtherKeysAndKeepsItsOrder) {
  Inbox inbox;
  std::atomic<bool> a_down{true};
  TestReceiver rx([&](const ReceivedRequest& r) {
    inbox.Add(r);
    if (r.body.find("\"key\":\"A\"") != std::string::npos && a_down) return Reply{503, "down"};
    return Reply{};
  });
  options_.retry.max_attempts = 1000;
  StartDispatcher();
  Subscribe(rx.Url(), ",\"max_in_flight\":4", &inbox);
  for (int i = 0; i < 10; ++i) {
    for (const char* k : {"A", "B", "C"}) {
      AppendEvent("t", std::string(k) + "-" + std::to_string(i), k,
                  std::string("{\"key\":\"") + k + "\",\"i\":" + std::to_string(i) + "}");
    }
  }
  // B and C are delivered entirely while A keeps failing on its first event. (A-0 is sent
  // first, but its receiver thread may see it after B's and C's: waited for, not assumed.)
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(inbox.mu);
    return inbox.tries.count("B-9") && inbox.tries.count("C-9") && inbox.tries.count("A-0");
  }));
  {
    std::lock_guard lock(inbox.mu);
    EXPECT_EQ(inbox.tries.count("A-1"), 0u);  // A-1 waits behind A-0
  }
  a_down = false;
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(inbox.mu);
    return inbox.tries.count("A-9") > 0;
  }));
  // Per key, first successful deliveries are in log order.
  std::map<std::string, int> last;
  for (const auto& r : inbox.Snapshot()) {
    std::string id = r.Header("webhook-id");
    std::string key = id.substr(0, 1);
    int i = std::stoi(id.substr(2));
    EXPECT_GE(i, last.count(key) ? last[key] : 0) << id;
    last[key] = i;
  }
  EXPECT_EQ(inbox.bad_signatures, 0);
}

// Coalescing (DispatcherOptions::coalesce_max) holds records appended soon after a read until
// the hold ends, so they go together; it never holds what is already read: a key's next event
// goes as soon as the one before it is answered.
TEST_F(DispatcherTest, CoalescingHoldsNewRecordsButNotAKeysNextEvent) {
  using std::chrono::steady_clock;
  Inbox inbox;
  TestReceiver rx([&](const ReceivedRequest& r) {
    inbox.Add(r);
    return Reply{};
  });
  options_.coalesce_max = milliseconds(1500);
  StartDispatcher();
  // Ten events of one key, in the log before the subscription starts: read in one go.
  for (int i = 0; i < 10; ++i) AppendEvent("c", "chain-" + std::to_string(i), "k");
  auto subscribed = steady_clock::now();
  Subscribe(rx.Url(), "", &inbox);
  ASSERT_TRUE(WaitFor([&] { return inbox.size() == 10; }));
  // Held one by one, the chain would take 10 holds (15 s).
  EXPECT_LT(steady_clock::now() - subscribed, milliseconds(1300));
  // Appended within the hold that began with the read above: read when it ends, not before.
  AppendEvent("c", "late", "other");
  ASSERT_TRUE(WaitFor([&] { return inbox.size() == 11; }));
  auto requests = inbox.Snapshot();
  EXPECT_EQ(requests.back().Header("webhook-id"), "late");
  EXPECT_GE(requests.back().at - subscribed, milliseconds(1500));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(requests[i].Header("webhook-id"), "chain-" + std::to_string(i));
  }
  EXPECT_EQ(inbox.bad_signatures, 0);
}

TEST_F(DispatcherTest, SsrfGuardRefusesLoopbackUnlessAllowed) {
  TestReceiver rx([&](const ReceivedRequest& r) { return Reply{}; });
  options_.allow.clear();
  options_.retry.max_attempts = 2;
  StartDispatcher();
  auto doc = json::Parse("{\"url\":\"" + rx.Url() + "\"}");
  auto sub = SubscriptionFromJson((*doc)->root(), nullptr);
  auto refused = dispatcher_->Create(*sub);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("loopback"), std::string::npos);
  // A host name is checked on the resolved address, at delivery time.
  auto by_name = Subscribe("http://localhost:" + std::to_string(rx.port()) + "/hook");
  AppendEvent("t", "ev-ssrf", "k");
  ASSERT_TRUE(WaitFor([&] { return DeadLetters().size() == 1; }));
  auto attempts = *dispatcher_->Attempts(by_name.id, 10);
  ASSERT_FALSE(attempts.empty());
  EXPECT_NE(attempts[0].error.find("SSRF"), std::string::npos) << attempts[0].error;
  EXPECT_EQ(rx.connections(), 0);
}

TEST_F(DispatcherTest, PauseResumeAndReplay) {
  Inbox inbox;
  TestReceiver rx([&](const ReceivedRequest& r) {
    inbox.Add(r);
    return Reply{};
  });
  StartDispatcher();
  auto sub = Subscribe(rx.Url(), "", &inbox);
  for (int i = 0; i < 5; ++i) AppendEvent("t", "e" + std::to_string(i), "k");
  ASSERT_TRUE(WaitFor([&] { return inbox.size() == 5; }));
  ASSERT_TRUE(dispatcher_->SetPaused(sub.id, true).ok());
  std::this_thread::sleep_for(milliseconds(100));
  AppendEvent("t", "e5", "k");
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(inbox.size(), 5u);
  EXPECT_TRUE(dispatcher_->Get(sub.id)->paused);
  ASSERT_TRUE(dispatcher_->SetPaused(sub.id, false).ok());
  ASSERT_TRUE(WaitFor([&] { return inbox.size() == 6; }));
  ASSERT_TRUE(dispatcher_->Replay(sub.id, 2, std::nullopt, "").ok());
  ASSERT_TRUE(WaitFor([&] { return inbox.size() == 10; }));
  auto got = inbox.Snapshot();
  EXPECT_EQ(got[6].Header("webhook-id"), "e2");
  EXPECT_EQ(got[9].Header("webhook-id"), "e5");
}

TEST_F(DispatcherTest, MemoryStaysBoundedWhileTheReceiverIsDown) {
  TestReceiver rx([&](const ReceivedRequest& r) { return Reply{503, "down"}; });
  options_.max_buffered_per_stream = 64;
  options_.retry.max_attempts = 1000000;
  StartDispatcher();
  auto sub = Subscribe(rx.Url(), ",\"max_in_flight\":8");
  for (int i = 0; i < 3000; ++i) AppendEvent("t", "e" + std::to_string(i), "k" + std::to_string(i));
  std::this_thread::sleep_for(milliseconds(500));
  auto st = dispatcher_->GetStatus(sub.id);
  ASSERT_TRUE(st.ok());
  EXPECT_LE(st->buffered, 64u);
  EXPECT_GT(st->failed_attempts, 0u);
  EXPECT_EQ(st->positions[0].committed, 0);
  EXPECT_EQ(st->positions[0].end, 3000);
}

TEST_F(DispatcherTest, RestartResumesFromDurablePositions) {
  Inbox inbox;
  TestReceiver rx([&](const ReceivedRequest& r) {
    inbox.Add(r);
    return Reply{};
  });
  StartDispatcher();
  auto sub = Subscribe(rx.Url(), "", &inbox);
  for (int i = 0; i < 20; ++i) AppendEvent("t", "e" + std::to_string(i), "k");
  ASSERT_TRUE(WaitFor([&] { return inbox.size() == 20; }));
  dispatcher_->Stop();
  dispatcher_.reset();
  for (int i = 20; i < 30; ++i) AppendEvent("t", "e" + std::to_string(i), "k");
  StartDispatcher();  // same directory: subscription and positions are loaded
  ASSERT_TRUE(WaitFor([&] { return inbox.size() >= 30; }));
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(inbox.size(), 30u);  // nothing redelivered after a clean stop
  EXPECT_EQ(inbox.bad_signatures, 0);  // the stored secret is the same
  EXPECT_EQ(dispatcher_->List().size(), 1u);
}

TEST_F(DispatcherTest, CelFilterOverTheCloudEvent) {
  Inbox inbox;
  TestReceiver rx([&](const ReceivedRequest& r) {
    inbox.Add(r);
    return Reply{};
  });
  StartDispatcher();
  auto sub = Subscribe(rx.Url(), ",\"filter\":\"data.total > 100.0 && event.type.startsWith('shop.') && source == 'https://shop.example.com'\"",
                       &inbox);
  AppendEvent("shop.order.placed", "small", "a", "{\"total\":99.5}");
  AppendEvent("shop.order.placed", "big", "b", "{\"total\":250}");
  AppendEvent("shop.order.placed", "no-total", "c", "{}");  // evaluation error: not delivered
  ASSERT_TRUE(WaitFor([&] {
    auto st = dispatcher_->GetStatus(sub.id);
    return st.ok() && st->filtered_out == 2 && st->delivered == 1;
  }));
  auto got = inbox.Snapshot();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].Header("webhook-id"), "big");
  // A filter that does not compile is refused at creation, saying where.
  auto doc = json::Parse("{\"url\":\"" + rx.Url() + "\",\"filter\":\"data.total >\"}");
  auto bad = SubscriptionFromJson((*doc)->root(), nullptr);
  ASSERT_TRUE(bad.ok());
  auto refused = dispatcher_->Create(*bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("1:"), std::string::npos) << refused.status().message();
}

// A self-signed certificate for 127.0.0.1 (P-256, a day long) made with the OpenSSL API;
// returns the TLS server context and leaves the certificate (its own CA) at <dir>/<name>.pem.
std::shared_ptr<boost::asio::ssl::context> SelfSigned(const std::filesystem::path& dir,
                                                      const std::string& name) {
  std::filesystem::create_directories(dir);
  std::string cert_path = (dir / (name + ".pem")).string();
  std::string key_path = (dir / (name + ".key")).string();
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  if (key == nullptr || x == nullptr) return nullptr;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::random_device{}() & 0x7fffffff));
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME* subject = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, subject);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    if (ext == nullptr) return nullptr;
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  bool ok = X509_sign(x, key, EVP_sha256()) > 0;
  if (FILE* f = std::fopen(cert_path.c_str(), "w")) {
    ok = ok && PEM_write_X509(f, x) == 1;
    std::fclose(f);
  } else {
    ok = false;
  }
  if (FILE* f = std::fopen(key_path.c_str(), "w")) {
    ok = ok && PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    std::fclose(f);
  } else {
    ok = false;
  }
  X509_free(x);
  EVP_PKEY_free(key);
  if (!ok) return nullptr;
  auto ctx = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
  ctx->use_certificate_chain_file(cert_path);
  ctx->use_private_key_file(key_path, boost::asio::ssl::context::pem);
  return ctx;
}

TEST_F(DispatcherTest, HttpsReceiverTrustedThroughTheSubscriptionsCaFile) {
  auto tls = SelfSigned(dir_ / "tls", "receiver");
  ASSERT_NE(tls, nullptr) << "could not make a self-signed certificate";
  Inbox inbox;
  TestReceiver rx(
      [&](const ReceivedRequest& r) {
        inbox.Add(r);
        return Reply{};
      },
      tls);
  ASSERT_EQ(rx.Url().rfind("https://", 0), 0u);
  StartDispatcher();
  std::string ca = (dir_ / "tls" / "receiver.pem").string();
  auto sub = Subscribe(rx.Url(), ",\"tls_ca_file\":\"" + ca + "\"", &inbox);
  for (int i = 0; i < 20; ++i) AppendEvent("t", "s" + std::to_string(i), "k");
  ASSERT_TRUE(WaitFor([&] { return inbox.size() == 20; }));
  auto got = inbox.Snapshot();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(got[i].Header("webhook-id"), "s" + std::to_string(i));
  EXPECT_EQ(inbox.bad_signatures, 0);
  EXPECT_EQ(rx.tls_failures(), 0);
  EXPECT_LE(rx.connections(), 2);  // one key, keep-alive: the TLS session is reused
  auto attempts = dispatcher_->Attempts(sub.id, 100);
  ASSERT_TRUE(attempts.ok());
  ASSERT_FALSE(attempts->empty());
  EXPECT_EQ(attempts->back().result, "delivered");
  // The CA file is checked when the subscription is made.
  auto doc = json::Parse("{\"url\":\"" + rx.Url() + "\",\"tls_ca_file\":\"/nonexistent/ca.pem\"}");
  auto bad = dispatcher_->CreateJson((*doc)->root());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/nonexistent/ca.pem"), std::string::npos);
}

TEST_F(DispatcherTest, UntrustedHttpsReceiverFailsWithAClearError) {
  auto tls = SelfSigned(dir_ / "tls", "stranger");
  ASSERT_NE(tls, nullptr) << "could not make a self-signed certificate";
  Inbox inbox;
  TestReceiver rx(
      [&](const ReceivedRequest& r) {
        inbox.Add(r);
        return Reply{};
      },
      tls);
  StartDispatcher();
  // No CA file: the system trust store, which does not know this self-signed certificate.
  auto sub = Subscribe(rx.Url(), "", &inbox);
  AppendEvent("t", "u1", "k");
  std::vector<AttemptRecord> attempts;
  ASSERT_TRUE(WaitFor([&] {
    auto a = dispatcher_->Attempts(sub.id, 100);
    if (a.ok()) attempts = *a;
    return !attempts.empty();
  }));
  EXPECT_EQ(attempts[0].status, 0);
  EXPECT_EQ(attempts[0].result, "retry");
  EXPECT_NE(attempts[0].error.find("not trusted"), std::string::npos) << attempts[0].error;
  EXPECT_NE(attempts[0].error.find("self-signed"), std::string::npos) << attempts[0].error;
  EXPECT_NE(attempts[0].error.find("tls_ca_file"), std::string::npos) << attempts[0].error;
  EXPECT_EQ(inbox.size(), 0u);
  // The receiver sees the aborted handshake on its own thread, maybe after the attempt is logged.
  EXPECT_TRUE(WaitFor([&] { return rx.tls_failures() >= 1; }));
}

}  // namespace
}  // namespace ec::delivery
