#include "cel/simple_regex.h"

#include <bitset>
#include <vector>

namespace ec::cel {
namespace {

using ByteSet = std::bitset<128>;

struct Atom {
  ByteSet set;
  enum class Q : uint8_t { kOne, kOpt, kStar } q = Q::kOne;
};

constexpr size_t kMaxAtoms = 63;  // states 0..63 fit one uint64_t

bool IsAsciiAlnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

void AddRange(ByteSet* s, int lo, int hi) {
  for (int c = lo; c <= hi; ++c) s->set(c);
}

// The class an escape names (\d \w \s), or false.
bool EscapeClass(char e, ByteSet* s) {
  switch (e) {
    case 'd': AddRange(s, '0', '9'); return true;
    case 'w':
      AddRange(s, '0', '9');
      AddRange(s, 'A', 'Z');
      AddRange(s, 'a', 'z');
      s->set('_');
      return true;
    case 's':  // RE2's \s is [\t\n\f\r ] (no \v)
      s->set('\t');
      s->set('\n');
      s->set('\f');
      s->set('\r');
      s->set(' ');
      return true;
    default: return false;
  }
}

// The single character an escape names (\n, \., ...), or -1.
int EscapeChar(char e) {
  switch (e) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'f': return '\f';
    case 'v': return '\v';
    default:
      if (static_cast<unsigned char>(e) < 128 && e > ' ' && e < 127 && !IsAsciiAlnum(e)) return e;  // punctuation
      return -1;
  }
}

// A plain (unescaped) character that stands for itself outside a class.
bool IsPlainLiteral(char c) {
  if (static_cast<unsigned char>(c) >= 128 || c < ' ' || c == 127) return false;
  switch (c) {
    case '\\': case '.': case '[': case ']': case '(': case ')': case '{': case '}': case '|':
    case '*': case '+': case '?': case '^': case '$':
      return false;
    default: return true;
  }
}

// Parses "[...]" at p[i] (i at '['); advances i past ']'.
bool ParseClass(std::string_view p, size_t* i, ByteSet* out) {
  size_t k = *i + 1;
  if (k >= p.size() || p[k] == '^' || p[k] == ']') return false;  // negation, "[]...]": not ours
  bool first = true;
  while (k < p.size() && p[k] != ']') {
    int lo;
    char c = p[k];
    if (c == '\\') {
      if (k + 1 >= p.size()) return false;
      if (EscapeClass(p[k + 1], out)) {
        k += 2;
        if (k < p.size() && p[k] == '-' && k + 1 < p.size() && p[k + 1] != ']') return false;  // [\d-x]
        first = false;
        continue;
      }
      lo = EscapeChar(p[k + 1]);
      if (lo < 0) return false;
      k += 2;
    } else {
      if (static_cast<unsigned char>(c) >= 128 || c < ' ' || c == '[') return false;
      if (c == '-' && !first && k + 1 < p.size() && p[k + 1] != ']') return false;  // "a-b-c" style
      lo = c;
      ++k;
    }
    first = false;
    int hi = lo;
    if (k + 1 < p.size() && p[k] == '-' && p[k + 1] != ']') {
      char h = p[k + 1];
      if (h == '\\') {
        if (k + 2 >= p.size()) return false;
        hi = EscapeChar(p[k + 2]);
        if (hi < 0) return false;
        k += 3;
      } else {
        if (static_cast<unsigned char>(h) >= 128 || h < ' ' || h == '[') return false;
        hi = h;
        k += 2;
      }
      if (hi < lo) return false;
    }
    AddRange(out, lo, hi);
  }
  if (k >= p.size()) return false;
  *i = k + 1;
  return true;
}

bool ParseNumber(std::string_view p, size_t* i, int* out) {
  size_t k = *i;
  int v = 0;
  while (k < p.size() && p[k] >= '0' && p[k] <= '9') {
    v = v * 10 + (p[k] - '0');
    if (v > 1000) return false;
    ++k;
  }
  if (k == *i) return false;
  *out = v;
  *i = k;
  return true;
}

}  // namespace

std::unique_ptr<SimpleRegex> SimpleRegex::Compile(std::string_view p) {
  std::vector<Atom> atoms;
  size_t i = 0;
  bool anchor_start = false, anchor_end = false;
  if (!p.empty() && p[0] == '^') {
    anchor_start = true;
    i = 1;
  }
  size_t end = p.size();
  if (end > i && p[end - 1] == '$') {
    // "\$" at the end is a literal dollar: count the backslashes before it.
    size_t bs = 0;
    for (size_t k = end - 1; k > i && p[k - 1] == '\\'; --k) ++bs;
    if (bs % 2 == 0) {
      anchor_end = true;
      --end;
    }
  }
  std::string_view body = p.substr(0, end);
  while (i < body.size()) {
    ByteSet set;
    char c = body[i];
    if (c == '[') {
      if (!ParseClass(body, &i, &set)) return nullptr;
    } else if (c == '\\') {
      if (i + 1 >= body.size()) return nullptr;
      if (!EscapeClass(body[i + 1], &set)) {
        int e = EscapeChar(body[i + 1]);
        if (e < 0) return nullptr;
        set.set(e);
      }
      i += 2;
    } else if (IsPlainLiteral(c)) {
      set.set(static_cast<unsigned char>(c));
      ++i;
    } else {
      return nullptr;  // . | ( ) { } a stray quantifier, ^ or $ in the middle, non-ASCII
    }
    // One optional quantifier, then an optional lazy '?'.
    int lo = 1, hi = 1;  // hi < 0: unbounded
    if (i < body.size()) {
      char q = body[i];
      if (q == '*') {
        lo = 0, hi = -1, ++i;
      } else if (q == '+') {
        lo = 1, hi = -1, ++i;
      } else if (q == '?') {
        lo = 0, hi = 1, ++i;
      } else if (q == '{') {
        size_t k = i + 1;
        if (!ParseNumber(body, &k, &lo)) return nullptr;
        hi = lo;
        if (k < body.size() && body[k] == ',') {
          ++k;
          hi = -1;
          if (k < body.size() && body[k] != '}' && !ParseNumber(body, &k, &hi)) return nullptr;
        }
        if (k >= body.size() || body[k] != '}' || (hi >= 0 && hi < lo)) return nullptr;
        i = k + 1;
      }
      if (i < body.size() && (body[i] == '*' || body[i] == '+' || body[i] == '{')) return nullptr;
      if (i < body.size() && body[i] == '?' && (lo != 1 || hi != 1)) ++i;  // lazy form
      if (i < body.size() && (body[i] == '*' || body[i] == '+' || body[i] == '?' || body[i] == '{')) return nullptr;
    }
    for (int r = 0; r < lo; ++r) atoms.push_back({set, Atom::Q::kOne});
    if (hi < 0) {
      atoms.push_back({set, Atom::Q::kStar});
    } else {
      for (int r = lo; r < hi; ++r) atoms.push_back({set, Atom::Q::kOpt});
    }
    if (atoms.size() > kMaxAtoms) return nullptr;
  }
  auto re = std::unique_ptr<SimpleRegex>(new SimpleRegex());
  for (size_t a = 0; a < atoms.size(); ++a) {
    uint64_t bit = uint64_t{1} << a;
    for (int c = 0; c < 128; ++c)
      if (atoms[a].set.test(c)) re->match_[c] |= bit;
    if (atoms[a].q != Atom::Q::kOne) re->skip_ |= bit;
    if (atoms[a].q == Atom::Q::kStar) re->star_ |= bit;
  }
  re->accept_ = uint64_t{1} << atoms.size();
  re->anchor_start_ = anchor_start;
  re->anchor_end_ = anchor_end;
  re->start_ = re->Close(1);
  return re;
}

}  // namespace ec::cel
