// The table of built-in functions: name, signature (validated before each call), arity.

#include "jsonata/functions.h"

#include <cmath>
#include <mutex>
#include <unordered_map>

#include "json/writer.h"

namespace ec::jsonata::internal {
namespace {

struct Def {
  const char* name;
  const char* sig;
  int arity;
  BuiltinFn fn;
};

const Def kDefs[] = {
    {"sum", "<a<n>:n>", 1, FnSum}, {"count", "<a:n>", 1, FnCount}, {"max", "<a<n>:n>", 1, FnMax},
    {"min", "<a<n>:n>", 1, FnMin}, {"average", "<a<n>:n>", 1, FnAverage},
    {"string", "<x-b?:s>", 1, FnString}, {"substring", "<s-nn?:s>", 3, FnSubstring},
    {"substringBefore", "<s-s:s>", 2, FnSubstringBefore}, {"substringAfter", "<s-s:s>", 2, FnSubstringAfter},
    {"lowercase", "<s-:s>", 1, FnLowercase}, {"uppercase", "<s-:s>", 1, FnUppercase},
    {"length", "<s-:n>", 1, FnLength}, {"trim", "<s-:s>", 1, FnTrim}, {"pad", "<s-ns?:s>", 3, FnPad},
    {"match", "<s-f<s:o>n?:a<o>>", 3, FnMatch}, {"contains", "<s-(sf):b>", 2, FnContains},
    {"replace", "<s-(sf)(sf)n?:s>", 4, FnReplace}, {"split", "<s-(sf)n?:a<s>>", 3, FnSplit},
    {"join", "<a<s>s?:s>", 2, FnJoin}, {"formatNumber", "<n-so?:s>", 3, FnFormatNumber},
    {"formatBase", "<n-n?:s>", 2, FnFormatBase}, {"formatInteger", "<n-s:s>", 2, FnFormatInteger},
    {"parseInteger", "<s-s:n>", 2, FnParseInteger}, {"number", "<(nsb)-:n>", 1, FnNumber},
    {"floor", "<n-:n>", 1, FnFloor}, {"ceil", "<n-:n>", 1, FnCeil}, {"round", "<n-n?:n>", 2, FnRound},
    {"abs", "<n-:n>", 1, FnAbs}, {"sqrt", "<n-:n>", 1, FnSqrt}, {"power", "<n-n:n>", 2, FnPower},
    {"random", "<:n>", 0, FnRandom}, {"boolean", "<x-:b>", 1, FnBoolean}, {"not", "<x-:b>", 1, FnNot},
    {"map", "<af>", 2, FnMap}, {"zip", "<a+>", 0, FnZip}, {"filter", "<af>", 2, FnFilter},
    {"single", "<af?>", 2, FnSingle}, {"reduce", "<afj?:j>", 3, FnReduce}, {"sift", "<o-f?:o>", 2, FnSift},
    {"keys", "<x-:a<s>>", 1, FnKeys}, {"lookup", "<x-s:x>", 2, FnLookup}, {"append", "<xx:a>", 2, FnAppend},
    {"exists", "<x:b>", 1, FnExists}, {"spread", "<x-:a<o>>", 1, FnSpread}, {"merge", "<a<o>:o>", 1, FnMerge},
    {"reverse", "<a:a>", 1, FnReverse}, {"each", "<o-f:a>", 2, FnEach}, {"error", "<s?:x>", 1, FnError},
    {"assert", "<bs?:x>", 2, FnAssert}, {"type", "<x:s>", 1, FnType}, {"sort", "<af?:a>", 2, FnSort},
    {"shuffle", "<a:a>", 1, FnShuffle}, {"distinct", "<x:x>", 1, FnDistinct},
    {"base64encode", "<s-:s>", 1, FnBase64Encode}, {"base64decode", "<s-:s>", 1, FnBase64Decode},
    {"encodeUrlComponent", "<s-:s>", 1, FnEncodeUrlComponent}, {"encodeUrl", "<s-:s>", 1, FnEncodeUrl},
    {"decodeUrlComponent", "<s-:s>", 1, FnDecodeUrlComponent}, {"decodeUrl", "<s-:s>", 1, FnDecodeUrl},
    {"eval", "<sx?:x>", 2, FnEval}, {"toMillis", "<s-s?:n>", 2, FnToMillis},
    {"fromMillis", "<n-s?s?:s>", 3, FnFromMillis}, {"clone", "<(oa)-:o>", 1, FnClone},
    {"now", "<s?s?:s>", 2, FnNow}, {"millis", "<:n>", 0, FnMillis},
};

struct Table {
  std::vector<std::unique_ptr<Builtin>> all;
  std::vector<std::unique_ptr<Func>> funcs;
  std::unordered_map<std::string_view, const Builtin*> by_name;
  Table() {
    for (const Def& d : kDefs) {
      auto b = std::make_unique<Builtin>();
      b->name = d.name;
      b->signature = d.sig;
      b->arity = d.arity;
      b->fn = d.fn;
      Error e;
      ParseSignature(d.sig, &b->sig, &e);
      funcs.push_back(std::make_unique<Func>());
      funcs.back()->kind = Func::kBuiltin;
      funcs.back()->builtin = b.get();
      b->func = funcs.back().get();
      by_name.emplace(d.name, b.get());
      all.push_back(std::move(b));
    }
  }
};

const Table& GetTable() {
  static const Table table;
  return table;
}

}  // namespace

const Builtin* FindBuiltin(std::string_view name) {
  const Table& t = GetTable();
  auto it = t.by_name.find(name);
  return it == t.by_name.end() ? nullptr : it->second;
}

bool JsTruthy(const Val& v) {
  switch (v.k) {
    case VK::kUndef: case VK::kNull: return false;
    case VK::kBool: return v.b();
    case VK::kNum: return v.d != 0 && !std::isnan(v.d);
    case VK::kStr: return v.n > 0;
    default: return true;
  }
}

std::vector<size_t> CodePoints(std::string_view s) {
  std::vector<size_t> cps;
  cps.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) cps.push_back(i);
  cps.push_back(s.size());
  return cps;
}

size_t Utf16Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) n++;
    if (c >= 0xF0) n++;  // astral code points are two UTF-16 units
  }
  return n;
}

Val StrVal(Evaluator& ev, const std::string& s) { return ev.CopyStr(s); }

std::string NumText(double d) {
  std::string s;
  json::AppendJsNumber(d, &s);
  return s;
}

}  // namespace ec::jsonata::internal
