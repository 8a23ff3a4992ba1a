#include "json/writer.h"

#include <emmintrin.h>  // SSE2: AppendQuoted scans 16 bytes at a time

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>

namespace ec::json {
namespace {

void AppendValue(const Value& v, int indent, int level, std::string* out);

void NewLine(int indent, int level, std::string* out) {
  if (indent <= 0) return;
  out->push_back('\n');
  out->append(static_cast<size_t>(indent * level), ' ');
}

void AppendValue(const Value& v, int indent, int level, std::string* out) {
  switch (v.kind()) {
    case Kind::kNull: out->append("null"); return;
    case Kind::kBool: out->append(v.bool_value() ? "true" : "false"); return;
    case Kind::kNumber:
      if (!std::isfinite(v.number())) { out->append("null"); return; }
      AppendJsNumber(v.number(), out);
      return;
    case Kind::kString: AppendQuoted(v.string(), out); return;
    case Kind::kArray: {
      if (indent <= 0 && v.has_known_text()) {  // parsed from what this would write
        out->append(v.known_text());
        return;
      }
      out->push_back('[');
      bool first = true;
      for (const Value& e : v.array()) {
        if (!first) out->push_back(',');
        first = false;
        NewLine(indent, level + 1, out);
        AppendValue(e, indent, level + 1, out);
      }
      if (!first) NewLine(indent, level, out);
      out->push_back(']');
      return;
    }
    case Kind::kObject: {
      if (indent <= 0 && v.has_known_text()) {
        out->append(v.known_text());
        return;
      }
      out->push_back('{');
      bool first = true;
      for (const Member& m : v.object()) {
        if (!first) out->push_back(',');
        first = false;
        NewLine(indent, level + 1, out);
        AppendQuoted(m.key, out);
        out->push_back(':');
        if (indent > 0) out->push_back(' ');
        AppendValue(m.value, indent, level + 1, out);
      }
      if (!first) NewLine(indent, level, out);
      out->push_back('}');
      return;
    }
  }
}

}  // namespace

void AppendJson(const Value& v, std::string* out) { AppendValue(v, 0, 0, out); }

std::string ToJson(const Value& v) {
  std::string out;
  AppendJson(v, &out);
  return out;
}

void AppendJsonPretty(const Value& v, int indent, std::string* out) { AppendValue(v, indent, 0, out); }

namespace {

// Fast path of AppendJsNumber for the numbers APIs mostly carry: integers below 2^53 and
// decimals with at most four fractional digits (prices), |d| < 1e9. Writes what the general
// path writes (shortest round-trip digits in ECMA-262 layout) and returns true, or returns
// false when `d` is not such a number. Why the output is the same: below 2^53 every integer
// is a double of its own, so an integral d's shortest digits are its exact decimal digits;
// for d == n / 10^k (the division is correctly rounded, so this says n / 10^k is the decimal
// nearest to d among those with k fractional digits) with |d| < 1e9, doubles there lie less
// than 1.2e-7 apart, so no other decimal with at most k fractional digits reads back as d,
// and a shorter one would have at most k of them; the layout is fixed-point for such d
// (1e-4 <= |d| < 1e21).
bool AppendShortDecimal(double d, std::string* out) {
  constexpr double kTwo53 = 9007199254740992.0;
  char buf[40];
  char* p = buf;
  double a = d;
  if (a < 0) {
    *p++ = '-';
    a = -a;
  }
  if (!(a < kTwo53)) return false;  // also NaN
  const auto whole = static_cast<uint64_t>(a);
  if (static_cast<double>(whole) == a) {
    p = std::to_chars(p, buf + sizeof buf, whole).ptr;
    out->append(buf, static_cast<size_t>(p - buf));
    return true;
  }
  if (!(a < 1e9)) return false;
  uint64_t scale = 10;
  for (int k = 1; k <= 4; ++k, scale *= 10) {
    const auto n = static_cast<uint64_t>(std::llround(a * static_cast<double>(scale)));
    if (static_cast<double>(n) / static_cast<double>(scale) != a) continue;
    p = std::to_chars(p, buf + sizeof buf, n / scale).ptr;
    *p++ = '.';
    uint64_t frac = n % scale;
    char digits[4];
    for (int i = k - 1; i >= 0; --i) {
      digits[i] = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    int len = k;
    while (len > 1 && digits[len - 1] == '0') --len;  // n % scale != 0: a digit stays
    for (int i = 0; i < len; ++i) *p++ = digits[i];
    out->append(buf, static_cast<size_t>(p - buf));
    return true;
  }
  return false;
}

}  // namespace

void AppendJsNumber(double d, std::string* out) {
  if (d == 0) { out->push_back('0'); return; }  // also -0, as JavaScript prints it
  if (AppendShortDecimal(d, out)) return;
  if (std::isnan(d)) { out->append("NaN"); return; }
  if (std::isinf(d)) { out->append(d > 0 ? "Infinity" : "-Infinity"); return; }
  // Shortest round-trip digits and exponent, then ECMA-262 Number::toString layout.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, res.ptr - buf);  // e.g. "-1.2345e+02"
  bool negative = sci.front() == '-';
  if (negative) sci.remove_prefix(1);
  size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos))
    if (c != '.') digits.push_back(c);
  int exp10 = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+'), sci.data() + sci.size(), exp10);
  const int k = static_cast<int>(digits.size());
  const int n = exp10 + 1;  // decimal point position
  if (negative) out->push_back('-');
  if (k <= n && n <= 21) {
    out->append(digits);
    out->append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out->append(digits, 0, static_cast<size_t>(n));
    out->push_back('.');
    out->append(digits, static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-n), '0');
    out->append(digits);
  } else {
    out->push_back(digits[0]);
    if (k > 1) {
      out->push_back('.');
      out->append(digits, 1);
    }
    out->push_back('e');
    out->push_back(n - 1 >= 0 ? '+' : '-');
    out->append(std::to_string(std::abs(n - 1)));
  }
}

namespace {

// Bytes that AppendQuoted cannot copy as they are: controls, '"', '\\' and 0xED (which may
// start a WTF-8 lone surrogate). Everything else is copied in runs, not byte by byte: string
// output is most of the serve pipeline's serialisation time.
constexpr std::array<bool, 256> MakeSpecialTable() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  t['"'] = t['\\'] = t[0xED] = true;
  return t;
}
constexpr std::array<bool, 256> kSpecial = MakeSpecialTable();

}  // namespace

bool QuotedAsIs(std::string_view s) {
  for (char c : s) {
    if (kSpecial[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

namespace {

// The length of `s`'s prefix without a byte kSpecial marks: 16 bytes per step (SSE2, the x86-64
// baseline) while whole blocks remain, the table for the rest (loads never pass the end).
// The byte loop alone was ~3 instructions per byte, most of AppendQuoted's cost.
size_t PlainPrefix(std::string_view s) {
  const char* p = s.data();
  const size_t n = s.size();
  size_t i = 0;
  if (n >= 16) {
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i ed = _mm_set1_epi8(static_cast<char>(0xED));
    const __m128i control_max = _mm_set1_epi8(0x1F);
    for (; i + 16 <= n; i += 16) {
      const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(c, control_max), c);  // <= 0x1F
      const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(c, quote), _mm_cmpeq_epi8(c, backslash)),
                                       _mm_or_si128(_mm_cmpeq_epi8(c, ed), control));
      const int mask = _mm_movemask_epi8(hit);
      if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    }
  }
  while (i < n && !kSpecial[static_cast<unsigned char>(p[i])]) ++i;
  return i;
}

}  // namespace

void AppendQuoted(std::string_view s, std::string* out) {
  // Most strings (keys, ids, words) need no escape: one scan, then one copy.
  const size_t plain = PlainPrefix(s);
  if (plain == s.size()) {
    const size_t at = out->size();
    out->resize(at + s.size() + 2);
    char* p = out->data() + at;
    *p = '"';
    if (!s.empty()) std::memcpy(p + 1, s.data(), s.size());
    p[s.size() + 1] = '"';
    return;
  }
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  size_t run = 0;  // start of the pending run of plain bytes
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!kSpecial[c]) continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", c);
          out->append(esc);
        } else if (i + 2 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xE0) == 0xA0) {
          // A lone surrogate carried as WTF-8 (CESU-style bytes): JSON.stringify escapes it.
          unsigned cp = ((c & 0x0F) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3F) << 6) |
                        (static_cast<unsigned char>(s[i + 2]) & 0x3F);
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", cp);
          out->append(esc);
          i += 2;
          run = i + 1;
        } else {
          out->push_back(static_cast<char>(c));  // 0xED starting an ordinary character
        }
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

}  // namespace ec::json
