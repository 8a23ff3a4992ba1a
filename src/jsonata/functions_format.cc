// Number formatting: $formatBase, $formatNumber (XPath format-number pictures),
// $formatInteger and $parseInteger (XPath format-integer pictures).

#include <cmath>
#include <cstdio>
#include <numeric>

#include "jsonata/functions.h"
#include "jsonata/integer_format.h"

namespace ec::jsonata::internal {

namespace {

double BankersRound(double x, int prec) {
  auto shift = [](double v, int places) {
    std::string t = NumText(v);
    size_t e = t.find('e');
    std::string mant = e == std::string::npos ? t : t.substr(0, e);
    long exp = e == std::string::npos ? 0 : std::strtol(t.c_str() + e + 1, nullptr, 10);
    std::string s = mant + "e" + std::to_string(exp + places);
    return std::strtod(s.c_str(), nullptr);
  };
  if (prec) x = shift(x, prec);
  double r = std::floor(x + 0.5);
  if (std::fabs(r - x) == 0.5 && std::fabs(std::fmod(r, 2)) == 1) r -= 1;
  if (prec) r = shift(r, -prec);
  if (r == 0) r = 0;
  return r;
}

using U = std::u32string;

size_t Find(const U& s, const U& t, size_t from = 0) {
  if (t.empty()) return U::npos;
  return s.find(t, from);
}

}  // namespace

EC_JSONATA_FN(FnFormatBase) {
  Val a = Arg(args, 0), r = Arg(args, 1);
  if (a.undef()) return {};
  double x = BankersRound(a.d, 0);
  int64_t radix = r.undef() ? 10 : ClampInt(r.d);
  if (radix < 2 || radix > 36) {
    return ev.FailV("D3100", "The radix of the formatBase function must be between 2 and 36.  It was given " + NumText(r.d), r);
  }
  bool neg = x < 0;
  double m = std::fabs(x);
  std::string digits;
  if (m == 0) digits = "0";
  while (m >= 1) {
    double q = std::floor(m / radix);
    int d = static_cast<int>(m - q * radix);
    digits.push_back("0123456789abcdefghijklmnopqrstuvwxyz"[d]);
    m = q;
  }
  if (neg) digits.push_back('-');
  std::string out(digits.rbegin(), digits.rend());
  return StrVal(ev, out);
}

EC_JSONATA_FN(FnFormatNumber) {
  Val value = Arg(args, 0), picv = Arg(args, 1), opts = Arg(args, 2);
  if (value.undef()) return {};
  auto prop = [&](const char* name, const char* def) -> U {
    Val v = ObjGet(opts, name);
    if (v.is_str()) return ToU32(v.str());
    return ToU32(def);
  };
  U decimal_sep = prop("decimal-separator", "."), group_sep = prop("grouping-separator", ",");
  U exp_sep = prop("exponent-separator", "e"), minus = prop("minus-sign", "-");
  U percent = prop("percent", "%"), permille = prop("per-mille", "\xE2\x80\xB0");
  U zero = prop("zero-digit", "0"), digit = prop("digit", "#"), pattern_sep = prop("pattern-separator", ";");
  char32_t zc = zero.empty() ? U'0' : zero[0];
  auto is_digit = [&](char32_t c) { return c >= zc && c < zc + 10; };
  auto is_active = [&](char32_t c) {
    return is_digit(c) || (!decimal_sep.empty() && c == decimal_sep[0]) || (!exp_sep.empty() && c == exp_sep[0]) ||
           (!group_sep.empty() && c == group_sep[0]) || (!digit.empty() && c == digit[0]) ||
           (!pattern_sep.empty() && c == pattern_sep[0]);
  };
  U picture = ToU32(picv.str());
  std::vector<U> subs;
  {
    size_t start = 0;
    for (;;) {
      size_t p = Find(picture, pattern_sep, start);
      if (p == U::npos) {
        subs.push_back(picture.substr(start));
        break;
      }
      subs.push_back(picture.substr(start, p - start));
      start = p + pattern_sep.size();
    }
  }
  if (subs.size() > 2) return ev.Fail("D3080", "The picture string must only contain a maximum of two sub-pictures");
  struct Parts {
    U prefix, suffix, active, mantissa, exponent, integer, fractional, sub;
    bool has_exponent = false;
  };
  struct Pic {
    std::vector<int> int_groups;
    int regular = 0;
    int min_int = 0, scaling = 0;
    U prefix, suffix, picture;
    std::vector<int> frac_groups;
    int min_frac = 0, max_frac = 0, min_exp = 0;
  };
  std::vector<Parts> parts;
  for (const U& sp : subs) {
    Parts p;
    p.sub = sp;
    size_t i = 0;
    for (; i < sp.size(); ++i)
      if (is_active(sp[i]) && !(exp_sep.size() && sp[i] == exp_sep[0])) break;
    p.prefix = sp.substr(0, i);
    size_t j = sp.size();
    for (; j-- > 0;)
      if (is_active(sp[j]) && !(exp_sep.size() && sp[j] == exp_sep[0])) break;
    p.suffix = j == static_cast<size_t>(-1) ? sp : sp.substr(j + 1);
    // JavaScript substring(a, b) swaps a > b: with no active characters the whole sub-picture is
    // the "active" part (and fails validation as passive characters, D3086).
    size_t a0 = p.prefix.size(), b0 = sp.size() - std::min(sp.size(), p.suffix.size());
    if (a0 > b0) std::swap(a0, b0);
    p.active = sp.substr(a0, b0 - a0);
    size_t ep = Find(sp, exp_sep, p.prefix.size());
    if (ep == U::npos || ep > sp.size() - p.suffix.size()) {
      p.mantissa = p.active;
    } else {
      p.mantissa = p.active.substr(0, ep);
      p.exponent = ep + 1 <= p.active.size() ? p.active.substr(ep + 1) : U();
      p.has_exponent = true;
    }
    size_t dp = Find(p.mantissa, decimal_sep);
    if (dp == U::npos) {
      p.integer = p.mantissa;
      p.fractional = p.suffix;
    } else {
      p.integer = p.mantissa.substr(0, dp);
      p.fractional = p.mantissa.substr(dp + 1);
    }
    parts.push_back(p);
  }
  // Validate (F&O 4.7.3).
  for (const Parts& p : parts) {
    const char* err = nullptr;
    const U& s = p.sub;
    size_t dpos = Find(s, decimal_sep);
    if (dpos != U::npos && dpos != s.rfind(decimal_sep)) err = "D3081";
    if (Find(s, percent) != U::npos && Find(s, percent) != s.rfind(percent)) err = "D3082";
    if (Find(s, permille) != U::npos && Find(s, permille) != s.rfind(permille)) err = "D3083";
    if (Find(s, percent) != U::npos && Find(s, permille) != U::npos) err = "D3084";
    bool valid = false;
    for (char32_t c : p.mantissa)
      if (is_digit(c) || (digit.size() && c == digit[0])) valid = true;
    if (!valid) err = "D3085";
    for (char32_t c : p.active)
      if (!is_active(c)) err = "D3086";
    if (dpos != U::npos) {
      if ((dpos > 0 && group_sep.size() && s[dpos - 1] == group_sep[0]) ||
          (dpos + 1 < s.size() && group_sep.size() && s[dpos + 1] == group_sep[0]))
        err = "D3087";
    } else if (!p.integer.empty() && group_sep.size() && p.integer.back() == group_sep[0]) {
      err = "D3088";
    }
    if (Find(s, group_sep + group_sep) != U::npos) err = "D3089";
    size_t od = Find(p.integer, digit);
    if (od != U::npos) {
      for (size_t k = 0; k < od; ++k)
        if (is_digit(p.integer[k])) err = "D3090";
    }
    od = p.fractional.rfind(digit);
    if (od != U::npos && digit.size()) {
      for (size_t k = od; k < p.fractional.size(); ++k)
        if (is_digit(p.fractional[k])) err = "D3091";
    }
    if (p.has_exponent && !p.exponent.empty() && (Find(s, percent) != U::npos || Find(s, permille) != U::npos)) err = "D3092";
    if (p.has_exponent) {
      bool bad = p.exponent.empty();
      for (char32_t c : p.exponent)
        if (!is_digit(c)) bad = true;
      if (bad) err = "D3093";
    }
    if (err) return ev.Fail(err, std::string("Invalid picture string for $formatNumber (") + err + ")");
  }
  // Analyse (F&O 4.7.4).
  auto count_if = [](const U& s, auto pred) {
    int n = 0;
    for (char32_t c : s) n += pred(c) ? 1 : 0;
    return n;
  };
  auto digit_or_opt = [&](char32_t c) { return is_digit(c) || (digit.size() && c == digit[0]); };
  std::vector<Pic> pics;
  for (const Parts& p : parts) {
    Pic pic;
    auto positions = [&](const U& part, bool to_left) {
      std::vector<int> pos;
      size_t g = Find(part, group_sep);
      while (g != U::npos) {
        U side = to_left ? part.substr(0, g) : part.substr(g);
        pos.push_back(count_if(side, digit_or_opt));
        g = Find(p.integer, group_sep, g + 1);
      }
      return pos;
    };
    pic.int_groups = positions(p.integer, false);
    if (!pic.int_groups.empty()) {
      int factor = 0;
      for (int x : pic.int_groups) factor = std::gcd(factor, x);
      bool ok = factor > 0;
      for (size_t i = 1; ok && i <= pic.int_groups.size(); ++i) {
        bool found = false;
        for (int x : pic.int_groups) found = found || x == static_cast<int>(i) * factor;
        ok = found;
      }
      pic.regular = ok ? factor : 0;
    }
    pic.frac_groups = positions(p.fractional, true);
    pic.min_int = count_if(p.integer, is_digit);
    pic.scaling = pic.min_int;
    pic.min_frac = count_if(p.fractional, is_digit);
    pic.max_frac = count_if(p.fractional, digit_or_opt);
    if (pic.min_int == 0 && pic.max_frac == 0) {
      if (p.has_exponent) {
        pic.min_frac = 1;
        pic.max_frac = 1;
      } else {
        pic.min_int = 1;
      }
    }
    if (p.has_exponent && pic.min_int == 0 && Find(p.integer, digit) != U::npos) pic.min_int = 1;
    if (pic.min_int == 0 && pic.min_frac == 0) pic.min_frac = 1;
    if (p.has_exponent) pic.min_exp = count_if(p.exponent, is_digit);
    pic.prefix = p.prefix;
    pic.suffix = p.suffix;
    pic.picture = p.sub;
    pics.push_back(pic);
  }
  if (pics.size() == 1) {
    pics.push_back(pics[0]);
    pics[1].prefix = minus + pics[1].prefix;
  }
  double v = value.d;
  const Pic& pic = v >= 0 ? pics[0] : pics[1];
  double adjusted = v;
  if (Find(pic.picture, percent) != U::npos) adjusted = v * 100;
  else if (Find(pic.picture, permille) != U::npos) adjusted = v * 1000;
  double mantissa = adjusted;
  bool has_exp = false;
  int exponent = 0;
  if (pic.min_exp != 0) {
    has_exp = true;
    double maxm = std::pow(10, pic.scaling), minm = std::pow(10, pic.scaling - 1);
    while (mantissa != 0 && std::isfinite(mantissa) && std::fabs(mantissa) < minm) {
      mantissa *= 10;
      exponent -= 1;
    }
    while (std::isfinite(mantissa) && std::fabs(mantissa) > maxm) {
      mantissa /= 10;
      exponent += 1;
    }
  }
  double rounded = BankersRound(mantissa, pic.max_frac);
  auto make_string = [&](double x, int dp) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", dp, std::fabs(x));
    U s = ToU32(buf);
    if (zc != U'0') {
      for (char32_t& c : s)
        if (c >= '0' && c <= '9') c = c - U'0' + zc;
    }
    return s;
  };
  U s = make_string(rounded, pic.max_frac);
  char32_t dsep = decimal_sep.empty() ? U'.' : decimal_sep[0];
  size_t dot = s.find(U'.');
  if (dot == U::npos) s.push_back(dsep);
  else s[dot] = dsep;
  while (!s.empty() && s[0] == zc) s.erase(0, 1);
  while (!s.empty() && s.back() == zc) s.pop_back();
  size_t dpos = s.find(dsep);
  int pad_left = pic.min_int - static_cast<int>(dpos);
  int pad_right = pic.min_frac - static_cast<int>(s.size() - dpos - 1);
  if (pad_left > 0) s.insert(0, static_cast<size_t>(pad_left), zc);
  if (pad_right > 0) s.append(static_cast<size_t>(pad_right), zc);
  dpos = s.find(dsep);
  char32_t gsep = group_sep.empty() ? U',' : group_sep[0];
  if (pic.regular > 0) {
    int groups = (static_cast<int>(dpos) - 1) / pic.regular;
    for (int g = 1; g <= groups; ++g) s.insert(dpos - static_cast<size_t>(g * pic.regular), 1, gsep);
  } else {
    for (int pos : pic.int_groups) {
      if (static_cast<int>(dpos) - pos >= 0) s.insert(dpos - static_cast<size_t>(pos), 1, gsep);
      dpos++;
    }
  }
  dpos = s.find(dsep);
  for (int pos : pic.frac_groups) {
    size_t at = static_cast<size_t>(pos) + dpos + 1;
    if (at <= s.size()) s.insert(at, 1, gsep);
  }
  dpos = s.find(dsep);
  if (pic.min_frac == 0 && dpos == s.size() - 1) s.pop_back();
  if (has_exp) {
    U es = make_string(exponent, 0);
    int pl = pic.min_exp - static_cast<int>(es.size());
    if (pl > 0) es.insert(0, static_cast<size_t>(pl), zc);
    s += exp_sep + (exponent < 0 ? minus : U()) + es;
  }
  s = pic.prefix + s + pic.suffix;
  return StrVal(ev, FromU32(s));
}

EC_JSONATA_FN(FnFormatInteger) {
  Val a = Arg(args, 0), p = Arg(args, 1);
  if (a.undef() || !std::isfinite(a.d)) return {};
  IntegerFormat f = AnalyseIntegerPicture(p.str());
  if (!f.error.empty()) return ev.Fail("D3131", "In a decimal digit pattern, all digits must be from the same decimal group");
  std::string out;
  if (!FormatInteger(std::floor(a.d), f, &out)) {
    ev.Fail("D3130", "Formatting or parsing an integer as a sequence starting with " + f.token + " is not supported by this implementation");
    ev.error.value = f.token;
    return {};
  }
  return StrVal(ev, out);
}

EC_JSONATA_FN(FnParseInteger) {
  Val a = Arg(args, 0), p = Arg(args, 1);
  if (a.undef()) return {};
  IntegerFormat f = AnalyseIntegerPicture(p.str());
  if (!f.error.empty()) return ev.Fail("D3131", "In a decimal digit pattern, all digits must be from the same decimal group");
  if (f.primary == IntegerFormat::kSequence) {
    ev.Fail("D3130", "Formatting or parsing an integer as a sequence starting with " + f.token + " is not supported by this implementation");
    ev.error.value = f.token;
    return {};
  }
  double v;
  if (!ParseInteger(a.str(), f, &v)) return {};
  return Val::Num(v);
}

}  // namespace ec::jsonata::internal
