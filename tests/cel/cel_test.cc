// Focused tests of the CEL library: errors users see, limits, JSON semantics, threads and the
// no-allocation promise for read-and-compare predicates.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cel/cel.h"
#include "json/document.h"
#include "json/writer.h"

// Counts heap allocations made by this thread while `g_counting` is set.
namespace {
thread_local bool g_counting = false;
thread_local size_t g_allocations = 0;
}  // namespace

void* operator new(size_t n) {
  if (g_counting) ++g_allocations;
  void* p = std::malloc(n ? n : 1);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
// GCC 12 sees std::free of memory from this replaced operator new as a mismatch
// (-Wmismatched-new-delete) at every inlined delete; it is not one: new above uses malloc.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace ec::cel {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class CelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto doc = json::Parse(ReadFile(std::string(EC_SHARED_DIR) + "/anchors/gen/record.json"));
    ASSERT_TRUE(doc.ok()) << doc.status().ToString();
    doc_ = std::move(doc).value();
    act_.set_root(&doc_->root());
  }

  // Compiles and evaluates `expr` over the record; the result as JSON text or "error: ...".
  std::string Eval(std::string_view expr, const CelOptions& options = {}) {
    auto p = Compile(expr, options);
    if (!p.ok()) return "compile error: " + p.status().message();
    Value v = Evaluate(**p, act_, &ctx_);
    if (v.is_error()) return "error: " + std::string(v.error().message);
    Arena arena;
    json::Builder b(&arena);
    auto j = ToJson(v, b);
    if (!j.ok()) return "tojson error: " + j.status().message();
    return json::ToJson(*j);
  }

  std::unique_ptr<json::Document> doc_;
  Activation act_;
  EvalContext ctx_;
};

TEST_F(CelTest, ParseErrorsGiveLineColumnAndCaret) {
  auto p = Compile("request.method ==\n  'POST' && (1 + ");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), ErrorCode::kParseError);
  const std::string& m = p.status().message();
  EXPECT_NE(m.find("2:18:"), std::string::npos) << m;
  EXPECT_NE(m.find("\n |   'POST' && (1 + \n | .................^"), std::string::npos) << m;

  auto q = Compile("a.b(");
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("1:5:"), std::string::npos) << q.status().message();
  auto r = Compile("'unterminated");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unterminated string"), std::string::npos);
  auto s = Compile("1 = 2");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("1:3: unexpected character '='"), std::string::npos) << s.status().message();
}

TEST_F(CelTest, ParseErrorOnALongLineOfMultibyteText) {
  // Found by fuzzing: the caret column of a trimmed long line counted bytes against code points.
  std::string text;
  for (int i = 0; i < 150; ++i) text += "\xc3\xa9";  // 300 bytes, 150 code points
  auto p = Compile("'" + text + "' @");
  ASSERT_FALSE(p.ok());
  const std::string& m = p.status().message();
  EXPECT_LT(m.size(), 2000u) << m.size();
  EXPECT_NE(m.find("1:154: "), std::string::npos) << m.substr(0, 80);
  EXPECT_NE(m.find("\n | " + std::string(51, '.') + "^"), std::string::npos) << m;
}

TEST_F(CelTest, DeepNestingIsAnErrorNotACrash) {
  for (const char* open_close : {"()", "[]", "{}"}) {
    std::string e(10000, open_close[0]);
    if (open_close[0] == '{') {
      e.clear();
      for (int i = 0; i < 10000; ++i) e += "{1:";
      e += "1";
      e += std::string(10000, '}');
    } else {
      e += "1";
      e += std::string(10000, open_close[1]);
    }
    auto p = Compile(e);
    ASSERT_FALSE(p.ok()) << open_close;
    EXPECT_EQ(p.status().code(), ErrorCode::kParseError);
    EXPECT_NE(p.status().message().find("max_parse_depth"), std::string::npos) << p.status().message().substr(0, 200);
  }
  // Long operator chains and prefix runs build deep trees without recursion: also bounded.
  std::string chain = "1";
  for (int i = 0; i < 10000; ++i) chain += " + 1";
  EXPECT_FALSE(Compile(chain).ok());
  EXPECT_FALSE(Compile(std::string(10000, '-') + "1").ok());
  EXPECT_FALSE(Compile(std::string(10000, '!') + "true").ok());
  std::string sel = "a";
  for (int i = 0; i < 10000; ++i) sel += ".b";
  EXPECT_FALSE(Compile(sel).ok());
  // Moderate nesting is fine.
  EXPECT_EQ(Eval(std::string(100, '(') + "7" + std::string(100, ')')), "7");
}

TEST_F(CelTest, StepAndIterationLimits) {
  CelOptions options;
  options.max_steps = 1000;
  std::string ten = "[0,1,2,3,4,5,6,7,8,9]";
  std::string e = ten + ".all(a, " + ten + ".all(b, " + ten + ".all(c, true)))";
  auto p = Compile(e, options);
  ASSERT_TRUE(p.ok());
  Value v = Evaluate(**p, act_, &ctx_);
  ASSERT_TRUE(v.is_error());
  EXPECT_EQ(v.error().code, ErrorCode::kLimitExceeded);
  EXPECT_NE(std::string(v.error().message).find("max_steps"), std::string::npos);
  options.max_steps = 100000;
  EXPECT_EQ(Eval(e, options), "true");

  CelOptions small;
  small.max_comprehension_iterations = 3;
  EXPECT_NE(Eval("request.body.items.exists(i, i.qty > 3)", small).find("max_comprehension_iterations"), std::string::npos);
}

TEST_F(CelTest, JsonDataModel) {
  EXPECT_EQ(Eval("request.method == 'POST' && response.status == 201"), "true");
  EXPECT_EQ(Eval("response.status == 201u && response.status == 201.0"), "true");
  EXPECT_EQ(Eval("type(response.status)"), "\"double\"");
  EXPECT_EQ(Eval("response.status + 1"), "error: no such overload: _+_(double, int)");
  EXPECT_EQ(Eval("int(response.status) + 1"), "202");
  EXPECT_EQ(Eval("request.body.foo"), "error: no such key: 'foo'");
  EXPECT_EQ(Eval("request.headers['content-type'].contains('json')"), "true");
  EXPECT_EQ(Eval("has(response.body.id) && response.body.id.matches('^o-[0-9]+$')"), "true");
  EXPECT_EQ(Eval("request.body.items.map(i, i.sku).join(',')"), "\"A1,B22,C333,D4,E55\"");
  EXPECT_EQ(Eval("request.body.items.filter(i, i.price > 20.0).size()"), "2");
  EXPECT_EQ(Eval("request.query"), "{}");
  EXPECT_EQ(Eval("client"), "{\"ip\":\"10.0.0.7\",\"consumer\":\"shop-web\"}");
  EXPECT_EQ(Eval("nope"), "error: undeclared reference to 'nope' (no such variable)");
  EXPECT_EQ(Eval("request.?missing.orValue('dflt')"), "\"dflt\"");
  EXPECT_EQ(Eval("timestamp(time).getHours('America/New_York')"), "5");
  // Macro argument errors in the 3- and 4-argument forms are parse errors (found by the fuzzer).
  EXPECT_NE(Eval("[1].transformList(k, k, v, v)").find("compile error: "), std::string::npos);
  EXPECT_NE(Eval("[1].map(1, 2, 3)").find("error: "), std::string::npos);
  // A tzdata region directory is not a zone: an error value, not a crash (found by the fuzzer).
  EXPECT_EQ(Eval("timestamp(time).getHours('America')").rfind("error: ", 0), 0u);
}

TEST_F(CelTest, ToJsonFormats) {
  EXPECT_EQ(Eval("timestamp('2025-01-15T10:00:00.011Z') + duration('1h')"), "\"2025-01-15T11:00:00.011Z\"");
  EXPECT_EQ(Eval("duration('1h')"), "\"3600s\"");
  EXPECT_EQ(Eval("duration('1.5s')"), "\"1.5s\"");
  EXPECT_EQ(Eval("b'\\x00\\xff'"), "\"AP8=\"");
  EXPECT_EQ(Eval("[1, 2u, 2.5, 'x', null, true]"), "[1,2,2.5,\"x\",null,true]");
  EXPECT_EQ(Eval("{'a': 1, 2: 'b'}"), "{\"a\":1,\"2\":\"b\"}");
  EXPECT_EQ(Eval("1 / 0"), "error: division by zero");
  EXPECT_EQ(Eval("9223372036854775807 + 1"), "error: integer overflow in _+_");
}

TEST_F(CelTest, EvaluateBoolAndString) {
  auto when = Compile("request.method == 'POST'");
  ASSERT_TRUE(when.ok());
  auto b = EvaluateBool(**when, act_, &ctx_);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(*b);
  auto not_bool = Compile("request.method");
  ASSERT_TRUE(not_bool.ok());
  auto nb = EvaluateBool(**not_bool, act_, &ctx_);
  ASSERT_FALSE(nb.ok());
  EXPECT_EQ(nb.status().message(), "expected bool, got string");
  for (auto [expr, want] : std::vector<std::pair<const char*, const char*>>{
           {"response.body.id", "o-100000"}, {"response.status", "201"}, {"latency_ms * 0.5", "6"},
           {"7", "7"}, {"7u", "7"}, {"1.5", "1.5"}}) {
    auto k = Compile(expr);
    ASSERT_TRUE(k.ok());
    auto s = EvaluateString(**k, act_, &ctx_);
    ASSERT_TRUE(s.ok()) << expr;
    EXPECT_EQ(*s, want) << expr;
  }
  auto bad_key = Compile("request.body.missing");
  ASSERT_TRUE(bad_key.ok());
  auto bk = EvaluateString(**bad_key, act_, &ctx_);
  ASSERT_FALSE(bk.ok());
  EXPECT_EQ(bk.status().code(), ErrorCode::kEvalError);
}

TEST_F(CelTest, ExtraBindingsShadowRoot) {
  auto extra = json::Parse("{\"x\": 5, \"request\": {\"method\": \"GET\"}}");
  ASSERT_TRUE(extra.ok());
  act_.Bind("request", (*extra)->root().Find("request"));
  act_.BindValue("n", Value::Int(3));
  EXPECT_EQ(Eval("request.method + ':' + string(n)"), "\"GET:3\"");
}

TEST_F(CelTest, OneProgramManyThreads) {
  auto p = Compile(
      "request.body.items.exists(i, i.price > 100.0) && request.body.items.map(i, i.qty).size() == 5 && "
      "request.path + '!' == '/orders!'");
  ASSERT_TRUE(p.ok());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      EvalContext ctx;
      for (int i = 0; i < 2000; ++i) {
        auto r = EvaluateBool(**p, act_, &ctx);
        if (r.ok() && *r) good++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 8000);
}

TEST_F(CelTest, ReadAndComparePredicatesDoNotAllocate) {
  for (const char* expr : {
           "request.method == 'POST' && response.status == 201",
           "response.status >= 200 && response.status < 300 && request.path.startsWith('/orders')",
           "request.body.items.exists(i, i.price > 100.0)",
           "request.body.items.size() > 3 && 'gold' == request.body.customer.tier",
           "has(response.body.id) && response.body.id.matches('^o-[0-9]+$')",
           "request.headers['content-type'].contains('json')",
       }) {
    auto p = Compile(expr);
    ASSERT_TRUE(p.ok()) << expr;
    EvalContext ctx;
    ASSERT_TRUE(*EvaluateBool(**p, act_, &ctx)) << expr;  // warm-up sizes the context once
    g_allocations = 0;
    g_counting = true;
    Value v = Evaluate(**p, act_, &ctx);
    g_counting = false;
    EXPECT_TRUE(v.kind() == Kind::kBool && v.bool_value()) << expr;
    EXPECT_EQ(g_allocations, 0u) << expr;
  }
  // The counter itself works. (An evaluation's arena block may come from the arena's per-thread
  // block cache, so allocate directly.)
  g_allocations = 0;
  g_counting = true;
  auto* probe = new std::string(256, 'x');
  g_counting = false;
  delete probe;
  EXPECT_GT(g_allocations, 0u);
}

TEST_F(CelTest, ConstantsAreFolded) {
  EXPECT_EQ(Eval("[1, 2, 3].map(x, x * 2)"), "[2,4,6]");
  auto p = Compile("'a' + 'b' == 'ab' && 2 * 3 == 6");
  ASSERT_TRUE(p.ok());
  EvalContext ctx;
  Value v = Evaluate(**p, act_, &ctx);
  EXPECT_TRUE(v.bool_value());
  EXPECT_EQ(ctx.steps(), 1u);  // one constant node
}

}  // namespace
}  // namespace ec::cel
