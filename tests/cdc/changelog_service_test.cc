// ChangelogService: changelog topics created compacted (or switched to compaction), the
// RocksDB state under <data_dir>/cdc-state surviving a reopen.
#include "cdc/changelog_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "log/log_manager.h"

namespace ec::cdc {
namespace {

TEST(ChangelogService, CreatesCompactedTopicsAndPersistsState) {
  std::vector<std::string> files{std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml"};
  auto specs = spec::LoadSpecs(files);
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  EXPECT_EQ(ChangelogTopics(**specs), (std::vector<std::string>{"shop.orders.changelog", "shop.customers.changelog"}));

  auto dir = std::filesystem::temp_directory_path() / ("ec_cdc_service_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  for (int round = 0; round < 2; ++round) {
    log::LogManagerOptions lo;
    lo.data_dir = dir.string();
    lo.maintenance_interval_ms = 0;
    auto logs = log::LogManager::Open(lo);
    ASSERT_TRUE(logs.ok()) << logs.status().message();
    if (round == 0) {
      // Exists already without compaction: switched to compact.
      ASSERT_TRUE((*logs)->CreateTopic("shop.customers.changelog", 1).ok());
    }
    ChangelogServiceOptions o;
    o.data_dir = dir.string();
    auto service = ChangelogService::Open(o, **specs, logs->get());
    ASSERT_TRUE(service.ok()) << service.status().message();
    for (const char* t : {"shop.orders.changelog", "shop.customers.changelog"}) {
      auto info = (*logs)->DescribeTopic(t);
      ASSERT_TRUE(info.has_value()) << t;
      EXPECT_TRUE(info->config->cleanup_compact) << t;
    }
    if (round == 0) {
      ASSERT_TRUE((*service)->store()->Put("order", "o-1", {false, 7, "{}"}).ok());
    } else {
      auto got = (*service)->store()->Get("order", "o-1");
      ASSERT_TRUE(got.ok() && got->has_value());
      EXPECT_EQ((*got)->ts_ms, 7);
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ec::cdc
