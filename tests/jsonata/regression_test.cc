// Cases the differential test found (tests/jsonata/regression_cases.json), expected results as
// jsonata-js 2.2.2 gives them; runs without node.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "json/document.h"
#include "json/writer.h"
#include "jsonata/jsonata.h"

namespace ec::jsonata {
namespace {

TEST(JsonataRegression, CasesFoundByDifferentialTesting) {
  std::filesystem::path p = std::filesystem::path(EC_SOURCE_DIR) / "tests" / "jsonata" / "regression_cases.json";
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = json::Parse(ss.str());
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  int n = 0;
  for (const json::Value& c : (*doc)->root().array()) {
    std::string expr(c.Find("expr")->string());
    Error err;
    auto e = Compile(expr, {}, &err);
    Arena arena;
    MaybeValue input;
    if (const json::Value* d = c.Find("data")) input = Defined(*d);
    Result<MaybeValue> r = e.ok() ? (*e)->Evaluate(input, &arena, nullptr, &err) : Result<MaybeValue>(e.status());
    if (const json::Value* code = c.Find("code")) {
      EXPECT_FALSE(r.ok()) << expr;
      EXPECT_EQ(err.code, code->string()) << expr;
    } else if (c.Find("undefined")) {
      EXPECT_TRUE(r.ok() && !r->defined) << expr;
    } else {
      ASSERT_TRUE(r.ok()) << expr << ": " << r.status().message();
      ASSERT_TRUE(r->defined) << expr;
      EXPECT_TRUE(json::Equal(r->value, *c.Find("result"))) << expr << ": " << json::ToJson(r->value);
    }
    n++;
  }
  EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace ec::jsonata
