#pragma once
// Static type deduction for a compiled expression (cel-spec type checking, without protobuf
// message types): the type an expression produces given declared variables and functions.
// Evaluation does not need it; it answers "what type will this return" ahead of time, e.g.
// to require that an event `when` is a bool.

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "cel/cel.h"

namespace ec::cel {

struct CelType {
  enum class K : uint8_t {
    kDyn, kNull, kBool, kInt, kUint, kDouble, kString, kBytes, kTimestamp, kDuration,
    kList,      // params[0] = element
    kMap,       // params[0] = key, params[1] = value
    kType,      // params[0] = the type's type, when known
    kAbstract,  // name + params: optional_type(T), user types such as tuple(A, B, C)
    kParam,     // a type parameter of a function declaration (name)
    kVar,       // an inference variable (internal)
  };
  K kind = K::kDyn;
  std::string name;
  std::vector<CelType> params;
  int var = -1;

  static CelType Of(K k) { return CelType{k, "", {}, -1}; }
  static CelType List(CelType e) { return CelType{K::kList, "", {std::move(e)}, -1}; }
  static CelType Map(CelType k, CelType v) { return CelType{K::kMap, "", {std::move(k), std::move(v)}, -1}; }
  static CelType Abstract(std::string n, std::vector<CelType> p) { return CelType{K::kAbstract, std::move(n), std::move(p), -1}; }
  static CelType Param(std::string n) { return CelType{K::kParam, std::move(n), {}, -1}; }
  // "int", "list(list(dyn))", "map(string, int)", "optional_type(int)", "tuple(dyn, dyn, dyn)".
  std::string ToString() const;
};

struct FunctionOverload {
  std::vector<CelType> params;  // receiver first when `member`
  CelType result;
  bool member = false;
};

struct TypeEnv {
  std::map<std::string, CelType> variables;
  std::map<std::string, std::vector<FunctionOverload>> functions;
};

// The deduced result type of `program`. Unknown variables and functions are `dyn`; free type
// variables end up as `dyn`. Errors: kInvalidArgument when no declared overload matches.
Result<CelType> DeduceType(const Program& program, const TypeEnv& env);

}  // namespace ec::cel
