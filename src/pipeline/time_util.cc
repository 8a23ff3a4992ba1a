// RFC 3339 times <-> milliseconds since the epoch (UTC), without locale or time-zone state.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/processor.h"
#include "pipeline/time_util.h"

namespace ec::pipeline {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

void Pad(int v, int width, std::string* out) {
  char buf[12];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  for (int i = n; i < width; ++i) out->push_back('0');
  while (n > 0) out->push_back(buf[--n]);
}

// The 8 bytes at `p` as one little-endian word.
uint64_t Load8(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// Whether the bytes of `w` where `digits` has 0xFF are ASCII digits: each such byte XOR '0' is
// below 10, so adding 0x76 leaves its top bit clear (a byte at 0x80 or above has it set
// already; the carry out of such a byte does not matter, it fails anyway).
bool DigitsAt(uint64_t w, uint64_t digits) {
  const uint64_t x = (w ^ 0x3030303030303030ull) & digits;
  return (((x + 0x7676767676767676ull) | x) & 0x8080808080808080ull) == 0;
}

// For an 8-character pattern ('d' a digit, anything else a separator): 0xFF in the bytes of
// its separators, and their values (little-endian: character i is bits 8i..8i+7).
constexpr uint64_t SeparatorMask(const char (&pattern)[9]) {
  uint64_t m = 0;
  for (int i = 0; i < 8; ++i) {
    if (pattern[i] != 'd') m |= uint64_t{0xFF} << (8 * i);
  }
  return m;
}
constexpr uint64_t Separators(const char (&pattern)[9]) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    if (pattern[i] != 'd') v |= uint64_t{static_cast<unsigned char>(pattern[i])} << (8 * i);
  }
  return v;
}

// The fields of a time in the canonical spelling, as digits read.
struct CanonicalFields {
  int month, day, hour, minute, second;
};

// "YYYY-MM-DDTHH:MM:SS.mmmZ", the spelling of every canonical exchange's time (ingest writes
// it so): its digits and separators tested with three word loads, and the fields' ranges, as
// the general parse checks them. False when the text is not of this shape or out of range.
// Inlined into both callers: the parse goes on to the day count, the check stops here.
[[gnu::always_inline]] inline bool ReadCanonical(std::string_view s, CanonicalFields* f) {
  if (s.size() != 24) return false;
  const char* p = s.data();
  const uint64_t a = Load8(p), b = Load8(p + 8), c = Load8(p + 16);
  // Per word: the separators' bytes (mask) and values, from the pattern's 8 characters.
  if ((a & SeparatorMask("dddd-dd-")) != Separators("dddd-dd-") ||
      (b & SeparatorMask("ddTdd:dd")) != Separators("ddTdd:dd") ||
      (c & SeparatorMask(":dd.dddZ")) != Separators(":dd.dddZ")) {
    return false;
  }
  if (!DigitsAt(a, ~SeparatorMask("dddd-dd-")) || !DigitsAt(b, ~SeparatorMask("ddTdd:dd")) ||
      !DigitsAt(c, ~SeparatorMask(":dd.dddZ"))) {
    return false;
  }
  auto d = [p](int i) { return p[i] - '0'; };
  f->month = d(5) * 10 + d(6);
  f->day = d(8) * 10 + d(9);
  f->hour = d(11) * 10 + d(12);
  f->minute = d(14) * 10 + d(15);
  f->second = d(17) * 10 + d(18);
  return f->month >= 1 && f->month <= 12 && f->day >= 1 && f->day <= 31 && f->hour <= 23 && f->minute <= 59 &&
         f->second <= 60;
}

// The canonical spelling's milliseconds, ~90 instructions instead of the general parse's ~280
// (the pipeline reads every stored exchange's time). nullopt when the text is not of this
// shape or out of range (the general parse decides then).
std::optional<int64_t> ParseCanonicalMs(std::string_view s) {
  CanonicalFields f;
  if (!ReadCanonical(s, &f)) return std::nullopt;
  const char* p = s.data();
  auto d = [p](int i) { return p[i] - '0'; };
  const int year = d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3);
  const int64_t millis = d(20) * 100 + d(21) * 10 + d(22);
  const int64_t days = DaysFromCivil(year, static_cast<unsigned>(f.month), static_cast<unsigned>(f.day));
  return (days * 86400 + f.hour * 3600 + f.minute * 60 + std::min(f.second, 59)) * 1000 + millis;
}

}  // namespace

std::optional<int64_t> ParseRfc3339Ms(std::string_view s) {
  if (std::optional<int64_t> ms = ParseCanonicalMs(s)) return ms;
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &month) ||
      s[7] != '-' || !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &hour) || s[13] != ':' || !Digits(s, 14, 2, &minute) || s[16] != ':' ||
      !Digits(s, 17, 2, &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  int64_t offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    // "+01:00" (RFC 3339) or "+0100" (ISO 8601 basic, as some gateways write it).
    int oh, om;
    bool colon = pos + 3 < s.size() && s[pos + 3] == ':';
    if (!Digits(s, pos + 1, 2, &oh) || !Digits(s, pos + (colon ? 4 : 3), 2, &om)) {
      return std::nullopt;
    }
    offset_min = (s[pos] == '+' ? 1 : -1) * (oh * 60 + om);
    pos += colon ? 6 : 5;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + std::min(second, 59) - offset_min * 60;
  return secs * 1000 + millis;
}

bool IsRfc3339Ms(std::string_view s) {
  CanonicalFields f;
  return ReadCanonical(s, &f) || ParseRfc3339Ms(s).has_value();
}

std::string FormatRfc3339Ms(int64_t ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  int millis = static_cast<int>(ms - secs * 1000);
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int sod = static_cast<int>(secs - days * 86400);
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  std::string out;
  out.reserve(24);
  Pad(static_cast<int>(y), 4, &out);
  out.push_back('-');
  Pad(static_cast<int>(m), 2, &out);
  out.push_back('-');
  Pad(static_cast<int>(d), 2, &out);
  out.push_back('T');
  Pad(sod / 3600, 2, &out);
  out.push_back(':');
  Pad(sod / 60 % 60, 2, &out);
  out.push_back(':');
  Pad(sod % 60, 2, &out);
  out.push_back('.');
  Pad(millis, 3, &out);
  out.push_back('Z');
  return out;
}

}  // namespace ec::pipeline
