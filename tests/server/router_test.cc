#include "server/http/router.h"

#include <gtest/gtest.h>

namespace ec::server {
namespace {

HttpHandler Named(std::string name) {
  return [name](HttpRequest& req) {
    std::string body = name;
    for (auto& [k, v] : req.params) body += " " + k + "=" + v;
    return HttpResponse::Text(200, body);
  };
}

HttpRequest Req(std::string method, std::string path) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

TEST(RouterTest, LiteralBeatsParameterAndCapturesParams) {
  Router router;
  router.Add("GET", "/v1/topics/{topic}", Named("topic"));
  router.Add("GET", "/v1/topics/special", Named("special"));
  router.Add("GET", "/v1/specs/{spec}/operations/{op}", Named("op"));
  HttpRequest a = Req("GET", "/v1/topics/orders");
  EXPECT_EQ(router.Dispatch(a).body, "topic topic=orders");
  HttpRequest b = Req("GET", "/v1/topics/special");
  EXPECT_EQ(router.Dispatch(b).body, "special");
  HttpRequest c = Req("GET", "/v1/specs/shop/operations/createOrder");
  EXPECT_EQ(router.Dispatch(c).body, "op spec=shop op=createOrder");
}

TEST(RouterTest, NotFoundAndMethodNotAllowed) {
  Router router;
  router.Add("POST", "/v1/exchanges", Named("ingest"));
  HttpRequest a = Req("GET", "/v1/exchanges");
  HttpResponse r = router.Dispatch(a);
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.body.find("method_not_allowed"), std::string::npos);
  HttpRequest b = Req("POST", "/v1/nothing");
  EXPECT_EQ(router.Dispatch(b).status, 404);
  HttpRequest c = Req("POST", "/v1/exchanges/extra");
  EXPECT_EQ(router.Dispatch(c).status, 404);
}

TEST(RouterTest, EmptySegmentsAreIgnored) {
  Router router;
  router.Add("GET", "/healthz", Named("h"));
  HttpRequest a = Req("GET", "//healthz/");
  EXPECT_EQ(router.Dispatch(a).body, "h");
  EXPECT_EQ(SplitPath("/a//b/").size(), 2u);
}

TEST(HttpTypesTest, QueryAndPercentDecoding) {
  HttpRequest r;
  r.query = "format=kong&x=a%20b+c&flag&format=har";
  bool found = false;
  EXPECT_EQ(r.QueryParam("format", &found), "kong");
  EXPECT_TRUE(found);
  EXPECT_EQ(r.QueryParam("x"), "a b c");
  EXPECT_EQ(r.QueryParam("flag", &found), "");
  EXPECT_TRUE(found);
  r.QueryParam("missing", &found);
  EXPECT_FALSE(found);
  EXPECT_EQ(PercentDecode("%2Forders%zz%4", false), "/orders%zz%4");
}

TEST(HttpTypesTest, ErrorBodyIsJson) {
  HttpResponse r = HttpResponse::Error(400, "bad_json", "line 1, column 2: \"oops\"");
  EXPECT_EQ(r.body, R"({"error":{"code":"bad_json","message":"line 1, column 2: \"oops\""}})");
}

}  // namespace
}  // namespace ec::server
