#include "json/builder.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <unordered_map>

namespace ec::json {

Value Builder::String(std::string_view s) { return Value::StringRef(arena_->CopyString(s)); }

Value Builder::Array(std::span<const Value> elements) {
  Value v;
  v.kind_ = Kind::kArray;
  v.size_ = static_cast<uint32_t>(elements.size());
  Value* storage = arena_->AllocateArray<Value>(elements.size());
  if (!elements.empty()) std::memcpy(static_cast<void*>(storage), elements.data(), elements.size_bytes());
  v.arr_ = storage;
  return v;
}

Value Builder::Object(std::span<const Member> members, bool keys_stable) {
  const size_t n_in = members.size();
  const bool large = n_in >= Value::kIndexedObjectMin;
  // Members, then (for large objects) the sorted index, in one allocation.
  size_t bytes = sizeof(Member) * n_in + (large ? sizeof(uint32_t) * n_in : 0);
  auto* storage = static_cast<Member*>(arena_->Allocate(bytes ? bytes : 1, alignof(Member)));
  uint32_t n = 0;
  // JSON.parse semantics for duplicate keys: the last value, at the first key's position.
  if (!large) {
    for (const Member& m : members) {
      uint32_t j = 0;
      while (j < n && storage[j].key != m.key) ++j;
      if (j < n) {
        storage[j].value = m.value;
      } else {
        new (&storage[n++]) Member{keys_stable ? m.key : arena_->CopyString(m.key), m.value};
      }
    }
  } else {
    std::unordered_map<std::string_view, uint32_t> seen;
    seen.reserve(n_in);
    for (const Member& m : members) {
      auto [it, fresh] = seen.try_emplace(m.key, n);
      if (!fresh) {
        storage[it->second].value = m.value;
      } else {
        new (&storage[n++]) Member{keys_stable ? m.key : arena_->CopyString(m.key), m.value};
      }
    }
    if (n >= Value::kIndexedObjectMin) {
      auto* index = reinterpret_cast<uint32_t*>(storage + n);  // where Value::Find looks
      for (uint32_t i = 0; i < n; ++i) index[i] = i;
      std::sort(index, index + n, [storage](uint32_t a, uint32_t b) { return storage[a].key < storage[b].key; });
    }
  }
  Value v;
  v.kind_ = Kind::kObject;
  v.size_ = n;
  v.obj_ = storage;
  return v;
}

}  // namespace ec::json
