#include "cdc/merge_patch.h"

#include <new>

#include "json/builder.h"

namespace ec::cdc {

json::Value MergePatch(const json::Value& target, const json::Value& patch, Arena* arena) {
  if (!patch.is_object()) return patch;
  json::Builder b(arena);
  // The members are gathered in the arena (at most the target's plus the patch's), not in a
  // heap vector per object: a PATCH merges on the pipeline thread per exchange.
  const size_t most = static_cast<size_t>(target.size()) + patch.size();
  json::Member* members = arena->AllocateArray<json::Member>(most == 0 ? 1 : most);
  size_t n = 0;
  auto add = [&](std::string_view key, json::Value value) { new (&members[n++]) json::Member{key, value}; };
  if (target.is_object()) {
    for (const json::Member& m : target.object()) {
      const json::Value* p = patch.Find(m.key);
      if (p == nullptr) {
        add(m.key, m.value);
      } else if (!p->is_null()) {
        add(m.key, MergePatch(m.value, *p, arena));
      }
    }
  }
  for (const json::Member& m : patch.object()) {
    if (m.value.is_null()) continue;
    if (target.is_object() && target.Find(m.key) != nullptr) continue;
    // A new member: merging into "nothing" strips nulls from nested patch objects too.
    add(m.key, MergePatch(json::Value::Null(), m.value, arena));
  }
  return b.Object(std::span<const json::Member>(members, n), /*keys_stable=*/true);
}

}  // namespace ec::cdc
