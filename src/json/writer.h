#pragma once
// Writing Values as JSON text exactly as JavaScript's JSON.stringify does (the contract's rule
// for every JSON the product writes): shortest round-trip numbers, `25` not `25.0`.

#include <string>
#include <string_view>

#include "json/value.h"

namespace ec::json {

// Appends `v` as compact JSON. Non-finite numbers are written as `null`, like JSON.stringify.
void AppendJson(const Value& v, std::string* out);
std::string ToJson(const Value& v);
// Appends `v` indented by `indent` spaces per level (JSON.stringify(v, null, indent)).
void AppendJsonPretty(const Value& v, int indent, std::string* out);

// Appends `d` as JavaScript's Number.prototype.toString() does: 25, 0.1, 1e+21, 1.5e-7, NaN.
void AppendJsNumber(double d, std::string* out);
// Appends `s` as a quoted JSON string, escaped as JSON.stringify does.
void AppendQuoted(std::string_view s, std::string* out);
// True when AppendQuoted writes `s` unchanged between its quotes (no byte needs escaping): a
// stored JSON text can then be compared with `s` byte for byte.
bool QuotedAsIs(std::string_view s);

}  // namespace ec::json
