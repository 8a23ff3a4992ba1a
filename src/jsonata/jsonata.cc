// The public API: Compile, Expression::Evaluate, Bindings, error formatting.

#include "jsonata/jsonata.h"

#include <cmath>

#include "json/writer.h"
#include "jsonata/eval.h"
#include "jsonata/program.h"

namespace ec::jsonata {

void Bindings::Set(std::string name, json::Value value) {
  for (auto& v : variables_) {
    if (v.name == name) {
      v.value = value;
      return;
    }
  }
  variables_.push_back(Variable{std::move(name), value});
}

void Bindings::SetFunction(std::string name, HostFunction fn, std::string signature) {
  functions_.push_back(Function{std::move(name), std::move(fn), std::move(signature)});
}

std::string Error::ToString(std::string_view source) const {
  std::string s = code;
  if (position >= 0) {
    if (!source.empty()) {
      // jsonata-js positions point just past the token; name where the token starts.
      int64_t at = position - static_cast<int64_t>(token.size());
      if (at < 0) at = 0;
      if (at > static_cast<int64_t>(source.size())) at = static_cast<int64_t>(source.size());
      int line = 1, col = 1;
      for (int64_t i = 0; i < at; ++i) {
        if (source[static_cast<size_t>(i)] == '\n') {
          line++;
          col = 1;
        } else {
          col++;
        }
      }
      s += " at " + std::to_string(line) + ":" + std::to_string(col);
    } else {
      s += " at position " + std::to_string(position);
    }
  }
  if (!token.empty()) s += " (token '" + token + "')";
  s += ": " + message;
  if (!value.empty() && message.find(value) == std::string::npos) s += " (value: " + value + ")";
  return s;
}

Status ErrorToStatus(const Error& error, std::string_view source) {
  ErrorCode code = error.code.size() && error.code[0] == 'S' ? ErrorCode::kParseError : ErrorCode::kEvalError;
  if (error.code == "U1001") code = ErrorCode::kLimitExceeded;
  return Status(code, error.ToString(source));
}

namespace {

enum class PathWalk { kFound, kUndefined, kGeneral };

// `a.b.c` over a JSON object is the commonest expression in specs. Walking it needs no
// evaluator: an absent field or a scalar on the way is undefined and a field holding an array
// is the result as it is, exactly as EvalNamePath does. An array before the last step needs
// sequence semantics, so that (and array input) takes the general path (kGeneral).
PathWalk WalkNamePath(const internal::Program& program, const MaybeValue& input, const json::Value** found) {
  if (program.json_name_path.empty() || !input.defined || !input.value.is_object()) return PathWalk::kGeneral;
  const json::Value* v = &input.value;
  const auto& names = program.json_name_path;
  size_t i = 0;
  for (; i < names.size() && v->is_object(); ++i) {
    v = v->Find(names[i]);
    if (v == nullptr) return PathWalk::kUndefined;
  }
  if (i == names.size()) {
    *found = v;
    return PathWalk::kFound;
  }
  return v->is_array() ? PathWalk::kGeneral : PathWalk::kUndefined;
}

// A non-finite number cannot be represented in JSON (jsonata-js raises D1001 on output too).
Status NonFiniteResult(const internal::Val& r, std::string_view source, Error* error) {
  Error e;
  e.code = "D1001";
  e.message = "Number out of range";
  e.value = internal::ValueText(r);
  if (error) *error = e;
  return ErrorToStatus(e, source);
}

}  // namespace

Expression::Expression(std::unique_ptr<internal::Program> program) : program_(std::move(program)) {}
Expression::~Expression() = default;
std::string_view Expression::source() const { return program_->source; }
const JsonataOptions& Expression::options() const { return program_->options; }

Result<MaybeValue> Expression::Evaluate(const MaybeValue& input, Arena* arena, const Bindings* bindings,
                                        Error* error) const {
  switch (const json::Value* v = nullptr; WalkNamePath(*program_, input, &v)) {
    case PathWalk::kFound: return Defined(*v);
    case PathWalk::kUndefined: return MaybeValue{};
    case PathWalk::kGeneral: break;
  }
  internal::Evaluator ev(program_.get(), arena, bindings);
  internal::Val r = ev.RunJson(input);
  if (ev.failed) {
    if (error) *error = ev.error;
    return ErrorToStatus(ev.error, program_->source);
  }
  MaybeValue out;
  json::Builder b(arena);
  if (r.is_num() && !std::isfinite(r.d)) return NonFiniteResult(r, program_->source, error);
  out.defined = internal::ToJson(r, b, &out.value);
  return out;
}

Result<bool> Expression::EvaluateJson(const MaybeValue& input, Arena* arena, std::string* out,
                                      const Bindings* bindings, Error* error) const {
  switch (const json::Value* v = nullptr; WalkNamePath(*program_, input, &v)) {
    case PathWalk::kFound: json::AppendJson(*v, out); return true;  // the input's own value
    case PathWalk::kUndefined: return false;
    case PathWalk::kGeneral: break;
  }
  internal::Evaluator ev(program_.get(), arena, bindings);
  const size_t at = out->size();
  // A root object constructor is written member by member, without the object.
  if (ev.RunObjectText(input, out)) {
    if (!ev.failed) return true;
    out->resize(at);
    if (error) *error = ev.error;
    return ErrorToStatus(ev.error, program_->source);
  }
  internal::Val r = ev.RunJson(input);
  if (ev.failed) {
    if (error) *error = ev.error;
    return ErrorToStatus(ev.error, program_->source);
  }
  if (r.is_num() && !std::isfinite(r.d)) return NonFiniteResult(r, program_->source, error);
  if (r.undef() || r.is_func()) return false;  // ToJson's undefined
  if (internal::AppendToJsonText(r, out)) return true;
  // What the direct writer leaves to ToJson (repeated keys, an unwrapped undefined item).
  out->resize(at);
  json::Builder b(arena);
  json::Value value;
  if (!internal::ToJson(r, b, &value)) return false;
  json::AppendJson(value, out);
  return true;
}

Result<std::shared_ptr<const Expression>> Compile(std::string_view source, const JsonataOptions& options,
                                                  Error* error) {
  auto program = std::make_unique<internal::Program>();
  program->source = std::string(source);
  program->options = options;
  Error e;
  if (!internal::ParseProgram(program.get(), &e)) {
    if (error) *error = e;
    return ErrorToStatus(e, source);
  }
  return std::shared_ptr<const Expression>(std::make_shared<Expression>(std::move(program)));
}

}  // namespace ec::jsonata
