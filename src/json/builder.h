#pragma once
// Builds Values whose storage lives in an Arena (the only way to make arrays and objects).

#include <cstring>
#include <new>
#include <span>
#include <string_view>

#include "base/arena.h"
#include "json/value.h"

namespace ec::json {

class Builder {
 public:
  explicit Builder(Arena* arena) : arena_(arena) {}

  // A string Value holding a copy of `s`.
  Value String(std::string_view s);
  // An array Value holding a copy of `elements`.
  Value Array(std::span<const Value> elements);
  // An object Value holding a copy of `members` (keys copied too unless `keys_stable`).
  // Duplicate keys: the last value wins, at the first key's position.
  Value Object(std::span<const Member> members, bool keys_stable = false);

  // As Array and Object (keys not copied), for a value whose AppendJson output is `text`,
  // which must outlive the Value (Value::known_text). An object whose keys are not unique is
  // built without it (its text is not what AppendJson writes for the merged object).
  Value ArrayWithText(std::span<const Value> elements, std::string_view text);
  Value ObjectWithText(std::span<const Member> members, std::string_view text);
  // As Object (keys not copied) and ObjectWithText for members whose keys the caller knows to
  // be unique (nothing to merge): the members are copied as they are, keys not compared.
  Value UniqueObject(std::span<const Member> members);
  // Inline: json::ParseCompactInto builds every object of a stored record here.
  Value UniqueObjectWithText(std::span<const Member> members, std::string_view text) {
    if (members.size() >= Value::kIndexedObjectMin) return MakeObject(members, /*keys_stable=*/true, &text);
    // The text's view, then the members as given: no duplicate to merge, no index to build.
    static_assert(sizeof(std::string_view) == 16 && sizeof(Member) == 32 && alignof(Member) <= 16);
    auto* block = static_cast<char*>(arena_->Allocate(16 + members.size_bytes(), alignof(Member)));
    new (block) std::string_view(text);
    auto* storage = reinterpret_cast<Member*>(block + 16);
    // Member by member (a few of them): a memcpy of a variable size was a call or a
    // `rep movsq`, whose start-up costs more than these copies.
    for (size_t i = 0; i < members.size(); ++i) {
      std::memcpy(static_cast<void*>(storage + i), &members[i], sizeof(Member));
    }
    Value v;
    v.kind_ = Kind::kObject;
    v.flags_ = Value::kHasText;
    v.size_ = static_cast<uint32_t>(members.size());
    v.obj_ = storage;
    return v;
  }

  // Members that may be written in place (InPlaceObject): objects with more carry an index.
  static constexpr size_t kMaxInPlaceMembers = Value::kIndexedObjectMin - 1;
  // An object of the `n` members (keys unique, n <= kMaxInPlaceMembers) the caller wrote at
  // `members`, in storage that lives as long as the Value and has 16 bytes of room before
  // `members`, where `text`'s view goes when it is given (see UniqueObjectWithText).
  static Value InPlaceObject(Member* members, size_t n, const std::string_view* text) {
    static_assert(sizeof(std::string_view) == 16);
    Value v;
    v.kind_ = Kind::kObject;
    v.size_ = static_cast<uint32_t>(n);
    v.obj_ = members;
    if (text != nullptr) {
      new (reinterpret_cast<char*>(members) - sizeof(std::string_view)) std::string_view(*text);
      v.flags_ = Value::kHasText;
    }
    return v;
  }

  Arena* arena() const { return arena_; }

 private:
  Value MakeObject(std::span<const Member> members, bool keys_stable, const std::string_view* text);
  Value MakeUniqueObject(std::span<const Member> members, const std::string_view* text);

  Arena* arena_;
};

}  // namespace ec::json
