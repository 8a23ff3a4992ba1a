// Decoders: canonical, kong, har, detection, normalisation, redaction, limits.
#include "pipeline/exchange.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "json/document.h"
#include "json/writer.h"

namespace ec::pipeline {
namespace {

struct Decoded {
  Status status;
  std::vector<json::Value> out;
  std::string Json(size_t i = 0) const { return json::ToJson(out.at(i)); }
};

class DecodeTest : public ::testing::Test {
 protected:
  Decoded Decode(std::string_view text, std::string_view format = "detect") {
    Decoded d;
    d.status = DecodeBytes(text, format, options_, &arena_, &d.out);
    return d;
  }
  std::string Field(const Decoded& d, std::initializer_list<std::string_view> path, size_t i = 0) {
    const json::Value* v = &d.out.at(i);
    for (std::string_view p : path) {
      v = v->Find(p);
      if (v == nullptr) return "<absent>";
    }
    return json::ToJson(*v);
  }
  Arena arena_;
  DecodeOptions options_ = [] {
    DecodeOptions o;
    o.now_ms = 1795774530123;
    return o;
  }();
};

TEST_F(DecodeTest, CanonicalNormalises) {
  Decoded d = Decode(R"({"id":"e1","time":"2026-11-27T10:15:30.123Z","latency_ms":12.5,
    "request":{"method":"post","url":"https://shop.example.com/api/orders?dry=false&tag=a&tag=b",
      "headers":{"Content-Type":"application/json","X-A":"1"},"body":"{\"n\":25.0}"},
    "response":{"status":201,"headers":{"content-type":"application/problem+json"},"body":"{\"ok\":true}"},
    "client":{"ip":"10.0.0.7"}})");
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(d.Json(),
            R"({"id":"e1","time":"2026-11-27T10:15:30.123Z","latency_ms":12.5,"request":{"method":"POST",)"
            R"("url":"https://shop.example.com/api/orders?dry=false&tag=a&tag=b","path":"/api/orders",)"
            R"("query":{"dry":"false","tag":["a","b"]},"headers":{"content-type":"application/json","x-a":"1"},)"
            R"("body":{"n":25}},"response":{"status":201,"headers":{"content-type":"application/problem+json"},)"
            R"("body":{"ok":true}},"client":{"ip":"10.0.0.7"}})");
}

TEST_F(DecodeTest, FormTextAndBase64Bodies) {
  Decoded d = Decode(R"({"request":{"method":"POST","path":"/f","headers":{"content-type":"application/x-www-form-urlencoded; charset=utf-8"},
    "body":"a=1&b=x+y%21&a=2"},"response":{"status":200,"headers":{"content-type":"text/plain"},
    "body":"aGVsbG8=","body_encoding":"base64"}})");
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(Field(d, {"request", "body"}), R"({"a":["1","2"],"b":"x y!"})");
  EXPECT_EQ(Field(d, {"response", "body"}), R"("hello")");
  EXPECT_EQ(Field(d, {"request", "query"}), "{}");
}

TEST_F(DecodeTest, AbsentAndEmptyBodiesAreNull) {
  Decoded d = Decode(R"({"request":{"method":"GET","path":"/x"},"response":{"status":204,"body":""}})");
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(Field(d, {"request", "body"}), "null");
  EXPECT_EQ(Field(d, {"response", "body"}), "null");
}

TEST_F(DecodeTest, BrokenJsonBodyStaysString) {
  Decoded d = Decode(R"({"request":{"method":"GET","path":"/x"},"response":{"status":200,
    "headers":{"content-type":"application/json"},"body":"{\"trunc"}})");
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(Field(d, {"response", "body"}), R"("{\"trunc")");
}

TEST_F(DecodeTest, IdIsStableAndTimeAssigned) {
  const char* rec = R"({"request":{"method":"GET","path":"/x"},"response":{"status":200}})";
  Decoded a = Decode(rec);
  options_.now_ms = 1795774539999;  // a retry, later
  Decoded b = Decode(rec);
  ASSERT_TRUE(a.status.ok() && b.status.ok());
  EXPECT_EQ(Field(a, {"id"}), Field(b, {"id"}));
  EXPECT_EQ(Field(a, {"id"}).size(), 2u + 33u);
  EXPECT_EQ(Field(a, {"time"}), R"("2026-11-27T10:15:30.123Z")");
  Decoded c = Decode(R"({"request":{"method":"GET","path":"/y"},"response":{"status":200}})");
  EXPECT_NE(Field(a, {"id"}), Field(c, {"id"}));
}

TEST_F(DecodeTest, Redaction) {
  std::vector<std::string> paths{"request.headers.authorization", "response.headers.set-cookie",
                                 "request.body.card.number", "request.body.items.secret"};
  options_.redact = paths;
  Decoded d = Decode(R"({"request":{"method":"POST","path":"/x","headers":{"Authorization":"Bearer t",
    "content-type":"application/json"},"body":{"card":{"number":"4111","exp":"12/30"},"items":[{"secret":1,"n":2}]}},
    "response":{"status":200,"headers":{"Set-Cookie":"s=1"}}})");
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(Field(d, {"request", "headers"}), R"({"authorization":"[REDACTED]","content-type":"application/json"})");
  EXPECT_EQ(Field(d, {"request", "body"}), R"({"card":{"number":"[REDACTED]","exp":"12/30"},"items":[{"secret":"[REDACTED]","n":2}]})");
  EXPECT_EQ(Field(d, {"response", "headers"}), R"({"set-cookie":"[REDACTED]"})");
  EXPECT_EQ(d.Json().find("Bearer"), std::string::npos);
}

TEST_F(DecodeTest, Kong) {
  Decoded d = Decode(R"({"started_at":1795774530123,"client_ip":"10.0.0.7",
    "request":{"method":"POST","uri":"/api/orders?dry=false","url":"https://shop.example.com:443/api/orders?dry=false",
      "querystring":{"dry":"false","flag":true},"headers":{"Content-Type":"application/json","x-multi":["a","b"]},
      "size":200,"body":"{\"items\":[]}"},
    "response":{"status":201,"headers":{"content-type":"application/json"},"size":100,"body":"{\"id\":\"o-1\"}"},
    "latencies":{"request":15,"kong":3,"proxy":12},"route":{"name":"orders"},"service":{"name":"orders-svc"},
    "consumer":{"username":"shop-web","id":"c1"},"upstream_uri":"/orders?dry=false","tries":[]})");
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(Field(d, {"time"}), R"("2026-11-27T10:15:30.123Z")");
  EXPECT_EQ(Field(d, {"latency_ms"}), "15");
  EXPECT_EQ(Field(d, {"request", "path"}), R"("/api/orders")");
  EXPECT_EQ(Field(d, {"request", "query"}), R"({"dry":"false","flag":""})");
  EXPECT_EQ(Field(d, {"request", "headers", "x-multi"}), R"("a, b")");
  EXPECT_EQ(Field(d, {"request", "body"}), R"({"items":[]})");
  EXPECT_EQ(Field(d, {"response", "body", "id"}), R"("o-1")");
  EXPECT_EQ(Field(d, {"client"}), R"({"ip":"10.0.0.7","consumer":"shop-web"})");
  EXPECT_EQ(Field(d, {"gateway", "route"}), R"("orders")");
  EXPECT_EQ(Field(d, {"gateway", "service"}), R"("orders-svc")");
}

TEST_F(DecodeTest, HarFileGivesOneExchangePerEntry) {
  Decoded d = Decode(R"({"log":{"version":"1.2","creator":{"name":"Firefox","version":"120"},"entries":[
    {"startedDateTime":"2026-11-27T11:15:30.123+01:00","time":20,"request":{"method":"POST","url":"https://shop.example.com/api/customers?x=1",
      "httpVersion":"HTTP/2","headers":[{"name":":authority","value":"shop.example.com"},{"name":"Content-Type","value":"application/json"}],
      "queryString":[{"name":"x","value":"1"}],"cookies":[],"headersSize":-1,"bodySize":20,
      "postData":{"mimeType":"application/json","text":"{\"email\":\"a@b.c\"}"}},
     "response":{"status":201,"statusText":"Created","httpVersion":"HTTP/2","headers":[{"name":"Set-Cookie","value":"a=1"},{"name":"Set-Cookie","value":"b=2"}],
      "cookies":[],"content":{"size":14,"mimeType":"application/json","text":"eyJpZCI6ImMtMSJ9","encoding":"base64"},
      "redirectURL":"","headersSize":-1,"bodySize":14},"cache":{},"timings":{"send":1,"wait":18,"receive":1},"serverIPAddress":"192.0.2.1"},
    {"startedDateTime":"2026-11-27T10:15:31.000Z","time":5,"request":{"method":"GET","url":"https://shop.example.com/api/orders","httpVersion":"HTTP/1.1",
      "headers":[],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":0},
     "response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"size":2,"mimeType":"application/json","text":"[]"},
      "redirectURL":"","headersSize":-1,"bodySize":2},"cache":{},"timings":{"send":0,"wait":5,"receive":0}}]}})");
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  ASSERT_EQ(d.out.size(), 2u);
  EXPECT_EQ(Field(d, {"request", "headers"}), R"({"content-type":"application/json"})");
  EXPECT_EQ(Field(d, {"request", "body"}), R"({"email":"a@b.c"})");
  EXPECT_EQ(Field(d, {"response", "body"}), R"({"id":"c-1"})");
  EXPECT_EQ(Field(d, {"response", "headers", "set-cookie"}), R"(["a=1","b=2"])");
  EXPECT_EQ(Field(d, {"time"}), R"("2026-11-27T11:15:30.123+01:00")");
  EXPECT_EQ(Field(d, {"gateway"}), R"({"kind":"har","creator":"Firefox","server_ip":"192.0.2.1"})");
  EXPECT_EQ(Field(d, {"response", "body"}, 1), "[]");
  EXPECT_NE(Field(d, {"id"}, 0), Field(d, {"id"}, 1));
}

TEST_F(DecodeTest, DetectionAndRejections) {
  auto reason = [&](std::string_view text, std::string_view format = "detect") {
    Decoded d = Decode(text, format);
    EXPECT_FALSE(d.status.ok()) << text;
    return d.status.message();
  };
  EXPECT_NE(reason(R"({"hello":1})").find("no decoder accepts"), std::string::npos);
  EXPECT_NE(reason(R"([1,2])").find("must be a JSON object"), std::string::npos);
  EXPECT_NE(reason(R"({"request":{"method":"GET","path":"/"},"response":{"status":200}})", "envoyx")
                .find("unknown format \"envoyx\""),
            std::string::npos);
  EXPECT_NE(reason(R"({"request":{"method":5,"path":"/"},"response":{"status":200}})")
                .find("request.method must be a non-empty string, got number"),
            std::string::npos);
  EXPECT_NE(reason(R"({"request":{"method":"GET","path":"/"},"response":{"status":"200"}})")
                .find("response.status must be a number, got string"),
            std::string::npos);
  EXPECT_NE(reason(R"({"request":{"method":"GET","path":"/"},"response":{"status":200},"time":"yesterday"})")
                .find("RFC 3339"),
            std::string::npos);
  EXPECT_NE(reason(R"({"request":{"method":"GET","path":"/"},"response":{"status": 200})", "canonical")
                .find("line 1"),
            std::string::npos);
  std::string deep = std::string(100, '[') + std::string(100, ']');
  Decoded d = Decode(deep);
  EXPECT_EQ(d.status.code(), ErrorCode::kLimitExceeded);
  options_.max_body_bytes = 10;
  Decoded big = Decode(R"({"request":{"method":"GET","path":"/"},"response":{"status":200,"body":"0123456789ABC"}})");
  EXPECT_EQ(big.status.code(), ErrorCode::kLimitExceeded);
  EXPECT_EQ(Decode(R"({"request":{"method":"GET","path":"/"},"response":{"status":200}})", "kong").status.code(),
            ErrorCode::kInvalidArgument);
}

// DecodeOptions::json_out: the text written while decoding is exactly json::AppendJson of each
// exchange decoded, and the exchanges are the same as without it, for every decoder and for
// records with and without id and time, under redaction paths that hit headers (any case),
// nested bodies, arrays, wildcards, the id and the time.
TEST_F(DecodeTest, JsonTextWrittenWhileDecodingIsTheExchangesJson) {
  std::vector<std::string> records;
  for (const DecoderInfo& info : Decoders()) records.emplace_back(info.example);
  const char* canonical[] = {
      R"({"request":{"method":"POST","url":"https://s/x?a=1","path":"/x","query":{},"headers":{"user-agent":"u","Authorization":"Bearer t","content-type":"application/json"},"body":{"card":{"number":"4111"},"items":[{"secret":1,"n":2.50},{"n":1e2}]}},"response":{"status":201,"headers":{"set-cookie":"s=1"},"body":{"id":"c-1"}},"latency_ms":12.90,"client":{"ip":"10.0.0.1"},"gateway":{"kind":"kong"}})",
      R"({"time":"2026-11-27T17:18:20.050Z","latency_ms":49.0,"request":{"method":"post","path":"/api/orders","query":{},"headers":{"authorization":"Bearer s","content-type":"application/json"},"body":{"customer":{"id":"c-1"},"items":[{"sku":"E5","price":620.0,"qty":4}]}},"response":{"status":422,"headers":{"content-type":"application/json"},"body":{"error":"out of \"stock\"\n\u00e9"}}})",
      R"({"id":"ex-1","time":"2026-11-27T17:18:20.050Z","request":{"method":"GET","path":"/x","headers":{"Authorization":"a","authorization":"b"}},"response":{"status":200}})",
      R"({"request":{"method":"GET","path":"/x"},"response":{"status":200}})",
      R"({"request":{"method":"GET","path":"/x","headers":{"cookie":"c"}},"response":{"status":204,"body":""}})",
  };
  for (const char* c : canonical) records.emplace_back(c);
  // A redaction path longer than Redact's 16 segments on the stack.
  std::string deep_path = "request.body";
  std::string deep_body = "\"secretvalue\"";
  for (char c = 'a'; c <= 'p'; ++c) {
    deep_body = std::string("{\"") + c + "\":" + deep_body + ",\"keep\":1}";
  }
  for (char c = 'p'; c >= 'a'; --c) deep_path += std::string(".") + c;  // 18 segments
  records.push_back(R"({"request":{"method":"POST","path":"/d","headers":{"content-type":"application/json"},"body":)" +
                    deep_body + R"(},"response":{"status":200}})");
  std::vector<std::vector<std::string>> redactions = {
      {},
      {"request.headers.authorization", "request.headers.cookie", "response.headers.set-cookie"},
      {"request.body.card.number", "request.body.items.secret", "response.body"},
      {"*.headers"},
      {"id", "request.headers.authorization"},
      {"time"},
      {"request"},
      {deep_path, "request.headers.authorization"},
  };
  for (const std::vector<std::string>& paths : redactions) {
    for (const std::string& rec : records) {
      DecodeOptions plain_options = options_;
      plain_options.redact = paths;
      Arena arena;
      std::vector<json::Value> plain;
      Status ps = DecodeBytes(rec, "detect", plain_options, &arena, &plain);
      std::string text = "prefix";
      std::vector<size_t> sizes{7};
      DecodeOptions text_options = plain_options;
      text_options.json_out = &text;
      text_options.json_sizes = &sizes;
      std::vector<json::Value> with;
      Status ws = DecodeBytes(rec, "detect", text_options, &arena, &with);
      ASSERT_EQ(ps.ok(), ws.ok()) << rec;
      if (!ps.ok()) continue;
      ASSERT_EQ(plain.size(), with.size());
      ASSERT_EQ(sizes.size(), with.size() + 1) << rec;
      std::string expected = "prefix";
      for (size_t i = 0; i < with.size(); ++i) {
        EXPECT_EQ(json::ToJson(plain[i]), json::ToJson(with[i])) << rec;
        size_t at = expected.size();
        json::AppendJson(with[i], &expected);
        EXPECT_EQ(sizes[i + 1], expected.size() - at) << rec;
      }
      EXPECT_EQ(text, expected) << "redact " << (paths.empty() ? "" : paths[0]) << ": " << rec;
      if (std::find(paths.begin(), paths.end(), "request.headers.authorization") != paths.end()) {
        EXPECT_EQ(text.find("Bearer"), std::string::npos) << rec;
      }
      if (paths.size() > 0 && paths[0] == deep_path) {
        EXPECT_EQ(text.find("secretvalue"), std::string::npos) << rec;
      }
    }
  }
  // On error nothing is added to the text.
  std::string text = "x";
  std::vector<size_t> sizes;
  DecodeOptions o = options_;
  o.json_out = &text;
  o.json_sizes = &sizes;
  std::vector<json::Value> out;
  Arena arena;
  EXPECT_FALSE(DecodeBytes(R"({"request":{"method":"GET","path":"/"},"response":{"status":"x"}})", "canonical", o,
                           &arena, &out)
                   .ok());
  EXPECT_EQ(text, "x");
  EXPECT_TRUE(sizes.empty());
}

TEST_F(DecodeTest, DetectsEachDecoder) {
  for (const DecoderInfo& info : Decoders()) {
    Arena arena;
    json::Value raw;
    ASSERT_TRUE(json::ParseInto(info.example, &arena, &raw).ok()) << info.name;
    Result<std::string_view> f = DetectFormat(raw, "detect");
    ASSERT_TRUE(f.ok()) << info.name;
    EXPECT_EQ(*f, info.name);
    Decoded d = Decode(info.example, info.name);
    EXPECT_TRUE(d.status.ok()) << info.name << ": " << d.status.ToString();
  }
}

}  // namespace
}  // namespace ec::pipeline
