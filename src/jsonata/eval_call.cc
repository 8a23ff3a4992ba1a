// Function calls: invocation, partial application, `~>`, tail calls (thunks), signatures.

#include <cstring>

#include "jsonata/eval.h"

namespace ec::jsonata::internal {

Val ApplyTransform(Evaluator& ev, const Node* expr, Val obj, Frame* env);
Val RegexMatchObject(Evaluator& ev, const Regex* re, Val str, size_t from);

namespace {

Func* NewFunc(Evaluator& ev, Func::Kind kind) {
  Func* f = new (ev.arena()->Allocate(sizeof(Func), alignof(Func))) Func();
  f->kind = kind;
  return f;
}

std::string ProcName(const Node* proc) {
  if (proc->type == NT::kPath && !proc->items.empty()) return proc->items[0]->str;
  return proc->str;
}

}  // namespace

int Evaluator::Arity(Val f) const {
  if (!f.is_func()) return 0;
  const Func* fn = f.f;
  switch (fn->kind) {
    case Func::kLambda: return fn->node->type == NT::kTransform ? 1 : static_cast<int>(fn->node->params.size());
    case Func::kBuiltin: return fn->builtin->arity;
    case Func::kPartial: {
      int n = 0;
      for (uint8_t h : fn->holes) n += h;
      return n;
    }
    case Func::kHost: return 3;
    case Func::kRegex: return 1;
    case Func::kChain: return 1;
  }
  return 0;
}

Val Evaluator::CallHof(Val f, Val a1, Val a2, Val a3) {
  Val args[3] = {a1, a2, a3};
  int n = Arity(f);
  size_t count = n >= 3 ? 3 : (n >= 2 ? 2 : 1);
  return Apply(f, std::span<Val>(args, count), Val(), root_);
}

Val Evaluator::EvalCall(const Node* expr, Val input, Frame* env, const Val* applyto) {
  Evaluator& ev = *this;
  Val proc = EV(Eval(expr->lhs, input, env));
  if (proc.undef() && expr->lhs->type == NT::kPath && !expr->lhs->items.empty()) {
    const std::string& name = expr->lhs->items[0]->str;
    if (!Lookup(env, name).undef() || FindBuiltin(name)) {
      return Fail("T1005", "Attempted to invoke a non-function. Did you mean ${" + name + "}?", expr->position, name);
    }
  }
  Val small[8];
  std::vector<Val> big;
  size_t n = expr->items.size() + (applyto ? 1 : 0);
  Val* args = small;
  if (n > 8) {
    big.resize(n);
    args = big.data();
  }
  size_t k = 0;
  if (applyto) args[k++] = *applyto;
  for (const Node* a : expr->items) args[k++] = EV(Eval(a, input, env));
  Val r = Apply(proc, std::span<Val>(args, n), input, env);
  if (failed) {
    if (error.position < 0) error.position = expr->position;
    if (error.token.empty()) error.token = ProcName(expr->lhs);
    return {};
  }
  return r;
}

Val Evaluator::EvalPartial(const Node* expr, Val input, Frame* env) {
  Evaluator& ev = *this;
  Func* f = NewFunc(ev, Func::kPartial);
  for (const Node* a : expr->items) {
    if (a->type == NT::kPlaceholder) {
      f->bound.Push(arena_, Val());
      f->holes.Push(arena_, 1);
    } else {
      f->bound.Push(arena_, EV(Eval(a, input, env)));
      f->holes.Push(arena_, 0);
    }
  }
  Val proc = EV(Eval(expr->lhs, input, env));
  std::string name = ProcName(expr->lhs);
  if (proc.undef() && expr->lhs->type == NT::kPath && (!Lookup(env, name).undef() || FindBuiltin(name))) {
    return Fail("T1007", "Attempted to partially apply a non-function. Did you mean ${" + name + "}?", expr->position, name);
  }
  if (!proc.is_func()) {
    return Fail("T1008", "Attempted to partially apply a non-function", expr->position, name);
  }
  f->target = proc;
  return Val::Of(f);
}

Val Evaluator::EvalApplyOp(const Node* expr, Val input, Frame* env) {
  Evaluator& ev = *this;
  Val lhs = EV(Eval(expr->lhs, input, env));
  if (expr->rhs->type == NT::kCall) return EvalCall(expr->rhs, input, env, &lhs);
  Val fn = EV(Eval(expr->rhs, input, env));
  if (!fn.is_func()) {
    return FailV("T2006", "The right side of the function application operator ~> must be a function", fn,
                 expr->position);
  }
  if (lhs.is_func()) {
    Func* c = NewFunc(ev, Func::kChain);
    c->target = lhs;
    c->bound.Push(arena_, fn);
    return Val::Of(c);
  }
  Val args[1] = {lhs};
  return Apply(fn, std::span<Val>(args, 1), Val(), env);
}

Val Evaluator::Apply(Val proc, std::span<Val> args, Val input, Frame* env) {
  Evaluator& ev = *this;
  Val r = EV(ApplyInner(proc, args, input, env));
  while (r.is_func() && r.f->kind == Func::kLambda && r.f->thunk) {
    const Func* t = r.f;
    const Node* call = t->node->body;
    if (!CheckLimits(call->position)) return {};
    Val next = EV(Eval(call->lhs, t->input, t->closure));
    std::vector<Val> a;
    a.reserve(call->items.size());
    for (const Node* x : call->items) a.push_back(EV(Eval(x, t->input, t->closure)));
    r = ApplyInner(next, std::span<Val>(a.data(), a.size()), input, env);
    if (failed) {
      if (error.position < 0) error.position = call->position;
      if (error.token.empty()) error.token = ProcName(call->lhs);
      return {};
    }
  }
  return r;
}

Val Evaluator::ApplyInner(Val proc, std::span<Val> args, Val input, Frame* env) {
  Evaluator& ev = *this;
  if (!proc.is_func()) {
    return Fail("T1006", "Attempted to invoke a non-function");
  }
  Func* f = proc.f;
  const Signature* sig = nullptr;
  if (f->kind == Func::kLambda && f->node->type == NT::kLambda) sig = f->node->signature;
  if (f->kind == Func::kBuiltin) sig = &f->builtin->sig;
  std::span<Val> a = args;
  Arr* validated = nullptr;
  // Validated arguments are staged on the stack (the arena only for long argument lists).
  Val staged[8];
  Arr staged_arr;
  if (sig) {
    validated = &staged_arr;
    validated->items.data = staged;
    validated->items.cap = sizeof(staged) / sizeof(staged[0]);
    EV(ValidateArgs(ev, *sig, args, input, validated));
    a = std::span<Val>(validated->items.data, validated->items.size);
  }
  switch (f->kind) {
    case Func::kLambda: {
      if (f->node->type == NT::kTransform) return ApplyTransform(ev, f->node, a.empty() ? Val() : a[0], f->closure);
      Frame* fr = NewFrame(f->closure);
      const auto& params = f->node->params;
      for (size_t i = 0; i < params.size(); ++i) fr->vars.Push(arena_, Binding{params[i], i < a.size() ? a[i] : Val()});
      return Eval(f->node->body, f->input, fr);
    }
    case Func::kBuiltin: return f->builtin->fn(ev, a, input, env);
    case Func::kPartial: {
      std::vector<Val> full(f->bound.size);
      size_t next = 0;
      for (uint32_t i = 0; i < f->bound.size; ++i) {
        if (f->holes[i]) full[i] = next < a.size() ? a[next++] : Val();
        else full[i] = f->bound[i];
      }
      return Apply(f->target, std::span<Val>(full.data(), full.size()), input, env);
    }
    case Func::kChain: {
      Val mid = EV(Apply(f->target, a, input, env));
      Val b[1] = {mid};
      return Apply(f->bound[0], std::span<Val>(b, 1), input, env);
    }
    case Func::kRegex: {
      if (a.empty() || !a[0].is_str()) return {};
      return RegexMatchObject(ev, f->regex, a[0], 0);
    }
    case Func::kHost: {
      if (!f->host->signature.empty()) {
        Signature hs;
        Error serr;
        if (!ParseSignature(f->host->signature, &hs, &serr)) return Fail(serr.code.c_str(), serr.message);
        validated = NewArr(false);
        EV(ValidateArgs(ev, hs, args, input, validated));
        a = std::span<Val>(validated->items.data, validated->items.size);
      }
      json::Builder b(arena_);
      std::vector<MaybeValue> margs(a.size());
      for (size_t i = 0; i < a.size(); ++i) {
        json::Value jv;
        if (ToJson(a[i], b, &jv)) margs[i] = Defined(jv);
      }
      Result<MaybeValue> r = f->host->fn(std::span<const MaybeValue>(margs.data(), margs.size()), b);
      if (!r.ok()) {
        const std::string& m = r.status().message();
        if (m.size() > 7 && m[5] == ':' && m[6] == ' ') {
          std::string code = m.substr(0, 5);
          Fail("D3137", m.substr(7));
          error.code = code;
        } else {
          Fail("D3137", m);
        }
        return {};
      }
      return FromMaybe(arena_, *r);
    }
  }
  return {};
}

// ---- signatures ----

namespace {

bool HasSymbol(const std::string& symbols, char c) {
  for (char s : symbols)
    if (s == c) return true;
  return false;
}

// The common shape: no `+` parameter and arguments matching parameters one to one, any
// missing ones optional. Then the backtracking matcher's first solution is exactly this
// one (it always tries "one argument" before "none"), so it is taken without searching.
bool MatchPositionally(const Signature& sig, std::string_view supplied, size_t* counts) {
  const size_t np = sig.params.size();
  if (supplied.size() > np) return false;
  for (size_t i = 0; i < np; ++i) {
    const SigParam& p = sig.params[i];
    if (p.quant == '+') return false;
    if (i < supplied.size()) {
      if (!HasSymbol(p.symbols, supplied[i])) return false;
      counts[i] = 1;
    } else {
      if (p.quant != '?') return false;
      counts[i] = 0;
    }
  }
  return true;
}

struct SigMatcher {
  const Signature& sig;
  std::string_view s;
  size_t* counts;
  size_t limit;  // params considered
  bool anchored;
  size_t end = 0;

  bool In(const SigParam& p, char c) const { return HasSymbol(p.symbols, c); }

  bool Match(size_t pi, size_t pos) {
    if (pi == limit) {
      if (anchored && pos != s.size()) return false;
      end = pos;
      return true;
    }
    const SigParam& p = sig.params[pi];
    if (p.quant == '+') {
      size_t k = 0;
      while (pos + k < s.size() && In(p, s[pos + k])) k++;
      for (; k >= 1; --k) {
        counts[pi] = k;
        if (Match(pi + 1, pos + k)) return true;
      }
      return false;
    }
    if (pos < s.size() && In(p, s[pos])) {
      counts[pi] = 1;
      if (Match(pi + 1, pos + 1)) return true;
    }
    if (p.quant == '?') {
      counts[pi] = 0;
      return Match(pi + 1, pos);
    }
    return false;
  }
};

const char* ArrayTypeName(char c) {
  switch (c) {
    case 'a': return "arrays";
    case 'b': return "booleans";
    case 'f': return "functions";
    case 'n': return "numbers";
    case 'o': return "objects";
    case 's': return "strings";
  }
  return "values";
}

}  // namespace

Val ValidateArgs(Evaluator& ev, const Signature& sig, std::span<Val> args, Val context, Arr* out) {
  // Type symbols of the arguments (on the stack unless there are many).
  char small[16];
  std::string big;
  char* sym = small;
  if (args.size() > sizeof small) {
    big.resize(args.size());
    sym = big.data();
  }
  for (size_t i = 0; i < args.size(); ++i) sym[i] = SigSymbol(args[i]);
  std::string_view supplied(sym, args.size());
  size_t counts[32];
  if (sig.params.size() > 32) return ev.Fail("S0401", "Signature has too many parameters");
  SigMatcher m{sig, supplied, counts, sig.params.size(), true};
  if (!MatchPositionally(sig, supplied, counts) && !m.Match(0, 0)) {
    size_t good_to = 0;
    for (size_t i = 0; i < sig.params.size(); ++i) {
      size_t pcounts[32] = {};
      SigMatcher pm{sig, supplied, pcounts, i + 1, false};
      if (!pm.Match(0, 0)) break;
      good_to = pm.end;
    }
    ev.Fail("T0410", "Argument " + std::to_string(good_to + 1) + " of function does not match function signature");
    if (good_to < args.size()) ev.error.value = ValueText(args[good_to]);
    return {};
  }
  size_t arg_index = 0;
  for (size_t i = 0; i < sig.params.size(); ++i) {
    const SigParam& p = sig.params[i];
    size_t count = m.counts[i];
    if (count == 0) {
      if (p.context) {
        char cs = SigSymbol(context);
        if (HasSymbol(p.context_symbols, cs)) {
          out->items.Push(ev.arena(), context);
        } else {
          ev.Fail("T0411", "Context value is not a compatible type with argument " + std::to_string(arg_index + 1) + " of function");
          ev.error.value = ValueText(context);
          return {};
        }
      } else {
        out->items.Push(ev.arena(), arg_index < args.size() ? args[arg_index] : Val());
        arg_index++;
      }
      continue;
    }
    for (size_t c = 0; c < count; ++c) {
      Val arg = args[arg_index];
      char single = supplied[arg_index];
      if (p.type == 'a') {
        if (single == 'm') {
          arg = Val();
        } else {
          if (!p.subtype.empty()) {
            bool ok = true;
            if (single != 'a' && !(p.subtype.size() == 1 && p.subtype[0] == single)) {
              ok = false;
            } else if (single == 'a') {
              uint32_t n = ArrSize(arg);
              if (n > 0) {
                char item_type = SigSymbol(ArrAt(arg, 0));
                if (item_type != p.subtype[0]) {
                  ok = false;
                } else {
                  for (uint32_t k = 0; k < n; ++k)
                    if (SigSymbol(ArrAt(arg, k)) != item_type) ok = false;
                }
              }
            }
            if (!ok) {
              ev.Fail("T0412", "Argument " + std::to_string(arg_index + 1) + " of function must be an array of " +
                                   ArrayTypeName(p.subtype[0]));
              ev.error.value = ValueText(arg);
              return {};
            }
          }
          if (single != 'a') {
            Arr* w = ev.NewArr(false);
            w->items.Push(ev.arena(), arg);
            arg = Val::Of(w);
          }
        }
      }
      out->items.Push(ev.arena(), arg);
      arg_index++;
    }
  }
  return Val::Bool(true);
}

}  // namespace ec::jsonata::internal
