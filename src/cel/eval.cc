// The evaluator: a switch over node kinds, values on the C++ stack, built values in the
// EvalContext arena. Reading JSON fields and comparing them allocates nothing.

#include "cel/eval.h"

#include <re2/re2.h>

#include <cstring>
#include <vector>

#include "cel/json_find.h"
#include "cel/ops.h"
#include "cel/simple_regex.h"

namespace ec::cel {


Value Evaluator::Error(std::string_view message, ErrorCode code) {
  auto* info = static_cast<ErrorInfo*>(arena().Allocate(sizeof(ErrorInfo), alignof(ErrorInfo)));
  info->code = code;
  info->message = arena().CopyString(message);
  return Value::Error(info);
}

Value Evaluator::StepLimitError() {
  return Error("evaluation exceeded the step limit of " + std::to_string(max_steps_) + " (max_steps)",
               ErrorCode::kLimitExceeded);
}

Value Evaluator::NoOverload(std::string_view name, const Value* args, size_t n) {
  std::string m = "no such overload: ";
  m += name;
  m += '(';
  for (size_t i = 0; i < n; ++i) {
    if (i) m += ", ";
    m += TypeName(args[i]);
  }
  m += ')';
  return Error(m);
}

Value Evaluator::NewList(const Value* elems, size_t n) {
  Value* mem = arena().AllocateArray<Value>(n == 0 ? 1 : n);
  if (n) std::memcpy(static_cast<void*>(mem), elems, n * sizeof(Value));
  return Value::List(mem, static_cast<uint32_t>(n));
}

Value Evaluator::NewMap(const MapEntry* entries, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    Kind k = entries[i].key.kind();
    if (k != Kind::kString && k != Kind::kInt && k != Kind::kUint && k != Kind::kBool) {
      return Error("unsupported map key type: " + std::string(TypeName(entries[i].key)));
    }
    for (size_t j = 0; j < i; ++j) {
      if (Equal(entries[j].key, entries[i].key)) {
        std::string key;
        Value s = ToCelString(*this, entries[i].key);
        key = s.is_error() ? "?" : std::string(s.string_value());
        return Error("Failed with repeated key: " + key);
      }
    }
  }
  MapEntry* mem = arena().AllocateArray<MapEntry>(n == 0 ? 1 : n);
  if (n) std::memcpy(static_cast<void*>(mem), entries, n * sizeof(MapEntry));
  return Value::Map(mem, static_cast<uint32_t>(n));
}

Value Evaluator::NewOptional(const Value& v) {
  Value* mem = arena().AllocateArray<Value>(1);
  *mem = v;
  return Value::Optional(mem);
}

// The hot operators stay in this small function; the rest is in EvalCold, so the common
// path has a small frame.
Value Evaluator::Eval(const Node* n) {
  if (++steps_ > max_steps_) return StepLimitError();
  switch (n->op) {
    case Op::kConst:
      return n->value;
    case Op::kSlot:
      return slots_[n->slot];
    case Op::kPath:
      return EvalPath(n);
    case Op::kCmpConst: {
      Value v;
      return Boxed(PredCmpConst(n, &v), v);
    }
    case Op::kStrCall: {
      Value v;
      return Boxed(PredStrCall(n, &v), v);
    }
    case Op::kAnd: {
      Value v;
      return Boxed(PredAnd(n, &v), v);
    }
    case Op::kOr: {
      Value v;
      return Boxed(PredOr(n, &v), v);
    }
    case Op::kHas: {
      Value v;
      return Boxed(PredHas(n, &v), v);
    }
    case Op::kEq:
    case Op::kNe: {
      // Comparisons with a literal (the common filter shape) skip evaluating the literal node.
      const Node* l = n->args[0];
      const Node* r = n->args[1];
      Value a = l->op == Op::kConst ? l->value : Eval(l);
      if (a.is_error()) return a;
      Value b = r->op == Op::kConst ? r->value : Eval(r);
      if (b.is_error()) return b;
      return Value::Bool(Equal(a, b) == (n->op == Op::kEq));
    }
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: {
      const Node* l = n->args[0];
      const Node* r = n->args[1];
      Value a = l->op == Op::kConst ? l->value : Eval(l);
      if (a.is_error()) return a;
      Value b = r->op == Op::kConst ? r->value : Eval(r);
      if (b.is_error()) return b;
      return CompareOp(n, a, b);
    }
    case Op::kCall:
      return EvalCall(n);
    case Op::kSelect:
      if (!qualified_names_ || n->candidates.empty()) return EvalSelect(n, Eval(n->args[0]), false);
      return EvalCold(n);
    default:
      return EvalCold(n);
  }
}


inline const json::Value* Evaluator::WalkFrom(const json::Value* j, const PathKey* key, const PathKey* end) {
  for (; key != end; ++key) {
    if (!j->is_object()) return nullptr;
    j = FindMemberHinted(*j, key->name, &key->hint);
    if (j == nullptr) return nullptr;
  }
  return j;
}

__attribute__((always_inline)) inline const json::Value* Evaluator::WalkPath(const Node* n) {
  const PathKey* key = n->keys.data();
  const PathKey* end = key + n->keys.size();
  if (n->slot >= 0) {
    const Value& v = slots_[n->slot];
    return v.is_json() ? WalkFrom(v.json(), key, end) : nullptr;
  }
  if (top_ != nullptr) return WalkFrom(top_, key, end);  // the common case: members of the exchange
  if (qualified_names_) return nullptr;
  Value root;
  if (!activation_.Lookup(key->name, &root) || !root.is_json()) return nullptr;
  return WalkFrom(root.json(), key + 1, end);
}

Value Evaluator::EvalPath(const Node* n) {
  if (const json::Value* j = WalkPath(n)) return Value::FromJson(*j);
  return Eval(n->args[0]);
}

namespace {

// a `op` b for doubles; NaN compares false (and unequal), as CEL's numeric ordering says.
inline bool CmpDoubles(Op op, double a, double b) {
  switch (op) {
    case Op::kEq: return a == b;
    case Op::kNe: return !(a == b);
    case Op::kLt: return a < b;
    case Op::kLe: return a <= b;
    case Op::kGt: return a > b;
    default: return a >= b;
  }
}

inline bool CmpStrings(Op op, std::string_view a, std::string_view b) {
  if (op == Op::kEq || op == Op::kNe) {
    bool eq = a.size() == b.size() && BytesEqual(a.data(), b.data(), a.size());
    return eq == (op == Op::kEq);
  }
  int c = a.compare(b);
  switch (op) {
    case Op::kLt: return c < 0;
    case Op::kLe: return c <= 0;
    case Op::kGt: return c > 0;
    default: return c >= 0;
  }
}

}  // namespace

// x `cmp` literal (or literal `cmp` x). JSON numbers and strings against a number or string
// literal are compared in place; everything else goes through the generic Equal/Compare with
// the operands in their source order (so error messages name the types as written).
int Evaluator::PredCmpConst(const Node* n, Value* out) {
  const Node* x = n->args[1];
  if (x->op == Op::kPath) {
    if (const json::Value* j = WalkPath(x)) {
      if (j->is_string() && n->lit_class == 1) return CmpStrings(n->json_cmp, j->string(), n->value.string_value());
      if (j->is_number() && n->lit_class == 2) return CmpDoubles(n->json_cmp, j->number(), n->lit_num);
    }
  } else if (x->op == Op::kMul && n->lit_class == 2 && x->args[0]->op == Op::kPath && x->args[1]->op == Op::kPath &&
             steps_ + 3 <= max_steps_) {
    // `a.x * a.y cmp number` (a filter's `i.price * i.qty >= 500.0`): two JSON numbers are CEL
    // doubles, and Multiply of doubles is their product, so it is compared in place. The
    // generic evaluation takes three steps here (the product and its two paths): charged alike.
    const json::Value* a = WalkPath(x->args[0]);
    const json::Value* b = WalkPath(x->args[1]);
    if (a != nullptr && b != nullptr && a->is_number() && b->is_number()) {
      steps_ += 3;
      return CmpDoubles(n->json_cmp, a->number() * b->number(), n->lit_num);
    }
  }
  return PredCmpConstSlow(n, out);
}

// Everything but a JSON string or number against a literal of its kind (the walk is repeated
// here rather than passed down: it is pure and keeps the fast path's frame small).
__attribute__((noinline)) int Evaluator::PredCmpConstSlow(const Node* n, Value* out) {
  const Node* x = n->args[1];
  const Value& c = n->value;
  Value v;
  if (x->op == Op::kPath) {
    const json::Value* j = WalkPath(x);
    v = j != nullptr ? Value::FromJson(*j) : Eval(x->args[0]);
  } else {
    v = Eval(x);
  }
  if (v.is_error()) {
    *out = v;
    return 2;
  }
  const Value& a = n->flipped ? c : v;
  const Value& b = n->flipped ? v : c;
  if (n->cmp == Op::kEq || n->cmp == Op::kNe) return Equal(a, b) == (n->cmp == Op::kEq);
  Value r = CompareOp(n->args[0], a, b);
  if (r.kind() == Kind::kBool) return r.bool_value();
  *out = r;
  return 2;
}

// receiver.f('literal') for the string predicates; a non-string receiver takes the library
// function itself (its overload error).
int Evaluator::PredStrCall(const Node* n, Value* out) {
  const Node* x = n->args[1];
  Value v;
  if (x->op == Op::kPath) {
    const json::Value* j = WalkPath(x);
    v = j != nullptr ? Value::FromJson(*j) : Eval(x->args[0]);
  } else {
    v = Eval(x);
  }
  if (v.kind() == Kind::kString) {
    std::string_view s = v.string_value(), lit = n->value.string_value();
    switch (n->str_fn) {
      case StrFn::kContains: return s.find(lit) != std::string_view::npos;
      case StrFn::kStartsWith: return s.size() >= lit.size() && BytesEqual(s.data(), lit.data(), lit.size());
      case StrFn::kEndsWith:
        return s.size() >= lit.size() && BytesEqual(s.data() + s.size() - lit.size(), lit.data(), lit.size());
      case StrFn::kMatches:
        if (n->simple_regex) return n->simple_regex->PartialMatch(s);
        return RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *n->regex);
    }
  }
  if (v.is_error()) {
    *out = v;
    return 2;
  }
  const Node* call = n->args[0];
  Value args[2] = {v, n->value};
  Value r = call->fn->fn(*this, call, args, 2);
  if (r.kind() == Kind::kBool) return r.bool_value();
  *out = r;
  return 2;
}

__attribute__((always_inline)) inline int Evaluator::Pred(const Node* n, Value* out) {
  switch (n->op) {
    case Op::kCmpConst:
    case Op::kStrCall:
    case Op::kAnd:
    case Op::kOr:
    case Op::kHas:
      if (++steps_ > max_steps_) {
        *out = StepLimitError();
        return 2;
      }
      switch (n->op) {
        case Op::kCmpConst: return PredCmpConst(n, out);
        case Op::kStrCall: return PredStrCall(n, out);
        case Op::kAnd: return PredAnd(n, out);
        case Op::kOr: return PredOr(n, out);
        default: return PredHas(n, out);
      }
    default: {
      Value v = Eval(n);
      if (v.kind() == Kind::kBool) return v.bool_value();
      *out = v;
      return 2;
    }
  }
}

Value Evaluator::EvalCold(const Node* n) {
  switch (n->op) {
    case Op::kPath:
      return EvalPath(n);
    case Op::kCmpConst:
    case Op::kStrCall:
    case Op::kConst:
      return n->value;
    case Op::kSlot:
      return slots_[n->slot];
    case Op::kIdent:
      return EvalIdent(n);
    case Op::kSelect:
    case Op::kOptSelect: {
      if (qualified_names_ && !n->candidates.empty()) {
        bool handled = false;
        Value v = EvalQualified(n, &handled);
        if (handled) return v;
      }
      Value t = Eval(n->args[0]);
      return EvalSelect(n, t, n->op == Op::kOptSelect);
    }
    case Op::kIndex:
    case Op::kOptIndex: {
      Value t = Eval(n->args[0]);
      if (t.is_error()) return t;
      Value i = Eval(n->args[1]);
      return EvalIndex(n, t, i, n->op == Op::kOptIndex);
    }
    case Op::kCall:
      return EvalCall(n);
    case Op::kList:
      return EvalList(n);
    case Op::kMap:
      return EvalMap(n);
    case Op::kStruct:
      return Error("message construction '" + n->name + "{...}' is not supported (no protobuf types over JSON)");
    case Op::kAnd:
    case Op::kOr:
    case Op::kHas: {
      Value v;
      return Boxed(Pred(n, &v), v);  // Pred counts the step again; harmless, these are hot-path ops
    }
    case Op::kNot: {
      Value v = Eval(n->args[0]);
      if (v.kind() == Kind::kBool) return Value::Bool(!v.bool_value());
      if (v.is_error()) return v;
      return NoOverload("!_", &v, 1);
    }
    case Op::kNeg: {
      Value v = Eval(n->args[0]);
      if (v.is_error()) return v;
      return Negate(*this, v);
    }
    case Op::kCond: {
      if (n->has_then_same_path && top_ != nullptr && steps_ + 3 <= max_steps_) {
        // has(v.f) ? v.f : e (specialize.cc), v a member of the root: PredHas's in-place
        // lookup (its kIdent branch), and for a present f that member is the then-branch's
        // value, as its path walk would find it (keys are unique: json/builder.h). The steps
        // are the generic ones, has (1) + its operand v (1) [+ the path (1)]; with fewer than
        // three left the generic form runs and reports the limit where it would.
        const Node* has = n->args[0];
        const json::Value* v = FindMember(*top_, has->args[0]->name);
        if (v != nullptr && v->is_object()) {
          if (const json::Value* f = v->Find(has->name)) {
            steps_ += 3;
            return Value::FromJson(*f);
          }
          steps_ += 2;
          return Eval(n->args[2]);
        }
      }
      Value c = Eval(n->args[0]);
      if (c.kind() == Kind::kBool) return Eval(n->args[c.bool_value() ? 1 : 2]);
      if (c.is_error()) return c;
      return NoOverload("_?_:_", &c, 1);
    }
    case Op::kEq:
    case Op::kNe: {
      Value a = Eval(n->args[0]);
      if (a.is_error()) return a;
      Value b = Eval(n->args[1]);
      if (b.is_error()) return b;
      return Value::Bool(Equal(a, b) == (n->op == Op::kEq));
    }
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: {
      Value a = Eval(n->args[0]);
      if (a.is_error()) return a;
      Value b = Eval(n->args[1]);
      if (b.is_error()) return b;
      return CompareOp(n, a, b);
    }
    case Op::kIn: {
      Value a = Eval(n->args[0]);
      if (a.is_error()) return a;
      Value b = Eval(n->args[1]);
      if (b.is_error()) return b;
      return EvalIn(a, b);
    }
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul:
    case Op::kDiv:
    case Op::kMod: {
      Value a = Eval(n->args[0]);
      if (a.is_error()) return a;
      Value b = Eval(n->args[1]);
      if (b.is_error()) return b;
      return EvalArith(n, a, b);
    }
    case Op::kComprehension:
      return EvalComprehension(n);
    case Op::kBind: {
      Value init = Eval(n->args[0]);
      slots_[n->slot] = init;
      return Eval(n->args[1]);
    }
    case Op::kBlock: {
      size_t k = n->args.size() - 1;
      for (size_t i = 0; i < k; ++i) slots_[n->slot + i] = Eval(n->args[i]);
      return Eval(n->args[k]);
    }
    case Op::kOptOr:
    case Op::kOptOrValue: {
      Value t = Eval(n->args[0]);
      if (t.is_error()) return t;
      if (t.kind() != Kind::kOptional) {
        return NoOverload(n->op == Op::kOptOr ? "or" : "orValue", &t, 1);
      }
      if (t.optional_value() != nullptr) return n->op == Op::kOptOr ? t : *t.optional_value();
      Value alt = Eval(n->args[1]);
      if (n->op == Op::kOptOr && !alt.is_error() && alt.kind() != Kind::kOptional) {
        Value args[2] = {t, alt};
        return NoOverload("or", args, 2);
      }
      return alt;
    }
  }
  return Error("internal: unknown node");
}

Value Evaluator::EvalIdent(const Node* n) {
  if (qualified_names_ && !n->candidates.empty()) {
    bool handled = false;
    Value v = EvalQualified(n, &handled);
    if (handled) return v;
  }
  Value v;
  if (activation_.Lookup(n->name, &v)) return v;
  return Error("undeclared reference to '" + n->name + "' (no such variable)");
}

// Qualified names: `a.b.c` may name a variable "a.b" (then select c) or, with a container,
// "ns.a". Tried longest first, as the spec's name resolution says.
Value Evaluator::EvalQualified(const Node* n, bool* handled) {
  if (!activation_.has_dotted_names() && program_.options().container.empty()) return Value();
  // The select chain: chain[0] is n, chain[depth] the root identifier.
  const Node* chain[256];
  int depth = 0;
  const Node* cur = n;
  while (cur->op != Op::kIdent) {
    if (depth >= 255) return Value();
    chain[depth++] = cur;
    cur = cur->args[0];
  }
  chain[depth] = cur;
  for (size_t c = 0; c < n->candidates.size(); ++c) {
    Value v;
    if (!activation_.Lookup(n->candidates[c], &v)) continue;
    *handled = true;
    int used = n->candidate_used[c];  // segments of the dotted name the variable consumed
    for (int i = depth - used; i >= 0; --i) v = EvalSelect(chain[i], v, chain[i]->op == Op::kOptSelect);
    return v;
  }
  if (n->op == Op::kIdent) {
    *handled = true;
    return Error("undeclared reference to '" + n->name + "' (no such variable)");
  }
  return Value();
}

Value Evaluator::EvalSelect(const Node* n, const Value& t, bool optional) {
  if (t.is_error()) return t;
  if (t.kind() == Kind::kMap) {
    Value v;
    if (t.is_json()) {
      if (const json::Value* j = FindMember(*t.json(), n->name)) {
        v = Value::FromJson(*j);
        return optional ? NewOptional(v) : v;
      }
    } else if (t.MapFindString(n->name, &v)) {
      return optional ? NewOptional(v) : v;
    }
    if (optional) return Value::Optional(nullptr);
    return Error("no such key: '" + n->name + "'");
  }
  if (t.kind() == Kind::kOptional) {
    if (t.optional_value() == nullptr) return t;
    return EvalSelect(n, *t.optional_value(), true);
  }
  return Error("type '" + std::string(TypeName(t)) + "' does not support field selection ('." + n->name + "')");
}

int Evaluator::PredHas(const Node* n, Value* out) {
  const Node* t = n->args[0];
  Value r;
  if (t->op == Op::kPath) {
    const json::Value* j = WalkPath(t);
    if (j != nullptr && j->is_object()) return FindMember(*j, n->name) != nullptr;
    r = EvalHasOf(n, j != nullptr ? Value::FromJson(*j) : Eval(t->args[0]));
  } else if (t->op == Op::kIdent && top_ != nullptr && program_.options().specialize) {
    // has(v.f) of a top-level variable (`has(params.orderId)`): with top_ set, Eval(t) is the
    // root's member v made a CEL map and EvalHasOf looks f up in it; an object is looked up in
    // place here instead (~200 instructions less). The step Eval(t) counts is counted too.
    // A fast path like specialize.cc's: off with `specialize` (the tests' generic evaluator).
    if (++steps_ > max_steps_) {
      *out = StepLimitError();
      return 2;
    }
    const json::Value* j = FindMember(*top_, t->name);
    if (j != nullptr && j->is_object()) return j->Find(n->name) != nullptr;
    --steps_;  // not an object (or absent): Eval counts it below
    r = EvalHasOf(n, Eval(t));
  } else {
    r = EvalHasOf(n, Eval(t));
  }
  if (r.kind() == Kind::kBool) return r.bool_value();
  *out = r;
  return 2;
}

Value Evaluator::EvalHasOf(const Node* n, const Value& t) {
  if (t.is_error()) return t;
  if (t.kind() == Kind::kMap) {
    Value v;
    return Value::Bool(t.MapFindString(n->name, &v));
  }
  if (t.kind() == Kind::kOptional) {
    if (t.optional_value() == nullptr) return Value::Bool(false);
    Value inner = *t.optional_value();
    Value v;
    if (inner.kind() == Kind::kMap) return Value::Bool(inner.MapFindString(n->name, &v));
  }
  return Error("type '" + std::string(TypeName(t)) + "' does not support field presence tests (has(." + n->name + "))");
}

namespace {
// An integral list index from int, uint or an integral double; false otherwise.
bool ListIndex(const Value& i, int64_t* out) {
  switch (i.kind()) {
    case Kind::kInt: *out = i.int_value(); return true;
    case Kind::kUint:
      if (i.uint_value() > INT64_MAX) { *out = -1; return true; }
      *out = static_cast<int64_t>(i.uint_value());
      return true;
    case Kind::kDouble: {
      double d = i.double_value();
      if (d != static_cast<double>(static_cast<int64_t>(d)) || d >= 9.2e18 || d <= -9.2e18) return false;
      *out = static_cast<int64_t>(d);
      return true;
    }
    default: return false;
  }
}
}  // namespace

Value Evaluator::EvalIndex(const Node* n, const Value& t, const Value& idx, bool optional) {
  if (idx.is_error()) return idx;
  if (t.kind() == Kind::kOptional) {
    if (t.optional_value() == nullptr) return t;
    return EvalIndex(n, *t.optional_value(), idx, true);
  }
  if (t.kind() == Kind::kList) {
    int64_t i;
    if (!ListIndex(idx, &i)) {
      Value args[2] = {t, idx};
      return NoOverload("_[_]", args, 2);
    }
    if (i < 0 || i >= static_cast<int64_t>(t.size())) {
      if (optional) return Value::Optional(nullptr);
      return Error("index out of range: " + std::to_string(i) + " (list size " + std::to_string(t.size()) + ")");
    }
    Value v = t.ListAt(static_cast<uint32_t>(i));
    return optional ? NewOptional(v) : v;
  }
  if (t.kind() == Kind::kMap) {
    Kind k = idx.kind();
    if (k != Kind::kString && k != Kind::kInt && k != Kind::kUint && k != Kind::kBool && k != Kind::kDouble) {
      Value args[2] = {t, idx};
      return NoOverload("_[_]", args, 2);
    }
    Value v;
    if (t.MapFind(idx, &v)) return optional ? NewOptional(v) : v;
    if (optional) return Value::Optional(nullptr);
    Value s = ToCelString(*this, idx);
    std::string key = s.is_error() ? "?" : std::string(s.string_value());
    if (k == Kind::kString) key = "'" + key + "'";
    return Error("no such key: " + key);
  }
  Value args[2] = {t, idx};
  return NoOverload("_[_]", args, 2);
}

Value Evaluator::EvalList(const Node* n) {
  size_t count = n->args.size();
  Value small[16];
  std::vector<Value> big;
  Value* out = small;
  if (count > 16) {
    big.resize(count);
    out = big.data();
  }
  size_t k = 0;
  for (size_t i = 0; i < count; ++i) {
    Value v = Eval(n->args[i]);
    if (v.is_error()) return v;
    if (n->optional[i]) {
      if (v.kind() != Kind::kOptional) return Error("optional list element [?x] needs an optional value, got " + std::string(TypeName(v)));
      if (v.optional_value() == nullptr) continue;
      v = *v.optional_value();
    }
    out[k++] = v;
  }
  return NewList(out, k);
}

Value Evaluator::EvalMap(const Node* n) {
  size_t count = n->optional.size();
  MapEntry small[16];
  std::vector<MapEntry> big;
  MapEntry* out = small;
  if (count > 16) {
    big.resize(count);
    out = big.data();
  }
  size_t k = 0;
  for (size_t i = 0; i < count; ++i) {
    Value key = Eval(n->args[2 * i]);
    if (key.is_error()) return key;
    Value v = Eval(n->args[2 * i + 1]);
    if (v.is_error()) return v;
    if (n->optional[i]) {
      if (v.kind() != Kind::kOptional) return Error("optional map entry {?k: v} needs an optional value, got " + std::string(TypeName(v)));
      if (v.optional_value() == nullptr) continue;
      v = *v.optional_value();
    }
    out[k++] = MapEntry{key, v};
  }
  return NewMap(out, k);
}

// Uninitialised room for a Value (Value's constructor would zero it on every call).
union Scratch {
  Scratch() {}
  Value v;
};

// a && b: false wins over errors on either side (commutative), then the left error, then the
// right one; a non-bool operand that is not decided away is a no-overload error.
int Evaluator::PredAnd(const Node* n, Value* out) {
  Scratch sa, sb;  // written only when the side is not a bool
  Value& va = sa.v;
  Value& vb = sb.v;
  int a = Pred(n->args[0], &va);
  if (a == 0) return 0;
  int b = Pred(n->args[1], &vb);
  if (b == 0) return 0;
  if (a == 1 && b == 1) return 1;
  return LogicRest("_&&_", a, va, b, vb, out);
}

int Evaluator::PredOr(const Node* n, Value* out) {
  Scratch sa, sb;  // written only when the side is not a bool
  Value& va = sa.v;
  Value& vb = sb.v;
  int a = Pred(n->args[0], &va);
  if (a == 1) return 1;
  int b = Pred(n->args[1], &vb);
  if (b == 1) return 1;
  if (a == 0 && b == 0) return 0;
  return LogicRest("_||_", a, va, b, vb, out);
}

// Neither side decided the result and one is not a bool: its error, or no such overload.
int Evaluator::LogicRest(const char* name, int a, const Value& va, int b, const Value& vb, Value* out) {
  if (a == 2 && va.is_error()) {
    *out = va;
  } else if (b == 2 && vb.is_error()) {
    *out = vb;
  } else {
    Value args[2] = {a == 2 ? va : Value::Bool(a != 0), b == 2 ? vb : Value::Bool(b != 0)};
    *out = NoOverload(name, args, 2);
  }
  return 2;
}

Value Evaluator::CompareOp(const Node* n, const Value& a, const Value& b) {
  Order o = Compare(a, b);
  const char* name = n->op == Op::kLt ? "_<_" : n->op == Op::kLe ? "_<=_" : n->op == Op::kGt ? "_>_" : "_>=_";
  if (o == Order::kNoOverload) {
    Value args[2] = {a, b};
    return NoOverload(name, args, 2);
  }
  if (o == Order::kUnordered) return Value::Bool(false);
  switch (n->op) {
    case Op::kLt: return Value::Bool(o == Order::kLess);
    case Op::kLe: return Value::Bool(o != Order::kGreater);
    case Op::kGt: return Value::Bool(o == Order::kGreater);
    default: return Value::Bool(o != Order::kLess);
  }
}

Value Evaluator::EvalIn(const Value& a, const Value& b) {
  if (b.kind() == Kind::kList) {
    for (uint32_t i = 0; i < b.size(); ++i)
      if (Equal(a, b.ListAt(i))) return Value::Bool(true);
    return Value::Bool(false);
  }
  if (b.kind() == Kind::kMap) {
    Value v;
    return Value::Bool(b.MapFind(a, &v));
  }
  Value args[2] = {a, b};
  return NoOverload("@in", args, 2);
}

Value Evaluator::EvalArith(const Node* n, const Value& a, const Value& b) {
  switch (n->op) {
    case Op::kAdd: return Add(*this, a, b);
    case Op::kSub: return Subtract(*this, a, b);
    case Op::kMul: return Multiply(*this, a, b);
    case Op::kDiv: return Divide(*this, a, b);
    default: return Modulo(*this, a, b);
  }
}

Value Evaluator::EvalCall(const Node* n) {
  size_t count = n->args.size();
  if (n->fn == nullptr) {
    return Error("undeclared reference to function '" + n->name + "'");
  }
  union Small {  // left uninitialised: every used element is assigned below
    Small() {}
    Value v[8];
  } small;
  std::vector<Value> big;
  Value* args = small.v;
  if (count > 8) {
    big.resize(count);
    args = big.data();
  }
  for (size_t i = 0; i < count; ++i) {
    const Node* a = n->args[i];
    args[i] = a->op == Op::kConst ? a->value : Eval(a);
    if (args[i].is_error()) return args[i];
  }
  return n->fn->fn(*this, n, args, count);
}

namespace {

// A growable array in the arena (old storage is simply abandoned; the arena frees it all).
template <typename T>
struct ArenaVec {
  T* data = nullptr;
  size_t size = 0;
  size_t cap = 0;
  void Push(Arena& a, const T& v) {
    if (size == cap) {
      size_t nc = cap ? cap * 2 : 8;
      T* nd = a.AllocateArray<T>(nc);
      if (size) std::memcpy(static_cast<void*>(nd), data, size * sizeof(T));
      data = nd;
      cap = nc;
    }
    data[size++] = v;
  }
};

}  // namespace

Value Evaluator::EvalComprehension(const Node* n) {
  Value range = Eval(n->args[0]);
  if (range.is_error()) return range;
  CompKind kind = n->comp;
  if (kind == CompKind::kOptMap || kind == CompKind::kOptFlatMap) {
    if (range.kind() != Kind::kOptional) return NoOverload(kind == CompKind::kOptMap ? "optMap" : "optFlatMap", &range, 1);
    if (range.optional_value() == nullptr) return range;
    slots_[n->slot] = *range.optional_value();
    Value r = Eval(n->args[1]);
    if (r.is_error()) return r;
    if (kind == CompKind::kOptMap) return NewOptional(r);
    if (r.kind() != Kind::kOptional) return Error("optFlatMap expression must return an optional, got " + std::string(TypeName(r)));
    return r;
  }
  bool is_map = range.kind() == Kind::kMap;
  if (!is_map && range.kind() != Kind::kList) {
    return Error("macro needs a list or map to iterate, got " + std::string(TypeName(range)));
  }
  uint32_t size = range.size();
  if (size > program_.options().max_comprehension_iterations) {
    return Error("comprehension over " + std::to_string(size) + " elements exceeds the limit of " +
                     std::to_string(program_.options().max_comprehension_iterations) + " (max_comprehension_iterations)",
                 ErrorCode::kLimitExceeded);
  }
  if (!Charge(size)) return StepLimitError();
  Value error;  // the first error seen by all/exists (reported only if nothing decides)
  bool has_error = false;
  int64_t count = 0;
  ArenaVec<Value> list;
  ArenaVec<MapEntry> entries;
  bool two = n->two_vars;
  for (uint32_t i = 0; i < size; ++i) {
    Value key, val;
    if (is_map) {
      key = range.MapKeyAt(i);
      val = two ? range.MapValueAt(i) : key;
    } else {
      key = Value::Int(i);
      val = range.ListAt(i);
    }
    if (two) {
      slots_[n->slot] = key;
      slots_[n->slot2] = val;
    } else {
      slots_[n->slot] = val;
    }
    switch (kind) {
      case CompKind::kAll:
      case CompKind::kExists: {
        Value r;
        int b = Pred(n->args[1], &r);
        if (b != 2) {
          if ((b == 1) == (kind == CompKind::kExists)) return Value::Bool(b == 1);
        } else if (!has_error) {
          has_error = true;
          error = r.is_error() ? r : NoOverload(kind == CompKind::kAll ? "all" : "exists", &r, 1);
        }
        break;
      }
      case CompKind::kExistsOne: {
        Value r = Eval(n->args[1]);
        if (r.is_error()) return r;
        if (r.kind() != Kind::kBool) return NoOverload("exists_one", &r, 1);
        count += r.bool_value();
        break;
      }
      case CompKind::kMap:
      case CompKind::kTransformList:
      case CompKind::kTransformMap:
      case CompKind::kTransformMapEntry: {
        if (n->has_filter) {
          Value f = Eval(n->args[2]);
          if (f.is_error()) return f;
          if (f.kind() != Kind::kBool) return NoOverload("filter", &f, 1);
          if (!f.bool_value()) break;
        }
        Value r = Eval(n->args[1]);
        if (r.is_error()) return r;
        if (kind == CompKind::kTransformMap) {
          entries.Push(arena(), MapEntry{key, r});
        } else if (kind == CompKind::kTransformMapEntry) {
          if (r.kind() != Kind::kMap) return Error("transformMapEntry expression must return a map, got " + std::string(TypeName(r)));
          for (uint32_t j = 0; j < r.size(); ++j) {
            MapEntry e{r.MapKeyAt(j), r.MapValueAt(j)};
            for (size_t m = 0; m < entries.size; ++m) {
              if (Equal(entries.data[m].key, e.key)) return Error("transformMapEntry produced a repeated key");
            }
            entries.Push(arena(), e);
          }
        } else {
          list.Push(arena(), r);
        }
        break;
      }
      case CompKind::kFilter: {
        Value r = Eval(n->args[1]);
        if (r.is_error()) return r;
        if (r.kind() != Kind::kBool) return NoOverload("filter", &r, 1);
        if (r.bool_value()) list.Push(arena(), val);
        break;
      }
      default:
        break;
    }
  }
  switch (kind) {
    case CompKind::kAll:
      return has_error ? error : Value::Bool(true);
    case CompKind::kExists:
      return has_error ? error : Value::Bool(false);
    case CompKind::kExistsOne:
      return Value::Bool(count == 1);
    case CompKind::kTransformMap:
    case CompKind::kTransformMapEntry:
      return NewMap(entries.data, entries.size);
    default:
      return Value::List(list.data, static_cast<uint32_t>(list.size));
  }
}

}  // namespace ec::cel
