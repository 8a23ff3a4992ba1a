#include "json/document.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "json/builder.h"
#include "json/error_locator.h"

namespace ec::json {
namespace {

// Converts a simdjson DOM into a Value tree. The members and elements of the containers being
// converted wait on two stacks kept per thread, so a document costs no allocation besides the
// arena's (one vector per object or array before). Strings and keys are not copied one by one:
// simdjson keeps them all in one buffer (each unescaped, after its length, before a NUL), so
// that buffer, as far as a document of this length can use it, is copied into the arena once
// and the tree's strings point into the copy (which is complete before any key is compared:
// Builder::Object looks at keys for duplicates and sorts large objects' keys). A string found
// outside the buffer is copied on its own.
class TreeConverter {
 public:
  // `strings`: simdjson's string buffer after the parse, `bound` bytes of which may be in use.
  TreeConverter(Arena* arena, uint32_t max_depth, const uint8_t* strings, size_t bound)
      : builder_(arena), max_depth_(max_depth), stacks_(Stacks()),
        strings_(reinterpret_cast<const char*>(strings)), bound_(strings != nullptr ? bound : 0),
        copy_(bound_ > 0 ? static_cast<char*>(arena->Allocate(bound_, 1)) : nullptr) {
    if (bound_ > 0) std::memcpy(copy_, strings_, bound_);
    stacks_.values.clear();
    stacks_.members.clear();
  }

  bool Convert(simdjson::dom::element e, uint32_t depth, Value* out) {
    using simdjson::dom::element_type;
    switch (e.type()) {
      case element_type::NULL_VALUE: *out = Value::Null(); return true;
      case element_type::BOOL: *out = Value::Bool(bool(e.get_bool().value_unsafe())); return true;
      case element_type::INT64: *out = Value::Number(double(e.get_int64().value_unsafe())); return true;
      case element_type::UINT64: *out = Value::Number(double(e.get_uint64().value_unsafe())); return true;
      case element_type::DOUBLE: *out = Value::Number(e.get_double().value_unsafe()); return true;
      case element_type::STRING: *out = Value::StringRef(Rebase(e.get_string().value_unsafe())); return true;
      case element_type::ARRAY: {
        if (depth >= max_depth_) return false;
        std::vector<Value>& values = stacks_.values;
        const size_t base = values.size();
        simdjson::dom::array a = e.get_array().value_unsafe();
        for (simdjson::dom::element child : a) {
          Value v;
          if (!Convert(child, depth + 1, &v)) return false;
          values.push_back(v);
        }
        *out = builder_.Array(std::span<const Value>(values.data() + base, values.size() - base));
        values.resize(base);
        return true;
      }
      case element_type::OBJECT: {
        if (depth >= max_depth_) return false;
        std::vector<Member>& members = stacks_.members;
        const size_t base = members.size();
        simdjson::dom::object o = e.get_object().value_unsafe();
        for (auto field : o) {
          Value v;
          if (!Convert(field.value, depth + 1, &v)) return false;
          members.push_back(Member{Rebase(field.key), v});
        }
        *out = builder_.Object(std::span<const Member>(members.data() + base, members.size() - base),
                               /*keys_stable=*/true);
        members.resize(base);
        return true;
      }
    }
    return false;
  }

 private:
  // Where `s` (a view into simdjson's buffer) will be in the arena's copy.
  std::string_view Rebase(std::string_view s) {
    const uintptr_t p = reinterpret_cast<uintptr_t>(s.data()), base = reinterpret_cast<uintptr_t>(strings_);
    const size_t at = static_cast<size_t>(p - base);
    if (p < base || at > bound_ || s.size() >= bound_ - at) {
      return builder_.arena()->CopyString(s);
    }
    return std::string_view(copy_ + at, s.size());
  }

  struct Scratch {
    std::vector<Value> values;
    std::vector<Member> members;
  };
  static Scratch& Stacks() {
    thread_local Scratch scratch;
    return scratch;
  }

  Builder builder_;
  uint32_t max_depth_;
  Scratch& stacks_;
  const char* strings_;
  size_t bound_;
  char* copy_;
};

// simdjson refuses integer literals beyond 64 bits, which JSON.parse reads as doubles
// (e.g. 18446744073709552000, or -9914777326966786000, below -2^63, which AppendJson writes for
// -9.914777326966786e18). On a number error, such literals get a ".0" and the text is parsed
// again: the rare slow path costs one copy, the common path nothing. Widened are integers of 20
// digits or more and negative ones of 19 (all of which are below -10^18, so the ".0" gives the
// same correctly rounded double simdjson's int64 path would); digits of an exponent are not.
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
    // A sign belongs to the number unless it follows an exponent's 'e' ("1e-...").
    const bool negative = i > 0 && text[i - 1] == '-';
    const bool exponent = i > 0 && (text[i - 1] == '-' || text[i - 1] == '+') && i > 1 &&
                          (text[i - 2] == 'e' || text[i - 2] == 'E');
    const size_t digits = j - i;
    if (plain && !exponent && (digits >= 20 || (negative && digits == 19))) {
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
  // The tree's strings point into one arena copy of simdjson's string buffer instead of one
  // copy per string. `doc.string_buf` and `doc.capacity()` are public members that simdjson
  // 3.0.1 (Debian 12) documents as private: re-check them on a simdjson upgrade (the converter
  // falls back to copying any string outside the buffer). The copy's size is simdjson's own
  // bound of what a document of this length can use of the string buffer (all empty strings:
  // 5 bytes per 3 of text), within what the buffer holds.
  const size_t parsed = widened.empty() ? text.size() : widened.size();
  const size_t bound = std::min(5 * parsed / 3 + 8, 5 * parser.doc.capacity() / 3);
  TreeConverter converter(arena, options.max_depth, parser.doc.string_buf.get(), bound);
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
