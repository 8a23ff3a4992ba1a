// Value semantics shared by the evaluator and the built-ins: truthiness, equality, sequences,
// JSON conversion and JavaScript-compatible stringification.

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "jsonata/eval.h"
#include "json/writer.h"

namespace ec::jsonata::internal {

bool IsNumeric(const Val& v) { return v.is_num() && std::isfinite(v.d); }

bool IsArrayOfNumbers(const Val& v) {
  if (!v.is_array()) return false;
  uint32_t n = ArrSize(v);
  for (uint32_t i = 0; i < n; ++i)
    if (!ArrAt(v, i).is_num()) return false;
  return true;
}

bool IsArrayOfStrings(const Val& v) {
  if (!v.is_array()) return false;
  uint32_t n = ArrSize(v);
  for (uint32_t i = 0; i < n; ++i)
    if (!ArrAt(v, i).is_str()) return false;
  return true;
}

bool ToBoolean(const Val& v, bool* defined) {
  if (defined) *defined = !v.undef();
  switch (v.k) {
    case VK::kUndef: return false;
    case VK::kNull: return false;
    case VK::kBool: return v.b();
    case VK::kNum: return v.d != 0 && !std::isnan(v.d);
    case VK::kStr: return v.n > 0;
    case VK::kJArr:
    case VK::kArr: {
      uint32_t n = ArrSize(v);
      if (n == 1) return ToBoolean(ArrAt(v, 0));
      for (uint32_t i = 0; i < n; ++i)
        if (ToBoolean(ArrAt(v, i))) return true;
      return false;
    }
    case VK::kJObj:
    case VK::kObj: return ObjSize(v) > 0;
    case VK::kFunc: return false;
  }
  return false;
}

bool DeepEqual(const Val& a, const Val& b) {
  if (a.is_array() && b.is_array()) {
    uint32_t n = ArrSize(a);
    if (n != ArrSize(b)) return false;
    for (uint32_t i = 0; i < n; ++i)
      if (!DeepEqual(ArrAt(a, i), ArrAt(b, i))) return false;
    return true;
  }
  if (a.is_object() && b.is_object()) {
    uint32_t n = ObjSize(a);
    if (n != ObjSize(b)) return false;
    for (uint32_t i = 0; i < n; ++i) {
      Val bv = ObjGet(b, ObjKey(a, i));
      if (bv.undef() || !DeepEqual(ObjVal(a, i), bv)) return false;
    }
    return true;
  }
  if (a.k != b.k) return false;
  switch (a.k) {
    case VK::kUndef: case VK::kNull: return true;
    case VK::kBool: return a.n == b.n;
    case VK::kNum: return a.d == b.d;
    case VK::kStr: return a.str() == b.str();
    case VK::kFunc: return a.f == b.f;
    default: return false;
  }
}

Val Append(Evaluator& ev, Val a, Val b) {
  if (a.undef()) return b;
  if (b.undef()) return a;
  Arr* out = ev.NewArr(false);
  if (a.is_array()) {
    uint32_t n = ArrSize(a);
    out->items.Grow(ev.arena(), n + 4);
    for (uint32_t i = 0; i < n; ++i) out->items.Push(ev.arena(), ArrAt(a, i));
    // concat keeps a sequence's flag only when it started as a sequence created here
    if (a.k == VK::kArr && a.a->sequence) out->sequence = false;
  } else {
    out->items.Push(ev.arena(), a);
    out->sequence = true;
  }
  if (b.is_array()) {
    uint32_t n = ArrSize(b);
    for (uint32_t i = 0; i < n; ++i) out->items.Push(ev.arena(), ArrAt(b, i));
  } else {
    out->items.Push(ev.arena(), b);
  }
  return Val::Of(out);
}

Val Flatten(Evaluator& ev, Val v, Arr* into) {
  if (!into) into = ev.NewArr(false);
  if (v.is_array()) {
    uint32_t n = ArrSize(v);
    for (uint32_t i = 0; i < n; ++i) Flatten(ev, ArrAt(v, i), into);
  } else {
    into->items.Push(ev.arena(), v);
  }
  return Val::Of(into);
}

Val SequenceOf(Evaluator& ev, Val v) {
  Arr* a = ev.NewArr(true);
  if (v.is_array()) {
    uint32_t n = ArrSize(v);
    for (uint32_t i = 0; i < n; ++i) a->items.Push(ev.arena(), ArrAt(v, i));
  } else if (!v.undef()) {
    a->items.Push(ev.arena(), v);
  }
  return Val::Of(a);
}

namespace {

void AppendNumber(double d, bool precision15, std::string* out) {
  if (!std::isfinite(d)) {
    out->append("null");
    return;
  }
  if (precision15 && d != std::floor(d)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.14e", d);
    d = std::strtod(buf, nullptr);
  }
  json::AppendJsNumber(d, out);
}

void Indent(int indent, int level, std::string* out) {
  out->push_back('\n');
  out->append(static_cast<size_t>(indent * level), ' ');
}

}  // namespace

void AppendJsonVal(const Val& v, int indent, int level, bool precision15, std::string* out) {
  switch (v.k) {
    case VK::kUndef:
    case VK::kNull: out->append("null"); return;
    case VK::kBool: out->append(v.b() ? "true" : "false"); return;
    case VK::kNum: AppendNumber(v.d, precision15, out); return;
    case VK::kStr: json::AppendQuoted(v.str(), out); return;
    case VK::kFunc: out->append("\"\""); return;
    case VK::kJArr:
    case VK::kArr: {
      Val a = v;
      uint32_t n = ArrSize(a);
      out->push_back('[');
      for (uint32_t i = 0; i < n; ++i) {
        if (i) out->push_back(',');
        if (indent) Indent(indent, level + 1, out);
        Val item = ArrAt(a, i);
        AppendJsonVal(item, indent, level + 1, precision15, out);
      }
      if (indent && n) Indent(indent, level, out);
      out->push_back(']');
      return;
    }
    case VK::kJObj:
    case VK::kObj: {
      uint32_t n = ObjSize(v);
      out->push_back('{');
      bool first = true;
      for (uint32_t i = 0; i < n; ++i) {
        Val item = ObjVal(v, i);
        if (item.undef()) continue;
        if (!first) out->push_back(',');
        first = false;
        if (indent) Indent(indent, level + 1, out);
        json::AppendQuoted(ObjKey(v, i), out);
        out->push_back(':');
        if (indent) out->push_back(' ');
        AppendJsonVal(item, indent, level + 1, precision15, out);
      }
      if (indent && !first) Indent(indent, level, out);
      out->push_back('}');
      return;
    }
  }
}

bool Stringify(Evaluator& ev, const Val& v, bool prettify, std::string* out) {
  if (v.undef()) return true;
  if (v.is_str()) {
    out->append(v.str());
    return true;
  }
  if (v.is_func()) return true;
  if (v.is_num() && !std::isfinite(v.d)) {
    ev.FailV("D3001", "Attempting to invoke string function on Infinity or NaN", v);
    return false;
  }
  Val x = v;
  if (x.k == VK::kArr && x.a->outer_wrapper && x.a->items.size) x = x.a->items.data[0];
  // JSON.stringify's replacer in jsonata-js rejects non-finite numbers anywhere inside.
  std::vector<Val> stack{x};
  while (!stack.empty()) {
    Val y = stack.back();
    stack.pop_back();
    if (y.is_num() && !std::isfinite(y.d)) {
      ev.FailV("D1001", "Number out of range", y);
      return false;
    }
    if (y.is_array()) for (uint32_t i = 0; i < ArrSize(y); ++i) stack.push_back(ArrAt(y, i));
    if (y.is_object()) for (uint32_t i = 0; i < ObjSize(y); ++i) stack.push_back(ObjVal(y, i));
  }
  AppendJsonVal(x, prettify ? 2 : 0, 0, true, out);
  return true;
}

std::string ValueText(const Val& v) {
  if (v.undef()) return "undefined";
  if (v.is_str()) return std::string(v.str());
  std::string s;
  AppendJsonVal(v, 0, 0, false, &s);
  return s;
}

const char* TypeOf(const Val& v) {
  switch (v.k) {
    case VK::kUndef: return nullptr;
    case VK::kNull: return "null";
    case VK::kBool: return "boolean";
    case VK::kNum: return "number";
    case VK::kStr: return "string";
    case VK::kJArr: case VK::kArr: return "array";
    case VK::kJObj: case VK::kObj: return "object";
    case VK::kFunc: return "function";
  }
  return nullptr;
}

char SigSymbol(const Val& v) {
  switch (v.k) {
    case VK::kUndef: return 'm';
    case VK::kNull: return 'l';
    case VK::kBool: return 'b';
    case VK::kNum: return 'n';
    case VK::kStr: return 's';
    case VK::kJArr: case VK::kArr: return 'a';
    case VK::kJObj: case VK::kObj: return 'o';
    case VK::kFunc: return 'f';
  }
  return 'm';
}

bool ToJson(const Val& v, json::Builder& b, json::Value* out) {
  switch (v.k) {
    case VK::kUndef: case VK::kFunc: return false;
    case VK::kNull: *out = json::Value::Null(); return true;
    case VK::kBool: *out = json::Value::Bool(v.b()); return true;
    case VK::kNum: *out = json::Value::Number(v.d); return true;
    case VK::kStr: *out = b.String(v.str()); return true;
    case VK::kJArr: case VK::kJObj: *out = *v.j; return true;
    case VK::kArr: {
      uint32_t n = v.a->items.size;
      if (v.a->outer_wrapper && n == 1) return ToJson(v.a->items.data[0], b, out);
      // Small arrays are staged on the stack; Builder::Array copies them into the arena.
      json::Value small[16];
      json::Value* items = n <= 16 ? small : b.arena()->AllocateArray<json::Value>(n);
      for (uint32_t i = 0; i < n; ++i)
        if (!ToJson(v.a->items.data[i], b, &items[i])) items[i] = json::Value::Null();
      *out = b.Array(std::span<const json::Value>(items, n));
      return true;
    }
    case VK::kObj: {
      uint32_t n = v.o->props.size;
      json::Member small[16];
      json::Member* members = n <= 16 ? small : b.arena()->AllocateArray<json::Member>(n);
      uint32_t m = 0;
      for (const Prop& p : v.o->props) {
        json::Value jv;
        if (ToJson(p.val, b, &jv)) members[m++] = json::Member{p.key, jv};
      }
      *out = b.Object(std::span<const json::Member>(members, m));
      return true;
    }
  }
  return false;
}

bool AppendToJsonText(const Val& v, std::string* out) {
  switch (v.k) {
    case VK::kUndef: case VK::kFunc: return false;
    case VK::kNull: out->append("null"); return true;
    case VK::kBool: out->append(v.b() ? "true" : "false"); return true;
    case VK::kNum:
      // As json::AppendJson writes the Number ToJson makes (the top level's non-finite number
      // is Evaluate's D1001 before this).
      if (!std::isfinite(v.d)) {
        out->append("null");
      } else {
        json::AppendJsNumber(v.d, out);
      }
      return true;
    case VK::kStr: json::AppendQuoted(v.str(), out); return true;
    case VK::kJArr: case VK::kJObj: json::AppendJson(*v.j, out); return true;
    case VK::kArr: {
      const uint32_t n = v.a->items.size;
      if (v.a->outer_wrapper && n == 1) return AppendToJsonText(v.a->items.data[0], out);
      out->push_back('[');
      for (uint32_t i = 0; i < n; ++i) {
        if (i != 0) out->push_back(',');
        const Val& item = v.a->items.data[i];
        if (item.undef() || item.is_func()) {
          out->append("null");  // ToJson's item for what it cannot convert
        } else if (!AppendToJsonText(item, out)) {
          return false;
        }
      }
      out->push_back(']');
      return true;
    }
    case VK::kObj: {
      const uint32_t n = v.o->props.size;
      const Prop* props = v.o->props.data;
      // Repeated keys are merged by Builder::Object (the last value at the first key's place):
      // not done here. Constructed objects are small; a large one takes ToJson.
      if (n > 16) return false;
      for (uint32_t i = 1; i < n; ++i) {
        for (uint32_t j = 0; j < i; ++j) {
          if (SameKey(props[i].key, props[j].key)) return false;
        }
      }
      out->push_back('{');
      bool first = true;
      for (uint32_t i = 0; i < n; ++i) {
        const Val& pv = props[i].val;
        if (pv.undef() || pv.is_func()) continue;  // ToJson drops the member
        if (!first) out->push_back(',');
        first = false;
        json::AppendQuoted(props[i].key, out);
        out->push_back(':');
        if (!AppendToJsonText(pv, out)) return false;
      }
      out->push_back('}');
      return true;
    }
  }
  return false;
}

Val FromMaybe(Arena* arena, const MaybeValue& m) {
  if (!m.defined) return {};
  // Arrays and objects are referenced by address: keep the root Value in the arena.
  json::Value* stable = arena->AllocateArray<json::Value>(1);
  *stable = m.value;
  return Val::FromJson(*stable);
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) n++;
  return n;
}

}  // namespace ec::jsonata::internal
