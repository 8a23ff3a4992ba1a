// The changelog state store's limits are explicit configuration: processing.state_cache_bytes,
// processing.state_write_defer_bytes and processing.state_write_defer_ms (docs/configuration.md)
// are read from the YAML file, checked, listed by --help, and default to what the store uses.
#include <gtest/gtest.h>

#include "cdc/state_store.h"
#include "server/config.h"

namespace ec::server {
namespace {

TEST(StateConfig, ReadsTheStateStoreLimits) {
  ServerConfig c;
  Status s = LoadConfigText("processing: {state_cache_bytes: 8MiB, state_write_defer_bytes: 0, state_write_defer_ms: 250, "
                            "state_write_rate_bytes: 0}\n",
                            "c.yaml", &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.state_write_rate_bytes, 0u);
  EXPECT_EQ(StateStoreOptions(c).write_rate_bytes, 0u);
  EXPECT_EQ(c.state_cache_bytes, 8u << 20);
  EXPECT_EQ(c.state_write_defer_bytes, 0u);
  EXPECT_EQ(c.state_write_defer_ms, 250);
  // What serve and the offline replay open the store with.
  const cdc::RocksStateOptions o = StateStoreOptions(c);
  EXPECT_EQ(o.cache_bytes, 8u << 20);
  EXPECT_EQ(o.defer_bytes, 0u);
  EXPECT_EQ(o.defer_ms, 250);
}

TEST(StateConfig, DefaultsAreTheStoreDefaults) {
  ServerConfig c;
  const cdc::RocksStateOptions store;
  EXPECT_EQ(c.state_cache_bytes, store.cache_bytes);
  EXPECT_EQ(c.state_write_defer_bytes, store.defer_bytes);
  EXPECT_EQ(c.state_write_defer_ms, store.defer_ms);
  EXPECT_EQ(c.state_write_rate_bytes, store.write_rate_bytes);
  const std::string help = DescribeConfigOptions();
  for (const char* key : {"processing.state_cache_bytes", "processing.state_write_defer_bytes",
                          "processing.state_write_defer_ms", "processing.state_write_rate_bytes"}) {
    EXPECT_NE(help.find(key), std::string::npos) << key;
  }
}

TEST(StateConfig, BadValuesNameTheKeyAndWhere) {
  ServerConfig c;
  Status s = LoadConfigText("processing:\n  state_write_defer_ms: -5\n", "c.yaml", &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("processing.state_write_defer_ms"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("c.yaml:2:"), std::string::npos) << s.message();
  s = LoadConfigText("processing: {state_cache_bytes: lots}\n", "c.yaml", &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("processing.state_cache_bytes"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("lots"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace ec::server
