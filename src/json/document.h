#pragma once
// Parsing JSON text into a Value tree owned by a Document (simdjson does the parsing).

#include <memory>
#include <string>
#include <string_view>

#include "base/arena.h"
#include "base/status.h"
#include "json/value.h"

namespace ec::json {

struct ParseOptions {
  // Nesting deeper than this is an error (kLimitExceeded), never a stack overflow.
  uint32_t max_depth = 256;
};

// A parsed JSON text: the tree and the arena it lives in. Immutable once parsed, so it may be
// read from several threads at once.
class Document {
 public:
  Document() = default;
  const Value& root() const { return root_; }
  Arena& arena() { return arena_; }
  void set_root(Value v) { root_ = v; }

 private:
  Arena arena_{8192};
  Value root_;
};

// Parses `text` into a new Document. On failure: kParseError naming line:column and the
// problem, or kLimitExceeded when nesting exceeds options.max_depth.
Result<std::unique_ptr<Document>> Parse(std::string_view text, const ParseOptions& options = {});

// Parses `text` into `arena`, storing the root in `*out`. Same errors as Parse.
Status ParseInto(std::string_view text, Arena* arena, Value* out, const ParseOptions& options = {});

}  // namespace ec::json
