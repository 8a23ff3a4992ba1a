// Type deduction by unification over the compiled tree. Types join to their most general
// common form: list(int) and list(dyn) give list(dyn); null joins with optionals and abstract
// types (legacy nullable); unbound variables resolve to dyn at the end.

#include "cel/checker.h"

#include <optional>

#include "cel/program.h"

namespace ec::cel {

std::string CelType::ToString() const {
  auto join = [](const std::vector<CelType>& ps) {
    std::string s;
    for (size_t i = 0; i < ps.size(); ++i) s += (i ? ", " : "") + ps[i].ToString();
    return s;
  };
  switch (kind) {
    case K::kDyn: return "dyn";
    case K::kNull: return "null_type";
    case K::kBool: return "bool";
    case K::kInt: return "int";
    case K::kUint: return "uint";
    case K::kDouble: return "double";
    case K::kString: return "string";
    case K::kBytes: return "bytes";
    case K::kTimestamp: return "google.protobuf.Timestamp";
    case K::kDuration: return "google.protobuf.Duration";
    case K::kList: return "list(" + join(params) + ")";
    case K::kMap: return "map(" + join(params) + ")";
    case K::kType: return params.empty() ? "type" : "type(" + join(params) + ")";
    case K::kAbstract: return params.empty() ? name : name + "(" + join(params) + ")";
    case K::kParam: return name;
    case K::kVar: return "_var" + std::to_string(var);
  }
  return "?";
}

namespace {

using K = CelType::K;

class Checker {
 public:
  explicit Checker(const TypeEnv& env) : env_(env) {}

  Result<CelType> Run(const Node* root) {
    CelType t = Deduce(root);
    if (!error_.empty()) return Status(ErrorCode::kInvalidArgument, error_);
    return Finalize(t);
  }

 private:
  CelType NewVar() {
    CelType t = CelType::Of(K::kVar);
    t.var = static_cast<int>(bindings_.size());
    bindings_.push_back(std::nullopt);
    return t;
  }

  CelType Resolve(const CelType& t) {
    if (t.kind == K::kVar && bindings_[t.var]) return Resolve(*bindings_[t.var]);
    return t;
  }

  CelType Finalize(const CelType& t) {
    CelType r = Resolve(t);
    if (r.kind == K::kVar) return CelType::Of(K::kDyn);
    for (auto& p : r.params) p = Finalize(p);
    return r;
  }

  bool Occurs(int var, const CelType& t) {
    CelType r = Resolve(t);
    if (r.kind == K::kVar) return r.var == var;
    for (const auto& p : r.params)
      if (Occurs(var, p)) return true;
    return false;
  }

  // The most specific type both `a` and `b` are assignable to (binding variables as needed).
  CelType Join(const CelType& x, const CelType& y) {
    CelType a = Resolve(x), b = Resolve(y);
    if (a.kind == K::kVar) {
      if (b.kind == K::kVar && b.var == a.var) return a;
      if (!Occurs(a.var, b)) bindings_[a.var] = b;
      return b;
    }
    if (b.kind == K::kVar) {
      if (!Occurs(b.var, a)) bindings_[b.var] = a;
      return a;
    }
    if (a.kind == K::kDyn || b.kind == K::kDyn) return CelType::Of(K::kDyn);
    if (a.kind == K::kNull && (b.kind == K::kAbstract || b.kind == K::kNull)) return b;
    if (b.kind == K::kNull && a.kind == K::kAbstract) return a;
    if (a.kind != b.kind || a.name != b.name || a.params.size() != b.params.size()) return CelType::Of(K::kDyn);
    CelType r = a;
    for (size_t i = 0; i < a.params.size(); ++i) r.params[i] = Join(a.params[i], b.params[i]);
    return r;
  }

  // Replaces type parameters by fresh variables, consistently within one overload.
  CelType Instantiate(const CelType& t, std::map<std::string, CelType>* vars) {
    if (t.kind == K::kParam) {
      auto it = vars->find(t.name);
      if (it != vars->end()) return it->second;
      CelType v = NewVar();
      (*vars)[t.name] = v;
      return v;
    }
    CelType r = t;
    for (auto& p : r.params) p = Instantiate(p, vars);
    return r;
  }

  // The type of a folded constant; lists and maps join their elements' types.
  CelType OfValue(const Value& v) {
    switch (v.kind()) {
      case Kind::kNull: return CelType::Of(K::kNull);
      case Kind::kBool: return CelType::Of(K::kBool);
      case Kind::kInt: return CelType::Of(K::kInt);
      case Kind::kUint: return CelType::Of(K::kUint);
      case Kind::kDouble: return CelType::Of(K::kDouble);
      case Kind::kString: return CelType::Of(K::kString);
      case Kind::kBytes: return CelType::Of(K::kBytes);
      case Kind::kTimestamp: return CelType::Of(K::kTimestamp);
      case Kind::kDuration: return CelType::Of(K::kDuration);
      case Kind::kType: return CelType::Of(K::kType);
      case Kind::kList: {
        CelType elem = NewVar();
        for (uint32_t i = 0; i < v.size(); ++i) elem = Join(elem, OfValue(v.ListAt(i)));
        return CelType::List(elem);
      }
      case Kind::kMap: {
        CelType key = NewVar(), val = NewVar();
        for (uint32_t i = 0; i < v.size(); ++i) {
          key = Join(key, OfValue(v.MapKeyAt(i)));
          val = Join(val, OfValue(v.MapValueAt(i)));
        }
        return CelType::Map(key, val);
      }
      case Kind::kOptional:
        return CelType::Abstract("optional_type", {v.optional_value() ? OfValue(*v.optional_value()) : NewVar()});
      default: return CelType::Of(K::kDyn);
    }
  }

  CelType Deduce(const Node* n) {
    switch (n->op) {
      case Op::kConst:
        return OfValue(n->value);
      case Op::kIdent: {
        auto it = env_.variables.find(n->name);
        return it != env_.variables.end() ? it->second : CelType::Of(K::kDyn);
      }
      case Op::kSlot:
        return static_cast<size_t>(n->slot) < slots_.size() ? slots_[n->slot] : CelType::Of(K::kDyn);
      case Op::kSelect:
      case Op::kOptSelect: {
        CelType t = Resolve(Deduce(n->args[0]));
        CelType field = t.kind == K::kMap ? t.params[1] : CelType::Of(K::kDyn);
        return n->op == Op::kOptSelect ? CelType::Abstract("optional_type", {field}) : field;
      }
      case Op::kHas:
        Deduce(n->args[0]);
        return CelType::Of(K::kBool);
      case Op::kIndex:
      case Op::kOptIndex: {
        CelType t = Resolve(Deduce(n->args[0]));
        Deduce(n->args[1]);
        CelType elem = t.kind == K::kList ? t.params[0] : t.kind == K::kMap ? t.params[1] : CelType::Of(K::kDyn);
        return n->op == Op::kOptIndex ? CelType::Abstract("optional_type", {elem}) : elem;
      }
      case Op::kList: {
        CelType elem = NewVar();
        for (size_t i = 0; i < n->args.size(); ++i) {
          CelType t = Deduce(n->args[i]);
          if (n->optional[i]) {
            CelType r = Resolve(t);
            t = r.kind == K::kAbstract && r.name == "optional_type" ? r.params[0] : CelType::Of(K::kDyn);
          }
          elem = Join(elem, t);
        }
        return CelType::List(elem);
      }
      case Op::kMap: {
        CelType key = NewVar(), val = NewVar();
        for (size_t i = 0; i < n->optional.size(); ++i) {
          key = Join(key, Deduce(n->args[2 * i]));
          CelType v = Deduce(n->args[2 * i + 1]);
          if (n->optional[i]) {
            CelType r = Resolve(v);
            v = r.kind == K::kAbstract && r.name == "optional_type" ? r.params[0] : CelType::Of(K::kDyn);
          }
          val = Join(val, v);
        }
        return CelType::Map(key, val);
      }
      case Op::kAnd: case Op::kOr: case Op::kNot: case Op::kEq: case Op::kNe: case Op::kLt: case Op::kLe:
      case Op::kGt: case Op::kGe: case Op::kIn:
        for (const Node* a : n->args) Deduce(a);
        return CelType::Of(K::kBool);
      case Op::kNeg:
        return Deduce(n->args[0]);
      case Op::kCond: {
        Deduce(n->args[0]);
        return Join(Deduce(n->args[1]), Deduce(n->args[2]));
      }
      case Op::kAdd: case Op::kSub: case Op::kMul: case Op::kDiv: case Op::kMod: {
        CelType a = Resolve(Deduce(n->args[0])), b = Resolve(Deduce(n->args[1]));
        if (n->op == Op::kSub && a.kind == K::kTimestamp && b.kind == K::kTimestamp) return CelType::Of(K::kDuration);
        if (a.kind == K::kDuration && b.kind == K::kTimestamp) return b;
        if (a.kind == b.kind && a.kind != K::kVar) return Join(a, b);
        return a.kind == K::kTimestamp ? a : CelType::Of(K::kDyn);
      }
      case Op::kComprehension:
        return DeduceComprehension(n);
      case Op::kBind: {
        CelType init = Deduce(n->args[0]);
        SetSlot(n->slot, init);
        return Deduce(n->args[1]);
      }
      case Op::kBlock: {
        for (size_t i = 0; i + 1 < n->args.size(); ++i) SetSlot(n->slot + static_cast<int>(i), Deduce(n->args[i]));
        return Deduce(n->args.back());
      }
      case Op::kOptOr:
        return Join(Deduce(n->args[0]), Deduce(n->args[1]));
      case Op::kOptOrValue: {
        CelType t = Resolve(Deduce(n->args[0]));
        CelType inner = t.kind == K::kAbstract && t.name == "optional_type" ? t.params[0] : CelType::Of(K::kDyn);
        return Join(inner, Deduce(n->args[1]));
      }
      case Op::kCall:
        return DeduceCall(n);
      case Op::kStruct:
        return CelType::Of(K::kDyn);
      case Op::kPath:
      case Op::kCmpConst:
      case Op::kStrCall:
        return Deduce(n->args[0]);
    }
    return CelType::Of(K::kDyn);
  }

  void SetSlot(int slot, CelType t) {
    if (static_cast<size_t>(slot) >= slots_.size()) slots_.resize(slot + 1);
    slots_[slot] = std::move(t);
  }

  CelType DeduceComprehension(const Node* n) {
    CelType range = Resolve(Deduce(n->args[0]));
    CelType key = CelType::Of(K::kDyn), val = CelType::Of(K::kDyn);
    if (range.kind == K::kList) {
      key = CelType::Of(K::kInt);
      val = range.params[0];
    } else if (range.kind == K::kMap) {
      key = range.params[0];
      val = range.params[1];
    } else if (range.kind == K::kAbstract && range.name == "optional_type") {
      val = range.params[0];
    }
    if (n->two_vars) {
      SetSlot(n->slot, key);
      SetSlot(n->slot2, val);
    } else {
      SetSlot(n->slot, range.kind == K::kMap ? key : val);
    }
    std::vector<CelType> args;
    for (size_t i = 1; i < n->args.size(); ++i) args.push_back(Deduce(n->args[i]));
    switch (n->comp) {
      case CompKind::kAll: case CompKind::kExists: case CompKind::kExistsOne: return CelType::Of(K::kBool);
      case CompKind::kMap: case CompKind::kTransformList: return CelType::List(args[0]);
      case CompKind::kFilter: return range;
      case CompKind::kTransformMap: return CelType::Map(key, args[0]);
      case CompKind::kOptMap: return CelType::Abstract("optional_type", {args[0]});
      case CompKind::kOptFlatMap: return args[0];
      default: return CelType::Of(K::kDyn);
    }
  }

  CelType DeduceCall(const Node* n) {
    std::vector<CelType> args;
    for (const Node* a : n->args) args.push_back(Deduce(a));
    auto decl = env_.functions.find(n->name);
    if (decl != env_.functions.end()) {
      for (const FunctionOverload& o : decl->second) {
        if (o.member != n->member || o.params.size() != args.size()) continue;
        std::map<std::string, CelType> vars;
        CelType result = Instantiate(o.result, &vars);
        bool ok = true;
        for (size_t i = 0; i < args.size() && ok; ++i) {
          CelType p = Resolve(Instantiate(o.params[i], &vars));
          CelType a = Resolve(args[i]);
          if (p.kind != K::kVar && a.kind != K::kVar && a.kind != K::kDyn && p.kind != K::kDyn &&
              (p.kind != a.kind || p.name != a.name)) {
            ok = false;
          }
          if (ok) Join(p, a);
        }
        if (ok) return result;
      }
      error_ = "no matching overload for '" + n->name + "'";
      return CelType::Of(K::kDyn);
    }
    const std::string& f = n->name;
    if (f == "size" || f == "int" || f == "indexOf" || f == "lastIndexOf" || f.rfind("get", 0) == 0) return CelType::Of(K::kInt);
    if (f == "uint") return CelType::Of(K::kUint);
    if (f == "double") return CelType::Of(K::kDouble);
    if (f == "string" || f == "charAt" || f == "lowerAscii" || f == "upperAscii" || f == "replace" || f == "substring" ||
        f == "trim" || f == "join" || f == "format" || f == "reverse" || f == "strings.quote" || f == "base64.encode")
      return CelType::Of(K::kString);
    if (f == "bytes" || f == "base64.decode") return CelType::Of(K::kBytes);
    if (f == "bool" || f == "contains" || f == "startsWith" || f == "endsWith" || f == "matches" || f == "hasValue" ||
        f.rfind("math.is", 0) == 0)
      return CelType::Of(K::kBool);
    if (f == "timestamp") return CelType::Of(K::kTimestamp);
    if (f == "duration") return CelType::Of(K::kDuration);
    if (f == "type") return CelType::Of(K::kType);
    if (f == "split") return CelType::List(CelType::Of(K::kString));
    if (f == "optional.of" || f == "optional.ofNonZeroValue")
      return CelType::Abstract("optional_type", {args.empty() ? CelType::Of(K::kDyn) : args[0]});
    if (f == "optional.none") return CelType::Abstract("optional_type", {NewVar()});
    if (f == "value" && !args.empty()) {
      CelType t = Resolve(args[0]);
      return t.kind == K::kAbstract && t.name == "optional_type" ? t.params[0] : CelType::Of(K::kDyn);
    }
    if ((f == "math.greatest" || f == "math.least" || f == "math.abs" || f == "math.sign") && args.size() == 1) {
      CelType t = Resolve(args[0]);
      return t.kind == K::kList ? t.params[0] : t;
    }
    if (f.rfind("math.", 0) == 0 && !args.empty()) return Resolve(args[0]);
    return CelType::Of(K::kDyn);  // dyn(x) and anything undeclared
  }

  const TypeEnv& env_;
  std::vector<std::optional<CelType>> bindings_;
  std::vector<CelType> slots_;
  std::string error_;
};

}  // namespace

Result<CelType> DeduceType(const Program& program, const TypeEnv& env) {
  Checker checker(env);
  return checker.Run(program.root());
}

}  // namespace ec::cel
