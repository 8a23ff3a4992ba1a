#pragma once
// RFC 3339 times (time_util.cc; ParseRfc3339Ms and FormatRfc3339Ms are declared in processor.h).

#include <string_view>

namespace ec::pipeline {

// Whether ParseRfc3339Ms(text) gives a time, without computing it: ingest's canonical decoder
// only checks the time it keeps as given. For the canonical spelling
// ("YYYY-MM-DDTHH:MM:SS.mmmZ") the digits, separators and field ranges are all it tests (no
// day count: ~110 instructions less per exchange); any other text takes the general parse.
bool IsRfc3339Ms(std::string_view text);

}  // namespace ec::pipeline
