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
#include "../fuzz/jsonata_fuzz_setup.h"

namespace ec::jsonata {
namespace {

TEST(JsonataFuzzCorpus, EveryInputEndsInAResultOrACodedError) {
  auto doc = json::Parse(fuzz::kDocument);
  ASSERT_TRUE(doc.ok());
  const JsonataOptions options = fuzz::Options();
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
