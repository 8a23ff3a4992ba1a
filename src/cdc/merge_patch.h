#pragma once
// RFC 7386 JSON Merge Patch: a PATCH without a response body gives
// after = MergePatch(before, request body).

#include "base/arena.h"
#include "json/value.h"

namespace ec::cdc {

// The result of applying `patch` to `target` (RFC 7386 section 2): a non-object patch replaces
// the target; object members set to null are removed; other members merge recursively.
// Member order: the target's members first, new ones in patch order. Storage in `arena`.
json::Value MergePatch(const json::Value& target, const json::Value& patch, Arena* arena);

}  // namespace ec::cdc
