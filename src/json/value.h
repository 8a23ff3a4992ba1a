#pragma once
// The shared value model: one immutable JSON tree that CEL and JSONata both read in place.
//
// A Value is 16 bytes and trivially copyable. Strings, arrays and objects point into storage
// owned by someone else, normally the Arena of a json::Document or of an evaluation; a Value is
// valid as long as that storage is. Numbers are doubles (the contract's JSON data model).
// Objects keep insertion order (JavaScript's JSON.parse order); duplicate keys are merged at
// build time, the last value winning at the first key's position, as JSON.parse does.

#include <cstdint>
#include <span>
#include <string_view>

namespace ec::json {

enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

// "null", "boolean", "number", "string", "array", "object".
std::string_view KindName(Kind kind);

struct Member;

class Value {
 public:
  constexpr Value() : num_(0) {}
  static constexpr Value Null() { return Value(); }
  static constexpr Value Bool(bool b) {
    Value v;
    v.kind_ = Kind::kBool;
    v.size_ = b ? 1 : 0;
    return v;
  }
  static constexpr Value Number(double d) {
    Value v;
    v.kind_ = Kind::kNumber;
    v.num_ = d;
    return v;
  }
  // `s` must outlive the Value (see Builder::String to copy it into an arena).
  static Value StringRef(std::string_view s) {
    Value v;
    v.kind_ = Kind::kString;
    v.size_ = static_cast<uint32_t>(s.size());
    v.str_ = s.data();
    return v;
  }

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_number() const { return kind_ == Kind::kNumber; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }

  bool bool_value() const { return size_ != 0; }
  double number() const { return num_; }
  std::string_view string() const { return {str_, size_}; }
  std::span<const Value> array() const { return {arr_, is_array() ? size_ : 0}; }
  std::span<const Member> object() const;
  // Elements of an array or members of an object; 0 otherwise.
  uint32_t size() const { return (is_array() || is_object()) ? size_ : 0; }

  // The member named `key`, or nullptr when absent or when this is not an object.
  const Value* Find(std::string_view key) const;
  // Array element `i`, or nullptr when out of range or not an array.
  const Value* At(size_t i) const { return is_array() && i < size_ ? arr_ + i : nullptr; }

  // For an array or object built with its text (Builder::ArrayWithText / ObjectWithText, which
  // json::ParseCompactInto uses for canonical input): exactly what json::AppendJson writes for
  // it, so writers copy it and comparisons can start with it. Empty otherwise.
  bool has_known_text() const { return (flags_ & kHasText) != 0; }
  std::string_view known_text() const {
    if ((flags_ & kHasText) == 0) return {};
    return reinterpret_cast<const std::string_view*>(static_cast<const void*>(arr_))[-1];
  }

 private:
  friend class Builder;
  // Objects with more members than this carry a sorted index for binary-search lookup.
  static constexpr uint32_t kIndexedObjectMin = 12;
  // flags_: the array's or object's storage is preceded by a std::string_view of its text.
  static constexpr uint8_t kHasText = 1;

  Kind kind_ = Kind::kNull;
  uint8_t flags_ = 0;  // in what was padding: a Value stays 16 bytes
  // The rest of the padding, zero: a Value returned in registers is then built from its
  // fields alone (with padding bytes of unspecified value the compiler kept them from
  // whatever register they were in, a few masks and ORs per Value the JSON parser returned).
  uint16_t reserved_ = 0;
  uint32_t size_ = 0;  // bool value, string length, element or member count
  union {
    double num_;
    const char* str_;
    const Value* arr_;
    const Member* obj_;  // followed in memory by a uint32_t index when size_ >= kIndexedObjectMin
  };
};

struct Member {
  std::string_view key;
  Value value;
};

inline std::span<const Member> Value::object() const {
  return {obj_, is_object() ? size_ : 0};
}

// Deep equality with JSON semantics: numbers by value, objects regardless of member order.
bool Equal(const Value& a, const Value& b);

}  // namespace ec::json
