// The cel-spec conformance suites ($EC_SHARED_DIR/conformance/cel, README.md there), run as
// data: every json-class test must pass unless listed in conformance_expected_failures.txt
// with its reason; a listed test that passes fails too, so the list stays true. Proto-class
// tests (protobuf message types) are run and reported, not required.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cel/cel.h"
#include "cel/checker.h"
#include "cel/ops.h"
#include "cel/text.h"
#include "cel/time.h"
#include "json/document.h"
#include "json/writer.h"

namespace ec::cel {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// simdjson rejects integer literals beyond 64 bits (e.g. 18446744073709552000, which the
// suites use for doubles); give such literals a ".0" so they parse as the doubles they are.
std::string WidenBigIntegers(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c >= '0' && c <= '9' && (i == 0 || !(isalnum(static_cast<unsigned char>(text[i - 1])) || text[i - 1] == '.'))) {
      size_t j = i;
      while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
      out.append(text, i, j - i);
      bool plain = j >= text.size() || (text[j] != '.' && text[j] != 'e' && text[j] != 'E');
      if (plain && j - i >= 20) out += ".0";
      i = j - 1;
      continue;
    }
    out += c;
  }
  return out;
}

const std::string kDir = std::string(EC_SHARED_DIR) + "/conformance/cel/";

// Converts a cel.expr.Value in protobuf JSON form; false (with `why`) when unsupported.
bool FromExprValue(const json::Value& j, Arena* arena, Value* out, std::string* why) {
  if (!j.is_object() || j.size() != 1) {
    *why = "malformed value";
    return false;
  }
  const json::Member& m = j.object()[0];
  std::string_view k = m.key;
  const json::Value& v = m.value;
  if (k == "nullValue") {
    *out = Value::Null();
  } else if (k == "boolValue") {
    *out = Value::Bool(v.bool_value());
  } else if (k == "int64Value") {
    *out = Value::Int(std::stoll(std::string(v.is_string() ? v.string() : "0")));
    if (v.is_number()) *out = Value::Int(static_cast<int64_t>(v.number()));
  } else if (k == "uint64Value") {
    *out = Value::Uint(std::stoull(std::string(v.is_string() ? v.string() : "0")));
    if (v.is_number()) *out = Value::Uint(static_cast<uint64_t>(v.number()));
  } else if (k == "doubleValue") {
    if (v.is_number()) {
      *out = Value::Double(v.number());
    } else {
      std::string s(v.string());
      *out = Value::Double(s == "Infinity" ? INFINITY : s == "-Infinity" ? -INFINITY : std::nan(""));
    }
  } else if (k == "stringValue") {
    *out = Value::String(arena->CopyString(v.string()));
  } else if (k == "bytesValue") {
    std::string b;
    Base64Decode(v.string(), &b);
    *out = Value::Bytes(arena->CopyString(b));
  } else if (k == "typeValue") {
    static const char* kNames[] = {"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type",
                                   "optional_type", "google.protobuf.Timestamp", "google.protobuf.Duration"};
    for (const char* n : kNames)
      if (v.string() == n) *out = Value::Type(n);
    if (out->kind() != Kind::kType) {
      *why = "type " + std::string(v.string());
      return false;
    }
  } else if (k == "listValue") {
    const json::Value* vals = v.Find("values");
    uint32_t n = vals ? vals->size() : 0;
    Value* elems = arena->AllocateArray<Value>(n + 1);
    for (uint32_t i = 0; i < n; ++i)
      if (!FromExprValue(vals->array()[i], arena, &elems[i], why)) return false;
    *out = Value::List(elems, n);
  } else if (k == "mapValue") {
    const json::Value* ents = v.Find("entries");
    uint32_t n = ents ? ents->size() : 0;
    MapEntry* es = arena->AllocateArray<MapEntry>(n + 1);
    for (uint32_t i = 0; i < n; ++i) {
      const json::Value& e = ents->array()[i];
      if (!FromExprValue(*e.Find("key"), arena, &es[i].key, why)) return false;
      if (!FromExprValue(*e.Find("value"), arena, &es[i].value, why)) return false;
    }
    *out = Value::Map(es, n);
  } else if (k == "objectValue") {
    const json::Value* type = v.Find("@type");
    const json::Value* val = v.Find("value");
    std::string t = type ? std::string(type->string()) : "";
    int64_t s;
    int32_t ns;
    if (t.size() > 9 && t.substr(t.size() - 9) == "Timestamp" && val && ParseTimestamp(val->string(), &s, &ns)) {
      *out = Value::Timestamp(s, ns);
    } else if (t.size() > 8 && t.substr(t.size() - 8) == "Duration" && val && ParseDuration(val->string(), &s, &ns)) {
      *out = Value::Duration(s, ns);
    } else {
      *why = "protobuf message " + t;
      return false;
    }
  } else {
    *why = "unsupported value form " + std::string(k);
    return false;
  }
  return true;
}

// Strict equality for expected results: same kinds (1 and 1.0 differ), NaN matches NaN,
// maps regardless of order.
bool SameValue(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kDouble: {
      double x = a.double_value(), y = b.double_value();
      if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
      return x == y && std::signbit(x) == std::signbit(y);
    }
    case Kind::kList:
      if (a.size() != b.size()) return false;
      for (uint32_t i = 0; i < a.size(); ++i)
        if (!SameValue(a.ListAt(i), b.ListAt(i))) return false;
      return true;
    case Kind::kMap:
      if (a.size() != b.size()) return false;
      for (uint32_t i = 0; i < a.size(); ++i) {
        Value other;
        if (!b.MapFind(a.MapKeyAt(i), &other) || !SameValue(a.MapValueAt(i), other)) return false;
      }
      return true;
    default:
      return Equal(a, b);
  }
}

std::string Describe(const Value& v) {
  if (v.is_error()) return "error(" + std::string(v.error().message) + ")";
  Arena arena;
  json::Builder b(&arena);
  auto j = ToJson(v, b);
  std::string out = std::string(TypeName(v)) + " ";
  if (j.ok()) {
    out += json::ToJson(*j);
  }
  return out;
}

// Converts a cel.expr.Type in protobuf JSON form; false when it names a protobuf message.
bool FromExprType(const json::Value& j, CelType* out) {
  using K = CelType::K;
  if (!j.is_object() || j.size() != 1) return false;
  const json::Member& m = j.object()[0];
  std::string_view k = m.key;
  const json::Value& v = m.value;
  if (k == "primitive") {
    std::string_view p = v.string();
    *out = CelType::Of(p == "BOOL" ? K::kBool : p == "INT64" ? K::kInt : p == "UINT64" ? K::kUint
                       : p == "DOUBLE" ? K::kDouble : p == "STRING" ? K::kString : K::kBytes);
    return true;
  }
  if (k == "null") { *out = CelType::Of(K::kNull); return true; }
  if (k == "dyn") { *out = CelType::Of(K::kDyn); return true; }
  if (k == "typeParam") { *out = CelType::Param(std::string(v.string())); return true; }
  if (k == "wellKnown") {
    if (v.string() == "TIMESTAMP") { *out = CelType::Of(K::kTimestamp); return true; }
    if (v.string() == "DURATION") { *out = CelType::Of(K::kDuration); return true; }
    return false;
  }
  if (k == "listType") {
    CelType e;
    if (!FromExprType(*v.Find("elemType"), &e)) return false;
    *out = CelType::List(e);
    return true;
  }
  if (k == "mapType") {
    CelType kt, vt;
    if (!FromExprType(*v.Find("keyType"), &kt) || !FromExprType(*v.Find("valueType"), &vt)) return false;
    *out = CelType::Map(kt, vt);
    return true;
  }
  if (k == "abstractType") {
    std::vector<CelType> ps;
    if (const json::Value* pv = v.Find("parameterTypes")) {
      for (const json::Value& p : pv->array()) {
        CelType t;
        if (!FromExprType(p, &t)) return false;
        ps.push_back(t);
      }
    }
    *out = CelType::Abstract(std::string(v.Find("name")->string()), ps);
    return true;
  }
  if (k == "type") {
    *out = CelType::Of(K::kType);
    return true;
  }
  return false;
}

// Declarations of a test's typeEnv; false when one needs protobuf types.
bool FromTypeEnv(const json::Value* decls, TypeEnv* env) {
  if (decls == nullptr) return true;
  for (const json::Value& d : decls->array()) {
    std::string name(d.Find("name")->string());
    if (const json::Value* ident = d.Find("ident")) {
      CelType t;
      if (!FromExprType(*ident->Find("type"), &t)) return false;
      env->variables[name] = t;
    } else if (const json::Value* fn = d.Find("function")) {
      for (const json::Value& o : fn->Find("overloads")->array()) {
        FunctionOverload ov;
        if (const json::Value* ps = o.Find("params")) {
          for (const json::Value& p : ps->array()) {
            CelType t;
            if (!FromExprType(p, &t)) return false;
            ov.params.push_back(t);
          }
        }
        if (!FromExprType(*o.Find("resultType"), &ov.result)) return false;
        const json::Value* inst = o.Find("isInstanceFunction");
        ov.member = inst != nullptr && inst->bool_value();
        env->functions[name].push_back(ov);
      }
    }
  }
  return true;
}

struct Outcome {
  bool pass = false;
  std::string detail;
};

Outcome RunTest(const json::Value& original) {
  Outcome o;
  std::string expr(original.Find("expr")->string());
  const json::Value* typed = original.Find("typedResult");
  bool check_only = original.Find("checkOnly") != nullptr;
  CelOptions options;
  if (const json::Value* c = original.Find("container")) options.container = std::string(c->string());
  Arena arena;
  Activation act;
  std::vector<std::string> names;
  if (const json::Value* b = original.Find("bindings")) {
    names.reserve(b->size());
    for (const auto& m : b->object()) {
      Value v;
      std::string why;
      if (!FromExprValue(*m.value.Find("value"), &arena, &v, &why)) {
        o.detail = "binding: " + why;
        return o;
      }
      names.emplace_back(m.key);
      act.BindValue(names.back(), v);
    }
  }
  auto program = Compile(expr, options);
  bool want_error = original.Find("evalError") != nullptr;
  if (!program.ok()) {
    o.pass = want_error;
    o.detail = "compile error: " + program.status().message();
    return o;
  }
  if (typed != nullptr) {
    TypeEnv env;
    CelType want_type;
    if (!FromTypeEnv(original.Find("typeEnv"), &env) || !FromExprType(*typed->Find("deducedType"), &want_type)) {
      o.detail = "typedResult: protobuf types";
      return o;
    }
    auto got_type = DeduceType(**program, env);
    if (!got_type.ok() || got_type->ToString() != want_type.ToString()) {
      o.detail = "deduced type " + (got_type.ok() ? got_type->ToString() : got_type.status().message()) +
                 ", want " + want_type.ToString();
      return o;
    }
    if (check_only || typed->Find("result") == nullptr) {
      o.pass = true;
      return o;
    }
  } else if (check_only) {
    o.detail = "checkOnly without typedResult";
    return o;
  }
  EvalContext ctx;
  Value got = Evaluate(**program, act, &ctx);
  if (want_error) {
    o.pass = got.is_error();
    o.detail = "want error, got " + Describe(got);
    return o;
  }
  Value want = Value::Bool(true);
  const json::Value* wv = typed != nullptr ? typed->Find("result") : original.Find("value");
  if (wv != nullptr) {
    std::string why;
    if (!FromExprValue(*wv, &arena, &want, &why)) {
      o.detail = "expected value: " + why;
      return o;
    }
  }
  o.pass = SameValue(got, want);
  if (!o.pass) o.detail = "want " + Describe(want) + ", got " + Describe(got);
  return o;
}

struct Counts {
  int pass = 0, fail = 0, proto_pass = 0, proto_fail = 0;
};

TEST(CelConformance, Suites) {
  auto cls_doc = json::Parse(ReadFile(kDir + "classification.json"));
  ASSERT_TRUE(cls_doc.ok()) << cls_doc.status().ToString();
  // Expected failures: "<file>/<section>/<index>\t<name>\t<reason>" per line.
  std::map<std::string, std::string> expected;
  {
    std::ifstream f(std::string(EC_SOURCE_DIR) + "/tests/cel/conformance_expected_failures.txt");
    std::string line;
    while (std::getline(f, line)) {
      if (line.empty() || line[0] == '#') continue;
      size_t tab = line.find('\t');
      expected[line.substr(0, tab)] = tab == std::string::npos ? "" : line.substr(tab + 1);
    }
  }
  std::map<std::string, std::unique_ptr<json::Document>> suites;
  std::map<std::string, Counts> per_suite;
  Counts total;
  std::vector<std::string> regressions, fixed, failures_list;
  bool list_all = std::getenv("EC_CEL_CONFORMANCE_LIST") != nullptr;
  for (const json::Value& t : cls_doc.value()->root().Find("tests")->array()) {
    std::string file(t.Find("file")->string());
    std::string section(t.Find("section")->string());
    int index = static_cast<int>(t.Find("index")->number());
    std::string name(t.Find("name")->string());
    bool is_json = t.Find("class")->string() == "json";
    if (!suites.count(file)) {
      auto d = json::Parse(WidenBigIntegers(ReadFile(kDir + file)));
      ASSERT_TRUE(d.ok()) << file << ": " << d.status().ToString();
      suites[file] = std::move(d).value();
    }
    const json::Value* test = nullptr;
    for (const json::Value& s : suites[file]->root().Find("suites")->array()) {
      if (s.Find("name")->string() == section) test = s.Find("tests")->At(index);
    }
    ASSERT_NE(test, nullptr) << file << "/" << section << "/" << index;
    Outcome o = RunTest(*test->Find("original"));
    std::string id = file.substr(0, file.size() - 5) + "/" + section + "/" + std::to_string(index);
    Counts& c = per_suite[file];
    if (is_json) {
      (o.pass ? c.pass : c.fail)++;
      (o.pass ? total.pass : total.fail)++;
      bool listed = expected.count(id) > 0;
      if (!o.pass) failures_list.push_back(id + "\t" + name + "\t" + o.detail);
      if (!o.pass && !listed) regressions.push_back(id + " (" + name + "): " + o.detail);
      if (o.pass && listed) fixed.push_back(id + " (" + name + ")");
    } else {
      (o.pass ? c.proto_pass : c.proto_fail)++;
      (o.pass ? total.proto_pass : total.proto_fail)++;
    }
  }
  for (const auto& [file, c] : per_suite) {
    std::printf("%-22s json: %4d pass %3d fail | proto (not required): %3d pass %3d fail\n", file.c_str(), c.pass,
                c.fail, c.proto_pass, c.proto_fail);
  }
  if (list_all)
    for (const auto& f : failures_list) std::printf("FAIL %s\n", f.c_str());
  for (const auto& r : regressions) std::printf("UNEXPECTED FAILURE %s\n", r.c_str());
  for (const auto& f : fixed) std::printf("NOW PASSES (remove from expected failures) %s\n", f.c_str());
  std::printf("proto-class: %d passed, %d failed (reported, not required)\n", total.proto_pass, total.proto_fail);
  std::printf("json-class: %.1f%% pass\n", 100.0 * total.pass / std::max(1, total.pass + total.fail));
  std::printf("%d passed, %d failed\n", total.pass, total.fail);
  EXPECT_TRUE(regressions.empty()) << regressions.size() << " json-class tests fail that are not in conformance_expected_failures.txt";
  EXPECT_TRUE(fixed.empty()) << fixed.size() << " tests in conformance_expected_failures.txt now pass; remove them";
  EXPECT_EQ(total.pass + total.fail, 1651);
}

}  // namespace
}  // namespace ec::cel
