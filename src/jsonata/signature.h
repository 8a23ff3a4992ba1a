#pragma once
// Function signatures such as "<s-n?:s>": parsing and argument validation (T0410/T0411/T0412).

#include <string>
#include <string_view>
#include <vector>

#include "jsonata/jsonata.h"

namespace ec::jsonata::internal {

struct SigParam {
  std::string symbols;   // accepted type symbols (plus 'm' for missing where allowed)
  char type = 0;         // 's','n','b','l','o','a','f','j','x' or '(' for a choice
  char quant = 0;        // 0, '?' or '+'
  bool context = false;  // '-': use the context value when the argument is missing
  std::string context_symbols;
  std::string subtype;   // a<n>: element type symbols
};

struct Signature {
  std::string text;
  std::vector<SigParam> params;
};

// Parses the text between '<' and '>' (inclusive). Errors S0401/S0402.
bool ParseSignature(std::string_view text, Signature* out, Error* error);

}  // namespace ec::jsonata::internal
