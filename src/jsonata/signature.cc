#include "jsonata/signature.h"

namespace ec::jsonata::internal {
namespace {

// Symbols each type letter accepts ('m' = missing argument).
std::string SymbolsFor(char c) {
  switch (c) {
    case 's': case 'n': case 'b': case 'l': case 'o': return std::string(1, c) + "m";
    case 'a': return "asnblfom";
    case 'f': return "f";
    case 'j': return "asnblom";
    case 'x': return "asnblfom";
  }
  return "";
}

size_t FindClosing(std::string_view s, size_t start, char open, char close) {
  int depth = 1;
  for (size_t i = start; i < s.size(); ++i) {
    if (s[i] == open) depth++;
    if (s[i] == close && --depth == 0) return i;
  }
  return std::string_view::npos;
}

}  // namespace

bool ParseSignature(std::string_view text, Signature* out, Error* error) {
  out->text = std::string(text);
  size_t pos = 1;  // skip '<'
  while (pos < text.size()) {
    char c = text[pos];
    if (c == ':' || c == '>') break;
    switch (c) {
      case 's': case 'n': case 'b': case 'l': case 'o': case 'a': case 'f': case 'j': case 'x': {
        SigParam p;
        p.type = c;
        p.symbols = SymbolsFor(c);
        out->params.push_back(p);
        pos++;
        break;
      }
      case '(': {
        size_t end = FindClosing(text, pos + 1, '(', ')');
        if (end == std::string_view::npos) end = text.size();
        std::string_view choice = text.substr(pos + 1, end - pos - 1);
        if (choice.find('<') != std::string_view::npos) {
          error->code = "S0402";
          error->position = static_cast<int64_t>(pos);
          error->value = std::string(choice);
          error->message = "Choice groups containing parameterized types are not supported";
          return false;
        }
        SigParam p;
        p.type = '(';
        p.symbols = std::string(choice) + "m";
        out->params.push_back(p);
        pos = end + 1;
        break;
      }
      case '<': {
        if (out->params.empty() || (out->params.back().type != 'a' && out->params.back().type != 'f')) {
          error->code = "S0401";
          error->position = static_cast<int64_t>(pos);
          error->value = out->params.empty() ? "" : std::string(1, out->params.back().type);
          error->message = "Type parameters can only be applied to functions and arrays";
          return false;
        }
        size_t end = FindClosing(text, pos + 1, '<', '>');
        if (end == std::string_view::npos) end = text.size();
        out->params.back().subtype = std::string(text.substr(pos + 1, end - pos - 1));
        pos = end + 1;
        break;
      }
      case '-':
        if (!out->params.empty()) {
          out->params.back().context = true;
          out->params.back().context_symbols = out->params.back().symbols;
          if (!out->params.back().quant) out->params.back().quant = '?';
        }
        pos++;
        break;
      case '?': case '+':
        if (!out->params.empty()) out->params.back().quant = c;
        pos++;
        break;
      default:
        pos++;
        break;
    }
  }
  return true;
}

}  // namespace ec::jsonata::internal
