// Fuzz target for the exchange decoders (canonical, kong, har, detection, normalisation,
// redaction): any input must give an exchange or a Status, never a crash, and every decoded
// exchange must serialise to JSON that parses again.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "json/document.h"
#include "json/writer.h"
#include "pipeline/exchange.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr std::string_view kFormats[] = {"detect", "canonical", "kong", "har"};
  static const std::vector<std::string> kRedact = {"request.headers.authorization", "request.body.*.secret",
                                                   "response.headers.set-cookie", "client.ip"};
  std::string_view format = kFormats[data[0] % 4];
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  ec::pipeline::DecodeOptions options;
  options.redact = kRedact;
  options.now_ms = 1795774530123;
  options.max_body_bytes = 1 << 16;
  ec::Arena arena;
  std::vector<ec::json::Value> out;
  ec::Status s = ec::pipeline::DecodeBytes(text, format, options, &arena, &out);
  if (!s.ok()) {
    if (!out.empty()) __builtin_trap();  // nothing is appended on error
    return 0;
  }
  for (const ec::json::Value& x : out) {
    std::string json = ec::json::ToJson(x);
    if (!x.Find("id") || !x.Find("time") || !x.Find("request") || !x.Find("response")) __builtin_trap();
    auto again = ec::json::Parse(json, {.max_depth = 1024});
    if (!again.ok()) __builtin_trap();
  }
  return 0;
}
