#pragma once
// The tree-walking evaluator (internal). One Evaluator per evaluation, on the caller's stack.

#include <string>
#include <string_view>

#include "cel/ast.h"
#include "cel/cel.h"
#include "cel/program.h"

namespace ec::cel {

class Evaluator {
 public:
  Evaluator(const Program& program, const Activation& activation, EvalContext* ctx)
      : program_(program),
        activation_(activation),
        ctx_(ctx),
        max_steps_(program.options().max_steps),
        qualified_names_(activation.has_dotted_names() || !program.options().container.empty()) {
    if (program.num_slots() > 0 && ctx_->slots_.size() < static_cast<size_t>(program.num_slots())) {
      ctx_->slots_.resize(program.num_slots());
    }
    slots_ = ctx_->slots_.data();
    const json::Value* root = activation.root();
    if (!qualified_names_ && !activation.has_bindings() && root != nullptr && root->is_object()) top_ = root;
  }

  Value Run() {
    Value v = Eval(program_.root());
    ctx_->steps_ = steps_;
    return v;
  }

  // --- helpers for library functions
  Arena& arena() { return *ctx_->arena_; }
  // An error value (kEvalError) with `message` copied into the arena.
  Value Error(std::string_view message, ErrorCode code = ErrorCode::kEvalError);
  // "no such overload: name(type, type)".
  Value NoOverload(std::string_view name, const Value* args, size_t n);
  std::string_view CopyString(std::string_view s) { return arena().CopyString(s); }
  Value NewString(std::string_view s) { return Value::String(CopyString(s)); }
  Value NewBytes(std::string_view s) { return Value::Bytes(CopyString(s)); }
  Value NewList(const Value* elems, size_t n);
  // A map from entries; error on a duplicate or unsupported key.
  Value NewMap(const MapEntry* entries, size_t n);
  Value NewOptional(const Value& v);
  Value Eval(const Node* n);
  // Counts `n` steps against the limit; false when exceeded.
  bool Charge(uint64_t n) {
    steps_ += n;
    return steps_ <= max_steps_;
  }
  Value StepLimitError();
  const Program& program() const { return program_; }

 private:
  Value EvalCold(const Node* n);
  Value EvalPath(const Node* n);
  // The JSON value a kPath names, or nullptr when the walk leaves JSON objects (absent key,
  // non-object, variable not JSON, qualified names in play): the caller then evaluates the
  // generic chain n->args[0], which gives the right value or error.
  const json::Value* WalkPath(const Node* n);
  const json::Value* WalkFrom(const json::Value* j, const PathKey* key, const PathKey* end);
  // Bool-valued nodes without boxing a Value: 0 or 1, or 2 with the result that is not a bool
  // (an error, or a wrong-typed value for the caller to report) in *out. Every node is
  // evaluated exactly once whichever way it goes.
  int Pred(const Node* n, Value* out);
  int PredCmpConst(const Node* n, Value* out);
  int PredCmpConstSlow(const Node* n, Value* out);
  int PredStrCall(const Node* n, Value* out);
  int PredAnd(const Node* n, Value* out);
  int PredOr(const Node* n, Value* out);
  int PredHas(const Node* n, Value* out);
  int LogicRest(const char* name, int a, const Value& va, int b, const Value& vb, Value* out);
  static Value Boxed(int r, const Value& v) { return r == 2 ? v : Value::Bool(r != 0); }
  Value EvalHasOf(const Node* n, const Value& target);
  Value EvalIdent(const Node* n);
  Value EvalQualified(const Node* n, bool* handled);
  Value EvalSelect(const Node* n, const Value& target, bool optional);
  Value EvalIndex(const Node* n, const Value& target, const Value& index, bool optional);
  Value EvalCall(const Node* n);
  Value EvalList(const Node* n);
  Value EvalMap(const Node* n);
  Value EvalComprehension(const Node* n);
  Value EvalArith(const Node* n, const Value& a, const Value& b);
  Value EvalIn(const Value& a, const Value& b);
  Value CompareOp(const Node* n, const Value& a, const Value& b);

  const Program& program_;
  const Activation& activation_;
  EvalContext* ctx_;
  Value* slots_;
  uint64_t max_steps_;
  uint64_t steps_ = 0;  // nodes visited and iterations; copied to the context by Run()
  bool qualified_names_;  // dotted variable names or a container: resolve names the slow way
  // The activation root when top-level names are simply its members (no extra bindings, no
  // qualified names), else nullptr: path walks start there without asking the activation.
  const json::Value* top_ = nullptr;
};

// Library functions: `args` are evaluated (none is an error), receiver first for member calls.
using BuiltinFn = Value (*)(Evaluator& e, const Node* call, const Value* args, size_t n);

struct Builtin {
  std::string_view name;  // "size", "optional.of", "math.greatest", ...
  uint8_t styles;         // kGlobalStyle | kMemberStyle
  BuiltinFn fn;
};
inline constexpr uint8_t kGlobalStyle = 1;
inline constexpr uint8_t kMemberStyle = 2;

// The function named `name`, or nullptr.
const Builtin* FindBuiltin(std::string_view name);

// Arithmetic and conversions shared by operators and functions (library.cc).
Value Add(Evaluator& e, const Value& a, const Value& b);
Value Subtract(Evaluator& e, const Value& a, const Value& b);
Value Multiply(Evaluator& e, const Value& a, const Value& b);
Value Divide(Evaluator& e, const Value& a, const Value& b);
Value Modulo(Evaluator& e, const Value& a, const Value& b);
Value Negate(Evaluator& e, const Value& a);
// CEL string() conversion of scalars ("1.5", "true", RFC 3339, "3600s"...); error otherwise.
Value ToCelString(Evaluator& e, const Value& v);

}  // namespace ec::cel
