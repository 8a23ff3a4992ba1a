// Recursive-descent parser for the CEL grammar (cel-spec langdef), with macro expansion.
// Depth is bounded (options.max_parse_depth) both in recursion and in the tree it builds, so
// hostile input gives an error instead of a stack overflow.

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "base/utf8.h"
#include "cel/program.h"

namespace ec::cel {
namespace {

enum class Tok : uint8_t {
  kEof, kIdent, kInt, kUint, kDouble, kString, kBytes,
  kLParen, kRParen, kLBracket, kRBracket, kLBrace, kRBrace,
  kDot, kComma, kColon, kQuestion,
  kPlus, kMinus, kStar, kSlash, kPercent, kNot,
  kEq, kNe, kLt, kLe, kGt, kGe, kAnd, kOr,
  kIn, kTrue, kFalse, kNull, kReserved, kError,
};

struct Token {
  Tok kind = Tok::kEof;
  uint32_t pos = 0;
  uint32_t end = 0;
  std::string text;  // identifier, or decoded string/bytes literal
  uint64_t u = 0;    // int/uint magnitude
  double d = 0;
  bool int_overflow = false;  // int literal > INT64_MAX (only valid when negated to INT64_MIN)
  bool quoted = false;        // `backquoted` field name
};

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}


constexpr const char* kReservedWords[] = {
    "as", "break", "const", "continue", "else", "for", "function", "if", "import",
    "let", "loop", "package", "namespace", "return", "var", "void", "while"};

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  // Lexes the next token; on a lexical error returns kError with `error_` set.
  Token Next(bool prev_is_operand) {
    SkipSpace();
    Token t;
    t.pos = static_cast<uint32_t>(i_);
    if (i_ >= src_.size()) {
      t.kind = Tok::kEof;
      t.end = t.pos;
      return t;
    }
    char c = src_[i_];
    char n = i_ + 1 < src_.size() ? src_[i_ + 1] : '\0';
    // String prefixes: r, b, rb, br in any case.
    if (c == 'r' || c == 'R' || c == 'b' || c == 'B') {
      size_t j = i_;
      bool raw = false, bytes = false;
      for (int k = 0; k < 2 && j < src_.size(); ++k) {
        char p = src_[j];
        if ((p == 'r' || p == 'R') && !raw) { raw = true; ++j; continue; }
        if ((p == 'b' || p == 'B') && !bytes) { bytes = true; ++j; continue; }
        break;
      }
      if (j < src_.size() && (src_[j] == '"' || src_[j] == '\'')) {
        i_ = j;
        return LexString(t, raw, bytes);
      }
    }
    if (c == '"' || c == '\'') return LexString(t, false, false);
    if (c == '`') {
      size_t j = src_.find('`', i_ + 1);
      if (j == std::string_view::npos || j == i_ + 1) return Fail(t, "unterminated or empty `quoted` field name", i_);
      t.kind = Tok::kIdent;
      t.quoted = true;
      t.text = std::string(src_.substr(i_ + 1, j - i_ - 1));
      i_ = j + 1;
      t.end = static_cast<uint32_t>(i_);
      return t;
    }
    if (IsIdentStart(c)) {
      size_t j = i_;
      while (j < src_.size() && (IsIdentStart(src_[j]) || IsDigit(src_[j]))) ++j;
      t.text = std::string(src_.substr(i_, j - i_));
      i_ = j;
      t.end = static_cast<uint32_t>(j);
      if (t.text == "true") t.kind = Tok::kTrue;
      else if (t.text == "false") t.kind = Tok::kFalse;
      else if (t.text == "null") t.kind = Tok::kNull;
      else if (t.text == "in") t.kind = Tok::kIn;
      else {
        t.kind = Tok::kIdent;
        for (const char* w : kReservedWords) if (t.text == w) t.kind = Tok::kReserved;
      }
      return t;
    }
    if (IsDigit(c) || (c == '.' && IsDigit(n) && !prev_is_operand)) return LexNumber(t);
    i_++;
    t.end = static_cast<uint32_t>(i_);
    auto two = [&](char second, Tok yes, Tok no) {
      if (n == second) {
        ++i_;
        t.end++;
        t.kind = yes;
      } else {
        t.kind = no;
      }
      return t;
    };
    switch (c) {
      case '(': t.kind = Tok::kLParen; return t;
      case ')': t.kind = Tok::kRParen; return t;
      case '[': t.kind = Tok::kLBracket; return t;
      case ']': t.kind = Tok::kRBracket; return t;
      case '{': t.kind = Tok::kLBrace; return t;
      case '}': t.kind = Tok::kRBrace; return t;
      case '.': t.kind = Tok::kDot; return t;
      case ',': t.kind = Tok::kComma; return t;
      case ':': t.kind = Tok::kColon; return t;
      case '?': t.kind = Tok::kQuestion; return t;
      case '+': t.kind = Tok::kPlus; return t;
      case '-': t.kind = Tok::kMinus; return t;
      case '*': t.kind = Tok::kStar; return t;
      case '/': t.kind = Tok::kSlash; return t;
      case '%': t.kind = Tok::kPercent; return t;
      case '!': return two('=', Tok::kNe, Tok::kNot);
      case '=': if (n == '=') return two('=', Tok::kEq, Tok::kEq); break;
      case '<': return two('=', Tok::kLe, Tok::kLt);
      case '>': return two('=', Tok::kGe, Tok::kGt);
      case '&': if (n == '&') return two('&', Tok::kAnd, Tok::kAnd); break;
      case '|': if (n == '|') return two('|', Tok::kOr, Tok::kOr); break;
      default: break;
    }
    t.kind = Tok::kError;
    error_ = "unexpected character '" + std::string(1, c) + "'";
    return t;
  }

  const std::string& error() const { return error_; }

 private:
  void SkipSpace() {
    while (i_ < src_.size()) {
      char c = src_[i_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++i_;
      } else if (c == '/' && i_ + 1 < src_.size() && src_[i_ + 1] == '/') {
        while (i_ < src_.size() && src_[i_] != '\n') ++i_;
      } else {
        break;
      }
    }
  }

  Token Fail(Token t, std::string msg, size_t at) {
    t.kind = Tok::kError;
    t.pos = static_cast<uint32_t>(at);
    error_ = std::move(msg);
    return t;
  }

  Token LexNumber(Token t) {
    size_t j = i_;
    if (src_[j] == '0' && j + 1 < src_.size() && (src_[j + 1] == 'x' || src_[j + 1] == 'X')) {
      j += 2;
      size_t start = j;
      uint64_t v = 0;
      bool overflow = false;
      while (j < src_.size() && HexVal(src_[j]) >= 0) {
        if (v > (UINT64_MAX >> 4)) overflow = true;
        v = v * 16 + HexVal(src_[j]);
        ++j;
      }
      if (j == start) return Fail(t, "malformed hex literal", i_);
      return FinishInt(t, j, v, overflow);
    }
    size_t start = j;
    while (j < src_.size() && IsDigit(src_[j])) ++j;
    bool is_float = false;
    if (j + 1 < src_.size() && src_[j] == '.' && IsDigit(src_[j + 1])) {
      is_float = true;
      ++j;
      while (j < src_.size() && IsDigit(src_[j])) ++j;
    }
    if (j < src_.size() && (src_[j] == 'e' || src_[j] == 'E')) {
      size_t k = j + 1;
      if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
      if (k < src_.size() && IsDigit(src_[k])) {
        is_float = true;
        j = k;
        while (j < src_.size() && IsDigit(src_[j])) ++j;
      }
    }
    if (is_float) {
      std::string s(src_.substr(start, j - start));
      t.kind = Tok::kDouble;
      t.d = std::strtod(s.c_str(), nullptr);
      i_ = j;
      t.end = static_cast<uint32_t>(j);
      return t;
    }
    uint64_t v = 0;
    bool overflow = false;
    for (size_t k = start; k < j; ++k) {
      uint64_t d = src_[k] - '0';
      if (v > (UINT64_MAX - d) / 10) overflow = true;
      v = v * 10 + d;
    }
    return FinishInt(t, j, v, overflow);
  }

  Token FinishInt(Token t, size_t j, uint64_t v, bool overflow) {
    size_t at = i_;
    if (j < src_.size() && (src_[j] == 'u' || src_[j] == 'U')) {
      ++j;
      t.kind = Tok::kUint;
      if (overflow) return Fail(t, "uint literal out of range", at);
    } else {
      t.kind = Tok::kInt;
      if (overflow || v > 9223372036854775808ull) return Fail(t, "int literal out of range", at);
      t.int_overflow = v == 9223372036854775808ull;
    }
    t.u = v;
    i_ = j;
    t.end = static_cast<uint32_t>(j);
    return t;
  }

  Token LexString(Token t, bool raw, bool bytes) {
    char q = src_[i_];
    bool triple = i_ + 2 < src_.size() && src_[i_ + 1] == q && src_[i_ + 2] == q;
    size_t j = i_ + (triple ? 3 : 1);
    std::string out;
    while (true) {
      if (j >= src_.size()) return Fail(t, "unterminated string literal", t.pos);
      char c = src_[j];
      if (triple) {
        if (c == q && j + 2 < src_.size() && src_[j + 1] == q && src_[j + 2] == q) {
          j += 3;
          break;
        }
      } else {
        if (c == q) {
          ++j;
          break;
        }
        if (c == '\n' || c == '\r') return Fail(t, "newline in string literal (use ''' for multi-line)", j);
      }
      if (c == '\\' && !raw) {
        if (j + 1 >= src_.size()) return Fail(t, "unterminated string literal", t.pos);
        char e = src_[j + 1];
        size_t esc_at = j;
        j += 2;
        switch (e) {
          case 'a': out.push_back('\a'); break;
          case 'b': out.push_back('\b'); break;
          case 'f': out.push_back('\f'); break;
          case 'n': out.push_back('\n'); break;
          case 'r': out.push_back('\r'); break;
          case 't': out.push_back('\t'); break;
          case 'v': out.push_back('\v'); break;
          case '\\': out.push_back('\\'); break;
          case '\'': out.push_back('\''); break;
          case '"': out.push_back('"'); break;
          case '`': out.push_back('`'); break;
          case '?': out.push_back('?'); break;
          case 'x': case 'X': case 'u': case 'U': {
            int digits = (e == 'x' || e == 'X') ? 2 : (e == 'u' ? 4 : 8);
            uint32_t cp = 0;
            for (int k = 0; k < digits; ++k) {
              if (j >= src_.size() || HexVal(src_[j]) < 0) return Fail(t, "invalid escape sequence", esc_at);
              cp = cp * 16 + HexVal(src_[j++]);
            }
            if (bytes && (e == 'x' || e == 'X')) {
              out.push_back(static_cast<char>(cp));
            } else {
              if (bytes && (e == 'u' || e == 'U')) return Fail(t, "\\u escape in bytes literal", esc_at);
              if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return Fail(t, "invalid code point in escape", esc_at);
              AppendUtf8(cp, &out);
            }
            break;
          }
          default:
            if (e >= '0' && e <= '3') {
              uint32_t v = e - '0';
              for (int k = 0; k < 2; ++k) {
                if (j >= src_.size() || src_[j] < '0' || src_[j] > '7') return Fail(t, "invalid octal escape", esc_at);
                v = v * 8 + (src_[j++] - '0');
              }
              if (bytes) out.push_back(static_cast<char>(v));
              else AppendUtf8(v, &out);
              break;
            }
            return Fail(t, "invalid escape sequence '\\" + std::string(1, e) + "'", esc_at);
        }
        continue;
      }
      out.push_back(c);
      ++j;
    }
    t.kind = bytes ? Tok::kBytes : Tok::kString;
    t.text = std::move(out);
    i_ = j;
    t.end = static_cast<uint32_t>(j);
    return t;
  }

  std::string_view src_;
  size_t i_ = 0;
  std::string error_;
};

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    int n;
    if (c < 0x80) n = 0;
    else if ((c >> 5) == 6) n = 1;
    else if ((c >> 4) == 14) n = 2;
    else if ((c >> 3) == 30) n = 3;
    else return false;
    if (i + n >= s.size() && n > 0) return false;
    for (int k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += n + 1;
  }
  return true;
}

class Parser {
 public:
  Parser(Program* p) : p_(p), src_(p->source()), lex_(src_), max_depth_(p->options().max_parse_depth) {}

  Status Run() {
    Advance();
    Node* root = Expr();
    if (!failed_ && tok_.kind != Tok::kEof) Error(tok_.pos, "unexpected " + Describe(tok_));
    if (failed_) return Status(error_code_, FormatLocation(src_, error_pos_, error_));
    // Chains (a + b + ...) build depth without recursion; bound the tree itself too, since
    // compilation and evaluation recurse over it.
    uint32_t height = Height(root);
    uint32_t limit = 2 * max_depth_ + 16;
    if (height > limit) {
      return Status(ErrorCode::kParseError,
                    FormatLocation(src_, 0, "expression tree is " + std::to_string(height) +
                                                " levels deep, over the limit of " + std::to_string(limit) +
                                                " (2 x max_parse_depth); simplify the expression"));
    }
    p_->set_root(root);
    return Status::Ok();
  }

  // Height of the tree under `root`, computed without recursion.
  static uint32_t Height(const Node* root) {
    std::vector<std::pair<const Node*, uint32_t>> stack{{root, 1}};
    uint32_t best = 0;
    while (!stack.empty()) {
      auto [n, d] = stack.back();
      stack.pop_back();
      best = std::max(best, d);
      for (const Node* c : n->args) stack.emplace_back(c, d + 1);
    }
    return best;
  }

 private:
  // --- tokens
  void Advance() {
    bool operand = tok_.kind == Tok::kIdent || tok_.kind == Tok::kRParen || tok_.kind == Tok::kRBracket ||
                   tok_.kind == Tok::kRBrace || tok_.kind == Tok::kInt || tok_.kind == Tok::kUint ||
                   tok_.kind == Tok::kDouble || tok_.kind == Tok::kString || tok_.kind == Tok::kBytes;
    tok_ = lex_.Next(operand);
    if (tok_.kind == Tok::kError) Error(tok_.pos, lex_.error());
  }
  bool Accept(Tok k) {
    if (tok_.kind != k) return false;
    Advance();
    return true;
  }
  void Expect(Tok k, const char* what) {
    if (failed_) return;
    if (tok_.kind != k) {
      Error(tok_.pos, std::string("expected ") + what + ", found " + Describe(tok_));
      return;
    }
    Advance();
  }
  std::string Describe(const Token& t) {
    if (t.kind == Tok::kEof) return "end of expression";
    return "'" + std::string(src_.substr(t.pos, t.end > t.pos ? t.end - t.pos : 1)) + "'";
  }
  Node* Error(uint32_t pos, std::string msg, ErrorCode code = ErrorCode::kParseError) {
    if (!failed_) {
      failed_ = true;
      error_ = std::move(msg);
      error_pos_ = pos;
      error_code_ = code;
      tok_.kind = Tok::kEof;  // stop consuming
    }
    return Dummy();
  }
  Node* Dummy() { return p_->NewNode(Op::kConst, 0); }

  // Every node built gets its subtree depth checked, so deep trees from long operator chains
  // are rejected as surely as deep recursion.
  Node* Make(Op op, uint32_t pos, std::vector<Node*> args) {
    Node* n = p_->NewNode(op, pos);
    n->args = std::move(args);
    return n;
  }

  struct DepthGuard {
    Parser* p;
    bool ok;
    explicit DepthGuard(Parser* parser) : p(parser) {
      ok = ++p->depth_ <= p->max_depth_;
      if (!ok) p->Error(p->tok_.pos, "expression nests deeper than the limit of " + std::to_string(p->max_depth_) +
                                   " (max_parse_depth); simplify the expression",
                        ErrorCode::kParseError);
    }
    ~DepthGuard() { --p->depth_; }
  };

  // expr: or ('?' or ':' expr)?
  Node* Expr() {
    Node* c = Or();
    if (failed_ || tok_.kind != Tok::kQuestion) return c;
    uint32_t pos = tok_.pos;
    Advance();
    Node* a = Or();
    Expect(Tok::kColon, "':'");
    DepthGuard g(this);  // `a ? b : c ? d : ...` recurses on the right
    if (!g.ok) return Dummy();
    Node* b = Expr();
    return Make(Op::kCond, pos, {c, a, b});
  }

  Node* Or() {
    Node* l = And();
    int chain = 0;
    while (!failed_ && tok_.kind == Tok::kOr) {
      uint32_t pos = tok_.pos;
      Advance();
      if (++chain + depth_ > max_depth_) return Error(pos, "expression nests deeper than the limit (max_parse_depth)");
      l = Make(Op::kOr, pos, {l, And()});
    }
    return l;
  }

  Node* And() {
    Node* l = Relation();
    int chain = 0;
    while (!failed_ && tok_.kind == Tok::kAnd) {
      uint32_t pos = tok_.pos;
      Advance();
      if (++chain + depth_ > max_depth_) return Error(pos, "expression nests deeper than the limit (max_parse_depth)");
      l = Make(Op::kAnd, pos, {l, Relation()});
    }
    return l;
  }

  Node* Relation() {
    Node* l = Addition();
    int chain = 0;
    while (!failed_) {
      Op op;
      switch (tok_.kind) {
        case Tok::kEq: op = Op::kEq; break;
        case Tok::kNe: op = Op::kNe; break;
        case Tok::kLt: op = Op::kLt; break;
        case Tok::kLe: op = Op::kLe; break;
        case Tok::kGt: op = Op::kGt; break;
        case Tok::kGe: op = Op::kGe; break;
        case Tok::kIn: op = Op::kIn; break;
        default: return l;
      }
      uint32_t pos = tok_.pos;
      Advance();
      if (++chain + depth_ > max_depth_) return Error(pos, "expression nests deeper than the limit (max_parse_depth)");
      l = Make(op, pos, {l, Addition()});
    }
    return l;
  }

  Node* Addition() {
    Node* l = Multiplication();
    int chain = 0;
    while (!failed_ && (tok_.kind == Tok::kPlus || tok_.kind == Tok::kMinus)) {
      Op op = tok_.kind == Tok::kPlus ? Op::kAdd : Op::kSub;
      uint32_t pos = tok_.pos;
      Advance();
      if (++chain + depth_ > max_depth_) return Error(pos, "expression nests deeper than the limit (max_parse_depth)");
      l = Make(op, pos, {l, Multiplication()});
    }
    return l;
  }

  Node* Multiplication() {
    Node* l = Unary();
    int chain = 0;
    while (!failed_ && (tok_.kind == Tok::kStar || tok_.kind == Tok::kSlash || tok_.kind == Tok::kPercent)) {
      Op op = tok_.kind == Tok::kStar ? Op::kMul : tok_.kind == Tok::kSlash ? Op::kDiv : Op::kMod;
      uint32_t pos = tok_.pos;
      Advance();
      if (++chain + depth_ > max_depth_) return Error(pos, "expression nests deeper than the limit (max_parse_depth)");
      l = Make(op, pos, {l, Unary()});
    }
    return l;
  }

  Node* Unary() {
    if (tok_.kind == Tok::kNot) {
      std::vector<uint32_t> positions;
      while (tok_.kind == Tok::kNot) {
        positions.push_back(tok_.pos);
        Advance();
      }
      if (positions.size() + depth_ > max_depth_) return Error(positions[0], "expression nests deeper than the limit (max_parse_depth)");
      Node* n = Member();
      for (size_t i = positions.size(); i-- > 0;) n = Make(Op::kNot, positions[i], {n});
      return n;
    }
    if (tok_.kind == Tok::kMinus) {
      std::vector<uint32_t> positions;
      while (tok_.kind == Tok::kMinus) {
        positions.push_back(tok_.pos);
        Advance();
      }
      if (positions.size() + depth_ > max_depth_) return Error(positions[0], "expression nests deeper than the limit (max_parse_depth)");
      Node* n;
      // A minus directly before a numeric literal is part of the literal (so INT64_MIN parses).
      if (tok_.kind == Tok::kInt || tok_.kind == Tok::kDouble) {
        Token lit = tok_;
        Advance();
        n = p_->NewNode(Op::kConst, positions.back());
        if (lit.kind == Tok::kInt) {
          n->value = Value::Int(static_cast<int64_t>(0 - lit.u));
        } else {
          n->value = Value::Double(-lit.d);
        }
        positions.pop_back();
        n = MemberSuffix(n);
      } else {
        n = Member();
      }
      for (size_t i = positions.size(); i-- > 0;) n = Make(Op::kNeg, positions[i], {n});
      return n;
    }
    return Member();
  }

  Node* Member() { return MemberSuffix(Primary()); }

  Node* MemberSuffix(Node* n) {
    int chain = 0;
    while (!failed_) {
      if (tok_.kind == Tok::kDot) {
        uint32_t pos = tok_.pos;
        Advance();
        if (++chain + depth_ > max_depth_) return Error(pos, "expression nests deeper than the limit (max_parse_depth)");
        bool opt = Accept(Tok::kQuestion);
        if (tok_.kind != Tok::kIdent && tok_.kind != Tok::kReserved && tok_.kind != Tok::kIn &&
            tok_.kind != Tok::kTrue && tok_.kind != Tok::kFalse && tok_.kind != Tok::kNull) {
          return Error(tok_.pos, "expected a field or method name after '.', found " + Describe(tok_));
        }
        std::string name = tok_.text.empty() ? std::string(src_.substr(tok_.pos, tok_.end - tok_.pos)) : tok_.text;
        bool reserved = tok_.kind != Tok::kIdent;
        bool quoted = tok_.quoted;
        uint32_t name_pos = tok_.pos;
        Advance();
        if (tok_.kind == Tok::kLParen && !opt && !quoted) {
          Advance();
          std::vector<Node*> args = Args(Tok::kRParen);
          Expect(Tok::kRParen, "')'");
          n = MemberCall(n, name, name_pos, std::move(args));
        } else {
          (void)reserved;  // reserved words are valid field names after '.'
          Node* s = Make(opt ? Op::kOptSelect : Op::kSelect, name_pos, {n});
          s->name = name;
          n = s;
        }
      } else if (tok_.kind == Tok::kLBracket) {
        uint32_t pos = tok_.pos;
        Advance();
        if (++chain + depth_ > max_depth_) return Error(pos, "expression nests deeper than the limit (max_parse_depth)");
        bool opt = Accept(Tok::kQuestion);
        Node* idx = Expr();
        Expect(Tok::kRBracket, "']'");
        n = Make(opt ? Op::kOptIndex : Op::kIndex, pos, {n, idx});
      } else if (tok_.kind == Tok::kLBrace && IsQualifiedName(n)) {
        // Message construction (Type{field: value}): parsed, then rejected at evaluation.
        uint32_t pos = tok_.pos;
        Advance();
        Node* s = Make(Op::kStruct, pos, {});
        s->name = QualifiedName(n);
        while (!failed_ && tok_.kind != Tok::kRBrace) {
          Accept(Tok::kQuestion);
          if (tok_.kind != Tok::kIdent) return Error(tok_.pos, "expected a field name, found " + Describe(tok_));
          Advance();
          Expect(Tok::kColon, "':'");
          s->args.push_back(Expr());
          if (!Accept(Tok::kComma)) break;
        }
        Expect(Tok::kRBrace, "'}'");
        n = s;
      } else {
        return n;
      }
    }
    return n;
  }

  bool IsQualifiedName(const Node* n) {
    if (n->op == Op::kIdent) return true;
    return n->op == Op::kSelect && IsQualifiedName(n->args[0]);
  }
  std::string QualifiedName(const Node* n) {
    if (n->op == Op::kIdent) return n->name;
    return QualifiedName(n->args[0]) + "." + n->name;
  }

  std::vector<Node*> Args(Tok close) {
    std::vector<Node*> args;
    if (tok_.kind == close) return args;
    while (!failed_) {
      args.push_back(Expr());
      if (!Accept(Tok::kComma)) break;
    }
    return args;
  }

  Node* Primary() {
    DepthGuard g(this);
    if (!g.ok) return Dummy();
    Token t = tok_;
    switch (t.kind) {
      case Tok::kInt: {
        Advance();
        if (t.int_overflow) return Error(t.pos, "int literal out of range");
        Node* n = p_->NewNode(Op::kConst, t.pos);
        n->value = Value::Int(static_cast<int64_t>(t.u));
        return n;
      }
      case Tok::kUint: {
        Advance();
        Node* n = p_->NewNode(Op::kConst, t.pos);
        n->value = Value::Uint(t.u);
        return n;
      }
      case Tok::kDouble: {
        Advance();
        Node* n = p_->NewNode(Op::kConst, t.pos);
        n->value = Value::Double(t.d);
        return n;
      }
      case Tok::kString:
      case Tok::kBytes: {
        Advance();
        if (t.kind == Tok::kString && !ValidUtf8(t.text)) return Error(t.pos, "string literal is not valid UTF-8");
        Node* n = p_->NewNode(Op::kConst, t.pos);
        std::string_view s = p_->constants().CopyString(t.text);
        n->value = t.kind == Tok::kString ? Value::String(s) : Value::Bytes(s);
        return n;
      }
      case Tok::kTrue:
      case Tok::kFalse: {
        Advance();
        Node* n = p_->NewNode(Op::kConst, t.pos);
        n->value = Value::Bool(t.kind == Tok::kTrue);
        return n;
      }
      case Tok::kNull: {
        Advance();
        return p_->NewNode(Op::kConst, t.pos);
      }
      case Tok::kLParen: {
        Advance();
        Node* e = Expr();
        Expect(Tok::kRParen, "')'");
        return e;
      }
      case Tok::kLBracket: {
        Advance();
        Node* n = p_->NewNode(Op::kList, t.pos);
        while (!failed_ && tok_.kind != Tok::kRBracket) {
          bool opt = Accept(Tok::kQuestion);
          n->args.push_back(Expr());
          n->optional.push_back(opt);
          if (!Accept(Tok::kComma)) break;
        }
        Expect(Tok::kRBracket, "']'");
        return n;
      }
      case Tok::kLBrace: {
        Advance();
        Node* n = p_->NewNode(Op::kMap, t.pos);
        while (!failed_ && tok_.kind != Tok::kRBrace) {
          bool opt = Accept(Tok::kQuestion);
          n->args.push_back(Expr());
          Expect(Tok::kColon, "':'");
          n->args.push_back(Expr());
          n->optional.push_back(opt);
          if (!Accept(Tok::kComma)) break;
        }
        Expect(Tok::kRBrace, "'}'");
        return n;
      }
      case Tok::kDot:
      case Tok::kIdent: {
        if (t.quoted) return Error(t.pos, "a `quoted` name is only allowed as a field after '.'");
        bool leading_dot = t.kind == Tok::kDot;
        if (leading_dot) {
          Advance();
          if (tok_.kind != Tok::kIdent || tok_.quoted) return Error(tok_.pos, "expected an identifier after '.'");
          t = tok_;
        }
        Advance();
        std::string name = (leading_dot ? "." : "") + t.text;
        if (tok_.kind == Tok::kLParen) {
          Advance();
          std::vector<Node*> args = Args(Tok::kRParen);
          Expect(Tok::kRParen, "')'");
          return GlobalCall(name, t.pos, std::move(args));
        }
        Node* n = p_->NewNode(Op::kIdent, t.pos);
        n->name = name;
        return n;
      }
      case Tok::kReserved:
        return Error(t.pos, "reserved word '" + t.text + "' cannot be used as an identifier");
      case Tok::kEof:
        if (failed_) return Dummy();
        return Error(t.pos, "unexpected end of expression");
      default:
        return Error(t.pos, "unexpected " + Describe(t));
    }
  }

  Node* GlobalCall(const std::string& name, uint32_t pos, std::vector<Node*> args) {
    if (name == "has") {
      if (args.size() != 1 || args[0]->op != Op::kSelect)
        return Error(pos, "has() takes one field selection, like has(a.b)");
      args[0]->op = Op::kHas;
      return args[0];
    }
    Node* n = Make(Op::kCall, pos, std::move(args));
    n->name = name;
    return n;
  }

  static bool IsVar(const Node* n) { return n->op == Op::kIdent && !n->name.empty() && n->name[0] != '.'; }

  Node* Comp(CompKind kind, uint32_t pos, Node* range, std::vector<Node*> args, bool two_vars) {
    size_t nvars = two_vars ? 2 : 1;
    for (size_t i = 0; i < nvars; ++i)
      if (!IsVar(args[i])) return Error(args[i]->pos, "the first argument of a macro must be a variable name");
    Node* n = Make(Op::kComprehension, pos, {range});
    n->comp = kind;
    n->two_vars = two_vars;
    n->name = args[0]->name;
    if (two_vars) {
      n->name2 = args[1]->name;
      if (n->name == n->name2) return Error(args[1]->pos, "the two macro variables must differ");
    }
    for (size_t i = nvars; i < args.size(); ++i) n->args.push_back(args[i]);
    return n;
  }

  Node* MemberCall(Node* target, const std::string& name, uint32_t pos, std::vector<Node*> args) {
    size_t n = args.size();
    bool first_var = n >= 1 && IsVar(args[0]);
    bool second_var = n >= 2 && IsVar(args[1]);
    if (first_var) {
      if (n == 2 && name == "all") return Comp(CompKind::kAll, pos, target, std::move(args), false);
      if (n == 2 && name == "exists") return Comp(CompKind::kExists, pos, target, std::move(args), false);
      if (n == 2 && (name == "exists_one" || name == "existsOne"))
        return Comp(CompKind::kExistsOne, pos, target, std::move(args), false);
      if (n == 2 && name == "map") return Comp(CompKind::kMap, pos, target, std::move(args), false);
      if (n == 3 && name == "map") {
        Node* c = Comp(CompKind::kMap, pos, target, std::move(args), false);
        if (failed_) return c;  // an error node has no arguments to reorder
        c->has_filter = true;
        std::swap(c->args[1], c->args[2]);  // args: range, transform, filter
        return c;
      }
      if (n == 2 && name == "filter") return Comp(CompKind::kFilter, pos, target, std::move(args), false);
      if (n == 2 && name == "optMap") return Comp(CompKind::kOptMap, pos, target, std::move(args), false);
      if (n == 2 && name == "optFlatMap") return Comp(CompKind::kOptFlatMap, pos, target, std::move(args), false);
      if (second_var) {
        if (n == 3 && name == "all") return Comp(CompKind::kAll, pos, target, std::move(args), true);
        if (n == 3 && name == "exists") return Comp(CompKind::kExists, pos, target, std::move(args), true);
        if (n == 3 && (name == "existsOne" || name == "exists_one"))
          return Comp(CompKind::kExistsOne, pos, target, std::move(args), true);
        CompKind k;
        bool is_transform = true;
        if (name == "transformList") k = CompKind::kTransformList;
        else if (name == "transformMap") k = CompKind::kTransformMap;
        else if (name == "transformMapEntry") k = CompKind::kTransformMapEntry;
        else is_transform = false;
        if (is_transform && (n == 3 || n == 4)) {
          Node* c = Comp(k, pos, target, std::move(args), true);
          if (n == 4 && !failed_) {  // an error node has no arguments to reorder
            c->has_filter = true;
            std::swap(c->args[1], c->args[2]);  // args: range, transform, filter
          }
          return c;
        }
      }
    }
    if (target->op == Op::kIdent && target->name == "cel") {
      if (name == "bind") {
        if (n != 3 || !IsVar(args[0])) return Error(pos, "cel.bind takes (variable, init, body)");
        Node* b = Make(Op::kBind, pos, {args[1], args[2]});
        b->name = args[0]->name;
        return b;
      }
      if (name == "block") {
        if (n != 2 || args[0]->op != Op::kList) return Error(pos, "cel.block takes ([bindings], body)");
        Node* b = Make(Op::kBlock, pos, args[0]->args);
        b->args.push_back(args[1]);
        return b;
      }
      if ((name == "index" && n == 1) || ((name == "iterVar" || name == "accuVar") && n == 2)) {
        std::string id = "@" + name;
        for (Node* a : args) {
          if (a->op != Op::kConst || a->value.kind() != Kind::kInt) return Error(a->pos, "cel." + name + " takes int literals");
          id += ":" + std::to_string(a->value.int_value());
        }
        Node* v = p_->NewNode(Op::kIdent, pos);
        v->name = id;
        return v;
      }
    }
    if (name == "or" && n == 1) return Make(Op::kOptOr, pos, {target, args[0]});
    if (name == "orValue" && n == 1) return Make(Op::kOptOrValue, pos, {target, args[0]});
    Node* c = p_->NewNode(Op::kCall, pos);
    c->name = name;
    c->member = true;
    c->args.push_back(target);
    for (Node* a : args) c->args.push_back(a);
    return c;
  }

  Program* p_;
  std::string_view src_;
  Lexer lex_;
  Token tok_;
  uint32_t depth_ = 0;
  uint32_t max_depth_;
  bool failed_ = false;
  std::string error_;
  uint32_t error_pos_ = 0;
  ErrorCode error_code_ = ErrorCode::kParseError;
};

}  // namespace

std::string FormatLocation(std::string_view source, uint32_t pos, std::string_view message) {
  if (pos > source.size()) pos = static_cast<uint32_t>(source.size());
  size_t line_start = source.rfind('\n', pos == 0 ? 0 : pos - 1);
  line_start = (line_start == std::string_view::npos || (pos == 0 && source[0] != '\n')) ? 0 : line_start + 1;
  if (pos < line_start) line_start = 0;
  size_t line_end = source.find('\n', pos);
  if (line_end == std::string_view::npos) line_end = source.size();
  int line = 1;
  for (size_t i = 0; i < line_start; ++i) line += source[i] == '\n';
  // Columns count code points, so the caret lines up under non-ASCII text too.
  size_t col = 0;
  for (size_t i = line_start; i < pos; ++i) col += (static_cast<unsigned char>(source[i]) & 0xC0) != 0x80;
  std::string out = std::to_string(line) + ":" + std::to_string(col + 1) + ": " + std::string(message);
  std::string_view text = source.substr(line_start, line_end - line_start);
  if (text.size() > 200) {  // keep huge one-line inputs readable
    size_t from = pos - line_start > 100 ? pos - line_start - 100 : 0;
    text = text.substr(from, 200);
    col = 0;  // recounted: `from` is bytes, the column is code points
    for (size_t i = line_start + from; i < pos; ++i) col += (static_cast<unsigned char>(source[i]) & 0xC0) != 0x80;
  }
  out += "\n | ";
  out += text;
  out += "\n | ";
  out.append(col, '.');
  out += '^';
  return out;
}

Status Parse(Program* program) {
  const std::string& src = program->source();
  if (src.size() > program->options().max_source_bytes) {
    return LimitExceeded("expression is " + std::to_string(src.size()) + " bytes, over the limit of " +
                         std::to_string(program->options().max_source_bytes) + " (max_source_bytes)");
  }
  Parser parser(program);
  return parser.Run();
}

}  // namespace ec::cel
