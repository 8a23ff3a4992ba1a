#include "cdc/merge_patch.h"

#include <vector>

#include "json/builder.h"

namespace ec::cdc {

json::Value MergePatch(const json::Value& target, const json::Value& patch, Arena* arena) {
  if (!patch.is_object()) return patch;
  json::Builder b(arena);
  std::vector<json::Member> members;
  if (target.is_object()) {
    for (const json::Member& m : target.object()) {
      const json::Value* p = patch.Find(m.key);
      if (p == nullptr) {
        members.push_back(m);
      } else if (!p->is_null()) {
        members.push_back({m.key, MergePatch(m.value, *p, arena)});
      }
    }
  }
  for (const json::Member& m : patch.object()) {
    if (m.value.is_null()) continue;
    if (target.is_object() && target.Find(m.key) != nullptr) continue;
    // A new member: merging into "nothing" strips nulls from nested patch objects too.
    members.push_back({m.key, MergePatch(json::Value::Null(), m.value, arena)});
  }
  return b.Object(members, /*keys_stable=*/true);
}

}  // namespace ec::cdc
