// The standard library: operators' arithmetic, conversions, strings, timestamps/durations,
// optionals. The one table of functions (kBuiltins) is at the end of this file.

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "cel/eval.h"
#include "cel/library.h"
#include "cel/ops.h"
#include "cel/simple_regex.h"
#include "cel/text.h"
#include "cel/time.h"

namespace ec::cel {

namespace {

Value Overflow(Evaluator& e, std::string_view op) { return e.Error(std::string("integer overflow in ") + std::string(op)); }

Value MakeTimestamp(Evaluator& e, int64_t s, int64_t n) {
  NormalizeTimestamp(&s, &n);
  if (s < kMinTimestampSeconds || s > kMaxTimestampSeconds) return e.Error("timestamp out of range");
  return Value::Timestamp(s, static_cast<int32_t>(n));
}

Value MakeDuration(Evaluator& e, int64_t s, int64_t n) {
  if (!NormalizeDuration(&s, &n) || s > kMaxDurationSeconds || s < -kMaxDurationSeconds)
    return e.Error("duration out of range");
  return Value::Duration(s, static_cast<int32_t>(n));
}

}  // namespace

Value Add(Evaluator& e, const Value& a, const Value& b) {
  Kind ka = a.kind(), kb = b.kind();
  if (ka == kb) {
    switch (ka) {
      case Kind::kInt: {
        int64_t r;
        if (__builtin_add_overflow(a.int_value(), b.int_value(), &r)) return Overflow(e, "_+_");
        return Value::Int(r);
      }
      case Kind::kUint: {
        uint64_t r;
        if (__builtin_add_overflow(a.uint_value(), b.uint_value(), &r)) return Overflow(e, "_+_");
        return Value::Uint(r);
      }
      case Kind::kDouble: return Value::Double(a.double_value() + b.double_value());
      case Kind::kString:
      case Kind::kBytes: {
        size_t n = a.size() + b.size();
        char* p = static_cast<char*>(e.arena().Allocate(n ? n : 1, 1));
        std::memcpy(p, a.string_value().data(), a.size());
        std::memcpy(p + a.size(), b.string_value().data(), b.size());
        return ka == Kind::kString ? Value::String({p, n}) : Value::Bytes({p, n});
      }
      case Kind::kList: {
        size_t n = a.size() + b.size();
        Value* p = e.arena().AllocateArray<Value>(n ? n : 1);
        for (uint32_t i = 0; i < a.size(); ++i) p[i] = a.ListAt(i);
        for (uint32_t i = 0; i < b.size(); ++i) p[a.size() + i] = b.ListAt(i);
        return Value::List(p, static_cast<uint32_t>(n));
      }
      case Kind::kDuration: {
        int64_t s;
        if (__builtin_add_overflow(a.seconds(), b.seconds(), &s)) return e.Error("duration out of range");
        return MakeDuration(e, s, int64_t{a.nanos()} + b.nanos());
      }
      default: break;
    }
  }
  if (ka == Kind::kTimestamp && kb == Kind::kDuration)
    return MakeTimestamp(e, a.seconds() + b.seconds(), int64_t{a.nanos()} + b.nanos());
  if (ka == Kind::kDuration && kb == Kind::kTimestamp)
    return MakeTimestamp(e, a.seconds() + b.seconds(), int64_t{a.nanos()} + b.nanos());
  Value args[2] = {a, b};
  return e.NoOverload("_+_", args, 2);
}

Value Subtract(Evaluator& e, const Value& a, const Value& b) {
  Kind ka = a.kind(), kb = b.kind();
  if (ka == kb) {
    switch (ka) {
      case Kind::kInt: {
        int64_t r;
        if (__builtin_sub_overflow(a.int_value(), b.int_value(), &r)) return Overflow(e, "_-_");
        return Value::Int(r);
      }
      case Kind::kUint: {
        uint64_t r;
        if (__builtin_sub_overflow(a.uint_value(), b.uint_value(), &r)) return Overflow(e, "_-_");
        return Value::Uint(r);
      }
      case Kind::kDouble: return Value::Double(a.double_value() - b.double_value());
      case Kind::kDuration: {
        int64_t s;
        if (__builtin_sub_overflow(a.seconds(), b.seconds(), &s)) return e.Error("duration out of range");
        return MakeDuration(e, s, int64_t{a.nanos()} - b.nanos());
      }
      case Kind::kTimestamp:
        return MakeDuration(e, a.seconds() - b.seconds(), int64_t{a.nanos()} - b.nanos());
      default: break;
    }
  }
  if (ka == Kind::kTimestamp && kb == Kind::kDuration)
    return MakeTimestamp(e, a.seconds() - b.seconds(), int64_t{a.nanos()} - b.nanos());
  Value args[2] = {a, b};
  return e.NoOverload("_-_", args, 2);
}

Value Multiply(Evaluator& e, const Value& a, const Value& b) {
  if (a.kind() == b.kind()) {
    switch (a.kind()) {
      case Kind::kInt: {
        int64_t r;
        if (__builtin_mul_overflow(a.int_value(), b.int_value(), &r)) return Overflow(e, "_*_");
        return Value::Int(r);
      }
      case Kind::kUint: {
        uint64_t r;
        if (__builtin_mul_overflow(a.uint_value(), b.uint_value(), &r)) return Overflow(e, "_*_");
        return Value::Uint(r);
      }
      case Kind::kDouble: return Value::Double(a.double_value() * b.double_value());
      default: break;
    }
  }
  Value args[2] = {a, b};
  return e.NoOverload("_*_", args, 2);
}

Value Divide(Evaluator& e, const Value& a, const Value& b) {
  if (a.kind() == b.kind()) {
    switch (a.kind()) {
      case Kind::kInt:
        if (b.int_value() == 0) return e.Error("division by zero");
        if (a.int_value() == INT64_MIN && b.int_value() == -1) return Overflow(e, "_/_");
        return Value::Int(a.int_value() / b.int_value());
      case Kind::kUint:
        if (b.uint_value() == 0) return e.Error("division by zero");
        return Value::Uint(a.uint_value() / b.uint_value());
      case Kind::kDouble: return Value::Double(a.double_value() / b.double_value());
      default: break;
    }
  }
  Value args[2] = {a, b};
  return e.NoOverload("_/_", args, 2);
}

Value Modulo(Evaluator& e, const Value& a, const Value& b) {
  if (a.kind() == b.kind()) {
    switch (a.kind()) {
      case Kind::kInt:
        if (b.int_value() == 0) return e.Error("modulus by zero");
        if (a.int_value() == INT64_MIN && b.int_value() == -1) return Overflow(e, "_%_");
        return Value::Int(a.int_value() % b.int_value());
      case Kind::kUint:
        if (b.uint_value() == 0) return e.Error("modulus by zero");
        return Value::Uint(a.uint_value() % b.uint_value());
      default: break;
    }
  }
  Value args[2] = {a, b};
  return e.NoOverload("_%_", args, 2);
}

Value Negate(Evaluator& e, const Value& a) {
  if (a.kind() == Kind::kInt) {
    if (a.int_value() == INT64_MIN) return Overflow(e, "-_");
    return Value::Int(-a.int_value());
  }
  if (a.kind() == Kind::kDouble) return Value::Double(-a.double_value());
  return e.NoOverload("-_", &a, 1);
}

Value ToCelString(Evaluator& e, const Value& v) {
  switch (v.kind()) {
    case Kind::kString: return v;
    case Kind::kInt: return e.NewString(std::to_string(v.int_value()));
    case Kind::kUint: return e.NewString(std::to_string(v.uint_value()));
    case Kind::kDouble: return e.NewString(FormatDouble(v.double_value()));
    case Kind::kBool: return Value::String(v.bool_value() ? "true" : "false");
    case Kind::kBytes:
      if (!IsValidUtf8(v.string_value())) return e.Error("invalid UTF-8 in bytes, cannot convert to string");
      return Value::String(v.string_value());
    case Kind::kTimestamp: return e.NewString(FormatTimestamp(v.seconds(), v.nanos()));
    case Kind::kDuration: return e.NewString(FormatDuration(v.seconds(), v.nanos()));
    case Kind::kType: return Value::String(v.string_value());
    case Kind::kNull: return Value::String("null");
    default: return e.NoOverload("string", &v, 1);
  }
}

namespace lib {

Value Size(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n == 1) {
    switch (a[0].kind()) {
      case Kind::kString: return Value::Int(static_cast<int64_t>(CodePointCount(a[0].string_value())));
      case Kind::kBytes: return Value::Int(a[0].size());
      case Kind::kList:
      case Kind::kMap: return Value::Int(a[0].size());
      default: break;
    }
  }
  return e.NoOverload("size", a, n);
}

bool Strings2(const Value* a, size_t n) {
  return n == 2 && a[0].kind() == Kind::kString && a[1].kind() == Kind::kString;
}

Value Contains(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (!Strings2(a, n)) return e.NoOverload("contains", a, n);
  return Value::Bool(a[0].string_value().find(a[1].string_value()) != std::string_view::npos);
}
Value StartsWith(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (!Strings2(a, n)) return e.NoOverload("startsWith", a, n);
  return Value::Bool(a[0].string_value().substr(0, a[1].size()) == a[1].string_value());
}
Value EndsWith(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (!Strings2(a, n)) return e.NoOverload("endsWith", a, n);
  std::string_view s = a[0].string_value(), x = a[1].string_value();
  return Value::Bool(s.size() >= x.size() && s.substr(s.size() - x.size()) == x);
}

Value Matches(Evaluator& e, const Node* call, const Value* a, size_t n) {
  if (!Strings2(a, n)) return e.NoOverload("matches", a, n);
  re2::StringPiece text(a[0].string_value().data(), a[0].size());
  if (call->simple_regex) return Value::Bool(call->simple_regex->PartialMatch(a[0].string_value()));
  if (call->regex) return Value::Bool(RE2::PartialMatch(text, *call->regex));
  RE2::Options opts;
  opts.set_log_errors(false);
  RE2 re(re2::StringPiece(a[1].string_value().data(), a[1].size()), opts);
  if (!re.ok()) return e.Error("invalid regular expression '" + std::string(a[1].string_value()) + "': " + re.error());
  return Value::Bool(RE2::PartialMatch(text, re));
}

Value Int(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1) return e.NoOverload("int", a, n);
  const Value& v = a[0];
  switch (v.kind()) {
    case Kind::kInt: return v;
    case Kind::kUint:
      if (v.uint_value() > INT64_MAX) return e.Error("range error: uint value out of int range");
      return Value::Int(static_cast<int64_t>(v.uint_value()));
    case Kind::kDouble: {
      double d = v.double_value();
      // Both ends exclusive: the nearest doubles to INT64_MIN/MAX do not round-trip.
      if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0)) return e.Error("range error: double out of int range");
      return Value::Int(static_cast<int64_t>(d));
    }
    case Kind::kString: {
      std::string s(v.string_value());
      errno = 0;
      char* end = nullptr;
      long long r = std::strtoll(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0' || errno == ERANGE || std::isspace(static_cast<unsigned char>(s[0])))
        return e.Error("cannot convert string '" + s + "' to int");
      return Value::Int(r);
    }
    case Kind::kTimestamp: return Value::Int(v.seconds());
    default: return e.NoOverload("int", a, n);
  }
}

Value Uint(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1) return e.NoOverload("uint", a, n);
  const Value& v = a[0];
  switch (v.kind()) {
    case Kind::kUint: return v;
    case Kind::kInt:
      if (v.int_value() < 0) return e.Error("range error: negative int cannot convert to uint");
      return Value::Uint(static_cast<uint64_t>(v.int_value()));
    case Kind::kDouble: {
      double d = v.double_value();
      if (!(d > -1.0 && d < 18446744073709551616.0)) return e.Error("range error: double out of uint range");
      return Value::Uint(static_cast<uint64_t>(d));
    }
    case Kind::kString: {
      std::string s(v.string_value());
      errno = 0;
      char* end = nullptr;
      if (s.empty() || s[0] == '-' || s[0] == '+' || std::isspace(static_cast<unsigned char>(s[0])))
        return e.Error("cannot convert string '" + s + "' to uint");
      unsigned long long r = std::strtoull(s.c_str(), &end, 10);
      if (*end != '\0' || errno == ERANGE) return e.Error("cannot convert string '" + s + "' to uint");
      return Value::Uint(r);
    }
    default: return e.NoOverload("uint", a, n);
  }
}

Value Double(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1) return e.NoOverload("double", a, n);
  const Value& v = a[0];
  switch (v.kind()) {
    case Kind::kDouble: return v;
    case Kind::kInt: return Value::Double(static_cast<double>(v.int_value()));
    case Kind::kUint: return Value::Double(static_cast<double>(v.uint_value()));
    case Kind::kString: {
      std::string s(v.string_value());
      if (s == "NaN") return Value::Double(std::nan(""));
      if (s == "Infinity" || s == "+Infinity" || s == "inf" || s == "+inf") return Value::Double(INFINITY);
      if (s == "-Infinity" || s == "-inf") return Value::Double(-INFINITY);
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (s.empty() || *end != '\0' || std::isspace(static_cast<unsigned char>(s[0])) ||
          s.find_first_of("xXpP") != std::string::npos || s.find("nf") != std::string::npos ||
          s.find("an") != std::string::npos)
        return e.Error("cannot convert string '" + s + "' to double");
      return Value::Double(d);
    }
    default: return e.NoOverload("double", a, n);
  }
}

Value String(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1) return e.NoOverload("string", a, n);
  return ToCelString(e, a[0]);
}

Value Bytes(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n == 1 && a[0].kind() == Kind::kBytes) return a[0];
  if (n == 1 && a[0].kind() == Kind::kString) return Value::Bytes(a[0].string_value());
  return e.NoOverload("bytes", a, n);
}

Value Bool(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n == 1 && a[0].kind() == Kind::kBool) return a[0];
  if (n == 1 && a[0].kind() == Kind::kString) {
    std::string_view s = a[0].string_value();
    if (s == "1" || s == "t" || s == "true" || s == "TRUE" || s == "True") return Value::Bool(true);
    if (s == "0" || s == "f" || s == "false" || s == "FALSE" || s == "False") return Value::Bool(false);
    return e.Error("type conversion error: cannot convert '" + std::string(s) + "' to bool");
  }
  return e.NoOverload("bool", a, n);
}

Value Dyn(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1) return e.NoOverload("dyn", a, n);
  return a[0];
}

Value Type(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1) return e.NoOverload("type", a, n);
  return Value::Type(TypeName(a[0]));
}

Value Timestamp(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1) return e.NoOverload("timestamp", a, n);
  const Value& v = a[0];
  if (v.kind() == Kind::kTimestamp) return v;
  if (v.kind() == Kind::kInt) return MakeTimestamp(e, v.int_value(), 0);
  if (v.kind() == Kind::kString) {
    int64_t s;
    int32_t ns;
    if (!ParseTimestamp(v.string_value(), &s, &ns))
      return e.Error("cannot parse timestamp '" + std::string(v.string_value()) + "' (expected RFC 3339, years 0001-9999)");
    return Value::Timestamp(s, ns);
  }
  return e.NoOverload("timestamp", a, n);
}

Value Duration(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1) return e.NoOverload("duration", a, n);
  const Value& v = a[0];
  if (v.kind() == Kind::kDuration) return v;
  if (v.kind() == Kind::kInt) return MakeDuration(e, v.int_value(), 0);
  if (v.kind() == Kind::kString) {
    int64_t s;
    int32_t ns;
    if (!ParseDuration(v.string_value(), &s, &ns))
      return e.Error("cannot parse duration '" + std::string(v.string_value()) + "' (expected e.g. \"1h30m\", \"1.5s\")");
    return Value::Duration(s, ns);
  }
  return e.NoOverload("duration", a, n);
}

// Timestamp and duration accessors. `which` selects the field.
enum class Field { kFullYear, kMonth, kDayOfMonth, kDate, kDayOfWeek, kDayOfYear, kHours, kMinutes, kSeconds, kMillis };

Value TimeField(Evaluator& e, const Value* a, size_t n, Field f, const char* name) {
  if (n >= 1 && n <= 2 && a[0].kind() == Kind::kTimestamp && (n == 1 || a[1].kind() == Kind::kString)) {
    int64_t secs = a[0].seconds();
    if (n == 2) {
      int64_t off;
      if (!ZoneOffset(a[1].string_value(), secs, &off))
        return e.Error("unknown time zone '" + std::string(a[1].string_value()) + "'");
      secs += off;
    }
    CivilTime t = ToCivil(secs);
    switch (f) {
      case Field::kFullYear: return Value::Int(t.year);
      case Field::kMonth: return Value::Int(t.month - 1);
      case Field::kDayOfMonth: return Value::Int(t.day - 1);
      case Field::kDate: return Value::Int(t.day);
      case Field::kDayOfWeek: return Value::Int(t.day_of_week);
      case Field::kDayOfYear: return Value::Int(t.day_of_year);
      case Field::kHours: return Value::Int(t.hour);
      case Field::kMinutes: return Value::Int(t.minute);
      case Field::kSeconds: return Value::Int(t.second);
      case Field::kMillis: return Value::Int(a[0].nanos() / 1000000);
    }
  }
  if (n == 1 && a[0].kind() == Kind::kDuration) {
    int64_t s = a[0].seconds();
    switch (f) {
      case Field::kHours: return Value::Int(s / 3600);
      case Field::kMinutes: return Value::Int(s / 60);
      case Field::kSeconds: return Value::Int(s);
      case Field::kMillis: return Value::Int(a[0].nanos() / 1000000);  // the sub-second part
      default: break;
    }
  }
  return e.NoOverload(name, a, n);
}

#define EC_TIME_FN(fn, field, name) \
  Value fn(Evaluator& e, const Node*, const Value* a, size_t n) { return TimeField(e, a, n, Field::field, name); }
EC_TIME_FN(GetFullYear, kFullYear, "getFullYear")
EC_TIME_FN(GetMonth, kMonth, "getMonth")
EC_TIME_FN(GetDayOfMonth, kDayOfMonth, "getDayOfMonth")
EC_TIME_FN(GetDate, kDate, "getDate")
EC_TIME_FN(GetDayOfWeek, kDayOfWeek, "getDayOfWeek")
EC_TIME_FN(GetDayOfYear, kDayOfYear, "getDayOfYear")
EC_TIME_FN(GetHours, kHours, "getHours")
EC_TIME_FN(GetMinutes, kMinutes, "getMinutes")
EC_TIME_FN(GetSeconds, kSeconds, "getSeconds")
EC_TIME_FN(GetMilliseconds, kMillis, "getMilliseconds")
#undef EC_TIME_FN

// --- optionals

Value OptionalOf(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1) return e.NoOverload("optional.of", a, n);
  return e.NewOptional(a[0]);
}
Value OptionalNone(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 0) return e.NoOverload("optional.none", a, n);
  return Value::Optional(nullptr);
}

bool IsZeroValue(const Value& v) {
  switch (v.kind()) {
    case Kind::kNull: return true;
    case Kind::kBool: return !v.bool_value();
    case Kind::kInt: return v.int_value() == 0;
    case Kind::kUint: return v.uint_value() == 0;
    case Kind::kDouble: return v.double_value() == 0;
    case Kind::kString:
    case Kind::kBytes:
    case Kind::kList:
    case Kind::kMap: return v.size() == 0;
    case Kind::kTimestamp:
    case Kind::kDuration: return v.seconds() == 0 && v.nanos() == 0;
    default: return false;
  }
}

Value OptionalOfNonZero(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1) return e.NoOverload("optional.ofNonZeroValue", a, n);
  if (IsZeroValue(a[0])) return Value::Optional(nullptr);
  return e.NewOptional(a[0]);
}
Value HasValue(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1 || a[0].kind() != Kind::kOptional) return e.NoOverload("hasValue", a, n);
  return Value::Bool(a[0].optional_value() != nullptr);
}
Value OptValue(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1 || a[0].kind() != Kind::kOptional) return e.NoOverload("value", a, n);
  if (a[0].optional_value() == nullptr) return e.Error("optional.none() dereference");
  return *a[0].optional_value();
}

// --- encoders

Value Base64Enc(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1 || a[0].kind() != Kind::kBytes) return e.NoOverload("base64.encode", a, n);
  return e.NewString(Base64Encode(a[0].string_value()));
}
Value Base64Dec(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1 || a[0].kind() != Kind::kString) return e.NoOverload("base64.decode", a, n);
  std::string out;
  if (!Base64Decode(a[0].string_value(), &out)) return e.Error("invalid base64 text");
  return e.NewBytes(out);
}

}  // namespace lib

namespace {

// The one table of library functions: name, call styles, implementation. Sorted by name.
constexpr Builtin kBuiltins[] = {
    {"base64.decode", kGlobalStyle, lib::Base64Dec},
    {"base64.encode", kGlobalStyle, lib::Base64Enc},
    {"bool", kGlobalStyle, lib::Bool},
    {"bytes", kGlobalStyle, lib::Bytes},
    {"charAt", kMemberStyle, lib::CharAt},
    {"contains", kMemberStyle, lib::Contains},
    {"double", kGlobalStyle, lib::Double},
    {"duration", kGlobalStyle, lib::Duration},
    {"dyn", kGlobalStyle, lib::Dyn},
    {"endsWith", kMemberStyle, lib::EndsWith},
    {"format", kMemberStyle, lib::Format},
    {"getDate", kMemberStyle, lib::GetDate},
    {"getDayOfMonth", kMemberStyle, lib::GetDayOfMonth},
    {"getDayOfWeek", kMemberStyle, lib::GetDayOfWeek},
    {"getDayOfYear", kMemberStyle, lib::GetDayOfYear},
    {"getFullYear", kMemberStyle, lib::GetFullYear},
    {"getHours", kMemberStyle, lib::GetHours},
    {"getMilliseconds", kMemberStyle, lib::GetMilliseconds},
    {"getMinutes", kMemberStyle, lib::GetMinutes},
    {"getMonth", kMemberStyle, lib::GetMonth},
    {"getSeconds", kMemberStyle, lib::GetSeconds},
    {"hasValue", kMemberStyle, lib::HasValue},
    {"indexOf", kMemberStyle, lib::IndexOf},
    {"int", kGlobalStyle, lib::Int},
    {"join", kMemberStyle, lib::Join},
    {"lastIndexOf", kMemberStyle, lib::LastIndexOf},
    {"lowerAscii", kMemberStyle, lib::LowerAscii},
    {"matches", kGlobalStyle | kMemberStyle, lib::Matches},
    {"math.abs", kGlobalStyle, lib::MathAbs},
    {"math.bitAnd", kGlobalStyle, lib::MathBitAnd},
    {"math.bitNot", kGlobalStyle, lib::MathBitNot},
    {"math.bitOr", kGlobalStyle, lib::MathBitOr},
    {"math.bitShiftLeft", kGlobalStyle, lib::MathBitShiftLeft},
    {"math.bitShiftRight", kGlobalStyle, lib::MathBitShiftRight},
    {"math.bitXor", kGlobalStyle, lib::MathBitXor},
    {"math.ceil", kGlobalStyle, lib::MathCeil},
    {"math.floor", kGlobalStyle, lib::MathFloor},
    {"math.greatest", kGlobalStyle, lib::MathGreatest},
    {"math.isFinite", kGlobalStyle, lib::MathIsFinite},
    {"math.isInf", kGlobalStyle, lib::MathIsInf},
    {"math.isNaN", kGlobalStyle, lib::MathIsNaN},
    {"math.least", kGlobalStyle, lib::MathLeast},
    {"math.round", kGlobalStyle, lib::MathRound},
    {"math.sign", kGlobalStyle, lib::MathSign},
    {"math.sqrt", kGlobalStyle, lib::MathSqrt},
    {"math.trunc", kGlobalStyle, lib::MathTrunc},
    {"optional.none", kGlobalStyle, lib::OptionalNone},
    {"optional.of", kGlobalStyle, lib::OptionalOf},
    {"optional.ofNonZeroValue", kGlobalStyle, lib::OptionalOfNonZero},
    {"replace", kMemberStyle, lib::Replace},
    {"reverse", kMemberStyle, lib::Reverse},
    {"size", kGlobalStyle | kMemberStyle, lib::Size},
    {"split", kMemberStyle, lib::Split},
    {"startsWith", kMemberStyle, lib::StartsWith},
    {"string", kGlobalStyle, lib::String},
    {"strings.quote", kGlobalStyle, lib::Quote},
    {"substring", kMemberStyle, lib::Substring},
    {"timestamp", kGlobalStyle, lib::Timestamp},
    {"trim", kMemberStyle, lib::Trim},
    {"type", kGlobalStyle, lib::Type},
    {"uint", kGlobalStyle, lib::Uint},
    {"upperAscii", kMemberStyle, lib::UpperAscii},
    {"value", kMemberStyle, lib::OptValue},
};

}  // namespace

const Builtin* FindBuiltin(std::string_view name) {
  auto it = std::lower_bound(std::begin(kBuiltins), std::end(kBuiltins), name,
                             [](const Builtin& b, std::string_view n) { return b.name < n; });
  if (it != std::end(kBuiltins) && it->name == name) return it;
  return nullptr;
}

}  // namespace ec::cel
