// The ingest dedupe index: claims, duplicates, restart (catch-up from the raw topic), crash
// recovery without RocksDB's WAL, expiry, the key forms and the rebuild of an old-format index.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "../log/test_util.h"
#include "log/log_manager.h"
#include "server/dedupe_index.h"
#include "server/dedupe_key.h"
#include "server/config.h"
#include "cdc/state_store.h"
#include "pipeline/exchange.h"
#include "pipeline/ids.h"
#include "server/ingest.h"
#include "server/local_ingest.h"
#include "server/metrics.h"
#include "server/topic_writer.h"

namespace ec::server {
namespace {

using log::testing::TempDir;
using pipeline::Sha256Hex128;

std::unique_ptr<log::LogManager> OpenLogs(const std::string& dir) {
  log::LogManagerOptions o;
  o.data_dir = dir;
  o.maintenance_interval_ms = 0;
  auto logs = std::move(log::LogManager::Open(o)).value();
  if (!logs->DescribeTopic("api-logs")) { EXPECT_TRUE(logs->CreateTopic("api-logs", 2, {}).ok()); }
  return logs;
}

void AppendRaw(log::LogManager* logs, int32_t partition, const std::vector<std::string>& ids, int64_t ts) {
  std::vector<IngestRecord> recs;
  for (const std::string& id : ids) recs.push_back({id, "{\"id\":\"" + id + "\"}"});
  auto batches = BuildBatches(recs, ts);
  ASSERT_TRUE(batches.ok());
  ASSERT_TRUE(logs->GetPartition("api-logs", partition)->Append(std::move(*batches), {}).ok());
}

DedupeOptions Options(const std::string& dir, int64_t window_ms = 3600000) {
  DedupeOptions o;
  o.dir = dir + "/dedupe";
  o.window_ms = window_ms;
  return o;
}

TEST(IngestDedupe, ClaimsDuplicatesAndReleases) {
  TempDir dir;
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  const int64_t now = 1'800'000'000'000;
  // Within one call the second "a" is a duplicate of the first; empty ids never are.
  EXPECT_EQ(index->Claim({"a", "b", "a", "", ""}, now), (std::vector<bool>{false, false, true, false, false}));
  // In flight: a concurrent retry is a duplicate.
  EXPECT_EQ(index->Claim({"a"}, now), std::vector<bool>{true});
  index->Release({"a"}, /*stored=*/true, now);
  index->Release({"b"}, /*stored=*/false, now);  // the append failed: a retry is accepted
  EXPECT_EQ(index->Claim({"a", "b"}, now), (std::vector<bool>{true, false}));
}

// Claim looks the new ids up in RocksDB in key order (it sorts them itself): every answer must
// still land on its own id, whatever the request's order, key form and mix of indexed ids.
TEST(IngestDedupe, ALargeShuffledClaimAnswersEachIdItself) {
  // Mixed key forms, and ingest's own ids only (one tag byte: Claim's sort buckets them by the
  // random bits after it).
  for (bool own_only : {false, true}) {
  TempDir dir;
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  const int64_t now = 1'800'000'000'000;
  std::vector<std::string> ids;
  for (int i = 0; i < 1200; ++i) {
    const std::string h = Sha256Hex128("id-" + std::to_string(i));
    switch (own_only ? 1 : i % 4) {
      case 0: ids.push_back(h); break;        // 'x': 32 hex digits
      case 1: ids.push_back("x" + h); break;  // 's': ingest's own ids
      case 2:                                 // 'u': a UUID
        ids.push_back(h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" +
                      h.substr(20, 12));
        break;
      default: ids.push_back("order-" + std::to_string(i)); break;  // 'h': hashed
    }
  }
  // Every third id is in the raw topic already (indexed), in two appends.
  std::vector<std::string> old_a, old_b;
  for (size_t i = 0; i < ids.size(); i += 3) (i % 2 ? old_a : old_b).push_back(ids[i]);
  AppendRaw(logs.get(), 0, old_a, now - 1000);
  AppendRaw(logs.get(), 1, old_b, now - 1000);
  ASSERT_TRUE(index->IndexTail(now).ok());
  std::vector<size_t> order(ids.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937 rng(7);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::string_view> request;
  std::vector<bool> want;
  for (size_t i : order) {
    request.push_back(ids[i]);
    want.push_back(i % 3 == 0);
  }
  request.push_back(ids[order[5]]);  // a repeat within the call
  want.push_back(true);
  EXPECT_EQ(index->Claim(request, now), want) << own_only;
  // The new ones are claimed now: all of them are duplicates while in flight.
  std::vector<bool> all(request.size(), true);
  EXPECT_EQ(index->Claim(request, now), all) << own_only;
  }
}

// The ids in flight or stored since the last round live in an open-addressing table (linear
// probing, backward-shift erase, grown and shrunk): after claims that grow it several times,
// erases scattered through its probe runs, a sweep that empties most of it and the shrink
// after it, every id must still be found exactly when it should be. Fails if an erase leaves an
// id unreachable from its home slot (it would be accepted twice) or loses one (a duplicate).
TEST(IngestDedupe, InFlightIdsStayFoundThroughErasesGrowthAndShrink) {
  TempDir dir;
  auto logs = OpenLogs(dir.path() + "/log");
  DedupeOptions o = Options(dir.path());
  auto index = std::move(DedupeIndex::Open(o, logs.get())).value();
  const int64_t now = 1'800'000'000'000;
  std::vector<std::string> ids;
  for (int i = 0; i < 20000; ++i) ids.push_back(i % 2 ? Sha256Hex128("p-" + std::to_string(i)) : "p-" + std::to_string(i));
  std::vector<std::string_view> all(ids.begin(), ids.end());
  auto group = [&](int g) {
    std::vector<std::string_view> out;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (static_cast<int>(i % 3) == g) out.push_back(ids[i]);
    }
    return out;
  };
  EXPECT_EQ(index->Claim(all, now), std::vector<bool>(all.size(), false));
  index->Release(group(0), /*stored=*/false, now);  // failed appends: forgotten
  index->Release(group(1), /*stored=*/true, now);   // appended, not indexed yet
  std::vector<bool> want(all.size());
  for (size_t i = 0; i < want.size(); ++i) want[i] = i % 3 != 0;
  EXPECT_EQ(index->Claim(all, now), want);  // group 0 is claimed again
  // No round finds group 1 in the log: once unconfirmed for long enough it is forgotten; the
  // claims stay.
  const int64_t later = now + o.unconfirmed_ms + 1;
  ASSERT_TRUE(index->IndexTail(later).ok());
  for (size_t i = 0; i < want.size(); ++i) want[i] = i % 3 != 1;
  EXPECT_EQ(index->Claim(all, later), want);  // group 1 is claimed again
  // All but the first 100 ids end stored and are swept: the table shrinks around the rest.
  std::vector<std::string_view> rest(all.begin() + 100, all.end());
  index->Release(rest, /*stored=*/true, later);
  ASSERT_TRUE(index->IndexTail(later + o.unconfirmed_ms + 1).ok());
  for (size_t i = 0; i < want.size(); ++i) want[i] = i < 100;
  EXPECT_EQ(index->Claim(all, later + o.unconfirmed_ms + 1), want);
  // The table keeps room for a round's most ids; a round of few ids after that shrinks it
  // (the sweep after it finds the few claims still there).
  std::vector<std::string_view> claimed_again(all.begin() + 100, all.end());
  index->Release(claimed_again, /*stored=*/false, later);
  ASSERT_TRUE(index->IndexTail(later + 2 * o.unconfirmed_ms).ok());
  ASSERT_TRUE(index->IndexTail(later + 3 * o.unconfirmed_ms).ok());
  EXPECT_EQ(index->Claim(all, later + 3 * o.unconfirmed_ms), want);
}

TEST(IngestDedupe, KnowsEveryIdInTheRawTopicAfterARestart) {
  TempDir dir;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  {
    auto logs = OpenLogs(dir.path() + "/log");
    auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
    AppendRaw(logs.get(), 0, {"x1", "x2"}, now);
    ASSERT_TRUE(index->IndexTail(now).ok());
    EXPECT_EQ(index->indexed(), 2u);
    // Appended but never indexed (the process dies before the next round).
    AppendRaw(logs.get(), 1, {"y1"}, now);
  }
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  EXPECT_EQ(index->Claim({"x1", "x2", "y1", "z1"}, now), (std::vector<bool>{true, true, true, false}));
}

TEST(IngestDedupe, ForgetsIdsOlderThanTheWindow) {
  TempDir dir;
  auto logs = OpenLogs(dir.path() + "/log");
  const int64_t t0 = 1'800'000'000'000;
  auto index = std::move(DedupeIndex::Open(Options(dir.path(), /*window_ms=*/1000), logs.get())).value();
  AppendRaw(logs.get(), 0, {"old"}, t0);
  AppendRaw(logs.get(), 0, {"new"}, t0 + 5000);
  ASSERT_TRUE(index->IndexTail(t0 + 5000).ok());
  EXPECT_EQ(index->Claim({"old", "new"}, t0 + 5000), (std::vector<bool>{false, true}));
  index->Release({"old"}, false, t0 + 5000);
  // The lookup checks the time: an expired entry still in RocksDB is not a duplicate.
  ASSERT_TRUE(index->IndexTail(t0 + 5500).ok());
  EXPECT_EQ(index->Claim({"new"}, t0 + 5500), std::vector<bool>{true});
  EXPECT_EQ(index->Claim({"new"}, t0 + 7000), std::vector<bool>{false});
}

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The index is written without RocksDB's WAL. What a kill -9 leaves on disk is the index as of
// its last flush: the rounds after it are gone, ids and offsets alike, and the catch-up on open
// re-reads exactly those from the raw topic. The crash image here is a copy of the index's
// directory taken while it is open with two unflushed rounds.
TEST(IngestDedupe, ACrashLosesOnlyUnflushedRoundsAndTheCatchUpReReadsThem) {
  TempDir dir;
  const int64_t now = WallMs();
  const std::string image = dir.path() + "/crash-image";
  {
    auto logs = OpenLogs(dir.path() + "/log");
    auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
    AppendRaw(logs.get(), 0, {"x1", "x2"}, now);
    ASSERT_TRUE(index->IndexTail(now).ok());
    ASSERT_TRUE(index->Flush().ok());  // on disk: x1, x2 and partition 0's offset 2
    AppendRaw(logs.get(), 1, {"y1"}, now);
    ASSERT_TRUE(index->IndexTail(now).ok());
    AppendRaw(logs.get(), 0, {"y2", "y3"}, now);
    ASSERT_TRUE(index->IndexTail(now).ok());
    EXPECT_EQ(index->Claim({"y1", "y3"}, now), (std::vector<bool>{true, true}));  // known before the crash
    std::filesystem::copy(dir.path() + "/dedupe", image, std::filesystem::copy_options::recursive);
  }
  auto logs = OpenLogs(dir.path() + "/log");
  DedupeOptions o = Options(dir.path());
  o.dir = image;
  auto index = std::move(DedupeIndex::Open(o, logs.get())).value();
  // Only the lost rounds were read again: y1 (partition 1 had no offset on disk) and y2, y3
  // (partition 0 from its offset 2); x1 and x2 came from disk.
  EXPECT_EQ(index->indexed(), 3u);
  EXPECT_EQ(index->Claim({"x1", "x2", "y1", "y2", "y3", "z1"}, now),
            (std::vector<bool>{true, true, true, true, true, false}));
}

// Expiry: a compaction drops the ids older than the window of the last round (the filter on the
// stored time), and nothing else (offsets, the format version): after a restart the index reads
// nothing again and still knows the live id.
TEST(IngestDedupe, CompactionDropsExpiredIdsOnly) {
  TempDir dir;
  const int64_t t0 = 1'800'000'000'000;
  {
    auto logs = OpenLogs(dir.path() + "/log");
    auto index = std::move(DedupeIndex::Open(Options(dir.path(), /*window_ms=*/1000), logs.get())).value();
    AppendRaw(logs.get(), 0, {"old1", "old2"}, t0);
    AppendRaw(logs.get(), 1, {"old3"}, t0 + 3000);
    AppendRaw(logs.get(), 0, {"live"}, t0 + 5000);
    ASSERT_TRUE(index->IndexTail(t0 + 5000).ok());
    EXPECT_EQ(index->CountIndexedIds(), 4u);
    ASSERT_TRUE(index->Compact().ok());
    EXPECT_EQ(index->CountIndexedIds(), 1u);
    EXPECT_EQ(index->Claim({"live", "old1"}, t0 + 5000), (std::vector<bool>{true, false}));
    index->Release({"old1"}, false, t0 + 5000);
  }
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(Options(dir.path(), 1000), logs.get())).value();
  EXPECT_EQ(index->indexed(), 0u);  // the offsets survived the compaction: no re-read
  EXPECT_EQ(index->CountIndexedIds(), 1u);
  EXPECT_EQ(index->Claim({"live"}, t0 + 5500), std::vector<bool>{true});
}

TEST(IngestDedupeKey, LosslessFormsAndHashedIds) {
  const std::string hex = "0123456789abcdef0f1e2d3c4b5a6978";
  const DedupeKey x = MakeDedupeKey(hex);
  EXPECT_EQ(x.bytes[0], 'x');
  EXPECT_EQ(static_cast<unsigned char>(x.bytes[1]), 0x01);
  EXPECT_EQ(static_cast<unsigned char>(x.bytes[16]), 0x78);
  const DedupeKey u = MakeDedupeKey("01234567-89ab-cdef-0f1e-2d3c4b5a6978");
  EXPECT_EQ(u.bytes[0], 'u');
  EXPECT_EQ(std::string_view(u.bytes.data() + 1, 16), std::string_view(x.bytes.data() + 1, 16));
  EXPECT_FALSE(u == x);  // the same 128 bits, different ids: the tag keeps them apart
  // Ingest's own stable ids ('x' and 32 hex digits) are decoded too, under their own tag.
  const DedupeKey st = MakeDedupeKey("x" + hex);
  EXPECT_EQ(st.bytes[0], 's');
  EXPECT_EQ(std::string_view(st.bytes.data() + 1, 16), std::string_view(x.bytes.data() + 1, 16));
  EXPECT_FALSE(st == x);
  EXPECT_FALSE(st == u);
  EXPECT_TRUE(IsDedupeKey(st.view()));
  EXPECT_EQ(MakeDedupeKey(pipeline::StableExchangeId(json::Value())).bytes[0], 's');
  // Upper case, a non-hex digit, other lengths, a UUID without its dashes in place: hashed.
  for (std::string_view id : {"0123456789ABCDEF0F1E2D3C4B5A6978", "0123456789abcdef0f1e2d3c4b5a697g",
                              "c-1", "0123456789abcdef0f1e2d3c4b5a69780", "01234567-89ab-cdef-0f1e_2d3c4b5a6978",
                              "X0123456789abcdef0f1e2d3c4b5a6978", "x0123456789ABCDEF0F1E2D3C4B5A6978",
                              "x0123456789abcdef0f1e2d3c4b5a697"}) {
    const DedupeKey h = MakeDedupeKey(id);
    EXPECT_EQ(h.bytes[0], 'h') << id;
    EXPECT_TRUE(h == MakeDedupeKey(id)) << id;
    EXPECT_FALSE(h == x) << id;
    EXPECT_TRUE(IsDedupeKey(h.view()));
  }
  EXPECT_FALSE(MakeDedupeKey("a") == MakeDedupeKey("b"));
  EXPECT_FALSE(IsDedupeKey("papi-logs"));
}

// The lossless forms decode 32 digits 16 at a time: every byte value at every position must be
// taken exactly when it is a lower-case hex digit, and give the digit's value (checked against
// a plain decode here).
TEST(IngestDedupeKey, EveryByteAtEveryPositionOfTheHexForms) {
  const std::string base = "0123456789abcdef0f1e2d3c4b5a6978";
  auto value = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
  for (size_t pos = 0; pos < base.size(); ++pos) {
    for (int b = 0; b < 256; ++b) {
      std::string hex = base;
      hex[pos] = static_cast<char>(b);
      const bool valid = value(hex[pos]) >= 0;
      for (bool own : {false, true}) {  // 32 digits ('x'), or ingest's own 'x' + 32 digits ('s')
        const std::string id = own ? "x" + hex : hex;
        const DedupeKey k = MakeDedupeKey(id);
        if (!valid) {
          ASSERT_EQ(k.bytes[0], 'h') << pos << " " << b;
          continue;
        }
        ASSERT_EQ(k.bytes[0], own ? 's' : 'x') << pos << " " << b;
        for (size_t i = 0; i < 16; ++i) {
          const int want = value(hex[2 * i]) * 16 + value(hex[2 * i + 1]);
          ASSERT_EQ(static_cast<unsigned char>(k.bytes[1 + i]), want) << pos << " " << b << " byte " << i;
        }
      }
    }
  }
}

// Ids of all four key forms are duplicates after a restart, and differ from each other.
TEST(IngestDedupe, EveryKeyFormSurvivesARestart) {
  TempDir dir;
  const int64_t now = WallMs();
  const std::vector<std::string> ids = {"0123456789abcdef0f1e2d3c4b5a6978", "01234567-89ab-cdef-0f1e-2d3c4b5a6978",
                                        "0123456789ABCDEF0F1E2D3C4B5A6978", "kong-req-17",
                                        "x0123456789abcdef0f1e2d3c4b5a6978"};
  {
    auto logs = OpenLogs(dir.path() + "/log");
    auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
    AppendRaw(logs.get(), 0, ids, now);
    ASSERT_TRUE(index->IndexTail(now).ok());
    EXPECT_EQ(index->CountIndexedIds(), 5u);
  }
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  std::vector<std::string_view> views(ids.begin(), ids.end());
  views.push_back("0123456789abcdef0f1e2d3c4b5a6979");
  views.push_back("x0123456789abcdef0f1e2d3c4b5a6979");
  EXPECT_EQ(index->Claim(views, now), (std::vector<bool>{true, true, true, true, true, false, false}));
}

// The indexer puts each round's ids into the memtable in key order with an insert hint per key
// tag (a remembered skip-list position, repaired level by level): rounds whose ids of every
// form fall between the ids of earlier rounds must leave a memtable in which every id is found
// (Claim's MultiGet walks the upper levels), the full scan counts each one once (level 0's
// order and links), and ids not indexed are not found. Fails if an insert with a stale hint
// links an id in the wrong place.
TEST(IngestDedupe, InterleavedRoundsOfEveryKeyFormAreAllFoundInTheMemtable) {
  TempDir dir;
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  const int64_t now = WallMs();
  auto id = [](int round, int i) {
    const std::string h = Sha256Hex128("round-" + std::to_string(round) + "-" + std::to_string(i));
    switch (i % 4) {
      case 0: return h;        // 'x'
      case 1: return "x" + h;  // 's'
      case 2:                  // 'u'
        return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" +
               h.substr(20, 12);
      default: return "order-" + h.substr(0, 16 + i % 7);  // 'h': at least 64 bits, no collisions
    }
  };
  constexpr int kRounds = 12, kPerRound = 700;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> ids;
    for (int i = 0; i < kPerRound; ++i) ids.push_back(id(round, i));
    AppendRaw(logs.get(), round % 2, ids, now);
    if (round % 3 == 2) AppendRaw(logs.get(), 0, {ids[0], ids[1], ids[2], ids[3]}, now + 1);  // ids again
    ASSERT_TRUE(index->IndexTail(now + 2).ok());
  }
  // All in the one memtable (with the position keys and the repeats' second entries).
  EXPECT_GE(index->IntProperty("rocksdb.num-entries-active-mem-table"), static_cast<uint64_t>(kRounds * kPerRound));
  EXPECT_EQ(index->CountIndexedIds(), static_cast<uint64_t>(kRounds * kPerRound));
  std::vector<std::string> known, fresh;
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kPerRound; ++i) known.push_back(id(round, i));
  }
  for (int i = 0; i < 2000; ++i) fresh.push_back(id(kRounds, i));
  std::vector<std::string_view> request(known.begin(), known.end());
  request.insert(request.end(), fresh.begin(), fresh.end());
  std::vector<bool> want(known.size(), true);
  want.resize(request.size(), false);
  EXPECT_EQ(index->Claim(request, now + 3), want);
}

// An index written by the first format ('i' id and 't' time keys) is rebuilt from the raw
// topic, not read: its offsets would skip ids it holds in keys the new format never looks up.
TEST(IngestDedupe, RebuildsAnIndexOfTheOldFormatFromTheRawTopic) {
  TempDir dir;
  const int64_t now = WallMs();
  auto be64 = [](int64_t v) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * (7 - i))) & 0xff);
    return out;
  };
  auto logs = OpenLogs(dir.path() + "/log");
  AppendRaw(logs.get(), 0, {"a1", "a2"}, now);
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.path() + "/dedupe", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "ia1", be64(now)).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "t" + be64(now) + "a1", "").ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), std::string("papi-logs\0", 10) + "0", be64(2)).ok());
  }
  auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  EXPECT_EQ(index->indexed(), 2u);  // both read from the raw topic again
  EXPECT_EQ(index->CountIndexedIds(), 2u);
  EXPECT_EQ(index->Claim({"a1", "a2", "a3"}, now), (std::vector<bool>{true, true, false}));
}

// A version-2 index held ingest's own ids ('x' + 32 hex digits) hashed under 'h'; version 3
// looks them up under 's', so the old index is rebuilt from the raw topic, not trusted: read
// as is, it would miss every id it holds and let their retries through.
TEST(IngestDedupe, RebuildsAVersion2IndexFromTheRawTopic) {
  TempDir dir;
  const int64_t now = WallMs();
  auto be64 = [](int64_t v) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * (7 - i))) & 0xff);
    return out;
  };
  const std::string id = "x0123456789abcdef0f1e2d3c4b5a6978";
  auto logs = OpenLogs(dir.path() + "/log");
  AppendRaw(logs.get(), 0, {id, "kong-req-1"}, now);
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.path() + "/dedupe", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string hashed(17, 'h');  // version 2's key of `id`: 'h' + SHA-256(id)[0..16)
    const std::string digest = Sha256Hex128(id);
    for (int i = 0; i < 16; ++i) hashed[1 + i] = static_cast<char>(std::stoi(digest.substr(2 * i, 2), nullptr, 16));
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), hashed, be64(now)).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), MakeDedupeKey("kong-req-1").view(), be64(now)).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), std::string("papi-logs\0", 10) + "0", be64(2)).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "v", "2").ok());
  }
  auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  EXPECT_EQ(index->indexed(), 2u);  // both read from the raw topic again
  EXPECT_EQ(index->CountIndexedIds(), 2u);
  EXPECT_EQ(index->Claim({id, "kong-req-1", "x0123456789abcdef0f1e2d3c4b5a6979"}, now),
            (std::vector<bool>{true, true, false}));
}

// What ingest hands the indexer (DedupeIndex::Appended) is indexed without reading those
// records back: the hand-off's keys here differ from the log's on purpose, to see which was used.
TEST(IngestDedupe, AHandOffAtTheIndexedPositionIsTakenInsteadOfTheLog) {
  TempDir dir;
  const int64_t now = WallMs();
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  AppendRaw(logs.get(), 0, {"r1", "r2"}, now);  // offsets 0 and 1
  index->Appended("api-logs", 0, 0, 1, {MakeDedupeKey("h1"), MakeDedupeKey("h2")}, now);
  ASSERT_TRUE(index->IndexTail(now).ok());
  EXPECT_EQ(index->handed_off(), 2u);
  EXPECT_EQ(index->Claim({"h1", "h2", "r1"}, now), (std::vector<bool>{true, true, false}));
  // The position moved past the hand-off: the next records are read from the log.
  AppendRaw(logs.get(), 0, {"r3"}, now);
  ASSERT_TRUE(index->IndexTail(now).ok());
  EXPECT_EQ(index->Claim({"r3"}, now), std::vector<bool>{true});
}

// Records of other writers before, between and after hand-offs are read from the log; a
// hand-off the log reads have passed already (or of a topic that is not raw) is dropped.
TEST(IngestDedupe, HandOffsAndOtherWritersTogetherIndexEveryRecordOnce) {
  TempDir dir;
  const int64_t now = WallMs();
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  AppendRaw(logs.get(), 1, {"a1", "a2"}, now);  // 0-1: another writer
  AppendRaw(logs.get(), 1, {"b1", "b2"}, now);  // 2-3: handed off
  AppendRaw(logs.get(), 1, {"c1"}, now);        // 4: another writer
  AppendRaw(logs.get(), 1, {"d1"}, now);        // 5: handed off
  index->Appended("api-logs", 1, 5, 5, {MakeDedupeKey("d1")}, now);  // arrives out of order
  index->Appended("api-logs", 1, 2, 3, {MakeDedupeKey("b1"), MakeDedupeKey("b2")}, now);
  index->Appended("other-topic", 0, 0, 0, {MakeDedupeKey("z1")}, now);
  ASSERT_TRUE(index->IndexTail(now).ok());
  EXPECT_EQ(index->handed_off(), 3u);
  EXPECT_EQ(index->indexed(), 6u);
  EXPECT_EQ(index->CountIndexedIds(), 6u);
  EXPECT_EQ(index->Claim({"a1", "a2", "b1", "b2", "c1", "d1", "z1"}, now),
            (std::vector<bool>{true, true, true, true, true, true, false}));
  // Late: the round read these offsets already.
  index->Appended("api-logs", 1, 4, 4, {MakeDedupeKey("late")}, now);
  ASSERT_TRUE(index->IndexTail(now).ok());
  EXPECT_EQ(index->handed_off(), 3u);
  EXPECT_EQ(index->Claim({"late"}, now), std::vector<bool>{false});
  // The ids and positions of hand-offs survive a restart like those read from the log.
  index.reset();
  index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  EXPECT_EQ(index->indexed(), 0u);  // nothing to catch up
  EXPECT_EQ(index->Claim({"b2", "d1"}, now), (std::vector<bool>{true, true}));
}

// More waiting keys than kMaxHandedOffKeys: the hand-off is refused and the log read instead.
TEST(IngestDedupe, HandOffsAreBounded) {
  TempDir dir;
  const int64_t now = WallMs();
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  AppendRaw(logs.get(), 0, {"r1"}, now);
  AppendRaw(logs.get(), 0, {"r2"}, now);
  index->Appended("api-logs", 0, 0, 0, std::vector<DedupeKey>(DedupeIndex::kMaxHandedOffKeys, MakeDedupeKey("r1")), now);
  index->Appended("api-logs", 0, 1, 1, {MakeDedupeKey("h2")}, now);  // over the bound: dropped
  ASSERT_TRUE(index->IndexTail(now).ok());
  EXPECT_EQ(index->handed_off(), DedupeIndex::kMaxHandedOffKeys);
  EXPECT_EQ(index->Claim({"r1", "r2", "h2"}, now), (std::vector<bool>{true, true, false}));
  // Consumed hand-offs free their room.
  AppendRaw(logs.get(), 0, {"r3"}, now);
  index->Appended("api-logs", 0, 2, 2, {MakeDedupeKey("h3")}, now);
  ASSERT_TRUE(index->IndexTail(now).ok());
  EXPECT_EQ(index->Claim({"h3"}, now), std::vector<bool>{true});
}

// The index's RocksDB memory is bounded by DedupeOptions::memory_bytes however many ids it
// holds (before: RocksDB's default 64 MiB write buffers, two of them, grew with the ids).
TEST(IngestDedupe, MemoryStaysWithinTheBudget) {
  TempDir dir;
  const int64_t now = WallMs();
  auto logs = OpenLogs(dir.path() + "/log");
  DedupeOptions o = Options(dir.path());
  o.memory_bytes = 2 << 20;
  auto index = std::move(DedupeIndex::Open(o, logs.get())).value();
  uint64_t peak = 0;
  int n = 0;
  for (int round = 0; round < 40; ++round) {
    std::vector<std::string> ids;
    for (int i = 0; i < 2500; ++i) ids.push_back(Sha256Hex128("id-" + std::to_string(n++)));
    AppendRaw(logs.get(), round % 2, ids, now);
    ASSERT_TRUE(index->IndexTail(now).ok());
    peak = std::max(peak, index->MemoryBytes());
  }
  EXPECT_EQ(index->CountIndexedIds(), 100000u);  // ~6 MiB of entries: several flushes
  EXPECT_LE(peak, o.memory_bytes + (o.memory_bytes >> 2)) << peak;
  EXPECT_EQ(index->Claim({Sha256Hex128("id-0"), Sha256Hex128("id-99999"), Sha256Hex128("id-100000")}, now),
            (std::vector<bool>{true, true, false}));
}

// A catch-up round (after a long downtime, or a rebuild) reads many ids at once. RocksDB puts a
// WriteBatch into one memtable whatever its size, and the memtable's bloom filter is sized for
// a write buffer: one batch of all of them made a memtable many times the budget whose bloom
// answered "maybe" to every lookup. The round is written in several batches, its offsets with
// the last, so the memtables stay within the budget and every id is still indexed once, with
// nothing to read again after a restart.
TEST(IngestDedupe, ALargeRoundIsWrittenInMemtableSizedBatches) {
  TempDir dir;
  const int64_t now = WallMs();
  DedupeOptions o = Options(dir.path());
  o.memory_bytes = 2 << 20;  // 512 KiB write buffers: ~10,000 ids each
  {
    auto logs = OpenLogs(dir.path() + "/log");
    auto index = std::move(DedupeIndex::Open(o, logs.get())).value();
    int n = 0;
    for (int req = 0; req < 80; ++req) {
      std::vector<std::string> ids;
      for (int i = 0; i < 1000; ++i) ids.push_back(Sha256Hex128("id-" + std::to_string(n++)));
      AppendRaw(logs.get(), req % 2, ids, now);
    }
    ASSERT_TRUE(index->IndexTail(now).ok());  // 80,000 ids (~4 MiB in a memtable) in one round
    // (MemoryBytes does not show it: RocksDB stops updating a memtable's size once it is full.)
    EXPECT_LE(index->IntProperty("rocksdb.num-entries-active-mem-table"), 20000u);
    EXPECT_LE(index->IntProperty("rocksdb.num-entries-imm-mem-tables"), 20000u);
    EXPECT_EQ(index->indexed(), 80000u);
    EXPECT_EQ(index->CountIndexedIds(), 80000u);
    EXPECT_EQ(index->Claim({Sha256Hex128("id-0"), Sha256Hex128("id-40000"), Sha256Hex128("id-79999"),
                            Sha256Hex128("id-80000")},
                           now),
              (std::vector<bool>{true, true, true, false}));
  }
  // Both partitions' offsets were written (with the round's last batch): the restart reads nothing.
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(o, logs.get())).value();
  EXPECT_EQ(index->indexed(), 0u);
  EXPECT_EQ(index->Claim({Sha256Hex128("id-1"), Sha256Hex128("id-79998"), Sha256Hex128("id-80001")}, now),
            (std::vector<bool>{true, true, false}));
}

// A table file's filter is one block, ~10 bits per id: ~750 KB for a file of 600,000 ids (a
// day's index has files of ~1.8M ids). RocksDB's default block cache is cut into shards of
// 512 KiB and drops a block larger than its shard when it is released, so every Claim read
// such a filter from its file again. The index's cache is one shard: the filter stays cached.
TEST(IngestDedupe, ALargeFilterBlockStaysInTheBlockCache) {
  TempDir dir;
  const int64_t now = WallMs();
  DedupeOptions o = Options(dir.path());
  o.memory_bytes = 4 << 20;  // a 2 MiB block cache: four shards of 512 KiB by RocksDB's default
  auto logs = OpenLogs(dir.path() + "/log");
  {
    auto index = std::move(DedupeIndex::Open(o, logs.get())).value();
    int n = 0;
    for (int req = 0; req < 600; ++req) {
      std::vector<std::string> ids;
      for (int i = 0; i < 1000; ++i) ids.push_back(Sha256Hex128("id-" + std::to_string(n++)));
      AppendRaw(logs.get(), 0, ids, now);
    }
    ASSERT_TRUE(index->IndexTail(now).ok());
    ASSERT_TRUE(index->Compact().ok());  // one file of 600,000 ids (~21 MB: below RocksDB's 64 MB)
  }
  // Opened again: an empty cache (no blocks of the files the compaction replaced).
  auto index = std::move(DedupeIndex::Open(o, logs.get())).value();
  std::vector<std::string> fresh;
  for (int i = 0; i < 1000; ++i) fresh.push_back(Sha256Hex128("new-" + std::to_string(i)));
  std::vector<std::string_view> views(fresh.begin(), fresh.end());
  EXPECT_EQ(index->Claim(views, now), std::vector<bool>(1000, false));
  // The file's index block (~80 KB) and its filter (10 bits per id: ~750 KB) stay.
  EXPECT_GE(index->IntProperty("rocksdb.block-cache-usage"), 700000u);
  EXPECT_EQ(index->Claim({Sha256Hex128("id-0"), Sha256Hex128("id-599999")}, now), (std::vector<bool>{true, true}));
}

TEST(IngestDedupe, MemoryBudgetsAreConfiguration) {
  ServerConfig c;
  EXPECT_EQ(c.dedupe_memory_bytes, DedupeOptions().memory_bytes);
  EXPECT_EQ(c.state_memory_bytes, cdc::RocksStateOptions().rocksdb_memory_bytes);
  ASSERT_TRUE(LoadConfigText("ingest: {dedupe_memory_bytes: 4MiB}\nprocessing: {state_memory_bytes: 2MiB}\n", "t.yaml", &c).ok());
  EXPECT_EQ(c.dedupe_memory_bytes, 4u << 20);
  EXPECT_EQ(StateStoreOptions(c).rocksdb_memory_bytes, 2u << 20);
  Status s = LoadConfigText("ingest: {dedupe_memory_bytes: 1000}\n", "t.yaml", &c);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("ingest.dedupe_memory_bytes"), std::string::npos) << s.message();
  EXPECT_NE(DescribeConfigOptions().find("processing.state_memory_bytes"), std::string::npos);
  // The write rate limits of both RocksDB instances, too.
  EXPECT_EQ(ServerConfig().dedupe_write_rate_bytes, DedupeOptions().write_rate_bytes);
  ASSERT_TRUE(LoadConfigText("ingest: {dedupe_write_rate_bytes: 0}\n", "t.yaml", &c).ok());
  EXPECT_EQ(c.dedupe_write_rate_bytes, 0u);
  EXPECT_NE(DescribeConfigOptions().find("ingest.dedupe_write_rate_bytes"), std::string::npos);
  // The in-memory filter's.
  EXPECT_EQ(ServerConfig().dedupe_filter_bytes, DedupeOptions().filter_bytes);
  ASSERT_TRUE(LoadConfigText("ingest: {dedupe_filter_bytes: 2MiB}\n", "t.yaml", &c).ok());
  EXPECT_EQ(c.dedupe_filter_bytes, 2u << 20);
  ASSERT_TRUE(LoadConfigText("ingest: {dedupe_filter_bytes: 0}\n", "t.yaml", &c).ok());
  EXPECT_EQ(c.dedupe_filter_bytes, 0u);
  EXPECT_NE(DescribeConfigOptions().find("ingest.dedupe_filter_bytes"), std::string::npos);
}

// The "certainly new" filter ahead of Claim's RocksDB lookup may say "maybe" of a new id, never
// "new" of an indexed one. Indexed ids of every key form must stay duplicates: in the running
// index, after a clean restart (the filter is rebuilt by a scan of RocksDB), after a crash
// (ids from the table files, the rest from the catch-up), and with a filter far too small for
// its ids (every bit set) or somewhat too small (many false "maybe"s). With room, the filter
// must answer most new ids itself (else these checks would pass without it).
TEST(IngestDedupe, TheFilterNeverSaysNewOfAnIndexedId) {
  const int64_t now = WallMs();
  auto id = [](const char* set, int i) {
    const std::string h = Sha256Hex128(std::string(set) + std::to_string(i));
    switch (i % 4) {
      case 0: return h;                                                    // 'x': 32 hex digits
      case 1: return "x" + h;                                              // 's': ingest's own
      case 2: return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" +
                     h.substr(20, 12);                                      // 'u': a UUID
      default: return "id-" + std::string(set) + std::to_string(i);        // 'h': hashed
    }
  };
  constexpr int kIds = 6000;
  for (uint64_t filter_bytes : {uint64_t{8} << 20, uint64_t{640}, uint64_t{16} << 10}) {
    SCOPED_TRACE(filter_bytes);
    TempDir dir;
    DedupeOptions o = Options(dir.path());
    o.filter_bytes = filter_bytes;
    const std::string image = dir.path() + "/crash-image";
    std::vector<std::string> known, fresh;
    for (int i = 0; i < kIds; ++i) known.push_back(id("known-", i));
    for (int i = 0; i < kIds; ++i) fresh.push_back(id("new-", i));
    std::vector<bool> want;
    std::vector<std::string_view> mixed;  // known and new ids alternating
    for (int i = 0; i < kIds; ++i) {
      mixed.push_back(known[i]);
      mixed.push_back(fresh[i]);
      want.push_back(true);
      want.push_back(false);
    }
    auto claim_and_forget = [&](DedupeIndex* index) {
      EXPECT_EQ(index->Claim(mixed, now), want);
      index->Release(std::vector<std::string_view>(fresh.begin(), fresh.end()), /*stored=*/false, now);
    };
    {
      auto logs = OpenLogs(dir.path() + "/log");
      auto index = std::move(DedupeIndex::Open(o, logs.get())).value();
      // Two thirds indexed and flushed to table files, the last third in the memtable only.
      for (int part = 0; part < 3; ++part) {
        AppendRaw(logs.get(), part % 2,
                  std::vector<std::string>(known.begin() + part * kIds / 3, known.begin() + (part + 1) * kIds / 3), now);
        ASSERT_TRUE(index->IndexTail(now).ok());
        if (part == 1) {
          ASSERT_TRUE(index->Flush().ok());
        }
      }
      const uint64_t filtered = index->filtered();
      claim_and_forget(index.get());
      if (filter_bytes == uint64_t{8} << 20) {
        EXPECT_GE(index->filtered() - filtered, uint64_t{kIds} * 95 / 100);
      }
      if (filter_bytes == 640) {
        EXPECT_LE(index->filtered() - filtered, uint64_t{kIds} / 100);
      }
      std::filesystem::copy(dir.path() + "/dedupe", image, std::filesystem::copy_options::recursive);
    }
    {  // a clean restart: the filter is rebuilt from RocksDB
      auto logs = OpenLogs(dir.path() + "/log");
      auto index = std::move(DedupeIndex::Open(o, logs.get())).value();
      EXPECT_EQ(index->indexed(), 0u);
      EXPECT_EQ(index->filter_loaded(), uint64_t{kIds});
      claim_and_forget(index.get());
    }
    {  // the crash image: the flushed two thirds from the scan, the rest from the catch-up
      auto logs = OpenLogs(dir.path() + "/log");
      DedupeOptions c = o;
      c.dir = image;
      auto index = std::move(DedupeIndex::Open(c, logs.get())).value();
      EXPECT_EQ(index->filter_loaded(), uint64_t{2 * kIds / 3});
      EXPECT_EQ(index->indexed(), uint64_t{kIds / 3});
      claim_and_forget(index.get());
    }
  }
}

// The filter's generations expire with the window: across several windows of rounds, every id
// indexed within a Claim's window is a duplicate, and every older one is not, at every step
// (generation boundaries, half windows, exact window edges), with the filter on and off alike.
// Ids stamped ahead of the indexer's clock (a producer's own timestamps) and a Claim whose clock
// is behind the indexer's (it stepped back) are duplicates too.
TEST(IngestDedupe, TheFilterFollowsTheWindowAcrossItsGenerations) {
  const int64_t w = 10'000;
  const int64_t t0 = 1'800'000'000'000 + 1234;  // not a multiple of a half window
  for (uint64_t filter_bytes : {uint64_t{1} << 20, uint64_t{0}}) {
    SCOPED_TRACE(filter_bytes);
    TempDir dir;
    auto logs = OpenLogs(dir.path() + "/log");
    DedupeOptions o = Options(dir.path(), w);
    o.filter_bytes = filter_bytes;
    auto index = std::move(DedupeIndex::Open(o, logs.get())).value();
    std::vector<std::pair<std::string, int64_t>> ids;  // id, its ingest time
    auto check = [&](int64_t now) {
      std::vector<std::string_view> views;
      std::vector<bool> want;
      for (const auto& [id, ts] : ids) {
        views.push_back(id);
        want.push_back(ts >= now - w);
      }
      views.push_back("never-indexed");
      want.push_back(false);
      EXPECT_EQ(index->Claim(views, now), want) << "now = t0 + " << now - t0;
      // Forget the claims (those that were not duplicates).
      std::vector<std::string_view> claimed;
      for (size_t i = 0; i < views.size(); ++i) {
        if (!want[i]) claimed.push_back(views[i]);
      }
      index->Release(claimed, /*stored=*/false, now);
    };
    // A round every 700 ms (not a divisor of the half window) for four windows; each indexes
    // one id stamped with the round's time and, every fifth round, one stamped 2.5 windows ahead.
    for (int64_t step = 0, now = t0; now < t0 + 4 * w; ++step, now += 700) {
      std::vector<std::string> round = {"at-" + std::to_string(step)};
      ids.emplace_back(round.back(), now);
      AppendRaw(logs.get(), 0, round, now);
      if (step % 5 == 0) {
        const std::string ahead = "ahead-" + std::to_string(step);
        ids.emplace_back(ahead, now + 5 * w / 2);
        AppendRaw(logs.get(), 1, {ahead}, now + 5 * w / 2);
      }
      ASSERT_TRUE(index->IndexTail(now).ok());
      check(now);
      check(now + 350);
      for (int64_t edge : {w / 2, w - 1, w, w + 1}) check(now - 700 + edge);  // window edges ahead
    }
    // The indexer runs ahead, a Claim's clock behind it: ids the indexer's window has dropped
    // are still in the Claim's.
    const int64_t last = t0 + 4 * w;
    ASSERT_TRUE(index->IndexTail(last + 3 * w).ok());
    check(last);
    check(last - w / 2);
    if (filter_bytes > 0) {
      EXPECT_GT(index->filtered(), 0u);
    }
  }
}

// The in-process sources (syslog, proxy, Firehose, file tails) go through the index too: a
// record ingested again (a re-read file, a shipper's retry) is counted, not appended.
// The checks that pass the in-flight table are counted by what answered them, so an operator
// can see a filter too small for its ids: new ids mostly by the filter, indexed ids (a "maybe")
// and every check without a filter by RocksDB.
TEST(IngestDedupe, ChecksAreCountedByWhatAnsweredThem) {
  const int64_t now = WallMs();
  std::vector<std::string> known, fresh;
  for (int i = 0; i < 1000; ++i) known.push_back(Sha256Hex128("known-" + std::to_string(i)));
  for (int i = 0; i < 1000; ++i) fresh.push_back(Sha256Hex128("new-" + std::to_string(i)));
  for (uint64_t filter_bytes : {uint64_t{8} << 20, uint64_t{0}}) {
    SCOPED_TRACE(filter_bytes);
    TempDir dir;
    DedupeOptions o = Options(dir.path());
    o.filter_bytes = filter_bytes;
    auto logs = OpenLogs(dir.path() + "/log");
    auto index = std::move(DedupeIndex::Open(o, logs.get())).value();
    MetricsRegistry metrics;
    index->SetMetrics(&metrics);
    Counter* by_filter = metrics.GetCounter("eventception_dedupe_checks_total", "", {{"by", "filter"}});
    Counter* by_index = metrics.GetCounter("eventception_dedupe_checks_total", "", {{"by", "index"}});
    AppendRaw(logs.get(), 0, known, now);
    ASSERT_TRUE(index->IndexTail(now).ok());

    std::vector<std::string_view> fresh_views(fresh.begin(), fresh.end());
    EXPECT_EQ(index->Claim(fresh_views, now), std::vector<bool>(fresh.size(), false));
    EXPECT_EQ(by_filter->value() + by_index->value(), fresh.size());
    if (filter_bytes > 0) {
      EXPECT_GE(by_filter->value(), fresh.size() * 95 / 100);  // ~1.5-2% false "maybe"
    } else {
      EXPECT_EQ(by_filter->value(), 0u);
    }
    // Claimed and in flight: answered by the in-flight table, counted by neither.
    const uint64_t before = by_filter->value() + by_index->value();
    EXPECT_EQ(index->Claim(fresh_views, now), std::vector<bool>(fresh.size(), true));
    EXPECT_EQ(by_filter->value() + by_index->value(), before);
    index->Release(fresh_views, /*stored=*/false, now);

    // Indexed ids: the filter says "maybe" for each, so RocksDB answers every one.
    const uint64_t index_before = by_index->value();
    std::vector<std::string_view> known_views(known.begin(), known.end());
    EXPECT_EQ(index->Claim(known_views, now), std::vector<bool>(known.size(), true));
    EXPECT_EQ(by_index->value() - index_before, known.size());
    EXPECT_NE(metrics.RenderPrometheus().find("eventception_dedupe_checks_total{by=\"index\"}"), std::string::npos);
  }
}

TEST(IngestDedupe, LocalSourcesDropKnownIds) {
  TempDir dir;
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  ServerConfig config;
  MetricsRegistry metrics;
  TopicWriter writer(logs.get(), &config);
  IngestOptions io;
  LocalIngest ingest(io, "eventception.dead-letters", logs.get(), &writer, nullptr, &metrics, "capture");
  ingest.SetDedupe(index.get());
  auto line = [](std::string_view id) {
    return std::string(R"({"id":")") + std::string(id) +
           R"(","time":"2026-11-27T10:00:00.000Z","request":{"method":"GET","url":"https://a.example/x"},"response":{"status":200}})";
  };
  std::vector<std::string> first{line("s-1"), line("s-2")};
  auto r = ingest.AppendTexts(first, "canonical");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->accepted, 2u);
  EXPECT_EQ(r->duplicates, 0u);
  std::vector<std::string> again{line("s-2"), line("s-3"), line("s-3")};
  r = ingest.AppendTexts(again, "canonical");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->accepted, 1u);    // s-3 once
  EXPECT_EQ(r->duplicates, 2u);  // s-2 (known) and the second s-3
  int64_t records = 0;
  for (int32_t p = 0; p < 2; ++p) {
    auto pl = logs->GetPartition("api-logs", p);
    records += pl->log_end_offset() - pl->log_start_offset();
  }
  EXPECT_EQ(records, 3);
  // Without the index every record is appended.
  LocalIngest plain(io, "eventception.dead-letters", logs.get(), &writer, nullptr, &metrics, "capture2");
  r = plain.AppendTexts(again, "canonical");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->accepted, 3u);
}

// Random keys make every L0 compaction rewrite all of L1, so the index merges sixteen L0 files
// at a time, not RocksDB's four (dedupe_index.cc): twelve flushed rounds stay twelve L0 files,
// and every id in them is still found, before and after a restart.
TEST(IngestDedupe, TwelveFlushedRoundsStayInLevelZeroAndAreAllFound) {
  TempDir dir;
  const int64_t now = WallMs();
  DedupeOptions o = Options(dir.path());
  o.memory_bytes = 2 << 20;  // 512 KiB write buffers
  auto id = [](int n) { return Sha256Hex128("l0-" + std::to_string(n)); };
  constexpr int kRounds = 12;
  constexpr int kIdsPerRound = 2000;
  {
    auto logs = OpenLogs(dir.path() + "/log");
    auto index = std::move(DedupeIndex::Open(o, logs.get())).value();
    for (int round = 0; round < kRounds; ++round) {
      std::vector<std::string> ids;
      for (int i = 0; i < kIdsPerRound; ++i) ids.push_back(id(round * kIdsPerRound + i));
      AppendRaw(logs.get(), round % 2, ids, now);
      ASSERT_TRUE(index->IndexTail(now).ok());
      ASSERT_TRUE(index->Flush().ok());
    }
    // Each flush wrote (at least) one table file and none was merged (a compaction would have merged the
    // first four or more into one; it runs on RocksDB's thread, so this checks after all flushes).
    size_t table_files = 0;
    for (const auto& f : std::filesystem::directory_iterator(o.dir)) table_files += f.path().extension() == ".sst";
    EXPECT_GE(table_files, static_cast<size_t>(kRounds));
    EXPECT_EQ(index->CountIndexedIds(), static_cast<uint64_t>(kRounds * kIdsPerRound));
    std::vector<std::string> asked;
    for (int n = 0; n < kRounds * kIdsPerRound; n += 97) asked.push_back(id(n));
    asked.push_back(id(kRounds * kIdsPerRound));  // never written
    std::vector<std::string_view> views(asked.begin(), asked.end());
    std::vector<bool> want(asked.size(), true);
    want.back() = false;
    EXPECT_EQ(index->Claim(views, now), want);
    index->Release({views.back()}, /*stored=*/false, now);
  }
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(o, logs.get())).value();
  EXPECT_EQ(index->indexed(), 0u);
  EXPECT_EQ(index->Claim({id(0), id(kRounds * kIdsPerRound - 1), id(kRounds * kIdsPerRound)}, now),
            (std::vector<bool>{true, true, false}));
}

}  // namespace
}  // namespace ec::server
