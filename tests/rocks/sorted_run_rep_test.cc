// The sorted-run memtable of the ingest dedupe index (src/rocks/sorted_run_rep.h): a RocksDB
// with it must answer every read as one with RocksDB's own skip list does, whatever the order of
// the writes (sorted rounds as the index writes them, shuffled, descending, overwrites, deletes),
// in the active memtable, in immutable ones and after flushes, and while a writer is adding keys.
#include "rocks/sorted_run_rep.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace ec::rocks {
namespace {

struct Db {
  std::string dir;
  std::unique_ptr<rocksdb::DB> db;
  Db(const std::string& name, bool sorted_runs, size_t write_buffer) {
    dir = (std::filesystem::temp_directory_path() / (name + std::to_string(getpid()))).string();
    std::filesystem::remove_all(dir);
    rocksdb::Options o;
    o.create_if_missing = true;
    o.write_buffer_size = write_buffer;
    o.max_write_buffer_number = 4;
    o.allow_concurrent_memtable_write = false;
    o.memtable_whole_key_filtering = true;
    o.memtable_prefix_bloom_size_ratio = 0.05;
    if (sorted_runs) o.memtable_factory = NewSortedRunMemTableFactory(/*bytewise_keys=*/true);
    rocksdb::DB* raw = nullptr;
    EXPECT_TRUE(rocksdb::DB::Open(o, dir, &raw).ok());
    db.reset(raw);
  }
  ~Db() {
    db.reset();
    std::filesystem::remove_all(dir);
  }
  std::string Get(const std::string& k) const {
    std::string v;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), k, &v);
    return s.ok() ? v : s.IsNotFound() ? "<none>" : "<error " + s.ToString() + ">";
  }
};

std::string RandomKey(std::mt19937_64& rng) {
  // Mostly the index's 17-byte ids (a tag and 16 random bytes), some shorter keys (its position
  // and version keys), some that share long prefixes.
  const int kind = static_cast<int>(rng() % 10);
  std::string k;
  if (kind < 7) {
    k.push_back("hsux"[rng() % 4]);
    for (int i = 0; i < 16; ++i) k.push_back(static_cast<char>(rng()));
  } else if (kind < 9) {
    k = "papi-logs";
    k.push_back('\0');
    k += std::to_string(rng() % 12);
  } else {
    k = "s" + std::string(15, '\x7f');
    k.push_back(static_cast<char>(rng() % 4));
  }
  return k;
}

// Every key in `model` and some absent ones: Get and MultiGet agree with the model in both DBs.
void ExpectSameReads(const Db& skip, const Db& runs, const std::map<std::string, std::string>& model,
                     std::mt19937_64& rng) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : model) keys.push_back(k);
  for (int i = 0; i < 200; ++i) keys.push_back(RandomKey(rng));
  for (const std::string& k : keys) {
    auto it = model.find(k);
    const std::string want = it == model.end() ? "<none>" : it->second;
    ASSERT_EQ(skip.Get(k), want);
    ASSERT_EQ(runs.Get(k), want) << "key of " << k.size() << " bytes";
  }
  std::sort(keys.begin(), keys.end());
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  runs.db->MultiGet(rocksdb::ReadOptions(), runs.db->DefaultColumnFamily(), slices.size(), slices.data(),
                    values.data(), statuses.data(), /*sorted_input=*/true);
  for (size_t i = 0; i < keys.size(); ++i) {
    auto it = model.find(keys[i]);
    ASSERT_EQ(statuses[i].ok(), it != model.end());
    if (it != model.end()) ASSERT_EQ(values[i].ToString(), it->second);
  }
}

// Full scans both ways and seeks (Seek, SeekForPrev) at random keys give the model's entries.
void ExpectSameIteration(const Db& runs, const std::map<std::string, std::string>& model, std::mt19937_64& rng) {
  std::unique_ptr<rocksdb::Iterator> it(runs.db->NewIterator(rocksdb::ReadOptions()));
  auto m = model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++m) {
    ASSERT_NE(m, model.end());
    ASSERT_EQ(it->key().ToString(), m->first);
    ASSERT_EQ(it->value().ToString(), m->second);
  }
  ASSERT_TRUE(it->status().ok());
  ASSERT_EQ(m, model.end());
  auto r = model.rbegin();
  for (it->SeekToLast(); it->Valid(); it->Prev(), ++r) {
    ASSERT_NE(r, model.rend());
    ASSERT_EQ(it->key().ToString(), r->first);
  }
  ASSERT_EQ(r, model.rend());
  for (int i = 0; i < 100; ++i) {
    const std::string k = RandomKey(rng);
    it->Seek(k);
    auto lb = model.lower_bound(k);
    ASSERT_EQ(it->Valid(), lb != model.end());
    if (lb != model.end()) {
      ASSERT_EQ(it->key().ToString(), lb->first);
      // Forward from a seek, then back over it.
      it->Next();
      auto nx = std::next(lb);
      ASSERT_EQ(it->Valid(), nx != model.end());
      if (nx != model.end()) ASSERT_EQ(it->key().ToString(), nx->first);
      if (it->Valid()) {
        it->Prev();
        ASSERT_TRUE(it->Valid());
        ASSERT_EQ(it->key().ToString(), lb->first);
      }
    }
    it->SeekForPrev(k);
    auto ub = model.upper_bound(k);
    ASSERT_EQ(it->Valid(), ub != model.begin());
    if (ub != model.begin()) ASSERT_EQ(it->key().ToString(), std::prev(ub)->first);
  }
}

class DedupeMemTable : public testing::TestWithParam<size_t> {};

// Rounds of writes in the orders the index makes (sorted ids, then its position keys) and in
// orders it never makes (shuffled, descending, one key at a time, overwrites and deletes of
// earlier keys), checked after each round against RocksDB's own memtable and a model. With a
// 64 KiB write buffer the rounds go through many memtable switches and flushes; with 64 MiB
// they stay in the active memtable.
TEST_P(DedupeMemTable, AnswersAsTheSkipListDoesWhateverTheWriteOrder) {
  Db skip("ec_sorted_run_skip_", /*sorted_runs=*/false, GetParam());
  Db runs("ec_sorted_run_runs_", /*sorted_runs=*/true, GetParam());
  std::mt19937_64 rng(GetParam());
  std::map<std::string, std::string> model;
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  std::vector<std::string> known;
  for (int round = 0; round < 60; ++round) {
    std::vector<std::string> keys;
    const int n = static_cast<int>(rng() % 600) + 1;
    for (int i = 0; i < n; ++i) {
      // Some rounds put earlier keys again (an id read twice after a crash).
      if (!known.empty() && rng() % 8 == 0) {
        keys.push_back(known[rng() % known.size()]);
      } else {
        keys.push_back(RandomKey(rng));
      }
    }
    const int order = round % 5;
    if (order == 0 || order == 1) std::sort(keys.begin(), keys.end());
    if (order == 2) std::sort(keys.begin(), keys.end(), std::greater<>());
    rocksdb::WriteBatch batch;
    for (const std::string& k : keys) {
      const std::string v = "r" + std::to_string(round) + ":" + std::to_string(rng() % 1000);
      if (rng() % 16 == 0) {
        batch.Delete(k);
        model.erase(k);
      } else {
        batch.Put(k, v);
        model[k] = v;
      }
      known.push_back(k);
    }
    if (order == 1) {  // the index's shape: its position keys after the sorted ids
      for (int p = 0; p < 3; ++p) {
        const std::string k = std::string("papi-logs") + '\0' + std::to_string(p);
        const std::string v = std::to_string(round);
        batch.Put(k, v);
        model[k] = v;
      }
    }
    if (order == 4) {  // one key per write
      for (const std::string& k : keys) {
        auto it = model.find(k);
        if (it == model.end()) {
          ASSERT_TRUE(skip.db->Delete(wo, k).ok());
          ASSERT_TRUE(runs.db->Delete(wo, k).ok());
        } else {
          ASSERT_TRUE(skip.db->Put(wo, k, it->second).ok());
          ASSERT_TRUE(runs.db->Put(wo, k, it->second).ok());
        }
      }
    } else {
      rocksdb::WriteBatch copy = batch;
      ASSERT_TRUE(skip.db->Write(wo, &batch).ok());
      ASSERT_TRUE(runs.db->Write(wo, &copy).ok());
    }
    if (round % 6 == 5) {
      ExpectSameReads(skip, runs, model, rng);
      ExpectSameIteration(runs, model, rng);
    }
  }
  ExpectSameReads(skip, runs, model, rng);
  ExpectSameIteration(runs, model, rng);
  // An iterator made now sees the entries of now, not the writes after it (the memtable's
  // snapshot and RocksDB's sequence numbers).
  std::unique_ptr<rocksdb::Iterator> before(runs.db->NewIterator(rocksdb::ReadOptions()));
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(runs.db->Put(wo, RandomKey(rng), "later").ok());
  size_t seen = 0;
  for (before->SeekToFirst(); before->Valid(); before->Next()) ++seen;
  EXPECT_EQ(seen, model.size());
  before.reset();
  ASSERT_TRUE(runs.db->Flush(rocksdb::FlushOptions()).ok());
}

INSTANTIATE_TEST_SUITE_P(WriteBuffers, DedupeMemTable, testing::Values(size_t{64} << 10, size_t{64} << 20));

// Readers look keys up while the writer adds rounds: every key whose write finished before a
// lookup began is found with its value (the open run's entries are published before its size).
TEST(DedupeMemTableConcurrent, ReadersFindEveryWrittenKeyWhileTheWriterAppends) {
  Db runs("ec_sorted_run_conc_", /*sorted_runs=*/true, size_t{8} << 20);
  constexpr int kRounds = 200, kPerRound = 500;
  std::vector<std::vector<std::string>> rounds(kRounds);
  std::mt19937_64 rng(7);
  for (auto& r : rounds) {
    for (int i = 0; i < kPerRound; ++i) r.push_back(RandomKey(rng).substr(0, 1) + std::to_string(rng()));
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
  }
  std::atomic<int> written{0};  // rounds whose Write returned
  std::atomic<bool> failed{false};
  std::thread writer([&] {
    rocksdb::WriteOptions wo;
    wo.disableWAL = true;
    for (int r = 0; r < kRounds; ++r) {
      rocksdb::WriteBatch b;
      for (const std::string& k : rounds[static_cast<size_t>(r)]) b.Put(k, k);
      if (!runs.db->Write(wo, &b).ok()) failed = true;
      written.store(r + 1, std::memory_order_release);
    }
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937_64 pick(100 + static_cast<uint64_t>(t));
      while (written.load(std::memory_order_acquire) < kRounds && !failed) {
        const int done = written.load(std::memory_order_acquire);
        if (done == 0) continue;
        const auto& r = rounds[pick() % static_cast<size_t>(done)];
        const std::string& k = r[pick() % r.size()];
        if (runs.Get(k) != k) failed = true;
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_FALSE(failed.load());
  for (const auto& r : rounds) {
    for (const std::string& k : r) ASSERT_EQ(runs.Get(k), k);
  }
}

// A comparator of length-prefixed internal keys (under 128 bytes): user keys bytewise or in
// reverse, then the sequence number descending, as RocksDB's memtable comparator over either.
class TestComparator : public rocksdb::MemTableRep::KeyComparator {
 public:
  explicit TestComparator(bool reverse) : reverse_(reverse) {}
  int operator()(const char* a, const char* b) const override { return Compare(Decode(a), Decode(b)); }
  int operator()(const char* a, const rocksdb::Slice& key) const override { return Compare(Decode(a), key); }

 private:
  static rocksdb::Slice Decode(const char* p) { return {p + 1, static_cast<unsigned char>(p[0])}; }
  int Compare(const rocksdb::Slice& a, const rocksdb::Slice& b) const {
    int r = rocksdb::Slice(a.data(), a.size() - 8).compare(rocksdb::Slice(b.data(), b.size() - 8));
    if (reverse_) r = -r;
    if (r != 0) return r;
    uint64_t ta, tb;
    std::memcpy(&ta, a.data() + a.size() - 8, 8);
    std::memcpy(&tb, b.data() + b.size() - 8, 8);
    ta >>= 8;  // the sequence number (the memtable's comparator ignores the type byte)
    tb >>= 8;
    return ta > tb ? -1 : ta < tb ? 1 : 0;
  }
  bool reverse_;
};

std::string Internal(const std::string& user_key, uint64_t seq) {
  std::string out(1, static_cast<char>(user_key.size() + 8));
  out += user_key;
  const uint64_t trailer = seq << 8 | 1;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(trailer >> (8 * i)));
  return out;
}

// The memtable compares keys itself only under the comparator whose order it knows (bytewise
// user keys); under another one it keeps that comparator's order. Keys in random order, some
// user keys several times (sequence numbers), read back in order from the open memtable and
// after it is made read-only (its flush's merge into one run).
TEST(DedupeMemTableOrder, ComparesItselfOnlyUnderTheBytewiseOrder) {
  for (bool reverse : {false, true}) {
    SCOPED_TRACE(reverse ? "reverse" : "bytewise");
    TestComparator cmp(reverse);
    auto factory = NewSortedRunMemTableFactory(/*bytewise_keys=*/true);
    std::unique_ptr<rocksdb::MemTableRep> rep(factory->CreateMemTableRep(cmp, nullptr, nullptr, nullptr));
    EXPECT_EQ(SortedRunMemTableComparesItself(rep.get()), !reverse);
    std::mt19937_64 rng(11);
    std::vector<std::string> keys;
    for (uint64_t seq = 1; seq <= 3000; ++seq) {
      std::string user = rng() % 5 == 0 && !keys.empty() ? keys[rng() % keys.size()].substr(1, keys[0].size() - 9)
                                                          : RandomKey(rng).substr(0, 17);
      user.resize(17, '\0');
      keys.push_back(Internal(user, seq));
    }
    // Sorted stretches and random ones, as runs of several lengths.
    std::sort(keys.begin() + 500, keys.begin() + 1500);
    for (const std::string& k : keys) rep->Insert(const_cast<char*>(k.data()));
    std::vector<std::string> want = keys;
    std::sort(want.begin(), want.end(), [&](const std::string& a, const std::string& b) { return cmp(a.data(), b.data()) < 0; });
    for (bool read_only : {false, true}) {
      if (read_only) rep->MarkReadOnly();
      std::unique_ptr<rocksdb::MemTableRep::Iterator> it(rep->GetIterator(nullptr));
      size_t i = 0;
      for (it->SeekToFirst(); it->Valid(); it->Next(), ++i) {
        ASSERT_LT(i, want.size());
        ASSERT_EQ(std::string(it->key(), want[i].size()), want[i]) << i;
      }
      EXPECT_EQ(i, want.size());
      EXPECT_TRUE(rep->Contains(want[want.size() / 2].data()));
    }
  }
}

// A point lookup deletes the iterator it searched with. RocksDB 7.8.3's MemTableRep::Get
// default never deleted it: every Get or MultiGet key that reached the memtable leaked one,
// holding the memtable's runs (+12 MiB peak RSS at 4,000,000 shop lines). The write buffer is
// large enough that no flush runs (a flush's iterator would be alive in the background).
TEST(DedupeMemTableLookup, LeavesNoIteratorBehind) {
  Db runs("sorted_run_lookup", /*sorted_runs=*/true, 64 << 20);
  std::mt19937_64 rng(7);
  std::vector<std::string> keys;
  for (int round = 0; round < 4; ++round) {  // several runs, so a lookup merges across them
    std::vector<std::string> batch;
    for (int i = 0; i < 500; ++i) batch.push_back(RandomKey(rng));
    std::sort(batch.begin(), batch.end());
    rocksdb::WriteBatch wb;
    for (const std::string& k : batch) wb.Put(k, k);
    ASSERT_TRUE(runs.db->Write(rocksdb::WriteOptions(), &wb).ok());
    keys.insert(keys.end(), batch.begin(), batch.end());
  }
  const int64_t before = SortedRunMemTableLiveIterators();
  for (const std::string& k : keys) ASSERT_EQ(runs.Get(k), k);
  for (int i = 0; i < 200; ++i) runs.Get(RandomKey(rng));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  runs.db->MultiGet(rocksdb::ReadOptions(), runs.db->DefaultColumnFamily(), slices.size(), slices.data(),
                    values.data(), statuses.data(), /*sorted_input=*/true);
  for (size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(values[i].ToString(), keys[i]);
  EXPECT_EQ(SortedRunMemTableLiveIterators(), before);
  {
    std::unique_ptr<rocksdb::Iterator> it(runs.db->NewIterator(rocksdb::ReadOptions()));
    it->SeekToFirst();
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(SortedRunMemTableLiveIterators(), before + 1);  // the counter sees iterators
  }
  EXPECT_EQ(SortedRunMemTableLiveIterators(), before);
}

// The factory says what the DB must know: one writer at a time.
TEST(DedupeMemTableFactory, TakesOneWriterAtATime) {
  auto f = NewSortedRunMemTableFactory(true);
  EXPECT_FALSE(f->IsInsertConcurrentlySupported());
  EXPECT_STREQ(f->Name(), "ec.SortedRunMemTable");
}

}  // namespace
}  // namespace ec::rocks
