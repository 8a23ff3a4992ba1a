#pragma once
// Regular expressions with JavaScript semantics, compiled with PCRE2.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jsonata/jsonata.h"

struct pcre2_real_code_8;

namespace ec::jsonata::internal {

struct Regex {
  Regex() = default;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  ~Regex();
  std::string pattern;
  std::string flags;
  pcre2_real_code_8* code = nullptr;
  uint32_t capture_count = 0;
};

// Compiles a JavaScript regex `pattern` with `flags` ("i", "m"). Error D1004-like on failure.
bool CompileRegex(std::string_view pattern, std::string_view flags, Regex* out, std::string* error);

struct RegexMatch {
  size_t start = 0;
  size_t end = 0;
  // Capture groups (byte offsets; npos start means unmatched).
  std::vector<std::pair<size_t, size_t>> groups;
};

// Finds the first match at or after byte `from`. Returns false when there is none.
bool RegexSearch(const Regex& re, std::string_view subject, size_t from, RegexMatch* m);

}  // namespace ec::jsonata::internal
