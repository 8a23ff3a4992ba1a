#pragma once
// The tokenizer. It is called lazily by the parser because '/' starts a regex only where an
// operand is expected (`infix` false) and is division otherwise.

#include <cstdint>
#include <string>
#include <string_view>

#include "jsonata/jsonata.h"

#include "base/utf8.h"

namespace ec::jsonata::internal {

enum class TT : uint8_t { kEnd, kOperator, kString, kNumber, kValue, kName, kVariable, kRegex };

struct Token {
  TT type = TT::kEnd;
  std::string value;  // operator text, string contents, name, variable name, regex pattern
  std::string flags;  // regex flags
  double num = 0;
  int64_t position = 0;  // offset just past the token (as jsonata-js reports)
};

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}
  // Reads the next token; false with `*error` set on a lexical error.
  bool Next(bool infix, Token* tok, Error* error);
  size_t position() const { return pos_; }

 private:
  bool Fail(Error* error, const char* code, const char* message, int64_t position, std::string token = {});
  std::string_view src_;
  size_t pos_ = 0;
};

// Code points as UTF-8 (lone surrogates as 3-byte sequences, like WTF-8).
using ::ec::AppendUtf8;

}  // namespace ec::jsonata::internal
