#pragma once
// A small metrics registry rendered in the Prometheus text exposition format (version 0.0.4).
// Metrics are created once (at wiring time, or lazily for a new label value) and then updated
// lock-free through the returned pointers, which stay valid as long as the registry.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ec::server {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  // `bounds`: ascending upper bounds of the buckets; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // The same as `n` calls of Observe(v) in a row (same counts; the sum gains v n times in turn,
  // so its double is bit for bit what those calls give), with one bucket search and one
  // atomic update of each field: a pass observes the latency of every record, and records of
  // one append share a timestamp, hence a value.
  void ObserveRepeated(double v, uint64_t n);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound (the last entry is +Inf = total count), and the sum.
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // one per bound plus +Inf
  std::atomic<double> sum_{0};
};

class MetricsRegistry {
 public:
  // The metric `name` with `labels`, created on first use. `help` is used when the family is
  // new. Asking for an existing name with another type is a programmer error (returns a
  // throwaway metric that is not rendered).
  Counter* GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge* GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram* GetHistogram(std::string_view name, std::string_view help,
                          const std::vector<double>& bounds, const Labels& labels = {});

  // Every metric in the text exposition format, families sorted by name.
  std::string RenderPrometheus() const;

  // Default latency buckets in seconds: 0.5 ms .. 10 s.
  static std::vector<double> LatencyBuckets();

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Child {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, Child> children;  // by rendered label string
  };
  Child* GetChild(std::string_view name, std::string_view help, Type type, const Labels& labels);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;  // guarded by mu_
  std::vector<std::unique_ptr<Child>> orphans_;           // wrong-type requests; guarded by mu_
};

// `{a="x",b="y"}` with Prometheus escaping, or "" for no labels.
std::string RenderLabels(const Labels& labels);

}  // namespace ec::server
