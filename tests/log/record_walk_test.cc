// The read side's in-place walks: RecordBatchView::ForEachRecord (one reused Record, no
// RecordSet) gives exactly what Records() gives, for every compression and header shape, and
// calls nothing for a malformed batch; PartitionLog::Read's header walk (a window on the
// stack) returns the same batches for small and large batches and any start offset.

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "log/bytes.h"
#include "log/compression.h"
#include "log/partition_log.h"
#include "log/record_batch.h"
#include "log/record_batch_builder.h"
#include "log/test_util.h"

namespace ec::log {
namespace {

// An owned copy of a record, to compare walks.
struct Owned {
  int64_t offset, timestamp;
  int8_t attributes;
  std::string key, value;  // "<null>" for null
  std::vector<std::pair<std::string, std::string>> headers;
  bool operator==(const Owned&) const = default;
};

Owned Own(const Record& r) {
  Owned o{r.offset, r.timestamp, r.attributes, r.key ? std::string(*r.key) : "<null>",
          r.value ? std::string(*r.value) : "<null>", {}};
  for (const RecordHeader& h : r.headers) o.headers.emplace_back(h.key, h.value ? std::string(*h.value) : "<null>");
  return o;
}

std::vector<Owned> ViaRecords(const RecordBatchView& v, Status* status) {
  std::vector<Owned> out;
  auto set = v.Records();
  *status = set.status();
  if (set.ok()) {
    for (const Record& r : set->records()) out.push_back(Own(r));
  }
  return out;
}

std::vector<Owned> ViaForEach(const RecordBatchView& v, Status* status) {
  std::vector<Owned> out;
  *status = v.ForEachRecord([&](const Record& r) -> Status {
    out.push_back(Own(r));
    return Status::Ok();
  });
  return out;
}

// Records whose header counts go up and down (0, 3, 1, 5, 0, ...): a reused Record must not
// keep a previous record's headers.
std::string MixedBatch(Compression c, TimestampType type = TimestampType::kCreateTime) {
  BatchBuilderOptions o;
  o.compression = c;
  o.base_offset = 40;
  o.timestamp_type = type;
  o.log_append_time = type == TimestampType::kLogAppendTime ? 1764000009999 : -1;
  RecordBatchBuilder b(o);
  const int kHeaders[] = {0, 3, 1, 5, 0, 2};
  for (int i = 0; i < 30; ++i) {
    std::vector<std::string> names, values;
    for (int h = 0; h < kHeaders[i % 6]; ++h) {
      names.push_back("h" + std::to_string(h));
      values.push_back(std::string(static_cast<size_t>(i + h), 'v'));
    }
    std::vector<RecordHeader> headers;
    for (size_t h = 0; h < names.size(); ++h) {
      headers.push_back({names[h], h == 1 ? std::optional<std::string_view>() : std::optional<std::string_view>(values[h])});
    }
    std::optional<std::string_view> key;
    std::string k = "key-" + std::to_string(i);
    if (i % 4 != 0) key = k;
    std::string value = std::string(static_cast<size_t>(50 + i * 7), static_cast<char>('a' + i % 26));
    std::optional<std::string_view> v;
    if (i % 5 != 3) v = value;
    b.Add(key, v, 1764000000000 + i, headers);
  }
  return std::move(b.Build()).value();
}

class WalkTest : public ::testing::TestWithParam<Compression> {};

TEST_P(WalkTest, ForEachRecordGivesWhatRecordsGives) {
  for (TimestampType type : {TimestampType::kCreateTime, TimestampType::kLogAppendTime}) {
    std::string batch = MixedBatch(GetParam(), type);
    auto v = RecordBatchView::Parse(batch);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    Status a, b;
    std::vector<Owned> from_set = ViaRecords(*v, &a);
    std::vector<Owned> walked = ViaForEach(*v, &b);
    ASSERT_TRUE(a.ok()) << a.ToString();
    ASSERT_TRUE(b.ok()) << b.ToString();
    ASSERT_EQ(walked.size(), 30u);
    EXPECT_TRUE(walked == from_set);
    // Spot checks against what was built, so both cannot be wrong the same way.
    EXPECT_EQ(walked[0].offset, 40);
    EXPECT_EQ(walked[29].offset, 69);
    EXPECT_EQ(walked[0].key, "<null>");
    EXPECT_EQ(walked[1].key, "key-1");
    EXPECT_EQ(walked[3].value, "<null>");
    EXPECT_EQ(walked[1].headers.size(), 3u);
    EXPECT_EQ(walked[1].headers[1].second, "<null>");
    EXPECT_EQ(walked[2].headers.size(), 1u);
    EXPECT_EQ(walked[4].headers.size(), 0u);
    EXPECT_EQ(walked[3].headers.size(), 5u);
    EXPECT_EQ(walked[3].headers[4].second, std::string(7, 'v'));
    EXPECT_EQ(walked[5].timestamp, type == TimestampType::kLogAppendTime ? 1764000009999 : 1764000000005);
  }
}

TEST_P(WalkTest, RecordSetViewsSurviveMovingTheSet) {
  std::string batch = MixedBatch(GetParam());
  auto v = RecordBatchView::Parse(batch);
  ASSERT_TRUE(v.ok());
  Status s;
  std::vector<Owned> want = ViaForEach(*v, &s);
  ASSERT_TRUE(s.ok());
  auto set = v->Records();
  ASSERT_TRUE(set.ok());
  RecordSet moved = std::move(set).value();
  std::vector<Owned> got;
  for (const Record& r : moved.records()) got.push_back(Own(r));
  EXPECT_TRUE(got == want);
}

INSTANTIATE_TEST_SUITE_P(All, WalkTest,
                         ::testing::Values(Compression::kNone, Compression::kGzip, Compression::kSnappy,
                                           Compression::kLz4, Compression::kZstd),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });

TEST(RecordWalk, MalformedBatchCallsNothing) {
  const std::string good = MixedBatch(Compression::kNone);
  // A record count above the records present: the last "record" is missing.
  {
    std::string bad = good;
    bytes::StoreBe(bad.data() + 57, 31u, 4);
    RecordBatchView::UpdateCrc(bad.data(), bad.size());
    auto v = RecordBatchView::Parse(bad);
    ASSERT_TRUE(v.ok());
    int calls = 0;
    Status s = v->ForEachRecord([&](const Record&) {
      ++calls;
      return Status::Ok();
    });
    EXPECT_EQ(s.code(), ErrorCode::kCorruption);
    EXPECT_EQ(calls, 0);
  }
  // Garbage near the end of the record area: whenever Records() refuses the batch, the walk
  // refuses it too without calling `fn`; otherwise both give the same records.
  std::mt19937 rng(11);
  int refused = 0;
  for (int round = 0; round < 300; ++round) {
    std::string bad = good;
    const size_t tail = 200;
    for (int k = 0; k < 2; ++k) bad[bad.size() - 1 - rng() % tail] = static_cast<char>(rng());
    RecordBatchView::UpdateCrc(bad.data(), bad.size());
    auto v = RecordBatchView::Parse(bad);
    ASSERT_TRUE(v.ok());
    Status a, b;
    std::vector<Owned> from_set = ViaRecords(*v, &a);
    std::vector<Owned> walked = ViaForEach(*v, &b);
    ASSERT_EQ(a.ok(), b.ok()) << round;
    if (!a.ok()) {
      ++refused;
      EXPECT_TRUE(walked.empty()) << round;
      EXPECT_EQ(a.message(), b.message());
    } else {
      EXPECT_TRUE(walked == from_set) << round;
    }
  }
  EXPECT_GT(refused, 0);  // the mutations do hit malformed cases
}

TEST(RecordWalk, ErrorFromFnStopsTheWalk) {
  std::string batch = MixedBatch(Compression::kLz4);
  auto v = RecordBatchView::Parse(batch);
  ASSERT_TRUE(v.ok());
  int calls = 0;
  Status s = v->ForEachRecord([&](const Record& r) -> Status {
    ++calls;
    if (r.offset == 44) return Status(ErrorCode::kInvalidArgument, "stop here");
    return Status::Ok();
  });
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(calls, 5);
}

// Read walks batch headers through a 16 KiB window: many small batches (a window holds many
// headers), then large ones (one header per read), then small again; every start offset and a
// few byte budgets give the batches a walk over the whole log gives.
TEST(RecordWalk, ReadWalksSmallAndLargeBatchesFromAnyOffset) {
  testing::TempDir dir;
  auto config = std::make_shared<const TopicConfig>(TopicConfig());
  auto opened = PartitionLog::Open(Env::Default(), dir.path() + "/t-0", "t", 0, config, nullptr);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto log = std::move(opened).value();
  std::vector<int64_t> batch_base;  // base offset of every batch
  auto append = [&](int records, size_t value_bytes) {
    AppendResult r = log->Append(testing::MakeBatch(records, std::string(value_bytes, 'x')), {});
    ASSERT_TRUE(r.ok()) << r.message;
    batch_base.push_back(r.base_offset);
  };
  for (int i = 0; i < 400; ++i) append(1 + i % 3, 20);
  for (int i = 0; i < 6; ++i) append(2, 40000);
  for (int i = 0; i < 300; ++i) append(1, 10 + i % 50);
  const int64_t end = log->log_end_offset();
  for (int64_t from = 0; from < end; from += 7) {
    for (size_t max_bytes : {size_t{1}, size_t{5000}, size_t{100000}, size_t{1} << 20}) {
      ReadResult rr = log->Read(from, max_bytes, {IsolationLevel::kReadUncommitted, true});
      ASSERT_EQ(rr.error, LogError::kNone) << rr.message;
      std::string bytes;
      ASSERT_TRUE(rr.CopyTo(&bytes).ok());
      EXPECT_EQ(bytes.size(), rr.total_bytes);
      // ReadInto over a kept buffer (longer or shorter, holding old bytes) gives the same.
      for (size_t old_size : {size_t{0}, size_t{100}, bytes.size() + 5000}) {
        std::string kept(old_size, '#');
        ASSERT_TRUE(rr.ReadInto(&kept).ok());
        ASSERT_TRUE(kept == bytes) << from << " " << max_bytes << " " << old_size;
      }
      std::vector<int64_t> bases;
      ASSERT_TRUE(ForEachBatch(bytes, false, [&](const RecordBatchView& b) {
                    bases.push_back(b.base_offset());
                    return Status::Ok();
                  }).ok());
      ASSERT_FALSE(bases.empty()) << from << " " << max_bytes;
      // The first batch holds `from`; the rest follow it with no gap, within the budget
      // (a first batch larger than it is returned on its own).
      auto first = std::upper_bound(batch_base.begin(), batch_base.end(), from) - 1;
      EXPECT_EQ(bases.front(), *first) << from;
      for (size_t k = 0; k < bases.size(); ++k) {
        ASSERT_LT(static_cast<size_t>(first - batch_base.begin()) + k, batch_base.size());
        EXPECT_EQ(bases[k], first[static_cast<ptrdiff_t>(k)]) << from << " " << k;
      }
      if (bases.size() > 1) {
        EXPECT_LE(rr.total_bytes, max_bytes);
      }
    }
  }
}

}  // namespace
}  // namespace ec::log
