#include "cdc/merge_patch_text.h"

#include <cmath>

#include "cdc/json_patch.h"
#include "json/writer.h"

namespace ec::cdc {
namespace {

// A member value MergePatch puts in place as it is (no nested merge) and whose Equal with a
// stored value is the equality of their texts.
bool IsFlat(const json::Value& v) {
  switch (v.kind()) {
    case json::Kind::kNull:
    case json::Kind::kBool:
    case json::Kind::kString: return true;
    // A non-finite number is written "null" but is not Equal to null.
    case json::Kind::kNumber: return std::isfinite(v.number());
    default: return false;
  }
}

// One operation as AppendDiff's emitter writes it.
void AppendOp(std::string_view op, std::string_view key, std::string_view value_text, bool with_value,
              std::string* path, std::string* out) {
  out->append(out->size() == 1 ? "{\"op\":\"" : ",{\"op\":\"");
  out->append(op);
  out->append("\",\"path\":");
  path->clear();
  AppendPointerToken(key, path);
  json::AppendQuoted(*path, out);
  if (with_value) {
    out->append(",\"value\":");
    out->append(value_text);
  }
  out->push_back('}');
}

}  // namespace

bool MergeFlatPatchText(std::string_view before_text, const json::Value& patch, std::vector<TextMember>* members,
                        std::string* after_text, std::string* changes) {
  if (!patch.is_object()) return false;
  for (const json::Member& m : patch.object()) {
    if (!IsFlat(m.value)) return false;
  }
  if (!SplitCanonicalObject(before_text, members)) return false;

  // The walk of AppendDiff over two objects: the stored members in order (a removal or a
  // replacement where the patch changes one), then the added members in the merged object's
  // order, which is the patch's.
  changes->assign("[");
  thread_local std::string path, value_text;  // reused
  after_text->push_back('{');
  bool first = true;
  size_t patched = 0;  // patch members the stored object has
  for (const TextMember& m : *members) {
    const json::Value* p = patch.Find(m.key);
    if (p == nullptr) {
      if (!first) after_text->push_back(',');
      first = false;
      // The member's text as stored: from its key's opening quote to its value's end.
      const char* begin = m.key.data() - 1;
      after_text->append(begin, m.value.data() + m.value.size() - begin);
      continue;
    }
    ++patched;
    if (p->is_null()) {
      AppendOp("remove", m.key, {}, false, &path, changes);
      continue;
    }
    value_text.clear();
    json::AppendJson(*p, &value_text);
    if (!first) after_text->push_back(',');
    first = false;
    after_text->push_back('"');
    after_text->append(m.key);
    after_text->append("\":");
    after_text->append(value_text);
    // Both canonical: equal texts are equal values, and only they.
    if (value_text != m.value) AppendOp("replace", m.key, value_text, true, &path, changes);
  }
  if (patched < patch.size()) {
    for (const json::Member& m : patch.object()) {
      if (m.value.is_null()) continue;
      bool stored = false;
      for (const TextMember& s : *members) {
        if (s.key == m.key) {
          stored = true;
          break;
        }
      }
      if (stored) continue;
      value_text.clear();
      json::AppendJson(m.value, &value_text);
      if (!first) after_text->push_back(',');
      first = false;
      json::AppendQuoted(m.key, after_text);
      after_text->push_back(':');
      after_text->append(value_text);
      AppendOp("add", m.key, value_text, true, &path, changes);
    }
  }
  after_text->push_back('}');
  changes->push_back(']');
  return true;
}

}  // namespace ec::cdc
