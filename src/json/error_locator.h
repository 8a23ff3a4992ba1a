#pragma once
// Finds where a JSON text first goes wrong. simdjson says *that* a text is invalid but not
// *where*; users need line and column, so this slow path runs only after a failed parse.

#include <cstddef>
#include <string>
#include <string_view>

namespace ec::json {

struct ErrorLocation {
  size_t offset = 0;
  size_t line = 1;    // 1-based
  size_t column = 1;  // 1-based, in bytes
  std::string reason;
};

ErrorLocation LocateJsonError(std::string_view text);

}  // namespace ec::json
