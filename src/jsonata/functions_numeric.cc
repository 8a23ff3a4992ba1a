// Numeric functions, aggregation and booleans.

#include <chrono>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <random>

#include "jsonata/functions.h"

namespace ec::jsonata::internal {

EC_JSONATA_FN(FnNumber) {
  Val a = Arg(args, 0);
  if (a.undef()) return {};
  if (a.is_num()) return a;
  if (a.is_bool()) return Val::Num(a.b() ? 1 : 0);
  if (a.is_str()) {
    std::string s(a.str());
    const char* p = s.c_str();
    size_t i = 0;
    if (p[i] == '-') i++;
    bool ok = false;
    if (p[i] == '0' && i + 1 < s.size() && (p[i + 1] == 'x' || p[i + 1] == 'X' || p[i + 1] == 'o' || p[i + 1] == 'O' || p[i + 1] == 'b' || p[i + 1] == 'B') && i == 0) {
      int base = (p[1] == 'x' || p[1] == 'X') ? 16 : (p[1] == 'o' || p[1] == 'O') ? 8 : 2;
      char* end = nullptr;
      double v = static_cast<double>(std::strtoull(p + 2, &end, base));
      if (end && *end == 0 && end != p + 2) return Val::Num(v);
      return ev.FailV("D3030", "Unable to cast value to a number", a);
    }
    // -?(0|[1-9][0-9]*)(\.[0-9]+)?([Ee][-+]?[0-9]+)?
    size_t j = i;
    if (p[j] >= '0' && p[j] <= '9') {
      while (p[j] >= '0' && p[j] <= '9') j++;
      ok = true;
    }
    if (ok && p[j] == '.') {
      j++;
      if (!(p[j] >= '0' && p[j] <= '9')) ok = false;
      while (p[j] >= '0' && p[j] <= '9') j++;
    }
    if (ok && (p[j] == 'e' || p[j] == 'E')) {
      j++;
      if (p[j] == '+' || p[j] == '-') j++;
      if (!(p[j] >= '0' && p[j] <= '9')) ok = false;
      while (p[j] >= '0' && p[j] <= '9') j++;
    }
    if (ok && j == s.size()) {
      double d = std::strtod(p, nullptr);
      if (std::isfinite(d)) return Val::Num(d);
    }
  }
  return ev.FailV("D3030", "Unable to cast value to a number", a);
}

EC_JSONATA_FN(FnAbs) {
  Val a = Arg(args, 0);
  if (a.undef()) return {};
  return Val::Num(std::fabs(a.d));
}
EC_JSONATA_FN(FnFloor) {
  Val a = Arg(args, 0);
  if (a.undef()) return {};
  return Val::Num(std::floor(a.d));
}
EC_JSONATA_FN(FnCeil) {
  Val a = Arg(args, 0);
  if (a.undef()) return {};
  return Val::Num(std::ceil(a.d));
}

namespace {

// Shifts the decimal point of `x` by `places` exactly as jsonata-js does (through the text).
double Shift(double x, int64_t places) {
  // Fast exact path: x's shortest digits D (as JavaScript prints them) and exponent E give
  // x' = D * 10^(E + places); when D < 2^53 and |E + places| <= 22 both factors are exact
  // doubles and one multiplication or division rounds correctly, as strtod of the text would.
  if (x != 0 && std::isfinite(x)) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
    const char* p = buf;
    bool negative = *p == '-';
    if (negative) ++p;
    uint64_t digits = 0;
    int ndigits = 0;
    for (; p < res.ptr && *p != 'e'; ++p) {
      if (*p == '.') continue;
      digits = digits * 10 + static_cast<uint64_t>(*p - '0');
      ndigits++;
    }
    int exp10 = 0;
    if (p < res.ptr) std::from_chars(p + 1 + (p[1] == '+'), res.ptr, exp10);
    static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    int64_t k = static_cast<int64_t>(exp10) - (ndigits - 1) + places;  // x = digits * 10^(exp10-ndigits+1)
    if (ndigits <= 15 && k >= -22 && k <= 22) {
      double d = static_cast<double>(digits);
      double r = k >= 0 ? d * kPow10[k] : d / kPow10[-k];
      return negative ? -r : r;
    }
  }
  std::string t = NumText(x);
  size_t e = t.find('e');
  std::string mant = e == std::string::npos ? t : t.substr(0, e);
  int64_t exp = e == std::string::npos ? 0 : std::strtoll(t.c_str() + e + 1, nullptr, 10);
  std::string s = mant + "e" + std::to_string(exp + places);
  return std::strtod(s.c_str(), nullptr);
}

}  // namespace

EC_JSONATA_FN(FnRound) {
  Val a = Arg(args, 0), pv = Arg(args, 1);
  if (a.undef()) return {};
  double x = a.d;
  int64_t prec = pv.undef() ? 0 : ClampInt(pv.d);
  if (prec) x = Shift(x, prec);
  double r = std::floor(x + 0.5);
  double diff = r - x;
  if (std::fabs(diff) == 0.5 && std::fabs(std::fmod(r, 2)) == 1) r -= 1;
  if (prec) r = Shift(r, -prec);
  if (r == 0) r = 0;  // no negative zero
  return Val::Num(r);
}

EC_JSONATA_FN(FnPower) {
  Val a = Arg(args, 0), b = Arg(args, 1);
  if (a.undef()) return {};
  double r = std::pow(a.d, b.d);
  if (!std::isfinite(r)) {
    ev.Fail("D3061", "The power function has resulted in a value that cannot be represented as a JSON number: base=" +
                         NumText(a.d) + ", exponent=" + NumText(b.d));
    ev.error.value = NumText(a.d);
    return {};
  }
  return Val::Num(r);
}

EC_JSONATA_FN(FnSqrt) {
  Val a = Arg(args, 0);
  if (a.undef()) return {};
  if (a.d < 0) return ev.FailV("D3060", "The sqrt function cannot be applied to a negative number: " + NumText(a.d), a);
  return Val::Num(std::sqrt(a.d));
}

EC_JSONATA_FN(FnRandom) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return Val::Num(std::uniform_real_distribution<double>(0.0, 1.0)(rng));
}

EC_JSONATA_FN(FnSum) {
  Val a = Arg(args, 0);
  if (a.undef()) return {};
  double s = 0;
  uint32_t n = ArrSize(a);
  for (uint32_t i = 0; i < n; ++i) s += ArrAt(a, i).d;
  return Val::Num(s);
}

EC_JSONATA_FN(FnMax) {
  Val a = Arg(args, 0);
  if (a.undef() || ArrSize(a) == 0) return {};
  double m = -INFINITY;
  uint32_t n = ArrSize(a);
  for (uint32_t i = 0; i < n; ++i) m = std::max(m, ArrAt(a, i).d);
  return Val::Num(m);
}

EC_JSONATA_FN(FnMin) {
  Val a = Arg(args, 0);
  if (a.undef() || ArrSize(a) == 0) return {};
  double m = INFINITY;
  uint32_t n = ArrSize(a);
  for (uint32_t i = 0; i < n; ++i) m = std::min(m, ArrAt(a, i).d);
  return Val::Num(m);
}

EC_JSONATA_FN(FnAverage) {
  Val a = Arg(args, 0);
  if (a.undef() || ArrSize(a) == 0) return {};
  double s = 0;
  uint32_t n = ArrSize(a);
  for (uint32_t i = 0; i < n; ++i) s += ArrAt(a, i).d;
  return Val::Num(s / n);
}

EC_JSONATA_FN(FnCount) {
  Val a = Arg(args, 0);
  if (a.undef()) return Val::Num(0);
  return Val::Num(ArrSize(a));
}

EC_JSONATA_FN(FnBoolean) {
  Val a = Arg(args, 0);
  if (a.undef()) return {};
  return Val::Bool(ToBoolean(a));
}

EC_JSONATA_FN(FnNot) {
  Val a = Arg(args, 0);
  if (a.undef()) return {};
  return Val::Bool(!ToBoolean(a));
}

EC_JSONATA_FN(FnExists) { return Val::Bool(!Arg(args, 0).undef()); }

}  // namespace ec::jsonata::internal
