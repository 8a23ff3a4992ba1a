#include "delivery/retry_policy.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <string>

namespace ec::delivery {

Outcome Classify(int s) {
  if (s >= 200 && s < 300) return Outcome::kDelivered;
  if (s == 0 || s == 408 || s == 429 || s >= 500) return Outcome::kRetry;
  return Outcome::kFinal;
}

std::chrono::milliseconds BackoffDelay(const RetryPolicy& p, int next_attempt, double unit_random,
                                       std::optional<std::chrono::milliseconds> retry_after) {
  using std::chrono::milliseconds;
  if (retry_after) return std::clamp(*retry_after, milliseconds(0), p.max_retry_after);
  double base = static_cast<double>(p.initial_backoff.count()) *
                std::pow(p.multiplier, std::max(0, next_attempt - 2));
  base = std::min(base, static_cast<double>(p.max_backoff.count()));
  double factor = 1.0 - p.jitter + 2.0 * p.jitter * unit_random;
  return milliseconds(static_cast<int64_t>(std::llround(base * factor)));
}

std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view v, int64_t now_s) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  int64_t secs = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
  if (ec == std::errc() && end == v.data() + v.size()) {
    if (secs < 0) return std::nullopt;
    return std::chrono::milliseconds(secs * 1000);
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  std::string s(v);
  const char* rest = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (rest == nullptr || *rest != '\0') return std::nullopt;
  int64_t at = timegm(&tm);
  return std::chrono::milliseconds(std::max<int64_t>(0, at - now_s) * 1000);
}

}  // namespace ec::delivery
