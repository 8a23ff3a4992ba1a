// GrowingIndex against a std::unordered_map model: every item findable (and nothing else)
// after each step of inserts and erases, through doublings whose moves are in progress.
#include "cdc/growing_index.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <unordered_map>
#include <vector>

namespace ec::cdc {
namespace {

struct Item {
  uint64_t key;
  uint64_t hash;
};

// Checks the index holds exactly the model's items.
void ExpectSame(const GrowingIndex& index, const std::unordered_map<uint64_t, Item*>& model,
                const std::vector<Item*>& gone) {
  ASSERT_EQ(index.size(), model.size());
  for (const auto& [key, item] : model) {
    const uint64_t k = key;
    void* found = index.Find(item->hash, [k](const void* p) { return static_cast<const Item*>(p)->key == k; });
    ASSERT_EQ(found, item) << "key " << key;
  }
  for (const Item* item : gone) {
    const uint64_t k = item->key;
    ASSERT_EQ(index.Find(item->hash, [k](const void* p) { return static_cast<const Item*>(p)->key == k; }), nullptr)
        << "erased key " << k;
  }
  size_t walked = 0;
  index.ForEach([&](void* p) {
    ++walked;
    ASSERT_EQ(model.at(static_cast<Item*>(p)->key), p);
  });
  ASSERT_EQ(walked, model.size());
}

// `hash_of` decides how crowded the runs are: few distinct hashes make long runs that cross
// the moved part of the old table and wrap around its end.
void Exercise(uint64_t (*hash_of)(uint64_t), size_t steps, size_t check_every) {
  std::mt19937_64 rng(7);
  std::vector<std::unique_ptr<Item>> storage;
  std::unordered_map<uint64_t, Item*> model;
  std::vector<Item*> gone;
  std::vector<uint64_t> keys;  // live keys, for picking one to erase
  GrowingIndex index;
  bool saw_growing = false;
  for (size_t step = 0; step < steps; ++step) {
    if (!keys.empty() && rng() % 3 == 0) {  // erase one
      const size_t at = rng() % keys.size();
      Item* item = model.at(keys[at]);
      index.Erase(item->hash, item);
      model.erase(item->key);
      gone.push_back(item);
      keys[at] = keys.back();
      keys.pop_back();
    } else {
      const uint64_t key = storage.size();
      storage.push_back(std::make_unique<Item>(Item{key, hash_of(key)}));
      index.Insert(storage.back()->hash, storage.back().get());
      model.emplace(key, storage.back().get());
      keys.push_back(key);
    }
    saw_growing |= index.growing();
    if (step % check_every == 0 || index.growing()) ExpectSame(index, model, gone);
    if (::testing::Test::HasFatalFailure()) return;
  }
  ExpectSame(index, model, gone);
  EXPECT_TRUE(saw_growing);  // the checks above ran while doublings were in progress
}

uint64_t Spread(uint64_t key) { return key * 0x9E3779B97F4A7C15ull; }
// Every key's home bucket is one of the last 8 of any table: one long run that wraps around.
uint64_t AtTheEnd(uint64_t key) { return ~uint64_t{0} - (key % 8); }
// 97 distinct hashes, with different keys sharing one: items told apart by `same`, not hash.
uint64_t Clustered(uint64_t key) { return Spread(key % 97); }

TEST(GrowingIndex, MatchesAMapThroughDoublingsWithSpreadHashes) { Exercise(Spread, 40000, 997); }

TEST(GrowingIndex, RunsThatWrapAroundTheEndSurviveTheMoves) { Exercise(AtTheEnd, 2000, 100); }

TEST(GrowingIndex, EqualHashesAreToldApartByTheItem) { Exercise(Clustered, 2000, 100); }

TEST(GrowingIndex, AMillionBucketTableGrowsInSteps) {
  // Past 2 MiB a table is its own huge-page mapping (no clearing pass): fill one, check all.
  GrowingIndex index;
  std::vector<Item> items(300000);
  for (uint64_t k = 0; k < items.size(); ++k) {
    items[k] = Item{k, Spread(k)};
    index.Insert(items[k].hash, &items[k]);
  }
  EXPECT_EQ(index.size(), items.size());
  for (const Item& item : items) {
    const uint64_t k = item.key;
    ASSERT_EQ(index.Find(item.hash, [k](const void* p) { return static_cast<const Item*>(p)->key == k; }), &item);
  }
  for (const Item& item : items) index.Erase(item.hash, &item);
  EXPECT_EQ(index.size(), 0u);
  const uint64_t k = 5;
  EXPECT_EQ(index.Find(items[5].hash, [k](const void* p) { return static_cast<const Item*>(p)->key == k; }), nullptr);
}

}  // namespace
}  // namespace ec::cdc
