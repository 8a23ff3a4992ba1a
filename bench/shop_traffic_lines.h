#pragma once
// The shop traffic bench_server.py sends, as NDJSON text: `n` lines of examples/shop/traffic.py
// with its fixed seed (no ids: each gets its stable id; authorization headers, redacted at
// ingest; bodies as JSON). Running the generator keeps the benchmarks on the same lines as the
// end-to-end benchmark instead of a second generator. Empty when python3 is missing.

#include <cstdio>
#include <string>

inline std::string ShopTrafficLines(size_t n) {
  std::string cmd = "python3 " + std::string(EC_SOURCE_DIR) + "/examples/shop/traffic.py --count " +
                    std::to_string(n) + " --out -";
  std::string out;
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, got);
    pclose(f);
  }
  return out;
}
