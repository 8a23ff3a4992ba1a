#include "log/segment.h"

#include <algorithm>
#include <cstdio>

#include "log/bytes.h"

namespace ec::log {
namespace {

constexpr char kLogExt[] = ".log";

}  // namespace

BatchHeader HeaderFromView(const RecordBatchView& v, uint32_t position) {
  BatchHeader h;
  h.base_offset = v.base_offset();
  h.last_offset = v.last_offset();
  h.max_timestamp = v.max_timestamp();
  h.producer_id = v.producer_id();
  h.producer_epoch = v.producer_epoch();
  h.base_sequence = v.base_sequence();
  h.last_sequence = v.last_sequence();
  h.attributes = v.attributes();
  h.position = position;
  h.size = static_cast<uint32_t>(v.size());
  return h;
}

std::string Segment::PathStem(const std::string& dir, int64_t base_offset) {
  char name[32];
  std::snprintf(name, sizeof name, "%020lld", static_cast<long long>(base_offset));
  return dir + "/" + name;
}

int64_t Segment::ParseLogFileName(const std::string& name) {
  if (name.size() != 20 + 4 || name.compare(20, 4, kLogExt) != 0) return -1;
  int64_t v = 0;
  for (int i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

Status Segment::OpenFiles(bool create) {
  EC_ASSIGN_OR_RETURN(log_, env_->OpenFile(stem_ + kLogExt, create));
  EC_ASSIGN_OR_RETURN(index_, env_->OpenFile(stem_ + ".index", true));
  EC_ASSIGN_OR_RETURN(time_index_, env_->OpenFile(stem_ + ".timeindex", true));
  return Status::Ok();
}

Result<std::unique_ptr<Segment>> Segment::Create(Env* env, const std::string& dir,
                                                 int64_t base_offset, int32_t index_interval) {
  std::unique_ptr<Segment> s(new Segment(env, PathStem(dir, base_offset), base_offset, index_interval));
  EC_RETURN_IF_ERROR(s->OpenFiles(true));
  // Start from empty files even if a crashed earlier attempt left some behind.
  EC_RETURN_IF_ERROR(s->log_->Truncate(0));
  EC_RETURN_IF_ERROR(s->index_->Truncate(0));
  EC_RETURN_IF_ERROR(s->time_index_->Truncate(0));
  EC_RETURN_IF_ERROR(env->SyncDir(dir));
  s->next_offset_ = base_offset;
  s->created_ms_ = env->NowMs();
  return s;
}

Result<std::unique_ptr<Segment>> Segment::Open(Env* env, const std::string& dir,
                                               int64_t base_offset, int32_t index_interval,
                                               bool recover) {
  std::unique_ptr<Segment> s(new Segment(env, PathStem(dir, base_offset), base_offset, index_interval));
  EC_RETURN_IF_ERROR(s->OpenFiles(false));
  s->next_offset_ = base_offset;
  s->created_ms_ = env->NowMs();
  if (recover) {
    EC_RETURN_IF_ERROR(s->Rebuild(true, /*contiguous=*/true));
    return s;
  }
  bool consistent = false;
  EC_RETURN_IF_ERROR(s->LoadIndexes(&consistent));
  if (!consistent) EC_RETURN_IF_ERROR(s->Rebuild(true));
  return s;
}

std::unique_ptr<Segment> Segment::StartRewrite(Env* env, const std::string& dir, int64_t base_offset,
                                               int32_t index_interval) {
  std::unique_ptr<Segment> s(new Segment(env, PathStem(dir, base_offset), base_offset, index_interval));
  s->next_offset_ = base_offset;
  s->created_ms_ = env->NowMs();
  return s;
}

Status Segment::FinishRewrite() {
  EC_RETURN_IF_ERROR(OpenFiles(false));
  if (size_ != log_->Size()) return Internal(stem_ + ".log does not hold the batches its rewrite wrote");
  EC_RETURN_IF_ERROR(index_->Truncate(0));
  EC_RETURN_IF_ERROR(time_index_->Truncate(0));
  return WritePendingIndexes();
}

Status Segment::LoadIndexes(bool* consistent) {
  *consistent = false;
  uint64_t log_size = log_->Size();
  uint64_t isz = index_->Size(), tsz = time_index_->Size();
  if (isz % kOffsetIndexEntrySize != 0 || tsz % kTimeIndexEntrySize != 0) return Status::Ok();
  std::string ibuf(isz, '\0'), tbuf(tsz, '\0');
  EC_ASSIGN_OR_RETURN(size_t in, index_->ReadAt(0, isz, ibuf.data()));
  EC_ASSIGN_OR_RETURN(size_t tn, time_index_->ReadAt(0, tsz, tbuf.data()));
  if (in != isz || tn != tsz) return Status::Ok();
  offset_index_.clear();
  time_entries_.clear();
  for (size_t i = 0; i < isz; i += kOffsetIndexEntrySize) {
    OffsetIndexEntry e{static_cast<uint32_t>(bytes::LoadBe(ibuf.data() + i, 4)),
                       static_cast<uint32_t>(bytes::LoadBe(ibuf.data() + i + 4, 4))};
    if (e.position >= log_size) return Status::Ok();
    if (!offset_index_.empty() && (e.relative_offset <= offset_index_.back().relative_offset ||
                                   e.position <= offset_index_.back().position))
      return Status::Ok();
    offset_index_.push_back(e);
  }
  for (size_t i = 0; i < tsz; i += kTimeIndexEntrySize) {
    TimeIndexEntry e{bytes::LoadI64(tbuf.data() + i),
                     static_cast<uint32_t>(bytes::LoadBe(tbuf.data() + i + 8, 4))};
    if (!time_entries_.empty() && (e.timestamp <= time_entries_.back().timestamp ||
                                   e.relative_offset < time_entries_.back().relative_offset))
      return Status::Ok();
    time_entries_.push_back(e);
  }
  if (log_size > 0 && offset_index_.empty()) return Status::Ok();
  if (!offset_index_.empty() && offset_index_.front().position != 0) return Status::Ok();
  // Walk the headers after the last index entry to learn the end offset and max timestamp.
  if (!time_entries_.empty()) {
    max_timestamp_ = indexed_max_timestamp_ = time_entries_.back().timestamp;
    offset_of_max_timestamp_ = base_offset_ + time_entries_.back().relative_offset;
  }
  uint64_t pos = offset_index_.empty() ? 0 : offset_index_.back().position;
  while (pos < log_size) {
    auto h = ReadHeader(pos, log_size);
    if (!h.ok()) return Status::Ok();
    if (h->base_offset < base_offset_ + (offset_index_.empty() ? 0 : offset_index_.back().relative_offset))
      return Status::Ok();
    next_offset_ = h->last_offset + 1;
    if (h->max_timestamp > max_timestamp_) {
      max_timestamp_ = h->max_timestamp;
      offset_of_max_timestamp_ = h->base_offset;
    }
    bytes_since_index_ += h->size;
    pos += h->size;
  }
  size_ = log_size;
  *consistent = true;
  return Status::Ok();
}

Result<BatchHeader> ParseBatchHeader(const char* buf, uint64_t position, uint64_t limit) {
  int32_t len = bytes::LoadI32(buf + 8);
  if (len < static_cast<int32_t>(kBatchHeaderSize - kBatchLengthFieldEnd) || buf[16] != kMagicV2)
    return Corruption("bad batch header at position " + std::to_string(position));
  uint64_t size = kBatchLengthFieldEnd + static_cast<uint64_t>(len);
  if (position + size > limit) return Corruption("batch past the end of the segment");
  BatchHeader h;
  h.base_offset = bytes::LoadI64(buf);
  h.last_offset = h.base_offset + bytes::LoadI32(buf + 23);
  h.max_timestamp = bytes::LoadI64(buf + 35);
  h.producer_id = bytes::LoadI64(buf + 43);
  h.producer_epoch = bytes::LoadI16(buf + 51);
  h.base_sequence = bytes::LoadI32(buf + 53);
  h.attributes = bytes::LoadI16(buf + 21);
  h.last_sequence = h.base_sequence < 0 ? -1
                    : static_cast<int32_t>((int64_t{h.base_sequence} + bytes::LoadI32(buf + 23)) %
                                           (int64_t{INT32_MAX} + 1));
  h.position = static_cast<uint32_t>(position);
  h.size = static_cast<uint32_t>(size);
  return h;
}

Result<BatchHeader> Segment::ReadHeader(uint64_t position, uint64_t limit) const {
  char buf[kBatchHeaderSize];
  if (limit < position + kBatchHeaderSize) return Corruption("batch header past the end");
  EC_ASSIGN_OR_RETURN(size_t n, log_->ReadAt(position, kBatchHeaderSize, buf));
  if (n != kBatchHeaderSize) return Corruption("short read of a batch header");
  return ParseBatchHeader(buf, position, limit);
}

Result<BatchHeader> HeaderScanner::At(uint64_t position) {
  if (limit_ < position + kBatchHeaderSize) return Corruption("batch header past the end");
  if (position < buf_pos_ || position + kBatchHeaderSize > buf_pos_ + buf_len_) {
    size_t want = last_size_ >= kWindow ? kBatchHeaderSize : kWindow;
    want = static_cast<size_t>(std::min<uint64_t>(want, limit_ - position));
    EC_ASSIGN_OR_RETURN(size_t n, segment_.log_file()->ReadAt(position, want, buf_));
    buf_pos_ = position;
    buf_len_ = n;
    if (n < kBatchHeaderSize) return Corruption("short read of a batch header");
  }
  auto h = ParseBatchHeader(buf_ + (position - buf_pos_), position, limit_);
  if (h.ok()) last_size_ = h->size;
  return h;
}

Status Segment::ReadBatch(const BatchHeader& h, std::string* out) const {
  out->resize(h.size);
  EC_ASSIGN_OR_RETURN(size_t n, log_->ReadAt(h.position, h.size, out->data()));
  if (n != h.size) return Corruption("short read of a batch");
  auto v = RecordBatchView::Parse(*out);
  return v.ok() ? Status::Ok() : v.status();
}

void Segment::Track(const BatchHeader& h, bool write_index, std::string* index_buf,
                    std::string* time_buf) {
  if (h.max_timestamp > max_timestamp_) {
    max_timestamp_ = h.max_timestamp;
    offset_of_max_timestamp_ = h.base_offset;
  }
  if (offset_index_.empty() || bytes_since_index_ >= static_cast<uint64_t>(index_interval_)) {
    auto rel = static_cast<uint32_t>(h.base_offset - base_offset_);
    offset_index_.push_back({rel, h.position});
    bytes::PutBe(index_buf, rel, 4);
    bytes::PutBe(index_buf, h.position, 4);
    bytes_since_index_ = 0;
    if (max_timestamp_ > indexed_max_timestamp_) {
      // Running maximum up to and including this batch (docs/log-format.md).
      time_entries_.push_back({max_timestamp_, rel});
      bytes::PutBe(time_buf, static_cast<uint64_t>(max_timestamp_), 8);
      bytes::PutBe(time_buf, rel, 4);
      indexed_max_timestamp_ = max_timestamp_;
    }
  }
  (void)write_index;
  bytes_since_index_ += h.size;
  next_offset_ = h.last_offset + 1;
  size_ = uint64_t{h.position} + h.size;
}

// Pending index bytes (both files) past which Append writes them out: ~2,000 offset-index
// entries, i.e. ~8 MiB of batches at the default index.interval.bytes, in one write per file.
constexpr size_t kIndexWriteBehind = 16 * 1024;

Status Segment::Append(const RecordBatchView& batch) {
  BatchHeader h = HeaderFromView(batch, static_cast<uint32_t>(size_));
  EC_RETURN_IF_ERROR(log_->Append(batch.bytes()));
  Track(h, true, &pending_index_, &pending_time_);
  if (pending_index_.size() + pending_time_.size() >= kIndexWriteBehind) return WritePendingIndexes();
  return Status::Ok();
}

Status Segment::WritePendingIndexes() {
  if (!pending_index_.empty()) {
    EC_RETURN_IF_ERROR(index_->Append(pending_index_));
    pending_index_.clear();
  }
  if (!pending_time_.empty()) {
    EC_RETURN_IF_ERROR(time_index_->Append(pending_time_));
    pending_time_.clear();
  }
  return Status::Ok();
}

Status Segment::Seal() {
  if (max_timestamp_ > indexed_max_timestamp_ && offset_of_max_timestamp_ >= base_offset_) {
    auto rel = static_cast<uint32_t>(offset_of_max_timestamp_ - base_offset_);
    if (time_entries_.empty() || rel >= time_entries_.back().relative_offset) {
      bytes::PutBe(&pending_time_, static_cast<uint64_t>(max_timestamp_), 8);
      bytes::PutBe(&pending_time_, rel, 4);
      time_entries_.push_back({max_timestamp_, rel});
      indexed_max_timestamp_ = max_timestamp_;
    }
  }
  // The index files are complete before they are synced: from now on they are what an open
  // reads for this segment.
  EC_RETURN_IF_ERROR(WritePendingIndexes());
  // A closed segment ends at its last batch: the preallocated zeros go (the sync below makes
  // the shorter length durable before the next segment is created).
  EC_RETURN_IF_ERROR(log_->TrimPreallocation());
  EC_RETURN_IF_ERROR(log_->Sync());
  EC_RETURN_IF_ERROR(index_->Sync());
  return time_index_->Sync();
}

bool Segment::ZeroHeaderAt(uint64_t position, uint64_t limit) const {
  char buf[kBatchLengthFieldEnd];
  size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof buf, limit - position));
  auto n = log_->ReadAt(position, want, buf);
  if (!n.ok() || *n != want) return false;
  return std::all_of(buf, buf + want, [](char c) { return c == 0; });
}

Status Segment::Rebuild(bool truncate_invalid, bool contiguous) {
  pending_index_.clear();  // entries of the content being rebuilt
  pending_time_.clear();
  offset_index_.clear();
  time_entries_.clear();
  next_offset_ = base_offset_;
  size_ = 0;
  bytes_since_index_ = 0;
  max_timestamp_ = offset_of_max_timestamp_ = indexed_max_timestamp_ = -1;
  uint64_t file_size = log_->Size();
  uint64_t pos = 0;
  std::string ibuf, tbuf, batch;
  while (pos < file_size) {
    auto h = ReadHeader(pos, file_size);
    bool valid = h.ok() && h->base_offset >= next_offset_ && ReadBatch(*h, &batch).ok();
    if (valid && contiguous) {
      valid = h->base_offset == next_offset_ &&
              RecordBatchView::ParseTrusted(batch)->partition_leader_epoch() == 0;
    }
    if (!valid) {
      // Zeros where a header should be: the preallocated region after the last batch (a batch
      // never starts with a zero length), i.e. the end, not corruption. Cut off either way:
      // nothing after the recovered end may survive to be mistaken for data later.
      if (!truncate_invalid && !ZeroHeaderAt(pos, file_size))
        return Corruption("invalid batch at " + stem_ + ".log:" + std::to_string(pos));
      EC_RETURN_IF_ERROR(log_->Truncate(pos));
      break;
    }
    Track(*h, true, &ibuf, &tbuf);
    pos += h->size;
  }
  EC_RETURN_IF_ERROR(index_->Truncate(0));
  EC_RETURN_IF_ERROR(time_index_->Truncate(0));
  if (!ibuf.empty()) EC_RETURN_IF_ERROR(index_->Append(ibuf));
  if (!tbuf.empty()) EC_RETURN_IF_ERROR(time_index_->Append(tbuf));
  size_ = pos;
  return Status::Ok();
}

uint32_t Segment::LookupPosition(int64_t offset) const {
  if (offset_index_.empty() || offset < base_offset_) return 0;
  auto rel = static_cast<uint64_t>(offset - base_offset_);
  auto it = std::upper_bound(offset_index_.begin(), offset_index_.end(), rel,
                             [](uint64_t r, const OffsetIndexEntry& e) { return r < e.relative_offset; });
  if (it == offset_index_.begin()) return 0;
  return std::prev(it)->position;
}

int64_t Segment::LookupTimestampStart(int64_t ts) const {
  auto it = std::lower_bound(time_entries_.begin(), time_entries_.end(), ts,
                             [](const TimeIndexEntry& e, int64_t t) { return e.timestamp < t; });
  if (it == time_entries_.begin()) return base_offset_;
  return base_offset_ + std::prev(it)->relative_offset;
}

Status Segment::Delete() {
  Status a = env_->RemoveFile(stem_ + kLogExt);
  (void)env_->RemoveFile(stem_ + ".index");
  (void)env_->RemoveFile(stem_ + ".timeindex");
  return a;
}

}  // namespace ec::log
