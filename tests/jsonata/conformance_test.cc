// Runs every case of the jsonata-js 2.2.2 test suite (../shared/conformance/jsonata) and checks
// the outcome against tests/jsonata/conformance_expected_failures.txt: a failure not listed
// there is a regression, a listed case that passes must be removed from the list.
//
// EC_JSONATA_WRITE_EXPECTED=<file> writes the current failures (with reasons) to <file>.
// EC_JSONATA_VERBOSE=1 prints every failure.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
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

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

// A suite file holds one case or an array of them.
std::vector<const json::Value*> CasesIn(const json::Value& v) {
  std::vector<const json::Value*> cases;
  if (v.is_array()) {
    for (const auto& x : v.array()) cases.push_back(&x);
  } else {
    cases.push_back(&v);
  }
  return cases;
}

bool UnorderedEqual(const json::Value& a, const json::Value& b) {
  if (!a.is_array() || !b.is_array()) return json::Equal(a, b);
  if (a.size() != b.size()) return false;
  std::vector<bool> used(b.size());
  for (const auto& x : a.array()) {
    bool found = false;
    for (size_t i = 0; i < b.size(); ++i) {
      if (!used[i] && json::Equal(x, b.array()[i])) {
        used[i] = found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

struct CaseResult {
  std::string id;
  std::string group;
  bool pass = false;
  std::string reason;
};

// Runs one case; returns an empty string on success, else why it failed.
std::string RunCase(const json::Value& c, const fs::path& dir, const std::map<std::string, json::Value>& datasets) {
  std::string expr;
  if (const json::Value* e = c.Find("expr")) {
    expr = std::string(e->string());
  } else if (const json::Value* f = c.Find("expr-file")) {
    expr = ReadFile(dir / std::string(f->string()));
  }
  JsonataOptions options;
  const json::Value* timelimit = c.Find("timelimit");
  const json::Value* depth = c.Find("depth");
  if (timelimit) options.time_limit = std::chrono::milliseconds(static_cast<int64_t>(timelimit->number()));
  if (depth) options.max_depth = static_cast<uint32_t>(depth->number());
  const json::Value* code = c.Find("code");
  const json::Value* error_obj = c.Find("error");
  if (!code && error_obj) code = error_obj->Find("code");
  const json::Value* token = c.Find("token");
  if (!token && error_obj) token = error_obj->Find("token");

  Error err;
  auto compiled = Compile(expr, options, &err);
  if (!compiled.ok()) {
    if (code && code->string() == err.code) {
      if (token && token->string() != err.token) return "compile error token " + err.token + " != " + std::string(token->string());
      return "";
    }
    return "compile error " + err.code + ": " + err.message;
  }
  MaybeValue input;
  if (const json::Value* d = c.Find("data")) {
    input = Defined(*d);
  } else if (const json::Value* ds = c.Find("dataset")) {
    if (ds->is_string()) {
      auto it = datasets.find(std::string(ds->string()));
      if (it == datasets.end()) return "missing dataset";
      input = Defined(it->second);
    }
  }
  Bindings bindings;
  if (const json::Value* b = c.Find("bindings")) {
    for (const auto& m : b->object()) bindings.Set(std::string(m.key), m.value);
  }
  Arena arena;
  Error eerr;
  auto out = (*compiled)->Evaluate(input, &arena, &bindings, &eerr);
  if (c.Find("undefinedResult")) {
    if (!out.ok()) return "error " + eerr.code + ": " + eerr.message + " (expected undefined)";
    if (out->defined) return "got " + json::ToJson(out->value) + " (expected undefined)";
    return "";
  }
  if (const json::Value* r = c.Find("result")) {
    if (!out.ok()) return "error " + eerr.code + ": " + eerr.message;
    if (!out->defined) return "got undefined, expected " + json::ToJson(*r);
    const json::Value* unordered = c.Find("unordered");
    bool eq = unordered && unordered->is_bool() && unordered->bool_value() ? UnorderedEqual(out->value, *r)
                                                                            : json::Equal(out->value, *r);
    if (!eq) return "got " + json::ToJson(out->value).substr(0, 200) + ", expected " + json::ToJson(*r).substr(0, 200);
    return "";
  }
  if (code) {
    if (out.ok()) {
      return "no error (expected " + std::string(code->string()) + "), got " +
             (out->defined ? json::ToJson(out->value).substr(0, 100) : "undefined");
    }
    if (eerr.code != code->string()) return "error " + eerr.code + " (expected " + std::string(code->string()) + "): " + eerr.message;
    if (token && token->string() != eerr.token) return "error token '" + eerr.token + "' != '" + std::string(token->string()) + "'";
    return "";
  }
  return "case has no expected outcome";
}

// The suite's location and its shared input documents, by name (`docs` owns them); skipped
// when the suite is not there.
class JsonataConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(root / "groups")) GTEST_SKIP() << "conformance suite not found at " << root;
    for (const auto& e : fs::directory_iterator(root / "datasets")) {
      auto d = json::Parse(ReadFile(e.path()));
      ASSERT_TRUE(d.ok()) << e.path();
      datasets[e.path().stem().string()] = (*d)->root();
      docs.push_back(std::move(d).value());
    }
  }
  const fs::path root = fs::path(EC_SHARED_DIR) / "conformance" / "jsonata";
  std::vector<std::unique_ptr<json::Document>> docs;
  std::map<std::string, json::Value> datasets;
};

TEST_F(JsonataConformance, Suite) {
  std::vector<fs::path> groups;
  for (const auto& e : fs::directory_iterator(root / "groups")) groups.push_back(e.path());
  std::sort(groups.begin(), groups.end());
  std::vector<CaseResult> results;
  bool verbose = std::getenv("EC_JSONATA_VERBOSE") != nullptr;
  for (const auto& g : groups) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(g))
      if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    int pass = 0, fail = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (const auto& f : files) {
      // simdjson rejects lone surrogate escapes: hand them to the JSONata lexer as text.
      std::string text = Replace(ReadFile(f), "\\uD800", "\\\\uD800");
      auto d = json::Parse(text);
      ASSERT_TRUE(d.ok()) << f << ": " << d.status().message();
      const std::vector<const json::Value*> cases = CasesIn((*d)->root());
      for (size_t i = 0; i < cases.size(); ++i) {
        CaseResult r;
        r.group = g.filename().string();
        r.id = r.group + "/" + f.filename().string() + ((*d)->root().is_array() ? "#" + std::to_string(i) : "");
        r.reason = RunCase(*cases[i], g, datasets);
        r.pass = r.reason.empty();
        (r.pass ? pass : fail)++;
        if (!r.pass && verbose) {
          const json::Value* e = cases[i]->Find("expr");
          std::cout << "FAIL " << r.id << " [" << (e ? std::string(e->string()) : "expr-file") << "] " << r.reason << "\n";
        }
        results.push_back(std::move(r));
      }
      docs.push_back(std::move(d).value());
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    std::cout << g.filename().string() << ": " << pass << " passed, " << fail << " failed (" << ms << " ms)\n";
  }
  // Expectations.
  std::set<std::string> expected;
  {
    std::ifstream in(fs::path(EC_SOURCE_DIR) / "tests" / "jsonata" / "conformance_expected_failures.txt");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      expected.insert(line.substr(0, line.find(' ')));
    }
  }
  int passed = 0, failed = 0;
  std::ofstream write;
  if (const char* w = std::getenv("EC_JSONATA_WRITE_EXPECTED")) {
    write.open(w);
    write << "# Conformance cases not passed, one per line: <group>/<file>[#index] <reason>\n";
  }
  for (const auto& r : results) {
    (r.pass ? passed : failed)++;
    bool listed = expected.count(r.id) > 0;
    if (!r.pass) {
      if (write.is_open()) {
        std::string reason = r.reason.substr(0, 160);
        std::replace(reason.begin(), reason.end(), '\n', ' ');
        write << r.id << " " << reason << "\n";
      }
      EXPECT_TRUE(listed) << "regression: " << r.id << ": " << r.reason;
    } else {
      EXPECT_FALSE(listed) << "now passes, remove from expectations: " << r.id;
    }
  }
  std::cout << passed << " passed, " << failed << " failed\n";
}

// EvaluateJson (an event's `data` written as text without the result's tree) must write exactly
// what Evaluate + json::AppendJson write, and fail and be undefined where Evaluate is: checked on
// every case of the suite that runs the same twice (not the clock, random or time-limited ones).
TEST_F(JsonataConformance, EvaluateJsonIsEvaluateThenAppendJson) {
  int compared = 0, defined = 0, errors = 0;
  for (const auto& g : fs::directory_iterator(root / "groups")) {
    for (const auto& f : fs::directory_iterator(g.path())) {
      if (f.path().extension() != ".json") continue;
      auto d = json::Parse(Replace(ReadFile(f.path()), "\\uD800", "\\\\uD800"));
      ASSERT_TRUE(d.ok()) << f.path();
      const std::vector<const json::Value*> cases = CasesIn((*d)->root());
      for (const json::Value* c : cases) {
        std::string expr;
        if (const json::Value* e = c->Find("expr")) {
          expr = std::string(e->string());
        } else if (const json::Value* ef = c->Find("expr-file")) {
          expr = ReadFile(g.path() / std::string(ef->string()));
        }
        if (c->Find("timelimit") || c->Find("depth") || expr.find("$now") != std::string::npos ||
            expr.find("$millis") != std::string::npos || expr.find("$random") != std::string::npos ||
            expr.find("$shuffle") != std::string::npos) {
          continue;
        }
        auto compiled = Compile(expr);
        if (!compiled.ok()) continue;
        MaybeValue input;
        if (const json::Value* dv = c->Find("data")) {
          input = Defined(*dv);
        } else if (const json::Value* ds = c->Find("dataset"); ds != nullptr && ds->is_string()) {
          auto it = datasets.find(std::string(ds->string()));
          if (it == datasets.end()) continue;
          input = Defined(it->second);
        }
        Bindings bindings;
        if (const json::Value* b = c->Find("bindings")) {
          for (const auto& m : b->object()) bindings.Set(std::string(m.key), m.value);
        }
        Arena arena;
        Error e1, e2;
        auto tree = (*compiled)->Evaluate(input, &arena, &bindings, &e1);
        std::string text = "prefix";  // appended to, not replaced
        auto direct = (*compiled)->EvaluateJson(input, &arena, &text, &bindings, &e2);
        ++compared;
        ASSERT_EQ(tree.ok(), direct.ok()) << expr;
        if (!tree.ok()) {
          ++errors;
          EXPECT_EQ(e1.code, e2.code) << expr;
          EXPECT_EQ(tree.status().message(), direct.status().message()) << expr;
          EXPECT_EQ(text, "prefix") << expr;
          continue;
        }
        ASSERT_EQ(tree->defined, *direct) << expr;
        if (!tree->defined) {
          EXPECT_EQ(text, "prefix") << expr;
          continue;
        }
        ++defined;
        EXPECT_EQ(text, "prefix" + json::ToJson(tree->value)) << expr;
      }
      docs.push_back(std::move(d).value());
    }
  }
  std::cout << compared << " cases compared: " << defined << " defined, " << errors << " errors\n";
  EXPECT_GT(defined, 1000);  // the suite was there and read
}

}  // namespace
}  // namespace ec::jsonata
