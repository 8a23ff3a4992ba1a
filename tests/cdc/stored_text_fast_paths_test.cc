// The PATCH fast path over the stored text gives exactly the general path's bytes:
// SplitCanonicalObject (canonical_text.h) accepts a text only when it is AppendJson's text of
// its own parse; MergeFlatPatchText's (merge_patch_text.h) merged text and changelog patch equal
// AppendJson(MergePatch(parse(before), patch)) and AppendDiff of the two. On hand-picked cases,
// random documents (nested, escapes, numbers in many forms, duplicate keys, whitespace, members
// added, removed and patched) and random one-byte edits of them.
#include "cdc/merge_patch_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>

#include "base/arena.h"
#include "cdc/canonical_text.h"
#include "cdc/json_patch.h"
#include "cdc/merge_patch.h"
#include "json/builder.h"
#include "json/document.h"
#include "json/writer.h"

namespace ec::cdc {
namespace {

bool TryParse(std::string_view text, Arena* arena, json::Value* v) { return json::ParseInto(text, arena, v).ok(); }

// What the general path writes: the merged text and the changelog's patch.
struct General {
  std::string after, changes;
};
General GeneralMerge(const json::Value& before, const json::Value& patch, Arena* arena) {
  General g;
  const json::Value after = MergePatch(before, patch, arena);
  json::AppendJson(after, &g.after);
  AppendDiff(before, after, g.after, &g.changes);
  return g;
}

// Checks the fast path against the general one; returns whether the fast path answered.
bool Agrees(std::string_view before_text, std::string_view patch_text, bool* ok) {
  Arena arena(4096);
  json::Value before, patch;
  *ok = true;
  if (!TryParse(patch_text, &arena, &patch)) return false;
  std::vector<TextMember> members;
  std::string after = "prefix", changes = "old";
  const bool fast = MergeFlatPatchText(before_text, patch, &members, &after, &changes);
  if (!fast) {
    EXPECT_EQ(after, "prefix") << before_text;  // nothing written when declined
    return false;
  }
  if (!TryParse(before_text, &arena, &before)) {
    ADD_FAILURE() << "answered for a text that does not parse: " << before_text;
    *ok = false;
    return true;
  }
  const General g = GeneralMerge(before, patch, &arena);
  EXPECT_EQ(after, "prefix" + g.after) << before_text << " + " << patch_text;
  EXPECT_EQ(changes, g.changes) << before_text << " + " << patch_text;
  *ok = after == "prefix" + g.after && changes == g.changes;
  return true;
}

TEST(MergePatchText, HandPicked) {
  const std::string order =
      R"({"customer":{"id":"c-1"},"items":[{"sku":"D4","price":0.5,"qty":2}],"currency":"EUR","id":"o-1009","status":"placed"})";
  struct Case {
    std::string before, patch;
    bool fast;
  } cases[] = {
      {order, R"({"status":"paid"})", true},
      {order, R"({"status":"placed"})", true},  // unchanged: "[]"
      {order, R"({"status":null})", true},      // remove
      {order, R"({"note":"gift","status":"paid","gone":null})", true},  // add, replace, absent null
      {order, R"({})", true},
      {order, R"({"a/b~c":1.25,"q\"k":-3,"é":true})", true},  // keys escaped in the pointer and the text
      {R"({})", R"({"a":1})", true},
      {R"({"a":0})", R"({"a":-0})", true},  // -0 is written 0 and Equal to 0
      {R"({"a":1,"a":2})", R"({"b":1})", false},              // duplicate keys: the parse merges them
      {R"({"o":{"x":1,"x":2}})", R"({"b":1})", false},        // also nested
      {R"({"a":"line\nbreak"})", R"({"b":1})", false},        // an escape
      {R"({"a": 1})", R"({"b":1})", false},                   // whitespace
      {R"({"a":1.50})", R"({"b":1})", false},                 // a number JavaScript writes otherwise
      {R"({"a":1e21})", R"({"b":1})", false},
      {R"({"a":-0})", R"({"b":1})", false},
      {R"({"a":"caf)" "\xc3\xa9" R"("})", R"({"b":1})", false},  // not ASCII
      {R"([1,2])", R"({"b":1})", false},                      // not an object
      {"null", R"({"b":1})", false},
      {order, R"({"customer":{"id":"c-2"}})", false},        // a nested merge
      {order, R"({"items":[]})", false},                      // an array (diffed element by element)
      {order, R"("text")", false},                            // a patch that is not an object
      {R"({"a":1)", R"({"b":1})", false},                     // truncated
      {R"({"a":1}x)", R"({"b":1})", false},
  };
  for (const Case& c : cases) {
    bool ok = true;
    EXPECT_EQ(Agrees(c.before, c.patch, &ok), c.fast) << c.before << " + " << c.patch;
    EXPECT_TRUE(ok);
  }
  // A non-finite number (written "null", but not Equal to null) is left to the general path.
  Arena arena(1024);
  json::Builder b(&arena);
  const json::Member nan_member[] = {{"a", json::Value::Number(std::nan(""))}};
  const json::Value nan_patch = b.Object(nan_member, /*keys_stable=*/true);
  std::vector<TextMember> members;
  std::string after, changes;
  EXPECT_FALSE(MergeFlatPatchText(R"({"a":null})", nan_patch, &members, &after, &changes));
  EXPECT_TRUE(after.empty());
}

// Random JSON text, not always canonical: whitespace, escapes, duplicate keys, numbers in many
// forms, non-ASCII strings.
class RandomJson {
 public:
  explicit RandomJson(uint32_t seed) : rng_(seed) {}

  std::string Object(int depth, bool flat) {
    std::string out = "{";
    const int n = Pick(7);
    for (int i = 0; i < n; ++i) {
      if (i > 0) out += ',';
      Space(&out);
      out += Key();
      Space(&out);
      out += ':';
      Space(&out);
      out += flat ? Scalar() : Value(depth + 1);
    }
    out += '}';
    return out;
  }

  std::string Value(int depth) {
    const int k = Pick(depth > 3 ? 6 : 9);
    if (k < 6) return Scalar();
    if (k < 8) return Object(depth, false);
    std::string out = "[";
    const int n = Pick(4);
    for (int i = 0; i < n; ++i) {
      if (i > 0) out += ',';
      out += Value(depth + 1);
    }
    return out + "]";
  }

  std::string Scalar() {
    switch (Pick(8)) {
      case 0: return "null";
      case 1: return Pick(2) ? "true" : "false";
      case 2:
      case 3: return Number();
      default: return String();
    }
  }

  std::string Number() {
    static const char* const kForms[] = {"0", "-0", "1", "-7", "42", "0.5", "12.75", "1.50", "1.0", "1e2", "1E+2",
                                         "1e21", "1e-7", "1.5e-7", "0.000001", "0.0000001", "123456789012345",
                                         "1234567890123456", "9007199254740993", "0.30000000000000004",
                                         "0.1", "-0.0", "100000000000000000000", "1000000000000000000000",
                                         "3.14159", "-2.5e3", "0.000123", "99.99"};
    if (Pick(3) == 0) {
      // A random decimal: digits, a point, digits.
      std::string t = Pick(4) == 0 ? "-" : "";
      const int a = 1 + Pick(9), b = Pick(8);
      for (int i = 0; i < a; ++i) t += static_cast<char>('0' + Pick(10));
      if (b > 0) {
        t += '.';
        for (int i = 0; i < b; ++i) t += static_cast<char>('0' + Pick(10));
      }
      return t;
    }
    return kForms[Pick(sizeof kForms / sizeof kForms[0])];
  }

  std::string String() {
    static const char* const kForms[] = {"\"\"", "\"paid\"", "\"o-1009\"", "\"a\\nb\"", "\"q\\\"\"", "\"caf\xc3\xa9\"",
                                         "\"\\u0041\"", "\"a/b\"", "\"~\"", "\"long string past sixteen bytes\""};
    return kForms[Pick(sizeof kForms / sizeof kForms[0])];
  }

  std::string Key() {
    static const char* const kKeys[] = {"\"id\"", "\"status\"", "\"items\"", "\"a\"", "\"b\"", "\"c\"", "\"\"",
                                        "\"a/b\"", "\"t~1\"", "\"status\"", "\"q\\\"k\"", "\"\\u0062\"",
                                        "\"a key longer than sixteen\""};
    return kKeys[Pick(sizeof kKeys / sizeof kKeys[0])];
  }

  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint32_t>(n)); }

 private:
  void Space(std::string* out) {
    if (Pick(40) == 0) *out += ' ';
  }
  std::mt19937 rng_;
};

// Accepted texts are exactly their parse's AppendJson text, on random texts and one-byte edits.
TEST(CanonicalText, AcceptsOnlyItsParsesOwnText) {
  RandomJson gen(17);
  int accepted = 0, canonical_objects = 0;
  std::vector<TextMember> members;
  for (int i = 0; i < 20000; ++i) {
    std::string text = gen.Object(0, false);
    for (int edit = 0; edit < 3; ++edit) {
      if (edit == 1) {
        Arena arena(4096);
        json::Value v;
        if (!TryParse(text, &arena, &v)) break;
        std::string canon;
        json::AppendJson(v, &canon);
        text = canon;
      } else if (edit == 2 && !text.empty()) {
        text[gen.Pick(static_cast<int>(text.size()))] = "{}[]\",:0-.e\\ a\x80"[gen.Pick(16)];
      }
      if (!SplitCanonicalObject(text, &members)) continue;
      ++accepted;
      Arena arena(4096);
      json::Value v;
      ASSERT_TRUE(TryParse(text, &arena, &v)) << text;
      std::string canon;
      json::AppendJson(v, &canon);
      ASSERT_EQ(canon, text);
      ASSERT_EQ(members.size(), v.size()) << text;
      for (size_t k = 0; k < members.size(); ++k) {
        EXPECT_EQ(members[k].key, v.object()[k].key);
        std::string member_text;
        json::AppendJson(v.object()[k].value, &member_text);
        EXPECT_EQ(members[k].value, member_text);
      }
      canonical_objects += edit == 1;
    }
  }
  EXPECT_GT(canonical_objects, 3000);  // the fast path is not empty
  EXPECT_GT(accepted, canonical_objects);
}

// A number text is accepted only when it is what AppendJsNumber writes for its value; the
// shop's integers and prices are accepted.
TEST(CanonicalText, NumbersAcceptedAreJavaScriptsText) {
  std::mt19937_64 rng(5);
  int accepted = 0;
  for (int i = 0; i < 300000; ++i) {
    std::string t;
    if (rng() % 4 == 0) t += '-';
    const int a = static_cast<int>(rng() % 23), b = static_cast<int>(rng() % 19);
    for (int k = 0; k < a; ++k) t += static_cast<char>('0' + (k == 0 && rng() % 3 ? 1 + rng() % 9 : rng() % 10));
    if (a == 0) t += '0';
    if (b > 0 && rng() % 2) {
      t += '.';
      for (int k = 0; k < b; ++k) t += static_cast<char>('0' + (k < 6 && rng() % 2 ? 0 : rng() % 10));
    }
    if (!IsCanonicalNumberText(t)) continue;
    ++accepted;
    std::string written;
    json::AppendJsNumber(std::strtod(t.c_str(), nullptr), &written);
    ASSERT_EQ(written, t);
  }
  EXPECT_GT(accepted, 10000);
  for (int i = 0; i < 100000; ++i) {
    std::string written;
    const double price = static_cast<double>(rng() % 1000000) / 100.0;
    json::AppendJsNumber(price, &written);
    EXPECT_TRUE(IsCanonicalNumberText(written)) << written;
    written.clear();
    json::AppendJsNumber(-static_cast<double>(rng() % 1000000000000000ull), &written);
    EXPECT_TRUE(IsCanonicalNumberText(written)) << written;
  }
  for (const char* t : {"", "-", "01", "1.", ".5", "1e5", "1.0", "-0", "0.0000001", "1000000000000000000000", "+1",
                        "1234567890123456", "0x10", "1-"}) {
    EXPECT_FALSE(IsCanonicalNumberText(t)) << t;
  }
}

// The merge's bytes against the general path's on random states and patches, canonical or not.
TEST(MergePatchText, RandomStatesAndPatchesGiveTheGeneralBytes) {
  RandomJson gen(99);
  int fast = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string before = gen.Object(0, false);
    {
      Arena arena(4096);
      json::Value v;
      if (gen.Pick(5) != 0 && TryParse(before, &arena, &v)) {
        before.clear();
        json::AppendJson(v, &before);  // mostly canonical, as stored states are
      }
    }
    if (gen.Pick(20) == 0 && !before.empty()) before[gen.Pick(static_cast<int>(before.size()))] = ',';
    const std::string patch = gen.Pick(8) == 0 ? gen.Value(1) : gen.Object(0, /*flat=*/gen.Pick(6) != 0);
    bool ok = true;
    fast += Agrees(before, patch, &ok);
    ASSERT_TRUE(ok);
  }
  EXPECT_GT(fast, 5000);
}

}  // namespace
}  // namespace ec::cdc
