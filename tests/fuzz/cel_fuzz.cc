// libFuzzer target: CEL parse + compile + evaluate over a fixed JSON activation, then ToJson.
// Input bytes are the expression text.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "cel/cel.h"
#include "json/document.h"

namespace {

constexpr std::string_view kData = R"({
  "request": {"method": "POST", "path": "/orders", "headers": {"content-type": "application/json"},
              "body": {"items": [{"sku": "A1", "price": 12.5, "qty": 1}, {"sku": "C3", "price": 149, "qty": 3}],
                       "customer": {"tier": "gold"}, "tags": ["a", "b"], "n": null, "ok": true}},
  "response": {"status": 201, "body": {"id": "o-100000", "total": 577.73}},
  "time": "2025-01-15T10:00:00.011Z", "big": 1e300, "neg": -0.0, "s": "ta\u00a9o\u00a9\u03b1T"
})";

const ec::json::Document* Data() {
  static std::unique_ptr<ec::json::Document> doc = std::move(ec::json::Parse(kData).value());
  return doc.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  ec::cel::CelOptions options;
  options.max_steps = 20000;
  options.max_comprehension_iterations = 1000;
  auto program = ec::cel::Compile(std::string_view(reinterpret_cast<const char*>(data), size), options);
  if (!program.ok()) return 0;
  ec::cel::Activation activation(&Data()->root());
  ec::cel::EvalContext ctx;
  ec::cel::Value v = ec::cel::Evaluate(**program, activation, &ctx);
  ec::Arena arena;
  ec::json::Builder builder(&arena);
  (void)ec::cel::ToJson(v, builder);
  (void)ec::cel::EvaluateString(**program, activation, &ctx);
  return 0;
}
