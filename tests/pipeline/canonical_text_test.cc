// The canonical fast path (pipeline/canonical_text.h) against the tree path it stands in for:
// whenever it takes a record, its text and id must be exactly what DecodeRecords writes.
#include "pipeline/canonical_text.h"

#include <gtest/gtest.h>
#include <stdio.h>

#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "json/document.h"
#include "pipeline/exchange.h"
#include "pipeline/ids.h"
#include "../../bench/shop_traffic_lines.h"  // the shop traffic, read as the benchmarks read it

namespace ec::pipeline {
namespace {

const std::vector<std::string> kShopRedact = {"request.headers.authorization", "request.headers.cookie",
                                              "response.headers.set-cookie"};

DecodeOptions Options(const std::vector<std::string>& redact) {
  DecodeOptions o;
  o.redact = redact;
  o.now_ms = 1795000000123;
  return o;
}

// The tree path's stored text, or "" when it rejects the record.
std::string TreeText(std::string_view record, const DecodeOptions& base) {
  Arena arena(8192);
  json::Value raw;
  json::ParseOptions po;
  po.max_depth = base.max_depth;
  if (!json::ParseInto(record, &arena, &raw, po).ok()) return "";
  DecodeOptions o = base;
  std::string text;
  std::vector<size_t> sizes;
  o.json_out = &text;
  o.json_sizes = &sizes;
  std::vector<json::Value> out;
  if (!DecodeRecords(raw, "detect", o, &arena, &out).ok() || out.size() != 1) return "";
  const json::Value* id = out[0].Find("id");
  EXPECT_TRUE(id != nullptr && id->is_string());
  EXPECT_EQ(sizes.size(), 1u);
  return text;
}

// How the decoders FastText builds find the ends of strings (the CPU's best by default); the
// tests that cover the structural pass run with each.
CanonicalTextDecoder::StringIndex g_string_index = CanonicalTextDecoder::BestStringIndex();
constexpr CanonicalTextDecoder::StringIndex kStringIndexes[] = {
    CanonicalTextDecoder::StringIndex::kAvx2, CanonicalTextDecoder::StringIndex::kSse2,
    CanonicalTextDecoder::StringIndex::kNone};

// Runs `body` once per string index the CPU has (kAvx2 needs AVX2), FastText using it.
template <typename Body>
void ForEachStringIndex(Body body) {
  for (CanonicalTextDecoder::StringIndex index : kStringIndexes) {
    if (index == CanonicalTextDecoder::StringIndex::kAvx2 &&
        CanonicalTextDecoder::BestStringIndex() != CanonicalTextDecoder::StringIndex::kAvx2) {
      continue;
    }
    SCOPED_TRACE("string index " + std::to_string(static_cast<int>(index)));
    g_string_index = index;
    body();
  }
  g_string_index = CanonicalTextDecoder::BestStringIndex();
}

// The fast path's text, "" when it declines. Checks the id it reports.
std::string FastText(std::string_view record, const DecodeOptions& o, bool* took) {
  CanonicalTextDecoder d(o);
  d.set_string_index(g_string_index);
  std::string out = "prefix";
  size_t id_at = 0, id_size = 0;
  *took = d.Decode(record, &out, &id_at, &id_size);
  if (!*took) {
    EXPECT_EQ(out, "prefix") << "declining must leave the output as it was";
    return "";
  }
  std::string text = out.substr(6);
  // The id is the stored "id" member.
  EXPECT_EQ(text.substr(0, 7), "{\"id\":\"");
  EXPECT_EQ(text.substr(7, id_size), out.substr(id_at, id_size));
  EXPECT_EQ(text[7 + id_size], '"');
  return text;
}

// Checks one record: the fast path takes it (when `must_take`) and agrees with the tree path.
void Same(std::string_view record, const std::vector<std::string>& redact, bool must_take) {
  DecodeOptions o = Options(redact);
  bool took = false;
  std::string fast = FastText(record, o, &took);
  if (must_take) { EXPECT_TRUE(took) << record; }
  if (!took) return;
  std::string tree = TreeText(record, o);
  EXPECT_FALSE(tree.empty()) << "the fast path took a record the tree path rejects: " << record;
  EXPECT_EQ(fast, tree) << record;
}

void Declines(std::string_view record, const std::vector<std::string>& redact = kShopRedact) {
  DecodeOptions o = Options(redact);
  bool took = true;
  FastText(record, o, &took);
  EXPECT_FALSE(took) << record;
}

const char kShopLine[] =
    R"({"time":"2026-11-27T20:07:53.834Z","latency_ms":49.0,"request":{"method":"POST","url":"https://shop.example.com/api/orders","path":"/api/orders","query":{},"headers":{"user-agent":"shop-web/2.3","authorization":"Bearer secret-token-4","content-type":"application/json"},"body":{"customer":{"id":"c-1"},"items":[{"sku":"E5","price":620.0,"qty":4}],"currency":"EUR"}},"response":{"status":422,"headers":{"content-type":"application/json"},"body":{"error":"out of stock"}},"client":{"ip":"10.0.8.51","consumer":"shop-android"},"gateway":{"kind":"kong","route":"orders","service":"shop-svc"}})";

TEST(CanonicalTextTest, ShopLineIsTakenAndMatchesTheTreePath) {
  Same(kShopLine, kShopRedact, true);
  Same(kShopLine, {}, true);
  DecodeOptions o = Options(kShopRedact);
  bool took = false;
  std::string fast = FastText(kShopLine, o, &took);
  EXPECT_NE(fast.find(R"("authorization":"[REDACTED]")"), std::string::npos) << fast;
  EXPECT_EQ(fast.find("secret-token"), std::string::npos);
  EXPECT_NE(fast.find(R"("latency_ms":49,)"), std::string::npos) << "numbers as JavaScript writes them";
  EXPECT_NE(fast.find(R"("price":620,)"), std::string::npos);
}

TEST(CanonicalTextTest, ShapesItTakes) {
  const std::vector<std::string> none;
  // Given id, no time (assigned), whitespace, missing optional members (defaults written).
  Same(R"({"id":"ex-1","request":{"method":"GET","path":"/a"},"response":{"status":200}})", none, true);
  Same(R"({ "request" : { "method" : "GET" , "url" : "http://h/a" , "path" : "/a" } ,
 "response" : { "status" : 204 , "body" : "" } })",
       kShopRedact, true);
  Same(R"({"request":{"method":"GET","path":"/a","headers":{}},"response":{"status":200,"body":null}})", none, true);
  // Whitespace around names where members are inserted (query, headers) and the id dropped.
  Same(R"({ "id" : "a" , "request":{"method":"GET" , "path" : "/a" , "body" : 1 },"response":{"status" :200 } })",
       kShopRedact, true);
  Same(R"({"request":{"method":"GET","path":"/a" ,"body"	:{ "k" : [ 1 , 2.50 ] } } ,"response":{ "status":200,"headers" : { "set-cookie" : "s" } } })",
       kShopRedact, true);
  Same(R"({"request":{"method":"DELETE","path":"/a","query":{"x":"1","y":""}},"response":{"status":0}})", none, true);
  // Colons in a path without "//" after them stay (the tree path cuts only "scheme://").
  Same(R"({"request":{"method":"GET","path":"/a:b/c:/d:"},"response":{"status":200}})", none, true);
  // Text bodies with a content type that is not parsed; numbers of every form.
  Same(R"({"request":{"method":"POST","path":"/a","headers":{"content-type":"text/plain"},"body":"hello"},"response":{"status":200,"body":[1,-2,0,0.5,1e3,-1.25E-2,12345678901234.5,1e21,1e-7,-0.0,123456789012345,3.99,0.0001,-0.0625,999999999.9999,1000000000.5,2.50,0.1,0.30000000000000004]}})",
       none, true);
  // Trailing zeros in the fraction (written without them, or as the integer), at and past
  // the limits of the digits written as they are.
  Same(R"({"request":{"method":"GET","path":"/a"},"response":{"status":200,"body":[620.0,-5.00,0.0,-0.0,0.000,-0.50,1.00000,1.23450,1.234560,123456789012345.0,1234567890123456.0,12345678901234567.0,999999999.10,1234567890.10,-123456789012345.000]}})",
       none, true);
  // Non-ASCII (valid UTF-8) strings, nested arrays and objects, literals.
  Same(R"({"request":{"method":"PUT","path":"/ü","body":{"a":[[],[{}],{"b":[true,false,null]}],"名":"値"}},"response":{"status":201}})",
       none, true);
  // Redaction through arrays, of whole objects, case-insensitive under headers, nested paths.
  const std::vector<std::string> paths = {"request.body.items.secret", "response.body", "request.headers.X-Key",
                                          "client", "request.body.items.secret.inner"};
  Same(R"({"request":{"method":"POST","path":"/a","headers":{"x-key":"k"},"body":{"items":[{"secret":{"inner":1}},{"secret":2},3]}},"response":{"status":200,"body":{"x":1}},"client":{"ip":"1"}})",
       paths, true);
  Same(R"({"request":{"method":"POST","path":"/a"},"response":{"status":200}})", {"request.query", "request.headers", "response.body"},
       true);
  Same(R"({"request":{"method":"POST","path":"/a","body":{"a":{"b":1}}},"response":{"status":200}})", {"request.body.a", "request.*.a.b"},
       true);
}

TEST(CanonicalTextTest, DeclinesWhatTheTreePathChanges) {
  Declines(R"({"response":{"status":200},"request":{"method":"GET","path":"/a"}})");  // order
  Declines(R"({"request":{"method":"get","path":"/a"},"response":{"status":200}})");  // upper-cased
  // Duplicate names (the parser merges them), the empty name too; one empty name is taken.
  Declines(R"({"request":{"method":"GET","path":"/a","body":{"":1,"a":2,"":3}},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a","body":{"ab":1,"":2,"ab":3}},"response":{"status":200}})");
  Same(R"({"request":{"method":"GET","path":"/a","body":{"":1,"a":{"":[{"":""}]}}},"response":{"status":200}})", {}, true);
  Declines(R"({"request":{"method":"GET","path":"/a?x=1"},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a#f"},"response":{"status":200}})");  // fragment
  Declines(R"({"request":{"method":"GET","path":"http://h/a"},"response":{"status":200}})");  // absolute
  Declines(R"({"request":{"method":"GET","path":"/a:/b://"},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","url":"http://h/a?x=1","path":"/a"},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","url":"http://h/a"},"response":{"status":200}})");  // no path
  Declines(R"({"request":{"method":"GET","path":"/a","headers":{"Accept":"x"}},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a","headers":{"a":"1","a":"2"}},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a","headers":{"a":["1"]}},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a","query":{"a":1}},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a","body":"a\"b"},"response":{"status":200}})");  // escape
  Declines(R"({"request":{"method":"GET","path":"/a","headers":{"content-type":"application/json"},"body":"{}"},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a","body":"eA==","body_encoding":"base64"},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a"},"response":{"status":200.5}})");
  Declines(R"({"request":{"method":"GET","path":"/a"},"response":{"status":200},"extra":1})");
  Declines(R"({"time":1700000000000,"request":{"method":"GET","path":"/a"},"response":{"status":200}})");
  Declines(R"({"time":"yesterday","request":{"method":"GET","path":"/a"},"response":{"status":200}})");
  Declines(R"({"id":"","request":{"method":"GET","path":"/a"},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a","body":{"a":1,"a":2}},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a","body":12345678901234567890},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a","body":1e999},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a","body":[1,]},"response":{"status":200}})");  // not JSON
  Declines(R"({"request":{"method":"GET","path":"/a","body":"\xff"},"response":{"status":200}})");  // not UTF-8
  Declines(R"({"request":{"method":"GET","path":"/a"},"response":{"status":200}} x)");
  Declines(R"({"request":{"method":"GET","path":"/a"},"response":{"status":200},"client":null})");
  Declines(R"({"request":{"method":"GET","path":"/a"}})");
  // Redaction at the id or the time is left to the tree path.
  Declines(R"({"request":{"method":"GET","path":"/a"},"response":{"status":200}})", {"time"});
  Declines(R"({"request":{"method":"GET","path":"/a"},"response":{"status":200}})", {"*.x"});
}

// The exchange's own member names are read with one 16-byte compare of '"name":' when the
// input is compact: names one byte off (longer, shorter, another case, another first byte)
// must not pass for them, whitespace before or after the ':' takes the general way, and the
// result is the tree path's wherever a name occurs (also inside bodies, near the record's end).
TEST(CanonicalTextTest, OwnNamesReadByTheirSpelling) {
  const std::vector<std::string> names = {"id", "time", "latency_ms", "request", "response", "client", "gateway",
                                          "method", "url", "path", "query", "headers", "body", "status"};
  size_t variants = 0;
  for (const std::string& name : names) {
    const std::string quoted = "\"" + name + "\":";
    for (size_t at = std::string_view(kShopLine).find(quoted); at != std::string::npos;
         at = std::string_view(kShopLine).find(quoted, at + 1)) {
      auto with = [&](const std::string& spelling) {
        return std::string(kShopLine).replace(at, quoted.size(), spelling);
      };
      // Whitespace around the ':' is taken (the general way) and agrees.
      Same(with("\"" + name + "\" :"), kShopRedact, true);
      Same(with("\"" + name + "\": "), kShopRedact, true);
      Same(with("\"" + name + "\"\n:\t"), kShopRedact, true);
      // Other names: declined at the exchange's own levels, else agreeing with the tree path.
      std::string upper = name;
      upper[0] = static_cast<char>(upper[0] - 32);
      for (const std::string& other : {name + "x", name.substr(0, name.size() - 1), upper, "x" + name.substr(1),
                                       name + "\"x"}) {
        Same(with("\"" + other + "\":"), kShopRedact, false);
        ++variants;
      }
    }
  }
  EXPECT_GT(variants, 60u);
  // At the exchange's own levels those names are unknown: declined.
  Declines(R"({"time":"2026-11-27T20:07:53.834Z","latency_m":1,"request":{"method":"GET","path":"/a"},"response":{"status":200}})");
  Declines(R"({"request":{"methods":"GET","path":"/a"},"response":{"status":200}})");
  Declines(R"({"request":{"Method":"GET","path":"/a"},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a","bodyx":1},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a"},"response":{"statu":200}})");
  Declines(R"({"request":{"method":"GET","method":"GET","path":"/a"},"response":{"status":200}})");
  Declines(R"({"request":{"method":"GET","path":"/a"},"response":{"status":200},"request":{"method":"GET","path":"/a"}})");
  // Names in the last 16 bytes of the record (no 16-byte compare there) and right before them.
  Same(R"({"request":{"method":"GET","path":"/a"},"response":{"status":200}})", {}, true);
  Same(R"({"request":{"method":"GET","path":"/a"},"response":{"status":200,"body":1}})", {}, true);
  Same(R"({"request":{"method":"GET","path":"/a"},"response":{"status":200},"gateway":{}})", {}, true);
  Same(R"({"request":{"method":"GET","path":"/a"},"response":{"status":200},"client":{"a":"b"}})", {}, true);
}

// The content-type header's value is read once when no redact path can hit it, and read
// again as the member's value when one can: both must come out as the tree path writes them.
TEST(CanonicalTextTest, ContentTypeReadOnceOrRedacted) {
  const std::string record =
      R"({"request":{"method":"POST","path":"/a","headers":{"accept":"*/*","content-type":"text/plain; charset=utf-8","x":"y"},"body":"hello"},"response":{"status":200,"headers":{"content-type":"application/json"},"body":{"a":1}}})";
  for (const std::vector<std::string>& paths :
       std::vector<std::vector<std::string>>{{},
                                             {"request.headers.content-type"},
                                             {"response.headers.Content-Type"},
                                             {"request.headers.content-typ"},
                                             {"request.headers.*"},
                                             {"request.headers.content-type", "response.headers.content-type"}}) {
    Same(record, paths, true);
  }
  bool took = false;
  const std::string fast = FastText(record, Options({"request.headers.content-type"}), &took);
  EXPECT_NE(fast.find(R"("content-type":"[REDACTED]","x":"y")"), std::string::npos) << fast;
  // The value read once still decides the body: a JSON content type with a string body is
  // left to the tree path (it parses the body), also when that header is redacted.
  Declines(R"({"request":{"method":"POST","path":"/a","headers":{"content-type":"application/json"},"body":"{}"},"response":{"status":200}})",
           {});
  Declines(R"({"request":{"method":"POST","path":"/a","headers":{"content-type":"application/json"},"body":"{}"},"response":{"status":200}})",
           {"request.headers.content-type"});
}

// Strings are scanned sixteen bytes at a time (eight, then one, near the record's end): an
// escape, a control or a multi-byte character at every offset of strings of every length up to
// 40 bytes (three sixteen-byte steps), in the middle of the record and as its last string.
TEST(CanonicalTextTest, StringsAtEveryOffset) {
  ForEachStringIndex([] {
  const std::vector<std::string> specials = {"\\\"", "\\n", "\\u0041", "\t", "\x01", "é", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                             "\xc3", "\xed\xa0\x80"};
  for (size_t len = 0; len <= 40; ++len) {
    for (size_t at = 0; at <= len; ++at) {
      for (const std::string& sp : specials) {
        std::string str(len, 'a');
        str.insert(at, sp);
        const std::string rec = R"({"request":{"method":"GET","path":"/)" + str + R"("},"response":{"status":200,"headers":{")" +
                                str + R"(":"v"},"body":")" + str + R"("}})";
        Same(rec, {}, false);
        const bool plain = sp[0] != '\\' && static_cast<unsigned char>(sp[0]) >= 0x20 &&
                           (sp.size() > 1 || static_cast<unsigned char>(sp[0]) < 0x80) && sp != "\xed\xa0\x80";
        DecodeOptions o = Options({});
        bool took = false;
        FastText(rec, o, &took);
        EXPECT_EQ(took, plain) << rec;
      }
    }
  }
  });
}

// The structural pass (quotes_: a word of quote bits per 64 bytes, the record clean or not):
// strings that start, end and straddle every offset of a 64-byte word, one and two words
// long, in the record's last bytes (its last word read overlapping) and in records shorter
// than 64 bytes. A byte that makes the record unclean (backslash, control, >= 0x80) sits at
// each string's edges and in the padding outside any string. Every string index decodes alike:
// as the tree path, and declining exactly what has to be declined.
TEST(CanonicalTextTest, StringsAcrossEvery64ByteBoundary) {
  const std::vector<std::string> specials = {"", "\\\"", "\\n", "\x01", "\x1f", "\xc3", "\xc3\xa9"};
  size_t taken = 0;
  ForEachStringIndex([&] {
    for (size_t pad = 0; pad < 64; ++pad) {
      for (size_t len : {0, 1, 2, 30, 31, 32, 33, 62, 63, 64, 65, 66, 127, 128, 129}) {
        for (const std::string& sp : specials) {
          for (int where = 0; where < 3; ++where) {  // the special at the start, the end, in the padding
            std::string str(len, 'v');
            std::string padding(pad, ' ');
            if (where == 0) str.insert(0, sp);
            if (where == 1) str += sp;
            if (where == 2) padding.insert(pad / 2, sp);
            const std::string rec = R"({"request":{"method":"GET","path":"/a","body":{)" + padding + R"("k":")" + str +
                                    R"(","n":1,")" + str + R"(":")" + str + R"("}},"response":{"status":200,"body":")" +
                                    str + R"("}})";
            // Taken: no special, or a valid two-byte character in a string (not in the padding,
            // where any of them is invalid JSON).
            const bool plain = sp.empty() || (sp == "\xc3\xa9" && where != 2);
            bool took = false;
            FastText(rec, Options({}), &took);
            EXPECT_EQ(took, plain) << rec;
            if (took) ++taken;
            Same(rec, {}, plain);
            Same(rec, {"request.body.k", "response.body"}, plain);
          }
        }
      }
    }
    // An escaped quote that, taken for the string's end, would leave a valid record with a
    // member "b": the pass must see the backslash (the record is not clean) and decline.
    for (size_t pad = 0; pad < 64; ++pad) {
      for (size_t len : {0, 1, 30, 62, 63, 64, 65, 127}) {
        const std::string str(len, 'v');
        const std::string rec = R"({"request":{"method":"GET","path":"/a","body":{)" + std::string(pad, ' ') +
                                R"("k":")" + str + R"(a\","b":"c","n":1}},"response":{"status":200}})";
        Declines(rec, {});
        Declines(rec, kShopRedact);
      }
    }
    // Records that end within every offset of their last word, and a string that has no end.
    for (size_t len = 0; len < 140; ++len) {
      const std::string str(len, 'w');
      const std::string rec = R"({"request":{"method":"GET","path":"/)" + str + R"("},"response":{"status":200}})";
      Same(rec, {}, true);
      Declines(rec.substr(0, rec.size() - 4 - len / 2));
      Declines(R"({"request":{"method":"GET","path":"/)" + str);
    }
    Declines(R"({"request":"x"})");  // shorter than a word
    Declines(R"({")");
  });
  EXPECT_GT(taken, 0u);
}

// Header names are checked for upper case eight bytes at a time: an upper-case letter at every
// offset of names up to 24 bytes is declined (the tree path lower-cases it), and the bytes
// around 'A'..'Z' ('@', '[', 'a', 'z', '`', '{', a two-byte character) are not taken for one.
TEST(CanonicalTextTest, HeaderNamesWithUpperCaseAtEveryOffset) {
  for (size_t len = 0; len <= 24; ++len) {
    for (size_t at = 0; at <= len; ++at) {
      for (const char* c : {"A", "M", "Z", "@", "[", "a", "z", "`", "{", "\xc3\xa9"}) {
        std::string name(len, 'x');
        name.insert(at, c);
        const std::string rec = R"({"request":{"method":"GET","path":"/a","headers":{")" + name +
                                R"(":"v"}},"response":{"status":200}})";
        const bool upper = c[0] >= 'A' && c[0] <= 'Z';
        bool took = false;
        FastText(rec, Options({}), &took);
        EXPECT_EQ(took, !upper) << rec;
        if (!upper) Same(rec, {}, true);
      }
    }
  }
}

// The decoder matches redact paths against the exchange's own members once, at construction,
// and header names (lower case when taken) against each path lower-cased once: a path ending
// at any of those members, or through them, redacts what the tree path redacts. A "headers"
// object elsewhere (here in a body) may have upper-case names and still compares ignoring case.
TEST(CanonicalTextTest, RedactPathsAtTheExchangesOwnMembers) {
  const std::string rec =
      R"({"id":"e-1","time":"2026-11-27T20:07:53.834Z","latency_ms":12.5,"request":{"method":"POST","url":"https://h/a","path":"/a","query":{"q":"1"},"headers":{"authorization":"a","cookie":"c","x-key":"k"},"body":{"headers":{"X-KEY":"b","Cookie":"d"},"n":1}},"response":{"status":200,"headers":{"set-cookie":"s","content-type":"text/plain"},"body":"ok"},"client":{"ip":"1"},"gateway":{"kind":"kong"}})";
  for (const std::vector<std::string>& paths : std::vector<std::vector<std::string>>{
           {"latency_ms"}, {"request"}, {"response"}, {"client"}, {"gateway.kind"}, {"request.method"},
           {"request.url"}, {"request.path"}, {"request.query"}, {"request.query.q"}, {"request.headers"},
           {"request.body"}, {"request.body.n"}, {"response.status"}, {"response.headers"}, {"response.body"},
           {"request.headers.Authorization", "request.headers.COOKIE", "response.headers.Set-Cookie"},
           {"request.body.headers.x-key", "request.body.headers.COOKIE"},
           {"request.headers.x-key", "request.body.headers.X-Key", "request.nothing", "response.body.x"}}) {
    Same(rec, paths, true);
    DecodeOptions o = Options(paths);
    bool took = false;
    EXPECT_NE(FastText(rec, o, &took).find("[REDACTED]"), std::string::npos) << paths[0];
  }
}

// The path is checked sixteen bytes at a time for what the tree path cuts ('?', '#', "://"):
// each at every offset of paths up to 40 bytes is declined, and a ':' without "//" is taken.
TEST(CanonicalTextTest, PathsTheTreePathCutsAtEveryOffset) {
  for (size_t len = 0; len <= 40; ++len) {
    for (size_t at = 0; at <= len; ++at) {
      for (const char* c : {"?", "#", "://", "?x", ":", ":/", ":/x/", "/", "%3F"}) {
        std::string path = "/" + std::string(len, 'p');
        path.insert(1 + at, c);
        const std::string rec =
            R"({"request":{"method":"GET","path":")" + path + R"("},"response":{"status":200}})";
        const bool cut = c[0] == '?' || c[0] == '#' || std::string_view(c) == "://";
        bool took = false;
        FastText(rec, Options({}), &took);
        EXPECT_EQ(took, !cut) << rec;
        if (!cut) Same(rec, {}, true);
      }
    }
  }
}

TEST(CanonicalTextTest, DepthLimitIsTheTreePaths) {
  std::string deep = R"({"request":{"method":"GET","path":"/a","body":)";
  for (int i = 0; i < 70; ++i) deep += "[";
  for (int i = 0; i < 70; ++i) deep += "]";
  deep += R"(},"response":{"status":200}})";
  Declines(deep);
  DecodeOptions o = Options({});
  o.max_depth = 5;
  CanonicalTextDecoder d(o);
  std::string out;
  size_t at, size;
  EXPECT_FALSE(d.Decode(kShopLine, &out, &at, &size)) << "a depth limit below the exchange's own levels";
}

// Nested objects, arrays and both in a body, from shallow to past the limit, under several
// limits: what the fast path takes (it declines near the limit, where the tree path may still
// take the record) is the same with every string index (a clean record's objects take
// PlainObject, which checks the limit itself) and written as the tree path writes it.
TEST(CanonicalTextTest, NestingAtTheDepthLimit) {
  size_t taken = 0;
  for (uint32_t max_depth : {8u, 9u, 12u, 20u, 64u}) {
    for (int levels = 1; levels <= 66; ++levels) {
      for (int shape = 0; shape < 3; ++shape) {  // objects, arrays, alternating
        std::string open, close;
        for (int i = 0; i < levels; ++i) {
          const bool object = shape == 0 || (shape == 2 && i % 2 == 0);
          open += object ? R"({"k":1,"a":)" : "[2,";
          close.insert(0, object ? "}" : "]");
        }
        const std::string rec = R"({"request":{"method":"GET","path":"/a","body":)" + open + "3" + close +
                                R"(},"response":{"status":200}})";
        DecodeOptions o = Options({});
        o.max_depth = max_depth;
        const std::string tree = TreeText(rec, o);
        g_string_index = CanonicalTextDecoder::StringIndex::kNone;
        bool took_scanning = false;
        FastText(rec, o, &took_scanning);
        taken += took_scanning ? 1 : 0;
        ForEachStringIndex([&] {
          bool took = false;
          const std::string fast = FastText(rec, o, &took);
          EXPECT_EQ(took, took_scanning) << max_depth << " " << rec;
          if (took) {
            EXPECT_EQ(fast, tree) << rec;
          }
        });
      }
    }
  }
  EXPECT_GT(taken, 0u);
}

// `count` shop exchanges (bench/shop_traffic_lines.h runs the generator), one JSON object each.
std::vector<std::string> ShopRecords(size_t count) {
  const std::string all = ShopTrafficLines(count);
  std::vector<std::string> lines;
  for (size_t pos = 0; pos < all.size();) {
    size_t nl = all.find('\n', pos);
    if (nl == std::string::npos) nl = all.size();
    std::string line = all.substr(pos, nl - pos);
    if (line.size() > 2 && line[0] == '{' && line.back() == '}') lines.push_back(std::move(line));
    pos = nl + 1;
  }
  return lines;
}

// Random edits of shop records (whitespace, key order, numbers, escapes, case, duplicates,
// removed and unknown members) under random redact paths: every record the fast path takes
// must come out as the tree path writes it.
TEST(CanonicalTextTest, RandomEditsAgreeWithTheTreePath) {
  const std::vector<std::string> lines = ShopRecords(300);
  ASSERT_GE(lines.size(), 200u) << "examples/shop/traffic.py gave no records";
  for (const std::string& l : lines) Same(l, kShopRedact, true);

  const std::vector<std::string> fragments = {
      " ", "\n", "\t", ",", ":", "\"", "\\\"", "\\u00e9", "{", "}", "[", "]", "0", "-", "1.50", "1e2", "-0",
      "null", "true", "\"id\":\"x\",", "\"time\":\"2026-01-01T00:00:00Z\",", "\"Authorization\"", "\"A\"",
      "\"request\":{},", "\"body\":\"\",", "\"query\":{\"a\":\"b\"},", "é", "\xe2\x80\xa8", "12345678901234567",
      "\"content-type\":\"application/json\",", "\"body_encoding\":\"base64\",", "3.14", "0.0001",
      "123456789.5", "1234567890.5", "-0.25", "0.1e1", "99.9900", "7.0"};
  const std::vector<std::vector<std::string>> path_sets = {
      kShopRedact, {}, {"request.body.password"}, {"response.body"}, {"request.body.items.sku", "client.ip"},
      {"*"}, {"request.*"}, {"request.headers.user-agent", "request.headers"}};
  std::mt19937 rng(20261127);
  size_t taken = 0, tried = 0;
  const int rounds = std::getenv("EC_TEST_LONG") != nullptr ? 1000 : 20;
  for (int round = 0; round < rounds; ++round) {
    for (const std::string& base : lines) {
      std::string s = base;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) {
        size_t at = rng() % (s.size() + 1);
        switch (rng() % 5) {
          case 4: {  // whitespace around every comma and colon
            std::string spaced;
            for (char c : s) {
              if ((c == ',' || c == ':') && rng() % 2) spaced += " \n"[rng() % 2];
              spaced += c;
              if ((c == ',' || c == ':') && rng() % 2) spaced += " \t"[rng() % 2];
            }
            s = spaced;
            break;
          }
          case 0: s.insert(at, fragments[rng() % fragments.size()]); break;
          case 1: if (at < s.size()) s.erase(at, 1 + rng() % 8); break;
          case 2: if (at < s.size()) s[at] = static_cast<char>(s[at] >= 'a' && s[at] <= 'z' ? s[at] - 32 : s[at]); break;
          default: {  // a number made non-canonical
            size_t d = s.find_first_of("0123456789", at);
            if (d != std::string::npos) s.insert(d + 1, rng() % 2 ? ".0" : "e0");
          }
        }
      }
      const std::vector<std::string>& paths = path_sets[rng() % path_sets.size()];
      DecodeOptions o = Options(paths);
      bool took = false;
      std::string fast = FastText(s, o, &took);
      ++tried;
      if (!took) continue;
      ++taken;
      std::string tree = TreeText(s, o);
      ASSERT_FALSE(tree.empty()) << "taken but rejected by the tree path: " << s;
      ASSERT_EQ(fast, tree) << s;
    }
  }
  // Some edits keep a record canonical (whitespace, numbers, strings): the comparison ran.
  EXPECT_GT(taken, tried / 20) << taken << " of " << tried;
  printf("fast path took %zu of %zu edited records\n", taken, tried);
}

// One decoder writes record after record into the same buffer, as ingest's batch has it: each
// record lands after the bytes already there (its id, hash and redacted spans at its own
// offsets), a declined record leaves nothing, and a redaction that grows the record (a value
// shorter than "[REDACTED]") or shrinks it comes out as the tree path writes it.
TEST(CanonicalTextTest, OneDecoderAppendsRecordsAfterEachOther) {
  const std::vector<std::string> paths = {"request.headers.authorization", "client", "request.body.k"};
  DecodeOptions o = Options(paths);
  CanonicalTextDecoder d(o);
  const std::vector<std::string> records = {
      kShopLine,
      R"({"request":{"method":"GET","path":"/a","body":{"k":1,"j":2}},"response":{"status":200},"client":{"ip":"1"}})",
      R"({"response":{"status":200},"request":{"method":"GET","path":"/a"}})",  // declined: order
      R"({"id":"given-1","time":"2026-01-01T00:00:00Z","request":{"method":"GET","path":"/a","headers":{"authorization":"a"}},"response":{"status":200}})",
      kShopLine,
  };
  std::string out = "batch header";
  std::string expected = out;
  for (const std::string& r : records) {
    const size_t at = out.size();
    size_t id_at = 0, id_size = 0;
    const bool took = d.Decode(r, &out, &id_at, &id_size);
    const std::string tree = TreeText(r, o);
    if (r.find(R"({"response")") == 0) {
      EXPECT_FALSE(took);
      EXPECT_EQ(out.size(), at);
      continue;
    }
    ASSERT_TRUE(took) << r;
    ASSERT_FALSE(tree.empty());
    EXPECT_EQ(out.substr(at), tree) << r;
    EXPECT_EQ(id_at, at + 7);
    EXPECT_EQ(out.substr(id_at, id_size), tree.substr(7, id_size));
    expected += tree;
  }
  EXPECT_EQ(out, expected);
}

// Stable ids hashed in pairs (Decode with hash_later, as ingest's batch does it): every record's
// text, with redacted values (strings, objects, nested, in arrays) replaced after the hash, is
// what Decode alone writes, whichever record it is paired with, also when a waiting record's
// text moves (its framing rewritten) and records with their own id or declined ones come
// between. The request's last waiting record is hashed alone.
TEST(CanonicalTextTest, PairedHashesGiveTheTextsOfRecordsDecodedAlone) {
  std::vector<std::string> lines = ShopRecords(120);
  ASSERT_GE(lines.size(), 100u) << "examples/shop/traffic.py gave no records";
  lines.insert(lines.begin() + 7, R"({"id":"own-1","request":{"method":"GET","path":"/a","headers":{"authorization":"a"}},"response":{"status":200}})");
  lines.insert(lines.begin() + 20, R"({"response":{"status":200},"request":{"method":"GET","path":"/a"}})");  // declined
  lines.insert(lines.begin() + 31, R"({"request":{"method":"GET","path":"/a","headers":{"authorization":"Bearer \u0041"}},"response":{"status":200}})");
  const std::vector<std::vector<std::string>> path_sets = {
      kShopRedact, {}, {"request.body.password"}, {"response.body"}, {"request.body.items.sku", "client.ip"},
      {"request.*"}, {"request.headers.user-agent", "request.headers"}, {"request.headers.authorization", "client"},
      {"request.method", "request.path", "response.status", "gateway.kind"}};
  std::mt19937 rng(1729);
  size_t paired = 0, deferred = 0;
  for (const std::vector<std::string>& paths : path_sets) {
    for (size_t count : {lines.size(), lines.size() - 1, size_t{1}, size_t{2}}) {
      DecodeOptions o = Options(paths);
      CanonicalTextDecoder d(o), alone(o);
      std::string out = "batch header";
      std::vector<std::pair<size_t, std::string>> expected;  // each record's start in out, its text
      std::string later;
      size_t pending = 0;  // index into expected
      for (size_t i = 0; i < count; ++i) {
        std::string one;
        size_t id_at = 0, id_size = 0;
        const bool alone_took = alone.Decode(lines[i], &one, &id_at, &id_size);
        const size_t at = out.size();
        bool was_deferred = false, was_paired = false;
        char digits[32];
        const bool took = d.Decode(lines[i], &out, &id_at, &id_size, &later, &was_deferred, &was_paired, digits);
        ASSERT_EQ(took, alone_took) << lines[i];
        if (!took) {
          EXPECT_EQ(out.size(), at);
          continue;
        }
        if (was_paired) {
          ++paired;
          const size_t p = expected[pending].first;
          out.replace(p + 8, 32, digits, 32);
          later.clear();
        }
        expected.push_back({at, one});
        if (was_deferred) {
          pending = expected.size() - 1;
          ++deferred;
          if (rng() % 3 == 0) {  // its framing rewritten: the text moves
            const size_t shift = 1 + rng() % 5;
            out.insert(at, shift, '#');
            expected.back().first += shift;
          }
        }
      }
      if (!later.empty()) {
        char digits[32];
        Sha256Hex128To(later, digits);
        out.replace(expected[pending].first + 8, 32, digits, 32);
      }
      for (size_t k = 0; k < expected.size(); ++k) {
        const size_t end = k + 1 < expected.size() ? expected[k + 1].first : out.size();
        std::string got = out.substr(expected[k].first, end - expected[k].first);
        while (!got.empty() && got.back() == '#') got.pop_back();
        EXPECT_EQ(got, expected[k].second) << k << " of " << count << ", " << paths.size() << " paths";
      }
    }
  }
  EXPECT_GT(paired, 400u);
  EXPECT_GT(deferred, 400u);
}

}  // namespace
}  // namespace ec::pipeline
