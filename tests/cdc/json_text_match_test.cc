// IsJsonTextOf answers exactly "AppendJson(value) == text" whenever it says true, and says true
// for every value's own AppendJson text unless a string would be escaped or a number is not
// finite: checked on hand-picked traps and on random documents and random one-byte edits.
#include "cdc/json_text_match.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "base/arena.h"
#include "json/builder.h"
#include "json/document.h"
#include "json/writer.h"

namespace ec::cdc {
namespace {

json::Value Parse(std::string_view text, Arena* arena) {
  json::Value v;
  Status s = json::ParseInto(text, arena, &v);
  EXPECT_TRUE(s.ok()) << text << ": " << s.message();
  return v;
}

bool Agrees(const json::Value& v, std::string_view text) {
  std::string written;
  json::AppendJson(v, &written);
  return IsJsonTextOf(v, text) ? written == text : true;
}

TEST(JsonTextMatch, OwnTextMatches) {
  Arena arena(4096);
  for (const char* doc : {"null", "true", "false", "0", "-0", "24.0", "0.1", "1e21", "1.5e-7", "-12.75", "\"\"",
                          "\"caf\xc3\xa9\"", "[]", "{}", "[1,[2,[3]],{\"a\":{}}]",
                          R"({"customer":{"id":"c-1"},"items":[{"sku":"D4","price":0.5,"qty":3}],"currency":"EUR","id":"o-1000","status":"placed"})"}) {
    json::Value v = Parse(doc, &arena);
    std::string text;
    json::AppendJson(v, &text);
    EXPECT_TRUE(IsJsonTextOf(v, text)) << doc << " as " << text;
  }
}

TEST(JsonTextMatch, TrapsAnswerFalse) {
  Arena arena(4096);
  // A string holding a quote must not match the raw bytes of two strings.
  json::Value quoted = Parse(R"(["a\",\"b"])", &arena);
  EXPECT_FALSE(IsJsonTextOf(quoted, R"(["a","b"])"));
  // Escaped strings are left to the full comparison (false, even for their own text).
  json::Value escaped = Parse(R"({"k":"line\nbreak"})", &arena);
  EXPECT_FALSE(IsJsonTextOf(escaped, R"({"k":"line\nbreak"})"));
  // Member order is part of the text.
  EXPECT_FALSE(IsJsonTextOf(Parse(R"({"a":1,"b":2})", &arena), R"({"b":2,"a":1})"));
  // Prefixes, trailing bytes, other numbers, other kinds.
  EXPECT_FALSE(IsJsonTextOf(Parse("[1,2]", &arena), "[1,2"));
  EXPECT_FALSE(IsJsonTextOf(Parse("[1,2]", &arena), "[1,2]x"));
  EXPECT_FALSE(IsJsonTextOf(Parse("[1,2]", &arena), "[1,2,3]"));
  EXPECT_FALSE(IsJsonTextOf(Parse("0.1", &arena), "0.10000000000000002"));
  EXPECT_FALSE(IsJsonTextOf(Parse("1", &arena), "\"1\""));
  EXPECT_FALSE(IsJsonTextOf(Parse("\"1\"", &arena), "1"));
  EXPECT_FALSE(IsJsonTextOf(Parse("null", &arena), "nul"));
  EXPECT_FALSE(IsJsonTextOf(Parse("{}", &arena), "[]"));
  EXPECT_FALSE(IsJsonTextOf(json::Value::Number(std::nan("")), "null"));
  // A byte AppendQuoted escapes, at every position of strings of many lengths (the scan goes
  // eight bytes at a time), is never matched against its raw bytes; without it, it is.
  for (size_t len = 1; len <= 40; ++len) {
    for (size_t at = 0; at < len; ++at) {
      for (char special : {'"', '\\', '\n', '\x01', '\x1f', '\xED'}) {
        std::string raw(len, 'a');
        raw[at] = special;
        EXPECT_FALSE(IsJsonTextOf(json::Value::StringRef(raw), "\"" + raw + "\"")) << len << " " << at;
      }
      std::string plain(len, 'a');
      plain[at] = static_cast<char>(0x7f);  // copied as it is
      EXPECT_TRUE(IsJsonTextOf(json::Value::StringRef(plain), "\"" + plain + "\"")) << len << " " << at;
    }
  }
}

// Random documents: each matches its own text (unless it has escaped strings), and no random
// one-byte edit of the text gives a true answer that is wrong.
TEST(JsonTextMatch, RandomDocumentsAndEdits) {
  std::mt19937 rng(7);
  const char* strings[] = {"", "a", "id", "o-1000", "EUR", "x\"y", "tab\there", "caf\xc3\xa9", "/path"};
  std::function<void(int, std::string*)> gen = [&](int depth, std::string* out) {
    int kind = static_cast<int>(rng() % (depth > 3 ? 4 : 6));
    switch (kind) {
      case 0: *out += rng() % 2 ? "true" : (rng() % 2 ? "false" : "null"); break;
      case 1: {
        double d = static_cast<double>(static_cast<int>(rng() % 20001) - 10000) / (rng() % 3 == 0 ? 1 : 100);
        json::AppendJsNumber(d, out);
        break;
      }
      case 2:
      case 3: json::AppendQuoted(strings[rng() % std::size(strings)], out); break;
      case 4: {
        *out += '[';
        int n = static_cast<int>(rng() % 4);
        for (int i = 0; i < n; ++i) {
          if (i) *out += ',';
          gen(depth + 1, out);
        }
        *out += ']';
        break;
      }
      default: {
        *out += '{';
        int n = static_cast<int>(rng() % 4);
        for (int i = 0; i < n; ++i) {
          if (i) *out += ',';
          *out += "\"k" + std::to_string(i) + "\":";
          gen(depth + 1, out);
        }
        *out += '}';
      }
    }
  };
  int matched = 0;
  for (int round = 0; round < 2000; ++round) {
    Arena arena(4096);
    std::string doc;
    gen(0, &doc);
    json::Value v = Parse(doc, &arena);
    std::string text;
    json::AppendJson(v, &text);
    const bool has_escape = text.find('\\') != std::string::npos;
    EXPECT_EQ(IsJsonTextOf(v, text), !has_escape) << text;
    matched += !has_escape;
    for (int e = 0; e < 20; ++e) {
      std::string edited = text;
      size_t at = rng() % edited.size();
      const char bytes[] = "0123456789.-e\"[]{},:abnulltrue";
      edited[at] = bytes[rng() % (sizeof bytes - 1)];
      EXPECT_TRUE(Agrees(v, edited)) << text << " edited to " << edited;
      EXPECT_TRUE(Agrees(v, text.substr(0, at))) << text;
    }
  }
  EXPECT_GT(matched, 500);
}

}  // namespace
}  // namespace ec::cdc
