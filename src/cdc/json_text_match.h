#pragma once
// Whether a stored state's text is what json::AppendJson writes for a value, found without
// writing it: a read (GET) of an unchanged resource is most of the changelog stage's traffic,
// and serialising its state only to compare the text was the stage's largest cost.

#include <string_view>

#include "json/value.h"

namespace ec::cdc {

// True when AppendJson(value) would write exactly `text` (every state the stores hold is
// AppendJson output; numbers are compared as AppendJsNumber writes them). False when it would
// not, and also when unsure (a string that AppendJson would escape, a non-finite number): the
// caller then serialises and compares as before.
bool IsJsonTextOf(const json::Value& value, std::string_view text);

}  // namespace ec::cdc
