#pragma once
// RFC 6902 JSON Patch: the `changes` of a changelog record (a patch from `before` to `after`)
// and applying a patch (tests check Apply(before, Diff(before, after)) == after).

#include <string>
#include <string_view>

#include "base/arena.h"
#include "base/status.h"
#include "json/value.h"

namespace ec::cdc {

// A patch (a JSON array of operations) that turns `before` into `after`. Objects are compared
// member by member (add/remove/replace per member, recursively); arrays of equal length
// element by element, otherwise the array is replaced whole (simple and always correct; not
// minimal). Equal documents give []. Storage in `arena`.
json::Value Diff(const json::Value& before, const json::Value& after, Arena* arena);

// Appends Diff(before, after) as JSON text (what AppendJson of it writes), without building
// it. `after_text` is AppendJson(after) when the caller has it (or empty): an operation that
// replaces the whole document copies it instead of serialising `after` again.
void AppendDiff(const json::Value& before, const json::Value& after, std::string_view after_text, std::string* out);

// Applies `patch` (add, remove, replace, move, copy, test) to `doc`. Errors: kInvalidArgument
// naming the operation index and what is wrong (bad pointer, missing target, failed test).
Result<json::Value> ApplyPatch(const json::Value& doc, const json::Value& patch, Arena* arena);

// "/a~1b/c~0d" for the tokens a/b and c~d (RFC 6901 escaping), appended to `*out`.
void AppendPointerToken(std::string_view token, std::string* out);

}  // namespace ec::cdc
