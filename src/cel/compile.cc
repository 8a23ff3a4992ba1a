// Compile: parse, then one pass that resolves names (comprehension variables to slots, type
// names to constants, namespaced functions such as math.greatest), binds library functions,
// precompiles constant regular expressions and folds constant subtrees.

#include <re2/re2.h>

#include <unordered_set>
#include <utility>

#include "cel/eval.h"
#include "cel/program.h"
#include "cel/simple_regex.h"

namespace ec::cel {

class Compiler {
 public:
  explicit Compiler(Program* p) : p_(p) {}

  Status Run() {
    EC_RETURN_IF_ERROR(Parse(p_));
    Node* root = const_cast<Node*>(p_->root());
    EC_RETURN_IF_ERROR(Resolve(root));
    if (p_->options().specialize) Specialize(p_, root);
    p_->set_num_slots(max_slots_);
    return Status::Ok();
  }

 private:
  static bool IsTypeName(std::string_view n) {
    static constexpr std::string_view kTypes[] = {
        "int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type",
        "optional_type", "google.protobuf.Timestamp", "google.protobuf.Duration"};
    for (auto t : kTypes)
      if (t == n) return true;
    return false;
  }

  int FindScoped(std::string_view name) const {
    for (size_t i = scope_.size(); i-- > 0;)
      if (scope_[i].first == name) return scope_[i].second;
    return -1;
  }
  int Push(const std::string& name) {
    int slot = static_cast<int>(scope_.size());
    scope_.emplace_back(name, slot);
    if (static_cast<int>(scope_.size()) > max_slots_) max_slots_ = static_cast<int>(scope_.size());
    return slot;
  }

  // The dotted name of a select chain over an unscoped identifier ("a.b.c"), or "".
  bool QualifiedSegments(const Node* n, std::vector<std::string>* segs) {
    if (n->op == Op::kIdent) {
      if (FindScoped(n->name) >= 0 || n->name.empty()) return false;
      segs->push_back(n->name[0] == '.' ? n->name.substr(1) : n->name);
      return true;
    }
    if ((n->op == Op::kSelect || n->op == Op::kOptSelect) && QualifiedSegments(n->args[0], segs)) {
      segs->push_back(n->name);
      return true;
    }
    return false;
  }

  // Candidate variable names for the chain `segs`, longest first, each under every container
  // prefix (most specific first); `absolute` (leading '.') skips the container.
  void AddCandidates(Node* n, const std::vector<std::string>& segs, bool absolute) {
    std::vector<std::string> prefixes;
    const std::string& c = p_->options().container;
    if (!absolute && !c.empty()) {
      std::string pre = c;
      while (true) {
        prefixes.push_back(pre + ".");
        size_t dot = pre.rfind('.');
        if (dot == std::string::npos) break;
        pre = pre.substr(0, dot);
      }
    }
    prefixes.push_back("");
    for (size_t used = segs.size(); used >= 1; --used) {
      std::string name = segs[0];
      for (size_t i = 1; i < used; ++i) name += "." + segs[i];
      for (const auto& pre : prefixes) {
        n->candidates.push_back(pre + name);
        n->candidate_used.push_back(static_cast<int>(used));
      }
    }
  }

  Status Resolve(Node* n) {
    switch (n->op) {
      case Op::kIdent: {
        if (int slot = FindScoped(n->name); slot >= 0) {
          n->op = Op::kSlot;
          n->slot = slot;
          return Status::Ok();
        }
        if (n->name[0] == '@') {
          return Status(ErrorCode::kParseError, FormatLocation(p_->source(), n->pos, "cel.index/cel.iterVar refers to no binding in scope"));
        }
        std::string name = n->name[0] == '.' ? n->name.substr(1) : n->name;
        if (IsTypeName(name)) {
          n->op = Op::kConst;
          n->value = Value::Type(TypeNameStorage(name));
          return Status::Ok();
        }
        if (n->name[0] == '.' || !p_->options().container.empty()) AddCandidates(n, {name}, n->name[0] == '.');
        n->name = name;
        return Status::Ok();
      }
      case Op::kSelect:
      case Op::kOptSelect: {
        std::vector<std::string> segs;
        if (n->op == Op::kSelect && QualifiedSegments(n, &segs)) {
          std::string full = segs[0];
          for (size_t i = 1; i < segs.size(); ++i) full += "." + segs[i];
          if (IsTypeName(full)) {
            n->op = Op::kConst;
            n->value = Value::Type(TypeNameStorage(full));
            n->args.clear();
            return Status::Ok();
          }
          const Node* root = n;
          bool plain = true;  // only non-optional selects down to the identifier
          while (root->op != Op::kIdent) {
            plain = plain && root->op == Op::kSelect;
            root = root->args[0];
          }
          AddCandidates(n, segs, root->name[0] == '.');
          bool inner = inner_selects_.count(n) > 0;
          if (inner) inner_selects_.insert(n->args[0]);
          if (plain && root->name[0] != '.' && !inner) {
            // var.f1.f2 becomes one path walk over JSON; the select chain stays as the fallback.
            Node* orig = p_->NewNode(n->op, n->pos);
            *orig = *n;
            inner_selects_.insert(orig->args[0]);  // the rest of the chain stays plain selects
            EC_RETURN_IF_ERROR(ResolveArgs(orig, 0));
            n->op = Op::kPath;
            n->name = segs[0];
            n->keys.clear();
            for (const std::string& s : segs) n->keys.emplace_back(s);
            n->slot = -1;
            n->args = {orig};
            n->candidates.clear();
            n->candidate_used.clear();
            return Status::Ok();
          }
        }
        return ResolveArgs(n, 0);
      }
      case Op::kComprehension: {
        EC_RETURN_IF_ERROR(Resolve(n->args[0]));
        size_t mark = scope_.size();
        n->slot = Push(n->name);
        if (n->two_vars) n->slot2 = Push(n->name2);
        for (size_t i = 1; i < n->args.size(); ++i) EC_RETURN_IF_ERROR(Resolve(n->args[i]));
        scope_.resize(mark);
        return Status::Ok();
      }
      case Op::kBind: {
        EC_RETURN_IF_ERROR(Resolve(n->args[0]));
        size_t mark = scope_.size();
        n->slot = Push(n->name);
        EC_RETURN_IF_ERROR(Resolve(n->args[1]));
        scope_.resize(mark);
        return Status::Ok();
      }
      case Op::kBlock: {
        size_t mark = scope_.size();
        size_t k = n->args.size() - 1;
        for (size_t i = 0; i < k; ++i) {
          EC_RETURN_IF_ERROR(Resolve(n->args[i]));
          int slot = Push("@index:" + std::to_string(i));
          if (i == 0) n->slot = slot;
        }
        if (k == 0) n->slot = 0;
        EC_RETURN_IF_ERROR(Resolve(n->args[k]));
        scope_.resize(mark);
        return Status::Ok();
      }
      case Op::kCall: {
        if (n->member && n->args[0]->op == Op::kIdent && FindScoped(n->args[0]->name) < 0) {
          // Namespaced global functions: math.greatest(...), optional.of(...), base64.encode(...).
          std::string qualified = n->args[0]->name + "." + n->name;
          if (const Builtin* b = FindBuiltin(qualified); b != nullptr && (b->styles & kGlobalStyle)) {
            n->member = false;
            n->name = qualified;
            n->args.erase(n->args.begin());
          }
        }
        const Builtin* b = FindBuiltin(n->name);
        if (b != nullptr && (b->styles & (n->member ? kMemberStyle : kGlobalStyle))) n->fn = b;
        EC_RETURN_IF_ERROR(ResolveArgs(n, 0));
        if (n->name == "matches" && n->fn != nullptr) {
          const Node* pat = n->args.size() == 2 ? n->args[1] : nullptr;
          if (pat != nullptr && pat->op == Op::kConst && pat->value.kind() == Kind::kString) {
            RE2::Options opts;
            opts.set_log_errors(false);
            auto re = std::make_shared<RE2>(std::string(pat->value.string_value()), opts);
            if (re->ok()) {
              n->regex = std::move(re);
              n->simple_regex = SimpleRegex::Compile(pat->value.string_value());
            }
          }
        }
        return Fold(n);
      }
      default:
        EC_RETURN_IF_ERROR(ResolveArgs(n, 0));
        return Fold(n);
    }
  }

  Status ResolveArgs(Node* n, size_t from) {
    for (size_t i = from; i < n->args.size(); ++i) EC_RETURN_IF_ERROR(Resolve(n->args[i]));
    if (n->op == Op::kSelect || n->op == Op::kOptSelect) return Fold(n);
    return Status::Ok();
  }

  static std::string_view TypeNameStorage(std::string_view name) {
    static constexpr std::string_view kTypes[] = {
        "int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type",
        "optional_type", "google.protobuf.Timestamp", "google.protobuf.Duration"};
    for (auto t : kTypes)
      if (t == name) return t;
    return "unknown";
  }

  // Replaces a pure node whose operands are all constants by its value, computed now (into
  // the program's constant arena). Errors are left to happen at evaluation, unchanged.
  Status Fold(Node* n) {
    switch (n->op) {
      case Op::kConst: case Op::kIdent: case Op::kSlot: case Op::kComprehension: case Op::kBind:
      case Op::kBlock: case Op::kStruct:
        return Status::Ok();
      case Op::kSelect: case Op::kOptSelect:
        if (!n->candidates.empty()) return Status::Ok();
        break;
      case Op::kCall:
        // dyn() is kept so type deduction still sees where the author asked for dyn.
        if (n->fn == nullptr || n->name == "dyn") return Status::Ok();
        break;
      default:
        break;
    }
    for (const Node* a : n->args)
      if (a->op != Op::kConst) return Status::Ok();
    EvalContext ctx;
    std::swap(ctx.arena_, p_->constants_owner());
    Activation empty;
    Evaluator e(*p_, empty, &ctx);
    Value v = e.Eval(n);
    std::swap(ctx.arena_, p_->constants_owner());
    if (v.is_error()) return Status::Ok();
    n->op = Op::kConst;
    n->value = v;
    n->args.clear();
    n->regex.reset();
    n->simple_regex.reset();
    return Status::Ok();
  }

  Program* p_;
  std::vector<std::pair<std::string, int>> scope_;
  std::unordered_set<const Node*> inner_selects_;  // selects inside a chain already made a kPath
  int max_slots_ = 0;
};

Result<std::shared_ptr<const Program>> Compile(std::string_view source, const CelOptions& options) {
  auto program = std::make_shared<Program>(std::string(source), options);
  Compiler compiler(program.get());
  EC_RETURN_IF_ERROR(compiler.Run());
  return std::shared_ptr<const Program>(std::move(program));
}

std::string_view SourceOf(const Program& program) { return program.source(); }

}  // namespace ec::cel
