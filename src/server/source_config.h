#pragma once
// Options of the in-process capture sources `serve` can run (docs/configuration.md, "Capture
// sources"): the syslog listener, the capture proxy, the Firehose endpoint and file tails.

#include <cstdint>
#include <string>
#include <vector>

namespace ec::server {

struct SyslogSourceConfig {
  std::string udp;                        // HOST:PORT; empty = no UDP listener
  std::string tcp;                        // HOST:PORT; empty = no TCP listener
  std::string format = "detect";          // decoder of each message's MSG
  uint64_t max_message_bytes = 256 << 10;  // longer messages are dead-lettered
  uint64_t queue = 100000;                // messages waiting to be appended; the listener waits beyond
  bool enabled() const { return !udp.empty() || !tcp.empty(); }
};

struct ProxySourceConfig {
  std::string listen;                  // HOST:PORT; empty = no capture proxy
  std::string upstream;                // http://HOST:PORT
  uint64_t max_body_bytes = 1 << 20;   // recorded per body; forwarding is never limited
  int threads = 2;                     // I/O threads
  uint64_t queue = 10000;              // captures waiting; more are dropped and counted
  bool enabled() const { return !listen.empty(); }
};

struct FirehoseConfig {
  // X-Amz-Firehose-Access-Key every delivery must carry; empty = the endpoint answers 403.
  std::string access_key;
  std::string format = "aws-apigw";  // decoder of the delivered records
};

struct FileSourceConfig {
  std::string path;
  std::string format = "detect";
};

}  // namespace ec::server
