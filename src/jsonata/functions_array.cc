// Arrays, objects, higher-order functions, $error/$assert/$type and $eval.

#include <algorithm>
#include <random>
#include <unordered_set>

#include "jsonata/functions.h"

namespace ec::jsonata::internal {

EC_JSONATA_FN(FnAppend) { return Append(ev, Arg(args, 0), Arg(args, 1)); }

EC_JSONATA_FN(FnReverse) {
  Val a = Arg(args, 0);
  if (a.undef()) return {};
  uint32_t n = ArrSize(a);
  if (n <= 1) return a;
  Arr* out = ev.NewArr(false);
  for (uint32_t i = n; i-- > 0;) out->items.Push(ev.arena(), ArrAt(a, i));
  return Val::Of(out);
}

EC_JSONATA_FN(FnSort) {
  Val a = Arg(args, 0), cmp = Arg(args, 1);
  if (a.undef()) return {};
  uint32_t n = ArrSize(a);
  if (n <= 1) return a;
  std::vector<Val> items(n);
  for (uint32_t i = 0; i < n; ++i) items[i] = ArrAt(a, i);
  if (cmp.undef()) {
    bool nums = true, strs = true;
    for (const Val& v : items) {
      nums = nums && v.is_num();
      strs = strs && v.is_str();
    }
    if (!nums && !strs) {
      ev.Fail("D3070", "The single argument form of the sort function can only be applied to an array of strings or an array of numbers.  Use the second argument to specify a comparison function");
      return {};
    }
    std::stable_sort(items.begin(), items.end(), [&](const Val& x, const Val& y) {
      return nums ? x.d < y.d : x.str() < y.str();
    });
  } else {
    // Merge sort where cmp(a, b) truthy means a goes after b (jsonata-js's order).
    std::vector<Val> tmp(n);
    std::function<void(size_t, size_t)> msort = [&](size_t lo, size_t hi) {
      if (hi - lo <= 1 || ev.failed) return;
      size_t mid = lo + (hi - lo) / 2;
      msort(lo, mid);
      msort(mid, hi);
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi && !ev.failed) {
        Val pair[2] = {items[i], items[j]};
        Val r = ev.Apply(cmp, std::span<Val>(pair, 2), Val(), ev.root_frame());
        if (JsTruthy(r)) tmp[k++] = items[j++];
        else tmp[k++] = items[i++];
      }
      while (i < mid) tmp[k++] = items[i++];
      while (j < hi) tmp[k++] = items[j++];
      for (size_t x = lo; x < hi; ++x) items[x] = tmp[x];
    };
    msort(0, n);
    if (ev.failed) return {};
  }
  Arr* out = ev.NewArr(false);
  for (const Val& v : items) out->items.Push(ev.arena(), v);
  return Val::Of(out);
}

EC_JSONATA_FN(FnShuffle) {
  Val a = Arg(args, 0);
  if (a.undef()) return {};
  uint32_t n = ArrSize(a);
  if (n <= 1) return a;
  Arr* out = ev.NewArr(false);
  for (uint32_t i = 0; i < n; ++i) out->items.Push(ev.arena(), ArrAt(a, i));
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::shuffle(out->items.begin(), out->items.end(), rng);
  return Val::Of(out);
}

EC_JSONATA_FN(FnDistinct) {
  Val a = Arg(args, 0);
  if (a.undef()) return {};
  if (!a.is_array() || ArrSize(a) <= 1) return a;
  Arr* out = ev.NewArr(true);
  uint32_t n = ArrSize(a);
  for (uint32_t i = 0; i < n; ++i) {
    Val v = ArrAt(a, i);
    bool dup = false;
    for (const Val& w : out->items) {
      if (DeepEqual(v, w)) {
        dup = true;
        break;
      }
    }
    if (!dup) out->items.Push(ev.arena(), v);
  }
  return Val::Of(out);
}

EC_JSONATA_FN(FnZip) {
  Arr* out = ev.NewArr(false);
  if (args.empty()) return Val::Of(out);
  uint32_t len = UINT32_MAX;
  for (const Val& a : args) len = std::min(len, a.is_array() ? ArrSize(a) : 0u);
  for (uint32_t i = 0; i < len; ++i) {
    Arr* t = ev.NewArr(false);
    for (const Val& a : args) t->items.Push(ev.arena(), ArrAt(a, i));
    out->items.Push(ev.arena(), Val::Of(t));
  }
  return Val::Of(out);
}

EC_JSONATA_FN(FnKeys) {
  Val a = Arg(args, 0);
  Arr* out = ev.NewArr(true);
  if (a.is_array()) {
    std::unordered_set<std::string_view> seen;
    uint32_t n = ArrSize(a);
    for (uint32_t i = 0; i < n; ++i) {
      Val o = ArrAt(a, i);
      uint32_t m = ObjSize(o);
      for (uint32_t j = 0; j < m; ++j) {
        std::string_view k = ObjKey(o, j);
        if (seen.insert(k).second) out->items.Push(ev.arena(), Val::Str(k));
      }
    }
  } else if (a.is_object()) {
    uint32_t m = ObjSize(a);
    for (uint32_t j = 0; j < m; ++j) out->items.Push(ev.arena(), Val::Str(ObjKey(a, j)));
  }
  return Val::Of(out);
}

namespace {

Val LookupIn(Evaluator& ev, Val in, std::string_view key) {
  if (in.is_array()) {
    Arr* out = ev.NewArr(true);
    uint32_t n = ArrSize(in);
    for (uint32_t i = 0; i < n; ++i) {
      Val r = LookupIn(ev, ArrAt(in, i), key);
      if (r.undef()) continue;
      if (r.is_array()) {
        uint32_t m = ArrSize(r);
        for (uint32_t j = 0; j < m; ++j) out->items.Push(ev.arena(), ArrAt(r, j));
      } else {
        out->items.Push(ev.arena(), r);
      }
    }
    return Val::Of(out);
  }
  return ObjGet(in, key);
}

}  // namespace

EC_JSONATA_FN(FnLookup) { return LookupIn(ev, Arg(args, 0), Arg(args, 1).str()); }

EC_JSONATA_FN(FnSpread) {
  Val a = Arg(args, 0);
  if (a.is_array()) {
    Val result = ev.MakeSeq();
    uint32_t n = ArrSize(a);
    for (uint32_t i = 0; i < n; ++i) {
      Val one[1] = {ArrAt(a, i)};
      Val r = EV(FnSpread(ev, std::span<Val>(one, 1), input, env));
      result = Append(ev, result, r);
    }
    return result;
  }
  if (a.is_object()) {
    Arr* out = ev.NewArr(true);
    uint32_t m = ObjSize(a);
    for (uint32_t j = 0; j < m; ++j) {
      Obj* o = ev.NewObj();
      o->props.Push(ev.arena(), Prop{ObjKey(a, j), ObjVal(a, j)});
      out->items.Push(ev.arena(), Val::Of(o));
    }
    return Val::Of(out);
  }
  return a;
}

EC_JSONATA_FN(FnMerge) {
  Val a = Arg(args, 0);
  if (a.undef()) return {};
  Obj* out = ev.NewObj();
  uint32_t n = ArrSize(a);
  for (uint32_t i = 0; i < n; ++i) {
    Val o = ArrAt(a, i);
    uint32_t m = ObjSize(o);
    for (uint32_t j = 0; j < m; ++j) {
      std::string_view k = ObjKey(o, j);
      Val v = ObjVal(o, j);
      bool found = false;
      for (Prop& p : out->props) {
        if (p.key == k) {
          p.val = v;
          found = true;
        }
      }
      if (!found) out->props.Push(ev.arena(), Prop{k, v});
    }
  }
  return Val::Of(out);
}

EC_JSONATA_FN(FnEach) {
  Val o = Arg(args, 0), f = Arg(args, 1);
  if (o.undef()) return {};
  Arr* out = ev.NewArr(true);
  uint32_t m = ObjSize(o);
  for (uint32_t j = 0; j < m; ++j) {
    Val r = EV(ev.CallHof(f, ObjVal(o, j), Val::Str(ObjKey(o, j)), o));
    if (!r.undef()) out->items.Push(ev.arena(), r);
  }
  return Val::Of(out);
}

EC_JSONATA_FN(FnSift) {
  Val o = Arg(args, 0), f = Arg(args, 1);
  if (o.undef()) return {};
  Obj* out = ev.NewObj();
  uint32_t m = ObjSize(o);
  for (uint32_t j = 0; j < m; ++j) {
    Val r = EV(ev.CallHof(f, ObjVal(o, j), Val::Str(ObjKey(o, j)), o));
    if (ToBoolean(r)) out->props.Push(ev.arena(), Prop{ObjKey(o, j), ObjVal(o, j)});
  }
  if (out->props.size == 0) return {};
  return Val::Of(out);
}

EC_JSONATA_FN(FnError) {
  Val m = Arg(args, 0);
  ev.Fail("D3137", m.undef() ? "$error() function evaluated" : std::string(m.str()));
  return {};
}

EC_JSONATA_FN(FnAssert) {
  Val c = Arg(args, 0), m = Arg(args, 1);
  if (!c.b()) {
    ev.Fail("D3141", m.undef() ? "$assert() statement failed" : std::string(m.str()));
  }
  return {};
}

EC_JSONATA_FN(FnType) {
  Val a = Arg(args, 0);
  const char* t = TypeOf(a);
  if (!t) return {};
  return Val::Str(t);
}

EC_JSONATA_FN(FnMap) {
  Val a = Arg(args, 0), f = Arg(args, 1);
  if (a.undef()) return {};
  Arr* out = ev.NewArr(true);
  uint32_t n = ArrSize(a);
  for (uint32_t i = 0; i < n; ++i) {
    Val r = EV(ev.CallHof(f, ArrAt(a, i), Val::Num(i), a));
    if (!r.undef()) out->items.Push(ev.arena(), r);
  }
  return Val::Of(out);
}

EC_JSONATA_FN(FnFilter) {
  Val a = Arg(args, 0), f = Arg(args, 1);
  if (a.undef()) return {};
  Arr* out = ev.NewArr(true);
  uint32_t n = ArrSize(a);
  for (uint32_t i = 0; i < n; ++i) {
    Val r = EV(ev.CallHof(f, ArrAt(a, i), Val::Num(i), a));
    if (ToBoolean(r)) out->items.Push(ev.arena(), ArrAt(a, i));
  }
  return Val::Of(out);
}

EC_JSONATA_FN(FnSingle) {
  Val a = Arg(args, 0), f = Arg(args, 1);
  if (a.undef()) return {};
  bool found = false;
  Val result;
  uint32_t n = ArrSize(a);
  for (uint32_t i = 0; i < n; ++i) {
    bool pos = true;
    if (!f.undef()) {
      Val r = EV(ev.CallHof(f, ArrAt(a, i), Val::Num(i), a));
      pos = ToBoolean(r);
    }
    if (pos) {
      if (found) {
        return ev.Fail("D3138", "The $single() function expected exactly 1 matching result.  Instead it matched more.");
      }
      result = ArrAt(a, i);
      found = true;
    }
  }
  if (!found) return ev.Fail("D3139", "The $single() function expected exactly 1 matching result.  Instead it matched 0.");
  return result;
}

EC_JSONATA_FN(FnReduce) {
  Val a = Arg(args, 0), f = Arg(args, 1), init = Arg(args, 2);
  if (a.undef()) return {};
  int arity = ev.Arity(f);
  if (arity < 2) {
    return ev.Fail("D3050", "The second argument of reduce function must be a function with at least two arguments");
  }
  uint32_t n = ArrSize(a);
  uint32_t i = 0;
  Val result;
  if (init.undef() && n > 0) {
    result = ArrAt(a, 0);
    i = 1;
  } else {
    result = init;
  }
  for (; i < n; ++i) {
    Val fa[4] = {result, ArrAt(a, i), Val::Num(i), a};
    size_t cnt = arity >= 4 ? 4 : (arity >= 3 ? 3 : 2);
    result = EV(ev.Apply(f, std::span<Val>(fa, cnt), Val(), ev.root_frame()));
  }
  return result;
}

namespace {

Val Clone(Evaluator& ev, Val v) {
  if (v.is_array()) {
    Arr* a = ev.NewArr(false);
    uint32_t n = ArrSize(v);
    for (uint32_t i = 0; i < n; ++i) a->items.Push(ev.arena(), Clone(ev, ArrAt(v, i)));
    return Val::Of(a);
  }
  if (v.is_object()) {
    Obj* o = ev.NewObj();
    uint32_t n = ObjSize(v);
    for (uint32_t i = 0; i < n; ++i) o->props.Push(ev.arena(), Prop{ObjKey(v, i), Clone(ev, ObjVal(v, i))});
    return Val::Of(o);
  }
  return v;
}

}  // namespace

EC_JSONATA_FN(FnClone) {
  Val a = Arg(args, 0);
  if (a.undef()) return {};
  return Clone(ev, a);
}

EC_JSONATA_FN(FnEval) {
  Val src = Arg(args, 0), focus = Arg(args, 1);
  if (src.undef()) return {};
  Val in = input;
  if (!focus.undef()) {
    in = focus;
    if (in.is_array() && !IsSequence(in)) {
      Arr* w = ev.NewArr(true);
      w->outer_wrapper = true;
      w->items.Push(ev.arena(), in);
      in = Val::Of(w);
    }
  }
  auto prog = std::make_unique<Program>();
  prog->source = std::string(src.str());
  prog->options = ev.program()->options;
  Error e;
  if (!ParseProgram(prog.get(), &e)) {
    ev.Fail("D3120", "Syntax error in expression passed to function eval: " + e.message);
    ev.error.value = e.message;
    return {};
  }
  const Node* root = prog->root;
  ev.eval_programs.push_back(std::move(prog));
  Val r = ev.Eval(root, in, env);
  if (ev.failed) {
    std::string m = ev.error.message;
    ev.error = Error();
    ev.failed = false;
    ev.Fail("D3121", "Dynamic error evaluating the expression passed to function eval: " + m);
    ev.error.value = m;
    return {};
  }
  return r;
}

}  // namespace ec::jsonata::internal
