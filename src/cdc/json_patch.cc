#include "cdc/json_patch.h"

#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "json/builder.h"
#include "json/writer.h"

namespace ec::cdc {
namespace {

// The walk of Diff, shared by the Value form (Diff) and the text form (AppendDiff): `emit(op,
// path, value)` receives each operation in order (value null for remove).
template <typename Emit>
void DiffUnequal(const json::Value& a, const json::Value& z, std::string* path, Emit& emit);

template <typename Emit>
void DiffInto(const json::Value& a, const json::Value& z, std::string* path, Emit& emit) {
  // Two objects go straight to the member walk: it compares each member and emits nothing
  // when all are equal (keys are unique, json/value.h), which is what the whole-document
  // compare would have decided after the same member compares. Only equal known texts (one
  // memcmp) say "equal" sooner.
  if (a.is_object() && z.is_object()) {
    if (a.has_known_text() && z.has_known_text() && a.known_text() == z.known_text()) return;
    DiffUnequal(a, z, path, emit);
    return;
  }
  if (json::Equal(a, z)) return;
  DiffUnequal(a, z, path, emit);
}

// The member of `o` named `key`, looked for first at index `i` (the same position on both
// sides is the common case: an update keeps the member order), then by Find. Keys are unique
// within an object, so a key at `i` is the member Find returns.
inline const json::Value* MemberAt(std::span<const json::Member> members, const json::Value& o, size_t i,
                                   std::string_view key) {
  if (i < members.size()) {
    // Keys are short: compared in place rather than by a memcmp call.
    const std::string_view k = members[i].key;
    if (k.size() == key.size()) {
      size_t j = 0;
      while (j < k.size() && k[j] == key[j]) ++j;
      if (j == k.size()) return &members[i].value;
    }
  }
  return o.Find(key);
}

// DiffInto of two values known to differ. A member or element equal on both sides is skipped
// before its pointer token is written: most members of an update are unchanged, and each cost
// a token, a compare inside DiffInto and the path's truncation.
template <typename Emit>
void DiffUnequal(const json::Value& a, const json::Value& z, std::string* path, Emit& emit) {
  size_t mark = path->size();
  if (a.is_object() && z.is_object()) {
    const std::span<const json::Member> a_members = a.object(), z_members = z.object();
    size_t in_both = 0;  // members of `a` that `z` has
    for (size_t i = 0; i < a_members.size(); ++i) {
      const json::Member& m = a_members[i];
      const json::Value* other = MemberAt(z_members, z, i, m.key);
      in_both += other != nullptr;
      if (other != nullptr && json::Equal(m.value, *other)) continue;
      AppendPointerToken(m.key, path);
      if (other == nullptr) emit("remove", *path, nullptr);
      else DiffUnequal(m.value, *other, path, emit);
      path->resize(mark);
    }
    // Keys are unique, so when every member of `z` was found from `a` none is new.
    if (in_both == z_members.size()) return;
    for (size_t i = 0; i < z_members.size(); ++i) {
      const json::Member& m = z_members[i];
      if (MemberAt(a_members, a, i, m.key) != nullptr) continue;
      AppendPointerToken(m.key, path);
      emit("add", *path, &m.value);
      path->resize(mark);
    }
    return;
  }
  if (a.is_array() && z.is_array() && a.size() == z.size()) {
    char digits[24];
    for (size_t i = 0; i < a.size(); ++i) {
      if (json::Equal(a.array()[i], z.array()[i])) continue;
      auto end = std::to_chars(digits, digits + sizeof digits, i).ptr;
      AppendPointerToken(std::string_view(digits, end - digits), path);
      DiffUnequal(a.array()[i], z.array()[i], path, emit);
      path->resize(mark);
    }
    return;
  }
  emit("replace", *path, &z);
}

// RFC 6901 pointer -> unescaped tokens.
Result<std::vector<std::string>> ParsePointer(std::string_view p) {
  std::vector<std::string> tokens;
  if (p.empty()) return tokens;
  if (p[0] != '/') return Status(ErrorCode::kInvalidArgument, "JSON pointer \"" + std::string(p) + "\" must start with /");
  size_t i = 1;
  while (true) {
    size_t end = p.find('/', i);
    std::string_view raw = p.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
    std::string t;
    for (size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] == '~') {
        if (k + 1 < raw.size() && (raw[k + 1] == '0' || raw[k + 1] == '1')) {
          t += raw[k + 1] == '0' ? '~' : '/';
          ++k;
        } else {
          return Status(ErrorCode::kInvalidArgument, "JSON pointer \"" + std::string(p) + "\" has a bad ~ escape");
        }
      } else {
        t += raw[k];
      }
    }
    tokens.push_back(std::move(t));
    if (end == std::string_view::npos) break;
    i = end + 1;
  }
  return tokens;
}

// Array index token: digits without leading zeros; "-" (append) only when `allow_end`.
std::optional<size_t> Index(const std::string& t, size_t size, bool allow_end) {
  if (t == "-") return allow_end ? std::optional<size_t>(size) : std::nullopt;
  if (t.empty() || (t.size() > 1 && t[0] == '0')) return std::nullopt;
  size_t v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || ptr != t.data() + t.size()) return std::nullopt;
  if (v > size || (v == size && !allow_end)) return std::nullopt;
  return v;
}

enum class Edit { kAdd, kRemove, kReplace };

// Returns `doc` with the location `tokens` edited; `value` for add/replace; `*removed` gets
// the old value for remove/replace.
Result<json::Value> EditAt(const json::Value& doc, const std::vector<std::string>& tokens, size_t depth, Edit edit,
                           const json::Value& value, json::Value* removed, json::Builder& b) {
  if (depth == tokens.size()) {  // the root itself
    if (edit == Edit::kRemove) return Status(ErrorCode::kInvalidArgument, "cannot remove the whole document");
    if (removed) *removed = doc;
    return value;
  }
  const std::string& t = tokens[depth];
  bool last = depth + 1 == tokens.size();
  if (doc.is_object()) {
    std::vector<json::Member> members(doc.object().begin(), doc.object().end());
    for (size_t i = 0; i < members.size(); ++i) {
      if (members[i].key != t) continue;
      if (!last) {
        Result<json::Value> v = EditAt(members[i].value, tokens, depth + 1, edit, value, removed, b);
        if (!v.ok()) return v.status();
        members[i].value = *v;
      } else if (edit == Edit::kRemove) {
        if (removed) *removed = members[i].value;
        members.erase(members.begin() + i);
      } else {
        if (removed) *removed = members[i].value;
        members[i].value = value;
      }
      return b.Object(members, true);
    }
    if (last && edit == Edit::kAdd) {
      members.push_back({b.arena()->CopyString(t), value});
      return b.Object(members, true);
    }
    return Status(ErrorCode::kInvalidArgument, "member \"" + t + "\" does not exist");
  }
  if (doc.is_array()) {
    std::vector<json::Value> elems(doc.array().begin(), doc.array().end());
    std::optional<size_t> i = Index(t, elems.size(), last && edit == Edit::kAdd);
    if (!i) return Status(ErrorCode::kInvalidArgument, "array index \"" + t + "\" is not valid here");
    if (!last) {
      Result<json::Value> v = EditAt(elems[*i], tokens, depth + 1, edit, value, removed, b);
      if (!v.ok()) return v.status();
      elems[*i] = *v;
    } else if (edit == Edit::kAdd) {
      elems.insert(elems.begin() + *i, value);
    } else if (edit == Edit::kRemove) {
      if (removed) *removed = elems[*i];
      elems.erase(elems.begin() + *i);
    } else {
      if (removed) *removed = elems[*i];
      elems[*i] = value;
    }
    return b.Array(elems);
  }
  return Status(ErrorCode::kInvalidArgument, "\"" + t + "\" indexes into a " + std::string(json::KindName(doc.kind())));
}

Result<json::Value> Get(const json::Value& doc, const std::vector<std::string>& tokens) {
  const json::Value* v = &doc;
  for (const std::string& t : tokens) {
    const json::Value* next = nullptr;
    if (v->is_object()) {
      next = v->Find(t);
    } else if (v->is_array()) {
      std::optional<size_t> i = Index(t, v->size(), false);
      if (i) next = v->At(*i);
    }
    if (next == nullptr) return Status(ErrorCode::kInvalidArgument, "\"" + t + "\" does not exist");
    v = next;
  }
  return *v;
}

std::string_view StringMember(const json::Value& op, std::string_view name, bool* ok) {
  const json::Value* v = op.Find(name);
  *ok = v != nullptr && v->is_string();
  return *ok ? v->string() : std::string_view();
}

}  // namespace

void AppendPointerToken(std::string_view token, std::string* out) {
  *out += '/';
  // Mostly a plain name: appended whole, not byte by byte.
  bool plain = true;
  for (char c : token) plain &= (c != '~') & (c != '/');
  if (plain) {
    out->append(token);
    return;
  }
  for (char c : token) {
    if (c == '~') *out += "~0";
    else if (c == '/') *out += "~1";
    else *out += c;
  }
}

json::Value Diff(const json::Value& before, const json::Value& after, Arena* arena) {
  json::Builder b(arena);
  std::vector<json::Value> ops;
  auto emit = [&](std::string_view op, const std::string& path, const json::Value* value) {
    json::Member m[3] = {{"op", b.String(op)}, {"path", b.String(path)}, {}};
    size_t n = 2;
    if (value != nullptr) m[n++] = {"value", *value};
    ops.push_back(b.Object({m, n}, /*keys_stable=*/true));
  };
  std::string path;
  DiffInto(before, after, &path, emit);
  return b.Array(ops);
}

void AppendDiff(const json::Value& before, const json::Value& after, std::string_view after_text, std::string* out) {
  if (before.kind() != after.kind()) {
    // Unequal (kinds differ) and not two containers: the walk's one operation, a replace of
    // the whole document (every create, from null; every delete of a known state, to null),
    // written at once.
    constexpr std::string_view kReplaceRoot = "[{\"op\":\"replace\",\"path\":\"\",\"value\":";
    out->append(kReplaceRoot);
    if (!after_text.empty()) out->append(after_text);
    else json::AppendJson(after, out);
    out->append("}]");
    return;
  }
  out->push_back('[');
  bool first = true;
  auto emit = [&](std::string_view op, const std::string& path, const json::Value* value) {
    using namespace std::string_view_literals;  // lengths known here, not counted per append
    out->append(first ? "{\"op\":\""sv : ",{\"op\":\""sv);
    first = false;
    out->append(op);
    out->append("\",\"path\":"sv);
    json::AppendQuoted(path, out);
    if (value != nullptr) {
      out->append(",\"value\":"sv);
      if (value == &after && !after_text.empty()) out->append(after_text);
      else json::AppendJson(*value, out);
    }
    out->push_back('}');
  };
  std::string path;
  DiffInto(before, after, &path, emit);
  out->push_back(']');
}

Result<json::Value> ApplyPatch(const json::Value& doc, const json::Value& patch, Arena* arena) {
  if (!patch.is_array()) return Status(ErrorCode::kInvalidArgument, "a JSON Patch must be an array of operations");
  json::Builder b(arena);
  json::Value cur = doc;
  for (size_t i = 0; i < patch.size(); ++i) {
    const json::Value& op = patch.array()[i];
    auto fail = [&](const std::string& why) {
      return Status(ErrorCode::kInvalidArgument, "patch operation " + std::to_string(i) + ": " + why);
    };
    if (!op.is_object()) return fail("not an object");
    bool ok = false;
    std::string_view name = StringMember(op, "op", &ok);
    if (!ok) return fail("\"op\" must be a string");
    std::string_view path_text = StringMember(op, "path", &ok);
    if (!ok) return fail("\"path\" must be a string");
    Result<std::vector<std::string>> path = ParsePointer(path_text);
    if (!path.ok()) return fail(path.status().message());
    const json::Value* value = op.Find("value");
    Result<json::Value> next = cur;
    if (name == "add" || name == "replace" || name == "test") {
      if (value == nullptr) return fail("\"" + std::string(name) + "\" needs a \"value\"");
      if (name == "test") {
        Result<json::Value> got = Get(cur, *path);
        if (!got.ok()) return fail(got.status().message());
        if (!json::Equal(*got, *value)) return fail("test failed at \"" + std::string(path_text) + "\"");
        continue;
      }
      next = EditAt(cur, *path, 0, name == "add" ? Edit::kAdd : Edit::kReplace, *value, nullptr, b);
    } else if (name == "remove") {
      next = EditAt(cur, *path, 0, Edit::kRemove, json::Value(), nullptr, b);
    } else if (name == "move" || name == "copy") {
      std::string_view from_text = StringMember(op, "from", &ok);
      if (!ok) return fail("\"from\" must be a string");
      Result<std::vector<std::string>> from = ParsePointer(from_text);
      if (!from.ok()) return fail(from.status().message());
      Result<json::Value> moved = Get(cur, *from);
      if (!moved.ok()) return fail(moved.status().message());
      if (name == "move") {
        if (path_text.size() > from_text.size() && path_text.starts_with(from_text) && path_text[from_text.size()] == '/') {
          return fail("cannot move a value into one of its children");
        }
        Result<json::Value> without = EditAt(cur, *from, 0, Edit::kRemove, json::Value(), nullptr, b);
        if (!without.ok()) return fail(without.status().message());
        cur = *without;
      }
      next = EditAt(cur, *path, 0, Edit::kAdd, *moved, nullptr, b);
    } else {
      return fail("unknown op \"" + std::string(name) + "\"");
    }
    if (!next.ok()) return fail(next.status().message());
    cur = *next;
  }
  return cur;
}

}  // namespace ec::cdc
