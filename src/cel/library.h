#pragma once
// Library function implementations (internal), registered in the table in library.cc.

#include "cel/eval.h"

namespace ec::cel::lib {

#define EC_CEL_FN(name) Value name(Evaluator& e, const Node* call, const Value* a, size_t n)
// strings extension (strings_ext.cc)
EC_CEL_FN(CharAt);
EC_CEL_FN(IndexOf);
EC_CEL_FN(LastIndexOf);
EC_CEL_FN(LowerAscii);
EC_CEL_FN(UpperAscii);
EC_CEL_FN(Replace);
EC_CEL_FN(Split);
EC_CEL_FN(Substring);
EC_CEL_FN(Trim);
EC_CEL_FN(Join);
EC_CEL_FN(Quote);
EC_CEL_FN(Format);
EC_CEL_FN(Reverse);
// math extension (math_ext.cc)
EC_CEL_FN(MathAbs);
EC_CEL_FN(MathBitAnd);
EC_CEL_FN(MathBitNot);
EC_CEL_FN(MathBitOr);
EC_CEL_FN(MathBitXor);
EC_CEL_FN(MathBitShiftLeft);
EC_CEL_FN(MathBitShiftRight);
EC_CEL_FN(MathCeil);
EC_CEL_FN(MathFloor);
EC_CEL_FN(MathRound);
EC_CEL_FN(MathTrunc);
EC_CEL_FN(MathGreatest);
EC_CEL_FN(MathLeast);
EC_CEL_FN(MathIsFinite);
EC_CEL_FN(MathIsInf);
EC_CEL_FN(MathIsNaN);
EC_CEL_FN(MathSign);
EC_CEL_FN(MathSqrt);
#undef EC_CEL_FN

}  // namespace ec::cel::lib
