#pragma once
// SSRF guard: webhook targets must not reach loopback, private, link-local, multicast or cloud
// metadata addresses unless an operator allowed them by CIDR (`--webhook-allow`). It is checked
// on every resolved address, right before connecting, so DNS cannot smuggle a private address.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ec::delivery {

// An IPv4 or IPv6 address as 16 bytes (IPv4 stored as ::ffff:a.b.c.d).
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool v4 = false;
};

// Parses a literal IPv4/IPv6 address (no brackets, no zone).
Result<IpAddress> ParseIp(std::string_view text);

struct Cidr {
  IpAddress base;
  int prefix = 0;  // bits, relative to the 128-bit form
  bool Contains(const IpAddress& ip) const;
};

// Parses "10.0.0.0/8", "::1/128" or a bare address (a /32 or /128); kInvalidArgument that quotes
// the text otherwise.
Result<Cidr> ParseCidr(std::string_view text);

// Why `ip` is refused by default ("loopback", "private", "link-local", ...), or empty when it is
// a public unicast address.
std::string_view ForbiddenReason(const IpAddress& ip);

class SsrfGuard {
 public:
  SsrfGuard() = default;
  explicit SsrfGuard(std::vector<Cidr> allow) : allow_(std::move(allow)) {}
  // Adds an allowed range (the same as one `--webhook-allow CIDR`).
  void Allow(const Cidr& cidr) { allow_.push_back(cidr); }
  // OK when `ip` may be connected to; kInvalidArgument naming the address, the reason and the
  // flag that would allow it otherwise.
  Status Check(const IpAddress& ip) const;
  Status CheckText(std::string_view ip_text) const;

 private:
  std::vector<Cidr> allow_;
};

std::string IpToString(const IpAddress& ip);

}  // namespace ec::delivery
