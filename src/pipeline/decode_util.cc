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

// The same value (not just an equal one): RedactAt returns its input when nothing on the path
// was found, and then nothing above it needs rebuilding.
bool SameValue(const json::Value& a, const json::Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::Kind::kString: return a.string().data() == b.string().data() && a.string().size() == b.string().size();
    case json::Kind::kArray: return a.array().data() == b.array().data() && a.size() == b.size();
    case json::Kind::kObject: return a.object().data() == b.object().data() && a.size() == b.size();
    default: return false;  // scalars are never what RedactAt leaves alone on a path it hit
  }
}

// Rebuilds `v` with the value at `path` replaced; `headers` makes names case-insensitive.
// Objects and arrays on the path are rebuilt only where something was replaced below them;
// otherwise `v` itself is returned (no copy).
json::Value RedactAt(const json::Value& v, std::span<const std::string_view> path, bool headers,
                     json::Builder& b, int depth) {
  if (path.empty()) return json::Value::StringRef(kRedacted);
  if (depth > 64) return v;
  if (v.is_array()) {
    std::span<const json::Value> in = v.array();
    std::vector<json::Value> elems;  // a copy once the first element changed
    for (size_t i = 0; i < in.size(); ++i) {
      if (!in[i].is_object() && !in[i].is_array()) continue;
      json::Value r = RedactAt(in[i], path, headers, b, depth + 1);
      if (SameValue(r, in[i])) continue;
      if (elems.empty()) elems.assign(in.begin(), in.end());
      elems[i] = r;
    }
    return elems.empty() ? v : b.Array(elems);
  }
  if (!v.is_object()) return v;
  std::string_view seg = path[0];
  std::span<const json::Member> in = v.object();
  std::vector<json::Member> members;  // a copy once the first member changed
  for (size_t i = 0; i < in.size(); ++i) {
    bool hit = seg == "*" || (headers ? EqualsIgnoreCase(in[i].key, seg) : in[i].key == seg);
    if (!hit) continue;
    json::Value r = RedactAt(in[i].value, path.subspan(1), seg == "headers", b, depth + 1);
    if (path.size() > 1 && SameValue(r, in[i].value)) continue;
    if (members.empty()) members.assign(in.begin(), in.end());
    members[i].value = r;
  }
  return members.empty() ? v : b.Object(members, /*keys_stable=*/true);
}

}  // namespace

json::Value Redact(const json::Value& exchange, std::span<const std::string> paths, Arena* arena) {
  json::Builder b(arena);
  json::Value v = exchange;
  for (const std::string& p : paths) {
    // Paths are short (request.headers.authorization): their segments on the stack, no
    // allocation per exchange; a longer one takes the vector.
    constexpr size_t kSegments = 16;
    std::string_view segs[kSegments];
    size_t n = 0, pos = 0;
    while (n < kSegments && pos <= p.size()) {
      size_t dot = p.find('.', pos);
      if (dot == std::string::npos) dot = p.size();
      segs[n++] = std::string_view(p).substr(pos, dot - pos);
      pos = dot + 1;
    }
    if (pos <= p.size()) {
      std::vector<std::string_view> long_path = SplitPath(p);
      v = RedactAt(v, long_path, false, b, 0);
    } else {
      v = RedactAt(v, std::span<const std::string_view>(segs, n), false, b, 0);
    }
  }
  return v;
}

}  // namespace ec::pipeline::internal
