// Compaction in a bounded memory: OffsetMap against std::map, and PartitionLog::Compact with a
// map far smaller than the log's keys (several rounds) against one with room for all of them;
// rounds only when there is something to do (dirty ratio, tombstones due).

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "log/offset_map.h"
#include "log/partition_log.h"
#include "log/record_batch.h"
#include "log/record_batch_builder.h"
#include "log/segment.h"
#include "log/test_util.h"

namespace ec::log {
namespace {

using testing::ReadValues;
using testing::TempDir;

TEST(OffsetMap, AgreesWithAMapAndStaysInItsBudget) {
  constexpr size_t kBudget = 1 << 20;
  OffsetMap m(kBudget);
  std::map<std::string, int64_t> want;
  std::mt19937 rng(7);
  int64_t offset = 0;
  bool full = false;
  while (!full) {
    // Keys of 0 to 200 bytes, a quarter of them repeats.
    std::string key;
    if (!want.empty() && rng() % 4 == 0) {
      auto it = want.begin();
      std::advance(it, rng() % want.size());
      key = it->first;
    } else {
      key = "key-" + std::to_string(rng());
      key.resize(rng() % 200, 'x');
    }
    const bool known = want.count(key) > 0;
    if (m.Put(key, offset)) {
      want[key] = offset;
    } else {
      EXPECT_FALSE(known) << "a known key is always updated";
      full = true;
      EXPECT_EQ(m.Get(key), known ? want[key] : -1);  // a refused Put changes nothing
    }
    ++offset;
    ASSERT_LE(m.memory_bytes(), kBudget);
  }
  EXPECT_EQ(m.size(), want.size());
  EXPECT_GT(want.size(), 5000u);  // the budget holds keys, not just the table
  for (const auto& [k, v] : want) ASSERT_EQ(m.Get(k), v) << k;
  EXPECT_EQ(m.Get("never put"), -1);
}

TEST(OffsetMap, TakesAKeyLargerThanABlockAndAlwaysItsFirstKey) {
  OffsetMap tiny(16);  // less than its own table: still takes one key, so a round progresses
  const std::string big(1 << 20, 'b');
  EXPECT_TRUE(tiny.Put(big, 5));
  EXPECT_FALSE(tiny.Put("other", 6));
  EXPECT_TRUE(tiny.Put(big, 7));  // known: updated
  EXPECT_EQ(tiny.Get(big), 7);
  OffsetMap roomy(8 << 20);
  EXPECT_TRUE(roomy.Put("a", 1));
  EXPECT_TRUE(roomy.Put(big, 2));
  EXPECT_TRUE(roomy.Put("c", 3));
  EXPECT_EQ(roomy.Get("a"), 1);
  EXPECT_EQ(roomy.Get(big), 2);
  EXPECT_EQ(roomy.Get("c"), 3);
}

struct Log {
  explicit Log(std::map<std::string, std::string> settings) {
    settings.emplace("cleanup.policy", "compact");
    config = std::make_shared<const TopicConfig>(TopicConfig::FromMap(settings, TopicConfig()).value());
    log = PartitionLog::Open(Env::Default(), dir.path() + "/t-0", "t", 0, config, nullptr).value();
  }
  void Append(const std::vector<std::pair<std::string, std::optional<std::string>>>& records, int64_t ts) {
    RecordBatchBuilder b;
    for (const auto& [k, v] : records) b.Add(k, v, ts);
    ASSERT_TRUE(log->Append(std::move(b.Build()).value(), {}).ok());
  }
  // offset -> key=value of every record, from the start.
  std::map<int64_t, std::string> Records() const {
    std::map<int64_t, std::string> out;
    int64_t offset = 0;
    while (offset < log->log_end_offset()) {
      ReadResult rr = log->Read(offset, 1 << 20);
      EXPECT_EQ(rr.error, LogError::kNone) << rr.message;
      if (rr.total_bytes == 0) break;
      std::string bytes;
      EXPECT_TRUE(rr.CopyTo(&bytes).ok());
      EXPECT_TRUE(ForEachBatch(bytes, false, [&](const RecordBatchView& b) -> Status {
                    EC_ASSIGN_OR_RETURN(RecordSet set, b.Records());
                    for (const Record& r : set.records()) {
                      if (r.offset >= offset)
                        out[r.offset] = std::string(*r.key) + "=" + (r.value ? std::string(*r.value) : "<null>");
                    }
                    offset = b.last_offset() + 1;
                    return Status::Ok();
                  }).ok());
    }
    return out;
  }
  TempDir dir;
  std::shared_ptr<const TopicConfig> config;
  std::unique_ptr<PartitionLog> log;
};

// 3,000 keys, each written 1-4 times in a shuffled order over ~40 small segments, some deleted
// (tombstones: every 7th write), then a filler alone in the active segment, so every write is in a closed one.
void Fill(Log* l, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> writes;
  for (int k = 0; k < 3000; ++k) {
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) writes.push_back("key-" + std::to_string(k));
  }
  std::shuffle(writes.begin(), writes.end(), rng);
  for (size_t i = 0; i < writes.size(); i += 10) {
    std::vector<std::pair<std::string, std::optional<std::string>>> batch;
    for (size_t j = i; j < std::min(writes.size(), i + 10); ++j) {
      std::optional<std::string> v = "v" + std::to_string(j);
      if (j % 7 == 0) v.reset();
      batch.emplace_back(writes[j], v);
    }
    l->Append(batch, 1000);
  }
  l->Append({{"filler", std::string(9000, 'f')}}, 2000);  // larger than a segment: rolls first
}

// Tombstones young (kept) or expired (dropped with every older record of their key, in
// whichever round reaches them).
class CompactionRounds : public ::testing::TestWithParam<const char*> {};

TEST_P(CompactionRounds, ASmallMapCleansInRoundsToWhatARoomyOneCleansInOne) {
  const std::map<std::string, std::string> settings = {{"segment.bytes", "8192"}, {"delete.retention.ms", GetParam()}};
  const bool expired = std::string(GetParam()) == "0";
  Log roomy(settings), small(settings);
  Fill(&roomy, 1);
  Fill(&small, 1);
  const auto before = roomy.Records();
  ASSERT_EQ(before, small.Records());
  ASSERT_TRUE(roomy.log->Compact(5000).ok());
  EXPECT_EQ(roomy.log->compaction_rounds(), 1u);
  // 24 KiB: a few hundred keys per round, far fewer than the 3,000.
  for (int i = 0; i < 100 && small.Records() != roomy.Records(); ++i) ASSERT_TRUE(small.log->Compact(5000, 24 << 10).ok());
  EXPECT_GT(small.log->compaction_rounds(), 2u);
  const auto after = small.Records();
  EXPECT_EQ(after, roomy.Records());
  // What survives: each key's last write, once; an expired delete leaves nothing of its key.
  std::map<std::string, std::string> last;
  for (const auto& [off, kv] : before) last[kv.substr(0, kv.find('='))] = kv;
  std::map<std::string, std::string> kept;
  for (const auto& [off, kv] : after) {
    const std::string key = kv.substr(0, kv.find('='));
    EXPECT_TRUE(kept.emplace(key, kv).second) << "twice: " << key;
  }
  size_t deleted = 0;
  for (const auto& [key, kv] : last) {
    if (expired && kv.ends_with("=<null>")) {
      ++deleted;
      EXPECT_EQ(kept.count(key), 0u) << key;
    } else {
      EXPECT_EQ(kept[key], kv) << key;
    }
  }
  EXPECT_EQ(deleted > 0, expired);
  // Nothing new: no round, nothing read or rewritten.
  const uint64_t rounds = small.log->compaction_rounds();
  ASSERT_TRUE(small.log->Compact(5000, 24 << 10).ok());
  EXPECT_EQ(small.log->compaction_rounds(), rounds);
}

INSTANTIATE_TEST_SUITE_P(Tombstones, CompactionRounds, ::testing::Values("100000", "0"));

TEST(Compaction, WaitsForTheDirtyRatioAndForTombstonesToExpire) {
  auto fill = [](Log* l) {
    for (int i = 0; i < 200; ++i) l->Append({{"k" + std::to_string(i % 50), "value-" + std::to_string(i)}}, 1000);
    l->Append({{"gone", std::nullopt}}, 1000);
    for (int i = 0; i < 20; ++i) l->Append({{"k" + std::to_string(i % 50), "again-" + std::to_string(i)}}, 1000);
  };
  auto more = [](Log* l) {  // closes at least one more segment (4096 bytes)
    for (int i = 0; i < 60; ++i) l->Append({{"k" + std::to_string(i % 50), "more-" + std::to_string(i)}}, 1000);
  };
  auto has_gone = [](const Log& l) {
    for (const auto& [off, kv] : l.Records()) {
      if (kv.starts_with("gone=")) return true;
    }
    return false;
  };
  // min.cleanable.dirty.ratio 1: only a log that is all dirty is cleaned for its dirt.
  Log strict({{"segment.bytes", "4096"}, {"delete.retention.ms", "1000"}, {"min.cleanable.dirty.ratio", "1"}});
  fill(&strict);
  ASSERT_TRUE(strict.log->Compact(1500).ok());
  EXPECT_EQ(strict.log->compaction_rounds(), 1u);
  EXPECT_TRUE(has_gone(strict));  // young
  more(&strict);
  ASSERT_TRUE(strict.log->Compact(1500).ok());
  EXPECT_EQ(strict.log->compaction_rounds(), 1u);
  // The tombstone's delete.retention.ms is over: a round for it, whatever the ratio.
  ASSERT_TRUE(strict.log->Compact(2500).ok());
  EXPECT_EQ(strict.log->compaction_rounds(), 2u);
  EXPECT_FALSE(has_gone(strict));

  // min.cleanable.dirty.ratio 0: any closed segment not mapped yet is cleaned; nothing new, no round.
  Log eager({{"segment.bytes", "4096"}, {"delete.retention.ms", "1000"}, {"min.cleanable.dirty.ratio", "0"}});
  fill(&eager);
  ASSERT_TRUE(eager.log->Compact(1500).ok());
  more(&eager);
  ASSERT_TRUE(eager.log->Compact(1500).ok());
  EXPECT_EQ(eager.log->compaction_rounds(), 2u);
  ASSERT_TRUE(eager.log->Compact(1500).ok());
  EXPECT_EQ(eager.log->compaction_rounds(), 2u);
}

// Records past the end of what a round mapped stay as they are, except those of an aborted
// transaction, which go in any round that rewrites their segment.
TEST(Compaction, DropsAnAbortedRecordPastWhatTheRoundMapped) {
  Log l(std::map<std::string, std::string>{{"segment.bytes", "200000"}});
  // 3,000 keys: a 24 KiB map holds a few hundred, so the round's map ends long before the
  // aborted transaction.
  for (int i = 0; i < 3000; i += 10) {
    std::vector<std::pair<std::string, std::optional<std::string>>> batch;
    for (int j = i; j < i + 10; ++j) batch.emplace_back("key-" + std::to_string(j), "v");
    l.Append(batch, 1000);
  }
  BatchBuilderOptions o;
  o.producer_id = 7;
  o.producer_epoch = 0;
  o.transactional = true;
  RecordBatchBuilder txn(o);
  txn.Add("key-5", std::optional<std::string_view>("aborted"), 1000);
  ASSERT_TRUE(l.log->Append(std::move(txn.Build()).value(), {}).ok());
  ASSERT_TRUE(l.log->Append(RecordBatchBuilder::MakeControlBatch(7, 0, ControlType::kAbort, 0, 1000), {}).ok());
  l.Append({{"key-9", "last"}}, 1000);
  l.Append({{"filler", std::string(300000, 'f')}}, 2000);  // larger than a segment: rolls first
  auto count = [&](const std::string& kv) {
    size_t n = 0;
    for (const auto& [off, text] : l.Records()) n += text == kv;
    return n;
  };
  ASSERT_EQ(count("key-5=aborted"), 1u);
  const size_t before = l.Records().size();
  ASSERT_TRUE(l.log->Compact(5000, 24 << 10).ok());
  EXPECT_EQ(l.log->compaction_rounds(), 1u);
  EXPECT_EQ(count("key-5=aborted"), 0u);
  // The map did end before the end: key-9's first record, superseded, is still there.
  EXPECT_EQ(count("key-9=v"), 1u);
  EXPECT_EQ(l.Records().size(), before - 1);
}

// Env::Default() that records the paths of the files created (opened with `create`).
class CreationsEnv : public Env {
 public:
  Result<std::shared_ptr<File>> OpenFile(const std::string& path, bool create) override {
    if (create) created.push_back(path);
    return base->OpenFile(path, create);
  }
  bool FileExists(const std::string& path) override { return base->FileExists(path); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override { return base->ListDir(dir); }
  Status CreateDirs(const std::string& dir) override { return base->CreateDirs(dir); }
  Status RemoveFile(const std::string& path) override { return base->RemoveFile(path); }
  Status RemoveDirAll(const std::string& dir) override { return base->RemoveDirAll(dir); }
  Status RenameFile(const std::string& from, const std::string& to) override { return base->RenameFile(from, to); }
  Status SyncDir(const std::string& dir) override { return base->SyncDir(dir); }
  int64_t NowMs() override { return base->NowMs(); }
  Env* base = Env::Default();
  std::vector<std::string> created;
};

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A round writes only the segments it changes (nothing for a segment whose records all stay),
// and the indexes it gives a rewritten segment from the batches it wrote are those an open
// rebuilds from the file.
TEST(Compaction, RewritesOnlyChangedSegmentsWithTheIndexesAnOpenWouldBuild) {
  TempDir dir;
  CreationsEnv env;
  auto config = std::make_shared<const TopicConfig>(
      TopicConfig::FromMap({{"cleanup.policy", "compact"}, {"segment.bytes", "4096"}, {"index.interval.bytes", "300"}},
                           TopicConfig())
          .value());
  const std::string root = dir.path() + "/t-0";
  auto log = PartitionLog::Open(&env, root, "t", 0, config, nullptr).value();
  auto append = [&](const std::string& key, int64_t ts) {
    RecordBatchBuilder b;
    b.Add(key, "value-of-" + key + std::string(100, '.'), ts);
    AppendResult r = log->Append(std::move(b.Build()).value(), {});
    EXPECT_TRUE(r.ok()) << r.message;
    return r.base_offset;
  };
  // Keys written once (their segments stay as they are), then keys of which two are written
  // again later: their first records, in the middle of their segments, go.
  for (int i = 0; i < 80; ++i) append("u-" + std::to_string(i), 1000 + i);
  std::vector<int64_t> superseded;
  for (int i = 0; i < 80; ++i) {
    const int64_t at = append("s-" + std::to_string(i), 2000 + i);
    if (i == 30 || i == 55) superseded.push_back(at);
  }
  append("s-30", 3000);
  append("s-55", 3001);
  RecordBatchBuilder filler;  // larger than a segment: everything above is in closed segments
  filler.Add("filler", std::string(9000, 'f'), 4000);
  ASSERT_TRUE(log->Append(std::move(filler.Build()).value(), {}).ok());

  std::vector<int64_t> bases;
  const std::vector<std::string> names = env.ListDir(root).value();
  for (const std::string& n : names) {
    if (Segment::ParseLogFileName(n) >= 0) bases.push_back(Segment::ParseLogFileName(n));
  }
  std::sort(bases.begin(), bases.end());
  ASSERT_GT(bases.size(), 8u);
  std::set<std::string> changed;  // the stems of the segments holding a superseded record
  for (int64_t off : superseded) {
    const int64_t base = *std::prev(std::upper_bound(bases.begin(), bases.end(), off));
    ASSERT_NE(base, off) << "a superseded record must not be its segment's first batch";
    changed.insert(Segment::PathStem(root, base));
  }
  ASSERT_EQ(changed.size(), 2u);

  env.created.clear();
  ASSERT_TRUE(log->Compact(5000).ok());
  EXPECT_EQ(log->compaction_rounds(), 1u);
  std::set<std::string> rewritten;
  for (const std::string& p : env.created) {
    if (p.ends_with(".log.cleaned")) rewritten.insert(p.substr(0, p.size() - std::string(".log.cleaned").size()));
  }
  EXPECT_EQ(rewritten, changed);

  // The records: every key once, at its last write.
  std::map<std::string, int64_t> seen;
  for (const auto& [off, value] : ReadValues(*log)) {
    const std::string key = value.substr(std::string("value-of-").size(), value.find('.') - std::string("value-of-").size());
    if (value.starts_with("value-of-")) EXPECT_TRUE(seen.emplace(key, off).second) << key;
  }
  EXPECT_EQ(seen.size(), 160u);

  // The rewritten segments' indexes against an open's: removed, the open rebuilds them from the
  // files. The time index of a sealed segment also has the seal's entry for its largest timestamp.
  std::map<std::string, std::pair<std::string, std::string>> compacted;
  for (const std::string& stem : changed) compacted[stem] = {FileBytes(stem + ".index"), FileBytes(stem + ".timeindex")};
  const auto values = ReadValues(*log);
  log.reset();
  for (const std::string& stem : changed) {
    ASSERT_TRUE(Env::Default()->RemoveFile(stem + ".index").ok());
    ASSERT_TRUE(Env::Default()->RemoveFile(stem + ".timeindex").ok());
  }
  log = PartitionLog::Open(&env, root, "t", 0, config, nullptr).value();
  EXPECT_EQ(ReadValues(*log), values);
  for (const std::string& stem : changed) {
    const std::string index = FileBytes(stem + ".index"), time = FileBytes(stem + ".timeindex");
    EXPECT_GT(index.size(), kOffsetIndexEntrySize) << stem;  // several entries, past copied and rebuilt batches
    EXPECT_EQ(compacted[stem].first, index) << stem;
    EXPECT_TRUE(compacted[stem].second.starts_with(time)) << stem;
    EXPECT_LE(compacted[stem].second.size(), time.size() + kTimeIndexEntrySize) << stem;
  }
}

}  // namespace
}  // namespace ec::log
