#pragma once
// The expression tree. The parser builds a raw tree; Process() (parser.cc) rewrites it into the
// evaluator's form: paths of steps with stages, group-by, sort steps, tuple/ancestry flags.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ec::jsonata::internal {

struct Signature;
struct Regex;
struct Builtin;

// Operators resolved once at compile time (Annotate) so evaluation never compares op strings.
enum class Op : uint8_t {
  kNone, kAnd, kOr, kAdd, kSub, kMul, kDiv, kMod, kEq, kNe, kLt, kLe, kGt, kGe, kConcat, kRange, kIn,
  kNull, kTrue, kFalse,            // kValue literals
  kNegate, kArrayCons, kObjectCons,  // kUnary
};

enum class NT : uint8_t {
  kPath, kBinary, kUnary, kString, kNumber, kValue, kName, kVariable, kRegex, kWildcard,
  kDescendant, kParent, kBlock, kCondition, kBind, kApply, kCall, kPartial, kLambda, kSort,
  kTransform, kPlaceholder, kOperator, kCoalesce, kElvis,
};

// A `%` reference: resolved to the ancestor step whose input it names.
struct Slot {
  std::string label;
  int level = 1;
  int index = 0;
};

struct Node;

struct Stage {
  bool is_index = false;  // `#$i` inside the stages; otherwise a filter
  Node* expr = nullptr;
  std::string var;
  int64_t position = 0;
};

struct SortTerm {
  bool descending = false;
  Node* expr = nullptr;
};

struct GroupBy {
  std::vector<std::pair<Node*, Node*>> pairs;
  int64_t position = 0;
};

// What Annotate found an object constructor's member value to be, when Evaluator::RunObjectText
// can compute it straight from JSON input (Evaluator::DirectMember) instead of evaluating it.
enum class Direct : uint8_t {
  kNone,
  kNamePath,    // `a.b.c` (field names from the input)
  kCount,       // `$count(a.b.c)`
  kSumProduct,  // `$sum(a.b.(x * y))` (x and y field names)
  kFilterMap,   // `a.b.items[x * y >= 500].{"k": f, "m": x * y}` (see DirectFilterMap)
};

// A number or value read from one item of a kFilterMap's array: a field, a number literal or the
// product of two fields. Fields are indexes into the member value's direct_names.
struct DirectOperand {
  enum Kind : uint8_t { kField, kNumber, kProduct };
  Kind kind = kField;
  uint32_t a = 0, b = 0;  // kField: a; kProduct: a * b
  double number = 0;      // kNumber
};

// `path[lhs cmp rhs].{key: value, ...}`: the items of the array `path` leads to whose
// comparison holds, each made into an object of the constant keys (a field value, a literal or
// a product). Evaluator::DirectMember builds the objects the general evaluation builds.
struct DirectFilterMap {
  Op compare = Op::kNone;  // kLt, kLe, kGt or kGe
  DirectOperand lhs, rhs;
  struct Member {
    uint32_t key = 0;  // index into direct_names
    DirectOperand value;
  };
  std::vector<Member> members;
};

struct Node {
  NT type = NT::kValue;
  std::string op;      // operator text for binary/unary; "true"/"false"/"null" for kValue
  std::string str;     // string literal, name, variable name (without '$')
  double num = 0;
  int64_t position = 0;

  Node* lhs = nullptr;
  Node* rhs = nullptr;
  Node* expr = nullptr;                // unary operand; transform pattern
  Node* cond = nullptr;
  Node* then = nullptr;
  Node* otherwise = nullptr;           // condition else; transform delete
  Node* update = nullptr;              // transform update
  std::vector<Node*> items;            // path steps, array items, block expressions, call args
  std::vector<std::pair<Node*, Node*>> pairs;  // object constructor / raw group-by
  std::vector<SortTerm> terms;         // sort step / raw `^(...)`
  std::vector<Stage> stages;           // predicates/index bindings on a path step
  std::vector<Node*> predicate;        // filters on a non-step expression
  std::unique_ptr<GroupBy> group;

  // Path and step flags.
  bool keep_array = false;
  bool consarray = false;
  bool tuple = false;
  bool keep_singleton_array = false;
  std::string focus;      // `@$x` variable
  std::string index_var;  // `#$i` variable
  Slot* ancestor = nullptr;
  Slot* slot = nullptr;   // kParent
  std::vector<Slot*> seeking_parent;
  bool has_seeking_parent = false;
  std::string next_function;

  // Lambda.
  std::vector<std::string> params;
  const Signature* signature = nullptr;
  Node* body = nullptr;
  bool thunk = false;

  const Regex* regex = nullptr;

  // Set by Annotate() (annotate.cc) after processing; read-only during evaluation.
  Op opcode = Op::kNone;
  const Builtin* builtin = nullptr;  // kVariable naming a built-in function (unless rebound)
  bool name_path = false;            // kPath of plain field names only: walked without sequences
  bool const_keys = false;           // `{...}` whose keys are distinct string literals
  std::string member_json;           // such a key: `"key":` as json::AppendJson writes it
  uint32_t name_prefix = 0;          // kPath: leading plain field-name steps (not the last step)
  bool plain = false;                // no predicates, group-by or `[]` on the node itself
  std::unique_ptr<GroupBy> ctor_group;  // `{...}`: its pairs as a GroupBy, built once
  // A member value of a `{...}` with const_keys (see Direct): the field names it reads (the
  // path's; for kSumProduct the path's before the block, then the two multiplied), copied into
  // one buffer of their own: walking them touches no step node (each node is several cache
  // lines, and perf on serve put most of the walk's time on loading the steps' names).
  Direct direct = Direct::kNone;
  uint32_t direct_steps = 0;                   // path names (kSumProduct: before the block)
  std::unique_ptr<DirectFilterMap> direct_filter_map;  // kFilterMap
  // Leading path names this member shares with the root `{...}`'s previous direct member: its
  // walk starts where that one's reached (Evaluator::WalkDirect).
  uint32_t direct_shared = 0;
  std::vector<std::string_view> direct_names;  // views into direct_bytes
  std::unique_ptr<char[]> direct_bytes;
};

}  // namespace ec::jsonata::internal
