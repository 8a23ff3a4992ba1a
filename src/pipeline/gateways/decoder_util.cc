#include "pipeline/gateways/decoder_util.h"

#include <cctype>
#include <charconv>
#include <cstring>

#include "pipeline/processor.h"

namespace ec::pipeline::gateways {
namespace {
const json::Value kNull;

int Num(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}
}  // namespace

const json::Value& Get(const json::Value& obj, std::string_view key) {
  const json::Value* v = obj.Find(key);
  return v != nullptr ? *v : kNull;
}

const json::Value& GetAny(const json::Value& obj, std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys) {
    const json::Value& v = Get(obj, k);
    if (!v.is_null()) return v;
  }
  return kNull;
}

json::Value Absent(const json::Value& v) {
  if (v.is_string() && (v.string().empty() || v.string() == "-")) return json::Value::Null();
  return v;
}

json::Value Numeric(const json::Value& v) {
  if (v.is_number()) return v;
  if (!v.is_string()) return json::Value::Null();
  std::string_view s = v.string();
  double d = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return json::Value::Null();
  return json::Value::Number(d);
}

bool ParseClfTime(std::string_view s, int64_t* unix_ms) {
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // dd/Mon/yyyy:HH:MM:SS[.mmm] +zzzz
  if (s.size() < 20 || s[2] != '/' || s[6] != '/' || s[11] != ':') return false;
  int mon = -1;
  for (int i = 0; i < 12; ++i) {
    if (s.substr(3, 3) == kMonths[i]) mon = i + 1;
  }
  int day = Num(s, 0, 2), year = Num(s, 7, 4);
  if (mon < 0 || day < 0 || year < 0) return false;
  std::string iso = std::to_string(year) + "-" + (mon < 10 ? "0" : "") + std::to_string(mon) + "-" +
                    std::string(s.substr(0, 2)) + "T";
  size_t rest = 12;
  size_t sp = s.find(' ', rest);
  std::string_view clock = s.substr(rest, sp == std::string_view::npos ? s.size() - rest : sp - rest);
  iso.append(clock);
  if (sp != std::string_view::npos) {
    std::string_view zone = s.substr(sp + 1);
    if (zone.size() != 5) return false;
    iso.append(zone.substr(0, 3)).append(":").append(zone.substr(3));
  } else {
    iso.append("Z");
  }
  std::optional<int64_t> ms = ParseRfc3339Ms(iso);
  if (ms) *unix_ms = *ms;
  return ms.has_value();
}

json::Value TimeValue(const json::Value& v) {
  if (!v.is_string()) return v;
  if (std::optional<int64_t> ms = ParseRfc3339Ms(v.string())) return json::Value::Number(double(*ms));
  return v;
}

std::string_view HostOfAddress(std::string_view a) {
  if (!a.empty() && a[0] == '[') {
    size_t close = a.find(']');
    return close == std::string_view::npos ? a : a.substr(1, close - 1);
  }
  if (a.find(':') != a.rfind(':')) return a;  // a bare IPv6 address
  return a.substr(0, a.find(':'));
}

}  // namespace ec::pipeline::gateways
