#include "pipeline/json_twice.h"

#include <cstring>

#include "json/writer.h"

namespace ec::pipeline::internal {
namespace {

// The same value, not just an equal one: what Redact leaves untouched is shared by reference.
bool Same(const json::Value& a, const json::Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::Kind::kNull: return true;
    case json::Kind::kBool: return a.bool_value() == b.bool_value();
    case json::Kind::kNumber: {
      double x = a.number(), y = b.number();
      return std::memcmp(&x, &y, sizeof x) == 0;
    }
    case json::Kind::kString: return a.string().data() == b.string().data() && a.string().size() == b.string().size();
    case json::Kind::kArray: return a.array().data() == b.array().data() && a.size() == b.size();
    case json::Kind::kObject: return a.object().data() == b.object().data() && a.size() == b.size();
  }
  return false;
}

// Both objects with the same keys in the same order, or both arrays of one length: walked in
// step. Anything else is written separately.
bool SameShape(const json::Value& a, const json::Value& b) {
  if (a.is_array() && b.is_array()) return a.size() == b.size();
  if (!a.is_object() || !b.is_object() || a.size() != b.size()) return false;
  std::span<const json::Member> x = a.object(), y = b.object();
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].key != y[i].key) return false;
  }
  return true;
}

}  // namespace

void AppendJsonTwice(const json::Value& a, const json::Value& b, std::string* a_out, std::string* b_out) {
  if (Same(a, b)) {
    const size_t at = a_out->size();
    json::AppendJson(a, a_out);
    b_out->append(*a_out, at, std::string::npos);
    return;
  }
  if (!SameShape(a, b)) {
    json::AppendJson(a, a_out);
    json::AppendJson(b, b_out);
    return;
  }
  if (a.is_array()) {
    a_out->push_back('[');
    b_out->push_back('[');
    std::span<const json::Value> x = a.array(), y = b.array();
    for (size_t i = 0; i < x.size(); ++i) {
      if (i > 0) {
        a_out->push_back(',');
        b_out->push_back(',');
      }
      AppendJsonTwice(x[i], y[i], a_out, b_out);
    }
    a_out->push_back(']');
    b_out->push_back(']');
    return;
  }
  a_out->push_back('{');
  b_out->push_back('{');
  std::span<const json::Member> x = a.object(), y = b.object();
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t at = a_out->size();
    if (i > 0) a_out->push_back(',');
    json::AppendQuoted(x[i].key, a_out);
    a_out->push_back(':');
    b_out->append(*a_out, at, std::string::npos);
    AppendJsonTwice(x[i].value, y[i].value, a_out, b_out);
  }
  a_out->push_back('}');
  b_out->push_back('}');
}

}  // namespace ec::pipeline::internal
