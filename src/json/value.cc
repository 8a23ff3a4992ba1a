#include "json/value.h"

#include <algorithm>

#include "base/bytes_equal.h"

namespace ec::json {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kBool: return "boolean";
    case Kind::kNumber: return "number";
    case Kind::kString: return "string";
    case Kind::kArray: return "array";
    case Kind::kObject: return "object";
  }
  return "unknown";
}

const Value* Value::Find(std::string_view key) const {
  if (kind_ != Kind::kObject) return nullptr;
  if (size_ < kIndexedObjectMin) {
    for (uint32_t i = 0; i < size_; ++i) {
      const Member& m = obj_[i];
      // The matching key's bytes without a memcmp call (BytesEqual: keys are short); each
      // lookup that finds its member compared it by a call.
      if (m.key.size() == key.size() && BytesEqual(m.key.data(), key.data(), key.size())) return &m.value;
    }
    return nullptr;
  }
  const auto* index = reinterpret_cast<const uint32_t*>(obj_ + size_);
  const uint32_t* it = std::lower_bound(index, index + size_, key,
                                        [this](uint32_t i, std::string_view k) { return obj_[i].key < k; });
  if (it != index + size_ && obj_[*it].key == key) return &obj_[*it].value;
  return nullptr;
}

bool Equal(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kNull: return true;
    case Kind::kBool: return a.bool_value() == b.bool_value();
    case Kind::kNumber: return a.number() == b.number();
    case Kind::kString: return a.string() == b.string();
    case Kind::kArray: {
      if (a.size() != b.size()) return false;
      // The same text is the same value (the converse need not hold: member order).
      if (a.has_known_text() && b.has_known_text() && a.known_text() == b.known_text()) return true;
      for (uint32_t i = 0; i < a.size(); ++i)
        if (!Equal(a.array()[i], b.array()[i])) return false;
      return true;
    }
    case Kind::kObject: {
      if (a.size() != b.size()) return false;
      if (a.has_known_text() && b.has_known_text() && a.known_text() == b.known_text()) return true;
      for (const Member& m : a.object()) {
        const Value* other = b.Find(m.key);
        if (other == nullptr || !Equal(m.value, *other)) return false;
      }
      return true;
    }
  }
  return false;
}

}  // namespace ec::json
