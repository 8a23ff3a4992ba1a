#include "json/document.h"

#include <simdjson.h>

#include <string>
#include <vector>

#include "json/builder.h"
#include "json/error_locator.h"

namespace ec::json {
namespace {

class TreeConverter {
 public:
  TreeConverter(Arena* arena, uint32_t max_depth) : builder_(arena), max_depth_(max_depth) {}

  bool Convert(simdjson::dom::element e, uint32_t depth, Value* out) {
    using simdjson::dom::element_type;
    switch (e.type()) {
      case element_type::NULL_VALUE: *out = Value::Null(); return true;
      case element_type::BOOL: *out = Value::Bool(bool(e.get_bool().value_unsafe())); return true;
      case element_type::INT64: *out = Value::Number(double(e.get_int64().value_unsafe())); return true;
      case element_type::UINT64: *out = Value::Number(double(e.get_uint64().value_unsafe())); return true;
      case element_type::DOUBLE: *out = Value::Number(e.get_double().value_unsafe()); return true;
      case element_type::STRING: *out = builder_.String(e.get_string().value_unsafe()); return true;
      case element_type::ARRAY: {
        if (depth >= max_depth_) return false;
        simdjson::dom::array a = e.get_array().value_unsafe();
        std::vector<Value> elems;
        elems.reserve(a.size());
        for (simdjson::dom::element child : a) {
          elems.emplace_back();
          if (!Convert(child, depth + 1, &elems.back())) return false;
        }
        *out = builder_.Array(elems);
        return true;
      }
      case element_type::OBJECT: {
        if (depth >= max_depth_) return false;
        simdjson::dom::object o = e.get_object().value_unsafe();
        std::vector<Member> members;
        members.reserve(o.size());
        for (auto field : o) {
          members.push_back(Member{field.key, Value()});
          if (!Convert(field.value, depth + 1, &members.back().value)) return false;
        }
        *out = builder_.Object(members);
        return true;
      }
    }
    return false;
  }

 private:
  Builder builder_;
  uint32_t max_depth_;
};

// simdjson refuses integer literals beyond 64 bits, which JSON.parse reads as doubles
// (e.g. 18446744073709552000). On a number error, such literals get a ".0" and the text is
// parsed again: the rare slow path costs one copy, the common path nothing.
bool WidenLongIntegers(std::string_view text, std::string* out) {
  bool changed = false;
  bool in_string = false;
  out->reserve(text.size() + 16);
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      out->push_back(c);
      if (c == '\\' && i + 1 < text.size()) out->push_back(text[++i]);
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    bool starts_number = c >= '0' && c <= '9' && (i == 0 || !(isalnum(static_cast<unsigned char>(text[i - 1])) || text[i - 1] == '.'));
    if (!starts_number) {
      out->push_back(c);
      continue;
    }
    size_t j = i;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    out->append(text, i, j - i);
    bool plain = j >= text.size() || (text[j] != '.' && text[j] != 'e' && text[j] != 'E');
    if (plain && j - i >= 20) {
      out->append(".0");
      changed = true;
    }
    i = j - 1;
  }
  return changed;
}

simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

}  // namespace

Status ParseInto(std::string_view text, Arena* arena, Value* out, const ParseOptions& options) {
  simdjson::dom::parser& parser = ThreadParser();
  simdjson::dom::element root;
  auto error = parser.parse(text.data(), text.size()).get(root);
  std::string widened;
  if (error == simdjson::NUMBER_ERROR && WidenLongIntegers(text, &widened)) {
    error = parser.parse(widened.data(), widened.size()).get(root);
  }
  if (error == simdjson::DEPTH_ERROR) {
    return LimitExceeded("JSON nesting is deeper than simdjson's limit; flatten the document");
  }
  if (error) {
    ErrorLocation loc = LocateJsonError(text);
    return ParseError("invalid JSON at line " + std::to_string(loc.line) + ", column " +
                      std::to_string(loc.column) + ": " + loc.reason + " (" +
                      simdjson::error_message(error) + ")");
  }
  TreeConverter converter(arena, options.max_depth);
  if (!converter.Convert(root, 0, out)) {
    return LimitExceeded("JSON nesting deeper than " + std::to_string(options.max_depth) +
                         " levels; raise the depth limit or flatten the document");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Document>> Parse(std::string_view text, const ParseOptions& options) {
  auto doc = std::make_unique<Document>();
  Value root;
  EC_RETURN_IF_ERROR(ParseInto(text, &doc->arena(), &root, options));
  doc->set_root(root);
  return doc;
}

}  // namespace ec::json
