// Adapters from spec::Expression to the cel and jsonata engines.
#include "spec/expression.h"

#include <cstdio>
#include <string>

#include "cel/cel.h"
#if EC_HAVE_JSONATA
#include "jsonata/jsonata.h"
#endif
#include "json/builder.h"
#include "json/writer.h"

namespace ec::spec {
namespace {

Status EvalError(std::string m) { return Status(ErrorCode::kEvalError, std::move(m)); }

class CelExpression final : public Expression {
 public:
  CelExpression(std::string text, SourceLocation where, std::shared_ptr<const cel::Program> program)
      : Expression(Language::kCel, std::move(text), std::move(where)), program_(std::move(program)) {}

  Result<EvalResult> Evaluate(const json::Value& context, Arena* arena) const override {
    cel::Activation act(&context);
    cel::EvalContext& ctx = ThreadContext();
    cel::Value v = cel::Evaluate(*program_, act, &ctx);
    EC_RETURN_IF_ERROR(cel::ToStatus(v));
    json::Builder b(arena);
    EC_ASSIGN_OR_RETURN(json::Value out, cel::ToJson(v, b));
    return EvalResult{out, true};
  }

  Result<bool> EvaluateBool(const json::Value& context, Arena* arena) const override {
    cel::Activation act(&context);
    return cel::EvaluateBool(*program_, act, &ThreadContext());
  }

  Result<std::string> EvaluateString(const json::Value& context, Arena* arena) const override {
    cel::Activation act(&context);
    return cel::EvaluateString(*program_, act, &ThreadContext());
  }

 private:
  // CEL's scratch state is per thread; results are converted before the next evaluation.
  static cel::EvalContext& ThreadContext() {
    thread_local cel::EvalContext ctx;
    return ctx;
  }

  std::shared_ptr<const cel::Program> program_;
};

#if EC_HAVE_JSONATA
class JsonataExpression final : public Expression {
 public:
  JsonataExpression(std::string text, SourceLocation where, std::shared_ptr<const jsonata::Expression> expr)
      : Expression(Language::kJsonata, std::move(text), std::move(where)), expr_(std::move(expr)) {}

  Result<EvalResult> Evaluate(const json::Value& context, Arena* arena) const override {
    EC_ASSIGN_OR_RETURN(jsonata::MaybeValue v, expr_->Evaluate(jsonata::Defined(context), arena));
    return EvalResult{v.value, v.defined};
  }

  Result<bool> EvaluateJson(const json::Value& context, Arena* arena, std::string* out) const override {
    return expr_->EvaluateJson(jsonata::Defined(context), arena, out);
  }

 private:
  std::shared_ptr<const jsonata::Expression> expr_;
};

#endif

// 1-based line and column of the character ending at 1-based character `position`.
[[maybe_unused]] void LineColumnOf(std::string_view text, int64_t position, uint32_t* line, uint32_t* column) {
  *line = 1;
  *column = 1;
  int64_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c & 0xc0) == 0x80) continue;  // UTF-8 continuation byte
    if (++chars >= position) return;
    if (c == '\n') {
      ++*line;
      *column = 1;
    } else {
      ++*column;
    }
  }
}

}  // namespace

std::string_view LanguageName(Language language) {
  return language == Language::kCel ? "CEL" : "JSONata";
}

std::string SourceLocation::ToString() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  return s;
}

Result<bool> Expression::EvaluateBool(const json::Value& context, Arena* arena) const {
  EC_ASSIGN_OR_RETURN(EvalResult r, Evaluate(context, arena));
  if (!r.defined) return EvalError("expected bool, got undefined");
  if (!r.value.is_bool()) return EvalError("expected bool, got " + std::string(json::KindName(r.value.kind())));
  return r.value.bool_value();
}

Result<std::string> Expression::EvaluateString(const json::Value& context, Arena* arena) const {
  EC_ASSIGN_OR_RETURN(EvalResult r, Evaluate(context, arena));
  if (!r.defined) return EvalError("expected string, got undefined");
  if (r.value.is_string()) return std::string(r.value.string());
  if (r.value.is_number()) {
    std::string s;
    json::AppendJsNumber(r.value.number(), &s);
    return s;
  }
  return EvalError("expected string, got " + std::string(json::KindName(r.value.kind())));
}

Result<bool> Expression::EvaluateJson(const json::Value& context, Arena* arena, std::string* out) const {
  EC_ASSIGN_OR_RETURN(EvalResult r, Evaluate(context, arena));
  if (r.defined) json::AppendJson(r.value, out);
  return r.defined;
}

bool CompileExpression(Language language, std::string_view text, SourceLocation where,
                       std::unique_ptr<Expression>* out, CompileError* error) {
  if (language == Language::kCel) {
    Result<std::shared_ptr<const cel::Program>> p = cel::Compile(text);
    if (p.ok()) {
      *out = std::make_unique<CelExpression>(std::string(text), std::move(where), std::move(p).value());
      return true;
    }
    // "line:col: message\n<source line>\n<caret>": keep the message, take the position.
    std::string_view m = p.status().message();
    m = m.substr(0, m.find('\n'));
    unsigned line = 0, col = 0;
    int consumed = 0;
    std::string head(m.substr(0, 24));
    if (std::sscanf(head.c_str(), "%u:%u: %n", &line, &col, &consumed) == 2 && consumed > 0) {
      error->line = line;
      error->column = col;
      m.remove_prefix(static_cast<size_t>(consumed));
    }
    error->message = std::string(m);
    return false;
  }
#if EC_HAVE_JSONATA
  jsonata::Error err;
  Result<std::shared_ptr<const jsonata::Expression>> e = jsonata::Compile(text, {}, &err);
  if (e.ok()) {
    *out = std::make_unique<JsonataExpression>(std::string(text), std::move(where), std::move(e).value());
    return true;
  }
  if (!err.code.empty()) {
    error->message = err.code + ": " + err.message;
    if (err.position > 0) LineColumnOf(text, err.position, &error->line, &error->column);
  } else {
    error->message = e.status().message();
  }
#else
  error->message = "this build has no JSONata engine (src/jsonata is not built)";
#endif
  return false;
}

}  // namespace ec::spec
