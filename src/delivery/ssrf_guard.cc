#include "delivery/ssrf_guard.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace ec::delivery {
namespace {

IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress ip;
  ip.v4 = true;
  ip.bytes[10] = 0xff;
  ip.bytes[11] = 0xff;
  ip.bytes[12] = a;
  ip.bytes[13] = b;
  ip.bytes[14] = c;
  ip.bytes[15] = d;
  return ip;
}

Cidr V4Net(uint8_t a, uint8_t b, uint8_t c, uint8_t d, int prefix) {
  return Cidr{V4(a, b, c, d), 96 + prefix};
}

Cidr V6Net(std::string_view text, int prefix) {
  Cidr c;
  c.base = *ParseIp(text);
  c.prefix = prefix;
  return c;
}

struct Range {
  Cidr cidr;
  std::string_view reason;
};

// Checked in order; the first match names the reason.
const std::vector<Range>& ForbiddenRanges() {
  static const std::vector<Range> kRanges = {
      {V4Net(169, 254, 169, 254, 32), "cloud metadata"},
      {V4Net(168, 63, 129, 16, 32), "cloud metadata"},
      {V4Net(100, 100, 100, 200, 32), "cloud metadata"},
      {V6Net("fd00:ec2::254", 128), "cloud metadata"},
      {V4Net(0, 0, 0, 0, 8), "unspecified"},
      {V4Net(127, 0, 0, 0, 8), "loopback"},
      {V4Net(10, 0, 0, 0, 8), "private"},
      {V4Net(172, 16, 0, 0, 12), "private"},
      {V4Net(192, 168, 0, 0, 16), "private"},
      {V4Net(100, 64, 0, 0, 10), "shared address space (CGNAT)"},
      {V4Net(169, 254, 0, 0, 16), "link-local"},
      {V4Net(192, 0, 0, 0, 24), "IETF protocol assignment"},
      {V4Net(198, 18, 0, 0, 15), "benchmarking"},
      {V4Net(224, 0, 0, 0, 4), "multicast"},
      {V4Net(240, 0, 0, 0, 4), "reserved"},
      {V6Net("::", 128), "unspecified"},
      {V6Net("::1", 128), "loopback"},
      {V6Net("fc00::", 7), "private (unique local)"},
      {V6Net("fe80::", 10), "link-local"},
      {V6Net("ff00::", 8), "multicast"},
  };
  return kRanges;
}

}  // namespace

Result<IpAddress> ParseIp(std::string_view text) {
  std::string s(text);
  IpAddress ip;
  in_addr a4;
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    const auto* b = reinterpret_cast<const uint8_t*>(&a4.s_addr);
    return V4(b[0], b[1], b[2], b[3]);
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    std::memcpy(ip.bytes.data(), a6.s6_addr, 16);
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) reach IPv4 hosts: judge them so.
    static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (std::memcmp(a6.s6_addr, kMapped, 12) == 0) ip.v4 = true;
    if (std::memcmp(a6.s6_addr, kNat64, 12) == 0) {
      return V4(a6.s6_addr[12], a6.s6_addr[13], a6.s6_addr[14], a6.s6_addr[15]);
    }
    return ip;
  }
  return InvalidArgument("'" + s + "' is not an IPv4 or IPv6 address");
}

bool Cidr::Contains(const IpAddress& ip) const {
  int bits = prefix;
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((ip.bytes[i] & mask) != (base.bytes[i] & mask)) return false;
  }
  return true;
}

Result<Cidr> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  auto ip = ParseIp(text.substr(0, slash));
  if (!ip.ok()) {
    return InvalidArgument("CIDR '" + std::string(text) +
                           "': the address part is not an IP address; write e.g. 10.0.0.0/8");
  }
  Cidr c;
  c.base = *ip;
  int max_bits = ip->v4 ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), bits);
    if (ec != std::errc() || end != p.data() + p.size() || bits < 0 || bits > max_bits) {
      return InvalidArgument("CIDR '" + std::string(text) + "': prefix length must be 0.." +
                             std::to_string(max_bits));
    }
  }
  c.prefix = ip->v4 ? 96 + bits : bits;
  return c;
}

std::string_view ForbiddenReason(const IpAddress& ip) {
  for (const Range& r : ForbiddenRanges()) {
    if (r.cidr.Contains(ip)) return r.reason;
  }
  return {};
}

std::string IpToString(const IpAddress& ip) {
  char buf[INET6_ADDRSTRLEN];
  if (ip.v4) {
    inet_ntop(AF_INET, ip.bytes.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, ip.bytes.data(), buf, sizeof buf);
  }
  return buf;
}

Status SsrfGuard::Check(const IpAddress& ip) const {
  std::string_view reason = ForbiddenReason(ip);
  if (reason.empty()) return Status::Ok();
  for (const Cidr& c : allow_) {
    if (c.Contains(ip)) return Status::Ok();
  }
  return InvalidArgument("webhook target address " + IpToString(ip) + " is " +
                         std::string(reason) + " and refused (SSRF guard); allow it with " +
                         "--webhook-allow " + IpToString(ip) + (ip.v4 ? "/32" : "/128") +
                         " if this is intended");
}

Status SsrfGuard::CheckText(std::string_view ip_text) const {
  EC_ASSIGN_OR_RETURN(IpAddress ip, ParseIp(ip_text));
  return Check(ip);
}

}  // namespace ec::delivery
