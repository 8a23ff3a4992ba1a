#include "cel/value.h"

#include <cmath>
#include <cstring>

#include "cel/json_find.h"
#include "cel/ops.h"

namespace ec::cel {

Value Value::ListAt(uint32_t i) const {
  if (json_backed_) return FromJson(json_->array()[i]);
  return list_[i];
}

Value Value::MapKeyAt(uint32_t i) const {
  if (json_backed_) return String(json_->object()[i].key);
  return map_[i].key;
}

Value Value::MapValueAt(uint32_t i) const {
  if (json_backed_) return FromJson(json_->object()[i].value);
  return map_[i].value;
}

bool Value::MapFindString(std::string_view key, Value* out) const {
  if (json_backed_) {
    const json::Value* v = json_->Find(key);
    if (v == nullptr) return false;
    *out = FromJson(*v);
    return true;
  }
  for (uint32_t i = 0; i < size_; ++i) {
    const Value& k = map_[i].key;
    if (k.kind_ == Kind::kString && k.size_ == key.size() && std::memcmp(k.s_, key.data(), key.size()) == 0) {
      *out = map_[i].value;
      return true;
    }
  }
  return false;
}

bool Value::MapFind(const Value& key, Value* out) const {
  if (key.kind_ == Kind::kString) return MapFindString(key.string_value(), out);
  if (json_backed_) return false;  // JSON objects have string keys only
  for (uint32_t i = 0; i < size_; ++i) {
    if (map_[i].key.kind_ != Kind::kString && Equal(map_[i].key, key)) {
      *out = map_[i].value;
      return true;
    }
  }
  return false;
}

std::string_view TypeName(const Value& v) {
  switch (v.kind()) {
    case Kind::kNull: return "null_type";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kUint: return "uint";
    case Kind::kDouble: return "double";
    case Kind::kString: return "string";
    case Kind::kBytes: return "bytes";
    case Kind::kList: return "list";
    case Kind::kMap: return "map";
    case Kind::kTimestamp: return "google.protobuf.Timestamp";
    case Kind::kDuration: return "google.protobuf.Duration";
    case Kind::kType: return "type";
    case Kind::kOptional: return "optional_type";
    case Kind::kError: return "error";
  }
  return "unknown";
}

bool IsNumber(const Value& v) {
  return v.kind() == Kind::kInt || v.kind() == Kind::kUint || v.kind() == Kind::kDouble;
}

namespace {

// Compares int64 a with uint64 b.
Order CmpIntUint(int64_t a, uint64_t b) {
  if (a < 0) return Order::kLess;
  uint64_t ua = static_cast<uint64_t>(a);
  return ua < b ? Order::kLess : ua > b ? Order::kGreater : Order::kEqual;
}

Order Flip(Order o) {
  if (o == Order::kLess) return Order::kGreater;
  if (o == Order::kGreater) return Order::kLess;
  return o;
}

// Int/double and uint/double compare as doubles, as cel-go does (the conformance suite
// expects 2^63-1 < 2^63 to be false, since both round to the same double).
Order CmpDoubles(double x, double y) {
  if (x < y) return Order::kLess;
  if (x > y) return Order::kGreater;
  if (x == y) return Order::kEqual;
  return Order::kUnordered;
}
Order CmpIntDouble(int64_t a, double b) { return CmpDoubles(static_cast<double>(a), b); }
Order CmpUintDouble(uint64_t a, double b) { return CmpDoubles(static_cast<double>(a), b); }

template <typename T>
Order Cmp3(T a, T b) {
  return a < b ? Order::kLess : a > b ? Order::kGreater : Order::kEqual;
}

Order CmpBytes(std::string_view a, std::string_view b) {
  int c = a.compare(b);
  return c < 0 ? Order::kLess : c > 0 ? Order::kGreater : Order::kEqual;
}

}  // namespace

Order Compare(const Value& a, const Value& b) {
  Kind ka = a.kind(), kb = b.kind();
  if (ka == Kind::kDouble && kb == Kind::kDouble) {
    double x = a.double_value(), y = b.double_value();
    if (x < y) return Order::kLess;
    if (x > y) return Order::kGreater;
    if (x == y) return Order::kEqual;
    return Order::kUnordered;
  }
  switch (ka) {
    case Kind::kInt:
      if (kb == Kind::kInt) return Cmp3(a.int_value(), b.int_value());
      if (kb == Kind::kUint) return CmpIntUint(a.int_value(), b.uint_value());
      if (kb == Kind::kDouble) return CmpIntDouble(a.int_value(), b.double_value());
      break;
    case Kind::kUint:
      if (kb == Kind::kUint) return Cmp3(a.uint_value(), b.uint_value());
      if (kb == Kind::kInt) return Flip(CmpIntUint(b.int_value(), a.uint_value()));
      if (kb == Kind::kDouble) return CmpUintDouble(a.uint_value(), b.double_value());
      break;
    case Kind::kDouble:
      if (kb == Kind::kInt) return Flip(CmpIntDouble(b.int_value(), a.double_value()));
      if (kb == Kind::kUint) return Flip(CmpUintDouble(b.uint_value(), a.double_value()));
      break;
    case Kind::kString:
    case Kind::kBytes:
      if (kb == ka) return CmpBytes(a.string_value(), b.string_value());
      break;
    case Kind::kBool:
      if (kb == Kind::kBool) return Cmp3<int>(a.bool_value(), b.bool_value());
      break;
    case Kind::kTimestamp:
    case Kind::kDuration:
      if (kb == ka) {
        Order o = Cmp3(a.seconds(), b.seconds());
        return o != Order::kEqual ? o : Cmp3(a.nanos(), b.nanos());
      }
      break;
    default:
      break;
  }
  return Order::kNoOverload;
}

bool Equal(const Value& a, const Value& b) {
  Kind ka = a.kind(), kb = b.kind();
  if (ka == Kind::kDouble) {  // JSON numbers against literals: the common filter comparison
    if (kb == Kind::kDouble) return a.double_value() == b.double_value();
    if (kb == Kind::kInt) return a.double_value() == static_cast<double>(b.int_value());
  }
  if (ka == Kind::kString && kb == Kind::kString) {
    size_t n = a.size();
    if (n != b.size()) return false;
    const char* x = a.string_value().data();
    const char* y = b.string_value().data();
    return BytesEqual(x, y, n);
  }
  if (IsNumber(a) && IsNumber(b)) return Compare(a, b) == Order::kEqual;
  if (ka != kb) return false;
  switch (ka) {
    case Kind::kNull: return true;
    case Kind::kBool: return a.bool_value() == b.bool_value();
    case Kind::kBytes:
    case Kind::kType: return a.string_value() == b.string_value();
    case Kind::kTimestamp:
    case Kind::kDuration: return a.seconds() == b.seconds() && a.nanos() == b.nanos();
    case Kind::kList: {
      if (a.size() != b.size()) return false;
      for (uint32_t i = 0; i < a.size(); ++i)
        if (!Equal(a.ListAt(i), b.ListAt(i))) return false;
      return true;
    }
    case Kind::kMap: {
      if (a.size() != b.size()) return false;
      for (uint32_t i = 0; i < a.size(); ++i) {
        Value other;
        if (!b.MapFind(a.MapKeyAt(i), &other) || !Equal(a.MapValueAt(i), other)) return false;
      }
      return true;
    }
    case Kind::kOptional: {
      const Value* x = a.optional_value();
      const Value* y = b.optional_value();
      if (x == nullptr || y == nullptr) return x == y;
      return Equal(*x, *y);
    }
    default: return false;
  }
}

}  // namespace ec::cel
