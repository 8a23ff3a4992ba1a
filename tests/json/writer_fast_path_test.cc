// AppendJsNumber's fast path (integers and short decimals) writes exactly what the general
// code writes, and AppendQuoted's runs of plain bytes what escaping byte by byte writes:
// checked against reference implementations of the general rules over generated inputs.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "json/writer.h"
#include "json/reference_quote.h"

namespace ec::json {
namespace {

// Number::toString by the ECMA-262 rules from the shortest round-trip digits (the general
// path of AppendJsNumber).
std::string ReferenceNumber(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return "0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string out;
  if (sci[0] == '-') {
    out = "-";
    sci.erase(0, 1);
  }
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits += c;
  }
  int exp10 = std::stoi(sci.substr(e + 1));
  int k = static_cast<int>(digits.size()), n = exp10 + 1;
  if (k <= n && n <= 21) return out + digits + std::string(n - k, '0');
  if (0 < n && n <= 21) return out + digits.substr(0, n) + "." + digits.substr(n);
  if (-6 < n && n <= 0) return out + "0." + std::string(-n, '0') + digits;
  out += digits[0];
  if (k > 1) out += "." + digits.substr(1);
  return out + "e" + (n - 1 >= 0 ? "+" : "-") + std::to_string(std::abs(n - 1));
}

std::string Number(double d) {
  std::string out = "x";  // appends, after what is there
  AppendJsNumber(d, &out);
  return out.substr(1);
}

void ExpectNumber(double d) {
  ASSERT_EQ(Number(d), ReferenceNumber(d)) << "bits of d: " << std::bit_cast<uint64_t>(d);
}

TEST(WriterFastPath, IntegersAndShortDecimals) {
  for (double d : {1.0, -1.0, 25.0, 0.5, 3.99, 12.5, 149.0, 620.0, 0.1, 0.01, 0.001, 0.0001, 0.00001, 1e-7,
                   123456789.1234, 999999999.9999, 1e9, 1e9 + 0.5, 4503599627370495.5, 9007199254740991.0,
                   9007199254740992.0, 9007199254740993.0, 1e21, 1e20, 123e18, -0.0, 0.3, 0.1 + 0.2, 1.0 / 3,
                   std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::max(),
                   std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                   std::numeric_limits<double>::quiet_NaN()}) {
    ExpectNumber(d);
    ExpectNumber(-d);
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    const int64_t n = static_cast<int64_t>(rng() % 2000000000001ULL) - 1000000000000LL;
    const double scales[] = {1, 10, 100, 1000, 10000, 100000, 1e6, 1e9};
    ExpectNumber(static_cast<double>(n) / scales[i % 8]);                      // decimals
    ExpectNumber(static_cast<double>(static_cast<int64_t>(rng() >> (i % 64))));  // integers of any size
    ExpectNumber(std::bit_cast<double>(rng()));                                // anything
    ExpectNumber(static_cast<double>(rng() % 100000) / 100 * 3);               // computed prices
  }
}

TEST(WriterFastPath, QuotedStrings) {
  std::mt19937_64 rng(11);
  const unsigned char specials[] = {0, 1, 0x1f, '\n', '\t', '"', '\\', 0xED, 0xA0, 0x80, 0x20, 0x7f, 0xff, 0x21, 0x5b};
  for (int i = 0; i < 300000; ++i) {
    std::string s(rng() % 40, 'a');
    for (char& c : s) c = static_cast<char>(0x20 + rng() % 0x5f);
    const int edits = static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) s[rng() % s.size()] = static_cast<char>(specials[rng() % sizeof specials]);
    std::string out = "x";
    AppendQuoted(s, &out);
    ASSERT_EQ(out.substr(1), testing::ReferenceQuoted(s)) << s;
    bool plain = true;  // QuotedAsIs is conservative: any 0xED byte may start a surrogate
    for (unsigned char c : s) plain = plain && c >= 0x20 && c != '"' && c != '\\' && c != 0xED;
    ASSERT_EQ(QuotedAsIs(s), plain) << s;
  }
}

}  // namespace
}  // namespace ec::json
