// StateStore::ClearResource (used by `replay --resource`): every store forgets exactly the
// keys of one resource, deleted ones included.

#include <gtest/gtest.h>

#include <filesystem>

#include "cdc/state_store.h"
#include "cdc/txn_state_store.h"

namespace ec::cdc {
namespace {

void Fill(StateStore* s) {
  ASSERT_TRUE(s->Put("order", "1", {false, 10, "{\"a\":1}"}).ok());
  ASSERT_TRUE(s->Put("order", "2", {true, 11, ""}).ok());
  ASSERT_TRUE(s->Put("orders", "1", {false, 12, "{}"}).ok());  // a name that extends "order"
  ASSERT_TRUE(s->Put("customer", "1", {false, 13, "{}"}).ok());
}

void Check(StateStore* s) {
  ASSERT_TRUE(s->ClearResource("order").ok());
  EXPECT_FALSE(s->Get("order", "1")->has_value());
  EXPECT_FALSE(s->Get("order", "2")->has_value());  // the deletion time is gone too
  EXPECT_TRUE(s->Get("orders", "1")->has_value());
  EXPECT_TRUE(s->Get("customer", "1")->has_value());
  EXPECT_TRUE(s->List("order", "", 10)->empty());
}

TEST(ClearResource, Memory) {
  MemoryStateStore s;
  Fill(&s);
  Check(&s);
}

TEST(ClearResource, Rocks) {
  auto dir = std::filesystem::temp_directory_path() / ("ec_clear_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    auto s = OpenRocksStateStore(dir.string());
    ASSERT_TRUE(s.ok()) << s.status().message();
    Fill(s->get());
    Check(s->get());
  }
  std::filesystem::remove_all(dir);
}

TEST(ClearResource, TxnOverlayAndBase) {
  MemoryStateStore base;
  Fill(&base);
  TxnStateStore txn(&base);
  ASSERT_TRUE(txn.Put("order", "3", {false, 20, "{}"}).ok());  // pending in the overlay
  Check(&txn);
  EXPECT_FALSE(txn.Get("order", "3")->has_value());
  EXPECT_TRUE(txn.Pending().empty());
}

}  // namespace
}  // namespace ec::cdc
