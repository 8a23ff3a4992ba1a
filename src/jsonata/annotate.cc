// Compile-time specialisation: after the tree is processed, every node gets what evaluation
// would otherwise recompute on each visit (operator codes instead of operator strings, the
// built-in a `$name` refers to, whether a path is plain field names, whether an object
// constructor's keys are constant). Purely a cache: the evaluator's results do not change.

#include <algorithm>

#include "json/writer.h"
#include "jsonata/eval.h"
#include "jsonata/functions.h"
#include "jsonata/program.h"

namespace ec::jsonata::internal {
namespace {

Op BinaryOp(std::string_view op) {
  static constexpr std::pair<std::string_view, Op> kOps[] = {
      {"and", Op::kAnd}, {"or", Op::kOr}, {"+", Op::kAdd},  {"-", Op::kSub},     {"*", Op::kMul},
      {"/", Op::kDiv},   {"%", Op::kMod}, {"=", Op::kEq},   {"!=", Op::kNe},     {"<", Op::kLt},
      {"<=", Op::kLe},   {">", Op::kGt},  {">=", Op::kGe},  {"&", Op::kConcat},  {"..", Op::kRange},
      {"in", Op::kIn},
  };
  for (const auto& [text, code] : kOps)
    if (op == text) return code;
  return Op::kNone;
}

// A step that is nothing but a field name: no predicates, bindings, grouping or flags.
bool PlainNameStep(const Node* s) {
  return s->type == NT::kName && s->stages.empty() && s->predicate.empty() && !s->group && !s->keep_array &&
         !s->consarray && !s->tuple && s->focus.empty() && s->index_var.empty() && !s->ancestor &&
         !s->has_seeking_parent && s->seeking_parent.empty();
}

// Field names only, optionally after a leading `$var` (`$i.price`).
bool PlainNamePath(const Node* p) {
  if (p->items.empty() || p->keep_singleton_array || p->group || p->tuple || p->keep_array || !p->predicate.empty())
    return false;
  auto first = p->items.begin();
  const Node* v = *first;
  if (v->type == NT::kVariable) {
    if (p->items.size() < 2 || !v->stages.empty() || !v->predicate.empty() || v->group || v->keep_array ||
        v->consarray || v->tuple || !v->focus.empty() || !v->index_var.empty() || v->ancestor ||
        v->has_seeking_parent || !v->seeking_parent.empty())
      return false;
    ++first;
  }
  return std::all_of(first, p->items.end(), PlainNameStep);
}

// A path of field names only, the first one a field of the input (not a `$var`).
bool InputNamePath(const Node* p) {
  return p->type == NT::kPath && p->name_path && p->plain && p->items[0]->type == NT::kName;
}

// A call of the built-in `fn` with one argument, nothing applied to the call or the function
// name (the name still has to be unbound when evaluated: RunObjectText checks that).
bool PlainBuiltinCall(const Node* n, BuiltinFn fn) {
  if (n->type != NT::kCall || !n->plain || n->items.size() != 1) return false;
  const Node* f = n->lhs;
  return f != nullptr && f->type == NT::kVariable && f->builtin != nullptr && f->builtin->fn == fn && f->plain &&
         f->stages.empty() && !f->group;
}

// `(x * y)` as a path's last step: a block of one multiplication of two field names, no
// predicates, bindings, grouping or flags on the step.
bool ProductStep(const Node* s, std::string_view* x, std::string_view* y) {
  if (s->type != NT::kBlock || s->items.size() != 1 || !s->stages.empty() || !s->predicate.empty() || s->group ||
      s->keep_array || s->consarray || s->tuple || !s->focus.empty() || !s->index_var.empty() || s->ancestor ||
      s->has_seeking_parent || !s->seeking_parent.empty())
    return false;
  const Node* m = s->items[0];
  if (m->type != NT::kBinary || m->op != "*" || !m->plain) return false;
  auto field = [](const Node* p, std::string_view* name) {
    if (p == nullptr || !InputNamePath(p) || p->items.size() != 1) return false;
    *name = p->items[0]->str;
    return true;
  };
  return field(m->lhs, x) && field(m->rhs, y);
}

// Sets `v`'s direct kind and copies `names` (views into the tree) into its own buffer.
void SetDirect(Node* v, Direct kind, const std::vector<std::string_view>& names, uint32_t steps) {
  size_t total = 0;
  for (std::string_view n : names) total += n.size();
  v->direct_bytes = std::make_unique<char[]>(total == 0 ? 1 : total);
  char* p = v->direct_bytes.get();
  v->direct_names.clear();
  for (std::string_view n : names) {
    std::copy(n.begin(), n.end(), p);
    v->direct_names.emplace_back(p, n.size());
    p += n.size();
  }
  v->direct_steps = steps;
  v->direct = kind;
}

std::vector<std::string_view> StepNames(const Node* path, size_t n) {
  std::vector<std::string_view> names;
  for (size_t i = 0; i < n; ++i) names.push_back(path->items[i]->str);
  return names;
}

// No flags that change how a path step is evaluated: bindings, grouping, ancestry, `[]`.
bool NoStepFlags(const Node* s) {
  return s->predicate.empty() && !s->group && !s->keep_array && !s->consarray && !s->tuple && s->focus.empty() &&
         s->index_var.empty() && !s->ancestor && !s->has_seeking_parent && s->seeking_parent.empty();
}

// A kFilterMap item operand: a field of the item (a one-name path), a number literal or the
// product of two fields; field names are appended to `names`.
bool ItemOperand(const Node* n, std::vector<std::string_view>* names, DirectOperand* out) {
  auto field = [&](const Node* p, uint32_t* index) {
    if (p == nullptr || !InputNamePath(p) || p->items.size() != 1) return false;
    *index = static_cast<uint32_t>(names->size());
    names->push_back(p->items[0]->str);
    return true;
  };
  if (n->type == NT::kNumber && n->plain) {
    out->kind = DirectOperand::kNumber;
    out->number = n->num;
    return true;
  }
  if (n->type == NT::kBinary && n->opcode == Op::kMul && n->plain) {
    out->kind = DirectOperand::kProduct;
    return field(n->lhs, &out->a) && field(n->rhs, &out->b);
  }
  out->kind = DirectOperand::kField;
  return field(n, &out->a);
}

// `a.b.items[lhs cmp rhs].{"k": operand, ...}` (DirectFilterMap): field names to an array
// step with one filter comparing two item operands (<, <=, > or >=), then a step that is an
// object constructor of constant keys and item operands. Names: the path's, then the
// operands' fields and the keys.
std::unique_ptr<DirectFilterMap> FilterMapPath(const Node* p, std::vector<std::string_view>* names) {
  if (p->type != NT::kPath || !p->plain || p->group || p->keep_singleton_array || p->tuple || p->keep_array ||
      p->items.size() < 2) {
    return nullptr;
  }
  const size_t n = p->items.size();
  if (!std::all_of(p->items.begin(), p->items.end() - 2, PlainNameStep)) return nullptr;
  const Node* array_step = p->items[n - 2];
  if (array_step->type != NT::kName || array_step->stages.size() != 1 || array_step->stages[0].is_index ||
      !NoStepFlags(array_step)) {
    return nullptr;
  }
  const Node* pred = array_step->stages[0].expr;
  if (pred == nullptr || pred->type != NT::kBinary || !pred->plain ||
      (pred->opcode != Op::kLt && pred->opcode != Op::kLe && pred->opcode != Op::kGt && pred->opcode != Op::kGe)) {
    return nullptr;
  }
  const Node* ctor = p->items[n - 1];
  if (ctor->type != NT::kUnary || ctor->opcode != Op::kObjectCons || !ctor->const_keys || !ctor->plain ||
      !ctor->stages.empty() || !NoStepFlags(ctor)) {
    return nullptr;
  }
  *names = StepNames(p, n - 1);
  auto spec = std::make_unique<DirectFilterMap>();
  spec->compare = pred->opcode;
  if (!ItemOperand(pred->lhs, names, &spec->lhs) || !ItemOperand(pred->rhs, names, &spec->rhs)) return nullptr;
  for (const auto& [key, value] : ctor->pairs) {
    DirectFilterMap::Member m;
    if (!ItemOperand(value, names, &m.value)) return nullptr;
    m.key = static_cast<uint32_t>(names->size());
    names->push_back(key->str);
    spec->members.push_back(m);
  }
  return spec;
}

// What RunObjectText may compute for member value `v` without evaluating it (Direct).
void AnnotateDirect(Node* v) {
  std::vector<std::string_view> filter_map_names;
  if (InputNamePath(v)) {
    SetDirect(v, Direct::kNamePath, StepNames(v, v->items.size()), static_cast<uint32_t>(v->items.size()));
  } else if (PlainBuiltinCall(v, FnCount) && InputNamePath(v->items[0])) {
    const Node* p = v->items[0];
    SetDirect(v, Direct::kCount, StepNames(p, p->items.size()), static_cast<uint32_t>(p->items.size()));
  } else if (PlainBuiltinCall(v, FnSum)) {
    const Node* p = v->items[0];
    std::string_view x, y;
    if (p->type != NT::kPath || !p->plain || p->group || p->keep_singleton_array || p->tuple || p->items.size() < 2 ||
        p->items[0]->type != NT::kName || !std::all_of(p->items.begin(), p->items.end() - 1, PlainNameStep) ||
        !ProductStep(p->items.back(), &x, &y)) {
      return;
    }
    std::vector<std::string_view> names = StepNames(p, p->items.size() - 1);
    names.push_back(x);
    names.push_back(y);
    SetDirect(v, Direct::kSumProduct, names, static_cast<uint32_t>(p->items.size() - 1));
  } else if (auto spec = FilterMapPath(v, &filter_map_names)) {
    SetDirect(v, Direct::kFilterMap, filter_map_names, static_cast<uint32_t>(v->items.size() - 1));
    v->direct_filter_map = std::move(spec);
  }
}

bool ConstantDistinctKeys(const Node* n) {
  for (size_t i = 0; i < n->pairs.size(); ++i) {
    const Node* k = n->pairs[i].first;
    if (k->type != NT::kString || !k->predicate.empty() || k->group || k->keep_array) return false;
    for (size_t j = 0; j < i; ++j)
      if (n->pairs[j].first->str == k->str) return false;
  }
  return true;
}

}  // namespace

void Annotate(Program* program) {
  program->ForEachNode([](Node* n) {
    n->plain = n->predicate.empty() && (n->type == NT::kPath || !n->group) && !n->keep_array;
    switch (n->type) {
      case NT::kBinary: n->opcode = BinaryOp(n->op); break;
      case NT::kValue:
        n->opcode = std::string_view(n->op) == "null" ? Op::kNull
                    : (std::string_view(n->op) == "true" ? Op::kTrue : Op::kFalse);
        break;
      case NT::kUnary:
        if (n->op == "-") {
          n->opcode = Op::kNegate;
        } else if (n->op == "[") {
          n->opcode = Op::kArrayCons;
        } else if (n->op == "{") {
          n->opcode = Op::kObjectCons;
          n->ctor_group = std::make_unique<GroupBy>();
          n->ctor_group->position = n->position;
          n->ctor_group->pairs = n->pairs;
          n->const_keys = ConstantDistinctKeys(n);
          if (n->const_keys) {
            // Quoted once here: Evaluator::RunObjectText writes them per evaluation.
            for (auto& [key, value] : n->pairs) {
              key->member_json.clear();
              json::AppendQuoted(key->str, &key->member_json);
              key->member_json.push_back(':');
            }
          }
        }
        break;
      case NT::kVariable:
        if (!n->str.empty()) n->builtin = FindBuiltin(n->str);
        break;
      case NT::kPath: {
        n->name_path = PlainNamePath(n);
        uint32_t k = 0;
        while (k + 1 < n->items.size() && PlainNameStep(n->items[k])) ++k;
        n->name_prefix = k;
        break;
      }
      default: break;
    }
  });
  // Member values of a root `{...}` only (RunObjectText), after the pass above set the flags
  // they are read from.
  if (Node* root = program->root; root && root->type == NT::kUnary && root->opcode == Op::kObjectCons &&
                                  root->const_keys && root->plain) {
    const Node* previous = nullptr;  // the last direct member
    for (auto& [key, value] : root->pairs) {
      AnnotateDirect(value);
      if (value->direct == Direct::kNone) continue;
      if (previous != nullptr) {
        const uint32_t most = std::min(previous->direct_steps, value->direct_steps);
        uint32_t shared = 0;
        while (shared < most && previous->direct_names[shared] == value->direct_names[shared]) ++shared;
        value->direct_shared = shared;
      }
      previous = value;
    }
  }
  const Node* root = program->root;
  if (root && root->type == NT::kPath && root->name_path && root->items[0]->type == NT::kName) {
    for (const Node* step : root->items) program->json_name_path.push_back(step->str);
  }
}

}  // namespace ec::jsonata::internal
