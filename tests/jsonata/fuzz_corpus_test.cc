// Replays the checked-in fuzz corpus (tests/fuzz/corpus/jsonata, grown by the coverage-guided
// fuzzer) through the normal build on every `make test`: each input either compiles or fails
// with a structured error code, and evaluation ends within its limits with a result or a coded
// error. A crash, a hang or an uncoded error fails the test; the fuzz build (ASan/UBSan) is where
// the corpus is grown.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "json/document.h"
#include "jsonata/jsonata.h"

namespace ec::jsonata {
namespace {

// The fuzz target's document (tests/fuzz/jsonata_fuzz.cc).
const char kInput[] = R"({
  "request": {"method": "POST", "path": "/orders/17", "body": {"order_id": "o-17",
    "customer": {"id": "c-9", "tier": "gold"},
    "items": [{"sku": "A1", "price": 12.5, "qty": 2}, {"sku": "B2", "price": 30, "qty": 1},
              {"sku": "C3", "price": 4.25, "qty": 10}]}},
  "response": {"status": 201, "body": {"id": "o-17", "status": "created"}},
  "tags": ["a", "b", ["c", "d"]], "n": null, "t": true, "latency_ms": 12.75
})";

TEST(JsonataFuzzCorpus, EveryInputEndsInAResultOrACodedError) {
  auto doc = json::Parse(kInput);
  ASSERT_TRUE(doc.ok());
  JsonataOptions options;
  options.max_depth = 200;
  options.max_steps = 20000;
  options.time_limit = std::chrono::milliseconds(200);
  options.max_parse_depth = 200;
  const std::filesystem::path dir = std::filesystem::path(EC_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / "jsonata";
  int inputs = 0, compiled = 0, evaluated = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string src = ss.str();
    ++inputs;
    Error err;
    auto expr = Compile(src, options, &err);
    if (!expr.ok()) {
      EXPECT_FALSE(err.code.empty()) << entry.path();
      continue;
    }
    ++compiled;
    Arena arena;
    auto start = std::chrono::steady_clock::now();
    Error eval_err;
    auto out = (*expr)->Evaluate(Defined((*doc)->root()), &arena, nullptr, &eval_err);
    auto took = std::chrono::steady_clock::now() - start;
    // The 200 ms time limit, with room for a loaded machine.
    EXPECT_LT(took, std::chrono::seconds(5)) << entry.path();
    if (out.ok()) {
      ++evaluated;
    } else {
      EXPECT_FALSE(eval_err.code.empty()) << entry.path() << ": " << out.status().message();
    }
  }
  EXPECT_GT(inputs, 1000);  // the corpus is there and was read
  std::printf("%d corpus inputs: %d compiled, %d evaluated without error\n", inputs, compiled, evaluated);
}

}  // namespace
}  // namespace ec::jsonata
