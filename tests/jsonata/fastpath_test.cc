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

// Evaluate + json::ToJson against EvaluateJson for each expression on each document: results,
// definedness and error codes must be the same.
void ExpectEvaluateJsonSame(const std::vector<std::string>& exprs, const std::vector<std::string>& docs,
                            const JsonataOptions& options, const Bindings* bindings) {
  for (const std::string& doc_text : docs) {
    auto doc = json::Parse(doc_text);
    ASSERT_TRUE(doc.ok()) << doc_text;
    for (const std::string& expr : exprs) {
      Error err;
      auto e = Compile(expr, options, &err);
      ASSERT_TRUE(e.ok()) << expr << ": " << err.code;
      Arena arena;
      Error e1, e2;
      auto tree = (*e)->Evaluate(Defined((*doc)->root()), &arena, bindings, &e1);
      std::string text = "x";
      auto direct = (*e)->EvaluateJson(Defined((*doc)->root()), &arena, &text, bindings, &e2);
      ASSERT_EQ(tree.ok(), direct.ok()) << expr << " on " << doc_text;
      if (!tree.ok()) {
        EXPECT_EQ(e1.code, e2.code) << expr << " on " << doc_text;
        EXPECT_EQ(text, "x") << expr;
        continue;
      }
      ASSERT_EQ(tree->defined, *direct) << expr << " on " << doc_text;
      EXPECT_EQ(text, tree->defined ? "x" + json::ToJson(tree->value) : "x") << expr << " on " << doc_text;
    }
  }
}

// EvaluateJson writes the result as text without building its tree: the same bytes as Evaluate +
// json::AppendJson, including the branches it leaves to ToJson (repeated keys, an outer wrapper
// around an undefined item) and what ToJson drops or turns into null (undefined members,
// functions, nested non-finite numbers).
TEST(JsonataFastPath, EvaluateJsonWritesWhatEvaluateGives) {
  const char* const kExprs[] = {
      "a.b.c", "a.b.arr", "a.b.objs.c", "missing", "a.missing.c", "s", "n", "num", "items",
      "{\"orderId\": s, \"n\": n, \"num\": num, \"none\": missing}",
      "{\"k\": items.sku, \"total\": $sum(items.(p * q)), \"count\": $count(items)}",
      "{\"a\": 1, \"a\": 2}", "{\"a\": 1, \"b\": {\"a\": missing, \"c\": [1, missing, 3]}}",
      "items[p * q >= 3].{\"sku\": sku, \"amount\": p * q}", "items.{\"sku\": sku}",
      "{\"f\": function($x) { $x }, \"g\": 1}", "[function($x) { $x }, 1]", "$", "[$]", "[[]]",
      "one", "one.c", "empty", "nested.c", "$sift(a.b, function($v) { $v != 1 })",
      "{\"x\": $lowercase(s), \"big\": 1e300 * 1e300 > 0}", "[1, 2, [3, [4]]]", "\"\u00e9\\\"\"",
      "{\"big\": [1e21, 1.5e-7, 0.1, -0, 123456789.125]}", "items{sku: p}", "a.b.objs[c > 1]",
      "$string(items)", "1/0", "{\"x\": [1/0]}", "undefinedvar", "$x", "[a.b.objs.d]"};
  const char* const kDocs[] = {kDoc, "[1, 2]", "[{\"c\": 1}]", "\"s\"", "null", "{\"a\": [[{\"b\": 1}]]}"};
  ExpectEvaluateJsonSame({std::begin(kExprs), std::end(kExprs)}, {std::begin(kDocs), std::end(kDocs)}, {}, nullptr);
}

// EvaluateJson's direct members (Evaluator::DirectMember: a root `{...}`'s member that is a
// field path, `$count` of one or `$sum` of `path.(x * y)`, read straight from the JSON input)
// give what the general evaluation gives, and fall back to it wherever their walk meets
// anything else: arrays inside the path, singleton and empty arrays, absent fields, nulls,
// scalars on the way, items that are not objects or lack a number factor (errors included),
// overflowing products, -0, unicode and numbers written back as AppendJsNumber writes them; and
// members walked on from where the one before them got to.
TEST(JsonataFastPath, DirectMembersWriteWhatEvaluateGives) {
  const char* const kExprs[] = {
      R"({"orderId": response.body.id, "customer": request.body.customer.id, "items": $count(request.body.items),
          "total": $sum(request.body.items.(price * qty)), "currency": request.body.currency})",
      R"({"orderId": params.orderId, "carrier": response.body.shipping.carrier})",
      R"({"a": request.body.items, "b": $count(request.body), "c": $count(missing), "d": $count(request.body.items.sku)})",
      R"({"t": $sum(request.body.items.(qty * price)), "u": $sum(request.body.(price * qty)), "v": $sum(x.(a * b))})",
      R"({"first": request.body.items.price, "n": request.body.n, "deep": request.body.customer.id.x})",
      R"({"g": $sum(request.body.items.(price * qty){"k": $}), "h": $count(request.body.items[0]), "i": $sum(request.body.items.(price + qty))})",
      // members that share leading names with the one before (WalkDirect starts where it got to)
      R"({"a": request.body.items, "b": request.body.items.price, "c": $count(request.body.items), "d": request.body,
          "e": request.body.customer.id, "f": request.body.customer, "g": request, "h": request.body.customer.id.x})",
      R"({"a": request.body, "x": $lowercase("A"), "b": request.body.customer.id, "c": request.body.customer.id.x,
          "d": $sum(request.body.items.(price * qty)), "e": request.body.items[price > 1].{"p": price}, "f": request.body.n})",
  };
  const char* const kDocs[] = {
      // the shop's order
      R"({"request": {"body": {"customer": {"id": "c-1"}, "items": [{"sku": "A", "price": 12.5, "qty": 2},
          {"sku": "B", "price": 0.1, "qty": 3}], "currency": "EUR"}},
          "response": {"body": {"id": "o-1", "shipping": {"carrier": "DHL"}}}, "params": {"orderId": "o-1"}})",
      // one item, as an array and as an object; -0; a big and a tiny number; unicode
      R"({"request": {"body": {"customer": {"id": "\u00e9\u4e2d\ud83d\ude00 \"q\""}, "items": [{"price": -0.0, "qty": 5}],
          "currency": null}}, "response": {"body": {"id": 1e21}}})",
      R"({"request": {"body": {"items": {"price": 1.5e-7, "qty": 3}, "price": 2, "qty": 4}}, "x": {"a": 1, "b": 2}})",
      // empty, absent, null and scalar paths
      R"({"request": {"body": {"items": []}}})", R"({"request": {"body": {"items": null}}})",
      R"({"request": {"body": "text"}, "response": null})", R"({"request": 5})", R"({})",
      // arrays inside the path (sequence semantics)
      R"({"request": [{"body": {"items": [{"price": 1, "qty": 2}]}}, {"body": {"items": [{"price": 3, "qty": 4}]}}]})",
      R"({"request": {"body": [{"customer": {"id": "a"}}, {"customer": {"id": ["b", "c"]}}]}})",
      // items the product cannot take directly: absent factor, string (an error), nested array,
      // a non-object item, a null factor, an overflow, an array factor
      R"({"request": {"body": {"items": [{"price": 1, "qty": 2}, {"price": 3}]}}})",
      R"({"request": {"body": {"items": [{"price": "1", "qty": 2}]}}})",
      R"({"request": {"body": {"items": [[{"price": 1, "qty": 2}], {"price": 3, "qty": 4}]}}})",
      R"({"request": {"body": {"items": [1, {"price": 3, "qty": 4}]}}})",
      R"({"request": {"body": {"items": [{"price": null, "qty": 4}]}}})",
      R"({"request": {"body": {"items": [{"price": 1e300, "qty": 1e300}]}}})",
      R"({"request": {"body": {"items": [{"price": [2], "qty": 3}]}}})",
      // a repeated key (the builder keeps one)
      R"({"request": {"body": {"items": [{"price": 1, "qty": 2, "price": 5}], "n": 1, "n": [2]}}})",
      // array input: no direct members
      R"([{"request": {"body": {"items": [{"price": 1, "qty": 2}]}}}])",
  };
  JsonataOptions shallow;
  shallow.max_depth = 3;  // the general evaluation of `$sum(...)` goes deeper: U1001
  Bindings rebound;
  rebound.SetFunction("count", [](std::span<const MaybeValue>, json::Builder&) -> Result<MaybeValue> {
    return Defined(json::Value::Number(42));
  });
  struct Setup {
    const JsonataOptions* options;
    const Bindings* bindings;
  };
  const JsonataOptions defaults;
  const std::vector<std::string> exprs(std::begin(kExprs), std::end(kExprs));
  const std::vector<std::string> docs(std::begin(kDocs), std::end(kDocs));
  for (const Setup& setup : {Setup{&defaults, nullptr}, Setup{&shallow, nullptr}, Setup{&defaults, &rebound}}) {
    ExpectEvaluateJsonSame(exprs, docs, *setup.options, setup.bindings);
  }
  // Known results of the shop's `data` on its order (the comparison above cannot see a change
  // both paths would share).
  auto doc = json::Parse(kDocs[0]);
  auto e = Compile(kExprs[0]);
  ASSERT_TRUE(doc.ok() && e.ok());
  Arena arena;
  std::string text;
  auto r = (*e)->EvaluateJson(Defined((*doc)->root()), &arena, &text);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(text, R"({"orderId":"o-1","customer":"c-1","items":2,"total":25.3,"currency":"EUR"})");
}


// An order's items, drawn from values that reach every branch of a filter-map member: integer,
// fractional, negative, zero and -0 factors, big products, absent and non-number fields, skus of
// every JSON kind.
std::string RandomOrder(uint32_t* seed) {
  auto next = [seed](uint32_t n) {
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) % n;
  };
  const char* const kNumbers[] = {"1", "2", "3", "250", "499.99", "500", "19.99", "0.1", "0", "-0.0", "-600",
                                  "1e3", "1.5e-7", "33.333", "166.67", "7"};
  const char* const kOdd[] = {"null", "\"5\"", "[2]", "{}", "true", "1e300"};
  const char* const kSkus[] = {"\"A\"", "\"\\u00e9\\\"q\"", "7", "null", "[\"x\", \"y\"]", "[]", "{\"id\": 1}", "false"};
  auto number = [&](bool allow_odd) -> std::string {
    if (allow_odd && next(40) == 0) return kOdd[next(6)];
    return kNumbers[next(16)];
  };
  std::string items = "[";
  const uint32_t n = next(6);
  for (uint32_t i = 0; i < n; ++i) {
    if (i) items += ",";
    if (next(60) == 0) {
      items += next(2) ? "3" : "[{\"price\": 500, \"qty\": 2}]";  // not an object
      continue;
    }
    items += "{";
    bool comma = false;
    auto member = [&](const char* key, const std::string& v) {
      if (comma) items += ",";
      items += std::string("\"") + key + "\":" + v;
      comma = true;
    };
    if (next(8) != 0) member("sku", kSkus[next(8)]);
    if (next(30) != 0) member("price", number(true));
    if (next(30) != 0) member("qty", number(true));
    if (next(10) == 0) {  // a wide item: FindMember's index
      for (int k = 0; k < 12; ++k) member(("f" + std::to_string(k)).c_str(), "1");
    }
    items += "}";
  }
  items += "]";
  return R"({"request": {"body": {"items": )" + items + R"(}}, "response": {"body": {"id": "o-1"}}, "items": )" +
         items + "}";
}

// EvaluateJson's filter-map members (Direct::kFilterMap: `path[a cmp b].{"k": operand}` read
// straight from the JSON input) give what the general evaluation gives: none, one (an object,
// not an array) or many items kept, absent and scalar paths, arrays inside the path, items that
// are not objects, absent or non-number factors (undefined comparisons and type errors),
// overflowing products, -0, literals, skus of every kind; and under setups where the fast path
// must not run (rebound names, shallow depth, step limits).
TEST(JsonataFastPath, FilterMapMembersWriteWhatEvaluateGives) {
  const std::vector<std::string> exprs = {
      R"({"orderId": response.body.id, "lines": request.body.items[price * qty >= 500].{"sku": sku, "amount": price * qty}})",
      R"({"a": request.body.items[price > 2].{"p": price, "k": 1.5, "q": qty * price, "none": missing}})",
      R"({"b": request.body.items[500 <= qty * price].{"sku": sku}, "c": request.body.items[qty < 3].{"x": sku}})",
      R"({"d": items[price <= qty].{"sku": sku, "n": -1}, "e": items[0.5 > price].{"q": qty}})",
      R"({"f": request.body.items[price * qty >= 500]{"sku": sku}, "g": request.body.items[price = 2].{"s": sku}})",
      R"({"h": request.body.items[price >= 1][qty >= 1].{"s": sku}, "i": request.body.items[price >= 1].{"s": sku}[0]})",
      R"(request.body.items[price * qty >= 500].{"sku": sku, "amount": price * qty})",
  };
  std::vector<std::string> docs = {
      // none, one, many kept
      R"({"request": {"body": {"items": [{"sku": "A", "price": 250, "qty": 3}, {"sku": "B", "price": 2, "qty": 1}]}},
          "response": {"body": {"id": "o-1"}}})",
      R"({"request": {"body": {"items": [{"sku": "A", "price": 1, "qty": 3}]}}})",
      R"({"request": {"body": {"items": [{"sku": "A", "price": 500, "qty": 1}, {"sku": "B", "price": 19.99, "qty": 30},
          {"price": 600, "qty": 1}]}}})",
      // empty, absent, null, scalar, object and array paths
      R"({"request": {"body": {"items": []}}})", R"({"request": {"body": {"items": null}}})",
      R"({"request": {"body": {"items": 5}}})", R"({"request": {"body": {"items": {"sku": "o", "price": 900, "qty": 1}}}})",
      R"({"request": {"body": "text"}})", R"({"request": null})", R"({})",
      R"({"request": [{"body": {"items": [{"sku": "A", "price": 500, "qty": 1}]}}, {"body": {"items": [{"sku": "B", "price": 600, "qty": 1}]}}]})",
      R"({"request": {"body": [{"items": [{"sku": "A", "price": 500, "qty": 1}]}]}})",
      // items the filter cannot read directly
      R"({"request": {"body": {"items": [{"sku": "A", "price": 500, "qty": 1}, [{"sku": "N", "price": 500, "qty": 1}]]}}})",
      R"({"request": {"body": {"items": [1, {"sku": "A", "price": 500, "qty": 1}]}}})",
      R"({"request": {"body": {"items": [{"sku": "A", "price": "500", "qty": 1}]}}})",
      R"({"request": {"body": {"items": [{"sku": "A", "qty": 1}, {"sku": "B", "price": 500, "qty": 2}]}}})",
      R"({"request": {"body": {"items": [{"sku": "A", "price": null, "qty": 1}]}}})",
      R"({"request": {"body": {"items": [{"sku": "A", "price": 1e300, "qty": 1e300}]}}})",
      R"({"request": {"body": {"items": [{"sku": "A", "price": [500], "qty": 1}]}}})",
      R"({"request": {"body": {"items": [{"sku": ["x"], "price": -0.0, "qty": -600}, {"sku": {"a": [1]}, "price": 0.1, "qty": 5000}]}}})",
  };
  uint32_t seed = 13;
  for (int i = 0; i < 300; ++i) docs.push_back(RandomOrder(&seed));
  JsonataOptions shallow;
  shallow.max_depth = 4;
  JsonataOptions below_direct;
  below_direct.max_depth = 7;  // deep enough for the general evaluation, too shallow for direct members
  JsonataOptions limited;
  limited.max_steps = 1000000;
  Bindings rebound;
  rebound.Set("unused", json::Value::Number(1));
  ExpectEvaluateJsonSame(exprs, docs, {}, nullptr);
  ExpectEvaluateJsonSame(exprs, docs, shallow, nullptr);
  ExpectEvaluateJsonSame(exprs, docs, below_direct, nullptr);
  ExpectEvaluateJsonSame(exprs, docs, limited, nullptr);
  ExpectEvaluateJsonSame(exprs, docs, {}, &rebound);
  // Known results of the shop's `lines` (the comparison above cannot see a change both paths
  // would share).
  auto doc = json::Parse(docs[2]);
  auto e = Compile(exprs[0]);
  ASSERT_TRUE(doc.ok() && e.ok());
  Arena arena;
  std::string text;
  auto r = (*e)->EvaluateJson(Defined((*doc)->root()), &arena, &text);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(text, R"({"lines":[{"sku":"A","amount":500},{"sku":"B","amount":599.6999999999999},{"amount":600}]})");
  text.clear();
  doc = json::Parse(docs[0]);
  ASSERT_TRUE(doc.ok());
  r = (*e)->EvaluateJson(Defined((*doc)->root()), &arena, &text);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(text, R"({"orderId":"o-1","lines":{"sku":"A","amount":750}})");
}

}  // namespace
}  // namespace ec::jsonata

