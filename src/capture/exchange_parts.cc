#include "capture/exchange_parts.h"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "capture/base64.h"
#include "json/document.h"

namespace ec::capture {
namespace {

std::string Lower(std::string_view s) {  // ASCII only (header names, media types)
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

std::string_view MediaType(std::string_view ct) {
  size_t semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && (ct.back() == ' ' || ct.back() == '\t')) ct.remove_suffix(1);
  while (!ct.empty() && (ct.front() == ' ' || ct.front() == '\t')) ct.remove_prefix(1);
  return ct;
}

int Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

json::Value ObjectOf(std::initializer_list<json::Member> members, json::Builder& b) {
  return b.Object(std::span<const json::Member>(members.begin(), members.size()));
}

json::Value HeadersValue(std::span<const HeaderPair> headers, json::Builder& b) {
  std::vector<std::string> names;
  std::vector<std::string> values;
  for (const auto& [name, value] : headers) {
    std::string lower = Lower(name);
    size_t i = 0;
    while (i < names.size() && names[i] != lower) ++i;
    if (i == names.size()) {
      names.push_back(std::move(lower));
      values.emplace_back(value);
    } else {
      values[i].append(", ").append(value);
    }
  }
  std::vector<json::Member> members;
  members.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    members.push_back({b.arena()->CopyString(names[i]), b.String(values[i])});
  }
  return b.Object(members, /*keys_stable=*/true);
}


json::Value QueryValue(std::string_view query, json::Builder& b) {
  std::vector<std::string> keys;
  std::vector<std::vector<std::string>> vals;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string key = PercentDecode(part.substr(0, eq), true);
    std::string val = eq == std::string_view::npos ? "" : PercentDecode(part.substr(eq + 1), true);
    size_t i = 0;
    while (i < keys.size() && keys[i] != key) ++i;
    if (i == keys.size()) {
      keys.push_back(std::move(key));
      vals.emplace_back();
    }
    vals[i].push_back(std::move(val));
  }
  std::vector<json::Member> members;
  for (size_t i = 0; i < keys.size(); ++i) {
    json::Value v;
    if (vals[i].size() == 1) {
      v = b.String(vals[i][0]);
    } else {
      std::vector<json::Value> items;
      for (const auto& s : vals[i]) items.push_back(b.String(s));
      v = b.Array(items);
    }
    members.push_back({b.arena()->CopyString(keys[i]), v});
  }
  return b.Object(members, /*keys_stable=*/true);
}

bool IsJsonContentType(std::string_view content_type) {
  std::string mt = Lower(MediaType(content_type));
  return mt == "application/json" ||
         (mt.size() > 5 && mt.compare(mt.size() - 5, 5, "+json") == 0);
}

json::Value BodyValue(std::string_view bytes, std::string_view content_type, json::Builder& b,
                      bool* base64) {
  if (base64) *base64 = false;
  if (bytes.empty()) return json::Value::Null();
  if (IsJsonContentType(content_type)) {
    json::Value parsed;
    if (json::ParseInto(bytes, b.arena(), &parsed).ok()) return parsed;
  }
  if (Lower(MediaType(content_type)) == "application/x-www-form-urlencoded" && IsValidUtf8(bytes)) {
    return QueryValue(bytes, b);
  }
  if (IsValidUtf8(bytes)) return b.String(bytes);
  std::string encoded;
  AppendBase64(bytes, &encoded);
  if (base64) *base64 = true;
  return b.String(encoded);
}

std::string FormatRfc3339Millis(int64_t unix_ms) {
  int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  int ms = static_cast<int>(unix_ms - secs * 1000);
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

bool ParseRfc3339Millis(std::string_view s, int64_t* unix_ms) {
  int y = Digits(s, 0, 4), mo = Digits(s, 5, 2), d = Digits(s, 8, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || s[4] != '-' || s[7] != '-') return false;
  if (s.size() < 19 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ')) return false;
  int h = Digits(s, 11, 2), mi = Digits(s, 14, 2), se = Digits(s, 17, 2);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60 || s[13] != ':' || s[16] != ':')
    return false;
  size_t p = 19;
  int ms = 0;
  if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
    ++p;
    int scale = 100;
    size_t start = p;
    while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) {
      ms += (s[p] - '0') * scale;
      scale /= 10;
      ++p;
    }
    if (p == start) return false;
  }
  int offset_min = 0;
  if (p < s.size()) {
    if (s[p] == 'Z' || s[p] == 'z') {
      ++p;
    } else if (s[p] == '+' || s[p] == '-') {
      int sign = s[p] == '-' ? -1 : 1;
      int oh = Digits(s, p + 1, 2);
      size_t q = p + 3;
      if (q < s.size() && s[q] == ':') ++q;
      int om = Digits(s, q, 2);
      if (oh < 0 || om < 0) return false;
      offset_min = sign * (oh * 60 + om);
      p = q + 2;
    } else {
      return false;
    }
  }
  if (p != s.size()) return false;
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_min * 60;
  *unix_ms = secs * 1000 + ms;
  return true;
}

void SplitTarget(std::string_view target, std::string_view* path, std::string_view* query) {
  size_t hash = target.find('#');
  if (hash != std::string_view::npos) target = target.substr(0, hash);
  size_t q = target.find('?');
  *path = target.substr(0, q);
  *query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

}  // namespace ec::capture
