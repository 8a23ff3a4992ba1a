// The specialised fast forms (cel/specialize.cc) and the simple regex matcher must be
// invisible: same values, same errors as the generic evaluator and RE2. Both are checked
// differentially over generated expressions, records and patterns.

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <random>
#include <string>
#include <vector>

#include "cel/cel.h"
#include "cel/simple_regex.h"
#include "json/document.h"
#include "json/writer.h"

namespace ec::cel {
namespace {

// The anchor-like exchange plus variants that break the fast paths: absent keys, wrong types,
// non-object roots, arrays where objects were, numbers as strings.
const char* kRecords[] = {
    R"({"id":"ex-1","time":"2025-01-15T10:00:00.000Z","request":{"method":"POST","path":"/orders",
        "headers":{"host":"api","content-type":"application/json; charset=utf-8","accept":"*/*"},
        "body":{"order_id":"o-1","customer":{"id":"c-9","tier":"gold"},
                "items":[{"sku":"A1","price":12.5,"qty":1},{"sku":"C3","price":149,"qty":3}]}},
        "response":{"status":201,"headers":{"content-type":"application/json"},
        "body":{"id":"o-100000","total":577.73}},"latency_ms":12})",
    R"({"request":{"method":5,"path":null,"headers":{"content-type":["json"]},"body":[]},
        "response":{"status":"201","body":{"id":7}},"latency_ms":"12"})",
    R"({"request":{"headers":{"accept":"x"},"body":{"items":[1,"a",null,{"price":"9"},{"qty":2}]}},
        "response":{"status":404.5,"body":{}}})",
    R"({"request":"GET","response":[201],"latency_ms":null})",
    R"({"response":{"status":-0.0,"body":{"id":"o-12x"}},"request":{"method":"post","path":"/ordersX",
        "body":{"customer":{"tier":true},"items":{"price":200}}}})",
    R"([1,2,3])",
    R"({})",
};

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}

  std::string Expr(int depth) {
    switch (Pick(depth > 2 ? 4 : 8)) {
      case 0: case 1: return Comparison();
      case 2: return StringCall();
      case 3: return "has(" + Path(true) + ")";
      case 4: return "(" + Expr(depth + 1) + " && " + Expr(depth + 1) + ")";
      case 5: return "(" + Expr(depth + 1) + " || " + Expr(depth + 1) + ")";
      case 6: return "!" + Expr(depth + 1);
      default: {
        const char* macros[] = {"exists", "all", "exists_one", "filter"};
        std::string m = macros[Pick(4)];
        std::string body = Pick(2) ? Comparison("i") : StringCall("i");
        std::string e = Path(false) + "." + m + "(i, " + body + ")";
        return m == "filter" ? "size(" + e + ") > 0" : e;
      }
    }
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint32_t>(n)); }

  std::string Field() {
    const char* f[] = {"method", "path", "headers", "body", "items", "status", "id", "customer",
                       "tier", "price", "missing", "total", "qty", "sku"};
    return f[Pick(14)];
  }

  // A select/index chain from a variable; `selects_only` keeps it valid inside has().
  std::string Path(bool selects_only, const std::string& var = "") {
    const char* roots[] = {"request", "response", "latency_ms", "nope", "id"};
    std::string p = var.empty() ? roots[Pick(5)] : var;
    int n = Pick(4) + (selects_only ? 1 : 0);
    for (int i = 0; i < n; ++i) {
      int k = Pick(10);
      if (k < 7 || selects_only) {
        p += "." + Field();
      } else if (k < 9) {
        const char* keys[] = {"'content-type'", "'accept'", "'status'", "'x'"};
        p += "[" + std::string(keys[Pick(4)]) + "]";
      } else {
        p += "[" + std::to_string(Pick(3)) + "]";
      }
    }
    return p;
  }

  std::string Literal() {
    const char* lits[] = {"201", "201.0", "201u", "100.0", "-0.0", "0", "'POST'", "'201'", "'gold'",
                          "'o-100000'", "''", "true", "false", "null", "12.5", "149", "9223372036854775807",
                          "b'x'", "[1]", "1.0/0.0"};
    return lits[Pick(20)];
  }

  std::string Comparison(const std::string& var = "") {
    const char* ops[] = {"==", "!=", "<", "<=", ">", ">="};
    std::string lhs = Pick(5) == 0 ? "size(" + Path(false, var) + ")" : Path(false, var);
    std::string lit = Literal();
    std::string op = ops[Pick(6)];
    return Pick(2) ? lhs + " " + op + " " + lit : lit + " " + op + " " + lhs;
  }

  std::string StringCall(const std::string& var = "") {
    const char* fns[] = {"contains", "startsWith", "endsWith", "matches"};
    const char* args[] = {"'json'", "'/orders'", "''", "'o-'", "'^o-[0-9]+$'", "'[a-z]+'", "'T'", "1"};
    std::string f = fns[Pick(4)];
    return Path(false, var) + "." + f + "(" + args[Pick(8)] + ")";
  }

  std::mt19937 rng_;
};

// The value as JSON text, or "error: <message>".
std::string Show(const Value& v) {
  if (v.is_error()) return "error: " + std::string(v.error().message);
  Arena arena;
  json::Builder b(&arena);
  auto j = ToJson(v, b);
  if (!j.ok()) return "tojson error: " + j.status().message();
  return std::string(TypeName(v)) + " " + json::ToJson(*j);
}

TEST(CelFastPath, SameResultsAsTheGenericEvaluator) {
  std::vector<std::unique_ptr<json::Document>> docs;
  for (const char* r : kRecords) {
    auto d = json::Parse(r);
    ASSERT_TRUE(d.ok()) << r;
    docs.push_back(std::move(d).value());
  }
  auto other = json::Parse(R"({"method":"POST","headers":{"content-type":"text/json"},"path":"/orders/1"})");
  ASSERT_TRUE(other.ok());

  Gen gen(20261127);
  int compared = 0, fast_true = 0;
  EvalContext c1, c2;
  for (int i = 0; i < 3000; ++i) {
    std::string expr = gen.Expr(0);
    for (int mode = 0; mode < 3; ++mode) {
      CelOptions fast, generic;
      generic.specialize = false;
      if (mode == 2) fast.container = generic.container = "a.b";  // qualified-name resolution
      auto pf = Compile(expr, fast);
      auto pg = Compile(expr, generic);
      ASSERT_EQ(pf.ok(), pg.ok()) << expr;
      if (!pf.ok()) break;
      for (const auto& doc : docs) {
        Activation act(&doc->root());
        if (mode == 1) act.Bind("request", &(*other)->root());  // extra bindings shadow the root
        std::string a = Show(Evaluate(**pf, act, &c1));
        std::string b = Show(Evaluate(**pg, act, &c2));
        ASSERT_EQ(a, b) << expr << "\nmode " << mode << " over " << json::ToJson(doc->root());
        ++compared;
        fast_true += a == "bool true";
      }
    }
  }
  // The generator must reach both outcomes often, or the comparison proves little.
  EXPECT_GT(compared, 30000);
  EXPECT_GT(fast_true, 500);
}

TEST(CelFastPath, HasOfATopLevelVariableIsTheGenericResultAtEveryStepLimit) {
  // has(v.f) with v a top-level variable is looked up in the JSON root in place (eval.cc
  // PredHas): objects with and without f, non-objects, absent variables, bindings that shadow
  // the root, and every step limit around the expression's cost give the generic result.
  const char* records[] = {
      R"({"params":{"orderId":"o-1"},"response":{"body":{"id":"o-2"}},"s":"x","n":null,"a":[1]})",
      R"({"params":{},"response":{"body":{"id":"o-3"}}})",
      R"({"params":"x"})",
      R"([{"params":{}}])",
      // For has(v.f) ? v.f : e (EvalCold's kCond): f of other kinds, v an indexed object
      // (12 or more members), a root of 12 or more members, v absent.
      R"({"params":{"orderId":{"k":[1,2]}},"response":{"body":{"id":7}}})",
      R"({"params":{"orderId":null,"x":1},"response":{"body":{}}})",
      R"({"params":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"orderId":12.5}})",
      R"({"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"params":{"orderId":"o-9"}})",
      R"({"response":{"body":{"id":"o-4"}}})",
  };
  const char* exprs[] = {
      "has(params.orderId) ? params.orderId : response.body.id",
      "has(params.orderId)", "has(s.x)", "has(n.x)", "has(a.x)", "has(nope.x)", "!has(params.y) && has(response.body)",
      // Near misses of the kCond shape (another member, another variable, the branches
      // swapped) and the shape nested in itself, in an operand and with a missing else path.
      "has(params.orderId) ? params.x : response.body.id",
      "has(params.orderId) ? response.orderId : 'none'",
      "has(params.orderId) ? response.body.id : params.orderId",
      "has(params.orderId) ? params.orderId : (has(response.body) ? response.body.id : 'none')",
      "(has(params.orderId) ? params.orderId : response.body.id) == 'o-1'",
      "has(params.orderId) ? params.orderId : nope.id",
  };
  const size_t num_records = sizeof(records) / sizeof(records[0]);
  const size_t num_exprs = sizeof(exprs) / sizeof(exprs[0]);
  auto shadow = json::Parse(R"({"orderId":"bound"})");
  ASSERT_TRUE(shadow.ok());
  int compared = 0;
  EvalContext c1, c2;
  for (const char* r : records) {
    auto doc = json::Parse(r);
    ASSERT_TRUE(doc.ok()) << r;
    for (const char* expr : exprs) {
      for (uint64_t steps = 0; steps < 12; ++steps) {
        for (int bind = 0; bind < 2; ++bind) {
          CelOptions fast, generic;
          generic.specialize = false;
          fast.max_steps = generic.max_steps = steps == 11 ? 1'000'000 : steps;
          auto pf = Compile(expr, fast);
          auto pg = Compile(expr, generic);
          ASSERT_TRUE(pf.ok() && pg.ok()) << expr;
          Activation act(&(*doc)->root());
          if (bind == 1) act.Bind("params", &(*shadow)->root());
          ASSERT_EQ(Show(Evaluate(**pf, act, &c1)), Show(Evaluate(**pg, act, &c2)))
              << expr << " over " << r << " max_steps " << steps << " bind " << bind;
          // The fast forms count the generic steps, so the limit falls at the same place for
          // any expression around them.
          ASSERT_EQ(c1.steps(), c2.steps()) << expr << " over " << r << " max_steps " << steps << " bind " << bind;
          ++compared;
        }
      }
    }
  }
  EXPECT_EQ(compared, static_cast<int>(num_records * num_exprs * 12 * 2));
}

// `a.x * a.y cmp number` (PredCmpConst: two JSON numbers multiplied and compared in place), as
// in a filter over items, gives the generic result on items of every kind: integer, fractional,
// negative, -0 and overflowing factors, strings, nulls, arrays and absent fields (errors that
// the macros absorb or report), non-object items; with int, uint, double and string literals on
// either side. Under every step limit it gives the unlimited result or an error.
TEST(CelFastPath, ProductOfTwoFieldsAgainstALiteralIsTheGenericResult) {
  const char* const kExprs[] = {
      "request.body.items.exists(i, i.price * i.qty >= 500.0)",
      "response.status == 201 && request.body.items.exists(i, i.price * i.qty >= 500.0)",
      "request.body.items.all(i, 100 < i.qty * i.price)",
      "request.body.items.exists_one(i, i.price * i.qty == 500)",
      "size(request.body.items.filter(i, i.price * i.qty <= 500u)) > 0",
      "request.body.items.exists(i, i.price * i.qty != 1e308)",
      "request.body.items.exists(i, i.price * i.qty > '500')",
      "request.body.price * request.body.qty >= 24.0",
  };
  const char* const kValues[] = {"1", "3", "250", "499.99", "500", "2.5", "0", "-0.0", "-600", "1e300",
                                 "\"5\"", "null", "[2]", "true"};
  std::vector<std::string> records = {
      R"({"request":{"body":{"items":[],"price":4,"qty":6}},"response":{"status":201}})",
      R"({"request":{"body":{"items":[1,{"price":500,"qty":1}],"price":"4","qty":6}},"response":{"status":201}})",
      R"({"request":{"body":{"items":{"price":500,"qty":1}}},"response":{"status":201}})",
      R"({"request":{"body":{}},"response":{"status":201}})",
  };
  std::mt19937 rng(2026112913);
  for (int r = 0; r < 200; ++r) {
    std::string items = "[";
    const int n = static_cast<int>(rng() % 5);
    for (int k = 0; k < n; ++k) {
      if (k) items += ",";
      items += "{";
      bool comma = false;
      for (const char* field : {"price", "qty"}) {
        if (rng() % 12 == 0) continue;  // absent
        const uint32_t pick = rng() % 40;
        const char* v = pick < 10 ? kValues[pick % 10] : (pick < 14 ? kValues[pick - 4] : kValues[rng() % 6]);
        items += std::string(comma ? "," : "") + "\"" + field + "\":" + v;
        comma = true;
      }
      items += "}";
    }
    items += "]";
    records.push_back(R"({"request":{"body":{"items":)" + items + R"(,"price":)" + kValues[rng() % 14] +
                      R"(,"qty":)" + kValues[rng() % 10] + R"(}},"response":{"status":201}})");
  }
  int compared = 0, fast_true = 0;
  EvalContext c1, c2;
  for (const char* expr : kExprs) {
    CelOptions fast, generic;
    generic.specialize = false;
    auto pf = Compile(expr, fast);
    auto pg = Compile(expr, generic);
    ASSERT_TRUE(pf.ok() && pg.ok()) << expr;
    for (const std::string& r : records) {
      auto doc = json::Parse(r);
      ASSERT_TRUE(doc.ok()) << r;
      Activation act(&(*doc)->root());
      const std::string want = Show(Evaluate(**pg, act, &c2));
      ASSERT_EQ(Show(Evaluate(**pf, act, &c1)), want) << expr << " over " << r;
      ++compared;
      fast_true += want == "bool true";
      for (uint64_t steps = 0; steps < 24; ++steps) {
        CelOptions limited;
        limited.max_steps = steps;
        auto pl = Compile(expr, limited);
        ASSERT_TRUE(pl.ok());
        const Value v = Evaluate(**pl, act, &c1);
        // Below the expression's cost: the limit's error, or an error the macro met before it
        // (exists reports the first error when the limit stops it).
        if (v.is_error()) continue;
        ASSERT_EQ(Show(v), want) << expr << " over " << r << " max_steps " << steps;
        ASSERT_LE(c1.steps(), steps);
      }
    }
  }
  EXPECT_EQ(compared, static_cast<int>(sizeof(kExprs) / sizeof(kExprs[0]) * records.size()));
  EXPECT_GT(fast_true, 300);
}

TEST(CelFastPath, HintsFollowChangingShapes) {
  // The position hints learn one record's member order; others must still be found.
  auto p = Compile("request.method == 'POST' && response.status == 201");
  ASSERT_TRUE(p.ok());
  EvalContext ctx;
  const char* recs[] = {
      R"({"request":{"method":"POST"},"response":{"status":201}})",
      R"({"a":1,"b":2,"response":{"x":0,"status":201},"request":{"y":1,"z":2,"method":"POST"}})",
      R"({"response":{"status":201},"request":{"method":"GET"}})",
      R"({"request":{"method":"POST"},"response":{"status":201}})",
  };
  const bool want[] = {true, true, false, true};
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < 4; ++i) {
      auto d = json::Parse(recs[i]);
      ASSERT_TRUE(d.ok());
      Activation act(&(*d)->root());
      auto r = EvaluateBool(**p, act, &ctx);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(*r, want[i]) << recs[i];
    }
  }
}

TEST(SimpleRegex, CoversCommonPatternsAndDeclinesTheRest) {
  for (const char* p : {"^o-[0-9]+$", "json", "^/orders", "^[a-z0-9._-]+@example\\.com$", "\\d{3}-\\d{4}",
                        "^\\w+\\s*$", "a?b*c+", "x{2,}y{0,3}", "", "^$", "[a-]", "colou?r", "a+?", "\\$$"}) {
    EXPECT_NE(SimpleRegex::Compile(p), nullptr) << p;
  }
  for (const char* p : {"(a|b)", "a|b", ".", "[^a]", "\\D", "a$b", "a^", "[[:alpha:]]", "\\bx", "(?i)a",
                        "é", "[é]", "a{,2}", "a**", "[]a]", "\\pN", "x{1001}", "a{70}"}) {
    EXPECT_EQ(SimpleRegex::Compile(p), nullptr) << p;
  }
}

TEST(SimpleRegex, AgreesWithRe2) {
  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  const char* atoms[] = {"a", "b", "o", "-", "0", "9", "\\.", "[0-9]", "[a-c]", "[a-]", "[-b]", "\\d", "\\w",
                         "\\s", " ", "_", "\\-", "[\\d_]", "[a-c0-2 ]", "\\n"};
  const char* quants[] = {"", "", "", "*", "+", "?", "{2}", "{1,3}", "{2,}", "*?", "{0}", "??"};
  const char* pieces[] = {"a", "b", "o", "-", "0", "9", ".", " ", "_", "\n", "\xc3\xa9", "1", "c"};
  int checked = 0, matched = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string pat = pick(3) == 0 ? "^" : "";
    int n = pick(5);
    for (int k = 0; k < n; ++k) pat += std::string(atoms[pick(20)]) + quants[pick(12)];
    if (pick(3) == 0) pat += "$";
    auto simple = SimpleRegex::Compile(pat);
    RE2::Options opts;
    opts.set_log_errors(false);
    RE2 re(pat, opts);
    if (!re.ok()) continue;
    ASSERT_NE(simple, nullptr) << pat;  // every generated pattern is inside the subset
    for (int t = 0; t < 25; ++t) {
      std::string text;
      int len = pick(9);
      for (int k = 0; k < len; ++k) text += pieces[pick(13)];
      bool want = RE2::PartialMatch(text, re);
      ASSERT_EQ(simple->PartialMatch(text), want) << "pattern '" << pat << "' text '" << text << "'";
      ++checked;
      matched += want;
    }
  }
  EXPECT_GT(checked, 50000);
  EXPECT_GT(matched, checked / 10);
}

}  // namespace
}  // namespace ec::cel
