// The evaluator: one function per expression kind, following jsonata-js's evaluation rules
// (sequences, singleton unwrapping, tuple streams for @ # %, thunks for tail calls).

#include "jsonata/eval.h"

#include <algorithm>
#include <cmath>

#include "json/builder.h"
#include "json/writer.h"

namespace ec::jsonata::internal {

Evaluator::Evaluator(const Program* prog, Arena* arena, const Bindings* bindings)
    : prog_(prog), arena_(arena), bindings_(bindings) {
  max_depth_ = prog->options.max_depth;
  check_limits_ = prog->options.max_steps != 0 || prog->options.time_limit.count() > 0;
  if (prog->options.time_limit.count() > 0) {
    has_deadline_ = true;
    deadline_ = std::chrono::steady_clock::now() + prog->options.time_limit;
  }
}

Val Evaluator::Fail(const char* code, std::string message, int64_t position, std::string token) {
  if (!failed) {
    failed = true;
    error.code = code;
    error.message = std::move(message);
    error.position = position;
    error.token = std::move(token);
  }
  return {};
}

Val Evaluator::FailV(const char* code, std::string message, Val value, int64_t position) {
  if (!failed) {
    Fail(code, std::move(message), position);
    error.value = ValueText(value);
  }
  return {};
}

Arr* Evaluator::NewArr(bool sequence) {
  Arr* a = new (arena_->Allocate(sizeof(Arr), alignof(Arr))) Arr();
  a->sequence = sequence;
  return a;
}
Val Evaluator::MakeSeq() { return Val::Of(NewArr(true)); }
Obj* Evaluator::NewObj() { return new (arena_->Allocate(sizeof(Obj), alignof(Obj))) Obj(); }
Val Evaluator::CopyStr(std::string_view s) { return Val::Str(arena_->CopyString(s)); }
Frame* Evaluator::NewFrame(Frame* parent) {
  Frame* f = new (arena_->Allocate(sizeof(Frame), alignof(Frame))) Frame();
  f->parent = parent;
  return f;
}
void Evaluator::Bind(Frame* f, std::string_view name, Val v) {
  for (auto& b : f->vars) {
    if (b.name == name) {
      b.val = v;
      return;
    }
  }
  f->vars.Push(arena_, Binding{name, v});
}

Val Evaluator::Lookup(Frame* f, std::string_view name) const {
  for (; f; f = f->parent) {
    for (uint32_t i = f->vars.size; i-- > 0;) {
      if (SameKey(f->vars.data[i].name, name)) return f->vars.data[i].val;
    }
  }
  return {};
}

bool Evaluator::CheckLimits(int64_t position) {
  ++steps_;
  const auto& o = prog_->options;
  if (o.max_steps && steps_ > o.max_steps) {
    Fail("U1001", "Evaluation exceeded the step limit (" + std::to_string(o.max_steps) + ")", position);
    return false;
  }
  if (has_deadline_ && (steps_ & 255) == 0 && std::chrono::steady_clock::now() > deadline_) {
    Fail("U1001", "Expression evaluation timeout: Check for infinite loop", position);
    return false;
  }
  return true;
}

Val Evaluator::RunJson(const MaybeValue& input) {
  if (!input.defined) return Run(Val());
  input_root_ = input.value;
  return Run(Val::FromJson(input_root_));
}

Val Evaluator::Run(Val input) {
  const Val in = SetUpRoot(input);  // sets root_ (an argument's order of evaluation is unspecified)
  return Eval(prog_->root, in, root_);
}

bool Evaluator::RunObjectText(const MaybeValue& input, std::string* out) {
  const Node* root = prog_->root;
  // Eval of the root would count a step (limits) and a level of depth: without limits only the
  // depth is taken, as Eval takes it, around the members.
  if (root == nullptr || root->type != NT::kUnary || root->opcode != Op::kObjectCons || !root->const_keys ||
      !root->plain || check_limits_ || max_depth_ < 1 || (input.defined && input.value.is_array())) {
    return false;
  }
  Val in;
  if (input.defined) {
    input_root_ = input.value;
    in = Val::FromJson(input_root_);
  }
  in = SetUpRoot(in);
  // Direct members: the general evaluation of their shapes goes at most 6 levels deep, and with
  // no bindings the root frame holds only `$`, so `$count`/`$sum` name the built-ins.
  const bool direct = bindings_ == nullptr && in.k == VK::kJObj && max_depth_ >= 8;
  walk_valid_ = 0;
  ++depth_;
  out->push_back('{');
  bool first = true;
  for (const auto& [key, value] : root->pairs) {
    Val v;
    if (!direct || value->direct == Direct::kNone || !DirectMember(value, &v)) v = Eval(value, in, root_);
    if (failed) break;
    if (v.undef()) continue;  // EvalObjectCons leaves the member out
    const size_t member_at = out->size();
    if (!first) out->push_back(',');
    out->append(key->member_json);  // `"key":`, quoted when the program was compiled
    const size_t value_at = out->size();
    if (!AppendToJsonText(v, out)) {
      out->resize(value_at);
      json::Builder b(arena_);
      json::Value jv;
      if (!ToJson(v, b, &jv)) {  // a function: ToJson drops the member
        out->resize(member_at);
        continue;
      }
      json::AppendJson(jv, out);
    }
    first = false;
  }
  --depth_;
  if (!failed) out->push_back('}');
  return true;
}

namespace {

// `x * y` of a JSON object's two fields when both are numbers (finite: JSON has no others).
bool FieldProduct(const json::Value& item, std::string_view x, std::string_view y, double* product) {
  if (!item.is_object()) return false;
  const json::Value* a = FindMember(item, x);
  const json::Value* b = FindMember(item, y);
  if (a == nullptr || b == nullptr || !a->is_number() || !b->is_number()) return false;
  *product = a->number() * b->number();
  return true;
}

// A kFilterMap comparison operand as the general evaluation computes it, where that is a
// number: false for anything else (an absent field, a non-number, an overflowing product).
bool OperandNumber(const json::Value& item, const DirectOperand& op, const std::string_view* names, double* out) {
  switch (op.kind) {
    case DirectOperand::kNumber: *out = op.number; return true;
    case DirectOperand::kField: {
      const json::Value* f = FindMember(item, names[op.a]);
      if (f == nullptr || !f->is_number()) return false;
      *out = f->number();
      return true;
    }
    case DirectOperand::kProduct:
      return FieldProduct(item, names[op.a], names[op.b], out) && std::isfinite(*out);
  }
  return false;
}

// A kFilterMap member value: a field's value as EvalNamePath gives it (undefined when absent,
// an array as it is), a literal, or a finite product of two number fields (false otherwise).
bool OperandValue(const json::Value& item, const DirectOperand& op, const std::string_view* names, Val* out) {
  if (op.kind == DirectOperand::kField) {
    const json::Value* f = FindMember(item, names[op.a]);
    *out = f == nullptr ? Val() : Val::FromJson(*f);
    return true;
  }
  double number = 0;
  if (!OperandNumber(item, op, names, &number)) return false;
  *out = Val::Num(number);
  return true;
}

bool Compare(Op op, double a, double b) {
  switch (op) {
    case Op::kLt: return a < b;
    case Op::kLe: return a <= b;
    case Op::kGt: return a > b;
    default: return a >= b;
  }
}

}  // namespace

// EvalPath's array step filters the array's items (EvalFilter: the comparison's boolean), the
// constructor step makes each kept item an object (EvalObjectCons: members in key order, an
// undefined one left out), and Eval unwraps the sequence: undefined for none, the object for
// one, the sequence for more. Items that are not objects and operands that are not numbers
// (undefined comparisons, type errors) are left to Eval.
bool Evaluator::DirectFilterMapMember(const Node* value, const json::Value& array, Val* out) {
  const DirectFilterMap& spec = *value->direct_filter_map;
  const std::string_view* names = value->direct_names.data();
  Val first;
  Arr* many = nullptr;
  for (const json::Value& item : array.array()) {
    if (!item.is_object()) return false;
    double lhs = 0, rhs = 0;
    if (!OperandNumber(item, spec.lhs, names, &lhs) || !OperandNumber(item, spec.rhs, names, &rhs)) return false;
    if (!Compare(spec.compare, lhs, rhs)) continue;
    Obj* obj = NewObj();
    obj->props.Grow(arena_, static_cast<uint32_t>(spec.members.size()));
    for (const DirectFilterMap::Member& m : spec.members) {
      Val v;
      if (!OperandValue(item, m.value, names, &v)) return false;
      if (!v.undef()) obj->props.Push(arena_, Prop{names[m.key], v});
    }
    if (first.undef()) {
      first = Val::Of(obj);
      continue;
    }
    if (many == nullptr) {
      many = NewArr(true);
      many->items.Push(arena_, first);
    }
    many->items.Push(arena_, Val::Of(obj));
  }
  *out = many != nullptr ? Val::Of(many) : first;
  return true;
}

// The value the member's field names lead to from input_root_, as EvalNamePath walks them:
// nullptr when a field is absent or a step meets a non-object (undefined); false where
// EvalNamePath would go on with sequence semantics (an array before the last step). The walk
// starts after the names shared with the previous direct member, from where that walk got to;
// the first kWalkCache steps are recorded for the next member.
bool Evaluator::WalkDirect(const Node* value, const json::Value** found) {
  const std::string_view* names = value->direct_names.data();
  const size_t n = value->direct_steps;
  size_t i = std::min<size_t>(value->direct_shared, walk_valid_);
  const json::Value* cur = i == 0 ? &input_root_ : walk_at_[i];
  walk_valid_ = i;
  // The last walk kept an array only as its own last value: before this walk's last step it is
  // where the walk gives up.
  if (i > 0 && i < n && cur->is_array()) return false;
  for (; i < n; ++i) {
    if (!cur->is_object()) {  // ObjGet of a scalar or null: undefined
      *found = nullptr;
      return true;
    }
    const json::Value* r = FindMember(*cur, names[i]);
    if (r == nullptr) {
      *found = nullptr;
      return true;
    }
    if (r->is_array() && i + 1 < n) return false;
    cur = r;
    if (i < kWalkCache) {
      walk_at_[i + 1] = cur;
      walk_valid_ = i + 1;
    }
  }
  *found = cur;
  return true;
}

bool Evaluator::DirectMember(const Node* value, Val* out) {
  const std::string_view* names = value->direct_names.data();
  const size_t steps = value->direct_steps;
  const json::Value* found = nullptr;
  switch (value->direct) {
    case Direct::kNone: return false;
    case Direct::kNamePath:
      // EvalNamePath: a lone array at the end is the result as it is.
      if (!WalkDirect(value, &found)) return false;
      *out = found == nullptr ? Val() : Val::FromJson(*found);
      return true;
    case Direct::kCount:
      // FnCount after ValidateArgs: undefined 0, an array its length, anything else 1.
      if (!WalkDirect(value, &found)) return false;
      *out = Val::Num(found == nullptr ? 0 : (found->is_array() ? static_cast<double>(found->size()) : 1));
      return true;
    case Direct::kSumProduct: {
      // `$sum(p.(x * y))`: the block step maps an object to its product and an array of
      // objects to the sequence of theirs, and FnSum adds them from 0 in order. Anything the
      // step could turn into undefined, an error or a nested sequence is left to Eval: an
      // absent path, an empty array, an item that is not an object with two number fields.
      if (!WalkDirect(value, &found) || found == nullptr) return false;
      const std::string_view x = names[steps], y = names[steps + 1];
      double sum = 0, product = 0;
      if (found->is_object()) {
        if (!FieldProduct(*found, x, y, &product)) return false;
        sum += product;
      } else if (found->is_array() && found->size() > 0) {
        for (const json::Value& item : found->array()) {
          if (!FieldProduct(item, x, y, &product)) return false;
          sum += product;
        }
      } else {
        return false;
      }
      if (!std::isfinite(sum)) return false;  // an overflowing product or sum: Eval says what it is
      *out = Val::Num(sum);
      return true;
    }
    case Direct::kFilterMap:
      // The path's names walked as EvalPath's name prefix walks them (absent or a scalar on the
      // way: undefined), to the array the filter's step reads.
      if (!WalkDirect(value, &found)) return false;
      if (found == nullptr) {
        *out = Val();
        return true;
      }
      if (!found->is_array()) return false;
      return DirectFilterMapMember(value, *found, out);
  }
  return false;
}

Val Evaluator::SetUpRoot(Val input) {
  // The root frame and its first bindings live in the evaluator (no arena use for them).
  root_ = &root_frame_;
  root_->vars.data = reinterpret_cast<Binding*>(root_bindings_);
  root_->vars.cap = sizeof(root_bindings_) / sizeof(Binding);
  root_->vars.Push(arena_, Binding{"$", input});  // the frame is empty: no need to search
  if (bindings_) {
    for (const auto& v : bindings_->variables()) Bind(root_, v.name, Val::FromJson(v.value));
    for (const auto& h : bindings_->functions()) {
      Func* f = new (arena_->Allocate(sizeof(Func), alignof(Func))) Func();
      f->kind = Func::kHost;
      f->host = &h;
      Bind(root_, h.name, Val::Of(f));
    }
  }
  if (input.is_array() && !IsSequence(input)) {
    Arr* w = NewArr(true);
    w->outer_wrapper = true;
    w->items.Push(arena_, input);
    input = Val::Of(w);
  }
  return input;
}

Val Evaluator::Eval(const Node* expr, Val input, Frame* env) {
  if (++depth_ > max_depth_) {
    --depth_;
    return Fail("U1001", "Stack overflow error: Check for non-terminating recursive function.  Consider rewriting as tail-recursive.",
                expr->position);
  }
  if (check_limits_ && !CheckLimits(expr->position)) {
    --depth_;
    return {};
  }
  Val result = EvalInner(expr, input, env);
  --depth_;
  if (failed) return {};
  if (!expr->plain) {
    Evaluator& ev = *this;
    for (const Node* pred : expr->predicate) result = EV(EvalFilter(pred, result, env));
    if (expr->type != NT::kPath && expr->group) result = EV(EvalGroup(*expr->group, result, env));
  }
  if (result.k == VK::kArr && result.a->sequence && !result.a->tuple_stream) {
    Arr* a = result.a;
    if (expr->keep_array) a->keep_singleton = true;
    if (a->items.size == 0) return {};
    if (a->items.size == 1) return a->keep_singleton ? result : a->items.data[0];
  }
  return result;
}

Val Evaluator::EvalInner(const Node* expr, Val input, Frame* env) {
  Evaluator& ev = *this;
  switch (expr->type) {
    case NT::kPath: return expr->name_path ? EvalNamePath(expr, input, env) : EvalPath(expr, input, env);
    case NT::kBinary: return EvalBinary(expr, input, env);
    case NT::kUnary: return EvalUnary(expr, input, env);
    case NT::kName: {
      // fn.lookup
      if (input.is_array()) {
        Arr* out = NewArr(true);
        uint32_t n = ArrSize(input);
        for (uint32_t i = 0; i < n; ++i) {
          Val item = ArrAt(input, i);
          Val r;
          if (item.is_array()) {
            // nested arrays: look up in each (recursively flattening)
            Frame* unused = nullptr;
            (void)unused;
            r = EvalInner(expr, item, env);
          } else {
            r = ObjGet(item, expr->str);
          }
          if (r.undef()) continue;
          if (r.is_array()) {
            uint32_t m = ArrSize(r);
            for (uint32_t j = 0; j < m; ++j) out->items.Push(arena_, ArrAt(r, j));
          } else {
            out->items.Push(arena_, r);
          }
        }
        return Val::Of(out);
      }
      return ObjGet(input, expr->str);
    }
    case NT::kString: return Val::Str(expr->str);
    case NT::kNumber: return Val::Num(expr->num);
    case NT::kValue:
      if (expr->opcode == Op::kNull) return Val::Null();
      return Val::Bool(expr->opcode == Op::kTrue);
    case NT::kWildcard: {
      Arr* out = NewArr(true);
      if (input.k == VK::kArr && input.a->outer_wrapper && input.a->items.size > 0) input = input.a->items.data[0];
      if (input.is_array()) {
        uint32_t n = ArrSize(input);
        for (uint32_t i = 0; i < n; ++i) {
          Val v = ArrAt(input, i);
          if (v.is_array()) {
            Val flat = Flatten(ev, v);
            for (const Val& x : flat.a->items) out->items.Push(arena_, x);
          } else {
            out->items.Push(arena_, v);
          }
        }
      } else if (input.is_object()) {
        uint32_t n = ObjSize(input);
        for (uint32_t i = 0; i < n; ++i) {
          Val v = ObjVal(input, i);
          if (v.is_array()) {
            Val flat = Flatten(ev, v);
            for (const Val& x : flat.a->items) out->items.Push(arena_, x);
          } else {
            out->items.Push(arena_, v);
          }
        }
      }
      return Val::Of(out);
    }
    case NT::kDescendant: {
      if (input.undef()) return {};
      Arr* out = NewArr(true);
      // Iterative pre-order walk (arrays are transparent).
      std::vector<Val> stack{input};
      while (!stack.empty()) {
        Val v = stack.back();
        stack.pop_back();
        if (v.is_array()) {
          for (uint32_t i = ArrSize(v); i-- > 0;) stack.push_back(ArrAt(v, i));
          continue;
        }
        out->items.Push(arena_, v);
        if (v.is_object()) {
          for (uint32_t i = ObjSize(v); i-- > 0;) stack.push_back(ObjVal(v, i));
        }
      }
      if (out->items.size == 1) return out->items.data[0];
      return Val::Of(out);
    }
    case NT::kParent: return Lookup(env, expr->slot->label);
    case NT::kCondition: {
      Val c = EV(Eval(expr->cond, input, env));
      if (ToBoolean(c)) return Eval(expr->then, input, env);
      if (expr->otherwise) return Eval(expr->otherwise, input, env);
      return {};
    }
    case NT::kElvis: {
      Val l = EV(Eval(expr->lhs, input, env));
      if (ToBoolean(l)) return l;
      return Eval(expr->rhs, input, env);
    }
    case NT::kCoalesce: {
      Val l = EV(Eval(expr->lhs, input, env));
      if (!l.undef()) return l;
      return Eval(expr->rhs, input, env);
    }
    case NT::kBlock: {
      Frame* f = NewFrame(env);
      Val r;
      for (const Node* e : expr->items) r = EV(Eval(e, input, f));
      return r;
    }
    case NT::kBind: {
      Val v = EV(Eval(expr->rhs, input, env));
      Bind(env, expr->lhs->str, v);
      return v;
    }
    case NT::kRegex: {
      Func* f = new (arena_->Allocate(sizeof(Func), alignof(Func))) Func();
      f->kind = Func::kRegex;
      f->regex = expr->regex;
      return Val::Of(f);
    }
    case NT::kVariable: {
      if (expr->str.empty()) {
        if (input.k == VK::kArr && input.a->outer_wrapper) return input.a->items.data[0];
        return input;
      }
      Val v = Lookup(env, expr->str);
      if (v.undef() && expr->builtin) return Val::Of(expr->builtin->func);
      return v;
    }
    case NT::kCall: return EvalCall(expr, input, env, nullptr);
    case NT::kPartial: return EvalPartial(expr, input, env);
    case NT::kLambda: {
      Func* f = new (arena_->Allocate(sizeof(Func), alignof(Func))) Func();
      f->kind = Func::kLambda;
      f->node = expr;
      f->closure = env;
      f->input = input;
      f->thunk = expr->thunk;
      return Val::Of(f);
    }
    case NT::kApply: return EvalApplyOp(expr, input, env);
    case NT::kTransform: return EvalTransform(expr, input, env);
    case NT::kSort: return EvalSort(expr, input, env);
    default:
      return Fail("S0206", "Unknown expression type", expr->position);
  }
}

Val Evaluator::EvalPath(const Node* expr, Val input, Frame* env) {
  Evaluator& ev = *this;
  Val seq;
  Val result;
  size_t start = 0;
  bool done = false;
  if (expr->name_prefix > 0 && !input.is_array()) {
    // Leading plain field names (Annotate: name_prefix) walk single objects directly; the
    // first JSON array met becomes the sequence the general steps continue from.
    Val cur = input;
    size_t i = 0;
    for (; i < expr->name_prefix; ++i) {
      Val r = ObjGet(cur, expr->items[i]->str);
      if (r.undef() || (r.k == VK::kJArr && r.j->size() == 0)) {
        result = MakeSeq();  // what the general steps yield: an empty sequence
        done = true;
        break;
      }
      if (r.k == VK::kJArr) {
        seq = r;
        start = i + 1;
        break;
      }
      if (r.k == VK::kArr) break;  // constructed arrays: the general steps from the start
      cur = r;
    }
    if (i == expr->name_prefix) {
      Arr* a = NewArr(true);
      a->items.Push(arena_, cur);
      seq = Val::Of(a);
      start = i;
    }
  }
  if (start == 0 && !done) {
    if (input.is_array() && expr->items[0]->type != NT::kVariable) {
      seq = input;
    } else {
      Arr* a = NewArr(true);
      a->items.Push(arena_, input);  // even undefined: the first step still runs once
      seq = Val::Of(a);
    }
  }
  Val tuples;
  bool is_tuple = false;
  const size_t nsteps = done ? 0 : expr->items.size();
  for (size_t i = start; i < nsteps; ++i) {
    const Node* step = expr->items[i];
    if (step->tuple) is_tuple = true;
    if (i == 0 && step->consarray) {
      result = EV(Eval(step, seq, env));
    } else if (is_tuple) {
      tuples = EV(EvalTupleStep(step, seq, tuples, env));
    } else {
      result = EV(EvalStep(step, seq, env, i == nsteps - 1));
    }
    if (!is_tuple && (result.undef() || (result.is_array() && ArrSize(result) == 0))) break;
    if (step->focus.empty()) seq = result;
  }
  if (is_tuple) {
    if (expr->tuple) {
      result = tuples;
    } else {
      Arr* out = NewArr(true);
      if (tuples.k == VK::kArr) {
        for (const Val& t : tuples.a->items) out->items.Push(arena_, ObjGet(t, "@"));
      }
      result = Val::Of(out);
    }
  }
  if (expr->keep_singleton_array) {
    if (result.k == VK::kArr && result.a->cons && !result.a->sequence) {
      Arr* s = NewArr(true);
      s->items.Push(arena_, result);
      result = Val::Of(s);
    } else if (result.k == VK::kJArr || (result.k == VK::kArr && !result.a->sequence)) {
      Arr* s = NewArr(true);
      uint32_t n = ArrSize(result);
      for (uint32_t i = 0; i < n; ++i) s->items.Push(arena_, ArrAt(result, i));
      result = Val::Of(s);
    }
    if (result.k == VK::kArr) {
      result.a->keep_singleton = true;
    } else if (!result.undef()) {
      Arr* s = NewArr(true);
      s->items.Push(arena_, result);
      s->keep_singleton = true;
      result = Val::Of(s);
    }
  }
  if (expr->group) result = EV(EvalGroup(*expr->group, is_tuple ? tuples : result, env));
  return result;
}

// A path of plain field names (Annotate: name_path). While each step meets one object the
// walk needs no sequence at all; a JSON array in the middle continues with the general steps
// from there, anything else (constructed arrays, array input) takes the general path.
Val Evaluator::EvalNamePath(const Node* expr, Val input, Frame* env) {
  const size_t nsteps = expr->items.size();
  Val cur = input;
  size_t i = 0;
  if (expr->items[0]->type == NT::kVariable) {
    // `$var.a.b`: the variable is the first step's (only) input item.
    cur = Eval(expr->items[0], input, env);
    if (failed || cur.undef()) return {};
    if (cur.is_array()) return EvalPath(expr, input, env);
    i = 1;
  } else if (input.is_array()) {
    return EvalPath(expr, input, env);
  }
  for (; i < nsteps; ++i) {
    Val r = ObjGet(cur, expr->items[i]->str);
    if (r.undef()) return r;
    if (r.k == VK::kJArr) {
      if (i + 1 == nsteps) return r;  // a lone array at the end is the result as it is
      if (r.j->size() == 0) return {};
      Val seq = r, result;
      for (size_t j = i + 1; j < nsteps; ++j) {
        result = EvalStep(expr->items[j], seq, env, j + 1 == nsteps);
        if (failed) return {};
        if (result.undef() || (result.is_array() && ArrSize(result) == 0)) break;
        seq = result;
      }
      return result;
    }
    if (r.k == VK::kArr) return EvalPath(expr, input, env);
    cur = r;
  }
  return cur;
}

Val Evaluator::EvalStep(const Node* step, Val input, Frame* env, bool last) {
  Evaluator& ev = *this;
  if (step->type == NT::kSort) {
    Val r = EV(EvalSort(step, input, env));
    if (!step->stages.empty()) r = EV(EvalStages(step->stages, r, env));
    return r;
  }
  uint32_t n = ArrSize(input);
  Arr* out = NewArr(true);
  // Fast path: a name step over plain items flattens while looking up.
  if (step->type == NT::kName && step->stages.empty() && step->predicate.empty() && !step->group &&
      !step->keep_array) {
    uint32_t found = 0;
    Val only;
    for (uint32_t i = 0; i < n; ++i) {
      Val item = ArrAt(input, i);
      Val r = item.is_array() ? EV(Eval(step, item, env)) : ObjGet(item, step->str);
      if (r.undef()) continue;
      if (++found == 1) only = r;
      if (r.is_array() && !(r.k == VK::kArr && r.a->cons)) {
        uint32_t m = ArrSize(r);
        for (uint32_t j = 0; j < m; ++j) out->items.Push(arena_, ArrAt(r, j));
      } else {
        out->items.Push(arena_, r);
      }
    }
    if (last && found == 1 && only.is_array() && !IsSequence(only)) return only;
    return Val::Of(out);
  }
  Arr* results = NewArr(true);
  for (uint32_t i = 0; i < n; ++i) {
    Val r = EV(Eval(step, ArrAt(input, i), env));
    for (const Stage& st : step->stages) {
      r = EV(EvalFilter(st.expr, r, env));
    }
    if (!r.undef()) results->items.Push(arena_, r);
  }
  if (last && results->items.size == 1 && results->items.data[0].is_array() && !IsSequence(results->items.data[0])) {
    return results->items.data[0];
  }
  for (const Val& r : results->items) {
    if (!r.is_array() || (r.k == VK::kArr && r.a->cons)) {
      out->items.Push(arena_, r);
    } else {
      uint32_t m = ArrSize(r);
      for (uint32_t j = 0; j < m; ++j) out->items.Push(arena_, ArrAt(r, j));
    }
  }
  return Val::Of(out);
}

Val Evaluator::EvalStages(const std::vector<Stage>& stages, Val input, Frame* env) {
  Evaluator& ev = *this;
  Val result = input;
  for (const Stage& st : stages) {
    if (!st.is_index) {
      result = EV(EvalFilter(st.expr, result, env));
    } else if (result.k == VK::kArr) {
      for (uint32_t i = 0; i < result.a->items.size; ++i) {
        Val t = result.a->items.data[i];
        if (t.k == VK::kObj) {
          // copy-on-write: tuples may be shared
          Obj* o = NewObj();
          for (const Prop& p : t.o->props) o->props.Push(arena_, p);
          bool found = false;
          for (Prop& p : o->props) {
            if (p.key == st.var) {
              p.val = Val::Num(i);
              found = true;
            }
          }
          if (!found) o->props.Push(arena_, Prop{st.var, Val::Num(i)});
          result.a->items.data[i] = Val::Of(o);
        }
      }
    }
  }
  return result;
}

Frame* Evaluator::FrameFromTuple(Frame* env, Val tuple) {
  Frame* f = NewFrame(env);
  if (tuple.k == VK::kObj) {
    for (const Prop& p : tuple.o->props) f->vars.Push(arena_, Binding{p.key, p.val});
  }
  return f;
}

static void TupleSet(Arena* arena, Obj* o, std::string_view key, Val v) {
  for (Prop& p : o->props) {
    if (p.key == key) {
      p.val = v;
      return;
    }
  }
  o->props.Push(arena, Prop{key, v});
}

Val Evaluator::EvalTupleStep(const Node* step, Val input, Val tuples, Frame* env) {
  Evaluator& ev = *this;
  if (step->type == NT::kSort) {
    Val result;
    if (!tuples.undef()) {
      result = EV(EvalSort(step, tuples, env));
    } else {
      Val sorted = EV(EvalSort(step, input, env));
      Arr* out = NewArr(true);
      out->tuple_stream = true;
      uint32_t n = ArrSize(sorted);
      for (uint32_t i = 0; i < n; ++i) {
        Obj* t = NewObj();
        t->props.Push(arena_, Prop{"@", ArrAt(sorted, i)});
        if (!step->index_var.empty()) t->props.Push(arena_, Prop{step->index_var, Val::Num(i)});
        out->items.Push(arena_, Val::Of(t));
      }
      result = Val::Of(out);
    }
    if (!step->stages.empty()) result = EV(EvalStages(step->stages, result, env));
    return result;
  }
  Arr* out = NewArr(true);
  out->tuple_stream = true;
  if (tuples.undef()) {
    Arr* ts = NewArr(true);
    uint32_t n = ArrSize(input);
    for (uint32_t i = 0; i < n; ++i) {
      Obj* t = NewObj();
      t->props.Push(arena_, Prop{"@", ArrAt(input, i)});
      ts->items.Push(arena_, Val::Of(t));
    }
    tuples = Val::Of(ts);
  }
  if (tuples.k != VK::kArr) return Val::Of(out);
  for (uint32_t e = 0; e < tuples.a->items.size; ++e) {
    Val tb = tuples.a->items.data[e];
    Frame* f = FrameFromTuple(env, tb);
    Val at = ObjGet(tb, "@");
    Val res = EV(Eval(step, at, f));
    if (res.undef()) continue;
    bool res_tuples = res.k == VK::kArr && res.a->tuple_stream;
    uint32_t m = res.is_array() ? ArrSize(res) : 1;
    for (uint32_t b = 0; b < m; ++b) {
      Val item = res.is_array() ? ArrAt(res, b) : res;
      Obj* t = NewObj();
      for (const Prop& p : tb.o->props) t->props.Push(arena_, p);
      if (res_tuples) {
        if (item.k == VK::kObj) {
          for (const Prop& p : item.o->props) TupleSet(arena_, t, p.key, p.val);
        }
      } else {
        if (!step->focus.empty()) {
          TupleSet(arena_, t, step->focus, item);
          TupleSet(arena_, t, "@", at);
        } else {
          TupleSet(arena_, t, "@", item);
        }
        if (!step->index_var.empty()) TupleSet(arena_, t, step->index_var, Val::Num(b));
        if (step->ancestor) TupleSet(arena_, t, step->ancestor->label, at);
      }
      out->items.Push(arena_, Val::Of(t));
    }
  }
  Val result = Val::Of(out);
  if (!step->stages.empty()) result = EV(EvalStages(step->stages, result, env));
  return result;
}

Val Evaluator::EvalFilter(const Node* pred, Val input, Frame* env) {
  Evaluator& ev = *this;
  Arr* out = NewArr(true);
  bool tuple_stream = input.k == VK::kArr && input.a->tuple_stream;
  out->tuple_stream = tuple_stream;
  if (!input.is_array()) {
    Arr* s = NewArr(true);
    if (!input.undef()) s->items.Push(arena_, input);
    input = Val::Of(s);
  }
  uint32_t n = ArrSize(input);
  if (pred->type == NT::kNumber) {
    double idx = std::floor(pred->num);
    if (idx < 0) idx += n;
    if (idx >= 0 && idx < n) {
      Val item = ArrAt(input, static_cast<uint32_t>(idx));
      if (item.is_array()) return item;
      out->items.Push(arena_, item);
    }
    return Val::Of(out);
  }
  for (uint32_t i = 0; i < n; ++i) {
    Val item = ArrAt(input, i);
    Val ctx = item;
    Frame* f = env;
    if (tuple_stream) {
      ctx = ObjGet(item, "@");
      f = FrameFromTuple(env, item);
    }
    Val r = EV(Eval(pred, ctx, f));
    if (IsNumeric(r)) {
      double ii = std::floor(r.d);
      if (ii < 0) ii += n;
      if (ii == i) out->items.Push(arena_, item);
    } else if (IsArrayOfNumbers(r)) {
      uint32_t m = ArrSize(r);
      for (uint32_t j = 0; j < m; ++j) {
        double ii = std::floor(ArrAt(r, j).d);
        if (ii < 0) ii += n;
        if (ii == i) out->items.Push(arena_, item);
      }
    } else if (ToBoolean(r)) {
      out->items.Push(arena_, item);
    }
  }
  return Val::Of(out);
}

}  // namespace ec::jsonata::internal
