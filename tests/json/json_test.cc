#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "json/builder.h"
#include "json/reference_quote.h"
#include "json/document.h"
#include "json/writer.h"

namespace ec::json {
namespace {

std::string Js(double d) {
  std::string s;
  AppendJsNumber(d, &s);
  return s;
}

TEST(JsNumber, MatchesJavaScriptToString) {
  EXPECT_EQ(Js(25.0), "25");
  EXPECT_EQ(Js(-0.0), "0");
  EXPECT_EQ(Js(0.1), "0.1");
  EXPECT_EQ(Js(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(Js(1e21), "1e+21");
  EXPECT_EQ(Js(1e20), "100000000000000000000");
  EXPECT_EQ(Js(123456789012345680000.0), "123456789012345680000");
  EXPECT_EQ(Js(1.5e-7), "1.5e-7");
  EXPECT_EQ(Js(0.000001), "0.000001");
  EXPECT_EQ(Js(5.7133839564458575e+262), "5.7133839564458575e+262");
  EXPECT_EQ(Js(-12.5), "-12.5");
  EXPECT_EQ(Js(6e-23), "6e-23");
}

TEST(Parse, BuildsTreeAndKeepsOrder) {
  auto doc = Parse(R"({"b": 1, "a": [true, null, "x\n"], "c": {"d": 2.5}})");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  const Value& root = (*doc)->root();
  ASSERT_TRUE(root.is_object());
  EXPECT_EQ(root.object()[0].key, "b");
  EXPECT_EQ(root.Find("c")->Find("d")->number(), 2.5);
  EXPECT_EQ(root.Find("a")->At(2)->string(), "x\n");
  EXPECT_EQ(root.Find("zz"), nullptr);
  EXPECT_EQ(ToJson(root), R"({"b":1,"a":[true,null,"x\n"],"c":{"d":2.5}})");
}

TEST(Parse, DuplicateKeysLastValueFirstPosition) {
  auto doc = Parse(R"({"a": 1, "b": 2, "a": 3})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(ToJson((*doc)->root()), R"({"a":3,"b":2})");
}

TEST(Parse, LargeObjectsUseIndexedLookup) {
  std::string text = "{";
  for (int i = 0; i < 100; ++i) text += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":" + std::to_string(i);
  text += ",\"k7\":700}";
  auto doc = Parse(text);
  ASSERT_TRUE(doc.ok());
  const Value& root = (*doc)->root();
  EXPECT_EQ(root.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    const Value* v = root.Find("k" + std::to_string(i));
    ASSERT_NE(v, nullptr) << i;
    EXPECT_EQ(v->number(), i == 7 ? 700 : i);
  }
  EXPECT_EQ(root.Find("k100"), nullptr);
}

TEST(Parse, ErrorsNameLineAndColumn) {
  auto doc = Parse("{\n  \"a\": 1,\n  \"b\": tru\n}");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), ErrorCode::kParseError);
  EXPECT_NE(doc.status().message().find("line 3, column 8"), std::string::npos) << doc.status().message();
}

TEST(Parse, DeepNestingIsALimitNotACrash) {
  std::string text(100000, '[');
  text += std::string(100000, ']');
  auto doc = Parse(text);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), ErrorCode::kLimitExceeded);
  auto shallow = Parse("[[[[1]]]]", ParseOptions{.max_depth = 3});
  EXPECT_EQ(shallow.status().code(), ErrorCode::kLimitExceeded);
}

TEST(Equal, ObjectsIgnoreOrderNumbersByValue) {
  auto a = Parse(R"({"x": [1, 2.0], "y": {"z": null}})");
  auto b = Parse(R"({"y": {"z": null}, "x": [1.0, 2]})");
  EXPECT_TRUE(Equal((*a)->root(), (*b)->root()));
  auto c = Parse(R"({"y": {"z": false}, "x": [1.0, 2]})");
  EXPECT_FALSE(Equal((*a)->root(), (*c)->root()));
}

TEST(Quote, EscapesLikeJsonStringify) {
  std::string s;
  AppendQuoted(std::string("a\"\\\x01\t\xc3\xa9", 7), &s);
  EXPECT_EQ(s, "\"a\\\"\\\\\\u0001\\t\xc3\xa9\"");
}

TEST(Quote, CopiesRunsAndEscapesAtRunBoundaries) {
  std::string s = "x";  // appends, keeps what is there
  AppendQuoted("plain text", &s);
  EXPECT_EQ(s, "x\"plain text\"");
  s.clear();
  AppendQuoted(std::string_view("\n\x1f" "ab" "\"", 5), &s);
  EXPECT_EQ(s, "\"\\n\\u001fab\\\"\"");
  // U+D55C (a Hangul syllable, starts with 0xED) is copied; a lone surrogate (0xED 0xA0..) is escaped.
  s.clear();
  AppendQuoted("a\xed\x95\x9c" "b\xed\xa0\x80" "c", &s);
  EXPECT_EQ(s, "\"a\xed\x95\x9c" "b\\ud800c\"");
  s.clear();
  AppendQuoted("", &s);
  EXPECT_EQ(s, "\"\"");
}

// AppendQuoted finds the first byte to escape 16 bytes at a time, then byte by byte: every
// escaped byte at every position of strings of 0-49 bytes (whole blocks, a block and a tail,
// the last byte) is escaped, and nothing else, as a byte-by-byte escaper does.
TEST(Quote, EveryEscapedByteAtEveryPosition) {
  const auto reference = testing::ReferenceQuoted;
  const std::string specials[] = {"\"", "\\", "\n", std::string(1, '\0'), "\x01", "\x1f", "\xed\xa0\x80", "\xed\x95\x9c",
                                  "\x7f", "\x20", "\xff"};
  for (size_t n = 0; n < 50; ++n) {
    const std::string plain(n, 'a');
    std::string s = "x";
    AppendQuoted(plain, &s);
    EXPECT_EQ(s, "x" + reference(plain)) << n;
    for (const std::string& sp : specials) {
      for (size_t at = 0; at <= n; ++at) {
        const std::string in = plain.substr(0, at) + sp + plain.substr(at);
        s.clear();
        AppendQuoted(in, &s);
        ASSERT_EQ(s, reference(in)) << n << " " << at << " " << static_cast<int>(static_cast<unsigned char>(sp[0]));
      }
    }
  }
}

}  // namespace
}  // namespace ec::json

namespace ec::json {
namespace {

TEST(Parse, IntegersBeyond64BitsAreDoubles) {
  auto doc = Parse(R"({"a": 18446744073709552000, "b": [-123456789012345678901234], "s": "99999999999999999999999"})");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_EQ((*doc)->root().Find("a")->number(), 18446744073709552000.0);
  EXPECT_EQ((*doc)->root().Find("b")->At(0)->number(), -123456789012345678901234.0);
  EXPECT_EQ((*doc)->root().Find("s")->string(), "99999999999999999999999");
  EXPECT_FALSE(Parse("[1.2.3]").ok());
}

}  // namespace
}  // namespace ec::json

namespace ec::json {
namespace {

// Containers inside containers keep their own members and order (the converter's shared
// stacks), duplicate keys resolve per object, and a parse that fails deep inside leaves nothing
// behind for the next one.
TEST(Parse, NestedContainersAndAFailedParseBetween) {
  const std::string text =
      R"({"a":[{"x":1,"y":[2,{"z":[],"w":{}}],"x":3},[],[[4],[5,6]]],"b":{"c":{"d":"e","c":null},"f":[7]},)"
      R"("g":"h","a2":{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":[12],"k0":-1}})";
  const std::string want =
      R"({"a":[{"x":3,"y":[2,{"z":[],"w":{}}]},[],[[4],[5,6]]],"b":{"c":{"d":"e","c":null},"f":[7]},)"
      R"("g":"h","a2":{"k0":-1,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":[12]}})";
  for (int round = 0; round < 2; ++round) {
    auto doc = Parse(text);
    ASSERT_TRUE(doc.ok()) << doc.status().ToString();
    std::string out;
    AppendJson((*doc)->root(), &out);
    EXPECT_EQ(out, want);
    EXPECT_EQ((*doc)->root().Find("a2")->Find("k12")->At(0)->number(), 12);
    // Too deep at the innermost array: fails half way through the tree.
    ParseOptions shallow;
    shallow.max_depth = 3;
    EXPECT_FALSE(Parse(text, shallow).ok());
  }
}

}  // namespace
}  // namespace ec::json
