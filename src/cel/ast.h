#pragma once
// The compiled expression tree (internal). The parser builds it with macros already expanded;
// Compile() resolves names to slots or activation lookups, binds functions and folds constants.
// Nodes are immutable after Compile, so one tree serves any number of threads.

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
  kPath,           // var.f1.f2...: `name` then `path`, walked over JSON directly; args[0] is the
                   // equivalent select chain, used when JSON does not carry the walk
};

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
  std::vector<std::string> path;        // kPath field names
  std::vector<Node*> args;
  std::vector<uint8_t> optional;        // kList: element i is optional; kMap: entry i
  const Builtin* fn = nullptr;          // kCall: resolved overload set, nullptr if unknown
  std::shared_ptr<re2::RE2> regex;      // matches() with a constant pattern, compiled once
};

}  // namespace ec::cel
