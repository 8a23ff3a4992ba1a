#include "json/builder.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <unordered_map>

namespace ec::json {
namespace {

inline uint64_t KeyBit(std::string_view key) {
  uint32_t h = static_cast<uint32_t>(key.size());
  if (!key.empty()) {
    h = h * 37 + static_cast<unsigned char>(key.front()) * 7 + static_cast<unsigned char>(key.back());
  }
  return uint64_t{1} << (h & 63);
}

}  // namespace

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

Value Builder::ArrayWithText(std::span<const Value> elements, std::string_view text) {
  static_assert(sizeof(std::string_view) == sizeof(Value) && alignof(std::string_view) <= alignof(Value));
  // The text's view, then the elements (Value::known_text reads the view before them).
  Value* storage = arena_->AllocateArray<Value>(elements.size() + 1);
  new (storage) std::string_view(text);
  ++storage;
  if (!elements.empty()) std::memcpy(static_cast<void*>(storage), elements.data(), elements.size_bytes());
  Value v;
  v.kind_ = Kind::kArray;
  v.flags_ = Value::kHasText;
  v.size_ = static_cast<uint32_t>(elements.size());
  v.arr_ = storage;
  return v;
}

Value Builder::Object(std::span<const Member> members, bool keys_stable) {
  return MakeObject(members, keys_stable, nullptr);
}

Value Builder::ObjectWithText(std::span<const Member> members, std::string_view text) {
  return MakeObject(members, /*keys_stable=*/true, &text);
}

Value Builder::UniqueObject(std::span<const Member> members) { return MakeUniqueObject(members, nullptr); }

Value Builder::MakeUniqueObject(std::span<const Member> members, const std::string_view* text) {
  if (members.size() >= Value::kIndexedObjectMin) return MakeObject(members, /*keys_stable=*/true, text);
  // [the text's view,] then the members as given: no duplicate to merge, no index to build.
  const size_t prefix = text != nullptr ? sizeof(std::string_view) : 0;
  const size_t bytes = prefix + members.size_bytes();
  auto* block = static_cast<char*>(arena_->Allocate(bytes ? bytes : 1, alignof(Member)));
  if (text != nullptr) new (block) std::string_view(*text);
  auto* storage = reinterpret_cast<Member*>(block + prefix);
  if (!members.empty()) std::memcpy(static_cast<void*>(storage), members.data(), members.size_bytes());
  Value v;
  v.kind_ = Kind::kObject;
  if (text != nullptr) v.flags_ = Value::kHasText;
  v.size_ = static_cast<uint32_t>(members.size());
  v.obj_ = storage;
  return v;
}

Value Builder::MakeObject(std::span<const Member> members, bool keys_stable, const std::string_view* text) {
  static_assert(sizeof(std::string_view) % alignof(Member) == 0);
  const size_t n_in = members.size();
  const bool large = n_in >= Value::kIndexedObjectMin;
  // [the text's view,] members, then (for large objects) the sorted index, in one allocation.
  const size_t prefix = text != nullptr ? sizeof(std::string_view) : 0;
  size_t bytes = prefix + sizeof(Member) * n_in + (large ? sizeof(uint32_t) * n_in : 0);
  auto* block = static_cast<char*>(arena_->Allocate(bytes ? bytes : 1, alignof(Member)));
  if (text != nullptr) new (block) std::string_view(*text);
  auto* storage = reinterpret_cast<Member*>(block + prefix);
  uint32_t n = 0;
  // JSON.parse semantics for duplicate keys: the last value, at the first key's position.
  if (!large) {
    // Each key sets one bit of `seen` picked from its length and first and last bytes: keys
    // with different bits differ, so only a key whose bit is already set is compared with the
    // members before it (comparing every key with all before it cost ~1.5% of the pipeline
    // thread: every object of every stored record is built here).
    uint64_t seen = 0;
    for (const Member& m : members) {
      const uint64_t bit = KeyBit(m.key);
      uint32_t j = n;
      if ((seen & bit) != 0) {
        j = 0;
        while (j < n && storage[j].key != m.key) ++j;
      }
      seen |= bit;
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
  // Duplicates were merged: AppendJson writes the merged object, not the text.
  if (text != nullptr && n == n_in) v.flags_ = Value::kHasText;
  v.size_ = n;
  v.obj_ = storage;
  return v;
}

}  // namespace ec::json
