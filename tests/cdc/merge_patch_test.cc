// RFC 7386 Appendix A: every example of the spec.
#include <gtest/gtest.h>

#include "cdc/merge_patch.h"
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
  const char* target;
  const char* patch;
  const char* result;
};

TEST(MergePatch, Rfc7386AppendixA) {
  const Case cases[] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"a":"foo"})", R"(null)", R"(null)"},
      {R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const Case& c : cases) {
    Arena arena;
    json::Value got = MergePatch(P(c.target, &arena), P(c.patch, &arena), &arena);
    // Exact text: member order matters too (target members first, new ones in patch order).
    EXPECT_EQ(json::ToJson(got), c.result) << c.target << " + " << c.patch;
  }
}

TEST(MergePatch, KeepsTargetOrderAndNestedMerges) {
  Arena arena;
  json::Value got = MergePatch(P(R"({"id":"o-1","status":"placed","shipping":{"carrier":"DHL","eta":"mon"}})", &arena),
                               P(R"({"status":"shipped","shipping":{"eta":null,"tracking":"T1"}})", &arena), &arena);
  EXPECT_EQ(json::ToJson(got), R"({"id":"o-1","status":"shipped","shipping":{"carrier":"DHL","tracking":"T1"}})");
}

}  // namespace
}  // namespace ec::cdc
