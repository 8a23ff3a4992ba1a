// ParseCompactInto must give exactly ParseInto's Value (numbers bit for bit, strings, member
// order, duplicate keys) for everything it accepts, and decline what it is not sure of.
#include "json/compact_parser.h"

#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <iterator>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "json/builder.h"
#include "json/document.h"
#include "json/writer.h"

namespace ec::json {
namespace {

// Why two trees differ ("" when they are the same).
std::string Diff(const Value& a, const Value& b, const std::string& at = "$") {
  if (a.kind() != b.kind()) return at + ": kind " + std::string(KindName(a.kind())) + " vs " + std::string(KindName(b.kind()));
  switch (a.kind()) {
    case Kind::kNull: return "";
    case Kind::kBool: return a.bool_value() == b.bool_value() ? "" : at + ": bool";
    case Kind::kNumber:
      return std::bit_cast<uint64_t>(a.number()) == std::bit_cast<uint64_t>(b.number())
                 ? ""
                 : at + ": number " + std::to_string(a.number()) + " vs " + std::to_string(b.number());
    case Kind::kString: return a.string() == b.string() ? "" : at + ": string";
    case Kind::kArray: {
      if (a.size() != b.size()) return at + ": array size";
      for (size_t i = 0; i < a.size(); ++i) {
        std::string d = Diff(*a.At(i), *b.At(i), at + "[" + std::to_string(i) + "]");
        if (!d.empty()) return d;
      }
      return "";
    }
    case Kind::kObject: {
      if (a.size() != b.size()) return at + ": object size";
      for (size_t i = 0; i < a.size(); ++i) {
        const Member& ma = a.object()[i];
        const Member& mb = b.object()[i];
        if (ma.key != mb.key) return at + ": key " + std::string(ma.key) + " vs " + std::string(mb.key);
        std::string d = Diff(ma.value, mb.value, at + "." + std::string(ma.key));
        if (!d.empty()) return d;
        const Value* found = a.Find(ma.key);
        if (found == nullptr || !Diff(*found, ma.value).empty()) return at + ": Find(" + std::string(ma.key) + ")";
      }
      return "";
    }
  }
  return "?";
}

// A copy of `v` built without texts (Value::known_text), so AppendJson writes it member by
// member.
Value PlainCopy(const Value& v, Builder& b) {
  if (v.is_array()) {
    std::vector<Value> elems;
    for (const Value& e : v.array()) elems.push_back(PlainCopy(e, b));
    return b.Array(elems);
  }
  if (v.is_object()) {
    std::vector<Member> members;
    for (const Member& m : v.object()) members.push_back({m.key, PlainCopy(m.value, b)});
    return b.Object(members);
  }
  return v;
}

// Every array and object that carries a text carries what AppendJson writes for it.
std::string TextMismatch(const Value& v, const std::string& at = "$") {
  if (v.has_known_text()) {
    Arena arena;
    Builder b(&arena);
    std::string plain;
    AppendJson(PlainCopy(v, b), &plain);
    if (plain != v.known_text()) return at + ": known text " + std::string(v.known_text()) + " vs " + plain;
  }
  for (size_t i = 0; i < v.array().size(); ++i) {
    std::string d = TextMismatch(v.array()[i], at + "[" + std::to_string(i) + "]");
    if (!d.empty()) return d;
  }
  for (const Member& m : v.object()) {
    std::string d = TextMismatch(m.value, at + "." + std::string(m.key));
    if (!d.empty()) return d;
  }
  return "";
}

// Both parsers on `text`: where ParseInto fails the compact parser must decline (the caller
// then reports ParseInto's error); otherwise it must accept `text` (when `must_accept`) and
// agree with ParseInto.
void ExpectSame(std::string_view text, bool must_accept = true, uint32_t max_depth = 64) {
  Arena a1, a2;
  Value slow, fast;
  ParseOptions po;
  po.max_depth = max_depth;
  const bool slow_ok = ParseInto(text, &a1, &slow, po).ok();
  const bool fast_ok = ParseCompactInto(text, &a2, &fast, max_depth);
  if (!slow_ok) {
    EXPECT_FALSE(fast_ok) << text;
    return;
  }
  if (must_accept) {
    EXPECT_TRUE(fast_ok) << text;
  }
  if (fast_ok) {
    EXPECT_EQ(Diff(slow, fast), "") << text;
    EXPECT_EQ(TextMismatch(fast), "") << text;
  }
}

TEST(CompactParserTest, AgreesWithParseInto) {
  const char* docs[] = {
      "null", "true", "false", "0", "-0", "0.0", "-0.0", "1", "-1", "123456789012345678", "-123456789012345678",
      "1234567890123456789", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
      "18446744073709551615", "18446744073709551616", "-9223372036854775809", "123456789012345678901234567890",
      "9007199254740993", "1.5", "-2.25e-3", "1e21", "1E+21", "1e-7", "5e-324", "1.7976931348623157e308",
      "0.1", "3.141592653589793238462643383279", "2.2250738585072011e-308", "1e0", "10e-1",
      R"("")", R"("abc")", R"("a\"b\\c\/d\b\f\n\r\t")", R"("\u0000\u001f\u0041\u00e9\u20ac\ud83d\ude00")",
      "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", R"({})", R"([])", R"([[],{},[[]]])",
      R"({"a":1,"b":[1,2,{"c":null}],"d":"x"})", R"({"a":1,"a":2,"b":3,"a":4})",
      R"({"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k3":33})",
      " { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : true } ", R"({"":"empty key","\u00e9":"escaped key"})",
      R"({"id":"x0123","time":"2026-11-27T10:15:30.123Z","latency_ms":12.5,"request":{"method":"GET","path":"/api/orders/o-1","query":{"a":["1","2"]},"headers":{"host":"shop.example.com"},"body":null},"response":{"status":200,"headers":{},"body":{"id":"o-1","total":12.99,"items":[{"sku":"s-1","qty":2}]}}})",
  };
  for (const char* d : docs) ExpectSame(d);
}

// Members' and elements' integers of one to three digits are read inline (ParseChild), the
// rest by ParseNumber: every integer of up to five digits, with a sign, a leading zero, a
// fraction, an exponent or a bad byte after it, as a member, an element, before every byte
// that can end it (and whitespace), agrees with ParseInto: accepted where ParseInto accepts it.
TEST(CompactParserTest, ShortIntegersInlineAreParseNumbers) {
  const char* tails[] = {"", ".5", ".0", "e2", "E-1", "e", ".", "x", "-", "0"};
  for (int v = 0; v < 100000; v += (v < 2000 ? 1 : 37)) {
    const std::string digits = std::to_string(v);
    for (const char* tail : tails) {
      if (v % 7 != 0 && tail[0] != '\0') continue;  // every tail on a seventh of the values
      for (const std::string& number : {digits + tail, "-" + digits + tail, "0" + digits + tail}) {
        ExpectSame("{\"n\":" + number + "}");
        ExpectSame("[" + number + "]");
        ExpectSame("[" + number + "," + number + "]");
        ExpectSame("{\"a\":[" + number + " ],\"n\":" + number + " }");
        ExpectSame("{\"a\":{\"n\":" + number + "\n},\"b\":" + number + "\t}");
      }
    }
  }
  // Accepted where they are JSON, with the value ParseInto gives.
  for (const char* ok : {R"({"n":1})", R"([9,99,999,1000])", R"({"s":201,"q":[4,10,100]})"}) ExpectSame(ok);
  // The text ends right after the digits (the copy's padding follows them).
  for (const char* cut : {R"({"n":1)", R"([12)", R"({"n":123)", R"([1234)"}) ExpectSame(cut, false);
}

// AppendJson writes negative integers of 19 digits below -2^63 (-9.914777326966786e18 prints as
// -9914777326966786000), which simdjson alone refuses: ParseInto widens them to doubles, as
// JSON.parse reads them, and the compact parser accepts them with the same value.
TEST(CompactParserTest, NegativeIntegersBelowInt64AreDoubles) {
  struct Case {
    const char* text;
    double value;
    const char* written;  // AppendJson's (JSON.stringify's) spelling of the value
  };
  for (const Case& c : {Case{"-9223372036854775809", -9223372036854775808.0, "-9223372036854776000"},
                        Case{"-9914777326966786000", -9.914777326966786e18, "-9914777326966786000"},
                        Case{"-9999999999999999999", -1e19, "-10000000000000000000"}}) {
    Arena arena;
    Value v;
    ASSERT_TRUE(ParseInto(c.text, &arena, &v).ok()) << c.text;
    EXPECT_EQ(std::bit_cast<uint64_t>(v.number()), std::bit_cast<uint64_t>(c.value)) << c.text;
    ExpectSame(c.text);
    std::string written;
    AppendJson(v, &written);
    EXPECT_EQ(written, c.written);
  }
  for (const char* d : {"[1,-9999999999999999999]", R"({"a":-9914777326966786000,"b":[-9223372036854775809]})",
                        "-9223372036854775808", "-10000000000000000000", "9999999999999999999",
                        "-1000000000000000000"}) {
    ExpectSame(d);
  }
  // Beside a literal that is widened, the digits of an exponent are left alone ("1e-...9.0"
  // would not parse): JSON.parse reads [-9914777326966786000, -1e-9223372036854775809] too.
  Arena arena;
  Value v;
  ASSERT_TRUE(ParseInto("[-9914777326966786000,1e-9223372036854775809,2E+0000000000000000001]", &arena, &v).ok());
  ASSERT_EQ(v.array().size(), 3u);
  EXPECT_EQ(v.array()[0].number(), -9.914777326966786e18);
  EXPECT_EQ(v.array()[1].number(), 0.0);
  EXPECT_EQ(v.array()[2].number(), 20.0);
}

// Decimals of up to 15 digits take a fast path (digits / 10^k): the value must be from_chars's
// (and ParseInto's) bit for bit, at the edges of the path too.
TEST(CompactParserTest, ShortDecimalsAreCorrectlyRounded) {
  for (const char* d : {"12.9", "-12.9", "620.0", "0.1", "0.3", "-0.0", "0.000000000000001", "99999999999999.9",
                        "999999999999999.9", "9007199254740.993", "123456789012.345", "1.0000000000000002",
                        "4.35", "0.07", "-1.5e2", "2.675", "1.005"}) {
    ExpectSame(d);
  }
  std::mt19937_64 rng(20261128);
  for (int i = 0; i < 20000; ++i) {
    const int digits = 1 + static_cast<int>(rng() % 17);
    const int frac = 1 + static_cast<int>(rng() % digits);
    std::string text = (rng() & 1) ? "-" : "";
    std::string ds;
    for (int k = 0; k < digits; ++k) ds += static_cast<char>('0' + rng() % 10);
    std::string int_part = ds.substr(0, digits - frac);
    // No leading zeros (JSON): "007" -> "7", "000" -> "0".
    int_part = int_part.empty() ? "0" : int_part.substr(std::min(int_part.find_first_not_of('0'), int_part.size() - 1));
    text += int_part + "." + ds.substr(digits - frac);
    double want = 0;
    std::from_chars(text.data(), text.data() + text.size(), want);
    Arena arena;
    Value v;
    ASSERT_TRUE(ParseCompactInto(text, &arena, &v, 64)) << text;
    ASSERT_EQ(std::bit_cast<uint64_t>(v.number()), std::bit_cast<uint64_t>(want)) << text;
    ExpectSame(text);
  }
}

TEST(CompactParserTest, GeneratedNumberLiteralsAgreeWithParseInto) {
  // Number literals of every shape the one-pass digit loop meets: 1-21 integer digits (the
  // 18-digit integer limit, the 15-digit decimal limit, values that wrap 64 bits), leading
  // zeros, 0-7 fraction digits ending in zero or not, signs and exponents, alone and inside
  // an array and an object (their texts kept or not as AppendJson would write them).
  std::mt19937_64 rng(20261128);
  const char* exps[] = {"", "", "", "e5", "E-3", "e+0", "e400", "e"};
  for (int i = 0; i < 20000; ++i) {
    std::string lit;
    if (rng() % 3 == 0) lit += '-';
    const int n_int = 1 + static_cast<int>(rng() % 21);
    for (int d = 0; d < n_int; ++d) lit += static_cast<char>('0' + (d == 0 && rng() % 4 != 0 ? 1 + rng() % 9 : rng() % 10));
    const int n_frac = static_cast<int>(rng() % 8);
    if (n_frac > 0 || rng() % 20 == 0) {
      lit += '.';
      for (int d = 0; d < n_frac; ++d) lit += static_cast<char>('0' + rng() % 10);
    }
    lit += exps[rng() % std::size(exps)];
    ExpectSame(lit);  // declined where ParseInto fails, accepted and equal where it does not
    ExpectSame("[" + lit + "," + lit + "]");
    ExpectSame("{\"k\":" + lit + "}");
    if (HasFailure()) break;
  }
}

TEST(CompactParserTest, DeclinesWhatItIsNotSureOf) {
  const char* declined[] = {
      "",        " ",          "nul",       "tru",       "01",        "-",        "1.",       ".5",      "1e",
      "+1",      "[1,]",       "{\"a\":1,}", "{\"a\" 1}", "{a:1}",     "[1 2]",    "\"abc",    "\"a\\x\"", "\"\\u12\"",
      "\"\t\"",  "1e400",      "-1e400",    "[1]x",      "{}{}",      "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
      "\"\xff\"", "\"\xc3\"",  "NaN",       "Infinity",  "'a'",
  };
  for (const char* d : declined) {
    Arena arena;
    Value v;
    EXPECT_FALSE(ParseCompactInto(d, &arena, &v, 64)) << d;
  }
}

TEST(CompactParserTest, InvalidUtf8IsDeclinedWhereverItIs) {
  // A byte >= 0x80 anywhere (any offset from the start, so any position in a 16- or 64-byte
  // step of a SIMD pass over the text, or in its tail): valid multi-byte text is parsed,
  // invalid text declined, as ParseInto does (an ASCII-only shortcut that missed a position
  // fails this).
  for (size_t pad = 0; pad < 40; ++pad) {
    const std::string filler(pad, 'a');
    for (const std::string& bytes : {std::string("\xc3\xa9"), std::string("\xe2\x82\xac"), std::string("\xff"),
                                     std::string("\xc3"), std::string("\xed\xa0\x80")}) {
      const std::string text = "{\"k\":\"" + filler + bytes + "\",\"n\":1}";
      Arena arena;
      Value got, want;
      const bool valid = ParseInto(text, &arena, &want).ok();
      const bool parsed = ParseCompactInto(text, &arena, &got, 64);
      ASSERT_EQ(parsed, valid) << "pad " << pad << " bytes " << bytes.size();
      if (parsed) { EXPECT_EQ(Diff(got, want), ""); }
    }
  }
}

TEST(CompactParserTest, InvalidUtf8IsDeclinedInKeysEscapedStringsAndOutsideStrings) {
  // The UTF-8 check runs only when a string had a non-ASCII byte or an escape: every place
  // such a byte can be (a key, after an escape, after a non-ASCII byte, between tokens) must
  // still decide as ParseInto does. Fails when the check is skipped for any of them.
  const std::vector<std::string> bad = {std::string("\xff"), std::string("\xc3"), std::string("\xed\xa0\x80"),
                             std::string("\xc3\xa9\xff"), std::string("\xe2\x82")};
  const std::vector<std::string> good = {std::string("\xc3\xa9"), std::string("\xe2\x82\xac"), std::string("\xf0\x9f\x98\x80")};
  std::vector<std::string> texts;
  for (size_t pad = 0; pad < 34; pad += 3) {
    const std::string f(pad, 'a');
    for (const auto* set : {&bad, &good}) {
      for (const std::string& b : *set) {
        texts.push_back("{\"" + f + b + "\":1}");                    // a key
        texts.push_back("{\"k\":\"" + f + "\\n" + b + "\"}");     // after an escape
        texts.push_back("{\"k\":\"\\u00e9" + f + b + "\"}");      // after an escaped non-ASCII
        texts.push_back("[\"\xc3\xa9" + f + "\",\"" + b + "\"]");  // after a non-ASCII string
        texts.push_back("[\"" + f + "\"," + b + "]");               // between tokens
        texts.push_back("{\"k\":1}" + b);                            // after the document
        texts.push_back("[1" + b + "]");                              // after a number
      }
    }
  }
  for (const std::string& text : texts) {
    Arena arena;
    Value got, want;
    const bool valid = ParseInto(text, &arena, &want).ok();
    const bool parsed = ParseCompactInto(text, &arena, &got, 64);
    ASSERT_EQ(parsed, valid) << text;
    if (parsed) { EXPECT_EQ(Diff(got, want), "") << text; }
  }
}

TEST(CompactParserTest, DepthLimitDeclines) {
  std::string deep(10, '[');
  deep += std::string(10, ']');
  Arena arena;
  Value v;
  EXPECT_TRUE(ParseCompactInto(deep, &arena, &v, 10));
  EXPECT_FALSE(ParseCompactInto(deep, &arena, &v, 9));  // ParseInto says kLimitExceeded there
  ParseOptions po;
  po.max_depth = 9;
  EXPECT_FALSE(ParseInto(deep, &arena, &v, po).ok());
  po.max_depth = 10;
  EXPECT_TRUE(ParseInto(deep, &arena, &v, po).ok());
  // Beyond its own limit (256) it declines whatever the caller's limit.
  std::string deeper(300, '[');
  deeper += std::string(300, ']');
  EXPECT_FALSE(ParseCompactInto(deeper, &arena, &v, 1000));
}

TEST(CompactParserTest, StringsOutliveTheText) {
  Arena arena;
  Value v;
  {
    std::string text = R"({"a":"plain","b":"esc\naped"})";
    ASSERT_TRUE(ParseCompactInto(text, &arena, &v, 64));
    text.assign(text.size(), 'x');
  }
  EXPECT_EQ(v.Find("a")->string(), "plain");
  EXPECT_EQ(v.Find("b")->string(), "esc\naped");
}

// Arrays and objects of canonical text (AppendJson output) keep it, so writing them again is a
// copy; any spelling AppendJson would not write (whitespace, escapes, number forms, repeated
// keys) leaves the enclosing arrays and objects without it, and they are written as before.
TEST(CompactParserTest, CanonicalTextIsKept) {
  struct Case {
    const char* text;
    bool root_has_text;
  };
  const Case cases[] = {
      {R"({"a":[1,2.5,-3,0,"x",true,null],"b":{"c":0.0625,"d":-12.99},"e":[],"f":{}})", true},
      {R"([123456789012345,0.5,-0.5,999999999.9999,"caf\u00e9"])", false},  // an escape
      {"[\"caf\xc3\xa9\",\"/\"]", true},
      {R"({"a": 1})", false},
      {R"([1.50])", false},
      {R"([1.0])", false},
      {R"([-0])", false},
      {R"([1e3])", false},
      {R"([0.00001])", false},
      {R"([1234567890.5])", false},
      {R"([1234567890123456])", false},
      {R"({"a":"tab\t"})", false},
      {R"({"a":1,"a":2})", false},
  };
  for (const Case& c : cases) {
    ExpectSame(c.text);
    Arena arena;
    Value v;
    ASSERT_TRUE(ParseCompactInto(c.text, &arena, &v, 64)) << c.text;
    EXPECT_EQ(v.has_known_text(), c.root_has_text) << c.text;
    if (c.root_has_text) {
      EXPECT_EQ(v.known_text(), c.text);
    }
    std::string out;
    AppendJson(v, &out);
    Arena plain_arena;
    Builder b(&plain_arena);
    std::string plain;
    AppendJson(PlainCopy(v, b), &plain);
    EXPECT_EQ(out, plain) << c.text;
  }
  // What is canonical inside a value that is not keeps its text.
  Arena arena;
  Value v;
  ASSERT_TRUE(ParseCompactInto(R"({"a":{"b":[1,2]},"c":"\t"})", &arena, &v, 64));
  EXPECT_FALSE(v.has_known_text());
  EXPECT_EQ(v.Find("a")->known_text(), R"({"b":[1,2]})");
  EXPECT_EQ(v.Find("a")->Find("b")->known_text(), "[1,2]");
  // Equal texts say equal at once; objects of other member order still compare equal.
  Value w;
  ASSERT_TRUE(ParseCompactInto(R"({"b":[1,2]})", &arena, &w, 64));
  EXPECT_TRUE(Equal(*v.Find("a"), w));
  Value u;
  ASSERT_TRUE(ParseCompactInto(R"({"x":1,"y":2})", &arena, &u, 64));
  Value z;
  ASSERT_TRUE(ParseCompactInto(R"({"y":2,"x":1})", &arena, &z, 64));
  EXPECT_TRUE(Equal(u, z));
  Value y3;
  ASSERT_TRUE(ParseCompactInto(R"({"y":3,"x":1})", &arena, &y3, 64));
  EXPECT_FALSE(Equal(u, y3));
}

// Random trees written by AppendJson (what ingest stores) parse back identically both ways.
Value RandomValue(std::mt19937_64& rng, Builder& b, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 4 ? 3 : 5);
  switch (kind(rng)) {
    case 0: return Value::Null();
    case 1: return Value::Bool(rng() & 1);
    case 2: {
      switch (rng() % 5) {
        case 0: return Value::Number(static_cast<double>(static_cast<int64_t>(rng() % 2000000) - 1000000));
        case 1: return Value::Number(std::bit_cast<double>(rng() & 0x7fefffffffffffffull) * ((rng() & 1) ? 1 : -1));
        case 2: return Value::Number(static_cast<double>(rng() % 100000) / 100.0);
        case 3: return Value::Number(static_cast<double>(rng()));
        default: return Value::Number(std::ldexp(static_cast<double>(rng() % 1000), -static_cast<int>(rng() % 1070)));
      }
    }
    case 3: {
      std::string s;
      const size_t n = rng() % 12;
      const char* pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\x7f"};
      for (size_t i = 0; i < n; ++i) s += pieces[rng() % std::size(pieces)];
      return b.String(s);
    }
    case 4: {
      std::vector<Value> elems(rng() % 5);
      for (Value& e : elems) e = RandomValue(rng, b, depth + 1);
      return b.Array(elems);
    }
    default: {
      std::vector<std::string> keys;
      std::vector<Member> members;
      const size_t n = rng() % 20;
      keys.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        keys.push_back("k" + std::to_string(rng() % 25) + ((rng() % 7) == 0 ? "\xc3\xa9\n" : ""));
        members.push_back({keys.back(), RandomValue(rng, b, depth + 1)});
      }
      return b.Object(members);
    }
  }
}

TEST(CompactParserTest, RandomTreesFromAppendJson) {
  std::mt19937_64 rng(20261127);
  for (int i = 0; i < 3000; ++i) {
    Arena arena;
    Builder b(&arena);
    Value v = RandomValue(rng, b, 0);
    std::string text;
    AppendJson(v, &text);
    ExpectSame(text);
    if (HasFailure()) break;
  }
}

// A key is first compared with the one read last time in the same place (after the same
// key, or first inside the same key's object: the per-thread KeyGuess table), as stored
// exchanges repeat their shapes. Whatever the table holds, the result must be ParseInto's:
// documents of a few shapes, each parsed after others trained the table, with keys that differ
// from a guessed one by a byte, a prefix or a longer spelling, are the same key escaped, are
// too long to be guessed, have whitespace before the colon, repeat, or end the text.
std::string GuessKey(std::mt19937_64& rng) {
  static const char* const spellings[] = {
      "id", "ids", "i", "", "iD", "idx", "status", "statuS", "stat", "thirteen_char", "fourteen_chars",
      "\\u0069d", "i\\\"", "caf\xc3\xa9", "a b", "body", "bodY", "content-type", "content-typ",
  };
  return spellings[rng() % std::size(spellings)];
}

std::string GuessDoc(std::mt19937_64& rng, int depth) {
  std::string out = "{";
  const int members = static_cast<int>(rng() % 5);
  for (int m = 0; m < members; ++m) {
    if (m > 0) out += ',';
    out += '"' + GuessKey(rng) + '"';
    if (rng() % 10 == 0) out += ' ';
    out += ':';
    switch (depth < 3 ? rng() % 5 : rng() % 2) {
      case 0: out += std::to_string(rng() % 1000); break;
      case 1: out += "\"v" + std::to_string(rng() % 3) + '"'; break;
      case 2:
      case 3: out += GuessDoc(rng, depth + 1); break;
      default: out += '[' + GuessDoc(rng, depth + 1) + ',' + GuessDoc(rng, depth + 1) + ']'; break;
    }
  }
  return out + '}';
}

TEST(CompactParserTest, GuessedKeysGiveWhatScanningGives) {
  std::mt19937_64 rng(20261129);
  std::vector<std::string> docs;
  for (int i = 0; i < 400; ++i) docs.push_back(GuessDoc(rng, 0));
  // Each document after every few others, in an order that changes: the table then holds keys
  // of earlier documents where this one has others.
  for (int round = 0; round < 5; ++round) {
    for (size_t i = 0; i < docs.size(); ++i) {
      ExpectSame(docs[(i * (2 * round + 1) + round) % docs.size()]);
      if (HasFailure()) return;
    }
  }
}

// Stored exchanges of two operations in turn (the bodies start with other keys after the same
// "body"), one with its keys escaped, one with a key cut short at the text's end.
TEST(CompactParserTest, GuessedKeysOnStoredExchangeShapes) {
  const std::string customers =
      R"({"id":"x1","time":"2026-11-29T05:23:09.799Z","latency_ms":12.9,"request":{"method":"POST","url":"https://shop.example.com/api/customers","path":"/api/customers","query":{},"headers":{"user-agent":"shop-web/2.3","authorization":"[REDACTED]","content-type":"application/json"},"body":{"email":"c-1@example.com","tier":"Gold","password":"hunter2"}},"response":{"status":201,"headers":{"content-type":"application/json"},"body":{"id":"c-1","email":"c-1@example.com","tier":"Gold"}},"client":{"ip":"10.0.1.174","consumer":"shop-android"},"gateway":{"kind":"kong","route":"customers","service":"shop-svc"}})";
  const std::string orders =
      R"({"id":"x2","time":"2026-11-29T05:23:09.801Z","latency_ms":49,"request":{"method":"POST","url":"https://shop.example.com/api/orders","path":"/api/orders","query":{},"headers":{"user-agent":"shop-web/2.3","authorization":"[REDACTED]","content-type":"application/json"},"body":{"customer":{"id":"c-1"},"items":[{"sku":"D4","price":0.5,"qty":3},{"sku":"B2","price":3.99,"qty":1}],"currency":"EUR"}},"response":{"status":201,"headers":{"content-type":"application/json"},"body":{"customer":{"id":"c-1"},"items":[{"sku":"D4","price":0.5,"qty":3}],"currency":"EUR","id":"o-1000","status":"placed"}},"client":{"ip":"10.0.1.24","consumer":"shop-ios"},"gateway":{"kind":"kong","route":"orders","service":"shop-svc"}})";
  std::string escaped = orders;  // "\u0069d" for every "id": the same keys, not their text
  for (size_t at = 0; (at = escaped.find("\"id\":", at)) != std::string::npos; at += 9) escaped.replace(at, 5, "\"\\u0069d\":");
  std::string spaced = customers;  // whitespace before a colon the table knows
  spaced.replace(spaced.find("\"tier\":"), 7, "\"tier\" :");
  std::string repeated = orders;  // a key the table knows, twice in one object
  repeated.replace(repeated.find("\"currency\":\"EUR\","), 17, "\"currency\":\"EUR\",\"currency\":\"USD\",");
  const std::vector<std::string> docs = {customers, orders, escaped, spaced, repeated};
  for (int round = 0; round < 3; ++round) {
    for (const std::string& d : docs) {
      ExpectSame(d);
      ExpectSame(d);
      // Cut inside and right after each key: declined or accepted as ParseInto decides.
      for (size_t cut = d.size() - 40; cut < d.size(); ++cut) ExpectSame(d.substr(0, cut), false);
      if (HasFailure()) return;
    }
  }
  // What AppendJson wrote is read with its texts, whichever spelling trained the table.
  for (const std::string& d : {customers, orders}) {
    Arena arena;
    Value v;
    ASSERT_TRUE(ParseCompactInto(d, &arena, &v, 64));
    EXPECT_EQ(v.known_text(), d);
  }
}

// An object's members are written where it keeps them, up to Builder::kMaxInPlaceMembers; one
// with more moves them to the member stack at the first that does not fit. Objects of every
// count around that room, with a repeated key before, across and after it, and a child object
// (empty, small, larger than the room) at every position, whose members take the stack while
// the parent's are in place or on the stack.
TEST(CompactParserTest, ObjectsAroundTheInPlaceRoom) {
  const size_t room = Builder::kMaxInPlaceMembers;
  const std::string children[] = {"{}", R"({"x":1,"y":[2]})", R"({"a":0,"b":1,"c":2,"d":3,"e":4,"f":5,"g":6,"h":7,"i":8,"j":9,"k":10,"l":11,"m":12})"};
  int parsed = 0;
  for (size_t n = 1; n <= room + 3; ++n) {
    // Which member repeats which (none when both are the same position).
    const std::pair<size_t, size_t> repeats[] = {{0, 0}, {0, n - 1}, {n - 1, n - 1 > 0 ? n - 2 : 0}, {room - 1, room}, {room, room + 1}};
    for (const auto& [from, to] : repeats) {
      if (to >= n) continue;
      for (size_t child_at = 0; child_at < n; ++child_at) {
        for (const std::string& child : children) {
          std::string text = "{";
          for (size_t i = 0; i < n; ++i) {
            if (i > 0) text += ',';
            const size_t key = (i == to && from != to) ? from : i;
            text += "\"m" + std::to_string(key) + "\":";
            text += i == child_at ? child : std::to_string(i);
          }
          text += '}';
          ExpectSame(text);
          ExpectSame("[" + text + "," + text + "]");
          parsed += 2;
          if (HasFailure()) return;
        }
      }
    }
  }
  EXPECT_GT(parsed, 1000);
}

// Objects written with duplicate keys (not by AppendJson, which merges them): whichever two
// keys repeat and wherever, the object is ParseInto's (the last value at the first key's
// position, without the text). Keys are compared only when their signature bits meet, so
// every pair of a set of keys with colliding and distinct bits is tried. A parser that took
// an object for duplicate-free after its signature test alone fails this.
TEST(CompactParserTest, DuplicateKeysAreMergedWhereverTheyAre) {
  std::vector<std::string> keys = {"", "a", "b", "id", "ab", "ba", "aXb", "aYb", "time", "tiMe", "status", "statuS"};
  for (int i = 0; i < 40; ++i) keys.push_back("k" + std::to_string(i));
  for (size_t first = 0; first < keys.size(); ++first) {
    for (size_t second = 0; second < keys.size(); ++second) {
      // `first`, up to nine other keys, then `second` (fewer than the 12 members from which
      // objects are indexed, and merged on that path): a duplicate when first == second.
      std::string text = "{\"" + keys[first] + "\":0";
      for (size_t k = 0; k < 9; ++k) {
        const std::string& other = keys[(first + 1 + k * 3) % keys.size()];
        if (other == keys[first] || other == keys[second]) continue;
        text += ",\"" + other + "\":" + std::to_string(k + 1);
      }
      text += ",\"" + keys[second] + "\":[true]}";
      ExpectSame(text);
      if (HasFailure()) return;
    }
  }
}

// An object with repeated keys inside another: the outer one's text is not what AppendJson
// writes for the merged tree either, so it is written member by member (a parser that kept
// the outer text wrote the repeated keys again).
TEST(CompactParserTest, RepeatedKeysInsideLeaveTheEnclosingValuesWithoutText) {
  const char* docs[] = {R"({"p":{"a":1,"a":2}})", R"([{"a":1,"b":0,"a":2}])", R"({"x":[[{"a":"y","a":"z"}]],"w":1})"};
  for (const char* d : docs) {
    ExpectSame(d);
    Arena arena;
    Value v;
    ASSERT_TRUE(ParseCompactInto(d, &arena, &v, 64));
    EXPECT_FALSE(v.has_known_text()) << d;
  }
}

// The member and element stacks grow (doubling) while outer objects and arrays still have
// members on them: a document with thousands of members and elements in nested containers.
TEST(CompactParserTest, DeepAndWideDocumentsAcrossStackGrowth) {
  std::string text = "{";
  for (int i = 0; i < 700; ++i) text += "\"o" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  text += "\"inner\":[";
  for (int i = 0; i < 900; ++i) text += std::to_string(i) + ",";
  text += "{";
  for (int i = 0; i < 1100; ++i) text += "\"i" + std::to_string(i) + "\":[\"" + std::to_string(i) + "\"],";
  text += "\"last\":[1,2,3]}],\"after\":\"x\"}";
  ExpectSame(text);
  // Twice in one thread: the stacks kept from the first parse are reused.
  ExpectSame(text);
}

// A failure deep inside stops the whole parse, whatever follows it.
TEST(CompactParserTest, FailuresInsideNestedValuesDecline) {
  const char* declined[] = {
      R"({"a":[1,2,{"b":tru}],"c":1})", R"({"a":[1,2,{"b":1.}],"c":1})", R"([{"a":1},x])", R"({"a":{"b":1}x})",
      R"({"a":{"b":"\q"},"c":2})",      R"([[[["\ud800"]]],1])",          R"({"a":[{"b":-}],"c":[]})",
      R"({"a":{"b":{"c":"x)",         R"({"a":[1,2,3)",               "{\"a\":\"\x01\"}",
  };
  for (const char* d : declined) {
    Arena arena;
    Value v;
    EXPECT_FALSE(ParseCompactInto(d, &arena, &v, 64)) << d;
    ExpectSame(d, /*must_accept=*/false);
  }
}

// The string scan reads a stop index built 64 bytes at a time (one bit per byte of the copy,
// up to the block holding the end's first NUL). Strings are put at every offset around the
// blocks' edges and the text's end, with each kind of byte the index marks (quote, backslash,
// control byte, byte above 0x7F) and one it does not (space) at the string's start, middle
// and end, so that each straddles a 63/64/65-byte edge somewhere. ParseInto is the oracle.
// Runs `body` with the stop index built by each instruction set this CPU has (each must give
// the same trees), then goes back to the best one.
template <typename F>
void ForEachIndexIsa(F body) {
  using compact_internal::IndexIsa;
  int ran = 0;
  for (const IndexIsa isa : {IndexIsa::kSse2, IndexIsa::kAvx2, IndexIsa::kAvx512Bw}) {
    if (!compact_internal::UseIndexIsa(isa)) {
      std::printf("index ISA %d: not on this CPU, not tested\n", static_cast<int>(isa));
      continue;
    }
    SCOPED_TRACE("index ISA " + std::to_string(static_cast<int>(isa)));
    body();
    ++ran;
  }
  EXPECT_TRUE(compact_internal::UseIndexIsa(compact_internal::BestIndexIsa()));
  EXPECT_GE(ran, 1);  // SSE2, the x86-64 baseline, always
}

void StringsAtEveryIndexBlockEdge() {
  const std::string specials[] = {
      "x", " ", "\\\"", "\\\\", "\\n", "\\u00e9", "\\ud83d\\ude00", "\xc3\xa9", "\xe2\x82\xac", "\x01", "\n", "\x7f", "\xc3",
  };
  int parsed = 0;
  for (size_t shift = 0; shift <= 66; ++shift) {
    const std::string key(shift, 'k');
    for (size_t len = 0; len <= 131; ++len) {
      for (const std::string& special : specials) {
        for (const size_t at : {size_t{0}, len / 2, len}) {
          std::string content(len, 'a');
          content.insert(at, special);
          // In an object (the closing quote then '}' at the end), at the text's end alone,
          // and in an array with a second string after it.
          ExpectSame("{\"" + key + "\":\"" + content + "\"}", special != "\x01" && special != "\n" && special != "\xc3");
          ExpectSame("\"" + key + content + "\"", special != "\x01" && special != "\n" && special != "\xc3");
          ExpectSame("[\"" + key + "\",\"" + content + "\",\"" + key + "\"]", special != "\x01" && special != "\n" && special != "\xc3");
          parsed += 3;
        }
      }
    }
  }
  EXPECT_EQ(parsed, 67 * 132 * 13 * 3 * 3);
}
TEST(CompactParserTest, StringsAtEveryIndexBlockEdge) { ForEachIndexIsa(StringsAtEveryIndexBlockEdge); }

// A string cut off by the end of the text is declined wherever the end falls in its block,
// also when the end is a block's last byte or the text fills whole blocks (the index's last
// block is then all padding).
void UnterminatedStringsAtTheEndDecline() {
  for (size_t n = 1; n <= 200; ++n) {
    const std::string cut = "\"" + std::string(n - 1, 'a');
    ExpectSame(cut, false);
    Arena arena;
    Value v;
    EXPECT_FALSE(ParseCompactInto(cut, &arena, &v, 64)) << n;
    const std::string escaped_end = "\"" + std::string(n - 1, 'a') + "\\";
    EXPECT_FALSE(ParseCompactInto(escaped_end, &arena, &v, 64)) << n;
    // And the same length terminated: accepted, the whole string.
    const std::string whole = "\"" + std::string(n - 1, 'a') + "\"";
    ASSERT_TRUE(ParseCompactInto(whole, &arena, &v, 64)) << n;
    EXPECT_EQ(v.string(), std::string(n - 1, 'a'));
  }
}

// Long strings span index words without a stop bit (the scan's loop over empty words), and
// documents of different lengths parsed one after another on the same thread reuse the index:
// a short one after a long one must not see the long one's bits.
TEST(CompactParserTest, UnterminatedStringsAtTheEndDecline) { ForEachIndexIsa(UnterminatedStringsAtTheEndDecline); }

void LongStringsAndReusedIndex() {
  for (const size_t len : {size_t{63}, size_t{64}, size_t{65}, size_t{1000}, size_t{4096}, size_t{100000}}) {
    std::string doc = "{\"long\":\"" + std::string(len, 'q') + "\",\"after\":[\"" + std::string(len / 3, 'r') + "\",1.5,true]}";
    ExpectSame(doc);
    ExpectSame("{\"a\":\"b\"}");
    ExpectSame("[\"" + std::string(len % 70, 's') + "\"]");
    // A quote inside the long string, escaped at a block edge and far from it.
    std::string with_quote(len, 'q');
    with_quote.insert(len / 2, "\\\"");
    with_quote.insert(std::min<size_t>(len, 62), "\\\\");
    ExpectSame("[\"" + with_quote + "\",\"" + with_quote + "\"]");
  }
}

TEST(CompactParserTest, LongStringsAndReusedIndex) { ForEachIndexIsa(LongStringsAndReusedIndex); }

// The shop-like documents and random trees of the tests above, under each index ISA.
TEST(CompactParserTest, EveryIndexIsaAgrees) {
  ForEachIndexIsa([] {
    std::mt19937 rng(7);
    for (int k = 0; k < 300; ++k) {
      std::string doc = "{";
      const int members = static_cast<int>(rng() % 12);
      for (int m = 0; m < members; ++m) {
        if (m != 0) doc += ",";
        doc += "\"k" + std::to_string(m) + std::string(rng() % 70, 'x') + "\":";
        switch (rng() % 4) {
          case 0: doc += "\"" + std::string(rng() % 90, 'v') + (rng() % 3 == 0 ? "\\\"" : "") + "\""; break;
          case 1: doc += std::to_string(rng() % 100000) + ".25"; break;
          case 2: doc += "[\"" + std::string(rng() % 40, 'e') + "\",true,null]"; break;
          default: doc += "{\"in\":\"caf\xc3\xa9" + std::string(rng() % 64, 'i') + "\"}"; break;
        }
      }
      doc += "}";
      ExpectSame(doc);
    }
  });
}

}  // namespace
}  // namespace ec::json
