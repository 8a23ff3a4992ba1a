// Differential test: generated expressions over shop exchanges, evaluated by us and by
// jsonata-js 2.2.2 (tests/peers/node_modules), compared as JSON (or by error code).
// Short by default (a few hundred expressions); EC_TEST_LONG=1 runs every exchange.

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "json/document.h"
#include "json/writer.h"
#include "jsonata/jsonata.h"

namespace ec::jsonata {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Building blocks: values found in every exchange shape, and ways to combine them.
const char* kValues[] = {
    "request.method", "request.path", "request.body.items.sku", "request.body.items.price",
    "request.body.items.(price * qty)", "request.body.items[qty > 1]", "request.body.customer",
    "response.status", "response.body.id", "response.body.status", "response.body.items[0]",
    "response.body.items[-1].sku", "response.body[status = 'paid'].id", "response.body.customer.tier",
    "response.body.shipping.tracking", "client.consumer", "latency_ms", "time", "**.sku", "*.status",
    "response.body.items#$i[$i > 0].sku", "request.body.items^(>price).sku", "request.query.limit",
    "response.body.details", "request.body.email", "request.headers.`content-type`",
    "response.body.items{sku: qty}", "$keys(request.body)", "request.body.items[sku in ['MUG-01', 'A']]",
    "response.body.created_at"};

const char* kWrappers[] = {
    "%s", "$string(%s)", "$count(%s)", "$exists(%s)", "$type(%s)", "[%s]", "{'v': %s}", "%s ? 'yes' : 'no'",
    "$join($map([%s], function($v) { $string($v) }), '|')", "%s ?? 'default'", "$boolean(%s)",
    "%s = 'gold'", "($x := %s; $x)", "%s ~> $type()", "$distinct(%s)", "$reverse([%s])", "$sum(%s)",
    "$uppercase(%s)", "$length($string(%s))", "%s & '-'"};

TEST(JsonataDifferential, MatchesJsonataJs) {
  fs::path peers = fs::path(EC_SOURCE_DIR) / "tests" / "peers" / "node_modules";
  if (std::system("node --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "node not found: differential test skipped";
  if (!fs::exists(peers / "jsonata")) GTEST_SKIP() << "jsonata-js not installed in " << peers << " (scripts/install-peers.sh)";
  fs::path dir = fs::path(EC_SOURCE_DIR) / "tests" / "jsonata";
  auto exchanges = json::Parse(ReadFile(dir / "data" / "shop_exchanges.json"));
  ASSERT_TRUE(exchanges.ok());
  const auto& ex = (*exchanges)->root().array();
  bool long_run = std::getenv("EC_TEST_LONG") != nullptr;
  struct Case {
    std::string expr;
    size_t exchange;
  };
  std::vector<Case> cases;
  size_t k = 0;
  for (const char* w : kWrappers) {
    for (const char* v : kValues) {
      char buf[512];
      std::snprintf(buf, sizeof buf, w, v);
      if (long_run) {
        for (size_t e = 0; e < ex.size(); ++e) cases.push_back({buf, e});
      } else {
        cases.push_back({buf, k++ % ex.size()});
      }
    }
  }
  std::string input = "[";
  for (size_t i = 0; i < cases.size(); ++i) {
    if (i) input += ",";
    input += "{\"expr\":";
    json::AppendQuoted(cases[i].expr, &input);
    input += ",\"data\":" + json::ToJson(ex[cases[i].exchange]) + "}";
  }
  input += "]";
  fs::path tmp = fs::path(testing::TempDir()) / "jsonata_differential_cases.json";
  std::ofstream(tmp) << input;
  std::string cmd = "node " + (dir / "differential.mjs").string() + " " + tmp.string() + " " + peers.string();
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << "node failed";
  auto ref = json::Parse(out);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  ASSERT_EQ((*ref)->root().size(), cases.size());
  int mismatches = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const json::Value& r = (*ref)->root().array()[i];
    Error err;
    std::string ours;
    auto e = Compile(cases[i].expr, {}, &err);
    Arena arena;
    bool ok = false;
    if (!e.ok()) {
      ok = r.Find("code") && r.Find("code")->string() == err.code;
      ours = "error " + err.code;
    } else {
      auto v = (*e)->Evaluate(Defined(ex[cases[i].exchange]), &arena, nullptr, &err);
      if (!v.ok()) {
        ok = r.Find("code") && r.Find("code")->string() == err.code;
        ours = "error " + err.code;
      } else if (!v->defined) {
        ok = r.Find("undefined") != nullptr;
        ours = "undefined";
      } else {
        ok = r.Find("result") && json::Equal(*r.Find("result"), v->value);
        ours = json::ToJson(v->value);
      }
    }
    if (!ok) {
      mismatches++;
      ADD_FAILURE() << "exchange " << cases[i].exchange << ": " << cases[i].expr << "\n  ours: " << ours
                    << "\n  jsonata-js: " << json::ToJson(r);
    }
  }
  std::cout << cases.size() << " expressions compared with jsonata-js, " << mismatches << " mismatches\n";
}

}  // namespace
}  // namespace ec::jsonata
