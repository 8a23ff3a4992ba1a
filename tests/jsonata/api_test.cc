// The public API: compile errors, evaluation, bindings, host functions, limits, threads.

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "json/document.h"
#include "json/writer.h"
#include "jsonata/jsonata.h"

namespace ec::jsonata {
namespace {

const char kDoc[] = R"({"items": [{"sku": "a", "price": 12.5, "qty": 2}, {"sku": "b", "price": 3, "qty": 1}],
                        "n": null, "tags": ["x", "y"]})";

std::string Eval(std::string_view expr, const Bindings* b = nullptr, Error* err = nullptr) {
  static auto doc = json::Parse(kDoc);
  auto e = Compile(expr, {}, err);
  if (!e.ok()) return "compile:" + (err ? err->code : e.status().message());
  Arena arena;
  auto r = (*e)->Evaluate(Defined((*doc)->root()), &arena, b, err);
  if (!r.ok()) return "error:" + (err ? err->code : r.status().message());
  return r->defined ? json::ToJson(r->value) : "undefined";
}

TEST(JsonataApi, EvaluatesPathsAndFunctions) {
  EXPECT_EQ(Eval("items[price > 10].sku"), "\"a\"");
  EXPECT_EQ(Eval("$sum(items.(price * qty))"), "28");
  EXPECT_EQ(Eval("items{sku: qty}"), "{\"a\":2,\"b\":1}");
  EXPECT_EQ(Eval("nothing"), "undefined");
  EXPECT_EQ(Eval("n"), "null");
  EXPECT_EQ(Eval("tags[]"), "[\"x\",\"y\"]");
}

TEST(JsonataApi, CompileErrorIsStructured) {
  Error err;
  auto e = Compile("items[price > 10", {}, &err);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(err.code, "S0203");
  EXPECT_EQ(e.status().code(), ErrorCode::kParseError);
  EXPECT_NE(e.status().message().find("S0203"), std::string::npos);
  Error err2;
  EXPECT_FALSE(Compile("1 +* 2", {}, &err2).ok());
  EXPECT_EQ(err2.code, "S0201");  // `*` is a wildcard here; `2` cannot follow it
  EXPECT_EQ(err2.token, "2");
  EXPECT_GT(err2.position, 0);
}

TEST(JsonataApi, EvaluationErrorIsStructured) {
  Error err;
  EXPECT_EQ(Eval("items.sku + 1", nullptr, &err), "error:T2001");
  EXPECT_EQ(err.token, "+");
  EXPECT_EQ(Eval("$uppercase(1)", nullptr, &err), "error:T0410");
  EXPECT_EQ(err.token, "uppercase");
}

TEST(JsonataApi, BindingsAndHostFunctions) {
  auto limit = json::Parse("2");
  Bindings b;
  b.Set("limit", (*limit)->root());
  b.SetFunction("twice", [](std::span<const MaybeValue> args, json::Builder&) -> Result<MaybeValue> {
    if (args.empty() || !args[0].defined || !args[0].value.is_number()) return InvalidArgument("X0001: need a number");
    return Defined(json::Value::Number(args[0].value.number() * 2));
  });
  b.SetFunction("label", [](std::span<const MaybeValue> args, json::Builder& out) -> Result<MaybeValue> {
    std::string s = "sku:";
    if (!args.empty() && args[0].defined && args[0].value.is_string()) s += std::string(args[0].value.string());
    return Defined(out.String(s));
  });
  EXPECT_EQ(Eval("items[qty >= $limit].sku", &b), "\"a\"");
  EXPECT_EQ(Eval("$twice(21)", &b), "42");
  EXPECT_EQ(Eval("$map(items.sku, $label)", &b), "[\"sku:a\",\"sku:b\"]");
  Error err;
  EXPECT_EQ(Eval("$twice('x')", &b, &err), "error:X0001");
  EXPECT_EQ(err.message, "need a number");
}

TEST(JsonataApi, InputIsReadInPlace) {
  auto doc = json::Parse(kDoc);
  auto e = Compile("items");
  Arena arena;
  auto r = (*e)->Evaluate(Defined((*doc)->root()), &arena);
  ASSERT_TRUE(r.ok() && r->defined);
  EXPECT_EQ(r->value.array().data(), (*doc)->root().Find("items")->array().data());
}

TEST(JsonataApi, LimitsStopRunawayEvaluation) {
  JsonataOptions steps;
  steps.max_steps = 10000;
  auto loop = Compile("( $f := function($n) { $f($n + 1) }; $f(0) )", steps);
  ASSERT_TRUE(loop.ok());
  Arena a1;
  Error err;
  auto r = (*loop)->Evaluate(Undefined(), &a1, nullptr, &err);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(err.code, "U1001");
  EXPECT_EQ(r.status().code(), ErrorCode::kLimitExceeded);

  JsonataOptions timed;
  timed.time_limit = std::chrono::milliseconds(50);
  auto slow = Compile("( $f := function($n) { $f($n + 1) }; $f(0) )", timed);
  Arena a2;
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE((*slow)->Evaluate(Undefined(), &a2, nullptr, &err).ok());
  EXPECT_EQ(err.code, "U1001");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));

  JsonataOptions deep;
  deep.max_depth = 100;
  auto rec = Compile("( $f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(1000) )", deep);
  Arena a3;
  EXPECT_FALSE((*rec)->Evaluate(Undefined(), &a3, nullptr, &err).ok());
  EXPECT_EQ(err.code, "U1001");
}

TEST(JsonataApi, DeepNestingIsAnErrorNotACrash) {
  for (const char* open_close : {"()", "[]"}) {
    std::string src(10000, open_close[0]);
    src += "1";
    src += std::string(10000, open_close[1]);
    Error err;
    auto e = Compile(src, {}, &err);
    EXPECT_FALSE(e.ok());
    EXPECT_EQ(err.code, "U1001");
  }
  std::string neg(10000, '-');
  neg += "1";
  Error err;
  EXPECT_FALSE(Compile(neg, {}, &err).ok());
}

TEST(JsonataApi, ConcurrentEvaluationOfOneExpression) {
  auto doc = json::Parse(kDoc);
  auto e = Compile("{'total': $sum(items.(price * qty)), 'skus': $join(items.sku, ','), 'n': $count(items)}");
  ASSERT_TRUE(e.ok());
  std::shared_ptr<const Expression> expr = *e;
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        Arena arena;
        auto r = expr->Evaluate(Defined((*doc)->root()), &arena);
        if (r.ok() && r->defined && json::ToJson(r->value) == "{\"total\":28,\"skus\":\"a,b\",\"n\":2}") ok[t]++;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(ok[t], 500);
}

}  // namespace
}  // namespace ec::jsonata
