// The public entry points: activations, contexts, Evaluate and its typed conveniences, ToJson.

#include <cmath>

#include "cel/eval.h"
#include "cel/json_find.h"
#include "cel/text.h"
#include "cel/time.h"
#include "json/writer.h"

namespace ec::cel {

void Activation::Bind(std::string_view name, const json::Value* value) {
  BindValue(name, Value::FromJson(*value));
}

void Activation::BindValue(std::string_view name, Value value) {
  if (name.find('.') != std::string_view::npos) has_dotted_ = true;
  for (auto& b : extra_) {
    if (b.name == name) {
      b.value = value;
      return;
    }
  }
  extra_.push_back(Binding{name, value});
}

bool Activation::Lookup(std::string_view name, Value* out) const {
  for (const auto& b : extra_) {
    if (b.name == name) {
      *out = b.value;
      return true;
    }
  }
  if (root_ != nullptr && root_->is_object()) {
    if (const json::Value* v = FindMember(*root_, name)) {
      *out = Value::FromJson(*v);
      return true;
    }
  }
  return false;
}

EvalContext::EvalContext() : arena_(std::make_unique<Arena>(4096)) { slots_.reserve(32); }
EvalContext::~EvalContext() = default;

Value Evaluate(const Program& program, const Activation& activation, EvalContext* ctx) {
  ctx->Reset();
  Evaluator e(program, activation, ctx);
  return e.Run();
}

Status ToStatus(const Value& v) {
  if (!v.is_error()) return Status::Ok();
  return Status(v.error().code, std::string(v.error().message));
}

Result<bool> EvaluateBool(const Program& program, const Activation& activation, EvalContext* ctx) {
  Value v = Evaluate(program, activation, ctx);
  if (v.kind() == Kind::kBool) return v.bool_value();
  if (v.is_error()) return ToStatus(v);
  return Status(ErrorCode::kEvalError, "expected bool, got " + std::string(TypeName(v)));
}

Result<std::string> EvaluateString(const Program& program, const Activation& activation, EvalContext* ctx) {
  Value v = Evaluate(program, activation, ctx);
  switch (v.kind()) {
    case Kind::kString: return std::string(v.string_value());
    case Kind::kInt: return std::to_string(v.int_value());
    case Kind::kUint: return std::to_string(v.uint_value());
    case Kind::kDouble: {
      std::string s;
      json::AppendJsNumber(v.double_value(), &s);
      return s;
    }
    case Kind::kError: return ToStatus(v);
    default:
      return Status(ErrorCode::kEvalError, "expected string, int, uint or double, got " + std::string(TypeName(v)));
  }
}

Result<json::Value> ToJson(const Value& v, json::Builder& builder) {
  switch (v.kind()) {
    case Kind::kNull: return json::Value::Null();
    case Kind::kBool: return json::Value::Bool(v.bool_value());
    case Kind::kInt: return json::Value::Number(static_cast<double>(v.int_value()));
    case Kind::kUint: return json::Value::Number(static_cast<double>(v.uint_value()));
    case Kind::kDouble: return json::Value::Number(v.double_value());
    case Kind::kString: return builder.String(v.string_value());
    case Kind::kBytes: return builder.String(Base64Encode(v.string_value()));
    case Kind::kType: return builder.String(v.string_value());
    case Kind::kTimestamp: return builder.String(FormatTimestamp(v.seconds(), v.nanos()));
    case Kind::kDuration: return builder.String(FormatDuration(v.seconds(), v.nanos()));
    case Kind::kOptional:
      if (v.optional_value() == nullptr) return json::Value::Null();
      return ToJson(*v.optional_value(), builder);
    case Kind::kError: return ToStatus(v);
    case Kind::kList: {
      if (v.is_json()) return *v.json();
      std::vector<json::Value> elems;
      elems.reserve(v.size());
      for (uint32_t i = 0; i < v.size(); ++i) {
        EC_ASSIGN_OR_RETURN(json::Value e, ToJson(v.ListAt(i), builder));
        elems.push_back(e);
      }
      return builder.Array(elems);
    }
    case Kind::kMap: {
      if (v.is_json()) return *v.json();
      std::vector<json::Member> members;
      members.reserve(v.size());
      for (uint32_t i = 0; i < v.size(); ++i) {
        Value k = v.MapKeyAt(i);
        std::string key;
        if (k.kind() == Kind::kString) {
          key = std::string(k.string_value());
        } else if (k.kind() == Kind::kBool) {
          key = k.bool_value() ? "true" : "false";
        } else if (k.kind() == Kind::kInt) {
          key = std::to_string(k.int_value());
        } else {
          key = std::to_string(k.uint_value());
        }
        EC_ASSIGN_OR_RETURN(json::Value e, ToJson(v.MapValueAt(i), builder));
        members.push_back(json::Member{builder.arena()->CopyString(key), e});
      }
      return builder.Object(members, true);
    }
  }
  return Status(ErrorCode::kInternal, "unknown CEL value kind");
}

}  // namespace ec::cel
