#include "base/status.h"

namespace ec {

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(InfoOf(code_).name);
  out += ": ";
  out += message_;
  return out;
}

}  // namespace ec
