#pragma once
// Runtime values of the evaluator: JSON read in place (json::Value), plus what JSONata needs on
// top of JSON: undefined, sequences (arrays with flags), constructed objects and functions.
// Everything an evaluation creates lives in its Arena; nothing here has a destructor.

#include <cstdint>
#include <cstring>
#include <string_view>

#include "base/arena.h"
#include "base/bytes_equal.h"
#include "json/value.h"

namespace ec::jsonata::internal {

struct Arr;
struct Obj;
struct Func;

enum class VK : uint8_t { kUndef, kNull, kBool, kNum, kStr, kJArr, kJObj, kArr, kObj, kFunc };

struct Val {
  VK k = VK::kUndef;
  uint32_t n = 0;  // bool value, string length
  union {
    double d;
    const char* s;
    const json::Value* j;  // kJArr, kJObj: input read in place
    Arr* a;
    Obj* o;
    Func* f;
  };
  Val() : d(0) {}

  static Val Null() { Val v; v.k = VK::kNull; return v; }
  static Val Bool(bool b) { Val v; v.k = VK::kBool; v.n = b; return v; }
  static Val Num(double x) { Val v; v.k = VK::kNum; v.d = x; return v; }
  static Val Str(std::string_view x) { Val v; v.k = VK::kStr; v.n = static_cast<uint32_t>(x.size()); v.s = x.data(); return v; }
  static Val Of(Arr* x) { Val v; v.k = VK::kArr; v.a = x; return v; }
  static Val Of(Obj* x) { Val v; v.k = VK::kObj; v.o = x; return v; }
  static Val Of(Func* x) { Val v; v.k = VK::kFunc; v.f = x; return v; }
  // `j` must stay valid (input documents do).
  static Val FromJson(const json::Value& j);

  bool undef() const { return k == VK::kUndef; }
  bool is_null() const { return k == VK::kNull; }
  bool is_bool() const { return k == VK::kBool; }
  bool is_num() const { return k == VK::kNum; }
  bool is_str() const { return k == VK::kStr; }
  bool is_array() const { return k == VK::kArr || k == VK::kJArr; }
  bool is_object() const { return k == VK::kObj || k == VK::kJObj; }
  bool is_func() const { return k == VK::kFunc; }
  bool b() const { return n != 0; }
  std::string_view str() const { return {s, n}; }
};

// A growable array in the arena (old storage is abandoned on growth; amortised O(1)).
template <typename T>
struct AVec {
  T* data = nullptr;
  uint32_t size = 0;
  uint32_t cap = 0;
  void Push(Arena* arena, const T& v) {
    if (size == cap) Grow(arena, cap ? cap * 2 : 4);
    data[size++] = v;
  }
  void Grow(Arena* arena, uint32_t want) {
    if (want <= cap) return;
    T* nd = arena->AllocateArray<T>(want);
    if (size) std::memcpy(static_cast<void*>(nd), data, sizeof(T) * size);
    data = nd;
    cap = want;
  }
  T& operator[](size_t i) { return data[i]; }
  const T& operator[](size_t i) const { return data[i]; }
  T* begin() { return data; }
  T* end() { return data + size; }
  const T* begin() const { return data; }
  const T* end() const { return data + size; }
  bool empty() const { return size == 0; }
};

struct Arr {
  AVec<Val> items;
  bool sequence = false;        // a result sequence (flattened, singleton-unwrapped)
  bool keep_singleton = false;  // `[]` on a path: keep a one-item sequence as an array
  bool outer_wrapper = false;   // the wrapper around a top-level array input
  bool cons = false;            // built by an array constructor: never flattened by a path
  bool tuple_stream = false;    // items are tuples (objects with "@" and bound variables)
  uint32_t size() const { return items.size; }
};

struct Prop {
  std::string_view key;
  Val val;
};

// Key equality for lookups: lengths first (most keys differ there), then the bytes without a
// memcmp call (BytesEqual: keys are short; a name path's matching member was compared by a
// call of memcmp per step).
inline bool SameKey(std::string_view a, std::string_view b) {
  return a.size() == b.size() && BytesEqual(a.data(), b.data(), a.size());
}

struct Obj {
  AVec<Prop> props;
  const Val* Find(std::string_view key) const {
    for (uint32_t i = 0; i < props.size; ++i)
      if (SameKey(props.data[i].key, key)) return &props.data[i].val;
    return nullptr;
  }
};

// A member of a JSON object: small objects are scanned inline, large ones use their index.
inline const json::Value* FindMember(const json::Value& obj, std::string_view key) {
  std::span<const json::Member> members = obj.object();
  if (members.size() >= 12) return obj.Find(key);
  for (const json::Member& m : members)
    if (SameKey(m.key, key)) return &m.value;
  return nullptr;
}

inline Val Val::FromJson(const json::Value& j) {
  switch (j.kind()) {
    case json::Kind::kNull: return Null();
    case json::Kind::kBool: return Bool(j.bool_value());
    case json::Kind::kNumber: return Num(j.number());
    case json::Kind::kString: return Str(j.string());
    case json::Kind::kArray: { Val v; v.k = VK::kJArr; v.j = &j; return v; }
    case json::Kind::kObject: { Val v; v.k = VK::kJObj; v.j = &j; return v; }
  }
  return {};
}

// Uniform access to arrays of either origin.
inline uint32_t ArrSize(const Val& v) {
  if (v.k == VK::kArr) return v.a->items.size;
  if (v.k == VK::kJArr) return v.j->size();
  return 0;
}
inline Val ArrAt(const Val& v, uint32_t i) {
  if (v.k == VK::kArr) return v.a->items.data[i];
  return Val::FromJson(v.j->array()[i]);
}
inline bool IsSequence(const Val& v) { return v.k == VK::kArr && v.a->sequence; }

// Uniform access to objects of either origin.
inline uint32_t ObjSize(const Val& v) {
  if (v.k == VK::kObj) return v.o->props.size;
  if (v.k == VK::kJObj) return v.j->size();
  return 0;
}
inline std::string_view ObjKey(const Val& v, uint32_t i) {
  if (v.k == VK::kObj) return v.o->props.data[i].key;
  return v.j->object()[i].key;
}
inline Val ObjVal(const Val& v, uint32_t i) {
  if (v.k == VK::kObj) return v.o->props.data[i].val;
  return Val::FromJson(v.j->object()[i].value);
}
inline Val ObjGet(const Val& v, std::string_view key) {
  if (v.k == VK::kObj) {
    const Val* p = v.o->Find(key);
    return p ? *p : Val();
  }
  if (v.k == VK::kJObj) {
    const json::Value* p = FindMember(*v.j, key);
    return p ? Val::FromJson(*p) : Val();
  }
  return {};
}

}  // namespace ec::jsonata::internal
