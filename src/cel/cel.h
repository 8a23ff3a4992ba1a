#pragma once
// CEL (Common Expression Language) over JSON: compile once, evaluate many, from many threads.
//
//   EC_ASSIGN_OR_RETURN(auto program, cel::Compile("request.method == 'POST'", {}));
//   cel::Activation act(&exchange_root);          // top-level members become variables
//   cel::EvalContext ctx;                         // one per thread, reused across evaluations
//   EC_ASSIGN_OR_RETURN(bool keep, cel::EvaluateBool(*program, act, &ctx));
//
// A Program is immutable and may be shared by any number of threads; all per-evaluation state
// lives in the caller's EvalContext. Variables are json::Values read in place (never copied).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/arena.h"
#include "base/status.h"
#include "cel/value.h"
#include "json/builder.h"
#include "json/value.h"

namespace ec::cel {

struct CelOptions {
  // Evaluation steps (nodes visited, iterations) per evaluation; exceeding it is kLimitExceeded.
  uint64_t max_steps = 1'000'000;
  // Nesting depth of the expression; deeper is a parse error, never a stack overflow.
  uint32_t max_parse_depth = 200;
  // Iterations of one comprehension (all, exists, map, filter, ...).
  uint32_t max_comprehension_iterations = 100'000;
  // Source text longer than this is rejected.
  uint32_t max_source_bytes = 100'000;
  // Rewrite common shapes (JSON paths, comparisons with literals, string predicates with a
  // literal argument) into fast nodes. Results are identical either way; off is for tests
  // that check exactly that.
  bool specialize = true;
  // Namespace for name resolution ("a.b" makes `x` resolve as `a.b.x`, `a.x`, then `x`).
  std::string container;
};

class Program;  // compiled expression (cel/program.h); immutable, thread-safe to evaluate

// Parses, resolves and folds constants. Errors: kParseError with "line:col: message" followed
// by the source line and a caret under the offending column; kLimitExceeded for limits.
Result<std::shared_ptr<const Program>> Compile(std::string_view source, const CelOptions& options = {});

// The source text a Program was compiled from.
std::string_view SourceOf(const Program& program);

// Variable bindings for one evaluation. Holds pointers only: the json::Values and names must
// outlive the Activation. Extra bindings shadow members of the root object.
class Activation {
 public:
  Activation() = default;
  // Each member of `root` (a JSON object) becomes a variable; a non-object binds nothing.
  explicit Activation(const json::Value* root) : root_(root) {}
  void set_root(const json::Value* root) { root_ = root; }
  // Binds `name` to a JSON value read in place.
  void Bind(std::string_view name, const json::Value* value);
  // Binds `name` to a CEL value (storage must outlive the Activation).
  void BindValue(std::string_view name, Value value);

  // The variable called `name`, or false when unbound.
  bool Lookup(std::string_view name, Value* out) const;
  // True when some bound name contains a '.' (qualified-name resolution needs it).
  bool has_dotted_names() const { return has_dotted_; }
  // The root object (may be nullptr) and whether extra bindings exist (evaluator fast path).
  const json::Value* root() const { return root_; }
  bool has_bindings() const { return !extra_.empty(); }

 private:
  struct Binding {
    std::string_view name;
    Value value;
  };
  const json::Value* root_ = nullptr;
  std::vector<Binding> extra_;
  bool has_dotted_ = false;
};

// Scratch state of one evaluation at a time: the arena for values built while evaluating and
// the comprehension variable slots. Not thread-safe; use one per thread. Results of Evaluate
// stay valid until the next Evaluate/Reset on the same context.
class EvalContext {
 public:
  EvalContext();
  ~EvalContext();
  EvalContext(const EvalContext&) = delete;
  EvalContext& operator=(const EvalContext&) = delete;

  // Frees everything the previous evaluations built (Evaluate calls it first).
  void Reset() {
    // The arena has no reset; it is emptied (a fresh one moved over it) only when the last
    // evaluation used memory. In place: a new Arena object each time was a malloc and a free per
    // evaluation that builds a string (`'customer/' + ...`).
    if (arena_->bytes_reserved() > 0) *arena_ = Arena(4096);
    steps_ = 0;
  }
  Arena& arena() { return *arena_; }
  // Steps taken by the last evaluation.
  uint64_t steps() const { return steps_; }

 private:
  friend class Evaluator;
  friend class Compiler;
  std::unique_ptr<Arena> arena_;
  std::vector<Value> slots_;  // comprehension variables, indexed by the compiled slot number
  uint64_t steps_ = 0;
};

// Evaluates `program`. The result may be an error value (kind() == Kind::kError) whose
// ErrorInfo has kEvalError (e.g. "no such overload: _+_(double, string)", "no such key: 'foo'")
// or kLimitExceeded (steps, iterations).
Value Evaluate(const Program& program, const Activation& activation, EvalContext* ctx);

// Evaluates and requires a bool (the `when` of an event). Errors: the evaluation error, or
// kEvalError "expected bool, got <type>".
Result<bool> EvaluateBool(const Program& program, const Activation& activation, EvalContext* ctx);

// Evaluates and requires a string, int, uint or double (an event `key`), converted to a string
// (ints in decimal, doubles as JavaScript prints numbers).
Result<std::string> EvaluateString(const Program& program, const Activation& activation,
                                   EvalContext* ctx);

// The Status of an error value (Ok for any other value).
Status ToStatus(const Value& v);

// Converts `v` to JSON built into `builder`'s arena: ints, uints and doubles as numbers,
// timestamps as RFC 3339 strings, durations as "3600s", bytes as base64, maps with string keys
// (non-string keys are written as their CEL string form), optionals as their value or null,
// types as their name. Errors: kEvalError for error values.
Result<json::Value> ToJson(const Value& v, json::Builder& builder);

}  // namespace ec::cel
