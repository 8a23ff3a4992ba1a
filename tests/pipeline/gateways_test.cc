// The gateway decoders against fixtures in the gateways' documented formats. Each
// fixtures/NAME.json decodes to fixtures/NAME.expected.ndjson (one canonical exchange per line).
// EC_UPDATE_FIXTURES=1 rewrites the expected files (review the diff before committing).

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "pipeline/gateways/aws_apigw.h"
#include "pipeline/exchange.h"
#include "pipeline/gateways/envoy.h"
#include "pipeline/decode_util.h"
#include "json/document.h"
#include "json/writer.h"

namespace ec::pipeline::gateways {
namespace {

std::string Fixture(const std::string& name) {
  return std::string(EC_SOURCE_DIR) + "/tests/pipeline/gateways/fixtures/" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

pipeline::DecodeOptions Options() {
  pipeline::DecodeOptions o;
  o.now_ms = 1795774500000;  // records without a time get this one: deterministic output
  return o;
}

struct Case {
  const char* file;
  const char* format;
  size_t exchanges;
};

const Case kCases[] = {
    {"envoy_access_log", "envoy", 1},   {"envoy_operators", "envoy", 1},
    {"envoy_tap_trace", "envoy", 1},    {"aws_apigw_rest", "aws-apigw", 1},
    {"aws_apigw_http", "aws-apigw", 1}, {"aws_firehose_delivery", "aws-apigw", 3},
    {"aws_firehose_cloudwatch", "aws-apigw", 2}, {"nginx_lua", "nginx", 1},
    {"nginx_plain", "nginx", 1},        {"haproxy", "haproxy", 1},
};

class FixtureTest : public ::testing::TestWithParam<Case> {};

TEST_P(FixtureTest, DecodesToExpected) {
  const Case& c = GetParam();
  auto doc = json::Parse(ReadFile(Fixture(std::string(c.file) + ".json")));
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  // Detection over the whole decoder table picks exactly this decoder.
  Result<std::string_view> detected = pipeline::DetectFormat((*doc)->root(), "detect");
  ASSERT_TRUE(detected.ok()) << detected.status().ToString();
  EXPECT_EQ(*detected, c.format) << c.file;
  Arena arena;
  std::vector<json::Value> out;
  Status s = pipeline::DecodeRecords((*doc)->root(), c.format, Options(), &arena, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(out.size(), c.exchanges);
  std::string actual;
  for (const json::Value& x : out) {
    json::AppendJson(x, &actual);
    actual += '\n';
  }
  std::string expected_path = Fixture(std::string(c.file) + ".expected.ndjson");
  const char* update = std::getenv("EC_UPDATE_FIXTURES");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(expected_path, std::ios::binary) << actual;
  }
  EXPECT_EQ(actual, ReadFile(expected_path));
}

INSTANTIATE_TEST_SUITE_P(Gateways, FixtureTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.file); });

json::Value Decode1(std::string_view format, std::string_view text, Arena* arena, Status* status) {
  json::Value raw;
  EXPECT_TRUE(json::ParseInto(text, arena, &raw).ok()) << text;
  std::vector<json::Value> out;
  *status = pipeline::DecodeRecords(raw, format, Options(), arena, &out);
  return out.empty() ? json::Value() : out[0];
}

// Envoy's x-request-id is the exchange id (idempotent ingest recognises a shipper's retry);
// without one ("-" in the default format) the id is the content hash.
TEST(GatewayDecoders, EnvoyRequestIdIsTheExchangeId) {
  Arena arena;
  Status s;
  json::Value x = Decode1("envoy", R"({"start_time":"2026-11-27T10:15:30.123Z","method":"GET","path":"/a",
      "response_code":200,"request_id":"8a2f9c1e-0000-4f6a-9a7e-2f1c3d4e5f60"})", &arena, &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(x.Find("id")->string(), "8a2f9c1e-0000-4f6a-9a7e-2f1c3d4e5f60");
  x = Decode1("envoy", R"({"%START_TIME%":"2026-11-27T10:15:30.123Z","%REQ(:METHOD)%":"GET","%REQ(:PATH)%":"/a",
      "%RESPONSE_CODE%":"200","%REQ(X-REQUEST-ID)%":"-"})", &arena, &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(x.Find("id")->is_string());
  EXPECT_EQ(x.Find("id")->string().substr(0, 1), "x");  // the content hash
}

TEST(GatewayDecoders, FieldsThatMatter) {
  Arena arena;
  Status s;
  // Envoy tap: base64 request body decoded and parsed; pseudo-headers become method/path/status.
  auto tap = json::Parse(ReadFile(Fixture("envoy_tap_trace.json")));
  ASSERT_TRUE(tap.ok());
  std::vector<json::Value> out;
  ASSERT_TRUE(DecodeEnvoy((*tap)->root(), Options(), &arena, &out).ok());
  const json::Value& x = out[0];
  EXPECT_EQ(x.Find("request")->Find("method")->string(), "POST");
  EXPECT_EQ(x.Find("request")->Find("path")->string(), "/api/orders");
  EXPECT_EQ(x.Find("request")->Find("url")->string(), "https://shop.example.com/api/orders?dry=false");
  EXPECT_EQ(json::ToJson(*x.Find("request")->Find("body")), R"({"items":[{"sku":"A1","price":12.5,"qty":2}]})");
  EXPECT_EQ(x.Find("response")->Find("status")->number(), 201);
  EXPECT_EQ(x.Find("response")->Find("body")->Find("total")->number(), 25);
  EXPECT_EQ(x.Find("client")->Find("ip")->string(), "10.0.0.7");

  // API Gateway: no bodies, ever.
  json::Value aws = Decode1("aws-apigw", ReadFile(Fixture("aws_apigw_http.json")), &arena, &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(aws.Find("request")->Find("body")->is_null());
  EXPECT_TRUE(aws.Find("response")->Find("body")->is_null());
  EXPECT_EQ(aws.Find("latency_ms")->number(), 14);
  EXPECT_EQ(aws.Find("time")->string(), "2026-11-27T10:15:31.000Z");
  EXPECT_EQ(aws.Find("id")->string(), "JKJaXmPLvHcESHA=");

  // HAProxy: "-" is absent; exact bytes come from the *_b64 fields.
  json::Value h = Decode1("haproxy",
                          R"({"ts":"27/Nov/2026:01:39:28 +0000","method":"POST","path":"/p","query":"-",
                              "req_headers_raw":"host: a\r\ncontent-type: application/octet-stream\r\n\r\n",
                              "req_body":"-","req_body_b64":"/wA=","status":204,"res_headers":{"x":"-"},
                              "res_body":"-","Ta":5})",
                          &arena, &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(h.Find("request")->Find("headers")->Find("host")->string(), "a");
  EXPECT_EQ(h.Find("response")->Find("headers")->size(), 0u);
  EXPECT_TRUE(h.Find("response")->Find("body")->is_null());
  EXPECT_EQ(h.Find("time")->string(), "2026-11-27T01:39:28.000Z");
}

TEST(GatewayDecoders, WrongShapesAreRejectedWithAReason) {
  Arena arena;
  Status s;
  Decode1("envoy", R"({"foo":1})", &arena, &s);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("docs/gateways/envoy.md"), std::string::npos) << s.message();
  Decode1("aws-apigw", R"({"requestId":"x","timestamp":1,"records":[{"data":"%%%"}]})", &arena, &s);
  EXPECT_NE(s.message().find("records[0].data is not base64"), std::string::npos) << s.message();
  const std::string not_json = "bm90IGpzb24K";  // base64("not json\n")
  Decode1("aws-apigw", R"({"requestId":"x","timestamp":1,"records":[{"data":")" + not_json + R"("}]})",
          &arena, &s);
  EXPECT_EQ(s.code(), ErrorCode::kParseError);
  EXPECT_NE(s.message().find("records[0]"), std::string::npos) << s.message();
  Decode1("nginx", R"({"ts":1,"duration_ms":1,"request":{"args":{},"headers":"nope"}})", &arena, &s);
  EXPECT_FALSE(s.ok());
  Decode1("haproxy", R"({"req_headers_raw":"","status":200,"res_headers":[1]})", &arena, &s);
  EXPECT_FALSE(s.ok());
}

TEST(GatewayDecoders, GunzipLimitsAndFirehoseAnswer) {
  auto doc = json::Parse(ReadFile(Fixture("aws_firehose_cloudwatch.json")));
  ASSERT_TRUE(doc.ok());
  std::string gz;
  ASSERT_TRUE(pipeline::internal::DecodeBase64(
      (*doc)->root().Find("records")->At(0)->Find("data")->string(), &gz));
  auto plain = Gunzip(gz, 1 << 20);
  ASSERT_TRUE(plain.ok());
  EXPECT_NE(plain->find("DATA_MESSAGE"), std::string::npos);
  EXPECT_EQ(Gunzip(gz, 100).status().code(), ErrorCode::kLimitExceeded);
  EXPECT_EQ(Gunzip(gz.substr(0, gz.size() / 2), 1 << 20).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(FirehoseResponseBody("ed4a", 1795774532000, ""), R"({"requestId":"ed4a","timestamp":1795774532000})");
  EXPECT_EQ(FirehoseResponseBody("ed4a", 1, "bad \"x\""),
            R"({"requestId":"ed4a","timestamp":1,"errorMessage":"bad \"x\""})");
}

}  // namespace
}  // namespace ec::pipeline::gateways
