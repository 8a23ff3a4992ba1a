// Two stable ids at once (pipeline/canonical_text_hash.h) against one at a time through OpenSSL.
#include "pipeline/canonical_text_hash.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "pipeline/ids.h"

namespace ec::pipeline {
namespace {

// Every length pair across the padding's edges (55/56 bytes left in the last block: one or two
// tail blocks; 64: none of the message's bytes in the tail) and messages of unequal block
// counts either way round, for both ways of hashing.
TEST(Sha256Hex128PairTo, GivesEachMessagesSha256Hex128) {
  std::mt19937 rng(14);
  std::vector<PairHash> ways = {PairHash::kOpenSsl};
  if (BestPairHash() == PairHash::kShaNi) ways.push_back(PairHash::kShaNi);
  std::vector<size_t> sizes;
  for (size_t n = 0; n <= 200; ++n) sizes.push_back(n);
  for (size_t n : {447, 448, 503, 504, 511, 512, 640, 676, 700, 1000, 4096, 70000}) sizes.push_back(n);
  size_t pairs = 0;
  for (PairHash how : ways) {
    for (size_t i = 0; i < sizes.size(); ++i) {
      for (size_t j : {size_t{0}, i, sizes.size() - 1 - i, (i * 37) % sizes.size()}) {
        std::string a(sizes[i], '\0'), b(sizes[j], '\0');
        for (char& c : a) c = static_cast<char>(rng());
        for (char& c : b) c = static_cast<char>(rng());
        char got_a[kSha256Hex128Length], got_b[kSha256Hex128Length];
        Sha256Hex128PairTo(a, got_a, b, got_b, how);
        EXPECT_EQ(std::string(got_a, sizeof got_a), Sha256Hex128(a)) << sizes[i] << " " << sizes[j];
        EXPECT_EQ(std::string(got_b, sizeof got_b), Sha256Hex128(b)) << sizes[i] << " " << sizes[j];
        ++pairs;
      }
    }
  }
  EXPECT_GT(pairs, 800u);
  // A known digest (FIPS 180-2's "abc"), so the test does not rest on OpenSSL alone.
  char abc[kSha256Hex128Length], empty[kSha256Hex128Length];
  Sha256Hex128PairTo("abc", abc, "", empty);
  EXPECT_EQ(std::string(abc, sizeof abc), "ba7816bf8f01cfea414140de5dae2223");
  EXPECT_EQ(std::string(empty, sizeof empty), "e3b0c44298fc1c149afbf4c8996fb924");
}

}  // namespace
}  // namespace ec::pipeline
