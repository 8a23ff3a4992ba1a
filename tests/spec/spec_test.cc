// Spec loading: matching, $ref resolution (local and relative files), defaults, and errors
// that name file:line:col and quote the expression.
#include "spec/spec.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ec::spec {
namespace {

namespace fs = std::filesystem;

class SpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ec_spec_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  Result<std::shared_ptr<const CompiledSpecs>> Load(std::vector<std::string> files) { return LoadSpecs(files); }

  std::string MatchId(const CompiledSpecs& s, std::string_view method, std::string_view path,
                      std::string* params = nullptr) {
    std::vector<PathParam> p;
    const Operation* op = s.Match(method, path, &p);
    if (params != nullptr) {
      params->clear();
      for (const PathParam& pp : p) *params += std::string(pp.name) + "=" + std::string(pp.value) + ";";
    }
    return op == nullptr ? "<none>" : op->id;
  }

  fs::path dir_;
};

TEST_F(SpecTest, ShopExampleLoadsWithDefaults) {
  auto s = Load({std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml"});
  ASSERT_TRUE(s.ok()) << s.status().message();
  const Api& api = *(*s)->apis().at(0);
  EXPECT_EQ(api.title, "Shop API");
  EXPECT_EQ(api.source, "https://shop.example.com");
  EXPECT_EQ(api.base_paths, std::vector<std::string>{"/api"});
  EXPECT_EQ((*s)->redact_paths().size(), 3u);
  const Operation* create = nullptr;
  for (const auto& op : api.operations) {
    if (op->id == "createOrder") create = op.get();
  }
  ASSERT_NE(create, nullptr);
  ASSERT_EQ(create->events.size(), 2u);
  EXPECT_EQ(create->events[0]->type, "shop.order.placed");
  EXPECT_EQ(create->events[0]->topic, "shop.order.placed");  // default: the type
  EXPECT_EQ(create->events[1]->topic, "shop.alerts");
  EXPECT_NE(create->events[0]->data, nullptr);
  ASSERT_NE(create->resource, nullptr);
  EXPECT_EQ(create->resource->changelog, "shop.orders.changelog");
  // The `when` of shop.order.placed is on line 40 of the example, after `when: "`.
  EXPECT_EQ(create->events[0]->when->where().ToString(),
            std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml:40:20");
  std::string params;
  EXPECT_EQ(MatchId(**s, "POST", "/api/orders"), "createOrder");
  EXPECT_EQ(MatchId(**s, "DELETE", "/api/orders/o-1", &params), "deleteOrder");
  EXPECT_EQ(params, "orderId=o-1;");
  EXPECT_EQ(MatchId(**s, "GET", "/api/orders/o-1/"), "getOrder");  // trailing slash ignored
  EXPECT_EQ(MatchId(**s, "GET", "/api/orders/o-1/items"), "<none>");
  EXPECT_EQ(MatchId(**s, "PATCH", "/api/customers/c-1"), "<none>");  // no such method
  EXPECT_EQ(MatchId(**s, "POST", "/orders"), "createOrder");  // gateway stripped the prefix
  EXPECT_EQ(MatchId(**s, "GET", "/api/orders//"), "<none>");  // an empty segment is no parameter
}

TEST_F(SpecTest, LiteralBeatsTemplateAndSeveralApis) {
  std::string a = Write("a.yaml", R"(openapi: 3.0.3
info: {title: A, version: "1"}
servers: [{url: "https://{host}/v{major}", variables: {host: {default: a.example.com}, major: {default: "2"}}}]
paths:
  /users/{id}:
    get: {operationId: getUser}
  /users/me:
    get: {operationId: getMe}
  /users/{id}/posts/{postId}:
    get: {operationId: getPost}
  /users/me/posts/latest:
    get: {operationId: getLatest}
  /files/{name}.json:
    get: {operationId: getFile}
)");
  std::string b = Write("b.json", R"({"openapi": "3.1.0", "info": {"title": "B", "version": "1"},
  "paths": {"/health": {"get": {"operationId": "health"}}, "/users/{id}": {"delete": {"operationId": "deleteUser"}}}})");
  auto s = Load({a, b});
  ASSERT_TRUE(s.ok()) << s.status().message();
  std::string params;
  EXPECT_EQ(MatchId(**s, "GET", "/v2/users/me"), "getMe");
  EXPECT_EQ(MatchId(**s, "GET", "/v2/users/42", &params), "getUser");
  EXPECT_EQ(params, "id=42;");
  EXPECT_EQ(MatchId(**s, "GET", "/v2/users/me/posts/7", &params), "getPost");  // backtracks
  EXPECT_EQ(params, "id=me;postId=7;");
  EXPECT_EQ(MatchId(**s, "GET", "/v2/users/me/posts/latest"), "getLatest");
  EXPECT_EQ(MatchId(**s, "GET", "/v2/users/a/b"), "<none>");  // one segment per template
  EXPECT_EQ(MatchId(**s, "GET", "/v2/files/report.json", &params), "getFile");
  EXPECT_EQ(params, "name=report;");
  EXPECT_EQ(MatchId(**s, "GET", "/health"), "health");
  EXPECT_EQ(MatchId(**s, "DELETE", "/users/9"), "deleteUser");
  EXPECT_EQ(MatchId(**s, "get", "/health"), "<none>");  // methods are upper case in exchanges
  EXPECT_EQ((*s)->apis()[0]->source, "https://a.example.com/v2");
  EXPECT_EQ((*s)->apis()[1]->source, "urn:eventception:api:B");
}

TEST_F(SpecTest, RelativeAndLocalRefs) {
  Write("paths/orders.yaml", R"(post:
  operationId: createOrder
  x-eventception:
    events:
      - $ref: "../events.yaml#/placed"
)");
  Write("events.yaml", R"(placed:
  type: shop.order.placed
  key: response.body.id
)");
  std::string main = Write("main.yaml", R"(openapi: 3.1.0
info: {title: Refs, version: "1"}
paths:
  /orders:
    $ref: "paths/orders.yaml"
  /items:
    $ref: "#/components/pathItems/items"
components:
  pathItems:
    items:
      get:
        operationId: listItems
        x-eventception:
          events: [{type: items.listed, when: "response.status == 200"}]
  schemas:
    A: {$ref: "#/components/schemas/B"}
    B: {type: string}
)");
  auto s = Load({main});
  ASSERT_TRUE(s.ok()) << s.status().message();
  const Api& api = *(*s)->apis()[0];
  ASSERT_EQ(api.operations.size(), 2u);
  EXPECT_EQ(api.operations[0]->id, "createOrder");
  ASSERT_EQ(api.operations[0]->events.size(), 1u);
  EXPECT_EQ(api.operations[0]->events[0]->type, "shop.order.placed");
  EXPECT_EQ(api.operations[0]->events[0]->key->where().ToString(), (dir_ / "events.yaml").string() + ":3:8");
  EXPECT_EQ(api.operations[1]->events[0]->type, "items.listed");
}

TEST_F(SpecTest, BrokenRefsAreReportedWithPositions) {
  std::string main = Write("main.yaml", R"(openapi: 3.0.0
info: {title: Broken, version: "1"}
paths:
  /a:
    $ref: "missing.yaml"
components:
  schemas:
    X: {$ref: "#/components/schemas/Nope"}
)");
  auto s = Load({main});
  ASSERT_FALSE(s.ok());
  const std::string& m = s.status().message();
  EXPECT_NE(m.find(main + ":5:11: cannot read"), std::string::npos) << m;
  EXPECT_NE(m.find(main + ":8:15: $ref `#/components/schemas/Nope` points at nothing"), std::string::npos) << m;
}

TEST_F(SpecTest, ExpressionErrorsNameFileLineColumnAndQuote) {
  std::string f = Write("bad.yaml", R"(openapi: 3.1.0
info: {title: Bad, version: "1"}
paths:
  /orders:
    post:
      operationId: createOrder
      x-eventception:
        events:
          - type: a
            when: response.status == == 201
          - type: b
            key: "request.body.id +"
          - type: c
            data: |
              {
                "id": response.body.id,
                "total": $sum(request.body.items.(price * qty)
              }
)");
  auto s = Load({f});
  ASSERT_FALSE(s.ok());
  const std::string& m = s.status().message();
  // CEL, plain scalar on line 10 starting at column 19: the second `==` is at column 38.
  EXPECT_NE(m.find(f + ":10:38: when of event a (operation createOrder) is not valid CEL"), std::string::npos) << m;
  EXPECT_NE(m.find("\n    response.status == == 201\n"), std::string::npos) << m;
  // CEL, double-quoted scalar on line 12 (text from column 19): the missing operand is at
  // the end of the 17 characters.
  EXPECT_NE(m.find(f + ":12:36:"), std::string::npos) << m;
  EXPECT_NE(m.find("key of event b (operation createOrder) is not valid CEL"), std::string::npos) << m;
  EXPECT_NE(m.find("\n    request.body.id +\n"), std::string::npos) << m;
  // JSONata in a block scalar: the unclosed `(` is reported on the file line of the
  // expression line that has the problem (lines 15-18 hold the expression).
  EXPECT_NE(m.find("data of event c (operation createOrder) is not valid JSONata"), std::string::npos) << m;
  // jsonata-js reports S0202 at the `}` that closes the object: expression line 4 = file
  // line 18, column 15 (14 spaces of block indentation).
  EXPECT_NE(m.find(f + ":18:15: data of event c"), std::string::npos) << m;
  EXPECT_NE(m.find("S0202"), std::string::npos) << m;
}

TEST_F(SpecTest, AnnotationMistakes) {
  std::string f = Write("oops.yaml", R"(openapi: 3.1.0
info: {title: Oops, version: "1"}
x-eventception:
  redact: [authorization]
  resources:
    order: {key: "params.id", changelog: orders.cl, keys: x}
paths:
  /orders:
    post:
      operationId: createOrder
      x-eventception:
        resource: ordr
        events:
          - {when: "true"}
          - {type: t, wen: "true"}
)");
  auto s = Load({f});
  ASSERT_FALSE(s.ok());
  const std::string& m = s.status().message();
  EXPECT_NE(m.find(f + ":4:12: redact path `authorization` must start with request."), std::string::npos) << m;
  EXPECT_NE(m.find(f + ":6:53: unknown key `keys` in resource order"), std::string::npos) << m;
  EXPECT_NE(m.find(f + ":12:19: resource `ordr` of operation createOrder is not defined"), std::string::npos) << m;
  EXPECT_NE(m.find(f + ":14:13: event 0 of operation createOrder needs a `type`"), std::string::npos) << m;
  EXPECT_NE(m.find(f + ":15:23: unknown key `wen` in event t (operation createOrder)"), std::string::npos) << m;
}

TEST_F(SpecTest, NotOpenApiAndBadYaml) {
  std::string swagger = Write("swagger.yaml", "swagger: \"2.0\"\ninfo: {title: S}\n");
  std::string yaml = Write("broken.yaml", "openapi: 3.1.0\ninfo: {title: [unclosed\npaths: {}\n");
  std::string missing = (dir_ / "nope.yaml").string();
  auto s = Load({swagger, yaml, missing});
  ASSERT_FALSE(s.ok());
  const std::string& m = s.status().message();
  EXPECT_NE(m.find(swagger + ":1:10: Swagger/OpenAPI 2.0 is not supported"), std::string::npos) << m;
  EXPECT_NE(m.find(yaml + ":"), std::string::npos) << m;
  EXPECT_NE(m.find("not valid YAML or JSON"), std::string::npos) << m;
  EXPECT_NE(m.find(missing + ": cannot read the spec file"), std::string::npos) << m;
}

TEST_F(SpecTest, DuplicateOperationsAcrossApis) {
  std::string a = Write("a.yaml", "openapi: 3.1.0\ninfo: {title: A, version: '1'}\npaths:\n  /x:\n    get: {operationId: a}\n");
  std::string b = Write("b.yaml", "openapi: 3.1.0\ninfo: {title: B, version: '1'}\npaths:\n  /x:\n    get: {operationId: b}\n");
  auto s = Load({a, b});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("GET /x is defined more than once (operation b)"), std::string::npos)
      << s.status().message();
}

}  // namespace
}  // namespace ec::spec
