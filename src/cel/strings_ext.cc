// The strings extension (cel-go ext/strings): code-point indexed, strict about ranges.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cel/library.h"
#include "cel/ops.h"
#include "cel/text.h"
#include "cel/time.h"

namespace ec::cel::lib {
namespace {

bool IsStr(const Value& v) { return v.kind() == Kind::kString; }
bool IsInt(const Value& v) { return v.kind() == Kind::kInt; }

bool IsUnicodeSpace(uint32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string Encode(const std::vector<uint32_t>& cps, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) AppendUtf8(cps[i], &out);
  return out;
}

// Index (in code points) of `needle` in `hay` at or after `from`, or -1.
int64_t FindCp(const std::vector<uint32_t>& hay, const std::vector<uint32_t>& needle, int64_t from) {
  int64_t n = hay.size(), m = needle.size();
  for (int64_t i = from; i + m <= n; ++i)
    if (std::equal(needle.begin(), needle.end(), hay.begin() + i)) return i;
  return -1;
}

}  // namespace

Value CharAt(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 2 || !IsStr(a[0]) || !IsInt(a[1])) return e.NoOverload("charAt", a, n);
  auto cps = DecodeUtf8(a[0].string_value());
  int64_t i = a[1].int_value();
  if (i < 0 || i > static_cast<int64_t>(cps.size())) return e.Error("index out of range: " + std::to_string(i));
  if (i == static_cast<int64_t>(cps.size())) return Value::String("");
  return e.NewString(Encode(cps, i, i + 1));
}

Value IndexOf(Evaluator& e, const Node*, const Value* a, size_t n) {
  if ((n != 2 && n != 3) || !IsStr(a[0]) || !IsStr(a[1]) || (n == 3 && !IsInt(a[2]))) return e.NoOverload("indexOf", a, n);
  auto hay = DecodeUtf8(a[0].string_value());
  auto needle = DecodeUtf8(a[1].string_value());
  int64_t from = n == 3 ? a[2].int_value() : 0;
  if (from < 0 || from > static_cast<int64_t>(hay.size())) return e.Error("index out of range: " + std::to_string(from));
  return Value::Int(FindCp(hay, needle, from));
}

Value LastIndexOf(Evaluator& e, const Node*, const Value* a, size_t n) {
  if ((n != 2 && n != 3) || !IsStr(a[0]) || !IsStr(a[1]) || (n == 3 && !IsInt(a[2]))) return e.NoOverload("lastIndexOf", a, n);
  auto hay = DecodeUtf8(a[0].string_value());
  auto needle = DecodeUtf8(a[1].string_value());
  int64_t size = hay.size(), m = needle.size();
  int64_t from = n == 3 ? a[2].int_value() : size;
  if (from < 0 || from > size) return e.Error("index out of range: " + std::to_string(from));
  for (int64_t i = std::min(from, size - m); i >= 0; --i)
    if (std::equal(needle.begin(), needle.end(), hay.begin() + i)) return Value::Int(i);
  return Value::Int(-1);
}

Value LowerAscii(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1 || !IsStr(a[0])) return e.NoOverload("lowerAscii", a, n);
  std::string s(a[0].string_value());
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return e.NewString(s);
}

Value UpperAscii(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1 || !IsStr(a[0])) return e.NoOverload("upperAscii", a, n);
  std::string s(a[0].string_value());
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return e.NewString(s);
}

Value Replace(Evaluator& e, const Node*, const Value* a, size_t n) {
  if ((n != 3 && n != 4) || !IsStr(a[0]) || !IsStr(a[1]) || !IsStr(a[2]) || (n == 4 && !IsInt(a[3])))
    return e.NoOverload("replace", a, n);
  std::string_view s = a[0].string_value(), from = a[1].string_value(), to = a[2].string_value();
  int64_t limit = n == 4 ? a[3].int_value() : -1;
  std::string out;
  size_t pos = 0;
  int64_t done = 0;
  while (limit < 0 || done < limit) {
    size_t hit;
    if (from.empty()) {
      // Go's strings.Replace: an empty pattern matches before each code point and at the end.
      if (pos > s.size()) break;
      hit = pos;
    } else {
      hit = s.find(from, pos);
      if (hit == std::string_view::npos) break;
    }
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    ++done;
    if (from.empty()) {
      if (hit >= s.size()) {
        pos = s.size() + 1;
        break;
      }
      size_t next = hit + 1;
      while (next < s.size() && (static_cast<unsigned char>(s[next]) & 0xC0) == 0x80) ++next;
      out.append(s.substr(hit, next - hit));
      pos = next;
    } else {
      pos = hit + from.size();
    }
  }
  if (pos <= s.size()) out.append(s.substr(pos));
  return e.NewString(out);
}

Value Split(Evaluator& e, const Node*, const Value* a, size_t n) {
  if ((n != 2 && n != 3) || !IsStr(a[0]) || !IsStr(a[1]) || (n == 3 && !IsInt(a[2]))) return e.NoOverload("split", a, n);
  std::string_view s = a[0].string_value(), sep = a[1].string_value();
  int64_t limit = n == 3 ? a[2].int_value() : -1;
  std::vector<Value> parts;
  if (limit == 0) return e.NewList(nullptr, 0);
  if (sep.empty()) {
    auto cps = DecodeUtf8(s);
    for (size_t i = 0; i < cps.size(); ++i) {
      if (limit > 0 && static_cast<int64_t>(parts.size()) == limit - 1) {
        parts.push_back(e.NewString(Encode(cps, i, cps.size())));
        break;
      }
      parts.push_back(e.NewString(Encode(cps, i, i + 1)));
    }
    return e.NewList(parts.data(), parts.size());
  }
  size_t pos = 0;
  while (true) {
    if (limit > 0 && static_cast<int64_t>(parts.size()) == limit - 1) break;
    size_t hit = s.find(sep, pos);
    if (hit == std::string_view::npos) break;
    parts.push_back(Value::String(s.substr(pos, hit - pos)));
    pos = hit + sep.size();
  }
  parts.push_back(Value::String(s.substr(pos)));
  return e.NewList(parts.data(), parts.size());
}

Value Substring(Evaluator& e, const Node*, const Value* a, size_t n) {
  if ((n != 2 && n != 3) || !IsStr(a[0]) || !IsInt(a[1]) || (n == 3 && !IsInt(a[2]))) return e.NoOverload("substring", a, n);
  std::string_view s = a[0].string_value();
  int64_t count = static_cast<int64_t>(CodePointCount(s));
  int64_t begin = a[1].int_value(), end = n == 3 ? a[2].int_value() : count;
  if (begin < 0 || begin > count) return e.Error("index out of range: " + std::to_string(begin));
  if (end < 0 || end > count) return e.Error("index out of range: " + std::to_string(end));
  if (end < begin) return e.Error("invalid substring range: start " + std::to_string(begin) + " > end " + std::to_string(end));
  size_t b = CodePointOffset(s, begin), en = CodePointOffset(s, end);
  return Value::String(s.substr(b, en - b));
}

Value Trim(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1 || !IsStr(a[0])) return e.NoOverload("trim", a, n);
  auto cps = DecodeUtf8(a[0].string_value());
  size_t b = 0, en = cps.size();
  while (b < en && IsUnicodeSpace(cps[b])) ++b;
  while (en > b && IsUnicodeSpace(cps[en - 1])) --en;
  return e.NewString(Encode(cps, b, en));
}

Value Join(Evaluator& e, const Node*, const Value* a, size_t n) {
  if ((n != 1 && n != 2) || a[0].kind() != Kind::kList || (n == 2 && !IsStr(a[1]))) return e.NoOverload("join", a, n);
  std::string out;
  for (uint32_t i = 0; i < a[0].size(); ++i) {
    Value v = a[0].ListAt(i);
    if (!IsStr(v)) return e.Error("join: list element " + std::to_string(i) + " is " + std::string(TypeName(v)) + ", not string");
    if (i && n == 2) out.append(a[1].string_value());
    out.append(v.string_value());
  }
  return e.NewString(out);
}

Value Quote(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1 || !IsStr(a[0])) return e.NoOverload("strings.quote", a, n);
  std::string out = "\"";
  for (char c : a[0].string_value()) {
    switch (c) {
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      default: out += c;
    }
  }
  out += '"';
  return e.NewString(out);
}

Value Reverse(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 1 || !IsStr(a[0])) return e.NoOverload("reverse", a, n);
  auto cps = DecodeUtf8(a[0].string_value());
  std::reverse(cps.begin(), cps.end());
  return e.NewString(Encode(cps, 0, cps.size()));
}

// --- format

namespace {

std::string FmtDoubleSpecial(double d) {
  if (std::isnan(d)) return "NaN";
  return d > 0 ? "Infinity" : "-Infinity";
}

// %s rendering of any value (lists and maps recursively; map entries sorted by key text).
bool FormatAsString(Evaluator& e, const Value& v, std::string* out, std::string* err) {
  switch (v.kind()) {
    case Kind::kDouble:
      if (!std::isfinite(v.double_value())) {
        *out += FmtDoubleSpecial(v.double_value());
        return true;
      }
      *out += FormatDouble(v.double_value());
      return true;
    case Kind::kList: {
      *out += '[';
      for (uint32_t i = 0; i < v.size(); ++i) {
        if (i) *out += ", ";
        if (!FormatAsString(e, v.ListAt(i), out, err)) return false;
      }
      *out += ']';
      return true;
    }
    case Kind::kMap: {
      std::vector<std::pair<std::string, std::string>> entries;
      for (uint32_t i = 0; i < v.size(); ++i) {
        std::string k, val;
        if (!FormatAsString(e, v.MapKeyAt(i), &k, err) || !FormatAsString(e, v.MapValueAt(i), &val, err)) return false;
        entries.emplace_back(std::move(k), std::move(val));
      }
      std::sort(entries.begin(), entries.end());
      *out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) *out += ", ";
        *out += entries[i].first + ": " + entries[i].second;
      }
      *out += '}';
      return true;
    }
    default: {
      Value s = ToCelString(e, v);
      if (s.is_error()) {
        *err = std::string(s.error().message);
        return false;
      }
      out->append(s.string_value());
      return true;
    }
  }
}

std::string ToBase(uint64_t v, int base, bool upper) {
  if (v == 0) return "0";
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string s;
  while (v) {
    s += digits[v % base];
    v /= base;
  }
  std::reverse(s.begin(), s.end());
  return s;
}

}  // namespace

Value Format(Evaluator& e, const Node*, const Value* a, size_t n) {
  if (n != 2 || !IsStr(a[0]) || a[1].kind() != Kind::kList) return e.NoOverload("format", a, n);
  std::string_view f = a[0].string_value();
  const Value& args = a[1];
  std::string out;
  uint32_t next = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c != '%') {
      out += c;
      continue;
    }
    if (++i >= f.size()) return e.Error("could not parse formatting clause: unexpected end of format string");
    if (f[i] == '%') {
      out += '%';
      continue;
    }
    int precision = -1;
    if (f[i] == '.') {
      precision = 0;
      ++i;
      while (i < f.size() && f[i] >= '0' && f[i] <= '9') precision = precision * 10 + (f[i++] - '0');
      if (i >= f.size()) return e.Error("could not parse formatting clause: unexpected end of format string");
    }
    char verb = f[i];
    if (std::string_view("sdfeboxX").find(verb) == std::string_view::npos)
      return e.Error(std::string("could not parse formatting clause: unrecognized formatting clause \"") + verb + "\"");
    if (next >= args.size()) return e.Error("index " + std::to_string(next) + " out of range");
    Value v = args.ListAt(next++);
    Kind k = v.kind();
    std::string err;
    switch (verb) {
      case 's':
        if (!FormatAsString(e, v, &out, &err)) return e.Error("error during formatting: " + err);
        break;
      case 'd':
        if (k == Kind::kInt) out += std::to_string(v.int_value());
        else if (k == Kind::kUint) out += std::to_string(v.uint_value());
        else if (k == Kind::kDouble && !std::isfinite(v.double_value())) out += FmtDoubleSpecial(v.double_value());
        else return e.Error("error during formatting: decimal clause can only be used on integers, was given " + std::string(TypeName(v)));
        break;
      case 'f':
      case 'e': {
        double d;
        if (k == Kind::kDouble) d = v.double_value();
        else if (k == Kind::kInt) d = static_cast<double>(v.int_value());
        else if (k == Kind::kUint) d = static_cast<double>(v.uint_value());
        else return e.Error(std::string("error during formatting: ") + (verb == 'f' ? "fixed-point" : "scientific") +
                            " clause can only be used on doubles, was given " + std::string(TypeName(v)));
        if (!std::isfinite(d)) {
          out += FmtDoubleSpecial(d);
          break;
        }
        char buf[512];
        std::snprintf(buf, sizeof(buf), verb == 'f' ? "%.*f" : "%.*e", precision < 0 ? 6 : std::min(precision, 100), d);
        out += buf;
        break;
      }
      case 'b':
      case 'o':
        if (k == Kind::kInt) {
          int64_t x = v.int_value();
          if (x < 0) out += '-';
          out += ToBase(x < 0 ? 0 - static_cast<uint64_t>(x) : x, verb == 'b' ? 2 : 8, false);
        } else if (k == Kind::kUint) {
          out += ToBase(v.uint_value(), verb == 'b' ? 2 : 8, false);
        } else if (k == Kind::kBool && verb == 'b') {
          out += v.bool_value() ? "1" : "0";
        } else if (verb == 'b') {
          return e.Error("error during formatting: only integers and bools can be formatted as binary, was given " + std::string(TypeName(v)));
        } else {
          return e.Error("error during formatting: octal clause can only be used on integers, was given " + std::string(TypeName(v)));
        }
        break;
      case 'x':
      case 'X': {
        bool up = verb == 'X';
        if (k == Kind::kInt) {
          int64_t x = v.int_value();
          if (x < 0) out += '-';
          out += ToBase(x < 0 ? 0 - static_cast<uint64_t>(x) : x, 16, up);
        } else if (k == Kind::kUint) {
          out += ToBase(v.uint_value(), 16, up);
        } else if (k == Kind::kString || k == Kind::kBytes) {
          const char* digits = up ? "0123456789ABCDEF" : "0123456789abcdef";
          for (unsigned char ch : v.string_value()) {
            out += digits[ch >> 4];
            out += digits[ch & 15];
          }
        } else {
          return e.Error("error during formatting: only integers, byte buffers, and strings can be formatted as hex, was given " + std::string(TypeName(v)));
        }
        break;
      }
    }
  }
  return e.NewString(out);
}

}  // namespace ec::cel::lib
