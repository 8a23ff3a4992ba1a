// String functions: $string, $substring*, case, $trim, $pad, $contains, $split, $join, $match,
// $replace, base64 and URL encoding, $eval.

#include <cmath>
#include <cstring>

#include "jsonata/functions.h"
#include "jsonata/lexer.h"

namespace ec::jsonata::internal {

EC_JSONATA_FN(FnString) {
  Val a = Arg(args, 0);
  if (a.undef()) return {};
  std::string s;
  if (!Stringify(ev, a, JsTruthy(Arg(args, 1)), &s)) return {};
  if (a.is_str()) return a;
  return StrVal(ev, s);
}

namespace {

// JavaScript's Array.prototype.slice index normalisation.
int64_t SliceIndex(double x, int64_t len) {
  if (std::isnan(x)) return 0;
  double t = std::trunc(x);
  if (t < 0) return std::max<int64_t>(0, len + static_cast<int64_t>(std::max(t, -1e15)));
  return std::min<int64_t>(len, static_cast<int64_t>(std::min(t, 1e15)));
}

// Finds the next match of a regex function; D1004 on an empty match.
bool NextMatch(Evaluator& ev, const Func* f, std::string_view s, size_t from, RegexMatch* m) {
  if (from > s.size()) return false;
  if (!RegexSearch(*f->regex, s, from, m)) return false;
  if (m->end == m->start) {
    ev.Fail("D1004", "Regular expression matches zero length string");
    ev.error.value = f->regex->pattern;
    return false;
  }
  return true;
}

Val MatchGroups(Evaluator& ev, std::string_view s, const RegexMatch& m) {
  Arr* g = ev.NewArr(false);
  for (auto& pr : m.groups) {
    if (pr.first == std::string_view::npos) g->items.Push(ev.arena(), Val::Str(""));
    else g->items.Push(ev.arena(), Val::Str(s.substr(pr.first, pr.second - pr.first)));
  }
  return Val::Of(g);
}

}  // namespace

// The object a regex returns when applied to a string (match, start, end, groups).
Val RegexMatchObject(Evaluator& ev, const Regex* re, Val str, size_t from) {
  RegexMatch m;
  std::string_view s = str.str();
  if (!RegexSearch(*re, s, from, &m)) return {};
  Obj* o = ev.NewObj();
  o->props.Push(ev.arena(), Prop{"match", Val::Str(s.substr(m.start, m.end - m.start))});
  o->props.Push(ev.arena(), Prop{"start", Val::Num(static_cast<double>(Utf16Length(s.substr(0, m.start))))});
  o->props.Push(ev.arena(), Prop{"end", Val::Num(static_cast<double>(Utf16Length(s.substr(0, m.end))))});
  o->props.Push(ev.arena(), Prop{"groups", MatchGroups(ev, s, m)});
  return Val::Of(o);
}

EC_JSONATA_FN(FnSubstring) {
  Val s = Arg(args, 0);
  if (s.undef()) return {};
  std::vector<size_t> cps = CodePoints(s.str());
  int64_t len = static_cast<int64_t>(cps.size()) - 1;
  double start = Arg(args, 1).d;
  Val lenv = Arg(args, 2);
  if (len + start < 0) start = 0;
  int64_t b, e;
  if (!lenv.undef()) {
    if (lenv.d <= 0) return Val::Str("");
    double end = start >= 0 ? start + lenv.d : len + start + lenv.d;
    b = SliceIndex(start, len);
    e = SliceIndex(end, len);
  } else {
    b = SliceIndex(start, len);
    e = len;
  }
  if (e <= b) return Val::Str("");
  std::string_view sv = s.str();
  return Val::Str(sv.substr(cps[b], cps[e] - cps[b]));
}

EC_JSONATA_FN(FnSubstringBefore) {
  Val s = Arg(args, 0), c = Arg(args, 1);
  if (s.undef()) return {};
  size_t i = s.str().find(c.str());
  return i == std::string_view::npos ? s : Val::Str(s.str().substr(0, i));
}

EC_JSONATA_FN(FnSubstringAfter) {
  Val s = Arg(args, 0), c = Arg(args, 1);
  if (s.undef()) return {};
  size_t i = s.str().find(c.str());
  return i == std::string_view::npos ? s : Val::Str(s.str().substr(i + c.n));
}

namespace {

// ASCII and Latin-1 case mapping; the output has the input's byte length, so it is written
// straight into the evaluation arena.
Val ChangeCase(Evaluator& ev, std::string_view s, bool upper) {
  if (s.empty()) return Val::Str({});
  char* out = static_cast<char*>(ev.arena()->Allocate(s.size(), 1));
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (upper && c >= 'a' && c <= 'z') c = static_cast<unsigned char>(c - 0x20);
      else if (!upper && c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 0x20);
      out[i] = static_cast<char>(c);
    } else if ((c == 0xC3) && i + 1 < s.size()) {
      // Latin-1 letters U+00C0..U+00FE (except × and ÷)
      unsigned char d = static_cast<unsigned char>(s[i + 1]);
      uint32_t cp = 0xC0 + (d & 0x3F);
      if (upper && cp >= 0xE0 && cp <= 0xFE && cp != 0xF7) cp -= 0x20;
      else if (!upper && cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) cp += 0x20;
      out[i] = static_cast<char>(0xC3);
      out[i + 1] = static_cast<char>(0x80 | (cp & 0x3F));
      i++;
    } else {
      out[i] = static_cast<char>(c);
    }
  }
  return Val::Str(std::string_view(out, s.size()));
}

}  // namespace

EC_JSONATA_FN(FnLowercase) {
  Val s = Arg(args, 0);
  if (s.undef()) return {};
  return ChangeCase(ev, s.str(), false);
}

EC_JSONATA_FN(FnUppercase) {
  Val s = Arg(args, 0);
  if (s.undef()) return {};
  return ChangeCase(ev, s.str(), true);
}

EC_JSONATA_FN(FnLength) {
  Val s = Arg(args, 0);
  if (s.undef()) return {};
  return Val::Num(static_cast<double>(Utf8Length(s.str())));
}

EC_JSONATA_FN(FnTrim) {
  Val s = Arg(args, 0);
  if (s.undef()) return {};
  std::string out;
  bool ws = false;
  for (char c : s.str()) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ws = true;
      continue;
    }
    if (ws && !out.empty()) out.push_back(' ');
    ws = false;
    out.push_back(c);
  }
  return StrVal(ev, out);
}

EC_JSONATA_FN(FnPad) {
  Val s = Arg(args, 0);
  if (s.undef()) return {};
  double width = Arg(args, 1).d;
  Val cv = Arg(args, 2);
  std::string ch = cv.undef() || cv.n == 0 ? " " : std::string(cv.str());
  // A width beyond kMaxPad is an error rather than an attempt to allocate it.
  constexpr double kMaxPad = 1e7;
  if (std::fabs(width) > kMaxPad) return ev.FailV("D3137", "$pad: width exceeds the limit of 1e7 characters", Arg(args, 1));
  int64_t pad = ClampInt(std::fabs(width)) - static_cast<int64_t>(Utf8Length(s.str()));
  if (pad <= 0 || ch.empty()) return s;
  std::string padding;
  while (static_cast<int64_t>(Utf8Length(padding)) < pad) padding += ch;
  std::vector<size_t> cps = CodePoints(padding);
  padding.resize(cps[static_cast<size_t>(pad)]);
  std::string out = width > 0 ? std::string(s.str()) + padding : padding + std::string(s.str());
  return StrVal(ev, out);
}

EC_JSONATA_FN(FnContains) {
  Val s = Arg(args, 0), t = Arg(args, 1);
  if (s.undef() || t.undef()) return {};
  if (t.is_str()) return Val::Bool(s.str().find(t.str()) != std::string_view::npos);
  if (t.is_func() && t.f->kind == Func::kRegex) {
    RegexMatch m;
    return Val::Bool(RegexSearch(*t.f->regex, s.str(), 0, &m));
  }
  return Val::Bool(false);
}

EC_JSONATA_FN(FnSplit) {
  Val s = Arg(args, 0), sep = Arg(args, 1), lim = Arg(args, 2);
  if (s.undef()) return {};
  if (!lim.undef() && lim.d < 0) {
    return ev.FailV("D3020", "Third argument of split function must evaluate to a positive number", lim);
  }
  double limit = lim.undef() ? INFINITY : std::floor(lim.d);
  Arr* out = ev.NewArr(false);
  std::string_view sv = s.str();
  if (sep.is_str()) {
    std::string_view p = sep.str();
    if (limit <= 0) return Val::Of(out);
    if (p.empty()) {
      std::vector<size_t> cps = CodePoints(sv);
      for (size_t i = 0; i + 1 < cps.size() && out->items.size < limit; ++i)
        out->items.Push(ev.arena(), Val::Str(sv.substr(cps[i], cps[i + 1] - cps[i])));
      return Val::Of(out);
    }
    size_t pos = 0;
    for (;;) {
      if (out->items.size >= limit) break;
      size_t i = sv.find(p, pos);
      if (i == std::string_view::npos) {
        out->items.Push(ev.arena(), Val::Str(sv.substr(pos)));
        break;
      }
      out->items.Push(ev.arena(), Val::Str(sv.substr(pos, i - pos)));
      pos = i + p.size();
    }
    return Val::Of(out);
  }
  if (sep.is_func() && sep.f->kind == Func::kRegex) {
    RegexMatch m;
    size_t start = 0, from = 0;
    double count = 0;
    bool any = false;
    while (count < limit && from < sv.size() && NextMatch(ev, sep.f, sv, from, &m)) {
      any = true;
      out->items.Push(ev.arena(), Val::Str(sv.substr(start, m.start - start)));
      start = m.end;
      from = m.end;
      count++;
    }
    if (ev.failed) return {};
    if (!any) {
      out->items.Push(ev.arena(), s);
    } else if (count < limit) {
      out->items.Push(ev.arena(), Val::Str(sv.substr(start)));
    }
    return Val::Of(out);
  }
  return ev.Fail("T1010", "The matcher function argument passed to function split does not return the correct object structure");
}

EC_JSONATA_FN(FnJoin) {
  Val a = Arg(args, 0), sep = Arg(args, 1);
  if (a.undef()) return {};
  std::string out;
  uint32_t n = ArrSize(a);
  for (uint32_t i = 0; i < n; ++i) {
    if (i && !sep.undef()) out.append(sep.str());
    out.append(ArrAt(a, i).str());
  }
  return StrVal(ev, out);
}

EC_JSONATA_FN(FnMatch) {
  Val s = Arg(args, 0), re = Arg(args, 1), lim = Arg(args, 2);
  if (s.undef()) return {};
  if (!lim.undef() && lim.d < 0) {
    return ev.FailV("D3040", "Third argument of match function must evaluate to a positive number", lim);
  }
  Arr* out = ev.NewArr(true);
  if (!re.is_func() || re.f->kind != Func::kRegex) {
    // A custom matcher function: call it and follow the result objects.
    return ev.Fail("T1010", "The matcher function argument passed to function match does not return the correct object structure");
  }
  double limit = lim.undef() ? INFINITY : lim.d;
  std::string_view sv = s.str();
  RegexMatch m;
  size_t from = 0;
  double count = 0;
  while (count < limit && NextMatch(ev, re.f, sv, from, &m)) {
    Obj* o = ev.NewObj();
    o->props.Push(ev.arena(), Prop{"match", Val::Str(sv.substr(m.start, m.end - m.start))});
    o->props.Push(ev.arena(), Prop{"index", Val::Num(static_cast<double>(Utf16Length(sv.substr(0, m.start))))});
    o->props.Push(ev.arena(), Prop{"groups", MatchGroups(ev, sv, m)});
    out->items.Push(ev.arena(), Val::Of(o));
    from = m.end;
    count++;
    if (from >= sv.size()) break;
  }
  if (ev.failed) return {};
  return Val::Of(out);
}

EC_JSONATA_FN(FnReplace) {
  Val s = Arg(args, 0), pat = Arg(args, 1), rep = Arg(args, 2), lim = Arg(args, 3);
  if (s.undef()) return {};
  if (pat.is_str() && pat.n == 0) {
    return ev.FailV("D3010", "Second argument of replace function cannot be an empty string", pat);
  }
  if (!lim.undef() && lim.d < 0) {
    return ev.FailV("D3011", "Fourth argument of replace function must evaluate to a positive number", lim);
  }
  double limit = lim.undef() ? INFINITY : lim.d;
  std::string_view sv = s.str();
  std::string out;
  if (limit <= 0) return s;
  if (pat.is_str()) {
    std::string r;
    if (rep.is_str()) r = std::string(rep.str());
    size_t pos = 0;
    double count = 0;
    for (;;) {
      size_t i = sv.find(pat.str(), pos);
      if (i == std::string_view::npos || count >= limit) break;
      out.append(sv.substr(pos, i - pos));
      out.append(r);
      pos = i + pat.n;
      count++;
    }
    out.append(sv.substr(pos));
    return StrVal(ev, out);
  }
  if (!pat.is_func() || pat.f->kind != Func::kRegex) return s;
  RegexMatch m;
  size_t pos = 0, from = 0;
  double count = 0;
  bool any = false;
  while (count < limit && (from < sv.size() || (from == 0 && sv.empty())) && NextMatch(ev, pat.f, sv, from, &m)) {
    any = true;
    out.append(sv.substr(pos, m.start - pos));
    std::string_view matched = sv.substr(m.start, m.end - m.start);
    if (rep.is_str()) {
      std::string_view r = rep.str();
      size_t ng = m.groups.size();
      size_t p = 0;
      while (p < r.size()) {
        size_t d = r.find('$', p);
        if (d == std::string_view::npos) break;
        out.append(r.substr(p, d - p));
        p = d + 1;
        if (p >= r.size()) {
          out.push_back('$');
          break;
        }
        char c = r[p];
        if (c == '$') {
          out.push_back('$');
          p++;
        } else if (c == '0') {
          out.append(matched);
          p++;
        } else {
          size_t max_digits = ng == 0 ? 1 : static_cast<size_t>(std::floor(std::log10(static_cast<double>(ng)))) + 1;
          auto parse = [&](size_t digits, int64_t* v) {
            size_t k = 0;
            int64_t x = 0;
            while (k < digits && p + k < r.size() && r[p + k] >= '0' && r[p + k] <= '9') x = x * 10 + (r[p + k++] - '0');
            *v = x;
            return k;
          };
          int64_t idx;
          size_t used = parse(max_digits, &idx);
          if (max_digits > 1 && used > 0 && idx > static_cast<int64_t>(ng)) used = parse(max_digits - 1, &idx);
          if (used > 0) {
            if (ng > 0 && idx >= 1 && static_cast<size_t>(idx) <= ng) {
              auto& g = m.groups[static_cast<size_t>(idx - 1)];
              if (g.first != std::string_view::npos) out.append(sv.substr(g.first, g.second - g.first));
            }
            p += std::to_string(idx).size();
          } else {
            out.push_back('$');
          }
        }
      }
      if (p < r.size()) out.append(r.substr(p));
    } else if (rep.is_func()) {
      Obj* o = ev.NewObj();
      o->props.Push(ev.arena(), Prop{"match", Val::Str(matched)});
      o->props.Push(ev.arena(), Prop{"index", Val::Num(static_cast<double>(Utf16Length(sv.substr(0, m.start))))});
      o->props.Push(ev.arena(), Prop{"groups", MatchGroups(ev, sv, m)});
      Val a[1] = {Val::Of(o)};
      Val r = EV(ev.Apply(rep, std::span<Val>(a, 1), Val(), ev.root_frame()));
      if (!r.is_str()) {
        return ev.FailV("D3012", "Attempted to replace a matched string with a non-string value", r);
      }
      out.append(r.str());
    }
    pos = m.end;
    from = m.end;
    count++;
  }
  if (ev.failed) return {};
  if (!any) return s;
  out.append(sv.substr(pos));
  return StrVal(ev, out);
}

namespace {

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

EC_JSONATA_FN(FnBase64Encode) {
  Val s = Arg(args, 0);
  if (s.undef()) return {};
  std::string_view in = s.str();
  std::string out;
  size_t i = 0;
  while (i + 2 < in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back(kB64[v & 63]);
    i += 3;
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.append("==");
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back('=');
  }
  return StrVal(ev, out);
}

EC_JSONATA_FN(FnBase64Decode) {
  Val s = Arg(args, 0);
  if (s.undef()) return {};
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s.str()) {
    const char* p = std::strchr(kB64, c);
    if (!p || c == 0) continue;
    acc = (acc << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return StrVal(ev, out);
}

namespace {

bool Encode(Evaluator& ev, Val s, const char* keep, Val* out) {
  std::string_view in = s.str();
  std::string r;
  static const char kHex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (std::isalnum(c) || (c < 0x80 && std::strchr(keep, c) && c != 0)) {
      r.push_back(static_cast<char>(c));
      continue;
    }
    // A lone surrogate (encoded as ED A0..BF xx) cannot be URI-encoded.
    if (c == 0xED && i + 1 < in.size() && (static_cast<unsigned char>(in[i + 1]) & 0xE0) == 0xA0) {
      ev.FailV("D3140", "Malformed URL passed to $encodeUrlComponent(): " + std::string(in), s);
      return false;
    }
    r.push_back('%');
    r.push_back(kHex[c >> 4]);
    r.push_back(kHex[c & 15]);
  }
  *out = StrVal(ev, r);
  return true;
}

bool Decode(Evaluator& ev, Val s, const char* reserved, Val* out, const char* fname) {
  std::string_view in = s.str();
  std::string r;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      r.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() + 0 && i + 2 > in.size() - 1 + 1) {
    }
    if (i + 2 >= in.size() || hex(in[i + 1]) < 0 || hex(in[i + 2]) < 0) {
      ev.FailV("D3140", std::string("Malformed URL passed to ") + fname + "(): " + std::string(in), s);
      return false;
    }
    int v = hex(in[i + 1]) * 16 + hex(in[i + 2]);
    if (v < 0x80 && std::strchr(reserved, v) && v != 0) {
      r.append(in.substr(i, 3));
    } else {
      r.push_back(static_cast<char>(v));
    }
    i += 2;
  }
  // Validate UTF-8 of the decoded bytes.
  for (size_t i = 0; i < r.size();) {
    unsigned char c = static_cast<unsigned char>(r[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > r.size()) {
      ev.FailV("D3140", std::string("Malformed URL passed to ") + fname + "(): " + std::string(in), s);
      return false;
    }
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(r[i + k]) & 0xC0) != 0x80) {
        ev.FailV("D3140", std::string("Malformed URL passed to ") + fname + "(): " + std::string(in), s);
        return false;
      }
    }
    i += len;
  }
  *out = StrVal(ev, r);
  return true;
}

}  // namespace

EC_JSONATA_FN(FnEncodeUrlComponent) {
  Val s = Arg(args, 0), out;
  if (s.undef()) return {};
  if (!Encode(ev, s, "-_.!~*'()", &out)) return {};
  return out;
}

EC_JSONATA_FN(FnEncodeUrl) {
  Val s = Arg(args, 0), out;
  if (s.undef()) return {};
  if (!Encode(ev, s, "-_.!~*'();/?:@&=+$,#", &out)) {
    ev.error.message = "Malformed URL passed to $encodeUrl(): " + std::string(s.str());
    return {};
  }
  return out;
}

EC_JSONATA_FN(FnDecodeUrlComponent) {
  Val s = Arg(args, 0), out;
  if (s.undef()) return {};
  if (!Decode(ev, s, "", &out, "$decodeUrlComponent")) return {};
  return out;
}

EC_JSONATA_FN(FnDecodeUrl) {
  Val s = Arg(args, 0), out;
  if (s.undef()) return {};
  if (!Decode(ev, s, ";/?:@&=+$,#", &out, "$decodeUrl")) return {};
  return out;
}

}  // namespace ec::jsonata::internal
