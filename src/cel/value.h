#pragma once
// The CEL runtime value: 16 bytes, trivially copyable, never owning.
//
// Strings, lists and maps point into storage owned elsewhere: the compiled Program (constants),
// the caller's json::Value tree (input, read in place, never copied) or the EvalContext arena
// (values built during an evaluation). A Value is valid as long as that storage is.
// JSON arrays and objects are CEL lists and maps whose elements are converted on access
// (a JSON number is a CEL double), so reading a field allocates nothing.

#include <cstdint>
#include <string_view>

#include "base/error_code.h"
#include "json/value.h"

namespace ec::cel {

enum class Kind : uint8_t {
  kNull,
  kBool,
  kInt,
  kUint,
  kDouble,
  kString,
  kBytes,
  kList,
  kMap,
  kTimestamp,
  kDuration,
  kType,
  kOptional,
  kError,
};

class Value;
struct MapEntry;

// An evaluation error carried as a value (errors are values in CEL).
struct ErrorInfo {
  ErrorCode code;
  std::string_view message;
};

class Value {
 public:
  constexpr Value() : i_(0) {}

  static constexpr Value Null() { return Value(); }
  static constexpr Value Bool(bool b) { return Value(Kind::kBool, static_cast<int64_t>(b)); }
  static constexpr Value Int(int64_t i) { return Value(Kind::kInt, i); }
  static constexpr Value Uint(uint64_t u) {
    Value v(Kind::kUint, 0);
    v.u_ = u;
    return v;
  }
  static constexpr Value Double(double d) {
    Value v(Kind::kUint, 0);
    v.kind_ = Kind::kDouble;
    v.d_ = d;
    return v;
  }
  // `s` must outlive the Value.
  static Value String(std::string_view s) { return Str(Kind::kString, s); }
  static Value Bytes(std::string_view s) { return Str(Kind::kBytes, s); }
  // A type value named `name` ("int", "list", "google.protobuf.Timestamp", ...); static storage.
  static Value Type(std::string_view name) { return Str(Kind::kType, name); }
  static Value List(const Value* elements, uint32_t n) {
    Value v(Kind::kList, 0);
    v.size_ = n;
    v.list_ = elements;
    return v;
  }
  // `entries` hold distinct keys (checked by whoever builds the map).
  static Value Map(const MapEntry* entries, uint32_t n) {
    Value v(Kind::kMap, 0);
    v.size_ = n;
    v.map_ = entries;
    return v;
  }
  // Seconds since the Unix epoch plus nanoseconds in [0, 1e9).
  static Value Timestamp(int64_t seconds, int32_t nanos) { return Time(Kind::kTimestamp, seconds, nanos); }
  // seconds and nanos have the same sign (or are zero); |nanos| < 1e9.
  static Value Duration(int64_t seconds, int32_t nanos) { return Time(Kind::kDuration, seconds, nanos); }
  // optional.none() when `inner` is nullptr, else optional.of(*inner); `inner` must outlive.
  static Value Optional(const Value* inner) {
    Value v(Kind::kOptional, 0);
    v.opt_ = inner;
    return v;
  }
  static Value Error(const ErrorInfo* info) {
    Value v(Kind::kError, 0);
    v.err_ = info;
    return v;
  }
  // A JSON value read in place: null/bool/number/string become the CEL scalar (number ->
  // double, string -> string view); arrays and objects become lists and maps backed by `j`.
  static Value FromJson(const json::Value& j) {
    switch (j.kind()) {
      case json::Kind::kNull: return Null();
      case json::Kind::kBool: return Bool(j.bool_value());
      case json::Kind::kNumber: return Double(j.number());
      case json::Kind::kString: return String(j.string());
      default: {
        Value v(j.is_array() ? Kind::kList : Kind::kMap, 0);
        v.json_backed_ = true;
        v.size_ = j.size();
        v.json_ = &j;
        return v;
      }
    }
  }

  Kind kind() const { return kind_; }
  bool is_error() const { return kind_ == Kind::kError; }
  bool is_json() const { return json_backed_; }

  bool bool_value() const { return i_ != 0; }
  int64_t int_value() const { return i_; }
  uint64_t uint_value() const { return u_; }
  double double_value() const { return d_; }
  std::string_view string_value() const { return {s_, size_}; }  // string, bytes, type name
  int64_t seconds() const { return i_; }
  int32_t nanos() const { return static_cast<int32_t>(size_); }
  const Value* optional_value() const { return opt_; }  // nullptr when none
  const ErrorInfo& error() const { return *err_; }

  // Lists and maps (native or JSON-backed).
  uint32_t size() const { return size_; }
  Value ListAt(uint32_t i) const;
  // The i-th key / value of a map, in iteration order.
  Value MapKeyAt(uint32_t i) const;
  Value MapValueAt(uint32_t i) const;
  // The value under `key` (CEL key equality: 1 == 1u == 1.0), or false when absent.
  bool MapFind(const Value& key, Value* out) const;
  // Faster lookup of a string key.
  bool MapFindString(std::string_view key, Value* out) const;

  const json::Value* json() const { return json_; }
  const Value* native_list() const { return list_; }
  const MapEntry* native_map() const { return map_; }

 private:
  constexpr Value(Kind k, int64_t i) : kind_(k), i_(i) {}
  static Value Str(Kind k, std::string_view s) {
    Value v(k, 0);
    v.size_ = static_cast<uint32_t>(s.size());
    v.s_ = s.data();
    return v;
  }
  static Value Time(Kind k, int64_t s, int32_t n) {
    Value v(k, s);
    v.size_ = static_cast<uint32_t>(n);
    return v;
  }

  Kind kind_ = Kind::kNull;
  bool json_backed_ = false;  // list/map over a json::Value
  uint32_t size_ = 0;         // string length, element count, or nanos
  union {
    int64_t i_;
    uint64_t u_;
    double d_;
    const char* s_;
    const Value* list_;
    const MapEntry* map_;
    const json::Value* json_;
    const Value* opt_;
    const ErrorInfo* err_;
  };
};

struct MapEntry {
  Value key;
  Value value;
};

// "int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type",
// "google.protobuf.Timestamp", "google.protobuf.Duration", "optional_type", "error".
std::string_view TypeName(const Value& v);

}  // namespace ec::cel
