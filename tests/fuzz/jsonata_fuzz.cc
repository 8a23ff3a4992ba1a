// libFuzzer target: compiles the input as a JSONata expression and evaluates it against a fixed
// document with tight limits. Any crash, sanitizer report or hang is a bug.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "json/document.h"
#include "jsonata/jsonata.h"
#include "jsonata_fuzz_setup.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto doc = ec::json::Parse(ec::jsonata::fuzz::kDocument);
  static const ec::jsonata::JsonataOptions options = ec::jsonata::fuzz::Options();
  std::string_view src(reinterpret_cast<const char*>(data), size);
  auto expr = ec::jsonata::Compile(src, options);
  if (!expr.ok()) return 0;
  ec::Arena arena;
  auto out = (*expr)->Evaluate(ec::jsonata::Defined((*doc)->root()), &arena);
  (void)out;
  return 0;
}
