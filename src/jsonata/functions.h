#pragma once
// Built-in functions, one file per family; functions.cc holds the table that names them.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "jsonata/eval.h"

namespace ec::jsonata::internal {

#define EC_JSONATA_FN(name) Val name(Evaluator& ev, std::span<Val> args, Val input, Frame* env)

inline Val Arg(std::span<Val> args, size_t i) { return i < args.size() ? args[i] : Val(); }
// JavaScript truthiness (used where jsonata-js tests a JS value directly).
bool JsTruthy(const Val& v);
// Code point boundaries of a UTF-8 string: offsets of each code point plus the end.
std::vector<size_t> CodePoints(std::string_view s);
// UTF-16 length of a UTF-8 prefix (JavaScript string indexes).
size_t Utf16Length(std::string_view s);
Val StrVal(Evaluator& ev, const std::string& s);
// A double as an integer without undefined behaviour: NaN -> 0, clamped to +-1e15.
inline int64_t ClampInt(double d) {
  if (!(d == d)) return 0;
  if (d > 1e15) return static_cast<int64_t>(1e15);
  if (d < -1e15) return static_cast<int64_t>(-1e15);
  return static_cast<int64_t>(d);
}
std::string NumText(double d);  // JavaScript Number.prototype.toString()

// strings
EC_JSONATA_FN(FnString); EC_JSONATA_FN(FnSubstring); EC_JSONATA_FN(FnSubstringBefore);
EC_JSONATA_FN(FnSubstringAfter); EC_JSONATA_FN(FnLowercase); EC_JSONATA_FN(FnUppercase);
EC_JSONATA_FN(FnLength); EC_JSONATA_FN(FnTrim); EC_JSONATA_FN(FnPad); EC_JSONATA_FN(FnContains);
EC_JSONATA_FN(FnSplit); EC_JSONATA_FN(FnJoin); EC_JSONATA_FN(FnMatch); EC_JSONATA_FN(FnReplace);
EC_JSONATA_FN(FnBase64Encode); EC_JSONATA_FN(FnBase64Decode); EC_JSONATA_FN(FnEncodeUrlComponent);
EC_JSONATA_FN(FnEncodeUrl); EC_JSONATA_FN(FnDecodeUrlComponent); EC_JSONATA_FN(FnDecodeUrl);
EC_JSONATA_FN(FnEval);
// numbers, aggregation, booleans
EC_JSONATA_FN(FnNumber); EC_JSONATA_FN(FnAbs); EC_JSONATA_FN(FnFloor); EC_JSONATA_FN(FnCeil);
EC_JSONATA_FN(FnRound); EC_JSONATA_FN(FnPower); EC_JSONATA_FN(FnSqrt); EC_JSONATA_FN(FnRandom);
EC_JSONATA_FN(FnSum); EC_JSONATA_FN(FnMax); EC_JSONATA_FN(FnMin); EC_JSONATA_FN(FnAverage);
EC_JSONATA_FN(FnCount); EC_JSONATA_FN(FnBoolean); EC_JSONATA_FN(FnNot); EC_JSONATA_FN(FnExists);
// arrays, objects, higher-order
EC_JSONATA_FN(FnAppend); EC_JSONATA_FN(FnReverse); EC_JSONATA_FN(FnSort); EC_JSONATA_FN(FnShuffle);
EC_JSONATA_FN(FnDistinct); EC_JSONATA_FN(FnZip); EC_JSONATA_FN(FnKeys); EC_JSONATA_FN(FnLookup);
EC_JSONATA_FN(FnSpread); EC_JSONATA_FN(FnMerge); EC_JSONATA_FN(FnEach); EC_JSONATA_FN(FnSift);
EC_JSONATA_FN(FnError); EC_JSONATA_FN(FnAssert); EC_JSONATA_FN(FnType); EC_JSONATA_FN(FnMap);
EC_JSONATA_FN(FnFilter); EC_JSONATA_FN(FnSingle); EC_JSONATA_FN(FnReduce); EC_JSONATA_FN(FnClone);
// formatting
EC_JSONATA_FN(FnFormatNumber); EC_JSONATA_FN(FnFormatBase); EC_JSONATA_FN(FnFormatInteger);
EC_JSONATA_FN(FnParseInteger);
// dates
EC_JSONATA_FN(FnNow); EC_JSONATA_FN(FnMillis); EC_JSONATA_FN(FnFromMillis); EC_JSONATA_FN(FnToMillis);

}  // namespace ec::jsonata::internal
