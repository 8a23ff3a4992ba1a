// Specialisation: after names are resolved and constants folded, common filter shapes are
// rewritten into nodes the evaluator runs without generic dispatch or Value boxing:
//   - select chains over comprehension variables (`i.price`) and literal-key indexes
//     (`request.headers['content-type']`) join the JSON path walk (kPath);
//   - a comparison of anything with a scalar literal becomes kCmpConst (a JSON number or
//     string is compared in place);
//   - contains/startsWith/endsWith/matches with a literal argument become kStrCall.
// Each rewritten node keeps the equivalent generic node as args[0]; the evaluator falls back to
// it whenever the fast form does not apply (absent key, non-JSON value, other kinds), so the
// results and error messages are exactly the generic ones. This is shape-based: it applies to
// any expression of these forms, never to particular names or values.

#include <string_view>

#include "cel/eval.h"
#include "cel/program.h"

namespace ec::cel {
namespace {

// A copy of `n` (the generic form kept for fallback).
Node* Clone(Program* p, const Node* n) {
  Node* c = p->NewNode(n->op, n->pos);
  *c = *n;
  return c;
}

bool IsScalarConst(const Node* n) {
  if (n->op != Op::kConst) return false;
  switch (n->value.kind()) {
    case Kind::kNull: case Kind::kBool: case Kind::kInt: case Kind::kUint: case Kind::kDouble: case Kind::kString:
      return true;
    default:
      return false;
  }
}

// n (a select or literal-key index over `base`) becomes a kPath extending `base`'s walk by `key`.
void ExtendPath(Program* p, Node* n, const Node* base, std::string_view key) {
  Node* generic = Clone(p, n);
  if (base->op == Op::kPath) generic->args[0] = base->args[0];  // keep the fallback fully generic
  std::vector<PathKey> keys;
  int32_t slot = -1;
  if (base->op == Op::kPath) {
    keys = base->keys;
    slot = base->slot;
  } else if (base->op == Op::kSlot) {
    slot = base->slot;
  } else {  // a plain top-level identifier
    keys.emplace_back(base->name);
  }
  keys.emplace_back(std::string(key));
  n->op = Op::kPath;
  n->slot = slot;
  n->keys = std::move(keys);
  n->candidates.clear();
  n->candidate_used.clear();
  n->args = {generic};
}

void SpecializeNode(Program* p, Node* n) {
  switch (n->op) {
    case Op::kSelect: {
      if (!n->candidates.empty()) return;  // qualified-name resolution decides at run time
      const Node* t = n->args[0];
      if (t->op == Op::kSlot || t->op == Op::kPath) ExtendPath(p, n, t, n->name);
      return;
    }
    case Op::kIndex: {
      const Node* t = n->args[0];
      const Node* k = n->args[1];
      if (k->op != Op::kConst || k->value.kind() != Kind::kString) return;
      bool plain_ident = t->op == Op::kIdent && t->candidates.empty() && !t->name.empty() && t->name[0] != '.';
      if (t->op == Op::kSlot || t->op == Op::kPath || plain_ident) ExtendPath(p, n, t, k->value.string_value());
      return;
    }
    case Op::kEq: case Op::kNe: case Op::kLt: case Op::kLe: case Op::kGt: case Op::kGe: {
      Node* l = n->args[0];
      Node* r = n->args[1];
      bool flipped;
      if (IsScalarConst(r) && l->op != Op::kConst) {
        flipped = false;
      } else if (IsScalarConst(l) && r->op != Op::kConst) {
        flipped = true;
      } else {
        return;
      }
      Node* generic = Clone(p, n);
      n->cmp = n->op;
      n->op = Op::kCmpConst;
      n->flipped = flipped;
      n->value = flipped ? l->value : r->value;
      n->args = {generic, flipped ? r : l};
      Op op = n->cmp;
      if (flipped) op = op == Op::kLt ? Op::kGt : op == Op::kGt ? Op::kLt : op == Op::kLe ? Op::kGe : op == Op::kGe ? Op::kLe : op;
      n->json_cmp = op;
      switch (n->value.kind()) {
        case Kind::kString: n->lit_class = 1; break;
        case Kind::kDouble: n->lit_class = 2, n->lit_num = n->value.double_value(); break;
        case Kind::kInt: n->lit_class = 2, n->lit_num = static_cast<double>(n->value.int_value()); break;
        case Kind::kUint: n->lit_class = 2, n->lit_num = static_cast<double>(n->value.uint_value()); break;
        default: n->lit_class = 0; break;
      }
      return;
    }
    case Op::kCall: {
      if (n->fn == nullptr || n->args.size() != 2) return;
      const Node* arg = n->args[1];
      if (arg->op != Op::kConst || arg->value.kind() != Kind::kString) return;
      StrFn f;
      if (n->member && n->name == "contains") {
        f = StrFn::kContains;
      } else if (n->member && n->name == "startsWith") {
        f = StrFn::kStartsWith;
      } else if (n->member && n->name == "endsWith") {
        f = StrFn::kEndsWith;
      } else if (n->name == "matches" && n->regex != nullptr) {
        f = StrFn::kMatches;
      } else {
        return;
      }
      Node* generic = Clone(p, n);
      Node* receiver = n->args[0];
      n->op = Op::kStrCall;
      n->str_fn = f;
      n->value = arg->value;
      n->args = {generic, receiver};
      return;
    }
    case Op::kCond: {
      // has(v.f) ? v.f : e: the then-branch is the path the presence test looked up. Only the
      // node is marked; the evaluator decides per evaluation (top-level root, object v, step
      // budget) and otherwise runs the generic kCond.
      const Node* has = n->args[0];
      const Node* then = n->args[1];
      if (has->op != Op::kHas || then->op != Op::kPath || then->slot >= 0 || then->keys.size() != 2) return;
      const Node* v = has->args[0];
      if (v->op != Op::kIdent || !v->candidates.empty()) return;
      n->has_then_same_path = then->keys[0].name == v->name && then->keys[1].name == has->name;
      return;
    }
    default:
      return;
  }
}

void Walk(Program* p, Node* n, int depth) {
  if (depth > 100'000) return;  // parse depth is limited far below this; belt and braces
  for (Node* a : n->args) Walk(p, a, depth + 1);
  SpecializeNode(p, n);
}

}  // namespace

void Specialize(Program* program, Node* root) { Walk(program, root, 0); }

}  // namespace ec::cel
