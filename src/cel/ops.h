#pragma once
// Value semantics shared by the evaluator and the library: equality, ordering, type names.

#include "cel/value.h"

namespace ec::cel {

// CEL equality: numbers compare by value across int/uint/double; different kinds are unequal;
// lists and maps compare deeply (map order ignored). Never an error.
bool Equal(const Value& a, const Value& b);

enum class Order : int8_t { kLess = -1, kEqual = 0, kGreater = 1, kUnordered = 2, kNoOverload = 3 };
// CEL ordering for numbers (across kinds), strings, bytes, bools, timestamps and durations.
// kUnordered when a NaN is involved; kNoOverload for other kinds or mixed non-numeric kinds.
Order Compare(const Value& a, const Value& b);

bool IsNumber(const Value& v);

}  // namespace ec::cel
