#include "pipeline/decode_util.h"

#include <string>
#include <string_view>
#include <vector>

namespace ec::pipeline::internal {

bool DecodeBase64(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else if (c == '=') { ++pad; continue; }
    else if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    else return false;
    if (pad > 0) return false;  // data after padding
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return pad <= 2 && bits < 6;
}

json::Value ParseQueryString(std::string_view query, json::Builder& b) {
  struct Entry {
    std::string key;
    std::vector<json::Value> values;
  };
  std::vector<Entry> entries;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view part = query.substr(pos, amp - pos);
    pos = amp + 1;
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string key = PercentDecode(part.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? std::string() : PercentDecode(part.substr(eq + 1), true);
    json::Value v = b.String(value);
    bool found = false;
    for (Entry& e : entries) {
      if (e.key == key) {
        e.values.push_back(v);
        found = true;
        break;
      }
    }
    if (!found) entries.push_back(Entry{std::move(key), {v}});
  }
  std::vector<json::Member> members;
  members.reserve(entries.size());
  for (const Entry& e : entries) {
    json::Value v = e.values.size() == 1 ? e.values[0] : b.Array(e.values);
    members.push_back(json::Member{e.key, v});
  }
  return b.Object(members);
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    unsigned char c = p[i];
    if (c < 0x80) { ++i; continue; }
    size_t n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) { n = 1; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { n = 2; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { n = 3; cp = c & 0x07; }
    else return false;
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

Status WrongType(std::string_view where, std::string_view field, std::string_view want,
                 const json::Value& got) {
  std::string m(where);
  if (!m.empty()) m += ": ";
  m.append(field).append(" must be ").append(want).append(", got ").append(json::KindName(got.kind()));
  return InvalidArgument(std::move(m));
}

namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t dot = path.find('.', pos);
    if (dot == std::string_view::npos) dot = path.size();
    out.push_back(path.substr(pos, dot - pos));
    pos = dot + 1;
  }
  return out;
}

// Rebuilds `v` with the value at `path` replaced; `headers` makes names case-insensitive.
json::Value RedactAt(const json::Value& v, std::span<const std::string_view> path, bool headers,
                     json::Builder& b, int depth) {
  if (path.empty()) return json::Value::StringRef(kRedacted);
  if (depth > 64) return v;
  if (v.is_array()) {
    std::vector<json::Value> elems(v.array().begin(), v.array().end());
    bool changed = false;
    for (json::Value& e : elems) {
      if (e.is_object() || e.is_array()) {
        e = RedactAt(e, path, headers, b, depth + 1);
        changed = true;
      }
    }
    return changed ? b.Array(elems) : v;
  }
  if (!v.is_object()) return v;
  std::string_view seg = path[0];
  std::vector<json::Member> members(v.object().begin(), v.object().end());
  bool changed = false;
  for (json::Member& m : members) {
    bool hit = seg == "*" || (headers ? EqualsIgnoreCase(m.key, seg) : m.key == seg);
    if (!hit) continue;
    m.value = RedactAt(m.value, path.subspan(1), seg == "headers", b, depth + 1);
    changed = true;
  }
  return changed ? b.Object(members, /*keys_stable=*/true) : v;
}

}  // namespace

json::Value Redact(const json::Value& exchange, std::span<const std::string> paths, Arena* arena) {
  json::Builder b(arena);
  json::Value v = exchange;
  for (const std::string& p : paths) {
    std::vector<std::string_view> segs = SplitPath(p);
    v = RedactAt(v, segs, false, b, 0);
  }
  return v;
}

}  // namespace ec::pipeline::internal
