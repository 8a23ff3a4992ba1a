#include "server/metrics.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ec::server
