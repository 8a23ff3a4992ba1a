#pragma once
// Writing two JSON values that share most of their subtrees (an exchange and its redacted
// copy: Redact rebuilds only the objects on its paths) without serialising the shared parts
// twice: a shared subtree is written once and its bytes copied.

#include <string>

#include "json/value.h"

namespace ec::pipeline::internal {

// Appends json::AppendJson(a) to *a_out and json::AppendJson(b) to *b_out (exactly those
// bytes). Subtrees that are the same value in both (same kind and payload; for strings, arrays
// and objects the same storage) are serialised once and copied.
void AppendJsonTwice(const json::Value& a, const json::Value& b, std::string* a_out, std::string* b_out);

}  // namespace ec::pipeline::internal
