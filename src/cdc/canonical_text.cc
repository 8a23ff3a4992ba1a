#include "cdc/canonical_text.h"

#include <emmintrin.h>

#include <cstdint>

namespace ec::cdc {
namespace {

constexpr int kMaxDepth = 64;  // deeper: declined (ParseOptions' limit is higher)

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

class Walker {
 public:
  Walker(std::string_view text, std::vector<std::string_view>* keys)
      : p_(text.data()), end_(text.data() + text.size()), keys_(*keys) {}

  bool AtEnd() const { return p_ == end_; }

  // An object at p_ ('{'); its top-level members to `top` when not null.
  bool Object(int depth, std::vector<TextMember>* top) {
    if (depth > kMaxDepth) return false;
    ++p_;
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    const size_t first_key = keys_.size();
    uint64_t seen = 0;  // a bit per key hash: most keys are compared with no earlier one
    while (true) {
      std::string_view key;
      if (p_ == end_ || *p_ != '"' || !String(&key) || p_ == end_ || *p_ != ':') return false;
      ++p_;
      const uint64_t bit = uint64_t{1} << ((key.size() * 7 + (key.empty() ? 0 : key[0] + key.back() * 3)) & 63);
      if ((seen & bit) != 0) {
        for (size_t i = first_key; i < keys_.size(); ++i) {
          if (keys_[i] == key) return false;  // a duplicate: the parse merges it, the text is not AppendJson's
        }
      }
      seen |= bit;
      keys_.push_back(key);
      const char* value = p_;
      if (!Value(depth)) return false;
      if (top != nullptr) top->push_back({key, std::string_view(value, p_ - value)});
      if (p_ == end_) return false;
      const char c = *p_++;
      if (c == '}') break;
      if (c != ',') return false;
    }
    keys_.resize(first_key);
    return true;
  }

 private:
  bool Value(int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '"': {
        std::string_view s;
        return String(&s);
      }
      case '{': return Object(depth + 1, nullptr);
      case '[': return Array(depth + 1);
      case 't': return Literal("true");
      case 'f': return Literal("false");
      case 'n': return Literal("null");
      default: return Number();
    }
  }

  bool Array(int depth) {
    if (depth > kMaxDepth) return false;
    ++p_;
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    while (true) {
      if (!Value(depth) || p_ == end_) return false;
      const char c = *p_++;
      if (c == ']') return true;
      if (c != ',') return false;
    }
  }

  // A string at p_ (its quote) with only printable ASCII other than the backslash inside:
  // such a string's text is what AppendQuoted writes for its bytes. 16 bytes per step (SSE2,
  // the x86-64 baseline) while whole blocks remain; the loads never pass the end.
  bool String(std::string_view* body) {
    const char* q = p_ + 1;
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end_ - q >= 16) {
      const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
      // Signed: bytes 0x80-0xFF (not ASCII) are below 0x20 too.
      const __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(c, quote), _mm_cmpeq_epi8(c, backslash)),
                                        _mm_cmplt_epi8(c, space));
      const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(stop));
      if (mask != 0) {
        q += __builtin_ctz(mask);
        return EndString(q, body);
      }
      q += 16;
    }
    while (q < end_) {
      const unsigned char c = static_cast<unsigned char>(*q);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return EndString(q, body);
      ++q;
    }
    return false;
  }

  bool EndString(const char* q, std::string_view* body) {
    if (*q != '"') return false;
    *body = std::string_view(p_ + 1, q - p_ - 1);
    p_ = q + 1;
    return true;
  }

  bool Literal(std::string_view s) {
    if (static_cast<size_t>(end_ - p_) < s.size() || std::string_view(p_, s.size()) != s) return false;
    p_ += s.size();
    return true;
  }

  bool Number() {
    const char* q = p_;
    while (q < end_ && (IsDigit(*q) || *q == '-' || *q == '.' || *q == 'e' || *q == 'E' || *q == '+')) ++q;
    if (q == p_ || !IsCanonicalNumberText(std::string_view(p_, q - p_))) return false;
    p_ = q;
    return true;
  }

  const char* p_;
  const char* end_;
  std::vector<std::string_view>& keys_;  // the keys of the objects being walked, outer first
};

}  // namespace

bool IsCanonicalNumberText(std::string_view t) {
  size_t i = 0;
  const size_t n = t.size();
  const bool negative = n > 0 && t[0] == '-';
  i += negative;
  if (i == n || !IsDigit(t[i])) return false;
  const size_t int_begin = i;
  if (t[i] == '0') {
    ++i;
  } else {
    while (i < n && IsDigit(t[i])) ++i;
  }
  const size_t int_digits = i - int_begin;
  if (int_digits > 21) return false;  // 1e21 and more: JavaScript writes an exponent
  size_t frac_digits = 0, frac_zeros = 0;  // the fraction's digits, and its zeros before the first other digit
  if (i < n && t[i] == '.') {
    ++i;
    const size_t frac_begin = i;
    while (i < n && IsDigit(t[i])) ++i;
    frac_digits = i - frac_begin;
    if (frac_digits == 0 || t[i - 1] == '0') return false;  // "1." or a trailing zero
    while (t[frac_begin + frac_zeros] == '0') ++frac_zeros;
  }
  if (i != n) return false;  // an exponent, or more
  const bool zero_int = t[int_begin] == '0';
  if (zero_int && frac_digits == 0) return !negative;  // "0"; "-0" is written "0"
  size_t significant;
  if (zero_int) {
    // 0.000001 is written so; 1e-7 and below with an exponent.
    if (frac_zeros > 5) return false;
    significant = frac_digits - frac_zeros;
  } else if (frac_digits > 0) {
    significant = int_digits + frac_digits;
  } else {
    size_t trailing_zeros = 0;
    while (t[int_begin + int_digits - 1 - trailing_zeros] == '0') ++trailing_zeros;
    significant = int_digits - trailing_zeros;
  }
  // A decimal of at most 15 significant digits (DBL_DIG) is the shortest text that reads back
  // as its nearest double, which is the text JavaScript writes for it.
  return significant <= 15;
}

bool SplitCanonicalObject(std::string_view text, std::vector<TextMember>* members) {
  members->clear();
  if (text.empty() || text[0] != '{') return false;
  thread_local std::vector<std::string_view> keys;  // reused: no allocation per state
  keys.clear();
  Walker w(text, &keys);
  return w.Object(1, members) && w.AtEnd();
}

}  // namespace ec::cdc
