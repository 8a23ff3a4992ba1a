#pragma once
// Builds Values whose storage lives in an Arena (the only way to make arrays and objects).

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

  Arena* arena() const { return arena_; }

 private:
  Arena* arena_;
};

}  // namespace ec::json
