#pragma once
// The compiled expression tree (internal). The parser builds it with macros already expanded;
// Compile() resolves names to slots or activation lookups, binds functions and folds constants.
// Nodes are immutable after Compile, so one tree serves any number of threads.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cel/value.h"

namespace re2 {
class RE2;
}

namespace ec::cel {

struct Builtin;
class SimpleRegex;

enum class Op : uint8_t {
  kConst,
  kIdent,      // activation variable (possibly a qualified name)
  kSlot,       // comprehension / bind / block variable
  kSelect,     // a.f
  kHas,        // has(a.f)
  kOptSelect,  // a.?f
  kIndex,      // a[i]
  kOptIndex,   // a[?i]
  kCall,       // f(args) or target.f(args): args[0] is the target when `member`
  kList,       // [a, ?b]
  kMap,        // {k: v, ?k2: v2}; args alternate key, value
  kStruct,     // Msg{...}: protobuf messages are not supported (evaluates to an error)
  kAnd,
  kOr,
  kNot,
  kNeg,
  kCond,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIn,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kComprehension,  // a macro; see CompKind
  kBind,           // cel.bind(v, init, body): args = [init, body]
  kBlock,          // cel.block([e0, e1, ...], body): args = [e0, ..., body]
  kOptOr,          // a.or(b), lazy in b
  kOptOrValue,     // a.orValue(b), lazy in b
  kPath,           // var.f1.f2... or slot.f1..., also x['k']: `keys` walked over JSON directly;
                   // args[0] is the equivalent select/index chain, used when JSON does not carry
                   // the walk (absent key, non-object, non-JSON variable)
  // Specialised nodes made after resolution (specialize.cc). args[0] is always the equivalent
  // generic node, so anything that does not need speed (the checker) just looks through it.
  kCmpConst,  // args[1] `cmp` value: a comparison against a scalar literal; flipped when the
              // literal was on the left (`201 == x` keeps its operand order for errors)
  kStrCall,   // args[1].f(value): contains/startsWith/endsWith/matches with a literal argument
};

// A selection key of a kPath, prepared at compile time. `hint` remembers where the key was
// last found: records of one source share a shape, so the next lookup usually hits at once.
// Relaxed atomics keep a Program shareable across threads (a stale hint only costs a scan).
struct PathKey {
  std::string name;
  mutable std::atomic<uint32_t> hint{0};

  explicit PathKey(std::string n) : name(std::move(n)) {}
  PathKey(const PathKey& o) : name(o.name), hint(o.hint.load(std::memory_order_relaxed)) {}
  PathKey& operator=(const PathKey& o) {
    name = o.name;
    hint.store(o.hint.load(std::memory_order_relaxed), std::memory_order_relaxed);
    return *this;
  }
};

enum class StrFn : uint8_t { kContains, kStartsWith, kEndsWith, kMatches };

enum class CompKind : uint8_t {
  kAll,
  kExists,
  kExistsOne,
  kMap,            // args: range, transform [, filter before transform when 3-arg form]
  kFilter,
  kTransformList,  // two variables: index/key and value
  kTransformMap,
  kTransformMapEntry,
  kOptMap,         // opt.optMap(v, expr)
  kOptFlatMap,     // opt.optFlatMap(v, expr)
};

struct Node {
  Op op = Op::kConst;
  bool member = false;       // kCall: receiver-style call
  bool two_vars = false;     // kComprehension with (k, v) variables
  bool has_filter = false;   // kComprehension map/transform with a filter argument
  CompKind comp = CompKind::kAll;
  uint32_t pos = 0;          // byte offset in the source, for error messages
  int32_t slot = -1;         // kSlot, kBind, comprehension first variable, kBlock first slot
  int32_t slot2 = -1;        // comprehension second variable
  Value value;               // kConst
  std::string name;          // identifier, field, function, or comprehension variable
  std::string name2;         // second comprehension variable
  std::vector<std::string> candidates;  // qualified names to try, longest first
  std::vector<int> candidate_used;      // dotted segments each candidate consumes
  // kPath: the keys to walk. With slot < 0 the walk starts at the top-level variable keys[0]
  // (a member of the activation root); with slot >= 0 at that comprehension variable.
  std::vector<PathKey> keys;
  Op cmp = Op::kEq;                     // kCmpConst: the original comparison
  bool flipped = false;                 // kCmpConst: the literal is the left operand
  // kCmpConst against a JSON value: the literal's class (0 other, 1 string, 2 number), the
  // comparison with the operand on the left, and a number literal as a double (JSON numbers
  // compare with int, uint and double literals as doubles, as CEL's cross-type rules say).
  uint8_t lit_class = 0;
  Op json_cmp = Op::kEq;
  double lit_num = 0;
  StrFn str_fn = StrFn::kContains;      // kStrCall
  // kCond of the shape `has(v.f) ? v.f : e` with v a plain top-level identifier (a resource
  // key that prefers a path parameter): the evaluator answers the then-branch with the member
  // the presence test found (specialize.cc sets it; eval.cc EvalCold).
  bool has_then_same_path = false;
  std::vector<Node*> args;
  std::vector<uint8_t> optional;        // kList: element i is optional; kMap: entry i
  const Builtin* fn = nullptr;          // kCall: resolved overload set, nullptr if unknown
  std::shared_ptr<re2::RE2> regex;      // matches() with a constant pattern, compiled once
  std::shared_ptr<const SimpleRegex> simple_regex;  // the same pattern when SimpleRegex covers it
};

}  // namespace ec::cel
