// Operators, constructors, group-by, sorting and the transform operator.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "jsonata/eval.h"

namespace ec::jsonata::internal {

namespace {

bool IsComparable(const Val& v) { return v.undef() || v.is_str() || v.is_num(); }

}  // namespace

Val Evaluator::EvalBinary(const Node* expr, Val input, Frame* env) {
  Evaluator& ev = *this;
  const std::string& op = expr->op;
  const Op code = expr->opcode;
  Val lhs = EV(Eval(expr->lhs, input, env));
  if (code == Op::kAnd || code == Op::kOr) {
    bool l = ToBoolean(lhs);
    if (code == Op::kAnd && !l) return Val::Bool(false);
    if (code == Op::kOr && l) return Val::Bool(true);
    Val rhs = EV(Eval(expr->rhs, input, env));
    return Val::Bool(ToBoolean(rhs));
  }
  Val rhs = EV(Eval(expr->rhs, input, env));
  switch (code) {
    case Op::kAdd: case Op::kSub: case Op::kMul: case Op::kDiv: case Op::kMod: {
      if (lhs.k == VK::kNum && rhs.k == VK::kNum && std::isfinite(lhs.d) && std::isfinite(rhs.d)) {
        double a = lhs.d, b = rhs.d;
        switch (code) {
          case Op::kAdd: return Val::Num(a + b);
          case Op::kSub: return Val::Num(a - b);
          case Op::kMul: return Val::Num(a * b);
          case Op::kDiv: return Val::Num(a / b);
          default: return Val::Num(std::fmod(a, b));
        }
      }
      break;
    }
    case Op::kEq: case Op::kNe: {
      if (lhs.undef() || rhs.undef()) return Val::Bool(false);
      bool eq = DeepEqual(lhs, rhs);
      return Val::Bool(code == Op::kEq ? eq : !eq);
    }
    case Op::kLt: case Op::kLe: case Op::kGt: case Op::kGe: {
      if (lhs.k == VK::kNum && rhs.k == VK::kNum) {
        double a = lhs.d, b = rhs.d;
        switch (code) {
          case Op::kLt: return Val::Bool(a < b);
          case Op::kLe: return Val::Bool(a <= b);
          case Op::kGt: return Val::Bool(a > b);
          default: return Val::Bool(a >= b);
        }
      }
      break;
    }
    case Op::kConcat: return Concat(expr, lhs, rhs);
    default: break;
  }
  char c0 = op[0];
  if (op.size() == 1 && (c0 == '+' || c0 == '-' || c0 == '*' || c0 == '/' || c0 == '%')) {
    if (!lhs.undef() && !IsNumeric(lhs)) {
      if (lhs.is_num()) return FailV("D1001", "Number out of range", lhs, expr->position);
      Fail("T2001", "The left side of the " + op + " operator must evaluate to a number", expr->position, op);
      error.value = ValueText(lhs);
      return {};
    }
    if (!rhs.undef() && !IsNumeric(rhs)) {
      if (rhs.is_num()) return FailV("D1001", "Number out of range", rhs, expr->position);
      Fail("T2002", "The right side of the " + op + " operator must evaluate to a number", expr->position, op);
      error.value = ValueText(rhs);
      return {};
    }
    if (lhs.undef() || rhs.undef()) return {};
    double a = lhs.d, b = rhs.d, r = 0;
    switch (c0) {
      case '+': r = a + b; break;
      case '-': r = a - b; break;
      case '*': r = a * b; break;
      case '/': r = a / b; break;
      case '%': r = std::fmod(a, b); break;
    }
    return Val::Num(r);
  }
  if (op == "=" || op == "!=") {
    if (lhs.undef() || rhs.undef()) return Val::Bool(false);
    bool eq = DeepEqual(lhs, rhs);
    return Val::Bool(op == "=" ? eq : !eq);
  }
  if (op == "<" || op == "<=" || op == ">" || op == ">=") {
    bool lc = IsComparable(lhs), rc = IsComparable(rhs);
    if (!lc || !rc) {
      Fail("T2010", "The expressions either side of operator \"" + op + "\" must evaluate to numeric or string values",
           expr->position, op);
      error.value = ValueText(!lc ? lhs : rhs);
      return {};
    }
    if (lhs.undef() || rhs.undef()) return {};
    if (lhs.k != rhs.k) {
      Fail("T2009", "The values " + ValueText(lhs) + " and " + ValueText(rhs) + " either side of operator \"" + op +
                        "\" must be of the same data type",
           expr->position, op);
      error.value = ValueText(lhs);
      return {};
    }
    int cmp;
    if (lhs.is_num()) {
      cmp = lhs.d < rhs.d ? -1 : (lhs.d > rhs.d ? 1 : (lhs.d == rhs.d ? 0 : 2));
    } else {
      int c = lhs.str().compare(rhs.str());
      cmp = c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (cmp == 2) return Val::Bool(false);
    if (op == "<") return Val::Bool(cmp < 0);
    if (op == "<=") return Val::Bool(cmp <= 0);
    if (op == ">") return Val::Bool(cmp > 0);
    return Val::Bool(cmp >= 0);
  }
  if (op == "..") {
    if (!lhs.undef() && (!lhs.is_num() || lhs.d != std::floor(lhs.d) || !std::isfinite(lhs.d))) {
      return FailV("T2003", "The left side of the range operator (..) must evaluate to an integer", lhs, expr->position);
    }
    if (!rhs.undef() && (!rhs.is_num() || rhs.d != std::floor(rhs.d) || !std::isfinite(rhs.d))) {
      return FailV("T2004", "The right side of the range operator (..) must evaluate to an integer", rhs, expr->position);
    }
    if (lhs.undef() || rhs.undef()) return {};
    if (lhs.d > rhs.d) return {};
    double size = rhs.d - lhs.d + 1;
    if (size > 1e7) {
      return FailV("D2014", "The size of the sequence allocated by the range operator (..) must not exceed 1e7.  Attempted to allocate " + std::to_string(static_cast<int64_t>(size)) + ".",
                   Val::Num(size), expr->position);
    }
    Arr* a = NewArr(true);
    a->items.Grow(arena_, static_cast<uint32_t>(size));
    for (double x = lhs.d; x <= rhs.d; x += 1) a->items.Push(arena_, Val::Num(x));
    return Val::Of(a);
  }
  if (op == "in") {
    if (lhs.undef() || rhs.undef()) return Val::Bool(false);
    auto same = [](const Val& a, const Val& b) {
      if (a.k != b.k) return false;
      switch (a.k) {
        case VK::kNull: return true;
        case VK::kBool: return a.n == b.n;
        case VK::kNum: return a.d == b.d;
        case VK::kStr: return a.str() == b.str();
        case VK::kJArr: case VK::kJObj: return a.j == b.j;
        case VK::kArr: return a.a == b.a;
        case VK::kObj: return a.o == b.o;
        case VK::kFunc: return a.f == b.f;
        default: return false;
      }
    };
    if (!rhs.is_array()) return Val::Bool(same(lhs, rhs));
    uint32_t n = ArrSize(rhs);
    for (uint32_t i = 0; i < n; ++i)
      if (same(lhs, ArrAt(rhs, i))) return Val::Bool(true);
    return Val::Bool(false);
  }
  return Fail("S0201", "Unknown operator " + op, expr->position, op);
}

// `&`: strings (the common case) are joined straight into one arena buffer; other values
// go through fn.string first.
Val Evaluator::Concat(const Node* expr, Val lhs, Val rhs) {
  (void)expr;
  if ((lhs.is_str() || lhs.undef()) && (rhs.is_str() || rhs.undef())) {
    size_t n = size_t{lhs.n} + rhs.n;
    if (lhs.undef() || lhs.n == 0) return rhs.undef() ? Val::Str({}) : rhs;
    if (rhs.undef() || rhs.n == 0) return lhs;
    char* p = static_cast<char*>(arena_->Allocate(n, 1));
    std::memcpy(p, lhs.s, lhs.n);
    std::memcpy(p + lhs.n, rhs.s, rhs.n);
    return Val::Str(std::string_view(p, n));
  }
  std::string s;
  if (!lhs.undef() && !Stringify(*this, lhs, false, &s)) return {};
  if (!rhs.undef()) {
    std::string r;
    if (!Stringify(*this, rhs, false, &r)) return {};
    s += r;
  }
  return CopyStr(s);
}

// `{...}` with distinct literal keys over a single (non-array) context: no grouping needed,
// each value is evaluated once against the context, in key order (as EvalGroup would).
Val Evaluator::EvalObjectCons(const Node* expr, Val input, Frame* env) {
  if (!expr->const_keys || input.is_array()) return EvalGroup(*expr->ctor_group, input, env);
  Evaluator& ev = *this;
  Obj* out = NewObj();
  out->props.Grow(arena_, static_cast<uint32_t>(expr->pairs.size()));
  for (const auto& [key, value] : expr->pairs) {
    Val v = EV(Eval(value, input, env));
    if (!v.undef()) out->props.Push(arena_, Prop{key->str, v});
  }
  return Val::Of(out);
}

Val Evaluator::EvalUnary(const Node* expr, Val input, Frame* env) {
  Evaluator& ev = *this;
  if (expr->opcode == Op::kNegate) {
    Val v = EV(Eval(expr->expr, input, env));
    if (v.undef()) return {};
    if (IsNumeric(v)) return Val::Num(-v.d);
    return FailV("D1002", "Cannot negate a non-numeric value", v, expr->position);
  }
  if (expr->opcode == Op::kArrayCons) {
    Arr* a = NewArr(false);
    for (const Node* item : expr->items) {
      Val v = EV(Eval(item, input, env));
      if (v.undef()) continue;
      if (item->type == NT::kUnary && item->opcode == Op::kArrayCons) {
        a->items.Push(arena_, v);
      } else if (v.is_array()) {
        uint32_t n = ArrSize(v);
        for (uint32_t i = 0; i < n; ++i) a->items.Push(arena_, ArrAt(v, i));
      } else {
        a->items.Push(arena_, v);
      }
    }
    if (expr->consarray) a->cons = true;
    return Val::Of(a);
  }
  if (expr->opcode == Op::kObjectCons) return EvalObjectCons(expr, input, env);
  return Fail("S0201", "Unknown unary operator", expr->position, expr->op);
}

namespace {
// Merges `item` into a tuple reduction (fn.append per property).
}

Val Evaluator::EvalGroup(const GroupBy& group, Val input, Frame* env) {
  Evaluator& ev = *this;
  bool reduce = input.k == VK::kArr && input.a->tuple_stream;
  if (!input.is_array()) {
    Arr* s = NewArr(true);
    s->items.Push(arena_, input);
    input = Val::Of(s);
  }
  uint32_t n = ArrSize(input);
  Val undef_item;
  struct Entry {
    std::string_view key;
    Val data;
    size_t expr_index;
  };
  // Groups live in the arena; keys are found by linear search until there are many of them.
  AVec<Entry> groups;
  std::unordered_map<std::string_view, size_t> index;
  constexpr uint32_t kLinearMax = 16;
  auto find_group = [&](std::string_view k) -> Entry* {
    if (groups.size <= kLinearMax) {
      for (Entry& e : groups)
        if (e.key == k) return &e;
      return nullptr;
    }
    auto it = index.find(k);
    return it == index.end() ? nullptr : &groups[it->second];
  };
  uint32_t count = n == 0 ? 1 : n;
  for (uint32_t i = 0; i < count; ++i) {
    Val item = n == 0 ? undef_item : ArrAt(input, i);
    Frame* f = reduce ? FrameFromTuple(env, item) : env;
    for (size_t p = 0; p < group.pairs.size(); ++p) {
      Val key = EV(Eval(group.pairs[p].first, reduce ? ObjGet(item, "@") : item, f));
      if (key.undef()) continue;
      if (!key.is_str()) {
        Fail("T1003", "Key in object structure must evaluate to a string; got: " + ValueText(key), group.position);
        error.value = ValueText(key);
        return {};
      }
      if (Entry* found = find_group(key.str())) {
        Entry& e = *found;
        if (e.expr_index != p) {
          Fail("D1009", "Multiple key definitions evaluate to same key: " + std::string(key.str()), group.position);
          error.value = ValueText(key);
          return {};
        }
        e.data = Append(ev, e.data, item);
      } else {
        groups.Push(arena_, Entry{key.str(), item, p});
        if (groups.size == kLinearMax + 1) {
          for (uint32_t g = 0; g < groups.size; ++g) index.emplace(groups[g].key, g);
        } else if (groups.size > kLinearMax + 1) {
          index.emplace(key.str(), groups.size - 1);
        }
      }
    }
  }
  Obj* out = NewObj();
  for (Entry& e : groups) {
    Val ctx = e.data;
    Frame* f = env;
    if (reduce) {
      // reduceTupleStream: merge the tuples' properties
      Obj* t = NewObj();
      if (e.data.is_array()) {
        uint32_t m = ArrSize(e.data);
        for (uint32_t i = 0; i < m; ++i) {
          Val tp = ArrAt(e.data, i);
          if (tp.k != VK::kObj) continue;
          for (const Prop& p : tp.o->props) {
            bool found = false;
            for (Prop& q : t->props) {
              if (q.key == p.key) {
                q.val = i == 0 ? p.val : Append(ev, q.val, p.val);
                found = true;
              }
            }
            if (!found) t->props.Push(arena_, p);
          }
        }
      } else if (e.data.k == VK::kObj) {
        for (const Prop& p : e.data.o->props) t->props.Push(arena_, p);
      }
      ctx = Val();
      Obj* rest = NewObj();
      for (const Prop& p : t->props) {
        if (p.key == "@") ctx = p.val;
        else rest->props.Push(arena_, p);
      }
      f = FrameFromTuple(env, Val::Of(rest));
    }
    Val v = EV(Eval(group.pairs[e.expr_index].second, ctx, f));
    if (!v.undef()) out->props.Push(arena_, Prop{e.key, v});
  }
  return Val::Of(out);
}

Val Evaluator::EvalSort(const Node* expr, Val input, Frame* env) {
  Evaluator& ev = *this;
  if (input.undef()) return {};
  if (!input.is_array()) return input;
  bool is_tuple = input.k == VK::kArr && input.a->tuple_stream;
  uint32_t n = ArrSize(input);
  // Evaluate every sort key once per item, then merge-sort (stable) by them.
  size_t nt = expr->terms.size();
  std::vector<Val> keys(static_cast<size_t>(n) * nt);
  std::vector<Val> items(n);
  for (uint32_t i = 0; i < n; ++i) {
    items[i] = ArrAt(input, i);
    Val ctx = items[i];
    Frame* f = env;
    if (is_tuple) {
      ctx = ObjGet(items[i], "@");
      f = FrameFromTuple(env, items[i]);
    }
    for (size_t t = 0; t < nt; ++t) keys[i * nt + t] = EV(Eval(expr->terms[t].expr, ctx, f));
  }
  std::vector<uint32_t> order(n);
  for (uint32_t i = 0; i < n; ++i) order[i] = i;
  bool bad = false;
  auto greater = [&](uint32_t a, uint32_t b) -> bool {  // true when a must come after b
    int comp = 0;
    for (size_t t = 0; t < nt; ++t) {
      const Val& aa = keys[a * nt + t];
      const Val& bb = keys[b * nt + t];
      if (aa.undef()) {
        comp = bb.undef() ? 0 : 1;
        continue;
      }
      if (bb.undef()) {
        comp = -1;
        break;
      }
      bool aok = aa.is_str() || aa.is_num(), bok = bb.is_str() || bb.is_num();
      if (!aok || !bok) {
        if (!bad) {
          bad = true;
          FailV("T2008", "The expressions within an order-by clause must evaluate to numeric or string values",
                !aok ? aa : bb, expr->position);
        }
        return false;
      }
      if (aa.k != bb.k) {
        if (!bad) {
          bad = true;
          Fail("T2007", "Type mismatch within order-by clause. All values must be of the same type", expr->position);
          error.value = ValueText(aa);
        }
        return false;
      }
      int c;
      if (aa.is_num()) c = aa.d == bb.d ? 0 : (aa.d < bb.d ? -1 : 1);
      else c = aa.str() == bb.str() ? 0 : (aa.str() < bb.str() ? -1 : 1);
      if (c == 0) {
        comp = 0;
        continue;
      }
      comp = expr->terms[t].descending ? -c : c;
      break;
    }
    return comp == 1;
  };
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return greater(b, a); });
  if (failed) return {};
  Arr* out = NewArr(true);
  out->tuple_stream = is_tuple;
  for (uint32_t i : order) out->items.Push(arena_, items[i]);
  return Val::Of(out);
}

// ---- transform: | pattern | update [, delete] | ----

namespace {

// Deep copy into fresh, mutable Arr/Obj values.
Val DeepClone(Evaluator& ev, Val v) {
  if (v.is_array()) {
    Arr* a = ev.NewArr(false);
    uint32_t n = ArrSize(v);
    for (uint32_t i = 0; i < n; ++i) a->items.Push(ev.arena(), DeepClone(ev, ArrAt(v, i)));
    if (v.k == VK::kArr) {
      a->sequence = v.a->sequence;
      a->outer_wrapper = v.a->outer_wrapper;
      a->cons = v.a->cons;
      a->keep_singleton = v.a->keep_singleton;
    }
    return Val::Of(a);
  }
  if (v.is_object()) {
    Obj* o = ev.NewObj();
    uint32_t n = ObjSize(v);
    for (uint32_t i = 0; i < n; ++i) o->props.Push(ev.arena(), Prop{ObjKey(v, i), DeepClone(ev, ObjVal(v, i))});
    return Val::Of(o);
  }
  return v;
}

}  // namespace

Val Evaluator::EvalTransform(const Node* expr, Val input, Frame* env) {
  Func* f = new (arena_->Allocate(sizeof(Func), alignof(Func))) Func();
  f->kind = Func::kLambda;
  f->node = expr;  // a transform node: applied by ApplyInner
  f->closure = env;
  f->input = input;
  return Val::Of(f);
}

// Applies a transform function to `obj` (called from ApplyInner).
Val ApplyTransform(Evaluator& ev, const Node* expr, Val obj, Frame* env) {
  if (obj.undef()) return {};
  if (!obj.is_object() && !obj.is_array()) {
    // jsonata-js: "The transform expression clones the input object using $clone"; non-objects
    // error with T0410 through $clone's signature.
    ev.Fail("T0410", "Argument 1 of function \"clone\" does not match function signature", expr->position, "clone");
    ev.error.value = ValueText(obj);
    return {};
  }
  Val result = DeepClone(ev, obj);
  Val matches = EV(ev.Eval(expr->expr, result, env));
  if (!matches.undef()) {
    Arr* ms = ev.NewArr(true);
    if (matches.is_array()) {
      uint32_t n = ArrSize(matches);
      for (uint32_t i = 0; i < n; ++i) ms->items.Push(ev.arena(), ArrAt(matches, i));
    } else {
      ms->items.Push(ev.arena(), matches);
    }
    for (const Val& m : ms->items) {
      if (m.k != VK::kObj) continue;  // only objects can be updated (clones are kObj)
      Val update = EV(ev.Eval(expr->update, m, env));
      if (!update.undef()) {
        if (!update.is_object()) {
          ev.Fail("T2011", "The insert/update clause of the transform expression must evaluate to an object: " + ValueText(update),
                  expr->update->position);
          ev.error.value = ValueText(update);
          return {};
        }
        uint32_t un = ObjSize(update);
        for (uint32_t i = 0; i < un; ++i) {
          std::string_view k = ObjKey(update, i);
          Val v = ObjVal(update, i);
          bool found = false;
          for (Prop& p : m.o->props) {
            if (p.key == k) {
              p.val = v;
              found = true;
            }
          }
          if (!found) m.o->props.Push(ev.arena(), Prop{k, v});
        }
      }
      if (expr->otherwise) {
        Val del = EV(ev.Eval(expr->otherwise, m, env));
        if (!del.undef()) {
          Val keys = del;
          if (!keys.is_array()) {
            Arr* a = ev.NewArr(false);
            a->items.Push(ev.arena(), del);
            keys = Val::Of(a);
          }
          if (!IsArrayOfStrings(keys)) {
            ev.Fail("T2012", "The delete clause of the transform expression must evaluate to a string or array of strings: " + ValueText(del),
                    expr->otherwise->position);
            ev.error.value = ValueText(del);
            return {};
          }
          uint32_t kn = ArrSize(keys);
          for (uint32_t i = 0; i < kn; ++i) {
            std::string_view k = ArrAt(keys, i).str();
            auto& props = m.o->props;
            uint32_t w = 0;
            for (uint32_t r = 0; r < props.size; ++r) {
              if (props.data[r].key != k) props.data[w++] = props.data[r];
            }
            props.size = w;
          }
        }
      }
    }
  }
  return result;
}

}  // namespace ec::jsonata::internal
