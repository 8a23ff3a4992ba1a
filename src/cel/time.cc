// GCC 12's libstdc++ has no std::chrono::locate_zone (tzdb arrived in GCC 13), so IANA zones are
// read here from the system's TZif files, parsed once per zone and cached.

#include "cel/time.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

namespace ec::cel {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool Digits(std::string_view s, size_t at, int n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[at + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// --- TZif

struct Zone {
  std::vector<int64_t> transitions;
  std::vector<uint8_t> types;    // type index per transition
  std::vector<int32_t> offsets;  // utoff per type
  int32_t initial = 0;           // offset before the first transition
};

uint32_t Be32(const unsigned char* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }
int64_t Be64(const unsigned char* p) { return static_cast<int64_t>((uint64_t(Be32(p)) << 32) | Be32(p + 4)); }

std::unique_ptr<Zone> LoadZone(std::string_view name) {
  // Names are path-like ("America/New_York"); refuse anything that could escape the directory.
  if (name.empty() || name.size() > 64 || name.find("..") != std::string_view::npos || name[0] == '/') return nullptr;
  for (char c : name)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' || c == '+')) return nullptr;
  std::string path = "/usr/share/zoneinfo/" + std::string(name);
  // A region directory ("America") opens but throws on read: only regular files are zones.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return nullptr;
  std::ifstream f(path, std::ios::binary);
  if (!f) return nullptr;
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t size = data.size();
  if (size < 44 || std::memcmp(p, "TZif", 4) != 0) return nullptr;
  auto counts = [&](size_t at, uint32_t c[6]) {
    for (int i = 0; i < 6; ++i) c[i] = Be32(p + at + 20 + 4 * i);  // isut isstd leap time type char
  };
  uint32_t c[6];
  counts(0, c);
  size_t at = 44;
  bool v2 = p[4] >= '2';
  size_t time_size = 4;
  if (v2) {
    // Skip the v1 block; use the 64-bit v2 block.
    at += c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    if (at + 44 > size || std::memcmp(p + at, "TZif", 4) != 0) return nullptr;
    counts(at, c);
    at += 44;
    time_size = 8;
  }
  uint32_t timecnt = c[3], typecnt = c[4];
  if (at + timecnt * time_size + timecnt + typecnt * 6 > size || typecnt == 0) return nullptr;
  auto zone = std::make_unique<Zone>();
  for (uint32_t i = 0; i < timecnt; ++i)
    zone->transitions.push_back(time_size == 8 ? Be64(p + at + 8 * i) : static_cast<int32_t>(Be32(p + at + 4 * i)));
  at += timecnt * time_size;
  for (uint32_t i = 0; i < timecnt; ++i) zone->types.push_back(std::min<uint8_t>(p[at + i], typecnt - 1));
  at += timecnt;
  for (uint32_t i = 0; i < typecnt; ++i) zone->offsets.push_back(static_cast<int32_t>(Be32(p + at + 6 * i)));
  zone->initial = zone->offsets[0];
  // Beyond the last transition the zone keeps its last offset. Debian's tzdata files list
  // transitions up to 2037, so this only simplifies DST rules for later dates.
  return zone;
}

const Zone* FindZone(std::string_view name) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Zone>, std::less<>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(name);
  if (it != cache.end()) return it->second.get();
  if (cache.size() > 1000) return nullptr;  // bound memory under hostile zone names
  auto zone = LoadZone(name);
  const Zone* z = zone.get();
  cache.emplace(std::string(name), std::move(zone));
  return z;
}

}  // namespace

void NormalizeTimestamp(int64_t* seconds, int64_t* nanos) {
  *seconds += FloorDiv(*nanos, 1000000000);
  *nanos -= FloorDiv(*nanos, 1000000000) * 1000000000;
}

bool NormalizeDuration(int64_t* seconds, int64_t* nanos) {
  int64_t carry = *nanos / 1000000000;
  if (__builtin_add_overflow(*seconds, carry, seconds)) return false;
  *nanos %= 1000000000;
  if (*seconds > 0 && *nanos < 0) {
    --*seconds;
    *nanos += 1000000000;
  } else if (*seconds < 0 && *nanos > 0) {
    ++*seconds;
    *nanos -= 1000000000;
  }
  return true;
}

CivilTime ToCivil(int64_t seconds) {
  CivilTime t;
  int64_t days = FloorDiv(seconds, 86400);
  int64_t rem = seconds - days * 86400;
  CivilFromDays(days, &t.year, &t.month, &t.day);
  t.hour = static_cast<int>(rem / 3600);
  t.minute = static_cast<int>(rem / 60 % 60);
  t.second = static_cast<int>(rem % 60);
  t.day_of_week = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  t.day_of_year = static_cast<int>(days - DaysFromCivil(t.year, 1, 1));
  return t;
}

bool ParseTimestamp(std::string_view s, int64_t* seconds, int32_t* nanos) {
  int y, mo, d, h, mi, se;
  if (!Digits(s, 0, 4, &y) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &mo) || s[7] != '-' ||
      !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !Digits(s, 11, 2, &h) || s[13] != ':' ||
      !Digits(s, 14, 2, &mi) || s[16] != ':' || !Digits(s, 17, 2, &se)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
  size_t i = 19;
  int64_t frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 9) frac = frac * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return false;
    for (int k = digits; k < 9; ++k) frac *= 10;
  }
  int64_t offset = 0;
  if (i >= s.size()) return false;
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int oh, om;
    if (!Digits(s, i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' || !Digits(s, i + 4, 2, &om)) return false;
    offset = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  int64_t secs = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
  if (secs < kMinTimestampSeconds || secs > kMaxTimestampSeconds) return false;
  *seconds = secs;
  *nanos = static_cast<int32_t>(frac);
  return true;
}

std::string FormatTimestamp(int64_t seconds, int32_t nanos) {
  CivilTime t = ToCivil(seconds);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02dT%02d:%02d:%02d", static_cast<long long>(t.year), t.month, t.day,
                t.hour, t.minute, t.second);
  std::string out = buf;
  if (nanos != 0) {
    std::snprintf(buf, sizeof(buf), ".%09d", nanos);
    std::string frac = buf;
    while (frac.back() == '0') frac.pop_back();
    out += frac;
  }
  out += 'Z';
  return out;
}

bool ParseDuration(std::string_view s, int64_t* seconds, int32_t* nanos) {
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  if (i >= s.size()) return false;
  if (s.substr(i) == "0") {
    *seconds = 0;
    *nanos = 0;
    return true;
  }
  // Accumulate in nanoseconds as a long double-free exact sum: integer part and fraction.
  __int128 total = 0;
  while (i < s.size()) {
    __int128 whole = 0;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      whole = whole * 10 + (s[i] - '0');
      if (whole > (__int128)1 << 100) return false;
      ++i;
    }
    bool has_whole = i > start;
    __int128 frac = 0, scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      size_t fs = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (scale < (__int128)1000000000000000000) {
          frac = frac * 10 + (s[i] - '0');
          scale *= 10;
        }
        ++i;
      }
      if (i == fs && !has_whole) return false;
    } else if (!has_whole) {
      return false;
    }
    int64_t unit;
    auto rest = s.substr(i);
    if (rest.rfind("ns", 0) == 0) { unit = 1; i += 2; }
    else if (rest.rfind("us", 0) == 0) { unit = 1000; i += 2; }
    else if (rest.rfind("\xC2\xB5s", 0) == 0) { unit = 1000; i += 3; }
    else if (rest.rfind("ms", 0) == 0) { unit = 1000000; i += 2; }
    else if (rest.rfind("s", 0) == 0) { unit = 1000000000; i += 1; }
    else if (rest.rfind("m", 0) == 0) { unit = 60LL * 1000000000; i += 1; }
    else if (rest.rfind("h", 0) == 0) { unit = 3600LL * 1000000000; i += 1; }
    else return false;
    total += whole * unit + frac * unit / scale;
    if (total > (__int128)kMaxDurationSeconds * 1000000000) return false;
  }
  if (neg) total = -total;
  *seconds = static_cast<int64_t>(total / 1000000000);
  *nanos = static_cast<int32_t>(total % 1000000000);
  return true;
}

std::string FormatDuration(int64_t seconds, int32_t nanos) {
  std::string out;
  if (seconds < 0 || nanos < 0) out += '-';
  uint64_t s = seconds < 0 ? 0 - static_cast<uint64_t>(seconds) : seconds;
  int32_t n = nanos < 0 ? -nanos : nanos;
  out += std::to_string(s);
  if (n != 0) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), ".%09d", n);
    std::string frac = buf;
    while (frac.back() == '0') frac.pop_back();
    out += frac;
  }
  out += 's';
  return out;
}

bool ZoneOffset(std::string_view tz, int64_t seconds, int64_t* offset) {
  if (tz == "UTC" || tz == "Z" || tz == "utc") {
    *offset = 0;
    return true;
  }
  // Fixed offsets: "+05:30", "-08:00", or "02:00" (sign optional, as cel-go accepts).
  if (!tz.empty() && (tz[0] == '+' || tz[0] == '-' || (tz[0] >= '0' && tz[0] <= '9'))) {
    bool neg = tz[0] == '-';
    std::string_view rest = (tz[0] == '+' || tz[0] == '-') ? tz.substr(1) : tz;
    int h, m;
    if (rest.size() == 5 && Digits(rest, 0, 2, &h) && rest[2] == ':' && Digits(rest, 3, 2, &m)) {
      *offset = (h * 3600 + m * 60) * (neg ? -1 : 1);
      return true;
    }
    return false;
  }
  const Zone* z = FindZone(tz);
  if (z == nullptr) return false;
  const auto& tr = z->transitions;
  auto it = std::upper_bound(tr.begin(), tr.end(), seconds);
  if (it == tr.begin()) {
    *offset = z->initial;
  } else {
    *offset = z->offsets[z->types[(it - tr.begin()) - 1]];
  }
  return true;
}

}  // namespace ec::cel
