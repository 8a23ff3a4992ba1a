#pragma once
// JSONata (jsonata-js 2.2.2 semantics): compile an expression once, evaluate it many times.
//
//   ec::jsonata::JsonataOptions options;
//   auto expr = ec::jsonata::Compile("request.body.items[price > 10].sku", options);
//   if (!expr.ok()) ...                          // expr.status().message() names code and position
//   ec::Arena arena;                             // per-evaluation state, owned by the caller
//   ec::jsonata::Bindings bindings;              // optional: $name values and host functions
//   auto out = (*expr)->Evaluate(ec::jsonata::Defined(input), &arena, &bindings);
//   if (out.ok() && out->defined) use(out->value);  // value lives in `arena`
//
// A compiled Expression is immutable: any number of threads may evaluate it at once, each with
// its own Arena. Input JSON is read in place (never copied); the result and every intermediate
// value are allocated in the caller's Arena and released with it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/arena.h"
#include "base/status.h"
#include "json/builder.h"
#include "json/value.h"

namespace ec::jsonata {

struct JsonataOptions {
  // Evaluation nesting (function calls, nested expressions) deeper than this fails with U1001.
  uint32_t max_depth = 1000;
  // Evaluation steps (expression nodes visited) per evaluation; 0 = unlimited. Fails with U1001.
  uint64_t max_steps = 0;
  // Wall time per evaluation; 0 = unlimited. Checked every few hundred steps. Fails with U1001.
  std::chrono::milliseconds time_limit{0};
  // Syntactic nesting deeper than this fails to compile with U1001 (never a stack overflow).
  uint32_t max_parse_depth = 500;
};

// A JSONata error as jsonata-js reports it.
struct Error {
  std::string code;      // reference error code, e.g. "S0202", "T2001", "D3030", "U1001"
  int64_t position = -1; // character offset (1-based end of the offending token), -1 if none
  std::string token;     // the offending token or function name, if any
  std::string value;     // the offending value rendered as text, if any
  std::string message;   // the reference's message with its placeholders filled in
  // "S0202 at 1:12 (token ']'): Expected ..."; `source` (optional) lets it name line:column.
  std::string ToString(std::string_view source = {}) const;
};

// A JSON value or JSONata's "undefined" (no value; distinct from null).
struct MaybeValue {
  bool defined = false;
  json::Value value;
};
inline MaybeValue Defined(json::Value v) { return {true, v}; }
inline MaybeValue Undefined() { return {}; }

// A function implemented by the host, callable from expressions as $name(args...).
// Arguments are converted to JSON (functions passed as arguments arrive as null); the result
// is built with `builder` (its arena is the evaluation's). Return a Status to raise an error:
// its message becomes the JSONata error message, with code "D3137" unless the message starts
// with a 5-character code followed by ": " (e.g. "X0001: bad input").
using HostFunction =
    std::function<Result<MaybeValue>(std::span<const MaybeValue> args, json::Builder& builder)>;

// External variables and host functions for an evaluation. Values must outlive evaluations
// that use them. Build once and reuse; reading is thread-safe.
class Bindings {
 public:
  // Binds $name (without the '$') to `value`.
  void Set(std::string name, json::Value value);
  // Registers $name as a host function. `signature` is an optional JSONata signature such as
  // "<s-n?:s>" validated before the call (T0410/T0412 errors as for built-ins).
  void SetFunction(std::string name, HostFunction fn, std::string signature = {});

  struct Variable {
    std::string name;
    json::Value value;
  };
  struct Function {
    std::string name;
    HostFunction fn;
    std::string signature;
  };
  const std::vector<Variable>& variables() const { return variables_; }
  const std::vector<Function>& functions() const { return functions_; }

 private:
  std::vector<Variable> variables_;
  std::vector<Function> functions_;
};

namespace internal {
struct Program;
}

// A compiled expression. Create with Compile(); share freely (immutable, thread-safe).
class Expression {
 public:
  explicit Expression(std::unique_ptr<internal::Program> program);
  ~Expression();
  Expression(const Expression&) = delete;
  Expression& operator=(const Expression&) = delete;

  // Evaluates against `input` (Undefined() for no input). The result lives in `arena`.
  // On failure the Status (kEvalError, or kLimitExceeded for U1001) carries the formatted
  // error and `*error`, when given, the structured one.
  Result<MaybeValue> Evaluate(const MaybeValue& input, Arena* arena, const Bindings* bindings = nullptr,
                              Error* error = nullptr) const;
  // As Evaluate, with the result appended to `*out` as json::AppendJson writes it; returns
  // whether it is defined (nothing is appended when not, nor on failure). Exactly
  // Evaluate + AppendJson, without building the result's tree first.
  Result<bool> EvaluateJson(const MaybeValue& input, Arena* arena, std::string* out,
                            const Bindings* bindings = nullptr, Error* error = nullptr) const;

  std::string_view source() const;
  const JsonataOptions& options() const;

 private:
  std::unique_ptr<internal::Program> program_;
};

// Compiles `source`. On failure the Status (kParseError) carries the formatted error and
// `*error`, when given, the structured one (code, position, token).
Result<std::shared_ptr<const Expression>> Compile(std::string_view source, const JsonataOptions& options = {},
                                                  Error* error = nullptr);

// Formats a Status message for `error`: "<code> at <line>:<col> ...: <message>".
Status ErrorToStatus(const Error& error, std::string_view source);

}  // namespace ec::jsonata
