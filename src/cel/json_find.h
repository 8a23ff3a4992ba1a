#pragma once
// Member lookup in a JSON object, tuned for the small objects of API exchanges (internal).

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "base/bytes_equal.h"
#include "json/value.h"

namespace ec::cel {

// Member `key` of JSON object `obj`, or nullptr. Small objects are scanned inline (length and
// first byte before memcmp); larger ones use their sorted index (json::Value::Find).
inline const json::Value* FindMember(const json::Value& obj, std::string_view key) {
  if (obj.size() >= 12) return obj.Find(key);
  for (const json::Member& m : obj.object()) {
    if (m.key.size() == key.size() && BytesEqual(m.key.data(), key.data(), key.size())) {
      return &m.value;
    }
  }
  return nullptr;
}

}  // namespace ec::cel

namespace ec::cel {

// FindMember that first tries the position where the key was found last time (`hint`, shared
// by all evaluations of one compiled key): records from one source usually share their shape,
// so most lookups are one length check and one short compare.
inline const json::Value* FindMemberHinted(const json::Value& obj, std::string_view key,
                                           std::atomic<uint32_t>* hint) {
  const json::Member* m = obj.object().data();
  uint32_t size = obj.size();
  uint32_t h = hint->load(std::memory_order_relaxed);
  if (h < size && m[h].key.size() == key.size() && BytesEqual(m[h].key.data(), key.data(), key.size())) {
    return &m[h].value;
  }
  const json::Value* v = FindMember(obj, key);
  if (v != nullptr) {
    auto at = static_cast<uint32_t>((reinterpret_cast<const char*>(v) - reinterpret_cast<const char*>(&m[0].value)) /
                                    sizeof(json::Member));
    hint->store(at, std::memory_order_relaxed);
  }
  return v;
}

}  // namespace ec::cel
