#pragma once
// One `x-eventception` expression compiled at spec load: CEL (`when`, `key`, `subject`) or
// JSONata (`data`, `state`). An adapter over the cel and jsonata engines so that the spec and
// pipeline code does not depend on their internals.

#include <memory>
#include <string>
#include <string_view>

#include "base/arena.h"
#include "base/status.h"
#include "json/value.h"

namespace ec::spec {

enum class Language { kCel, kJsonata };
std::string_view LanguageName(Language language);  // "CEL" or "JSONata"

// Where something was written: file, 1-based line and column (0 = unknown).
struct SourceLocation {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
  std::string ToString() const;  // "file:line:col"
};

// JSONata can evaluate to "undefined" (no value); CEL always gives a value or an error.
struct EvalResult {
  json::Value value;
  bool defined = true;
};

class Expression {
 public:
  virtual ~Expression() = default;

  // Evaluates against `context` (the expression context object of contract §2: its members
  // are CEL's variables and JSONata's input). The result lives in `arena` or in `context`.
  // Errors are kEvalError (or kLimitExceeded) with the engine's message; never a crash.
  virtual Result<EvalResult> Evaluate(const json::Value& context, Arena* arena) const = 0;
  // As Evaluate, requiring a bool (`when`): another type is kEvalError "expected bool, got T".
  virtual Result<bool> EvaluateBool(const json::Value& context, Arena* arena) const;
  // As Evaluate, requiring a string or a number (`key`, `subject`); numbers are written as
  // JavaScript prints them. Other types are kEvalError.
  virtual Result<std::string> EvaluateString(const json::Value& context, Arena* arena) const;
  // As Evaluate, with a defined result appended to `*out` as json::AppendJson writes it (an
  // event's `data`); returns whether it was defined. JSONata writes it without building the
  // result's tree.
  virtual Result<bool> EvaluateJson(const json::Value& context, Arena* arena, std::string* out) const;

  Language language() const { return language_; }
  const std::string& text() const { return text_; }
  const SourceLocation& where() const { return where_; }

 protected:
  Expression(Language language, std::string text, SourceLocation where)
      : language_(language), text_(std::move(text)), where_(std::move(where)) {}

 private:
  Language language_;
  std::string text_;
  SourceLocation where_;
};

// A compile error: the engine's message and where in the expression text it went wrong
// (1-based line and column within the text; 0 when the engine did not say).
struct CompileError {
  std::string message;
  uint32_t line = 0;
  uint32_t column = 0;
};

// Compiles `text`. On failure returns false and fills `*error`.
bool CompileExpression(Language language, std::string_view text, SourceLocation where,
                       std::unique_ptr<Expression>* out, CompileError* error);

}  // namespace ec::spec
