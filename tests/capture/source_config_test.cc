// The capture-source sections of the serve config (syslog:, proxy:, firehose:, files:).

#include <gtest/gtest.h>

#include "server/config.h"

namespace ec::server {
namespace {

TEST(SourceConfig, SectionsAreRead) {
  ServerConfig c;
  Status s = LoadConfigText(
      "syslog:\n  udp: 127.0.0.1:5514\n  tcp: 0.0.0.0:5514\n  format: nginx\n  max_message_bytes: 512KiB\n"
      "proxy:\n  listen: 127.0.0.1:8081\n  upstream: http://127.0.0.1:3000\n  max_body_bytes: 64KiB\n  threads: 3\n"
      "firehose:\n  access_key: k1\n"
      "files:\n  - {path: /var/log/a.ndjson, format: kong}\n  - path: /var/log/b.ndjson\n",
      "c.yaml", &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.syslog.udp, "127.0.0.1:5514");
  EXPECT_EQ(c.syslog.tcp, "0.0.0.0:5514");
  EXPECT_EQ(c.syslog.format, "nginx");
  EXPECT_EQ(c.syslog.max_message_bytes, 512u << 10);
  EXPECT_TRUE(c.proxy.enabled());
  EXPECT_EQ(c.proxy.upstream, "http://127.0.0.1:3000");
  EXPECT_EQ(c.proxy.max_body_bytes, 64u << 10);
  EXPECT_EQ(c.proxy.threads, 3);
  EXPECT_EQ(c.firehose.access_key, "k1");
  EXPECT_EQ(c.firehose.format, "aws-apigw");
  ASSERT_EQ(c.files.size(), 2u);
  EXPECT_EQ(c.files[0].format, "kong");
  EXPECT_EQ(c.files[1].path, "/var/log/b.ndjson");
  EXPECT_EQ(c.files[1].format, "detect");
}

TEST(SourceConfig, MistakesSayWhereAndWhat) {
  struct Case {
    std::string yaml, want;
  } cases[] = {
      {"syslog:\n  udp: localhost\n", "c.yaml:2:8: syslog.udp 'localhost' is not HOST:PORT"},
      {"syslog:\n  tpc: 127.0.0.1:1\n", "c.yaml:2:3: unknown option 'tpc' in syslog"},
      {"proxy:\n  listen: 127.0.0.1:8081\n", "proxy.listen needs proxy.upstream"},
      {"files: /var/log/a.ndjson\n", "files must be a list"},
      {"files:\n  - {format: kong}\n", "files[] needs a path"},
  };
  for (const Case& c : cases) {
    ServerConfig config;
    Status s = LoadConfigText(c.yaml, "c.yaml", &config);
    ASSERT_FALSE(s.ok()) << c.yaml;
    EXPECT_NE(s.message().find(c.want), std::string::npos) << c.yaml << " -> " << s.message();
  }
}

}  // namespace
}  // namespace ec::server
