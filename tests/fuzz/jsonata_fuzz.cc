// libFuzzer target: compiles the input as a JSONata expression and evaluates it against a fixed
// document with tight limits. Any crash, sanitizer report or hang is a bug.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "json/document.h"
#include "jsonata/jsonata.h"

namespace {

const char kInput[] = R"({
  "request": {"method": "POST", "path": "/orders/17", "body": {"order_id": "o-17",
    "customer": {"id": "c-9", "tier": "gold"},
    "items": [{"sku": "A1", "price": 12.5, "qty": 2}, {"sku": "B2", "price": 30, "qty": 1},
              {"sku": "C3", "price": 4.25, "qty": 10}]}},
  "response": {"status": 201, "body": {"id": "o-17", "status": "created"}},
  "tags": ["a", "b", ["c", "d"]], "n": null, "t": true, "latency_ms": 12.75
})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto doc = ec::json::Parse(kInput);
  ec::jsonata::JsonataOptions options;
  options.max_depth = 200;
  options.max_steps = 20000;
  options.time_limit = std::chrono::milliseconds(200);
  options.max_parse_depth = 200;
  std::string_view src(reinterpret_cast<const char*>(data), size);
  auto expr = ec::jsonata::Compile(src, options);
  if (!expr.ok()) return 0;
  ec::Arena arena;
  auto out = (*expr)->Evaluate(ec::jsonata::Defined((*doc)->root()), &arena);
  (void)out;
  return 0;
}
