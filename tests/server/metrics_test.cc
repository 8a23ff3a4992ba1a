#include "server/metrics.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace ec::server {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndHistogramsInTextFormat) {
  MetricsRegistry reg;
  reg.GetCounter("ec_ingested_total", "Records accepted")->Inc(3);
  reg.GetCounter("ec_rejected_total", "Records rejected", {{"reason", "bad \"json\""}})->Inc();
  reg.GetGauge("ec_lag_records", "Pipeline lag")->Set(12.5);
  Histogram* h = reg.GetHistogram("ec_latency_seconds", "Latency", {0.01, 0.1});
  h->Observe(0.005);
  h->Observe(0.05);
  h->Observe(5);
  std::string text = reg.RenderPrometheus();
  EXPECT_EQ(text,
            "# HELP ec_ingested_total Records accepted\n"
            "# TYPE ec_ingested_total counter\n"
            "ec_ingested_total 3\n"
            "# HELP ec_lag_records Pipeline lag\n"
            "# TYPE ec_lag_records gauge\n"
            "ec_lag_records 12.5\n"
            "# HELP ec_latency_seconds Latency\n"
            "# TYPE ec_latency_seconds histogram\n"
            "ec_latency_seconds_bucket{le=\"0.01\"} 1\n"
            "ec_latency_seconds_bucket{le=\"0.1\"} 2\n"
            "ec_latency_seconds_bucket{le=\"+Inf\"} 3\n"
            "ec_latency_seconds_sum 5.055\n"
            "ec_latency_seconds_count 3\n"
            "# HELP ec_rejected_total Records rejected\n"
            "# TYPE ec_rejected_total counter\n"
            "ec_rejected_total{reason=\"bad \\\"json\\\"\"} 1\n");
}

TEST(MetricsTest, SameNameAndLabelsGiveTheSameMetric) {
  MetricsRegistry reg;
  Counter* a = reg.GetCounter("c", "h", {{"type", "x"}});
  Counter* b = reg.GetCounter("c", "h", {{"type", "x"}});
  Counter* other = reg.GetCounter("c", "h", {{"type", "y"}});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, other);
  // A name reused with another type is not rendered twice.
  reg.GetGauge("c", "h")->Set(1);
  a->Inc();
  std::string text = reg.RenderPrometheus();
  EXPECT_NE(text.find("c{type=\"x\"} 1\n"), std::string::npos);
  EXPECT_EQ(text.find("# TYPE c gauge"), std::string::npos);
}

// ObserveRepeated(v, n) is what the pipeline runner calls once per run of equal append times
// instead of n Observe(v) calls: the counts and the sum's bits must be the same.
TEST(MetricsTest, ObserveRepeatedIsNObservesBitForBit) {
  std::mt19937_64 rng(8);
  const std::vector<double> bounds = MetricsRegistry::LatencyBuckets();
  int sums_differing_from_product = 0;
  for (int round = 0; round < 300; ++round) {
    Histogram each(bounds);
    Histogram repeated(bounds);
    // Start both sums from the same non-trivial value so the additions round.
    double start = static_cast<double>(rng() % 100000) / 997.0;
    each.Observe(start);
    repeated.Observe(start);
    double product_sum = start;
    const int runs = 1 + static_cast<int>(rng() % 12);
    for (int r = 0; r < runs; ++r) {
      // Millisecond latencies as the runner makes them, across the bucket bounds (0.5 ms..10 s
      // and past them), plus exact bounds and zero.
      double v;
      switch (rng() % 4) {
        case 0: v = bounds[rng() % bounds.size()]; break;
        case 1: v = 0; break;
        default: v = static_cast<double>(rng() % 20000) / 1000.0; break;
      }
      const uint64_t n = rng() % 1500;
      for (uint64_t k = 0; k < n; ++k) each.Observe(v);
      repeated.ObserveRepeated(v, n);
      product_sum += v * static_cast<double>(n);
    }
    ASSERT_EQ(each.CumulativeCounts(), repeated.CumulativeCounts()) << "round " << round;
    const double a = each.sum();
    const double b = repeated.sum();
    ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << "round " << round << ": " << a << " vs " << b;
    if (product_sum != a) ++sums_differing_from_product;
  }
  // The test would not tell repeated addition from a product otherwise.
  EXPECT_GT(sums_differing_from_product, 50);
}

}  // namespace
}  // namespace ec::server
