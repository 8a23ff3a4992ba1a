#pragma once
// When to retry a webhook delivery and how long to wait (pure functions, so tests can check
// timing without sleeping).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ec::delivery {

struct RetryPolicy {
  // Attempts in total (the first one included) before the event is dead-lettered.
  int max_attempts = 8;
  std::chrono::milliseconds initial_backoff{500};
  double multiplier = 2.0;
  std::chrono::milliseconds max_backoff{std::chrono::minutes(10)};
  // Each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter].
  double jitter = 0.2;
  // A Retry-After longer than this is capped (a receiver cannot park a subscription forever).
  std::chrono::milliseconds max_retry_after{std::chrono::hours(1)};
  // Per-request timeout (connect + write + response).
  std::chrono::milliseconds request_timeout{std::chrono::seconds(10)};
  // An endpoint whose deliveries all failed for this long is disabled and reported.
  std::chrono::milliseconds disable_after{std::chrono::hours(24)};
};

enum class Outcome { kDelivered, kRetry, kFinal };

// kDelivered for 2xx; kRetry for 408, 429, 5xx and transport failures (status 0); kFinal for
// every other status (other 4xx, and 3xx: redirects are not followed).
Outcome Classify(int http_status);

// The wait before attempt `next_attempt` (2 for the first retry): initial * multiplier^(n-2),
// capped at max_backoff, scaled by the jitter factor taken from `unit_random` in [0, 1).
// A Retry-After from the receiver, when present, replaces the computed delay (capped).
std::chrono::milliseconds BackoffDelay(const RetryPolicy& policy, int next_attempt,
                                       double unit_random,
                                       std::optional<std::chrono::milliseconds> retry_after);

// Parses a Retry-After value: delay-seconds or an IMF-fixdate (RFC 9110), relative to
// `now_s` (seconds since the epoch). nullopt when unparseable.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value, int64_t now_s);

}  // namespace ec::delivery
