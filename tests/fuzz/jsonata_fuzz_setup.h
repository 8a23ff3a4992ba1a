#pragma once
// What the JSONata fuzz target evaluates against and with which limits; shared with the corpus
// replay test (tests/jsonata/fuzz_corpus_test.cc) so the replay runs exactly what was fuzzed.

#include <chrono>

#include "jsonata/jsonata.h"

namespace ec::jsonata::fuzz {

inline constexpr char kDocument[] = R"({
  "request": {"method": "POST", "path": "/orders/17", "body": {"order_id": "o-17",
    "customer": {"id": "c-9", "tier": "gold"},
    "items": [{"sku": "A1", "price": 12.5, "qty": 2}, {"sku": "B2", "price": 30, "qty": 1},
              {"sku": "C3", "price": 4.25, "qty": 10}]}},
  "response": {"status": 201, "body": {"id": "o-17", "status": "created"}},
  "tags": ["a", "b", ["c", "d"]], "n": null, "t": true, "latency_ms": 12.75
})";

inline JsonataOptions Options() {
  JsonataOptions options;
  options.max_depth = 200;
  options.max_steps = 20000;
  options.time_limit = std::chrono::milliseconds(200);
  options.max_parse_depth = 200;
  return options;
}

}  // namespace ec::jsonata::fuzz
