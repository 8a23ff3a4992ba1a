// The admin API's resource reads over a MemoryStateStore and the shop spec.
#include "cdc/resource_queries.h"

#include <gtest/gtest.h>

namespace ec::cdc {
namespace {

std::shared_ptr<const spec::CompiledSpecs> ShopSpecs() {
  std::vector<std::string> files{std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml"};
  auto s = spec::LoadSpecs(files);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return *s;
}

TEST(ResourceQueries, StateAndPagedKeys) {
  auto specs = ShopSpecs();
  MemoryStateStore store;
  ASSERT_TRUE(store.Put("order", "o-1", {false, 1795773600000, R"({"id":"o-1"})"}).ok());
  ASSERT_TRUE(store.Put("order", "o-2", {false, 2, "{}"}).ok());
  ASSERT_TRUE(store.Put("order", "o-3", {true, 3, ""}).ok());
  ASSERT_TRUE(store.Put("order", "o-4", {false, 4, "[]"}).ok());

  QueryResponse r = ResourceState(&store, *specs, "order", "o-1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"resource":"order","key":"o-1","state":{"id":"o-1"},"ts_ms":1795773600000})");
  r = ResourceState(&store, *specs, "order", "o-3");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":{"code":"deleted","message":"order \"o-3\" was deleted"},"deleted":true,"ts_ms":3})");
  r = ResourceState(&store, *specs, "order", "o-9");
  EXPECT_EQ(r.status, 404);
  r = ResourceState(&store, *specs, "invoice", "o-1");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("resources: order, customer"), std::string::npos) << r.body;

  r = ResourceKeys(&store, *specs, "order", "", "2");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"resource":"order","keys":["o-1","o-2"],"next":"o-2"})");
  r = ResourceKeys(&store, *specs, "order", "o-2", "2");
  EXPECT_EQ(r.body, R"({"resource":"order","keys":["o-4"],"next":null})");
  r = ResourceKeys(&store, *specs, "customer", "", "");
  EXPECT_EQ(r.body, R"({"resource":"customer","keys":[],"next":null})");
  for (const char* bad : {"0", "1001", "x", "-1", "5x"}) {
    EXPECT_EQ(ResourceKeys(&store, *specs, "order", "", bad).status, 400) << bad;
  }
}

}  // namespace
}  // namespace ec::cdc
