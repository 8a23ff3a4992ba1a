// The evaluator's compile-time fast paths (annotate.cc: fused field paths, leading field names,
// a whole expression of field names walked without an evaluator (jsonata.cc),
// literal-key object constructors, string `&`, positional signature matching) must give exactly
// what the general evaluation gives. Each case pairs an expression that takes a fast path with a
// spelling of the same expression that cannot (a parenthesised step or key defeats the
// annotations), over data shaped to reach every branch: nested and empty arrays, missing fields,
// arrays constructed inside objects, array input.

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "json/document.h"
#include "json/writer.h"
#include "jsonata/jsonata.h"

namespace ec::jsonata {
namespace {

const char kDoc[] = R"({
  "a": {"b": {"c": 1, "arr": [1, [2, 3], []], "objs": [{"c": 1}, {"c": [2, 3]}, {"d": 4}, [{"c": 5}]]}},
  "empty": [], "one": [{"c": 7}], "nested": [[{"c": 1}], [{"c": 2}, {"c": 3}]],
  "s": "text", "n": null, "num": 2.5, "items": [{"sku": "A", "p": 1.25, "q": 2}, {"sku": "B", "p": 3, "q": 1}]
})";

std::string EvalText(std::string_view expr, std::string_view doc_text = kDoc) {
  auto doc = json::Parse(doc_text);
  if (!doc.ok()) return "bad doc";
  Error err;
  auto e = Compile(expr, {}, &err);
  if (!e.ok()) return "compile:" + err.code;
  Arena arena;
  auto r = (*e)->Evaluate(Defined((*doc)->root()), &arena, nullptr, &err);
  if (!r.ok()) return "error:" + err.code;
  return r->defined ? json::ToJson(r->value) : "undefined";
}

// {fast spelling, general spelling}
const std::vector<std::pair<std::string, std::string>> kPairs = {
    {"a.b.c", "(a).b.c"},
    {"a", "(a)"},
    {"empty", "(empty)"},
    {"n", "(n)"},
    {"num.x", "(num).x"},
    {"a.b.arr.x", "(a).b.arr.x"},
    {"a.b.arr", "(a).b.arr"},
    {"a.b.arr[]", "(a).b.arr[]"},
    {"a.b.objs.c", "(a).b.objs.c"},
    {"a.b.objs.d", "(a).b.objs.d"},
    {"a.b.missing.c", "(a).b.missing.c"},
    {"empty.c", "(empty).c"},
    {"one.c", "(one).c"},
    {"nested.c", "(nested).c"},
    {"s.length", "(s).length"},
    {"n.x", "(n).x"},
    {"a.b.objs.c[0]", "(a).b.objs.c[0]"},
    {"a.b.objs[0].c", "(a).b.objs[0].c"},
    {"a.b.objs{\"k\": c}", "(a).b.objs{\"k\": c}"},
    {"items.(p * q)", "(items).(p * q)"},
    {"$sum(items.(p * q))", "$sum((items).(p * q))"},
    {"a.b.(c + 1)", "(a).b.(c + 1)"},
    {"$map(items, function($i) { $i.sku & \"-\" & $i.q })", "$map(items, function($i) { ($i).sku & \"-\" & ($i).q })"},
    {"($x := {\"b\": [1, 2]}; $x.b)", "($x := {\"b\": [1, 2]}; ($x).b)"},
    {"($x := {\"b\": {\"c\": [[1], 2]}}; $x.b.c)", "($x := {\"b\": {\"c\": [[1], 2]}}; ($x).b.c)"},
    {"($x := [{\"b\": 1}, {\"b\": 2}]; $x.b)", "($x := [{\"b\": 1}, {\"b\": 2}]; ($x).b)"},
    {"{\"o\": {\"v\": [1, 2]}}.o.v", "({\"o\": {\"v\": [1, 2]}}).o.v"},
    {"{\"x\": a.b.c, \"y\": nothing, \"z\": items.sku}", "{(\"x\"): a.b.c, (\"y\"): nothing, (\"z\"): items.sku}"},
    {"items.{\"sku\": sku}", "items.{(\"sku\"): sku}"},
    {"items{\"all\": sku}", "items{(\"all\"): sku}"},
    {"s & \"-\" & num & n & nothing", "$string(s) & \"-\" & $string(num) & $string(n) & $string(nothing)"},
    {"nothing & nothing", "\"\" & \"\""},
    {"$substring(s, 1)", "$substring(s, 1, 100)"},
    {"$round(num * 1.23, 1) & \",\" & $round(-2.675, 2) & \",\" & $round(1e20, 2)",
     "$round(num * 1.23, 1) & \",\" & $round(-2.675, 2) & \",\" & $round(1e20, 2)"},
};

TEST(JsonataFastPath, SameResultAsGeneralEvaluation) {
  for (const auto& [fast, general] : kPairs) {
    std::string a = EvalText(fast), b = EvalText(general);
    EXPECT_EQ(a, b) << fast << "  vs  " << general;
    EXPECT_NE(a.rfind("compile:", 0), 0u) << fast;
  }
}

TEST(JsonataFastPath, ArrayInputTakesTheGeneralPath) {
  const char doc[] = R"([{"a": {"b": 1}}, {"a": {"b": [2, 3]}}, {"x": 1}])";
  EXPECT_EQ(EvalText("a.b", doc), EvalText("(a).b", doc));
  EXPECT_EQ(EvalText("a.b", doc), "[1,2,3]");
  EXPECT_EQ(EvalText("{\"k\": a.b}", doc), EvalText("{(\"k\"): a.b}", doc));
}

TEST(JsonataFastPath, KnownResults) {
  EXPECT_EQ(EvalText("a.b.c"), "1");
  EXPECT_EQ(EvalText("a.b.arr"), "[1,[2,3],[]]");
  EXPECT_EQ(EvalText("a.b.objs.c"), "[1,2,3,5]");
  EXPECT_EQ(EvalText("one.c"), "7");
  EXPECT_EQ(EvalText("empty.c"), "undefined");
  EXPECT_EQ(EvalText("s & 1 & nothing"), "\"text1\"");
  EXPECT_EQ(EvalText("{\"a\": 1, \"a\": 2}"), "error:D1009");
  EXPECT_EQ(EvalText("$uppercase(\"abc\u00e9\") & $lowercase(\"XY\u00c9\")"), "\"ABC\u00c9xy\u00e9\"");
}

}  // namespace
}  // namespace ec::jsonata
