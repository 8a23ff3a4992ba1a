#pragma once
// A PATCH without a response body, merged into the stored state's text: the stored members
// are copied, the patched ones written, and the changelog's patch written in the same walk,
// instead of parsing the stored state, merging Values (merge_patch.h), serialising the result
// and diffing two Values (json_patch.h). About 8% of the shop's exchanges are such PATCHes.

#include <string>
#include <string_view>
#include <vector>

#include "cdc/canonical_text.h"
#include "json/value.h"

namespace ec::cdc {

// When `before_text` is an object SplitCanonicalObject accepts and `patch` is an object whose
// members are all null, booleans, finite numbers or strings: appends to `*after_text` what
// json::AppendJson(MergePatch(before, patch)) writes, sets `*changes` to what
// AppendDiff(before, that) writes, and returns true. Otherwise returns false and writes
// nothing (the caller takes the general path). `*members` is scratch.
bool MergeFlatPatchText(std::string_view before_text, const json::Value& patch, std::vector<TextMember>* members,
                        std::string* after_text, std::string* changes);

}  // namespace ec::cdc
