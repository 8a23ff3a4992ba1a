#pragma once
// The tree-walking evaluator (jsonata-js semantics) and the helpers built-in functions share.

#include <chrono>
#include <memory>
#include <vector>
#include <span>
#include <string>
#include <string_view>

#include "jsonata/ast.h"
#include "jsonata/jsonata.h"
#include "jsonata/program.h"
#include "jsonata/value.h"

namespace ec::jsonata::internal {

struct Binding {
  std::string_view name;
  Val val;
};

struct Frame {
  Frame* parent = nullptr;
  AVec<Binding> vars;
};

class Evaluator;
using BuiltinFn = Val (*)(Evaluator& ev, std::span<Val> args, Val input, Frame* env);

struct Builtin {
  const char* name;
  const char* signature;
  int arity;  // declared parameters (how many arguments higher-order functions pass)
  BuiltinFn fn;
  Signature sig;
  Func* func = nullptr;  // the one immutable function value naming this built-in
};

struct Func {
  enum Kind : uint8_t { kLambda, kBuiltin, kPartial, kHost, kRegex, kChain };
  Kind kind = kLambda;
  bool thunk = false;
  const Node* node = nullptr;  // lambda: params, body, signature
  Frame* closure = nullptr;
  Val input;
  const Builtin* builtin = nullptr;
  Val target;                  // partial: the function applied
  AVec<Val> bound;             // partial: arguments, holes marked in `holes`
  AVec<uint8_t> holes;
  const Regex* regex = nullptr;
  const Bindings::Function* host = nullptr;
};

class Evaluator {
 public:
  Evaluator(const Program* prog, Arena* arena, const Bindings* bindings);

  Val Run(Val input);
  // Evaluates against a JSON input (or undefined) held by the evaluator itself, so a result that
  // never needs a temporary allocates nothing.
  Val RunJson(const MaybeValue& input);
  // Expression::EvaluateJson's root `{...}` of distinct literal keys (an event's `data`): with
  // no step or time limit and input that is not an array, its members are evaluated as
  // EvalObjectCons does and written to `*out` as ToJson + json::AppendJson would write the
  // object, with no object built. Returns false, having evaluated and written nothing, for any
  // other expression; true otherwise, with `failed` set on an error (then `*out` holds part of
  // the object: the caller truncates it).
  bool RunObjectText(const MaybeValue& input, std::string* out);

  Val Eval(const Node* expr, Val input, Frame* env);
  Val Apply(Val proc, std::span<Val> args, Val input, Frame* env);
  int Arity(Val f) const;
  // Calls a function from a higher-order built-in: (value, index, array) cut to its arity.
  Val CallHof(Val f, Val a1, Val a2, Val a3);

  // Errors: record the first and make every caller unwind.
  Val Fail(const char* code, std::string message, int64_t position = -1, std::string token = {});
  Val FailV(const char* code, std::string message, Val value, int64_t position = -1);
  bool failed = false;
  Error error;

  // Value helpers.
  Arena* arena() const { return arena_; }
  Val MakeSeq();
  Arr* NewArr(bool sequence);
  Obj* NewObj();
  Val CopyStr(std::string_view s);
  Frame* NewFrame(Frame* parent);
  void Bind(Frame* f, std::string_view name, Val v);
  Val Lookup(Frame* f, std::string_view name) const;

  const Program* program() const { return prog_; }
  const Bindings* bindings() const { return bindings_; }
  Frame* root_frame() const { return root_; }
  // Programs compiled by $eval live as long as the evaluation.
  std::vector<std::unique_ptr<Program>> eval_programs;
  int64_t now_ms = 0;  // $now/$millis: one timestamp per evaluation

 private:
  // A member value Annotate marked Direct, computed from the JSON input object input_root_ as
  // Eval would compute it; false where its walk meets anything but the common case (an array
  // inside the path, a non-number factor, a non-object item, a non-finite sum...): the caller
  // then evaluates the member. RunObjectText calls it only when nothing can make the general
  // evaluation differ (no bindings: `$count` and `$sum` are the built-ins; depth to spare).
  bool DirectMember(const Node* value, Val* out);
  // Direct::kFilterMap over `array` (the JSON array its path leads to).
  bool DirectFilterMapMember(const Node* value, const json::Value& array, Val* out);
  // A direct member's path names walked from input_root_ as EvalNamePath walks them, starting
  // after the names it shares with the previous direct member (Node::direct_shared) from where
  // that walk got to (an event's members mostly read `request.body.*`).
  bool WalkDirect(const Node* value, const json::Value** found);
  // Run's root frame, bindings and outer wrapper; returns the input to evaluate the root with.
  Val SetUpRoot(Val input);
  Val EvalInner(const Node* expr, Val input, Frame* env);
  Val EvalPath(const Node* expr, Val input, Frame* env);
  Val EvalNamePath(const Node* expr, Val input, Frame* env);
  Val EvalObjectCons(const Node* expr, Val input, Frame* env);
  Val Concat(const Node* expr, Val lhs, Val rhs);
  Val EvalStep(const Node* step, Val input, Frame* env, bool last);
  Val EvalTupleStep(const Node* step, Val input, Val tuples, Frame* env);
  Val EvalStages(const std::vector<Stage>& stages, Val input, Frame* env);
  Val EvalFilter(const Node* pred, Val input, Frame* env);
  Val EvalBinary(const Node* expr, Val input, Frame* env);
  Val EvalUnary(const Node* expr, Val input, Frame* env);
  Val EvalGroup(const GroupBy& group, Val input, Frame* env);
  Val EvalSort(const Node* expr, Val input, Frame* env);
  Val EvalCall(const Node* expr, Val input, Frame* env, const Val* applyto);
  Val EvalPartial(const Node* expr, Val input, Frame* env);
  Val EvalApplyOp(const Node* expr, Val input, Frame* env);
  Val EvalTransform(const Node* expr, Val input, Frame* env);
  Val ApplyInner(Val proc, std::span<Val> args, Val input, Frame* env);
  Frame* FrameFromTuple(Frame* env, Val tuple);
  bool CheckLimits(int64_t position);

  const Program* prog_;
  Arena* arena_;
  const Bindings* bindings_;
  Frame* root_ = nullptr;
  Frame root_frame_;
  // Storage for the root frame's first bindings, left uninitialised (written before read).
  alignas(Binding) unsigned char root_bindings_[4 * sizeof(Binding)];
  json::Value input_root_;
  // WalkDirect's last walk: walk_at_[k] is the value after its first k names, for k <= walk_valid_.
  static constexpr size_t kWalkCache = 15;
  const json::Value* walk_at_[kWalkCache + 1];
  size_t walk_valid_ = 0;
  uint32_t depth_ = 0;
  uint32_t max_depth_ = 0;
  bool check_limits_ = false;  // a step or time limit is set
  uint64_t steps_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  bool has_deadline_ = false;
};

#define EV(x)                        \
  ({                                 \
    ::ec::jsonata::internal::Val ev_v_ = (x); \
    if (ev.failed) return {};        \
    ev_v_;                           \
  })

// ---- shared value semantics (values.cc) ----
bool IsNumeric(const Val& v);  // finite number (NaN is not)
bool IsArrayOfNumbers(const Val& v);
bool IsArrayOfStrings(const Val& v);
bool ToBoolean(const Val& v, bool* defined = nullptr);  // fn.boolean; undefined -> false
bool DeepEqual(const Val& a, const Val& b);
Val Append(Evaluator& ev, Val a, Val b);
Val Flatten(Evaluator& ev, Val v, Arr* into = nullptr);
Val SequenceOf(Evaluator& ev, Val v);  // v as a sequence (arrays copied)
// fn.string: numbers via toPrecision(15), objects as JSON. D3001 on non-finite numbers.
bool Stringify(Evaluator& ev, const Val& v, bool prettify, std::string* out);
void AppendJsonVal(const Val& v, int indent, int level, bool precision15, std::string* out);
std::string ValueText(const Val& v);  // for error messages
const char* TypeOf(const Val& v);     // $type names
char SigSymbol(const Val& v);
// Converts a runtime value to JSON in `arena` (functions become undefined / null in arrays).
bool ToJson(const Val& v, json::Builder& b, json::Value* out);
// Appends to `out` what json::AppendJson writes for the Value ToJson makes of `v`, without
// building that Value (a pipeline event's `data` is written as text: the tree was built only to
// be written). `v` is defined and not a function. Returns false, with `out` partly written, where
// ToJson would not give a plain copy: an object with a repeated key (Builder::Object merges them)
// and a one-item outer wrapper whose item ToJson drops; the caller truncates and takes ToJson.
bool AppendToJsonText(const Val& v, std::string* out);
Val FromMaybe(Arena* arena, const MaybeValue& m);
size_t Utf8Length(std::string_view s);

// Built-in function table (functions_*.cc register theirs).
const Builtin* FindBuiltin(std::string_view name);
Val ValidateArgs(Evaluator& ev, const Signature& sig, std::span<Val> args, Val context, Arr* out);

}  // namespace ec::jsonata::internal
