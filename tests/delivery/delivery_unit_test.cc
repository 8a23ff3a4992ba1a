// Pure pieces of delivery: SSRF guard, globs, retry/backoff timing, URLs, CloudEvents over HTTP,
// subscription JSON and the durable store.
#include <gtest/gtest.h>

#include <filesystem>

#include "delivery/attempt_log.h"
#include "delivery/cloud_event.h"
#include "delivery/signature.h"
#include "delivery/glob.h"
#include "delivery/http_client.h"
#include "delivery/retry_policy.h"
#include "delivery/ssrf_guard.h"
#include "delivery/subscription.h"
#include "delivery/subscription_store.h"
#include "json/document.h"

namespace ec::delivery {
namespace {

using std::chrono::milliseconds;

TEST(SsrfGuardTest, RefusesInternalAddressesByDefault) {
  SsrfGuard guard;
  for (const char* ip : {"127.0.0.1", "127.8.9.1", "10.1.2.3", "172.16.0.1", "172.31.255.255",
                         "192.168.1.1", "169.254.169.254", "169.254.1.1", "0.0.0.0", "100.64.0.1",
                         "::1", "::", "fe80::1", "fd12::1", "fd00:ec2::254", "::ffff:127.0.0.1",
                         "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "224.0.0.1", "168.63.129.16"}) {
    Status s = guard.CheckText(ip);
    EXPECT_FALSE(s.ok()) << ip;
    EXPECT_NE(s.message().find("--webhook-allow"), std::string::npos) << s.message();
  }
  for (const char* ip : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "2606:4700::1111", "93.184.216.34"}) {
    EXPECT_TRUE(guard.CheckText(ip).ok()) << ip;
  }
  EXPECT_NE(guard.CheckText("169.254.169.254").message().find("cloud metadata"), std::string::npos);
}

TEST(SsrfGuardTest, AllowListOpensExactlyTheRange) {
  SsrfGuard guard;
  guard.Allow(*ParseCidr("127.0.0.1/32"));
  guard.Allow(*ParseCidr("10.20.0.0/16"));
  EXPECT_TRUE(guard.CheckText("127.0.0.1").ok());
  EXPECT_FALSE(guard.CheckText("127.0.0.2").ok());
  EXPECT_TRUE(guard.CheckText("10.20.255.1").ok());
  EXPECT_FALSE(guard.CheckText("10.21.0.1").ok());
  EXPECT_TRUE(guard.CheckText("::ffff:127.0.0.1").ok());  // mapped form of an allowed address
  EXPECT_FALSE(guard.CheckText("::1").ok());
  EXPECT_FALSE(ParseCidr("10.0.0.0/33").ok());
  EXPECT_FALSE(ParseCidr("nonsense/8").ok());
  EXPECT_TRUE(ParseCidr("::1").ok());
}

// The delivery log keeps the newest `capacity` attempts, oldest first, across wrap-arounds.
TEST(AttemptLogTest, KeepsTheNewestInOrder) {
  auto ids = [](const std::vector<AttemptRecord>& v) {
    std::string s;
    for (const auto& a : v) s += a.event_id + ",";
    return s;
  };
  auto rec = [](std::string id) {
    AttemptRecord a;
    a.event_id = std::move(id);
    return a;
  };
  AttemptLog log(3);
  EXPECT_EQ(ids(log.Recent(10)), "");
  for (int i = 0; i < 2; ++i) log.Add(rec("e" + std::to_string(i)));
  EXPECT_EQ(ids(log.Recent(10)), "e0,e1,");
  for (int i = 2; i < 8; ++i) log.Add(rec("e" + std::to_string(i)));
  EXPECT_EQ(ids(log.Recent(10)), "e5,e6,e7,");
  EXPECT_EQ(ids(log.Recent(2)), "e6,e7,");
  EXPECT_EQ(ids(log.Recent(0)), "");
  AttemptLog none(0);
  none.Add(rec("x"));
  EXPECT_EQ(ids(none.Recent(5)), "");
}

TEST(GlobTest, Matches) {
  EXPECT_TRUE(GlobMatch("shop.order.*", "shop.order.placed"));
  EXPECT_FALSE(GlobMatch("shop.order.*", "shop.orders"));
  EXPECT_TRUE(GlobMatch("*", "anything"));
  EXPECT_TRUE(GlobMatch("shop.*.placed", "shop.order.placed"));
  EXPECT_TRUE(GlobMatch("shop.orde?.placed", "shop.order.placed"));
  EXPECT_FALSE(GlobMatch("shop.order.placed", "shop.order.placedx"));
  EXPECT_TRUE(GlobMatch("a*b*c", "axxbyyc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "axxbyy"));
}

TEST(RetryPolicyTest, ClassifiesStatuses) {
  EXPECT_EQ(Classify(200), Outcome::kDelivered);
  EXPECT_EQ(Classify(204), Outcome::kDelivered);
  for (int s : {0, 408, 429, 500, 502, 503, 504}) EXPECT_EQ(Classify(s), Outcome::kRetry) << s;
  for (int s : {301, 400, 401, 403, 404, 410, 422}) EXPECT_EQ(Classify(s), Outcome::kFinal) << s;
}

TEST(RetryPolicyTest, ExponentialBackoffWithJitterAndCap) {
  RetryPolicy p;
  p.initial_backoff = milliseconds(100);
  p.multiplier = 2;
  p.max_backoff = milliseconds(1000);
  p.jitter = 0.5;
  EXPECT_EQ(BackoffDelay(p, 2, 0.5, std::nullopt), milliseconds(100));   // factor 1
  EXPECT_EQ(BackoffDelay(p, 3, 0.5, std::nullopt), milliseconds(200));
  EXPECT_EQ(BackoffDelay(p, 4, 0.5, std::nullopt), milliseconds(400));
  EXPECT_EQ(BackoffDelay(p, 10, 0.5, std::nullopt), milliseconds(1000));  // capped
  EXPECT_EQ(BackoffDelay(p, 2, 0.0, std::nullopt), milliseconds(50));     // -50%
  EXPECT_EQ(BackoffDelay(p, 2, 0.999999, std::nullopt), milliseconds(150));
  // Retry-After replaces the computed delay, capped by max_retry_after.
  EXPECT_EQ(BackoffDelay(p, 2, 0.5, milliseconds(7000)), milliseconds(7000));
  p.max_retry_after = milliseconds(3000);
  EXPECT_EQ(BackoffDelay(p, 2, 0.5, milliseconds(7000)), milliseconds(3000));
}

TEST(RetryPolicyTest, ParsesRetryAfter) {
  EXPECT_EQ(ParseRetryAfter("120", 0), milliseconds(120000));
  EXPECT_EQ(ParseRetryAfter(" 3 ", 0), milliseconds(3000));
  // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 10), milliseconds(10000));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 10), milliseconds(0));
  EXPECT_FALSE(ParseRetryAfter("soon", 0).has_value());
  EXPECT_FALSE(ParseRetryAfter("-5", 0).has_value());
}

TEST(UrlTest, Parses) {
  auto u = ParseUrl("http://hooks.example.com:8081/a/b?x=1#frag");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "hooks.example.com");
  EXPECT_EQ(u->port, 8081);
  EXPECT_EQ(u->target, "/a/b?x=1");
  auto v6 = ParseUrl("http://[::1]:9/");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(ParseUrl("http://h").value().target, "/");
  EXPECT_FALSE(ParseUrl("ftp://h/").ok());
  EXPECT_FALSE(ParseUrl("http://user:pw@h/").ok());
  EXPECT_FALSE(ParseUrl("http://h:99999/").ok());
  auto tls = ParseUrl("https://hooks.example.com/in");
  ASSERT_TRUE(tls.ok());
  EXPECT_EQ(tls->scheme, "https");
  EXPECT_EQ(tls->port, 443);
  EXPECT_EQ(ParseUrl("https://h:8443/").value().port, 8443);
}

SourceRecord BinaryRecord() {
  SourceRecord r;
  r.topic = "shop.order.placed";
  r.offset = 7;
  r.key = "o-1";
  r.headers = {{"ce_specversion", "1.0"},     {"ce_id", "ev-1"},
               {"ce_source", "https://shop"}, {"ce_type", "shop.order.placed"},
               {"ce_subject", "a b\"%"},      {"content-type", "application/json"}};
  r.value = "{\"orderId\":\"o-1\",\"total\":25}";
  return r;
}

TEST(CloudEventTest, BinaryRecordToBinaryAndStructuredHttp) {
  auto ev = CloudEventFromRecord(BinaryRecord());
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->Attr("id"), "ev-1");
  std::vector<std::pair<std::string, std::string>> h;
  std::string body;
  ToHttp(*ev, ContentMode::kBinary, &h, &body);
  EXPECT_EQ(body, "{\"orderId\":\"o-1\",\"total\":25}");
  auto find = [&](std::string_view n) {
    for (auto& [k, v] : h) {
      if (k == n) return v;
    }
    return std::string("<absent>");
  };
  EXPECT_EQ(find("ce-id"), "ev-1");
  EXPECT_EQ(find("ce-type"), "shop.order.placed");
  EXPECT_EQ(find("ce-subject"), "a%20b%22%25");
  EXPECT_EQ(find("content-type"), "application/json");
  h.clear();
  ToHttp(*ev, ContentMode::kStructured, &h, &body);
  EXPECT_EQ(find("content-type"), "application/cloudevents+json; charset=utf-8");
  auto doc = json::Parse(body);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)->root().Find("id")->string(), "ev-1");
  EXPECT_EQ((*doc)->root().Find("datacontenttype")->string(), "application/json");
  EXPECT_EQ((*doc)->root().Find("data")->Find("total")->number(), 25);
}

// The webhook worker's serialized binary request (RequestStart, AppendBinaryHeaderLines,
// header lines, AppendRequestEnd) has the bytes the client writes for ToHttp's header list;
// what it cannot write identically it refuses, leaving the caller's string as it was.
TEST(CloudEventTest, SerializedBinaryRequestEqualsTheHeaderListsBytes) {
  auto url = ParseUrl("http://hooks.example.com:8080/in?x=1");
  ASSERT_TRUE(url.ok());
  auto list_bytes = [&](const CloudEvent& ev) {
    ClientRequest req;
    req.url = *url;
    ToHttp(ev, ContentMode::kBinary, &req.headers, &req.body);
    req.headers.emplace_back("webhook-id", std::string(ev.Attr("id")));
    req.headers.emplace_back("authorization", "Bearer t");
    auto bytes = SerializeRequest(req);
    EXPECT_TRUE(bytes.ok());
    return bytes.ok() ? *bytes : std::string();
  };
  auto wired_bytes = [&](const CloudEvent& ev, bool* ok) {
    std::string w = RequestStart("POST", *url);
    *ok = AppendBinaryHeaderLines(ev, &w) && AppendHeaderLine("webhook-id", ev.Attr("id"), &w) &&
          AppendHeaderLine("authorization", "Bearer t", &w);
    AppendRequestEnd(ev.data, &w);
    return w;
  };
  SourceRecord r = BinaryRecord();  // a subject with a space, '"' and '%'
  auto ev = TakeCloudEvent(&r, /*check_json_data=*/false);
  ASSERT_TRUE(ev.ok());
  bool ok = false;
  std::string wired = wired_bytes(*ev, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(wired, list_bytes(*ev));
  EXPECT_NE(wired.find("Host: hooks.example.com:8080\r\n"), std::string::npos) << wired;
  EXPECT_NE(wired.find("ce-subject: a%20b%22%25\r\n"), std::string::npos) << wired;
  EXPECT_NE(wired.find("content-type: application/json\r\n"), std::string::npos) << wired;
  EXPECT_TRUE(wired.starts_with("POST /in?x=1 HTTP/1.1\r\n")) << wired;
  EXPECT_TRUE(wired.ends_with("Content-Length: " + std::to_string(ev->data.size()) +
                              "\r\nConnection: keep-alive\r\n\r\n" + ev->data))
      << wired;

  // Not written by the fast path: an upper-case name, a name twice, a CR in the content type.
  for (int bad = 0; bad < 3; ++bad) {
    CloudEvent e = *ev;
    if (bad == 0) e.attributes.emplace_back("Ext", "v");
    if (bad == 1) e.attributes.emplace_back("id", "again");
    if (bad == 2) {
      for (auto& [k, v] : e.attributes) {
        if (k == "datacontenttype") v = "text/plain\r\nx-injected: 1";
      }
    }
    std::string w = "prefix";
    EXPECT_FALSE(AppendBinaryHeaderLines(e, &w)) << bad;
    EXPECT_EQ(w, "prefix") << bad;
  }
  std::string w = "prefix";
  EXPECT_FALSE(AppendHeaderLine("bad name", "v", &w));
  EXPECT_FALSE(AppendHeaderLine("x", "a\nb", &w));
  EXPECT_FALSE(AppendHeaderLine("", "v", &w));
  EXPECT_EQ(w, "prefix");
}

// TakeCloudEvent without the JSON check (what binary-mode delivery uses) still gives the
// structured form right: JSON data embedded as JSON, anything else as data_base64.
TEST(CloudEventTest, TakenWithoutJsonCheckStillRendersStructuredRight) {
  SourceRecord r = BinaryRecord();
  auto ev = TakeCloudEvent(&r, /*check_json_data=*/false);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_FALSE(ev->json_checked);
  EXPECT_EQ(ev->data, "{\"orderId\":\"o-1\",\"total\":25}");
  EXPECT_EQ(r.offset, BinaryRecord().offset);
  auto doc = json::Parse(ToStructuredJson(*ev));
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)->root().Find("data")->Find("total")->number(), 25);

  SourceRecord bad = BinaryRecord();
  bad.value = "{not json";
  auto ev2 = TakeCloudEvent(&bad, /*check_json_data=*/false);
  ASSERT_TRUE(ev2.ok());
  auto doc2 = json::Parse(ToStructuredJson(*ev2));
  ASSERT_TRUE(doc2.ok());
  EXPECT_EQ((*doc2)->root().Find("data"), nullptr);
  EXPECT_EQ((*doc2)->root().Find("data_base64")->string(), Base64Encode("{not json"));
}

TEST(CloudEventTest, StructuredRecordAndNonEvents) {
  SourceRecord r;
  r.topic = "t";
  r.headers = {{"content-type", "application/cloudevents+json"}};
  r.value = R"({"specversion":"1.0","id":"x","type":"a.b","source":"s","datacontenttype":"application/json","data":{"k":[1,2]}})";
  auto ev = CloudEventFromRecord(r);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_TRUE(ev->data_is_json);
  EXPECT_EQ(ev->data, "{\"k\":[1,2]}");
  SourceRecord plain;
  plain.topic = "changelog";
  plain.value = "{\"op\":\"c\"}";
  EXPECT_FALSE(CloudEventFromRecord(plain).ok());
}

TEST(SubscriptionTest, ParsesValidatesAndHidesSecrets) {
  auto doc = json::Parse(R"({"url":"http://127.0.0.1:9/h","types":["shop.order.*"],
      "auth":{"type":"bearer","token":"tok"},"headers":{"X-Tenant":"t1"},"mode":"structured",
      "max_in_flight":4,"rate_limit":100})");
  ASSERT_TRUE(doc.ok());
  auto sub = SubscriptionFromJson((*doc)->root(), nullptr);
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  EXPECT_TRUE(sub->secret.starts_with("whsec_"));  // generated
  EXPECT_EQ(sub->mode, ContentMode::kStructured);
  EXPECT_EQ(sub->headers[0].first, "x-tenant");
  std::string pub = SubscriptionToJson(*sub, false);
  EXPECT_EQ(pub.find("whsec_"), std::string::npos);
  EXPECT_EQ(pub.find("tok"), std::string::npos);
  EXPECT_NE(SubscriptionToJson(*sub, true).find(sub->secret), std::string::npos);

  auto bad = [](std::string_view text) {
    auto d = json::Parse(text);
    auto s = SubscriptionFromJson((*d)->root(), nullptr);
    return s.ok() ? std::string("ok") : s.status().message();
  };
  EXPECT_NE(bad(R"({"types":["a"]})").find("\"url\" is required"), std::string::npos);
  EXPECT_NE(bad(R"({"url":"http://h/","mode":"weird"})").find("\"weird\""), std::string::npos);
  EXPECT_NE(bad(R"({"url":"http://h/","secret":"whsec_!!"})").find("base64"), std::string::npos);
  EXPECT_NE(bad(R"({"url":"http://h/","colour":1})").find("unknown field \"colour\""),
            std::string::npos);
  EXPECT_NE(bad(R"({"url":"http://h/","headers":{"webhook-id":"x"}})").find("headers"),
            std::string::npos);
  EXPECT_NE(bad(R"({"url":"http://h/","max_in_flight":0})").find("1..1024"), std::string::npos);
}

TEST(SubscriptionStoreTest, RoundTripsSubscriptionsAndPositions) {
  auto dir = std::filesystem::temp_directory_path() /
             ("ec_store_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  SubscriptionStore store(dir);
  ASSERT_TRUE(store.Open().ok());
  EXPECT_TRUE(store.LoadSubscriptions()->empty());
  auto doc = json::Parse(R"({"url":"http://127.0.0.1:9/h","types":["a.*"],
      "auth":{"type":"basic","username":"u","password":"p"}})");
  auto sub = *SubscriptionFromJson((*doc)->root(), nullptr);
  sub.id = "sub_1";
  sub.created_ms = 123;
  sub.disabled_reason = "gone";
  ASSERT_TRUE(store.SaveSubscriptions({sub}).ok());
  auto loaded = store.LoadSubscriptions();
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].id, "sub_1");
  EXPECT_EQ((*loaded)[0].secret, sub.secret);
  EXPECT_EQ((*loaded)[0].auth.password, "p");
  EXPECT_EQ((*loaded)[0].created_ms, 123);
  EXPECT_EQ((*loaded)[0].disabled_reason, "gone");
  Positions pos{{{"t1", 0}, 42}, {{"t2", 3}, 7}};
  ASSERT_TRUE(store.SavePositions("sub_1", pos).ok());
  EXPECT_EQ(*store.LoadPositions("sub_1"), pos);
  EXPECT_TRUE(store.LoadPositions("other")->empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ec::delivery
