#pragma once
// A webhook subscription: where to deliver which events, and how. JSON in and out of the API
// and of the durable store (docs/webhooks.md describes every field).

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "delivery/cloud_event.h"
#include "json/value.h"

namespace ec::delivery {

struct WebhookAuth {
  std::string type;  // "", "basic" or "bearer"
  std::string username, password, token;
};

struct Subscription {
  std::string id;                    // "sub_" + 16 hex digits, assigned on creation
  std::string url;
  std::vector<std::string> types;    // CloudEvent type globs; empty matches every type
  std::vector<std::string> topics;   // topic globs to read; empty: every non-internal topic
  std::string filter;                // optional CEL over the CloudEvent
  std::string secret;                // whsec_...; never returned after creation
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  WebhookAuth auth;
  double rate_limit = 0;             // deliveries per second; 0 = unlimited
  int max_in_flight = 16;            // concurrent requests (different keys)
  ContentMode mode = ContentMode::kBinary;
  std::string tls_ca_file;           // https: CA PEM for the receiver; empty: system store
  std::string start = "latest";      // first position of a new subscription: latest | earliest
  bool paused = false;
  std::string disabled_reason;       // set when the endpoint was disabled for failing
  int64_t created_ms = 0;
};

// Builds a subscription from a POST body (`base` null) or applies a PATCH body to `*base`.
// Errors: kInvalidArgument naming the field, quoting the bad value and saying what is expected.
// The secret is validated (or generated when absent on creation); `id` and `created_ms` are
// left to the caller.
Result<Subscription> SubscriptionFromJson(const json::Value& body, const Subscription* base);

// The subscription as JSON. The secret is included only when `with_secret` (creation answer
// and the store); the auth password/token are never included unless `with_secret`.
std::string SubscriptionToJson(const Subscription& sub, bool with_secret);

// Whether `topic` is read for `sub` (explicit topics, or every non-internal topic).
bool ReadsTopic(const Subscription& sub, std::string_view topic);
// Whether an event of `type` matches the subscription's globs.
bool MatchesType(const Subscription& sub, std::string_view type);

}  // namespace ec::delivery
