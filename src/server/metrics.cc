#include "server/metrics.h"

#include <cmath>

#include "json/writer.h"

namespace ec::server {
namespace {

void AppendDouble(double d, std::string* out) {
  if (std::isinf(d)) {
    *out += d > 0 ? "+Inf" : "-Inf";
  } else if (std::isnan(d)) {
    *out += "NaN";
  } else {
    json::AppendJsNumber(d, out);
  }
}

void AtomicAdd(std::atomic<double>* a, double d) {
  double cur = a->load(std::memory_order_relaxed);
  while (!a->compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

std::string EscapeHelp(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

Labels WithLabel(Labels labels, std::string key, std::string value) {
  labels.emplace_back(std::move(key), std::move(value));
  return labels;
}

}  // namespace

void Gauge::Add(double d) { AtomicAdd(&v_, d); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double v) { ObserveRepeated(v, 1); }

void Histogram::ObserveRepeated(double v, uint64_t n) {
  if (n == 0) return;
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(n, std::memory_order_relaxed);
  // Repeated addition, not v * n: the product rounds differently from n sums.
  double cur = sum_.load(std::memory_order_relaxed);
  for (;;) {
    double next = cur;
    for (uint64_t k = 0; k < n; ++k) next += v;
    if (sum_.compare_exchange_weak(cur, next, std::memory_order_relaxed)) break;
  }
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

std::string RenderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ",";
    out += labels[i].first;
    out += "=\"";
    for (char c : labels[i].second) {
      if (c == '\\') out += "\\\\";
      else if (c == '"') out += "\\\"";
      else if (c == '\n') out += "\\n";
      else out.push_back(c);
    }
    out += "\"";
  }
  out += "}";
  return out;
}

MetricsRegistry::Child* MetricsRegistry::GetChild(std::string_view name, std::string_view help,
                                                  Type type, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}}).first;
  }
  if (it->second.type != type) {
    orphans_.push_back(std::make_unique<Child>());
    return orphans_.back().get();
  }
  Child& c = it->second.children[RenderLabels(labels)];
  c.labels = labels;
  return &c;
}

Counter* MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                     const Labels& labels) {
  Child* c = GetChild(name, help, Type::kCounter, labels);
  std::lock_guard<std::mutex> lock(mu_);
  if (!c->counter) c->counter = std::make_unique<Counter>();
  return c->counter.get();
}

Gauge* MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                 const Labels& labels) {
  Child* c = GetChild(name, help, Type::kGauge, labels);
  std::lock_guard<std::mutex> lock(mu_);
  if (!c->gauge) c->gauge = std::make_unique<Gauge>();
  return c->gauge.get();
}

Histogram* MetricsRegistry::GetHistogram(std::string_view name, std::string_view help,
                                         const std::vector<double>& bounds, const Labels& labels) {
  Child* c = GetChild(name, help, Type::kHistogram, labels);
  std::lock_guard<std::mutex> lock(mu_);
  if (!c->histogram) c->histogram = std::make_unique<Histogram>(bounds);
  return c->histogram.get();
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    const char* type = fam.type == Type::kCounter ? "counter"
                       : fam.type == Type::kGauge ? "gauge"
                                                  : "histogram";
    out += "# HELP " + name + " " + EscapeHelp(fam.help) + "\n";
    out += "# TYPE " + name + " " + type + "\n";
    for (const auto& [label_text, child] : fam.children) {
      if (child.counter) {
        out += name + label_text + " " + std::to_string(child.counter->value()) + "\n";
      } else if (child.gauge) {
        out += name + label_text + " ";
        AppendDouble(child.gauge->value(), &out);
        out += "\n";
      } else if (child.histogram) {
        const Histogram& h = *child.histogram;
        std::vector<uint64_t> cum = h.CumulativeCounts();
        for (size_t i = 0; i <= h.bounds().size(); ++i) {
          std::string le;
          AppendDouble(i < h.bounds().size() ? h.bounds()[i] : INFINITY, &le);
          out += name + "_bucket" + RenderLabels(WithLabel(child.labels, "le", le)) + " " +
                 std::to_string(cum[i]) + "\n";
        }
        out += name + "_sum" + label_text + " ";
        AppendDouble(h.sum(), &out);
        out += "\n" + name + "_count" + label_text + " " + std::to_string(cum.back()) + "\n";
      }
    }
  }
  return out;
}

std::vector<double> MetricsRegistry::LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace ec::server
