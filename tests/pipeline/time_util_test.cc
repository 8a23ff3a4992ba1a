// IsRfc3339Ms (time_util.h) must say exactly whether ParseRfc3339Ms gives a time: ingest's
// canonical decoder declines a record by it, where the tree path parses the time.
#include "pipeline/time_util.h"

#include <random>
#include <string>

#include <gtest/gtest.h>

#include "pipeline/processor.h"

namespace ec::pipeline {
namespace {

TEST(IsRfc3339MsTest, AgreesWithTheParseOnEditedCanonicalTimes) {
  std::mt19937_64 rng(20261128);
  const char replacements[] = {'0', '1', '2', '3', '5', '6', '9', '/', ':', '-', 'T', 't', ' ',
                               '.', 'Z', 'z', '+', 'a', '\0', '\x80', '\xb9'};
  size_t accepted = 0, declined = 0;
  for (int i = 0; i < 3000; ++i) {
    const int64_t ms = static_cast<int64_t>(rng() % 253402300800000ull);  // years 1970-9999
    const std::string text = FormatRfc3339Ms(ms);
    ASSERT_TRUE(IsRfc3339Ms(text)) << text;
    for (size_t at = 0; at < text.size(); ++at) {
      std::string changed = text;
      changed[at] = replacements[rng() % sizeof(replacements)];
      // The oracle is the general parse: the same time with "+00:00" for 'Z' (a spelling the
      // canonical fast path does not take), so a wrong range in the shared fast path shows.
      const std::string general = changed[23] == 'Z' ? changed.substr(0, 23) + "+00:00" : changed;
      const bool parses = ParseRfc3339Ms(general).has_value();
      ASSERT_EQ(IsRfc3339Ms(changed), parses) << changed;
      (parses ? accepted : declined) += 1;
    }
    // Shorter, longer, and other spellings of the same time.
    for (const std::string& other : {text.substr(0, 23), text + "0", text.substr(0, 23) + "+00:00",
                                     text.substr(0, 19) + "Z", text.substr(0, 22) + "Z"}) {
      ASSERT_EQ(IsRfc3339Ms(other), ParseRfc3339Ms(other).has_value()) << other;
    }
  }
  // Both answers were exercised (no test that cannot fail).
  EXPECT_GT(accepted, 1000u);
  EXPECT_GT(declined, 1000u);
}

TEST(IsRfc3339MsTest, RangeEdges) {
  for (const char* t : {"2026-12-31T23:59:59.999Z", "2026-00-10T00:00:00.000Z", "2026-01-00T00:00:00.000Z",
                        "2026-01-32T00:00:00.000Z", "2026-01-31T00:00:00.000Z", "2026-13-01T00:00:00.000Z",
                        "2026-12-01T00:00:00.000Z", "2026-01-01T24:00:00.000Z", "2026-01-01T23:00:00.000Z",
                        "2026-01-01T00:60:00.000Z", "2026-01-01T00:59:00.000Z", "2016-12-31T23:59:60.500Z",
                        "2016-12-31T23:59:61.000Z", "0000-03-01T00:00:00.000Z", "", "2026-11-27 10:15",
                        "2026-11-27T10:15:30.123+01:00", "2026-11-27t10:15:30Z"}) {
    const std::string text = t;
    const std::string general = text.size() == 24 && text[23] == 'Z' ? text.substr(0, 23) + "+00:00" : text;
    EXPECT_EQ(IsRfc3339Ms(t), ParseRfc3339Ms(general).has_value()) << t;
  }
  EXPECT_TRUE(IsRfc3339Ms("2016-12-31T23:59:60.500Z"));
  EXPECT_FALSE(IsRfc3339Ms("2026-01-32T00:00:00.000Z"));
  EXPECT_FALSE(IsRfc3339Ms("2026-01-01T24:00:00.000Z"));
}

}  // namespace
}  // namespace ec::pipeline
