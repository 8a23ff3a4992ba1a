// The math extension (cel-go ext/math): greatest/least across numeric kinds, rounding,
// classification and bit operations.

#include <cmath>
#include <vector>

#include "cel/library.h"
#include "cel/ops.h"

namespace ec::cel::lib {
namespace {

Value Extreme(Evaluator& e, const Value* a, size_t n, bool greatest, const char* name) {
  const Value* items = a;
  size_t count = n;
  std::vector<Value> from_list;
  if (n == 1 && a[0].kind() == Kind::kList) {
    for (uint32_t i = 0; i < a[0].size(); ++i) from_list.push_back(a[0].ListAt(i));
    items = from_list.data();
    count = from_list.size();
    if (count == 0) return e.Error(std::string(name) + "(list) needs a non-empty list");
  }
  if (count == 0) return e.NoOverload(name, a, n);
  Value best = items[0];
  if (!IsNumber(best)) return e.NoOverload(name, a, n);
  for (size_t i = 1; i < count; ++i) {
    if (!IsNumber(items[i])) return e.NoOverload(name, a, n);
    Order o = Compare(items[i], best);
    if ((greatest && o == Order::kGreater) || (!greatest && o == Order::kLess)) best = items[i];
  }
  return best;
}

bool IsDouble1(const Value* a, size_t n) { return n == 1 && a[0].kind() == Kind::kDouble; }

}  // namespace

Value MathGreatest(Evaluator& e, const Node*, const Value* a, size_t n) { return Extreme(e, a, n, true, "math.greatest"); }
Value MathLeast(Evaluator& e, const Node*, const Value* a, size_t n) { return Extreme(e, a, n, false, "math.least"); }

Value MathCeil(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (!IsDouble1(a, n)) return e.NoOverload("math.ceil", a, n);
  return Value::Double(std::ceil(a[0].double_value()));
}
Value MathFloor(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (!IsDouble1(a, n)) return e.NoOverload("math.floor", a, n);
  return Value::Double(std::floor(a[0].double_value()));
}
Value MathRound(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (!IsDouble1(a, n)) return e.NoOverload("math.round", a, n);
  return Value::Double(std::round(a[0].double_value()));  // half away from zero
}
Value MathTrunc(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (!IsDouble1(a, n)) return e.NoOverload("math.trunc", a, n);
  return Value::Double(std::trunc(a[0].double_value()));
}
Value MathSqrt(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n == 1 && a[0].kind() == Kind::kInt) return Value::Double(std::sqrt(static_cast<double>(a[0].int_value())));
  if (n == 1 && a[0].kind() == Kind::kUint) return Value::Double(std::sqrt(static_cast<double>(a[0].uint_value())));
  if (!IsDouble1(a, n)) return e.NoOverload("math.sqrt", a, n);
  return Value::Double(std::sqrt(a[0].double_value()));
}
Value MathIsNaN(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (!IsDouble1(a, n)) return e.NoOverload("math.isNaN", a, n);
  return Value::Bool(std::isnan(a[0].double_value()));
}
Value MathIsInf(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (!IsDouble1(a, n)) return e.NoOverload("math.isInf", a, n);
  return Value::Bool(std::isinf(a[0].double_value()));
}
Value MathIsFinite(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (!IsDouble1(a, n)) return e.NoOverload("math.isFinite", a, n);
  return Value::Bool(std::isfinite(a[0].double_value()));
}

Value MathAbs(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n == 1) {
    switch (a[0].kind()) {
      case Kind::kInt:
        if (a[0].int_value() == INT64_MIN) return e.Error("integer overflow in math.abs");
        return Value::Int(a[0].int_value() < 0 ? -a[0].int_value() : a[0].int_value());
      case Kind::kUint: return a[0];
      case Kind::kDouble: return Value::Double(std::fabs(a[0].double_value()));
      default: break;
    }
  }
  return e.NoOverload("math.abs", a, n);
}

Value MathSign(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n == 1) {
    switch (a[0].kind()) {
      case Kind::kInt: return Value::Int((a[0].int_value() > 0) - (a[0].int_value() < 0));
      case Kind::kUint: return Value::Uint(a[0].uint_value() > 0 ? 1 : 0);
      case Kind::kDouble: {
        double d = a[0].double_value();
        if (std::isnan(d)) return a[0];
        return Value::Double(d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0);
      }
      default: break;
    }
  }
  return e.NoOverload("math.sign", a, n);
}

namespace {
template <typename F>
Value BitBinary(Evaluator& e, const Value* a, size_t n, const char* name, F op) {
  if (n == 2 && a[0].kind() == Kind::kInt && a[1].kind() == Kind::kInt)
    return Value::Int(static_cast<int64_t>(op(static_cast<uint64_t>(a[0].int_value()), static_cast<uint64_t>(a[1].int_value()))));
  if (n == 2 && a[0].kind() == Kind::kUint && a[1].kind() == Kind::kUint)
    return Value::Uint(op(a[0].uint_value(), a[1].uint_value()));
  return e.NoOverload(name, a, n);
}

Value Shift(Evaluator& e, const Value* a, size_t n, bool left, const char* name) {
  if (n != 2 || a[1].kind() != Kind::kInt || (a[0].kind() != Kind::kInt && a[0].kind() != Kind::kUint))
    return e.NoOverload(name, a, n);
  int64_t s = a[1].int_value();
  if (s < 0) return e.Error(std::string(name) + ": negative shift " + std::to_string(s));
  uint64_t v = a[0].kind() == Kind::kInt ? static_cast<uint64_t>(a[0].int_value()) : a[0].uint_value();
  // Shifts are logical for ints too (as cel-go), and >= 64 bits shifts everything out.
  uint64_t r = s >= 64 ? 0 : (left ? v << s : v >> s);
  return a[0].kind() == Kind::kInt ? Value::Int(static_cast<int64_t>(r)) : Value::Uint(r);
}
}  // namespace

Value MathBitAnd(Evaluator& e, const Node*, const Value* a, size_t n) {
  return BitBinary(e, a, n, "math.bitAnd", [](uint64_t x, uint64_t y) { return x & y; });
}
Value MathBitOr(Evaluator& e, const Node*, const Value* a, size_t n) {
  return BitBinary(e, a, n, "math.bitOr", [](uint64_t x, uint64_t y) { return x | y; });
}
Value MathBitXor(Evaluator& e, const Node*, const Value* a, size_t n) {
  return BitBinary(e, a, n, "math.bitXor", [](uint64_t x, uint64_t y) { return x ^ y; });
}
Value MathBitNot(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n == 1 && a[0].kind() == Kind::kInt) return Value::Int(~a[0].int_value());
  if (n == 1 && a[0].kind() == Kind::kUint) return Value::Uint(~a[0].uint_value());
  return e.NoOverload("math.bitNot", a, n);
}
Value MathBitShiftLeft(Evaluator& e, const Node*, const Value* a, size_t n) { return Shift(e, a, n, true, "math.bitShiftLeft"); }
Value MathBitShiftRight(Evaluator& e, const Node*, const Value* a, size_t n) { return Shift(e, a, n, false, "math.bitShiftRight"); }

}  // namespace ec::cel::lib
