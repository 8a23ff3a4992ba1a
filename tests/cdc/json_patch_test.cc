// RFC 6902 Appendix A examples through ApplyPatch, and Diff checked by applying its result.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "json/builder.h"

#include "cdc/json_patch.h"
#include "json/document.h"
#include "json/writer.h"

namespace ec::cdc {
namespace {

json::Value P(std::string_view text, Arena* arena) {
  json::Value v;
  EXPECT_TRUE(json::ParseInto(text, arena, &v).ok()) << text;
  return v;
}

struct Case {
  const char* name;
  const char* doc;
  const char* patch;
  const char* result;  // nullptr: the patch must fail
};

TEST(JsonPatch, Rfc6902AppendixA) {
  const Case cases[] = {
      {"A.1 add object member", R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])",
       R"({"baz":"qux","foo":"bar"})"},
      {"A.2 add array element", R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])",
       R"({"foo":["bar","qux","baz"]})"},
      {"A.3 remove object member", R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])",
       R"({"foo":"bar"})"},
      {"A.4 remove array element", R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])",
       R"({"foo":["bar","baz"]})"},
      {"A.5 replace", R"({"baz":"qux","foo":"bar"})", R"([{"op":"replace","path":"/baz","value":"boo"}])",
       R"({"baz":"boo","foo":"bar"})"},
      {"A.6 move value", R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
       R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
       R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
      {"A.7 move array element", R"({"foo":["all","grass","cows","eat"]})",
       R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])", R"({"foo":["all","cows","eat","grass"]})"},
      {"A.8 test success", R"({"baz":"qux","foo":["a",2,"c"]})",
       R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])",
       R"({"baz":"qux","foo":["a",2,"c"]})"},
      {"A.9 test error", R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])", nullptr},
      {"A.10 add nested member", R"({"foo":"bar"})", R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
       R"({"foo":"bar","child":{"grandchild":{}}})"},
      {"A.11 ignore unrecognized members", R"({"foo":"bar"})",
       R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])", R"({"foo":"bar","baz":"qux"})"},
      {"A.12 add to a nonexistent target", R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])",
       nullptr},
      {"A.14 ~ escape ordering", R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])",
       R"({"/":9,"~1":10})"},
      {"A.15 string is not number", R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])", nullptr},
      {"A.16 add array value", R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])",
       R"({"foo":["bar",["abc","def"]]})"},
      {"copy", R"({"a":{"b":1}})", R"([{"op":"copy","from":"/a","path":"/c"}])", R"({"a":{"b":1},"c":{"b":1}})"},
      {"replace root", R"({"a":1})", R"([{"op":"replace","path":"","value":[1]}])", R"([1])"},
      {"remove missing", R"({"a":1})", R"([{"op":"remove","path":"/b"}])", nullptr},
      {"index with leading zero", R"({"a":[1,2]})", R"([{"op":"remove","path":"/a/01"}])", nullptr},
      {"index past the end", R"({"a":[1,2]})", R"([{"op":"add","path":"/a/3","value":0}])", nullptr},
      {"move into own child", R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])", nullptr},
      {"unknown op", R"({})", R"([{"op":"frobnicate","path":"/a"}])", nullptr},
  };
  for (const Case& c : cases) {
    Arena arena;
    Result<json::Value> got = ApplyPatch(P(c.doc, &arena), P(c.patch, &arena), &arena);
    if (c.result == nullptr) {
      EXPECT_FALSE(got.ok()) << c.name << " gave " << json::ToJson(*got);
      continue;
    }
    ASSERT_TRUE(got.ok()) << c.name << ": " << got.status().message();
    EXPECT_TRUE(json::Equal(*got, P(c.result, &arena))) << c.name << ": got " << json::ToJson(*got);
  }
}

TEST(JsonPatch, DiffOfContractExample) {
  Arena arena;
  json::Value d = Diff(P(R"({"id":"o-1001","status":"placed"})", &arena),
                       P(R"({"id":"o-1001","status":"shipped"})", &arena), &arena);
  EXPECT_EQ(json::ToJson(d), R"([{"op":"replace","path":"/status","value":"shipped"}])");
}

TEST(JsonPatch, DiffEscapesAndOrders) {
  Arena arena;
  json::Value d = Diff(P(R"({"a/b":1,"c~d":2,"keep":true})", &arena), P(R"({"keep":true,"c~d":3,"new":null})", &arena),
                       &arena);
  EXPECT_EQ(json::ToJson(d),
            R"([{"op":"remove","path":"/a~1b"},{"op":"replace","path":"/c~0d","value":3},)"
            R"({"op":"add","path":"/new","value":null}])");
  EXPECT_EQ(json::ToJson(Diff(P("[1,2]", &arena), P("[1,2]", &arena), &arena)), "[]");
  EXPECT_EQ(json::ToJson(Diff(P("null", &arena), P(R"({"a":1})", &arena), &arena)),
            R"([{"op":"replace","path":"","value":{"a":1}}])");
}

// Apply(before, Diff(before, after)) == after over many pairs of documents.
TEST(JsonPatch, DiffRoundTrips) {
  const char* docs[] = {
      "null", "1", "\"s\"", "[]", "{}", "[1,2,3]", "[1,[2,3],{\"x\":1}]", "[3,2]",
      R"({"a":1,"b":[1,2,{"c":null}],"d":{"e":{"f":"g"}}})",
      R"({"a":2,"b":[1,2,{"c":false}],"d":{"e":{}},"z":0})",
      R"({"b":[1,2],"d":{"e":{"f":"g","h":[]}},"~/":{"/~":1}})",
      R"({"~/":{"/~":2},"a":{"b":{"c":{"d":[1,{"e":[2]}]}}}})",
  };
  for (const char* a : docs) {
    for (const char* z : docs) {
      Arena arena;
      json::Value before = P(a, &arena), after = P(z, &arena);
      json::Value patch = Diff(before, after, &arena);
      Result<json::Value> got = ApplyPatch(before, patch, &arena);
      ASSERT_TRUE(got.ok()) << a << " -> " << z << ": " << got.status().message();
      EXPECT_TRUE(json::Equal(*got, after)) << a << " -> " << z << " via " << json::ToJson(patch);
    }
  }
}

}  // namespace
}  // namespace ec::cdc

namespace ec::cdc {
namespace {

// Random documents (fixed seed): Apply(a, Diff(a, b)) == b, and Diff(a, a) == [].
json::Value RandomValue(std::mt19937& rng, int depth, json::Builder& b) {
  static const char* kKeys[] = {"a", "b", "c/d", "e~f", "", "0", "-"};
  // The root is an object (a domain object) most of the time; leaves get likelier deeper down.
  int kind = depth == 0 && rng() % 4 != 0 ? 5 : static_cast<int>(rng() % (depth > 3 ? 4 : 6));
  switch (kind) {
    case 0: return json::Value::Null();
    case 1: return json::Value::Bool(rng() % 2 == 0);
    case 2: return json::Value::Number(static_cast<double>(rng() % 5));
    case 3: return b.String(kKeys[rng() % 7]);
    case 4: {
      std::vector<json::Value> elems(rng() % 4);
      for (auto& e : elems) e = RandomValue(rng, depth + 1, b);
      return b.Array(elems);
    }
    default: {
      std::vector<json::Member> members;
      for (size_t i = 0, n = rng() % 6; i < n; ++i) members.push_back({kKeys[rng() % 7], RandomValue(rng, depth + 1, b)});
      return b.Object(members, true);
    }
  }
}

// The walk as it was before equal members were skipped ahead of their tokens: every member
// and element got its pointer token, then the compare. AppendDiff must write the same text.
void ReferenceDiff(const json::Value& a, const json::Value& z, std::string* path, std::string* out, bool* first) {
  auto emit = [&](std::string_view op, const json::Value* value) {
    *out += *first ? "{\"op\":\"" : ",{\"op\":\"";
    *first = false;
    *out += op;
    *out += "\",\"path\":";
    json::AppendQuoted(*path, out);
    if (value != nullptr) {
      *out += ",\"value\":";
      json::AppendJson(*value, out);
    }
    *out += '}';
  };
  auto token = [&](std::string_view t) {
    *path += '/';
    for (char c : t) *path += c == '~' ? std::string("~0") : c == '/' ? std::string("~1") : std::string(1, c);
  };
  if (json::Equal(a, z)) return;
  size_t mark = path->size();
  if (a.is_object() && z.is_object()) {
    for (const json::Member& m : a.object()) {
      token(m.key);
      const json::Value* other = z.Find(m.key);
      if (other == nullptr) emit("remove", nullptr);
      else ReferenceDiff(m.value, *other, path, out, first);
      path->resize(mark);
    }
    for (const json::Member& m : z.object()) {
      if (a.Find(m.key) != nullptr) continue;
      token(m.key);
      emit("add", &m.value);
      path->resize(mark);
    }
    return;
  }
  if (a.is_array() && z.is_array() && a.size() == z.size()) {
    for (size_t i = 0; i < a.size(); ++i) {
      token(std::to_string(i));
      ReferenceDiff(a.array()[i], z.array()[i], path, out, first);
      path->resize(mark);
    }
    return;
  }
  emit("replace", &z);
}

// The shapes the changelog stage writes most: a create (from null), a delete (to null), an
// update that keeps the member order, one that adds a member, one that reorders them. Each
// against the reference walk and the Value form, with and without after's text.
TEST(JsonPatch, ChangelogShapesWriteWhatTheReferenceWrites) {
  const char* kOrder = R"({"customer":{"id":"c-1"},"items":[{"sku":"D4","price":0.5,"qty":2}],"currency":"EUR","id":"o-9","status":"placed"})";
  const char* kShipped = R"({"customer":{"id":"c-1"},"items":[{"sku":"D4","price":0.5,"qty":2}],"currency":"EUR","id":"o-9","status":"shipped","shipping":{"carrier":"dhl","tracking":"T1"}})";
  const char* kReshipped = R"({"customer":{"id":"c-1"},"items":[{"sku":"D4","price":0.5,"qty":2}],"currency":"EUR","id":"o-9","status":"shipped","shipping":{"carrier":"ups","tracking":"T2"}})";
  const char* kPaid = R"({"customer":{"id":"c-1"},"items":[{"sku":"D4","price":0.5,"qty":2}],"currency":"EUR","id":"o-9","status":"paid"})";
  const char* kReordered = R"({"status":"paid","id":"o-9","currency":"EUR","items":[{"sku":"D4","price":0.5,"qty":2}],"customer":{"id":"c-1"}})";
  const char* kFewer = R"({"id":"o-9","status":"paid"})";
  const char* docs[] = {"null", kOrder, kShipped, kReshipped, kPaid, kReordered, kFewer, "[]", "3", "\"x\"", "{}"};
  for (const char* a : docs) {
    for (const char* z : docs) {
      Arena arena;
      json::Value before = P(a, &arena), after = P(z, &arena);
      std::string text, with_after, reference = "[", path;
      AppendDiff(before, after, "", &text);
      AppendDiff(before, after, json::ToJson(after), &with_after);
      bool first = true;
      ReferenceDiff(before, after, &path, &reference, &first);
      reference += ']';
      EXPECT_EQ(text, reference) << a << " -> " << z;
      EXPECT_EQ(with_after, reference) << a << " -> " << z;
      EXPECT_EQ(text, json::ToJson(Diff(before, after, &arena))) << a << " -> " << z;
    }
  }
  Arena arena;
  std::string create, del;
  AppendDiff(json::Value(), P(kFewer, &arena), R"({"id":"o-9","status":"paid"})", &create);
  EXPECT_EQ(create, R"([{"op":"replace","path":"","value":{"id":"o-9","status":"paid"}}])");
  AppendDiff(json::Value::Bool(true), json::Value(), "", &del);
  EXPECT_EQ(del, R"([{"op":"replace","path":"","value":null}])");
}

TEST(JsonPatch, RandomDocumentsRoundTrip) {
  std::mt19937 rng(20261127);
  int multi_op = 0;  // patches with several operations: the documents are not trivial
  for (int i = 0; i < 20000; ++i) {
    Arena arena;
    json::Builder b(&arena);
    json::Value a = RandomValue(rng, 0, b), z = RandomValue(rng, 0, b);
    json::Value patch = Diff(a, z, &arena);
    multi_op += patch.size() > 1;
    Result<json::Value> got = ApplyPatch(a, patch, &arena);
    ASSERT_TRUE(got.ok()) << json::ToJson(a) << " -> " << json::ToJson(z) << ": " << got.status().message();
    ASSERT_TRUE(json::Equal(*got, z)) << json::ToJson(a) << " -> " << json::ToJson(z);
    ASSERT_EQ(Diff(a, a, &arena).size(), 0u) << json::ToJson(a);
    // The text form writes what AppendJson of the Value form writes, with or without the
    // caller's text of `after` (copied where the whole document is replaced).
    std::string text, with_after;
    AppendDiff(a, z, "", &text);
    AppendDiff(a, z, json::ToJson(z), &with_after);
    ASSERT_EQ(text, json::ToJson(patch)) << json::ToJson(a) << " -> " << json::ToJson(z);
    ASSERT_EQ(with_after, text) << json::ToJson(a) << " -> " << json::ToJson(z);
    std::string reference = "[", path;
    bool first = true;
    ReferenceDiff(a, z, &path, &reference, &first);
    reference += ']';
    ASSERT_EQ(text, reference) << json::ToJson(a) << " -> " << json::ToJson(z);
  }
  EXPECT_GT(multi_op, 5000);
}

}  // namespace
}  // namespace ec::cdc
